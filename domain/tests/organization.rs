//! Given / when / then: every command on an organization, accepted and
//! refused; and the stored form of every organization event.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use cqrs_es::{Aggregate, DomainEvent};
use shouwang_domain::PersonalData;
use shouwang_domain::codes::{CreditCode, CreditCodeError, RegionPrefix, RegionPrefixError};
use shouwang_domain::organization::*;
use shouwang_domain::values::RegionCode;
use shouwang_domain::vocabulary::*;
use uuid::Uuid;

// ---------------------------------------------------------------- fixtures

/// 南昌市西湖区邻里守望社会工作服务中心: 5 民政, 2 民办非企业单位, 360103 西湖区.
const CREDIT_CODE: &str = "52360103MJB123450D";
const REGION: &str = "360103";

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid fixture date")
}

fn today() -> NaiveDate {
    date(2026, 3, 20)
}

fn registered_on() -> NaiveDate {
    date(2025, 6, 1)
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("valid fixture uuid")
}

/// 黄兆松, a social worker.
fn member() -> Uuid {
    uuid("01958c10-0a00-7a01-8b01-000000000001")
}

/// 陈嘉瑶, a volunteer.
fn other_member() -> Uuid {
    uuid("01958c10-0a00-7a01-8b01-000000000002")
}

fn command(action: impl Into<OrganizationAction>) -> OrganizationCommand {
    OrganizationCommand::new(today(), action)
}

fn register_organization() -> RegisterOrganization {
    RegisterOrganization {
        name: "南昌市西湖区邻里守望社会工作服务中心".to_owned(),
        credit_code: CREDIT_CODE.to_owned(),
        kind: OrganizationKind::SocialWorkAgency,
        level: RegionLevel::County,
        region_code: "360103000000".to_owned(),
        hub: true,
        registered_on: registered_on(),
    }
}

fn add_member() -> AddMember {
    AddMember {
        member_id: member(),
        display_name: "黄兆松".to_owned(),
        role: MemberRole::SocialWorker,
        joined_on: date(2025, 7, 1),
    }
}

fn remove_member() -> RemoveMember {
    RemoveMember {
        member_id: member(),
        reason: "调往青云谱区社工站".to_owned(),
        left_on: date(2026, 3, 1),
    }
}

fn designate_liaison() -> DesignateLiaison {
    DesignateLiaison {
        member_id: member(),
        designated_on: date(2025, 9, 1),
    }
}

fn release_liaison() -> ReleaseLiaison {
    ReleaseLiaison {
        member_id: member(),
        reason: "联络员轮换".to_owned(),
        released_on: date(2026, 2, 1),
    }
}

fn add_supply_entry() -> AddSupplyEntry {
    AddSupplyEntry {
        service_type: ServiceType::HomeVisiting,
        areas: vec![
            "360103".to_owned(),
            "360103000000".to_owned(),
            "360111001".to_owned(),
        ],
        description: "  每周二上门探访独居老人 ".to_owned(),
    }
}

fn remove_supply_entry() -> RemoveSupplyEntry {
    RemoveSupplyEntry {
        service_type: ServiceType::HomeVisiting,
        reason: "探访志愿者不足，暂停此项服务".to_owned(),
    }
}

fn suspend_organization() -> SuspendOrganization {
    SuspendOrganization {
        reason: "年检未通过，整改期间暂停派单".to_owned(),
        suspended_on: date(2026, 1, 15),
    }
}

fn reactivate_organization() -> ReactivateOrganization {
    ReactivateOrganization {
        reason: "整改完成，年检通过".to_owned(),
        reactivated_on: date(2026, 3, 10),
    }
}

fn every_action() -> Vec<OrganizationAction> {
    vec![
        register_organization().into(),
        add_member().into(),
        remove_member().into(),
        designate_liaison().into(),
        release_liaison().into(),
        add_supply_entry().into(),
        remove_supply_entry().into(),
        suspend_organization().into(),
        reactivate_organization().into(),
    ]
}

fn organization_registered() -> OrganizationEvent {
    let register = register_organization();
    OrganizationEvent::OrganizationRegistered(OrganizationRegistered {
        name: register.name,
        credit_code: CreditCode::parse(CREDIT_CODE).expect("valid fixture code"),
        kind: register.kind,
        level: register.level,
        region: RegionPrefix::parse(REGION).expect("valid fixture region"),
        hub: register.hub,
        registered_on: register.registered_on,
    })
}

fn member_added() -> OrganizationEvent {
    let add = add_member();
    OrganizationEvent::MemberAdded(MemberAdded {
        member_id: add.member_id,
        display_name: add.display_name,
        role: add.role,
        joined_on: add.joined_on,
    })
}

fn member_removed() -> OrganizationEvent {
    let remove = remove_member();
    OrganizationEvent::MemberRemoved(MemberRemoved {
        member_id: remove.member_id,
        reason: remove.reason,
        left_on: remove.left_on,
    })
}

fn liaison_designated() -> OrganizationEvent {
    let designate = designate_liaison();
    OrganizationEvent::LiaisonDesignated(LiaisonDesignated {
        member_id: designate.member_id,
        designated_on: designate.designated_on,
    })
}

fn liaison_released() -> OrganizationEvent {
    let release = release_liaison();
    OrganizationEvent::LiaisonReleased(LiaisonReleased {
        member_id: release.member_id,
        reason: release.reason,
        released_on: release.released_on,
    })
}

fn supply_entry_added() -> OrganizationEvent {
    OrganizationEvent::SupplyEntryAdded(SupplyEntryAdded {
        service_type: ServiceType::HomeVisiting,
        areas: vec![
            RegionPrefix::parse("360103").expect("valid fixture area"),
            RegionPrefix::parse("360111001").expect("valid fixture area"),
        ],
        description: "每周二上门探访独居老人".to_owned(),
    })
}

fn supply_entry_removed() -> OrganizationEvent {
    let remove = remove_supply_entry();
    OrganizationEvent::SupplyEntryRemoved(SupplyEntryRemoved {
        service_type: remove.service_type,
        reason: remove.reason,
    })
}

fn organization_suspended() -> OrganizationEvent {
    let suspend = suspend_organization();
    OrganizationEvent::OrganizationSuspended(OrganizationSuspended {
        reason: suspend.reason,
        suspended_on: suspend.suspended_on,
    })
}

fn organization_reactivated() -> OrganizationEvent {
    let reactivate = reactivate_organization();
    OrganizationEvent::OrganizationReactivated(OrganizationReactivated {
        reason: reactivate.reason,
        reactivated_on: reactivate.reactivated_on,
    })
}

fn every_event() -> Vec<OrganizationEvent> {
    vec![
        organization_registered(),
        member_added(),
        member_removed(),
        liaison_designated(),
        liaison_released(),
        supply_entry_added(),
        supply_entry_removed(),
        organization_suspended(),
        organization_reactivated(),
    ]
}

fn given_nothing() -> AggregateTestExecutor<Organization> {
    TestFramework::<Organization>::with(()).given_no_previous_events()
}

fn given(events: Vec<OrganizationEvent>) -> AggregateTestExecutor<Organization> {
    TestFramework::<Organization>::with(()).given(events)
}

fn given_registered() -> AggregateTestExecutor<Organization> {
    given(vec![organization_registered()])
}

fn given_member() -> AggregateTestExecutor<Organization> {
    given(vec![organization_registered(), member_added()])
}

fn given_liaison() -> AggregateTestExecutor<Organization> {
    given(vec![
        organization_registered(),
        member_added(),
        liaison_designated(),
    ])
}

fn replay(events: Vec<OrganizationEvent>) -> Organization {
    let mut organization = Organization::default();
    for event in events {
        organization.apply(event);
    }
    organization
}

fn refusal(
    executor: AggregateTestExecutor<Organization>,
    action: impl Into<OrganizationAction>,
) -> OrganizationError {
    executor
        .when(command(action))
        .inspect_result()
        .expect_err("command should be refused")
}

// ---------------------------------------------------------------- lifecycle

#[test]
fn every_command_but_register_is_refused_before_registration() {
    for action in every_action() {
        if matches!(action, OrganizationAction::RegisterOrganization(_)) {
            continue;
        }
        given_nothing()
            .when(OrganizationCommand::new(today(), action))
            .then_expect_error(OrganizationError::NotRegistered);
    }
}

// ---------------------------------------------------------------- RegisterOrganization

#[test]
fn register_organization_records_the_organization() {
    given_nothing()
        .when(command(register_organization()))
        .then_expect_events(vec![organization_registered()]);
    let organization = replay(vec![organization_registered()]);
    assert!(organization.is_registered());
    assert!(organization.is_active());
    assert!(organization.is_hub());
    assert_eq!(organization.status(), Some(OrganizationStatus::Active));
    assert_eq!(organization.level(), Some(RegionLevel::County));
    assert_eq!(
        organization.region().map(RegionPrefix::as_str),
        Some(REGION)
    );
    assert_eq!(
        organization.kind(),
        Some(OrganizationKind::SocialWorkAgency)
    );
    assert_eq!(organization.registered_on(), Some(registered_on()));
}

#[test]
fn register_organization_trims_the_name_and_reads_a_lower_case_code() {
    let mut register = register_organization();
    register.name = " 南昌市西湖区邻里守望社会工作服务中心  ".to_owned();
    register.credit_code = "52360103mjb123450d".to_owned();
    register.region_code = REGION.to_owned();
    given_nothing()
        .when(command(register))
        .then_expect_events(vec![organization_registered()]);
}

#[test]
fn a_provincial_organization_is_registered_with_its_province_code() {
    let mut register = register_organization();
    register.name = "江西省社会组织联合会".to_owned();
    register.credit_code = "51360000MJC000111C".to_owned();
    register.level = RegionLevel::Province;
    register.region_code = "360000000000".to_owned();
    let events = given_nothing()
        .when(command(register))
        .inspect_result()
        .unwrap();
    let OrganizationEvent::OrganizationRegistered(registered) = &events[0] else {
        panic!("expected OrganizationRegistered")
    };
    assert_eq!(registered.region.as_str(), "36");
    assert_eq!(registered.level, RegionLevel::Province);
}

#[test]
fn registering_twice_is_refused() {
    given_registered()
        .when(command(register_organization()))
        .then_expect_error(OrganizationError::AlreadyRegistered);
}

#[test]
fn register_organization_without_a_name_is_refused() {
    let mut register = register_organization();
    register.name = "  ".to_owned();
    given_nothing()
        .when(command(register))
        .then_expect_error(OrganizationError::BlankText {
            field: TextField::Name,
        });
}

#[test]
fn register_organization_with_a_wrong_credit_code_is_refused() {
    let mut register = register_organization();
    register.credit_code = "52360103MJB123450E".to_owned();
    let error = refusal(given_nothing(), register);
    assert_eq!(
        error,
        OrganizationError::InvalidCreditCode(CreditCodeError::WrongCheckCharacter)
    );
    assert_eq!(error.code(), "invalid_credit_code");
    assert_eq!(
        error.to_string(),
        "统一社会信用代码有误：统一社会信用代码最后一位校验码不正确，可能有字符录错，请逐位对照登记证书核对"
    );

    let mut register = register_organization();
    register.credit_code = "52360103MJB12345".to_owned();
    given_nothing().when(command(register)).then_expect_error(
        OrganizationError::InvalidCreditCode(CreditCodeError::WrongLength { length: 16 }),
    );
}

#[test]
fn register_organization_with_an_invalid_region_is_refused() {
    let mut register = register_organization();
    register.region_code = "3601030".to_owned();
    given_nothing()
        .when(command(register))
        .then_expect_error(OrganizationError::InvalidRegion(
            RegionPrefixError::WrongLength { length: 7 },
        ));
}

#[test]
fn register_organization_whose_region_is_of_another_level_is_refused() {
    let mut register = register_organization();
    register.region_code = "360103001000".to_owned();
    let error = refusal(given_nothing(), register);
    assert_eq!(
        error,
        OrganizationError::RegionLevelMismatch {
            region_level: RegionLevel::Township,
            level: RegionLevel::County,
        }
    );
    assert_eq!(
        error.to_string(),
        "登记地区划代码是乡镇（街道）一级的，与填写的登记层级“县（市、区）”不一致，请核对区划代码或登记层级"
    );
}

#[test]
fn register_organization_dated_after_today_is_refused() {
    let mut register = register_organization();
    register.registered_on = date(2026, 3, 21);
    given_nothing()
        .when(command(register))
        .then_expect_error(OrganizationError::DateInFuture {
            field: DateField::RegisteredOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- members

#[test]
fn add_member_adds_a_member() {
    given_registered()
        .when(command(add_member()))
        .then_expect_events(vec![member_added()]);
    let organization = replay(vec![organization_registered(), member_added()]);
    assert!(organization.is_member(member()));
    assert_eq!(
        organization.members().get(&member()).map(|m| m.role),
        Some(MemberRole::SocialWorker)
    );
}

#[test]
fn adding_a_member_twice_is_refused() {
    given_member()
        .when(command(add_member()))
        .then_expect_error(OrganizationError::MemberAlreadyAdded(member()));
}

#[test]
fn add_member_without_a_name_is_refused() {
    let mut add = add_member();
    add.display_name = String::new();
    given_registered()
        .when(command(add))
        .then_expect_error(OrganizationError::BlankText {
            field: TextField::MemberDisplayName,
        });
}

#[test]
fn add_member_dated_before_registration_is_refused() {
    let mut add = add_member();
    add.joined_on = date(2025, 5, 31);
    let error = refusal(given_registered(), add);
    assert_eq!(
        error,
        OrganizationError::DateBeforeRegistration {
            field: DateField::MemberJoinedOn,
            date: date(2025, 5, 31),
            registered_on: registered_on(),
        }
    );
    assert_eq!(
        error.to_string(),
        "加入日期 2025-05-31 早于组织登记日期 2025-06-01，请核对日期"
    );
}

#[test]
fn add_member_dated_after_today_is_refused() {
    let mut add = add_member();
    add.joined_on = date(2026, 4, 1);
    given_registered()
        .when(command(add))
        .then_expect_error(OrganizationError::DateInFuture {
            field: DateField::MemberJoinedOn,
            date: date(2026, 4, 1),
            today: today(),
        });
}

#[test]
fn remove_member_removes_the_member() {
    given_member()
        .when(command(remove_member()))
        .then_expect_events(vec![member_removed()]);
    let organization = replay(vec![
        organization_registered(),
        member_added(),
        member_removed(),
    ]);
    assert!(!organization.is_member(member()));
    // Once removed, the person can join again.
    given(vec![
        organization_registered(),
        member_added(),
        member_removed(),
    ])
    .when(command(add_member()))
    .then_expect_events(vec![member_added()]);
}

#[test]
fn removing_someone_who_is_not_a_member_is_refused() {
    let mut remove = remove_member();
    remove.member_id = other_member();
    given_member()
        .when(command(remove))
        .then_expect_error(OrganizationError::UnknownMember(other_member()));
}

#[test]
fn removing_a_liaison_officer_is_refused_until_released() {
    given_liaison()
        .when(command(remove_member()))
        .then_expect_error(OrganizationError::MemberIsLiaison(member()));
    given(vec![
        organization_registered(),
        member_added(),
        liaison_designated(),
        liaison_released(),
    ])
    .when(command(remove_member()))
    .then_expect_events(vec![member_removed()]);
}

#[test]
fn remove_member_without_a_reason_is_refused() {
    let mut remove = remove_member();
    remove.reason = " ".to_owned();
    given_member()
        .when(command(remove))
        .then_expect_error(OrganizationError::BlankText {
            field: TextField::MemberRemovalReason,
        });
}

#[test]
fn leaving_before_joining_is_refused() {
    let mut remove = remove_member();
    remove.left_on = date(2025, 6, 30);
    let error = refusal(given_member(), remove);
    assert_eq!(
        error,
        OrganizationError::DateOutOfOrder {
            field: DateField::MemberLeftOn,
            date: date(2025, 6, 30),
            earlier_field: DateField::MemberJoinedOn,
            earlier: date(2025, 7, 1),
        }
    );
    assert_eq!(
        error.to_string(),
        "退出日期 2025-06-30 早于加入日期 2025-07-01，请核对日期"
    );
}

// ---------------------------------------------------------------- liaison officers

#[test]
fn designate_liaison_makes_a_member_a_liaison_officer() {
    given_member()
        .when(command(designate_liaison()))
        .then_expect_events(vec![liaison_designated()]);
    let organization = replay(vec![
        organization_registered(),
        member_added(),
        liaison_designated(),
    ]);
    assert!(organization.is_liaison(member()));
    assert_eq!(organization.liaison_ids().collect::<Vec<_>>(), [member()]);
}

#[test]
fn only_members_can_be_designated_liaison_officers() {
    given_registered()
        .when(command(designate_liaison()))
        .then_expect_error(OrganizationError::UnknownMember(member()));
}

#[test]
fn designating_a_liaison_officer_twice_is_refused() {
    given_liaison()
        .when(command(designate_liaison()))
        .then_expect_error(OrganizationError::AlreadyLiaison(member()));
}

#[test]
fn designating_before_the_member_joined_is_refused() {
    let mut designate = designate_liaison();
    designate.designated_on = date(2025, 6, 15);
    given_member()
        .when(command(designate))
        .then_expect_error(OrganizationError::DateOutOfOrder {
            field: DateField::LiaisonDesignatedOn,
            date: date(2025, 6, 15),
            earlier_field: DateField::MemberJoinedOn,
            earlier: date(2025, 7, 1),
        });
}

#[test]
fn designating_after_today_is_refused() {
    let mut designate = designate_liaison();
    designate.designated_on = date(2026, 3, 21);
    given_member()
        .when(command(designate))
        .then_expect_error(OrganizationError::DateInFuture {
            field: DateField::LiaisonDesignatedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

#[test]
fn release_liaison_ends_the_designation_and_keeps_the_member() {
    given_liaison()
        .when(command(release_liaison()))
        .then_expect_events(vec![liaison_released()]);
    let organization = replay(vec![
        organization_registered(),
        member_added(),
        liaison_designated(),
        liaison_released(),
    ]);
    assert!(!organization.is_liaison(member()));
    assert!(organization.is_member(member()));
}

#[test]
fn releasing_someone_who_is_not_a_liaison_officer_is_refused() {
    given_member()
        .when(command(release_liaison()))
        .then_expect_error(OrganizationError::NotLiaison(member()));
}

#[test]
fn release_liaison_without_a_reason_is_refused() {
    let mut release = release_liaison();
    release.reason = String::new();
    given_liaison()
        .when(command(release))
        .then_expect_error(OrganizationError::BlankText {
            field: TextField::LiaisonReleaseReason,
        });
}

#[test]
fn releasing_before_the_designation_is_refused() {
    let mut release = release_liaison();
    release.released_on = date(2025, 8, 31);
    given_liaison()
        .when(command(release))
        .then_expect_error(OrganizationError::DateOutOfOrder {
            field: DateField::LiaisonReleasedOn,
            date: date(2025, 8, 31),
            earlier_field: DateField::LiaisonDesignatedOn,
            earlier: date(2025, 9, 1),
        });
}

// ---------------------------------------------------------------- supply list

#[test]
fn add_supply_entry_lists_the_service_with_distinct_areas() {
    given_registered()
        .when(command(add_supply_entry()))
        .then_expect_events(vec![supply_entry_added()]);
    let organization = replay(vec![organization_registered(), supply_entry_added()]);
    let in_xihu = RegionCode::parse("360103004002").unwrap();
    let in_qingshanhu_township = RegionCode::parse("360111001003").unwrap();
    let elsewhere = RegionCode::parse("360111002003").unwrap();
    assert!(organization.offers(ServiceType::HomeVisiting, &in_xihu));
    assert!(organization.offers(ServiceType::HomeVisiting, &in_qingshanhu_township));
    assert!(!organization.offers(ServiceType::HomeVisiting, &elsewhere));
    assert!(!organization.offers(ServiceType::LegalAid, &in_xihu));
    assert_eq!(organization.supply().len(), 1);
}

#[test]
fn listing_a_service_twice_is_refused() {
    given(vec![organization_registered(), supply_entry_added()])
        .when(command(add_supply_entry()))
        .then_expect_error(OrganizationError::ServiceAlreadyOffered(
            ServiceType::HomeVisiting,
        ));
}

#[test]
fn a_supply_entry_without_areas_is_refused() {
    let mut entry = add_supply_entry();
    entry.areas.clear();
    given_registered()
        .when(command(entry))
        .then_expect_error(OrganizationError::NoSupplyArea);
}

#[test]
fn a_supply_entry_with_an_invalid_area_is_refused_with_its_position() {
    let mut entry = add_supply_entry();
    entry.areas.push("3601x".to_owned());
    let error = refusal(given_registered(), entry);
    assert_eq!(
        error,
        OrganizationError::InvalidSupplyArea {
            position: 4,
            error: RegionPrefixError::NotDigits {
                text: "3601x".to_owned()
            },
        }
    );
    assert_eq!(error.code(), "invalid_supply_area");
    assert!(error.to_string().starts_with("第 4 个服务区域有误："));
}

#[test]
fn remove_supply_entry_takes_the_service_off_the_list() {
    given(vec![organization_registered(), supply_entry_added()])
        .when(command(remove_supply_entry()))
        .then_expect_events(vec![supply_entry_removed()]);
    let organization = replay(vec![
        organization_registered(),
        supply_entry_added(),
        supply_entry_removed(),
    ]);
    assert!(organization.supply().is_empty());
}

#[test]
fn removing_a_service_not_listed_is_refused() {
    given_registered()
        .when(command(remove_supply_entry()))
        .then_expect_error(OrganizationError::ServiceNotOffered(
            ServiceType::HomeVisiting,
        ));
}

#[test]
fn remove_supply_entry_without_a_reason_is_refused() {
    let mut entry = remove_supply_entry();
    entry.reason = String::new();
    given(vec![organization_registered(), supply_entry_added()])
        .when(command(entry))
        .then_expect_error(OrganizationError::BlankText {
            field: TextField::SupplyRemovalReason,
        });
}

// ---------------------------------------------------------------- suspension

#[test]
fn a_suspended_organization_is_not_active() {
    given_registered()
        .when(command(suspend_organization()))
        .then_expect_events(vec![organization_suspended()]);
    let organization = replay(vec![organization_registered(), organization_suspended()]);
    assert!(!organization.is_active());
    assert!(organization.is_registered());
    assert_eq!(organization.status(), Some(OrganizationStatus::Suspended));
    assert_eq!(organization.suspended_on(), Some(date(2026, 1, 15)));
    assert!(!Organization::default().is_active());
}

#[test]
fn suspending_twice_is_refused() {
    given(vec![organization_registered(), organization_suspended()])
        .when(command(suspend_organization()))
        .then_expect_error(OrganizationError::AlreadySuspended);
}

#[test]
fn suspend_without_a_reason_is_refused() {
    let mut suspend = suspend_organization();
    suspend.reason = String::new();
    given_registered()
        .when(command(suspend))
        .then_expect_error(OrganizationError::BlankText {
            field: TextField::SuspensionReason,
        });
}

#[test]
fn suspend_dated_before_registration_is_refused() {
    let mut suspend = suspend_organization();
    suspend.suspended_on = date(2025, 1, 1);
    given_registered().when(command(suspend)).then_expect_error(
        OrganizationError::DateBeforeRegistration {
            field: DateField::SuspendedOn,
            date: date(2025, 1, 1),
            registered_on: registered_on(),
        },
    );
}

#[test]
fn a_suspended_organization_still_keeps_its_members_and_supply_list() {
    let suspended = || given(vec![organization_registered(), organization_suspended()]);
    suspended()
        .when(command(add_member()))
        .then_expect_events(vec![member_added()]);
    suspended()
        .when(command(add_supply_entry()))
        .then_expect_events(vec![supply_entry_added()]);
}

#[test]
fn reactivate_makes_the_organization_active_again() {
    given(vec![organization_registered(), organization_suspended()])
        .when(command(reactivate_organization()))
        .then_expect_events(vec![organization_reactivated()]);
    let organization = replay(vec![
        organization_registered(),
        organization_suspended(),
        organization_reactivated(),
    ]);
    assert!(organization.is_active());
    assert_eq!(organization.suspended_on(), None);
}

#[test]
fn reactivating_an_active_organization_is_refused() {
    given_registered()
        .when(command(reactivate_organization()))
        .then_expect_error(OrganizationError::NotSuspended);
}

#[test]
fn reactivate_without_a_reason_is_refused() {
    let mut reactivate = reactivate_organization();
    reactivate.reason = String::new();
    given(vec![organization_registered(), organization_suspended()])
        .when(command(reactivate))
        .then_expect_error(OrganizationError::BlankText {
            field: TextField::ReactivationReason,
        });
}

#[test]
fn reactivating_before_the_suspension_is_refused() {
    let mut reactivate = reactivate_organization();
    reactivate.reactivated_on = date(2026, 1, 14);
    given(vec![organization_registered(), organization_suspended()])
        .when(command(reactivate))
        .then_expect_error(OrganizationError::DateOutOfOrder {
            field: DateField::ReactivatedOn,
            date: date(2026, 1, 14),
            earlier_field: DateField::SuspendedOn,
            earlier: date(2026, 1, 15),
        });
}

// ---------------------------------------------------------------- state

#[test]
fn every_applied_event_increments_the_version() {
    let events = every_event();
    let count = events.len() as u64;
    assert_eq!(replay(events).version(), count);
    assert_eq!(Organization::default().version(), 0);
}

#[test]
fn the_state_holds_no_member_names_and_survives_a_snapshot_round_trip() {
    let organization = replay(vec![
        organization_registered(),
        member_added(),
        liaison_designated(),
        supply_entry_added(),
        organization_suspended(),
    ]);
    let json = serde_json::to_string(&organization).unwrap();
    assert!(!json.contains("黄兆松"), "{json}");
    let back: Organization = serde_json::from_str(&json).unwrap();
    assert_eq!(back, organization);
    assert!(back.is_liaison(member()));
}

// ---------------------------------------------------------------- errors and JSON

fn one_of_each_error() -> Vec<OrganizationError> {
    vec![
        OrganizationError::NotRegistered,
        OrganizationError::AlreadyRegistered,
        OrganizationError::AlreadySuspended,
        OrganizationError::NotSuspended,
        OrganizationError::DateInFuture {
            field: DateField::RegisteredOn,
            date: date(2026, 4, 1),
            today: today(),
        },
        OrganizationError::DateBeforeRegistration {
            field: DateField::MemberJoinedOn,
            date: date(2025, 1, 1),
            registered_on: registered_on(),
        },
        OrganizationError::DateOutOfOrder {
            field: DateField::MemberLeftOn,
            date: date(2025, 1, 1),
            earlier_field: DateField::MemberJoinedOn,
            earlier: date(2025, 1, 2),
        },
        OrganizationError::BlankText {
            field: TextField::Name,
        },
        OrganizationError::InvalidCreditCode(CreditCodeError::WrongCheckCharacter),
        OrganizationError::InvalidRegion(RegionPrefixError::WrongLength { length: 3 }),
        OrganizationError::RegionLevelMismatch {
            region_level: RegionLevel::City,
            level: RegionLevel::County,
        },
        OrganizationError::MemberAlreadyAdded(member()),
        OrganizationError::UnknownMember(member()),
        OrganizationError::MemberIsLiaison(member()),
        OrganizationError::AlreadyLiaison(member()),
        OrganizationError::NotLiaison(member()),
        OrganizationError::ServiceAlreadyOffered(ServiceType::LegalAid),
        OrganizationError::ServiceNotOffered(ServiceType::LegalAid),
        OrganizationError::NoSupplyArea,
        OrganizationError::InvalidSupplyArea {
            position: 1,
            error: RegionPrefixError::WrongLength { length: 3 },
        },
    ]
}

#[test]
fn error_codes_are_unique_snake_case_and_messages_are_chinese() {
    let errors = one_of_each_error();
    let codes: BTreeSet<_> = errors.iter().map(OrganizationError::code).collect();
    assert_eq!(codes.len(), errors.len(), "duplicate error codes");
    for error in &errors {
        let code = error.code();
        assert!(
            code.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{code}"
        );
        let message = error.to_string();
        assert!(
            message
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{code}: {message}"
        );
    }
}

#[test]
fn commands_deserialize_from_the_json_the_http_layer_sends() {
    let json = serde_json::json!({
        "today": "2026-03-20",
        "action": {
            "AddSupplyEntry": {
                "service_type": "home_visiting",
                "areas": ["360103", "360103000000", "360111001"],
                "description": "  每周二上门探访独居老人 "
            }
        }
    });
    let parsed: OrganizationCommand = serde_json::from_value(json).unwrap();
    assert_eq!(parsed, command(add_supply_entry()));
    for action in every_action() {
        let command = OrganizationCommand::new(today(), action);
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(
            serde_json::from_value::<OrganizationCommand>(json).unwrap(),
            command
        );
    }
}

// ---------------------------------------------------------------- event schema

/// Names every variant exhaustively, so adding a variant without a fixture
/// (and therefore without a snapshot) fails to compile here.
fn variant_name(event: &OrganizationEvent) -> &'static str {
    match event {
        OrganizationEvent::OrganizationRegistered(_) => "OrganizationRegistered",
        OrganizationEvent::MemberAdded(_) => "MemberAdded",
        OrganizationEvent::MemberRemoved(_) => "MemberRemoved",
        OrganizationEvent::LiaisonDesignated(_) => "LiaisonDesignated",
        OrganizationEvent::LiaisonReleased(_) => "LiaisonReleased",
        OrganizationEvent::SupplyEntryAdded(_) => "SupplyEntryAdded",
        OrganizationEvent::SupplyEntryRemoved(_) => "SupplyEntryRemoved",
        OrganizationEvent::OrganizationSuspended(_) => "OrganizationSuspended",
        OrganizationEvent::OrganizationReactivated(_) => "OrganizationReactivated",
    }
}

macro_rules! snapshot_tests {
    ($($test:ident: $fixture:ident => $name:literal,)+) => {
        $(
            #[test]
            fn $test() {
                let event = $fixture();
                assert_eq!(variant_name(&event), $name);
                insta::assert_json_snapshot!($name, event);
            }
        )+
    };
}

snapshot_tests! {
    organization_registered_schema: organization_registered => "OrganizationRegistered",
    member_added_schema: member_added => "MemberAdded",
    member_removed_schema: member_removed => "MemberRemoved",
    liaison_designated_schema: liaison_designated => "LiaisonDesignated",
    liaison_released_schema: liaison_released => "LiaisonReleased",
    supply_entry_added_schema: supply_entry_added => "SupplyEntryAdded",
    supply_entry_removed_schema: supply_entry_removed => "SupplyEntryRemoved",
    organization_suspended_schema: organization_suspended => "OrganizationSuspended",
    organization_reactivated_schema: organization_reactivated => "OrganizationReactivated",
}

#[test]
fn every_event_round_trips_is_tagged_by_its_type_and_is_never_sealed() {
    let events = every_event();
    let names: BTreeSet<_> = events.iter().map(variant_name).collect();
    assert_eq!(names.len(), 9);
    for event in events {
        let name = variant_name(&event);
        assert_eq!(event.event_type(), name);
        assert_eq!(event.event_version(), "1");
        assert!(event.sealed_fields().is_empty(), "{name}");
        assert!(event.blind_index_terms().is_empty(), "{name}");
        assert!(!event.erases_personal_data(), "{name}");
        let json = serde_json::to_value(&event).unwrap();
        let serde_json::Value::Object(outer) = &json else {
            panic!("{name} did not serialize as an object")
        };
        assert_eq!(outer.keys().collect::<Vec<_>>(), [name]);
        let back: OrganizationEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
