//! Value types that validate themselves on construction: once you hold an
//! [`IdNumber`] or a [`RegionCode`], it is well formed.
//!
//! Both serialize as plain strings and re-validate when deserialized, so a
//! malformed value cannot enter through JSON either.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::vocabulary::Gender;

/// The two-digit province-level codes of GB/T 2260 (mainland provinces,
/// autonomous regions and municipalities, plus 台湾 71, 香港 81, 澳门 82).
pub const PROVINCE_CODES: &[&str] = &[
    "11", "12", "13", "14", "15", // 华北
    "21", "22", "23", // 东北
    "31", "32", "33", "34", "35", "36", "37", // 华东
    "41", "42", "43", "44", "45", "46", // 中南
    "50", "51", "52", "53", "54", // 西南
    "61", "62", "63", "64", "65", // 西北
    "71", "81", "82", // 台港澳
];

fn is_province_code(prefix: &str) -> bool {
    PROVINCE_CODES.contains(&prefix)
}

/// A 居民身份证号码 (GB 11643-1999): 6-digit address code, 8-digit birth
/// date, 3-digit sequence (odd for men, even for women) and a check
/// character computed by ISO 7064 MOD 11-2.
///
/// This is personal data: its `Debug` output is masked so that it does not
/// leak into logs; use [`IdNumber::as_str`] where the full number is needed.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber {
    text: String,
    birth_date: NaiveDate,
    gender: Gender,
}

/// Why a text is not a valid ID number. The messages never repeat the number
/// itself, because error messages end up in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdNumberError {
    #[error("身份证号应为 18 位，实际填写了 {length} 位，请核对身份证原件")]
    WrongLength { length: usize },
    #[error("身份证号第 {position} 位不是数字（只有最后一位可以是 X），请核对身份证原件")]
    InvalidCharacter { position: usize },
    #[error("身份证号前两位不是有效的省级行政区划代码，请核对身份证原件")]
    UnknownProvince,
    #[error("身份证号第 7 到 14 位不是有效的出生日期，请核对身份证原件")]
    InvalidBirthDate,
    #[error("身份证号最后一位校验码不正确，可能有数字录错，请逐位核对身份证原件")]
    WrongCheckCharacter,
}

impl IdNumberError {
    /// A stable snake_case code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            IdNumberError::WrongLength { .. } => "id_number_wrong_length",
            IdNumberError::InvalidCharacter { .. } => "id_number_invalid_character",
            IdNumberError::UnknownProvince => "id_number_unknown_province",
            IdNumberError::InvalidBirthDate => "id_number_invalid_birth_date",
            IdNumberError::WrongCheckCharacter => "id_number_wrong_check_character",
        }
    }
}

/// Weights of the first 17 digits in the GB 11643 check (2^(18-i) mod 11).
const ID_NUMBER_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character indexed by the weighted sum mod 11.
const ID_NUMBER_CHECK_CHARACTERS: [char; 11] =
    ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

impl IdNumber {
    /// Validates an ID number. Surrounding whitespace is ignored and a
    /// lower-case `x` is accepted as the check character `X`.
    pub fn parse(text: &str) -> Result<Self, IdNumberError> {
        let text = text.trim().to_ascii_uppercase();
        let length = text.chars().count();
        if length != 18 {
            return Err(IdNumberError::WrongLength { length });
        }
        for (index, character) in text.chars().enumerate() {
            let allowed = character.is_ascii_digit() || (index == 17 && character == 'X');
            if !allowed {
                return Err(IdNumberError::InvalidCharacter {
                    position: index + 1,
                });
            }
        }
        // From here on the text is ASCII, so byte slicing is safe.
        if !is_province_code(&text[0..2]) {
            return Err(IdNumberError::UnknownProvince);
        }
        let birth_date =
            birth_date_from_digits(&text[6..14]).ok_or(IdNumberError::InvalidBirthDate)?;
        if Self::check_character_for(&text[0..17]) != Some(text.as_bytes()[17] as char) {
            return Err(IdNumberError::WrongCheckCharacter);
        }
        let gender = if (text.as_bytes()[16] - b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        };
        Ok(IdNumber {
            text,
            birth_date,
            gender,
        })
    }

    /// The check character for the first 17 digits of an ID number, or
    /// `None` if the input is not exactly 17 ASCII digits. Test fixtures use
    /// it to build valid numbers.
    pub fn check_character_for(first_17_digits: &str) -> Option<char> {
        if first_17_digits.len() != 17 || !first_17_digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let sum: u32 = first_17_digits
            .bytes()
            .zip(ID_NUMBER_WEIGHTS)
            .map(|(digit, weight)| u32::from(digit - b'0') * weight)
            .sum();
        ID_NUMBER_CHECK_CHARACTERS.get((sum % 11) as usize).copied()
    }

    /// The full 18-character number (upper-case `X`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The birth date encoded in digits 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The gender encoded in the parity of digit 17.
    pub fn gender(&self) -> Gender {
        self.gender
    }

    /// The 6-digit address code of the place the number was issued.
    pub fn address_code(&self) -> &str {
        &self.text[0..6]
    }

    /// The number as auditors see it: `110105********002X`.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.text[0..6], &self.text[14..18])
    }
}

/// Reads `YYYYMMDD`; dates before 1900 are refused because no living person
/// has them and they usually mean a typing error.
fn birth_date_from_digits(digits: &str) -> Option<NaiveDate> {
    let year = digits.get(0..4)?.parse::<i32>().ok()?;
    let month = digits.get(4..6)?.parse::<u32>().ok()?;
    let day = digits.get(6..8)?.parse::<u32>().ok()?;
    NaiveDate::from_ymd_opt(year, month, day).filter(|_| year >= 1900)
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_tuple("IdNumber")
            .field(&self.masked())
            .finish()
    }
}

impl TryFrom<String> for IdNumber {
    type Error = IdNumberError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        IdNumber::parse(&text)
    }
}

impl From<IdNumber> for String {
    fn from(id_number: IdNumber) -> Self {
        id_number.text
    }
}

/// A 12-digit 统计用区划代码: province (2), city (2), county (2),
/// township (3), village or community (3).
///
/// A case always lives in a concrete county or below, so the county part
/// must not be `00`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegionCode(String);

/// Why a text is not a valid region code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegionCodeError {
    #[error("区划代码应为 12 位统计用区划代码，实际填写了 {length} 位，请填写到村（社区）一级")]
    WrongLength { length: usize },
    #[error("区划代码“{text}”中有非数字字符，请只填写 12 位数字")]
    NotDigits { text: String },
    #[error("区划代码 {code} 的前两位不是有效的省级代码，请核对")]
    UnknownProvince { code: String },
    #[error("区划代码 {code} 的县级部分（第 5–6 位）为 00，请填写到具体的县（区）及以下")]
    MissingCounty { code: String },
}

impl RegionCodeError {
    /// A stable snake_case code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            RegionCodeError::WrongLength { .. } => "region_code_wrong_length",
            RegionCodeError::NotDigits { .. } => "region_code_not_digits",
            RegionCodeError::UnknownProvince { .. } => "region_code_unknown_province",
            RegionCodeError::MissingCounty { .. } => "region_code_missing_county",
        }
    }
}

impl RegionCode {
    /// Validates a 12-digit region code; surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, RegionCodeError> {
        let text = text.trim();
        if !text.chars().all(|c| c.is_ascii_digit()) {
            return Err(RegionCodeError::NotDigits {
                text: text.to_owned(),
            });
        }
        if text.len() != 12 {
            return Err(RegionCodeError::WrongLength { length: text.len() });
        }
        let code = text.to_owned();
        if !is_province_code(&text[0..2]) {
            return Err(RegionCodeError::UnknownProvince { code });
        }
        if &text[4..6] == "00" {
            return Err(RegionCodeError::MissingCounty { code });
        }
        Ok(RegionCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// 省级 prefix (2 digits).
    pub fn province(&self) -> &str {
        &self.0[0..2]
    }

    /// 地市级 prefix (4 digits).
    pub fn city(&self) -> &str {
        &self.0[0..4]
    }

    /// 县级 prefix (6 digits).
    pub fn county(&self) -> &str {
        &self.0[0..6]
    }

    /// 乡镇级 prefix (9 digits).
    pub fn township(&self) -> &str {
        &self.0[0..9]
    }

    /// True when this code lies within a scope given as a code prefix (2, 4,
    /// 6, 9 or 12 digits); the empty prefix is the whole country.
    pub fn is_within(&self, scope_prefix: &str) -> bool {
        self.0.starts_with(scope_prefix)
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = RegionCodeError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        RegionCode::parse(&text)
    }
}

impl From<RegionCode> for String {
    fn from(code: RegionCode) -> Self {
        code.0
    }
}

/// True when a text looks like a phone number a worker could call: a mobile
/// number or a landline with area code, made of digits and the usual
/// separators, with 7 to 15 digits (ITU E.164 allows at most 15).
pub fn is_plausible_phone(text: &str) -> bool {
    let text = text.trim();
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let only_phone_characters = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    only_phone_characters && (7..=15).contains(&digits)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The example number published with GB 11643-1999.
    const STANDARD_EXAMPLE: &str = "11010519491231002X";

    fn with_check_character(first_17: &str) -> String {
        let check = IdNumber::check_character_for(first_17).unwrap();
        format!("{first_17}{check}")
    }

    #[test]
    fn check_character_matches_the_published_example() {
        assert_eq!(
            IdNumber::check_character_for("11010519491231002"),
            Some('X')
        );
        assert_eq!(IdNumber::check_character_for("1101051949123100"), None);
        assert_eq!(IdNumber::check_character_for("1101051949123100A"), None);
    }

    #[test]
    fn valid_id_number_exposes_birth_date_gender_and_mask() {
        let id = IdNumber::parse(STANDARD_EXAMPLE).unwrap();
        assert_eq!(id.as_str(), STANDARD_EXAMPLE);
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.gender(), Gender::Female);
        assert_eq!(id.address_code(), "110105");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(format!("{id:?}"), r#"IdNumber("110105********002X")"#);

        let male = IdNumber::parse(&with_check_character("36010219580307101")).unwrap();
        assert_eq!(male.gender(), Gender::Male);
    }

    #[test]
    fn lower_case_x_and_whitespace_are_accepted() {
        let id = IdNumber::parse(" 11010519491231002x ").unwrap();
        assert_eq!(id.as_str(), STANDARD_EXAMPLE);
    }

    #[test]
    fn wrong_check_character_is_refused() {
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::WrongCheckCharacter)
        );
        assert_eq!(
            IdNumberError::WrongCheckCharacter.code(),
            "id_number_wrong_check_character"
        );
    }

    #[test]
    fn wrong_length_is_refused() {
        assert_eq!(
            IdNumber::parse("1101051949123100"),
            Err(IdNumberError::WrongLength { length: 16 })
        );
        assert_eq!(
            IdNumber::parse("11010519491231002X1"),
            Err(IdNumberError::WrongLength { length: 19 })
        );
        assert_eq!(
            IdNumber::parse(""),
            Err(IdNumberError::WrongLength { length: 0 })
        );
    }

    #[test]
    fn non_digits_are_refused_with_their_position() {
        assert_eq!(
            IdNumber::parse("1101X519491231002X"),
            Err(IdNumberError::InvalidCharacter { position: 5 })
        );
        assert_eq!(
            IdNumber::parse("身份证号码一二三四五六七八九十一二三"),
            Err(IdNumberError::InvalidCharacter { position: 1 })
        );
    }

    #[test]
    fn impossible_birth_dates_are_refused() {
        // 1949-02-30 does not exist; the check character is right, so the
        // date is what is wrong.
        let february_30 = with_check_character("11010519490230002");
        assert_eq!(
            IdNumber::parse(&february_30),
            Err(IdNumberError::InvalidBirthDate)
        );
        let year_1850 = with_check_character("11010518500101002");
        assert_eq!(
            IdNumber::parse(&year_1850),
            Err(IdNumberError::InvalidBirthDate)
        );
    }

    #[test]
    fn unknown_province_is_refused() {
        let province_99 = with_check_character("99010519491231002");
        assert_eq!(
            IdNumber::parse(&province_99),
            Err(IdNumberError::UnknownProvince)
        );
    }

    #[test]
    fn id_number_errors_do_not_repeat_the_number() {
        let message = IdNumber::parse("110105194912310021")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("110105"));
    }

    #[test]
    fn id_number_serializes_as_plain_string_and_revalidates() {
        let id = IdNumber::parse(STANDARD_EXAMPLE).unwrap();
        let json = serde_json::to_value(&id).unwrap();
        assert_eq!(json, serde_json::json!(STANDARD_EXAMPLE));
        assert_eq!(serde_json::from_value::<IdNumber>(json).unwrap(), id);
        assert!(
            serde_json::from_value::<IdNumber>(serde_json::json!("110105194912310021")).is_err()
        );
    }

    #[test]
    fn valid_region_code_gives_its_prefixes() {
        let code = RegionCode::parse("360102003005").unwrap();
        assert_eq!(code.as_str(), "360102003005");
        assert_eq!(code.province(), "36");
        assert_eq!(code.city(), "3601");
        assert_eq!(code.county(), "360102");
        assert_eq!(code.township(), "360102003");
        assert!(code.is_within("3601"));
        assert!(code.is_within(""));
        assert!(!code.is_within("3602"));
        assert_eq!(code.to_string(), "360102003005");
        // Special administrative regions and Taiwan are on the list.
        assert!(RegionCode::parse("810101000000").is_ok());
    }

    #[test]
    fn region_code_of_wrong_length_is_refused() {
        assert_eq!(
            RegionCode::parse("360102"),
            Err(RegionCodeError::WrongLength { length: 6 })
        );
        assert_eq!(
            RegionCode::parse("3601020030051"),
            Err(RegionCodeError::WrongLength { length: 13 })
        );
    }

    #[test]
    fn region_code_with_letters_is_refused() {
        assert_eq!(
            RegionCode::parse("36010200300A"),
            Err(RegionCodeError::NotDigits {
                text: "36010200300A".to_owned()
            })
        );
    }

    #[test]
    fn region_code_with_unknown_province_is_refused() {
        for prefix in ["00", "10", "16", "39", "66", "70", "83", "99"] {
            let text = format!("{prefix}0102003005");
            assert_eq!(
                RegionCode::parse(&text),
                Err(RegionCodeError::UnknownProvince { code: text.clone() })
            );
        }
    }

    #[test]
    fn region_code_above_county_level_is_refused() {
        assert_eq!(
            RegionCode::parse("360100000000"),
            Err(RegionCodeError::MissingCounty {
                code: "360100000000".to_owned()
            })
        );
    }

    #[test]
    fn region_code_round_trips_through_json() {
        let code = RegionCode::parse("360102003005").unwrap();
        let json = serde_json::to_value(&code).unwrap();
        assert_eq!(json, serde_json::json!("360102003005"));
        assert_eq!(serde_json::from_value::<RegionCode>(json).unwrap(), code);
        assert!(serde_json::from_value::<RegionCode>(serde_json::json!("360100000000")).is_err());
    }

    fn well_formed_first_17() -> impl Strategy<Value = (String, NaiveDate)> {
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
        (
            proptest::sample::select(PROVINCE_CODES),
            "[0-9]{4}",
            0u64..45_000,
            "[0-9]{3}",
        )
            .prop_map(move |(province, area, days, sequence)| {
                let birth = earliest + chrono::Days::new(days);
                (
                    format!("{province}{area}{}{sequence}", birth.format("%Y%m%d")),
                    birth,
                )
            })
    }

    proptest! {
        #[test]
        fn every_well_formed_number_with_its_check_character_parses(
            (first_17, birth) in well_formed_first_17()
        ) {
            let id = IdNumber::parse(&with_check_character(&first_17)).unwrap();
            prop_assert_eq!(id.birth_date(), birth);
            prop_assert_eq!(&id.as_str()[..17], first_17.as_str());
        }

        /// ISO 7064 MOD 11-2 catches every single mistyped digit, which is
        /// why it is worth refusing numbers that fail it.
        #[test]
        fn a_single_mistyped_digit_is_always_refused(
            (first_17, _birth) in well_formed_first_17(),
            position in 0usize..17,
            shift in 1u8..10,
        ) {
            let mut digits = with_check_character(&first_17).into_bytes();
            digits[position] = b'0' + (digits[position] - b'0' + shift) % 10;
            let mistyped = String::from_utf8(digits).unwrap();
            prop_assert!(IdNumber::parse(&mistyped).is_err());
        }
    }

    #[test]
    fn plausible_phones() {
        assert!(is_plausible_phone("13800138000"));
        assert!(is_plausible_phone("0791-86123456"));
        assert!(is_plausible_phone("+86 138 0013 8000"));
        assert!(!is_plausible_phone(""));
        assert!(!is_plausible_phone("123"));
        assert!(!is_plausible_phone("138-0013-800a"));
        assert!(!is_plausible_phone("1234567890123456"));
    }
}
