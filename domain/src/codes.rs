//! Codes from official registers, validated on construction like the types
//! in [`values`](crate::values): the 统一社会信用代码 of an organization
//! ([`CreditCode`]) and a prefix of the 统计用区划代码 naming an area at any
//! level from province to village ([`RegionPrefix`]).
//!
//! Both serialize as plain strings and re-validate when deserialized.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::values::{PROVINCE_CODES, RegionCode};
use crate::vocabulary::RegionLevel;

/// A 统一社会信用代码 (GB 32100-2015): 登记管理部门代码 (1), 机构类别代码
/// (1), 登记管理机关行政区划码 (6 digits), 主体标识码 (9) and a check
/// character computed modulo 31.
///
/// The alphabet is the digits and the capital letters except I, O, S, V and
/// Z, which are too easily mistaken for digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditCode(String);

/// Why a text is not a valid 统一社会信用代码.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CreditCodeError {
    #[error("统一社会信用代码应为 18 位，实际填写了 {length} 位，请对照登记证书核对")]
    WrongLength { length: usize },
    #[error(
        "统一社会信用代码第 {position} 位不是允许的字符（数字或除 I、O、S、V、Z 以外的大写字母），请对照登记证书核对"
    )]
    InvalidCharacter { position: usize },
    #[error(
        "统一社会信用代码第 3 到 8 位应为登记管理机关的行政区划代码（6 位数字），请对照登记证书核对"
    )]
    RegionNotDigits,
    #[error("统一社会信用代码最后一位校验码不正确，可能有字符录错，请逐位对照登记证书核对")]
    WrongCheckCharacter,
}

impl CreditCodeError {
    /// A stable snake_case code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            CreditCodeError::WrongLength { .. } => "credit_code_wrong_length",
            CreditCodeError::InvalidCharacter { .. } => "credit_code_invalid_character",
            CreditCodeError::RegionNotDigits => "credit_code_region_not_digits",
            CreditCodeError::WrongCheckCharacter => "credit_code_wrong_check_character",
        }
    }
}

/// The 31 characters of GB 32100, indexed by their value.
const CREDIT_CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of the first 17 characters (3^i mod 31).
const CREDIT_CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn credit_code_value(character: u8) -> Option<u32> {
    CREDIT_CODE_ALPHABET
        .iter()
        .position(|allowed| *allowed == character)
        .and_then(|value| u32::try_from(value).ok())
}

impl CreditCode {
    /// Validates a 统一社会信用代码. Surrounding whitespace is ignored and
    /// lower-case letters are read as capitals.
    pub fn parse(text: &str) -> Result<Self, CreditCodeError> {
        let text = text.trim().to_ascii_uppercase();
        let length = text.chars().count();
        if length != 18 {
            return Err(CreditCodeError::WrongLength { length });
        }
        if let Some(index) = text
            .bytes()
            .position(|character| credit_code_value(character).is_none())
        {
            return Err(CreditCodeError::InvalidCharacter {
                position: index + 1,
            });
        }
        // From here on the text is ASCII, so byte slicing is safe.
        if !text[2..8].bytes().all(|b| b.is_ascii_digit()) {
            return Err(CreditCodeError::RegionNotDigits);
        }
        if Self::check_character_for(&text[0..17]) != Some(char::from(text.as_bytes()[17])) {
            return Err(CreditCodeError::WrongCheckCharacter);
        }
        Ok(CreditCode(text))
    }

    /// The check character for the first 17 characters of a code, or `None`
    /// if the input is not 17 characters of the GB 32100 alphabet. Test
    /// fixtures use it to build valid codes.
    pub fn check_character_for(first_17: &str) -> Option<char> {
        if first_17.len() != 17 {
            return None;
        }
        let mut sum = 0;
        for (character, weight) in first_17.bytes().zip(CREDIT_CODE_WEIGHTS) {
            sum += credit_code_value(character)? * weight;
        }
        let check = (31 - sum % 31) % 31;
        CREDIT_CODE_ALPHABET
            .get(usize::try_from(check).ok()?)
            .map(|byte| char::from(*byte))
    }

    /// The full 18-character code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 登记管理部门代码: `5` for 民政, `9` for 市场监管 (工商), `1` for 机构编制…
    pub fn registration_authority(&self) -> char {
        char::from(self.0.as_bytes()[0])
    }

    /// The 6-digit 行政区划代码 of the registering authority.
    pub fn registration_region(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for CreditCode {
    type Error = CreditCodeError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        CreditCode::parse(&text)
    }
}

impl From<CreditCode> for String {
    fn from(code: CreditCode) -> Self {
        code.0
    }
}

/// An area named by a prefix of the 12-digit 统计用区划代码: province (2
/// digits), city (4), county (6), township (9) or village / community (12).
///
/// It is written as the bare prefix (`"3601"`); a 12-digit code padded with
/// zeros (`"360100000000"`) is read as the same prefix. Every part of the
/// prefix is a real code, never `00` or `000`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegionPrefix(String);

/// Why a text is not a valid region prefix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegionPrefixError {
    #[error("区划代码“{text}”中有非数字字符，请只填写数字")]
    NotDigits { text: String },
    #[error(
        "区划代码应为 2、4、6、9 或 12 位（省、市、县、乡镇、村），实际填写了 {length} 位，请核对"
    )]
    WrongLength { length: usize },
    #[error("区划代码 {code} 的前两位不是有效的省级代码，请核对")]
    UnknownProvince { code: String },
    #[error("区划代码 {code} 中{}一级为全零，但其下级不为零，请核对", .level.label_zh())]
    MissingPart { code: String, level: RegionLevel },
}

impl RegionPrefixError {
    /// A stable snake_case code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            RegionPrefixError::NotDigits { .. } => "region_prefix_not_digits",
            RegionPrefixError::WrongLength { .. } => "region_prefix_wrong_length",
            RegionPrefixError::UnknownProvince { .. } => "region_prefix_unknown_province",
            RegionPrefixError::MissingPart { .. } => "region_prefix_missing_part",
        }
    }
}

/// Where each level's part ends in a 12-digit code.
const LEVEL_ENDS: [(RegionLevel, usize); 5] = [
    (RegionLevel::Province, 2),
    (RegionLevel::City, 4),
    (RegionLevel::County, 6),
    (RegionLevel::Township, 9),
    (RegionLevel::Village, 12),
];

fn prefix_length(level: RegionLevel) -> usize {
    LEVEL_ENDS
        .iter()
        .find(|(candidate, _)| *candidate == level)
        .map_or(12, |(_, end)| *end)
}

impl RegionPrefix {
    /// Validates a prefix, or a zero-padded code of up to 12 digits.
    /// Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, RegionPrefixError> {
        let text = text.trim();
        if !text.chars().all(|c| c.is_ascii_digit()) {
            return Err(RegionPrefixError::NotDigits {
                text: text.to_owned(),
            });
        }
        let length = text.len();
        if !LEVEL_ENDS.iter().any(|(_, end)| *end == length) {
            return Err(RegionPrefixError::WrongLength { length });
        }
        // The parts of the text, from the province down.
        let mut parts = Vec::new();
        let mut start = 0;
        for (level, end) in LEVEL_ENDS {
            if end > length {
                break;
            }
            parts.push((level, &text[start..end]));
            start = end;
        }
        let is_zero = |part: &str| part.bytes().all(|b| b == b'0');
        while parts.len() > 1 && parts.last().is_some_and(|(_, part)| is_zero(part)) {
            parts.pop();
        }
        let kept = parts.last().map_or(0, |(level, _)| prefix_length(*level));
        let code = text[..kept].to_owned();
        if !PROVINCE_CODES.contains(&&text[0..2]) {
            return Err(RegionPrefixError::UnknownProvince { code });
        }
        if let Some((level, _)) = parts.iter().find(|(_, part)| is_zero(part)) {
            return Err(RegionPrefixError::MissingPart {
                code: text.to_owned(),
                level: *level,
            });
        }
        Ok(RegionPrefix(code))
    }

    /// The most precise prefix naming the area of a 12-digit region code:
    /// the village, or the township or county when the lower parts are
    /// zero. Refused when a part above is zero (a city part of `00`), which
    /// [`RegionCode`] itself does not check.
    pub fn of(code: &RegionCode) -> Result<Self, RegionPrefixError> {
        RegionPrefix::parse(code.as_str())
    }

    /// The prefix digits, e.g. `"360102003"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level of the area: a 6-digit prefix is a county, and so on.
    pub fn level(&self) -> RegionLevel {
        LEVEL_ENDS
            .iter()
            .find(|(_, end)| *end == self.0.len())
            .map_or(RegionLevel::Village, |(level, _)| *level)
    }

    /// The code padded with zeros to 12 digits, as statistics tables print it.
    pub fn padded(&self) -> String {
        format!("{:0<12}", self.0)
    }

    /// The prefix of the area at a wider (or the same) level, e.g. the
    /// township a village lies in; `None` when `level` is narrower than this.
    pub fn at_level(&self, level: RegionLevel) -> Option<RegionPrefix> {
        let length = prefix_length(level);
        (length <= self.0.len()).then(|| RegionPrefix(self.0[..length].to_owned()))
    }

    /// True when the region code lies within this area.
    pub fn contains(&self, code: &RegionCode) -> bool {
        code.is_within(&self.0)
    }

    /// True when the other area lies within (or is) this one.
    pub fn covers(&self, other: &RegionPrefix) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The codes within this area as a half-open range of digit strings,
    /// `lower <= code < upper`, which an index on the codes can seek (a
    /// `LIKE 'prefix%'` cannot, on either backend). `upper` is the prefix
    /// plus one at the same length; `None` when the prefix is all nines.
    pub fn code_range(&self) -> (&str, Option<String>) {
        let mut upper = self.0.clone().into_bytes();
        for digit in upper.iter_mut().rev() {
            if *digit == b'9' {
                *digit = b'0';
            } else {
                *digit += 1;
                return (&self.0, String::from_utf8(upper).ok());
            }
        }
        (&self.0, None)
    }
}

impl fmt::Display for RegionPrefix {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for RegionPrefix {
    type Error = RegionPrefixError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        RegionPrefix::parse(&text)
    }
}

impl From<RegionPrefix> for String {
    fn from(prefix: RegionPrefix) -> Self {
        prefix.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_prefix_range_holds_exactly_the_codes_that_start_with_it() {
        let range = |text: &str| {
            let prefix = RegionPrefix::parse(text).unwrap();
            let (lower, upper) = prefix.code_range();
            (lower.to_owned(), upper)
        };
        assert_eq!(range("3601"), ("3601".to_owned(), Some("3602".to_owned())));
        assert_eq!(
            range("360121109"),
            ("360121109".to_owned(), Some("360121110".to_owned()))
        );
        let village = RegionPrefix::parse("360121106002").unwrap();
        let (lower, upper) = village.code_range();
        let upper = upper.unwrap();
        for code in ["360121106002", "3601211060020", "360121106002999"] {
            assert!(lower <= code && code < upper.as_str(), "{code}");
        }
        for code in ["360121106001", "360121106003", "36012110600", "360121107"] {
            assert!(!(lower <= code && code < upper.as_str()), "{code}");
        }
    }

    /// A real, published code (a 福州 enterprise): 9 市场监管, 1 企业,
    /// 350100 福州市, 主体标识码 M000100Y4, check character 3.
    const KNOWN_VALID: &str = "91350100M000100Y43";

    #[test]
    fn a_known_valid_code_parses() {
        let code = CreditCode::parse(KNOWN_VALID).unwrap();
        assert_eq!(code.as_str(), KNOWN_VALID);
        assert_eq!(code.registration_authority(), '9');
        assert_eq!(code.registration_region(), "350100");
        assert_eq!(code.to_string(), KNOWN_VALID);
        assert_eq!(
            CreditCode::check_character_for("91350100M000100Y4"),
            Some('3')
        );
    }

    #[test]
    fn lower_case_and_whitespace_are_accepted() {
        let code = CreditCode::parse(" 91350100m000100y43\t").unwrap();
        assert_eq!(code.as_str(), KNOWN_VALID);
    }

    #[test]
    fn a_wrong_check_character_is_refused() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y44"),
            Err(CreditCodeError::WrongCheckCharacter)
        );
        assert_eq!(
            CreditCodeError::WrongCheckCharacter.code(),
            "credit_code_wrong_check_character"
        );
    }

    #[test]
    fn a_check_value_of_zero_is_written_as_the_digit_zero() {
        // A body whose weighted sum is a multiple of 31 (found by varying
        // its last digit): the check value 31 - 0 is written as 0.
        let body = (0..10)
            .map(|digit| format!("5136010200000000{digit}"))
            .find(|body| CreditCode::check_character_for(body) == Some('0'))
            .expect("for this body, one of ten digits gives check value 0");
        assert!(CreditCode::parse(&format!("{body}0")).is_ok());
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y4"),
            Err(CreditCodeError::WrongLength { length: 17 })
        );
        assert_eq!(
            CreditCode::parse(""),
            Err(CreditCodeError::WrongLength { length: 0 })
        );
        // Length counts characters, not bytes: 18 Chinese characters are
        // the right length and refused for what they are.
        assert_eq!(
            CreditCode::parse("统一社会信用代码统一社会信用代码一二"),
            Err(CreditCodeError::InvalidCharacter { position: 1 })
        );
    }

    #[test]
    fn letters_outside_the_alphabet_are_refused_with_their_position() {
        // I, O, S, V and Z are not used; nor is punctuation.
        for (text, position) in [
            ("91350100M0001O0Y43", 14),
            ("I1350100M000100Y43", 1),
            ("91350100M000100Z43", 16),
            ("9135010-M000100Y43", 8),
        ] {
            assert_eq!(
                CreditCode::parse(text),
                Err(CreditCodeError::InvalidCharacter { position }),
                "{text}"
            );
        }
    }

    #[test]
    fn the_region_part_must_be_digits() {
        let body = "9135A100M000100Y4";
        let check = CreditCode::check_character_for(body).unwrap();
        assert_eq!(
            CreditCode::parse(&format!("{body}{check}")),
            Err(CreditCodeError::RegionNotDigits)
        );
    }

    #[test]
    fn credit_code_round_trips_through_json_and_revalidates() {
        let code = CreditCode::parse(KNOWN_VALID).unwrap();
        let json = serde_json::to_value(&code).unwrap();
        assert_eq!(json, serde_json::json!(KNOWN_VALID));
        assert_eq!(serde_json::from_value::<CreditCode>(json).unwrap(), code);
        assert!(
            serde_json::from_value::<CreditCode>(serde_json::json!("91350100M000100Y44")).is_err()
        );
    }

    fn credit_code_body() -> impl Strategy<Value = String> {
        "[1-9A-HJ-NP-RTUW-Y][1-9]{1}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{9}"
    }

    proptest! {
        #[test]
        fn every_body_with_its_check_character_parses(body in credit_code_body()) {
            let check = CreditCode::check_character_for(&body).unwrap();
            let code = CreditCode::parse(&format!("{body}{check}")).unwrap();
            prop_assert_eq!(&code.as_str()[..17], body.as_str());
        }

        /// The modulo-31 check catches every single mistyped character.
        #[test]
        fn a_single_mistyped_character_is_always_refused(
            body in credit_code_body(),
            position in 0usize..18,
            shift in 1usize..31,
        ) {
            let check = CreditCode::check_character_for(&body).unwrap();
            let mut bytes = format!("{body}{check}").into_bytes();
            let value = CREDIT_CODE_ALPHABET.iter().position(|b| *b == bytes[position]).unwrap();
            bytes[position] = CREDIT_CODE_ALPHABET[(value + shift) % 31];
            let mistyped = String::from_utf8(bytes).unwrap();
            prop_assert!(CreditCode::parse(&mistyped).is_err());
        }
    }

    #[test]
    fn region_prefixes_of_every_level_parse() {
        for (text, expected, level) in [
            ("36", "36", RegionLevel::Province),
            ("3601", "3601", RegionLevel::City),
            ("360102", "360102", RegionLevel::County),
            ("360102003", "360102003", RegionLevel::Township),
            ("360102003005", "360102003005", RegionLevel::Village),
            ("360000000000", "36", RegionLevel::Province),
            ("360100000000", "3601", RegionLevel::City),
            ("360102000000", "360102", RegionLevel::County),
            ("360102003000", "360102003", RegionLevel::Township),
            (" 360100 ", "3601", RegionLevel::City),
        ] {
            let prefix = RegionPrefix::parse(text).unwrap();
            assert_eq!(prefix.as_str(), expected, "{text}");
            assert_eq!(prefix.level(), level, "{text}");
        }
    }

    #[test]
    fn region_prefix_pads_narrows_and_contains() {
        let township = RegionPrefix::parse("360102003").unwrap();
        assert_eq!(township.padded(), "360102003000");
        assert_eq!(
            township.at_level(RegionLevel::County),
            Some(RegionPrefix::parse("360102").unwrap())
        );
        assert_eq!(township.at_level(RegionLevel::Village), None);
        assert!(township.contains(&RegionCode::parse("360102003005").unwrap()));
        assert!(!township.contains(&RegionCode::parse("360102004005").unwrap()));
        let city = RegionPrefix::parse("3601").unwrap();
        assert!(city.covers(&township));
        assert!(!township.covers(&city));
        let village = RegionCode::parse("360102003005").unwrap();
        assert_eq!(
            RegionPrefix::of(&village).unwrap().level(),
            RegionLevel::Village
        );
        let county = RegionCode::parse("360102000000").unwrap();
        assert_eq!(RegionPrefix::of(&county).unwrap().as_str(), "360102");
    }

    #[test]
    fn malformed_region_prefixes_are_refused() {
        assert_eq!(
            RegionPrefix::parse("3601020"),
            Err(RegionPrefixError::WrongLength { length: 7 })
        );
        assert_eq!(
            RegionPrefix::parse("36a1"),
            Err(RegionPrefixError::NotDigits {
                text: "36a1".to_owned()
            })
        );
        assert_eq!(
            RegionPrefix::parse("990000000000"),
            Err(RegionPrefixError::UnknownProvince {
                code: "99".to_owned()
            })
        );
        assert_eq!(
            RegionPrefix::parse("000000000000"),
            Err(RegionPrefixError::UnknownProvince {
                code: "00".to_owned()
            })
        );
        assert_eq!(
            RegionPrefix::parse("360002003005"),
            Err(RegionPrefixError::MissingPart {
                code: "360002003005".to_owned(),
                level: RegionLevel::City
            })
        );
        assert_eq!(
            RegionPrefix::parse("360102000005"),
            Err(RegionPrefixError::MissingPart {
                code: "360102000005".to_owned(),
                level: RegionLevel::Township
            })
        );
    }

    #[test]
    fn region_prefix_round_trips_through_json() {
        let prefix = RegionPrefix::parse("360102000000").unwrap();
        let json = serde_json::to_value(&prefix).unwrap();
        assert_eq!(json, serde_json::json!("360102"));
        assert_eq!(
            serde_json::from_value::<RegionPrefix>(json).unwrap(),
            prefix
        );
        assert!(serde_json::from_value::<RegionPrefix>(serde_json::json!("3601020")).is_err());
    }
}
