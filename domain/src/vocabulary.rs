//! The vocabulary of community care, with its Chinese labels.
//!
//! This is the only place where Chinese labels of coded values live; pages
//! and exports take them from here. Each code is a stable snake_case English
//! word that is written into stored events, so a code must never be renamed:
//! add a new variant (and, if needed, an upcaster) instead.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Declares a vocabulary enum: each variant with its stored code and its
/// Chinese label. Codes are given explicitly (not derived from the variant
/// name) so that renaming a Rust identifier can never change stored data.
///
/// With the `openapi` feature the enum is also an OpenAPI schema: a string
/// enum of the codes, described by the enum's doc comment followed by each
/// code with its Chinese label (OpenAPI has no per-value description).
macro_rules! vocabulary {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                // `tt`, not `literal`: a `literal` fragment reaches derive
                // macros wrapped in an invisible group, which utoipa's reading
                // of `#[serde(rename = ...)]` does not look into. Anything but
                // a string literal is still refused, by serde's derive.
                $variant:ident = $code:tt => $label:literal,
            )+
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(
            feature = "openapi",
            schema(description = openapi_description(&[$($doc),*], &[$(($code, $label)),+]))
        )]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $code)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order (the order pages list them in).
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable snake_case code used in JSON and stored events.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The Chinese label shown to workers and printed in exports.
            pub fn label_zh(&self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)+
                }
            }

            /// The value with the given code, if there is one.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        /// Displays the Chinese label, because what is displayed is read by people.
        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.label_zh())
            }
        }
    };
}

/// The OpenAPI description of a vocabulary enum: its doc comment lines
/// (with the common indentation removed, as for any other schema), then
/// every code with its Chinese label.
#[cfg(feature = "openapi")]
fn openapi_description(doc: &[&str], codes_and_labels: &[(&str, &str)]) -> String {
    let indent = doc
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_ascii_start().len())
        .min()
        .unwrap_or(0);
    let mut description = doc
        .iter()
        .map(|line| line.get(indent..).unwrap_or_default().trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    if !description.is_empty() {
        description.push_str("\n\n");
    }
    description.push_str("Codes and their Chinese labels:");
    for (code, label) in codes_and_labels {
        description.push_str(&format!("\n- `{code}`: {label}"));
    }
    description
}

vocabulary! {
    /// 关爱对象类别. A person can belong to several.
    pub enum CareCategory {
        MinimumLivingAllowance = "minimum_living_allowance" => "低保对象",
        LowIncome = "low_income" => "低收入家庭成员（低保边缘）",
        ExtremePoverty = "extreme_poverty" => "特困人员",
        EmptyNestElder = "empty_nest_elder" => "空巢老人",
        FrailElder = "frail_elder" => "高龄、失能（失智）老人",
        LeftBehindElder = "left_behind_elder" => "农村留守老人",
        LeftBehindWoman = "left_behind_woman" => "农村留守妇女",
        LeftBehindChild = "left_behind_child" => "农村留守儿童",
        ChildInDifficulty = "child_in_difficulty" => "困境儿童",
        Orphan = "orphan" => "孤儿",
        DeFactoUnsupportedChild = "de_facto_unsupported_child" => "事实无人抚养儿童",
        Disabled = "disabled" => "残疾人",
        SeverelyDisabled = "severely_disabled" => "重度残疾人",
        SevereMentalDisorder = "severe_mental_disorder" => "严重精神障碍患者",
        Vagrant = "vagrant" => "流浪乞讨人员",
        CommunityCorrections = "community_corrections" => "社区矫正对象",
        ReleasedPrisoner = "released_prisoner" => "刑满释放人员",
        CommunityDrugRehab = "community_drug_rehab" => "社区戒毒人员",
        Unemployed = "unemployed" => "失业人员、零就业家庭、“4050”人员",
        MigrantFamily = "migrant_family" => "进城务工人员及随迁子女",
        RelocatedResident = "relocated_resident" => "易地搬迁安置人员",
        JuvenileAtRisk = "juvenile_at_risk" => "罪错未成年人、未成年被害人",
    }
}

vocabulary! {
    /// 服务内容.
    pub enum ServiceType {
        Companionship = "companionship" => "亲情陪伴",
        DailyCare = "daily_care" => "生活照料、照料看护",
        HumanisticCare = "humanistic_care" => "人文关怀",
        PsychologicalSupport = "psychological_support" => "心理慰藉、心理疏导",
        CrisisIntervention = "crisis_intervention" => "危机干预",
        SocialIntegration = "social_integration" => "社会融入",
        HomeVisiting = "home_visiting" => "居家探视巡访",
        PolicyConsultation = "policy_consultation" => "政策咨询",
        ErrandsAndMeals = "errands_and_meals" => "代买助餐",
        SafetyEducation = "safety_education" => "安全教育",
        Tutoring = "tutoring" => "学业辅导",
        ParentingGuidance = "parenting_guidance" => "家庭亲子教育指导",
        CharitableAid = "charitable_aid" => "慈善帮扶（物资、资金）",
        EmploymentSupport = "employment_support" => "就业帮扶",
        LegalAid = "legal_aid" => "法律援助",
        DisputeMediation = "dispute_mediation" => "矛盾纠纷调解",
        Rehabilitation = "rehabilitation" => "康复服务",
        CapacityBuilding = "capacity_building" => "能力提升",
        FamilyReunification = "family_reunification" => "寻亲返乡",
        FreeClinic = "free_clinic" => "义诊",
    }
}

vocabulary! {
    /// 行动: the campaign a service is delivered under. Three families:
    /// 江西 2021 邻里系列, 五社联动暖心关爱工程, and 福建近邻服务.
    pub enum ActionLine {
        NeighborhoodKinship = "neighborhood_kinship" => "邻里亲",
        NeighborhoodSupport = "neighborhood_support" => "邻里扶",
        NeighborhoodHarmony = "neighborhood_harmony" => "邻里和",
        NeighborhoodBeauty = "neighborhood_beauty" => "邻里美",
        KnockingForElders = "knocking_for_elders" => "助老敲门",
        ChildrenGrowth = "children_growth" => "护童成长",
        CharitableRelief = "charitable_relief" => "慈善救助",
        NeighborhoodWatch = "neighborhood_watch" => "邻里守望",
        CivilizedCustoms = "civilized_customs" => "移风易俗",
        WarmHomecoming = "warm_homecoming" => "温暖回家",
        SunshineDisabilitySupport = "sunshine_disability_support" => "阳光助残",
        HelpForInfants = "help_for_infants" => "助幼",
        HelpForEducation = "help_for_education" => "助教",
        HelpForMedicalCare = "help_for_medical_care" => "助医",
        HelpForElders = "help_for_elders" => "助老",
        HelpForTheNeedy = "help_for_the_needy" => "助困",
    }
}

vocabulary! {
    /// How a caregiver looks after the person (包户 / 帮扶 arrangement).
    pub enum HelpArrangement {
        OneToOne = "one_to_one" => "一对一包户",
        ManyToOne = "many_to_one" => "多对一包户",
        Pairing = "pairing" => "结对帮扶",
        VolunteerService = "volunteer_service" => "志愿服务",
    }
}

vocabulary! {
    /// 走访方式.
    pub enum VisitMethod {
        HomeVisit = "home_visit" => "入户走访",
        PhoneCall = "phone_call" => "电话",
        VideoCall = "video_call" => "视频",
        GroupActivity = "group_activity" => "集中活动",
    }
}

vocabulary! {
    /// How the person came to the attention of the workers (发现途径).
    pub enum IdentificationChannel {
        DigitalCivilAffairs = "digital_civil_affairs" => "数字民政",
        VillageCommitteeRecords = "village_committee_records" => "村居委档案",
        VisitDiscovery = "visit_discovery" => "走访发现",
        SelfApplication = "self_application" => "本人申请",
        DepartmentReferral = "department_referral" => "部门转介",
    }
}

vocabulary! {
    /// 风险等级, ordered from least to most urgent.
    pub enum RiskLevel {
        Low = "low" => "低风险",
        Medium = "medium" => "中风险",
        High = "high" => "高风险",
        Crisis = "crisis" => "危机",
    }
}

vocabulary! {
    /// 风险因素 noted in a risk assessment.
    pub enum RiskFactor {
        LivesAlone = "lives_alone" => "独居",
        AdvancedAge = "advanced_age" => "高龄",
        DisabilityOrDementia = "disability_or_dementia" => "失能、失智",
        SeriousIllness = "serious_illness" => "重病、慢性病",
        MentalDisorder = "mental_disorder" => "精神障碍",
        NoStableIncome = "no_stable_income" => "无稳定收入",
        NoCaregiver = "no_caregiver" => "无人照料",
        LackOfGuardianship = "lack_of_guardianship" => "监护缺失",
        UnsafeHousing = "unsafe_housing" => "住房安全隐患",
        FamilyCrisis = "family_crisis" => "家庭重大变故",
        AbuseOrViolence = "abuse_or_violence" => "遭受虐待、暴力",
        SelfHarmRisk = "self_harm_risk" => "自伤自杀倾向",
        SocialIsolation = "social_isolation" => "社会孤立",
        Other = "other" => "其他风险",
    }
}

vocabulary! {
    /// 结案原因.
    pub enum CloseReason {
        Death = "death" => "死亡",
        MovedAway = "moved_away" => "迁出",
        NoLongerEligible = "no_longer_eligible" => "不再符合条件",
        GoalAchieved = "goal_achieved" => "目标达成",
        DeclinedByPerson = "declined_by_person" => "本人拒绝",
        Other = "other" => "其他",
    }
}

vocabulary! {
    /// The department a need is referred to (部门转介).
    pub enum Department {
        MedicalInsurance = "medical_insurance" => "医保",
        DisabledPersonsFederation = "disabled_persons_federation" => "残联",
        Education = "education" => "教育",
        HumanResourcesAndSocialSecurity = "human_resources_and_social_security" => "人社",
        Justice = "justice" => "司法",
        HealthCommission = "health_commission" => "卫健",
        SocialAssistance = "social_assistance" => "社会救助",
        CivilAffairs = "civil_affairs" => "民政",
        PublicSecurity = "public_security" => "公安",
        HousingAndConstruction = "housing_and_construction" => "住建",
        WomensFederation = "womens_federation" => "妇联",
        Other = "other" => "其他部门",
    }
}

vocabulary! {
    /// 性别, as encoded in the ID number (odd 17th digit: male).
    pub enum Gender {
        Male = "male" => "男",
        Female = "female" => "女",
    }
}

vocabulary! {
    /// 目标达成情况.
    pub enum OutcomeAchievement {
        Achieved = "achieved" => "已达成",
        PartlyAchieved = "partly_achieved" => "部分达成",
        NotAchieved = "not_achieved" => "未达成",
    }
}

vocabulary! {
    /// 档案状态.
    pub enum CaseStatus {
        Open = "open" => "关爱中",
        Closed = "closed" => "已结案",
    }
}

vocabulary! {
    /// 社会组织类别.
    pub enum OrganizationKind {
        CharityAndPublicWelfare = "charity_and_public_welfare" => "慈善公益类",
        ServicesForResidents = "services_for_residents" => "为民服务类",
        ResidentSelfGovernance = "resident_self_governance" => "居民自治类",
        LivingServices = "living_services" => "生活服务类",
        ProfessionalMediation = "professional_mediation" => "专业调处类",
        PublicSafety = "public_safety" => "治保维稳类",
        SocialWorkAgency = "social_work_agency" => "社会工作服务机构",
        VolunteerOrganization = "volunteer_organization" => "志愿服务组织",
        HubOrganization = "hub_organization" => "枢纽型社会组织",
        PsychologicalAssistance = "psychological_assistance" => "心理援助类",
        LegalServices = "legal_services" => "法律类",
    }
}

vocabulary! {
    /// 区划级别 of the 统计用区划代码: the level an organization is
    /// registered at, or the area an activity covers (活动地域：县/乡/村).
    /// Ordered from the widest to the narrowest.
    pub enum RegionLevel {
        Province = "province" => "省",
        City = "city" => "市",
        County = "county" => "县（市、区）",
        Township = "township" => "乡镇（街道）",
        Village = "village" => "村（社区）",
    }
}

vocabulary! {
    /// 社会组织状态.
    pub enum OrganizationStatus {
        Active = "active" => "正常",
        Suspended = "suspended" => "已暂停",
    }
}

vocabulary! {
    /// 成员角色: what a member does for the organization.
    pub enum MemberRole {
        SocialWorker = "social_worker" => "社工",
        Volunteer = "volunteer" => "志愿者",
        PersonInCharge = "person_in_charge" => "负责人",
        LiaisonCandidate = "liaison_candidate" => "联络员候选人",
        Staff = "staff" => "其他工作人员",
    }
}

vocabulary! {
    /// 志愿者状态 (积分制管理).
    pub enum VolunteerStatus {
        Active = "active" => "在册",
        Inactive = "inactive" => "已停用",
    }
}

vocabulary! {
    /// 需求类别.
    pub enum NeedCategory {
        Living = "living" => "生活",
        Medical = "medical" => "医疗",
        Education = "education" => "教育",
        Employment = "employment" => "就业",
        Psychological = "psychological" => "心理",
        Legal = "legal" => "法律",
        Environment = "environment" => "环境",
        CultureAndSports = "culture_and_sports" => "文体",
        Other = "other" => "其他",
    }
}

vocabulary! {
    /// 紧急程度, ordered from least to most urgent.
    pub enum NeedUrgency {
        Normal = "normal" => "一般",
        Pressing = "pressing" => "较急",
        Urgent = "urgent" => "紧急",
    }
}

vocabulary! {
    /// 需求来源: how the need came to be on the ledger.
    pub enum NeedSource {
        HouseholdSurvey = "household_survey" => "按户摸底",
        VisitDiscovery = "visit_discovery" => "走访发现",
        SelfRequest = "self_request" => "本人提出",
        CommunityConsultation = "community_consultation" => "协商议事（圆桌会）",
        DepartmentReferral = "department_referral" => "部门推送",
        Other = "other" => "其他途径",
    }
}

vocabulary! {
    /// 需求状态.
    pub enum NeedStatus {
        OnLedger = "on_ledger" => "待派单（已列入需求台账）",
        Dispatched = "dispatched" => "已派单",
        Accepted = "accepted" => "已接单",
        Fulfilled = "fulfilled" => "已办结",
        Evaluated = "evaluated" => "已评价",
        Escalated = "escalated" => "已上报",
        Withdrawn = "withdrawn" => "已撤回",
    }
}

vocabulary! {
    /// Who a need lies with (逐级上报): the county first, then the city, then
    /// the province; or the government and its departments when it is beyond
    /// what social organizations can do. Ordered along that path.
    pub enum EscalationLevel {
        County = "county" => "县级民政部门",
        City = "city" => "设区市民政部门",
        Province = "province" => "省级民政部门",
        Government = "government" => "本级政府或相关部门",
    }
}

vocabulary! {
    /// 资金来源 of an activity's 投入资金（含物资折款）.
    pub enum FundSource {
        WelfareLotteryFund = "welfare_lottery_fund" => "福彩公益金",
        CharityFund = "charity_fund" => "慈善基金",
        GovernmentPurchase = "government_purchase" => "政府购买服务",
        SocialDonation = "social_donation" => "社会捐赠",
        SelfRaised = "self_raised" => "自筹",
    }
}

vocabulary! {
    /// 活动状态.
    pub enum ActivityStatus {
        Planned = "planned" => "已计划",
        Completed = "completed" => "已完成",
        Cancelled = "cancelled" => "已取消",
    }
}

vocabulary! {
    /// 系统用户角色: what a user may do is decided by the API's permission
    /// matrix (docs/PERMISSIONS.md); the labels live here with all others.
    pub enum UserRole {
        SocialWorker = "social_worker" => "社工",
        Supervisor = "supervisor" => "督导（联络员）",
        Official = "official" => "民政干部",
        Auditor = "auditor" => "评估审计",
        Admin = "admin" => "系统管理员",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::fmt::Debug;

    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::*;

    /// Checks one vocabulary enum: codes are snake_case, round-trip through
    /// JSON and `from_code`, and codes and labels are unique and non-empty.
    fn check_vocabulary<T>(all: &[T], code: fn(&T) -> &'static str, label: fn(&T) -> &'static str)
    where
        T: Serialize + DeserializeOwned + PartialEq + Debug,
    {
        assert!(!all.is_empty());
        let mut codes = HashSet::new();
        let mut labels = HashSet::new();
        for value in all {
            let value_code = code(value);
            assert!(
                !value_code.is_empty()
                    && value_code
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "code {value_code:?} is not snake_case"
            );
            let json = serde_json::to_value(value).unwrap();
            assert_eq!(json, serde_json::Value::String(value_code.to_owned()));
            let back: T = serde_json::from_value(json).unwrap();
            assert_eq!(&back, value);
            assert!(codes.insert(value_code), "duplicate code {value_code}");
            let value_label = label(value);
            assert!(!value_label.trim().is_empty(), "empty label for {value:?}");
            assert!(labels.insert(value_label), "duplicate label {value_label}");
        }
    }

    macro_rules! check_all {
        ($($name:ident),+ $(,)?) => {
            $(
                check_vocabulary($name::ALL, $name::code, $name::label_zh);
                for value in $name::ALL {
                    assert_eq!($name::from_code(value.code()), Some(*value));
                    assert_eq!(value.to_string(), value.label_zh());
                }
                assert_eq!($name::from_code("no_such_code"), None);
            )+
        };
    }

    #[test]
    fn every_code_round_trips_and_every_label_is_unique() {
        check_all!(
            CareCategory,
            ServiceType,
            ActionLine,
            HelpArrangement,
            VisitMethod,
            IdentificationChannel,
            RiskLevel,
            RiskFactor,
            CloseReason,
            Department,
            Gender,
            OutcomeAchievement,
            CaseStatus,
            OrganizationKind,
        );
    }

    #[test]
    fn vocabulary_sizes_match_the_seeds() {
        assert_eq!(CareCategory::ALL.len(), 22);
        assert_eq!(ServiceType::ALL.len(), 20);
        assert_eq!(ActionLine::ALL.len(), 16);
        assert_eq!(HelpArrangement::ALL.len(), 4);
        assert_eq!(VisitMethod::ALL.len(), 4);
        assert_eq!(IdentificationChannel::ALL.len(), 5);
        assert_eq!(CloseReason::ALL.len(), 6);
        assert_eq!(OrganizationKind::ALL.len(), 11);
    }

    #[test]
    fn risk_levels_are_ordered_by_urgency() {
        assert!(RiskLevel::Low < RiskLevel::Medium);
        assert!(RiskLevel::Medium < RiskLevel::High);
        assert!(RiskLevel::High < RiskLevel::Crisis);
    }

    #[test]
    fn vocabularies_of_organizations_volunteers_needs_and_activities_round_trip() {
        check_all!(
            RegionLevel,
            OrganizationStatus,
            MemberRole,
            VolunteerStatus,
            NeedCategory,
            NeedUrgency,
            NeedSource,
            NeedStatus,
            EscalationLevel,
            FundSource,
            ActivityStatus,
        );
        assert_eq!(NeedCategory::ALL.len(), 9);
        assert_eq!(NeedStatus::ALL.len(), 7);
        assert_eq!(FundSource::ALL.len(), 5);
    }

    #[test]
    fn region_and_escalation_levels_are_ordered_from_the_widest() {
        assert!(RegionLevel::Province < RegionLevel::City);
        assert!(RegionLevel::Township < RegionLevel::Village);
        assert!(EscalationLevel::County < EscalationLevel::City);
        assert!(EscalationLevel::Province < EscalationLevel::Government);
        assert!(NeedUrgency::Normal < NeedUrgency::Urgent);
    }
}
