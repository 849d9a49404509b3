//! Given / when / then: every command on a care case, accepted and refused.

mod fixtures;

use std::collections::BTreeSet;

use cqrs_es::Aggregate;
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use serde_json::Map;
use shouwang_domain::care_case::*;
use shouwang_domain::values::{IdNumber, IdNumberError, RegionCodeError};
use shouwang_domain::vocabulary::*;
use shouwang_domain::{Personal, PersonalData};

use fixtures::*;

fn given_no_case() -> AggregateTestExecutor<CareCase> {
    TestFramework::<CareCase>::with(()).given_no_previous_events()
}

fn given(events: Vec<CaseEvent>) -> AggregateTestExecutor<CareCase> {
    TestFramework::<CareCase>::with(()).given(events)
}

fn given_open_case() -> AggregateTestExecutor<CareCase> {
    given(vec![case_opened()])
}

fn given_closed_case() -> AggregateTestExecutor<CareCase> {
    given(vec![case_opened(), case_closed()])
}

fn replay(events: Vec<CaseEvent>) -> CareCase {
    let mut case = CareCase::default();
    for event in events {
        case.apply(event);
    }
    case
}

fn refusal(executor: AggregateTestExecutor<CareCase>, action: impl Into<CaseAction>) -> CaseError {
    executor
        .when(command(action))
        .inspect_result()
        .expect_err("command should be refused")
}

// ---------------------------------------------------------------- lifecycle

#[test]
fn every_command_but_open_is_refused_before_the_case_is_opened() {
    for action in every_action() {
        if matches!(action, CaseAction::OpenCase(_)) {
            continue;
        }
        given_no_case()
            .when(CaseCommand::new(today(), action))
            .then_expect_error(CaseError::CaseNotOpened);
    }
}

#[test]
fn a_closed_case_accepts_only_reopening_correction_and_erasure() {
    for action in every_action() {
        let accepted = matches!(
            action,
            CaseAction::ReopenCase(_)
                | CaseAction::CorrectEntry(_)
                | CaseAction::ErasePersonalData(_)
        );
        let result = given_closed_case()
            .when(CaseCommand::new(today(), action.clone()))
            .inspect_result();
        match action {
            CaseAction::OpenCase(_) => assert_eq!(result, Err(CaseError::CaseAlreadyOpened)),
            _ if accepted => assert!(result.is_ok(), "{action:?} refused: {result:?}"),
            _ => assert_eq!(result, Err(CaseError::CaseClosed), "{action:?}"),
        }
    }
}

#[test]
fn nothing_more_is_recorded_after_personal_data_is_erased() {
    for action in every_action() {
        let expected = match action {
            CaseAction::OpenCase(_) => CaseError::CaseAlreadyOpened,
            CaseAction::ErasePersonalData(_) => CaseError::AlreadyErased,
            _ => CaseError::PersonalDataErased,
        };
        given(vec![case_opened(), personal_data_erased()])
            .when(CaseCommand::new(today(), action))
            .then_expect_error(expected);
    }
}

// ---------------------------------------------------------------- OpenCase

#[test]
fn open_case_records_the_person() {
    given_no_case()
        .when(command(open_case()))
        .then_expect_events(vec![case_opened()]);
}

#[test]
fn open_case_trims_text_drops_repeated_categories_and_accepts_lower_case_x() {
    let mut open = open_case();
    open.name = "  王秀英 ".to_owned();
    open.categories.push(CareCategory::EmptyNestElder);
    given_no_case()
        .when(command(open))
        .then_expect_events(vec![case_opened()]);

    let mut open = open_case();
    open.id_number = "11010519491231002x".to_owned();
    open.birth_date = date(1949, 12, 31);
    let events = given_no_case()
        .when(command(open))
        .inspect_result()
        .unwrap();
    let CaseEvent::CaseOpened(opened) = &events[0] else {
        panic!("expected CaseOpened")
    };
    assert_eq!(
        opened.id_number.as_known().map(IdNumber::as_str),
        Some("11010519491231002X")
    );
}

#[test]
fn open_case_on_an_opened_case_is_refused() {
    given_open_case()
        .when(command(open_case()))
        .then_expect_error(CaseError::CaseAlreadyOpened);
}

#[test]
fn open_case_without_a_name_is_refused() {
    let mut open = open_case();
    open.name = " \t".to_owned();
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::BlankText {
            field: TextField::Name,
        });
}

#[test]
fn open_case_with_a_wrong_check_character_is_refused() {
    let mut open = open_case();
    open.id_number = "360102194803151021".to_owned();
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::InvalidIdNumber(
            IdNumberError::WrongCheckCharacter,
        ));
}

#[test]
fn open_case_with_a_short_id_number_is_refused() {
    let mut open = open_case();
    open.id_number = "36010219480315102".to_owned();
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::InvalidIdNumber(IdNumberError::WrongLength {
            length: 17,
        }));
}

#[test]
fn open_case_whose_id_number_has_another_birth_date_is_refused() {
    let mut open = open_case();
    open.birth_date = date(1948, 5, 13);
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::IdNumberBirthDateMismatch {
            id_birth_date: birth_date(),
            birth_date: date(1948, 5, 13),
        });
}

#[test]
fn open_case_whose_id_number_has_another_gender_is_refused() {
    let mut open = open_case();
    open.gender = Gender::Male;
    let error = refusal(given_no_case(), open);
    assert_eq!(
        error,
        CaseError::IdNumberGenderMismatch {
            id_gender: Gender::Female,
            gender: Gender::Male,
        }
    );
    assert_eq!(
        error.to_string(),
        "身份证号第 17 位表示性别为女，与填写的性别“男”不一致，请对照身份证原件核对"
    );
}

#[test]
fn open_case_without_a_phone_is_refused() {
    let mut open = open_case();
    open.phone = String::new();
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::BlankText {
            field: TextField::Phone,
        });
}

#[test]
fn open_case_with_an_implausible_phone_is_refused() {
    let mut open = open_case();
    open.phone = "无".to_owned();
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::InvalidPhone);
}

#[test]
fn open_case_without_an_address_is_refused() {
    let mut open = open_case();
    open.address = "  ".to_owned();
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::BlankText {
            field: TextField::Address,
        });
}

#[test]
fn open_case_with_an_invalid_region_code_is_refused() {
    let cases = [
        ("3601020030", RegionCodeError::WrongLength { length: 10 }),
        (
            "990102003005",
            RegionCodeError::UnknownProvince {
                code: "990102003005".to_owned(),
            },
        ),
        (
            "360100000000",
            RegionCodeError::MissingCounty {
                code: "360100000000".to_owned(),
            },
        ),
    ];
    for (text, expected) in cases {
        let mut open = open_case();
        open.residence_region = text.to_owned();
        given_no_case()
            .when(command(open))
            .then_expect_error(CaseError::InvalidRegionCode(expected));
    }
}

#[test]
fn open_case_without_a_care_category_is_refused() {
    let mut open = open_case();
    open.categories.clear();
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::NoCareCategory);
}

#[test]
fn open_case_dated_after_today_is_refused() {
    let mut open = open_case();
    open.opened_on = date(2026, 3, 21);
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::OpenedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

#[test]
fn open_case_of_someone_born_after_today_is_refused() {
    let mut open = open_case();
    open.id_number = "360102202612011022".to_owned();
    open.birth_date = date(2026, 12, 1);
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::BirthDate,
            date: date(2026, 12, 1),
            today: today(),
        });
}

#[test]
fn open_case_of_someone_born_after_the_opening_date_is_refused() {
    let mut open = open_case();
    open.id_number = "360102202603011020".to_owned();
    open.birth_date = date(2026, 3, 1);
    given_no_case()
        .when(command(open))
        .then_expect_error(CaseError::BornAfterOpening {
            birth_date: date(2026, 3, 1),
            opened_on: opened_on(),
        });
}

// ---------------------------------------------------------------- ChangeCategories

#[test]
fn change_categories_adds_and_removes() {
    given_open_case()
        .when(command(change_categories()))
        .then_expect_events(vec![categories_changed()]);
    let case = replay(vec![case_opened(), categories_changed()]);
    let expected: BTreeSet<_> = [CareCategory::EmptyNestElder, CareCategory::FrailElder].into();
    assert_eq!(case.categories(), &expected);
}

#[test]
fn change_categories_without_a_reason_is_refused() {
    let mut change = change_categories();
    change.reason = String::new();
    given_open_case()
        .when(command(change))
        .then_expect_error(CaseError::BlankText {
            field: TextField::CategoryChangeReason,
        });
}

#[test]
fn change_categories_that_changes_nothing_is_refused() {
    let mut change = change_categories();
    change.added.clear();
    change.removed.clear();
    given_open_case()
        .when(command(change))
        .then_expect_error(CaseError::NoCategoryChange);
}

#[test]
fn adding_and_removing_the_same_category_is_refused() {
    let mut change = change_categories();
    change.added = vec![CareCategory::Disabled];
    change.removed = vec![CareCategory::Disabled];
    given_open_case()
        .when(command(change))
        .then_expect_error(CaseError::CategoryAddedAndRemoved(CareCategory::Disabled));
}

#[test]
fn adding_a_category_the_case_has_is_refused() {
    let mut change = change_categories();
    change.added = vec![CareCategory::EmptyNestElder];
    given_open_case()
        .when(command(change))
        .then_expect_error(CaseError::CategoryAlreadyPresent(
            CareCategory::EmptyNestElder,
        ));
}

#[test]
fn removing_a_category_the_case_lacks_is_refused() {
    let mut change = change_categories();
    change.removed = vec![CareCategory::Orphan];
    given_open_case()
        .when(command(change))
        .then_expect_error(CaseError::CategoryNotPresent(CareCategory::Orphan));
}

#[test]
fn removing_every_category_is_refused() {
    let mut change = change_categories();
    change.added.clear();
    change.removed = vec![CareCategory::LowIncome, CareCategory::EmptyNestElder];
    given_open_case()
        .when(command(change))
        .then_expect_error(CaseError::LastCategoryRemoved);
}

#[test]
fn change_categories_dated_before_the_case_opened_is_refused() {
    let mut change = change_categories();
    change.effective_on = date(2025, 12, 31);
    given_open_case()
        .when(command(change))
        .then_expect_error(CaseError::DateBeforeCaseOpened {
            field: DateField::CategoriesEffectiveOn,
            date: date(2025, 12, 31),
            opened_on: opened_on(),
        });
}

#[test]
fn change_categories_dated_after_today_is_refused() {
    let mut change = change_categories();
    change.effective_on = date(2026, 4, 1);
    given_open_case()
        .when(command(change))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::CategoriesEffectiveOn,
            date: date(2026, 4, 1),
            today: today(),
        });
}

// ---------------------------------------------------------------- RecordProfile

#[test]
fn record_profile_records_the_ledger() {
    given_open_case()
        .when(command(record_profile()))
        .then_expect_events(vec![profile_recorded()]);
}

#[test]
fn record_profile_with_negative_income_is_refused() {
    let mut profile = record_profile();
    profile.monthly_income_fen = -1_250;
    let error = refusal(given_open_case(), profile);
    assert_eq!(
        error,
        CaseError::NegativeAmount {
            field: AmountField::MonthlyIncome,
            amount_fen: -1_250,
        }
    );
    assert_eq!(
        error.to_string(),
        "月收入不能为负数（填写的是 -12.50 元），请填写 0 或实际金额"
    );
}

#[test]
fn record_profile_dated_after_today_is_refused() {
    let mut profile = record_profile();
    profile.recorded_on = date(2026, 3, 21);
    given_open_case()
        .when(command(profile))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::ProfileRecordedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- AssessRisk

#[test]
fn assess_risk_records_level_and_changes_it() {
    let mut assessment = assess_risk();
    assessment.factors.push(RiskFactor::LivesAlone);
    given_open_case()
        .when(command(assessment))
        .then_expect_events(vec![risk_assessed()]);
    let case = replay(vec![case_opened(), risk_assessed()]);
    assert_eq!(case.risk_level(), Some(RiskLevel::High));
}

#[test]
fn assess_risk_dated_before_the_case_opened_is_refused() {
    let mut assessment = assess_risk();
    assessment.assessed_on = date(2026, 1, 9);
    given_open_case()
        .when(command(assessment))
        .then_expect_error(CaseError::DateBeforeCaseOpened {
            field: DateField::RiskAssessedOn,
            date: date(2026, 1, 9),
            opened_on: opened_on(),
        });
}

// ---------------------------------------------------------------- caregivers

#[test]
fn assign_caregiver_adds_a_caregiver() {
    given_open_case()
        .when(command(assign_caregiver()))
        .then_expect_events(vec![caregiver_assigned()]);
    let case = replay(vec![case_opened(), caregiver_assigned()]);
    assert_eq!(case.caregivers().len(), 1);
    assert_eq!(case.caregivers()[0].worker_id, worker());
}

#[test]
fn assigning_the_same_caregiver_twice_is_refused() {
    given(vec![case_opened(), caregiver_assigned()])
        .when(command(assign_caregiver()))
        .then_expect_error(CaseError::CaregiverAlreadyAssigned);
}

#[test]
fn the_same_worker_may_care_for_the_person_for_another_organization() {
    let mut assign = assign_caregiver();
    assign.organization_id = other_organization();
    assign.arrangement = HelpArrangement::VolunteerService;
    let result = given(vec![case_opened(), caregiver_assigned()])
        .when(command(assign))
        .inspect_result();
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn assign_caregiver_dated_after_today_is_refused() {
    let mut assign = assign_caregiver();
    assign.started_on = date(2026, 3, 21);
    given_open_case()
        .when(command(assign))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::CaregiverStartedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

#[test]
fn release_caregiver_ends_the_assignment() {
    given(vec![case_opened(), caregiver_assigned()])
        .when(command(release_caregiver()))
        .then_expect_events(vec![caregiver_released()]);
    let case = replay(vec![
        case_opened(),
        caregiver_assigned(),
        caregiver_released(),
    ]);
    assert!(case.caregivers().is_empty());
    // Released, the worker can be assigned again.
    given(vec![
        case_opened(),
        caregiver_assigned(),
        caregiver_released(),
    ])
    .when(command(assign_caregiver()))
    .then_expect_events(vec![caregiver_assigned()]);
}

#[test]
fn releasing_a_caregiver_who_is_not_assigned_is_refused() {
    given_open_case()
        .when(command(release_caregiver()))
        .then_expect_error(CaseError::CaregiverNotAssigned);
    given(vec![
        case_opened(),
        caregiver_assigned(),
        caregiver_released(),
    ])
    .when(command(release_caregiver()))
    .then_expect_error(CaseError::CaregiverNotAssigned);
}

#[test]
fn release_caregiver_without_a_reason_is_refused() {
    let mut release = release_caregiver();
    release.reason = String::new();
    given(vec![case_opened(), caregiver_assigned()])
        .when(command(release))
        .then_expect_error(CaseError::BlankText {
            field: TextField::CaregiverReleaseReason,
        });
}

#[test]
fn releasing_before_the_assignment_started_is_refused() {
    let mut release = release_caregiver();
    release.ended_on = date(2026, 1, 14);
    given(vec![case_opened(), caregiver_assigned()])
        .when(command(release))
        .then_expect_error(CaseError::ReleasedBeforeAssigned {
            ended_on: date(2026, 1, 14),
            started_on: date(2026, 1, 15),
        });
}

#[test]
fn release_caregiver_dated_after_today_is_refused() {
    let mut release = release_caregiver();
    release.ended_on = date(2026, 3, 21);
    given(vec![case_opened(), caregiver_assigned()])
        .when(command(release))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::CaregiverEndedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- RecordVisit

#[test]
fn record_visit_records_the_visit() {
    given_open_case()
        .when(command(record_visit()))
        .then_expect_events(vec![visit_recorded()]);
}

#[test]
fn a_visit_of_a_whole_day_is_accepted() {
    let mut visit = record_visit();
    visit.minutes = 1440;
    assert!(
        given_open_case()
            .when(command(visit))
            .inspect_result()
            .is_ok()
    );
}

#[test]
fn record_visit_without_visitors_is_refused() {
    let mut visit = record_visit();
    visit.visitor_ids.clear();
    given_open_case()
        .when(command(visit))
        .then_expect_error(CaseError::NoVisitor);
}

#[test]
fn record_visit_with_minutes_out_of_range_is_refused() {
    for minutes in [0, 1441] {
        let mut visit = record_visit();
        visit.minutes = minutes;
        given_open_case()
            .when(command(visit))
            .then_expect_error(CaseError::MinutesOutOfRange { minutes });
    }
}

#[test]
fn record_visit_without_findings_is_refused() {
    let mut visit = record_visit();
    visit.findings = "   ".to_owned();
    given_open_case()
        .when(command(visit))
        .then_expect_error(CaseError::BlankText {
            field: TextField::VisitFindings,
        });
}

#[test]
fn record_visit_dated_after_today_is_refused_with_a_helpful_message() {
    let mut visit = record_visit();
    visit.visited_on = date(2026, 12, 1);
    let error = refusal(given_open_case(), visit);
    assert_eq!(
        error,
        CaseError::DateInFuture {
            field: DateField::VisitedOn,
            date: date(2026, 12, 1),
            today: today(),
        }
    );
    assert_eq!(error.code(), "date_in_future");
    assert_eq!(
        error.to_string(),
        "走访日期 2026-12-01 晚于今天（2026-03-20），请填写实际走访的日期"
    );
}

#[test]
fn record_visit_dated_before_the_case_opened_is_refused() {
    let mut visit = record_visit();
    visit.visited_on = date(2025, 11, 3);
    let error = refusal(given_open_case(), visit);
    assert_eq!(
        error,
        CaseError::DateBeforeCaseOpened {
            field: DateField::VisitedOn,
            date: date(2025, 11, 3),
            opened_on: opened_on(),
        }
    );
    assert_eq!(error.code(), "date_before_case_opened");
}

// ---------------------------------------------------------------- RecordService

#[test]
fn record_service_records_the_service() {
    given_open_case()
        .when(command(record_service()))
        .then_expect_events(vec![service_delivered()]);
}

#[test]
fn record_service_without_a_service_type_is_refused() {
    let mut service = record_service();
    service.service_types.clear();
    given_open_case()
        .when(command(service))
        .then_expect_error(CaseError::NoServiceType);
}

#[test]
fn record_service_with_negative_amounts_is_refused() {
    let mut service = record_service();
    service.money_fen = -100;
    given_open_case()
        .when(command(service))
        .then_expect_error(CaseError::NegativeAmount {
            field: AmountField::Money,
            amount_fen: -100,
        });

    let mut service = record_service();
    service.material_value_fen = -1;
    given_open_case()
        .when(command(service))
        .then_expect_error(CaseError::NegativeAmount {
            field: AmountField::MaterialValue,
            amount_fen: -1,
        });
}

#[test]
fn record_service_with_minutes_out_of_range_is_refused() {
    let mut service = record_service();
    service.minutes = 0;
    given_open_case()
        .when(command(service))
        .then_expect_error(CaseError::MinutesOutOfRange { minutes: 0 });
}

#[test]
fn record_service_without_a_description_is_refused() {
    let mut service = record_service();
    service.description = String::new();
    given_open_case()
        .when(command(service))
        .then_expect_error(CaseError::BlankText {
            field: TextField::ServiceDescription,
        });
}

#[test]
fn record_service_dated_after_today_is_refused() {
    let mut service = record_service();
    service.delivered_on = date(2026, 3, 21);
    given_open_case()
        .when(command(service))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::ServiceDeliveredOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- referrals

#[test]
fn make_referral_opens_a_referral() {
    given_open_case()
        .when(command(make_referral()))
        .then_expect_events(vec![referral_made()]);
    let case = replay(vec![case_opened(), referral_made()]);
    assert_eq!(case.open_referral_ids().collect::<Vec<_>>(), [referral()]);
}

#[test]
fn reusing_a_referral_id_is_refused() {
    given(vec![case_opened(), referral_made()])
        .when(command(make_referral()))
        .then_expect_error(CaseError::DuplicateReferral(referral()));
    given(vec![case_opened(), referral_made(), referral_resolved()])
        .when(command(make_referral()))
        .then_expect_error(CaseError::DuplicateReferral(referral()));
}

#[test]
fn make_referral_without_a_reason_is_refused() {
    let mut referral = make_referral();
    referral.reason = String::new();
    given_open_case()
        .when(command(referral))
        .then_expect_error(CaseError::BlankText {
            field: TextField::ReferralReason,
        });
}

#[test]
fn make_referral_dated_before_the_case_opened_is_refused() {
    let mut referral = make_referral();
    referral.referred_on = date(2026, 1, 1);
    given_open_case()
        .when(command(referral))
        .then_expect_error(CaseError::DateBeforeCaseOpened {
            field: DateField::ReferredOn,
            date: date(2026, 1, 1),
            opened_on: opened_on(),
        });
}

#[test]
fn resolve_referral_closes_the_referral() {
    given(vec![case_opened(), referral_made()])
        .when(command(resolve_referral()))
        .then_expect_events(vec![referral_resolved()]);
    let case = replay(vec![case_opened(), referral_made(), referral_resolved()]);
    assert_eq!(case.open_referral_ids().count(), 0);
}

#[test]
fn resolving_an_unknown_referral_is_refused() {
    given_open_case()
        .when(command(resolve_referral()))
        .then_expect_error(CaseError::UnknownReferral(referral()));
}

#[test]
fn resolving_a_referral_twice_is_refused() {
    given(vec![case_opened(), referral_made(), referral_resolved()])
        .when(command(resolve_referral()))
        .then_expect_error(CaseError::ReferralAlreadyResolved(referral()));
}

#[test]
fn resolve_referral_without_an_answer_is_refused() {
    let mut resolution = resolve_referral();
    resolution.answer = String::new();
    given(vec![case_opened(), referral_made()])
        .when(command(resolution))
        .then_expect_error(CaseError::BlankText {
            field: TextField::ReferralAnswer,
        });
}

#[test]
fn resolving_before_the_referral_was_made_is_refused() {
    let mut resolution = resolve_referral();
    resolution.resolved_on = date(2026, 2, 9);
    given(vec![case_opened(), referral_made()])
        .when(command(resolution))
        .then_expect_error(CaseError::ResolvedBeforeReferred {
            resolved_on: date(2026, 2, 9),
            referred_on: date(2026, 2, 10),
        });
}

#[test]
fn resolve_referral_dated_after_today_is_refused() {
    let mut resolution = resolve_referral();
    resolution.resolved_on = date(2026, 3, 21);
    given(vec![case_opened(), referral_made()])
        .when(command(resolution))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::ReferralResolvedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- RecordOutcome

#[test]
fn record_outcome_records_the_persons_evaluation() {
    given_open_case()
        .when(command(record_outcome()))
        .then_expect_events(vec![outcome_recorded()]);
}

#[test]
fn record_outcome_with_satisfaction_out_of_range_is_refused() {
    for satisfaction in [0, 6] {
        let mut outcome = record_outcome();
        outcome.satisfaction = satisfaction;
        given_open_case()
            .when(command(outcome))
            .then_expect_error(CaseError::SatisfactionOutOfRange { satisfaction });
    }
}

#[test]
fn record_outcome_without_a_goal_is_refused() {
    let mut outcome = record_outcome();
    outcome.goal = String::new();
    given_open_case()
        .when(command(outcome))
        .then_expect_error(CaseError::BlankText {
            field: TextField::OutcomeGoal,
        });
}

#[test]
fn record_outcome_dated_after_today_is_refused() {
    let mut outcome = record_outcome();
    outcome.evaluated_on = date(2026, 3, 21);
    given_open_case()
        .when(command(outcome))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::OutcomeEvaluatedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- TransferCase

#[test]
fn transfer_case_moves_region_and_organization() {
    given_open_case()
        .when(command(transfer_case()))
        .then_expect_events(vec![case_transferred()]);
    let case = replay(vec![case_opened(), case_transferred()]);
    assert_eq!(case.region(), Some(&other_region()));
    assert_eq!(case.organization_id(), Some(other_organization()));
}

#[test]
fn transfer_case_may_change_only_the_organization() {
    let mut transfer = transfer_case();
    transfer.new_region = None;
    let events = given_open_case()
        .when(command(transfer))
        .inspect_result()
        .unwrap();
    let CaseEvent::CaseTransferred(transferred) = &events[0] else {
        panic!("expected CaseTransferred")
    };
    assert_eq!(transferred.to_region, region());
    assert_eq!(transferred.to_organization_id, Some(other_organization()));
}

#[test]
fn transfer_case_that_changes_nothing_is_refused() {
    let mut transfer = transfer_case();
    transfer.new_region = None;
    transfer.new_organization_id = None;
    given_open_case()
        .when(command(transfer))
        .then_expect_error(CaseError::TransferChangesNothing);

    let mut transfer = transfer_case();
    transfer.new_region = Some(REGION.to_owned());
    transfer.new_organization_id = Some(organization());
    given_open_case()
        .when(command(transfer))
        .then_expect_error(CaseError::TransferChangesNothing);
}

#[test]
fn transfer_case_to_an_invalid_region_is_refused() {
    let mut transfer = transfer_case();
    transfer.new_region = Some("36011140120X".to_owned());
    given_open_case()
        .when(command(transfer))
        .then_expect_error(CaseError::InvalidRegionCode(RegionCodeError::NotDigits {
            text: "36011140120X".to_owned(),
        }));
}

#[test]
fn transfer_case_without_a_reason_is_refused() {
    let mut transfer = transfer_case();
    transfer.reason = String::new();
    given_open_case()
        .when(command(transfer))
        .then_expect_error(CaseError::BlankText {
            field: TextField::TransferReason,
        });
}

#[test]
fn transfer_case_dated_after_today_is_refused() {
    let mut transfer = transfer_case();
    transfer.transferred_on = date(2026, 3, 21);
    given_open_case()
        .when(command(transfer))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::TransferredOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- CloseCase / ReopenCase

#[test]
fn close_case_closes_the_case() {
    given_open_case()
        .when(command(close_case()))
        .then_expect_events(vec![case_closed()]);
    let case = replay(vec![case_opened(), case_closed()]);
    assert_eq!(case.status(), Some(CaseStatus::Closed));
    assert_eq!(case.closed_on(), Some(date(2026, 3, 15)));
}

#[test]
fn closing_for_another_reason_needs_a_note() {
    let mut close = close_case();
    close.reason = CloseReason::Other;
    close.note = " ".to_owned();
    given_open_case()
        .when(command(close))
        .then_expect_error(CaseError::BlankText {
            field: TextField::CloseNote,
        });
    // Other reasons speak for themselves.
    let mut close = close_case();
    close.reason = CloseReason::Death;
    close.note = String::new();
    assert!(
        given_open_case()
            .when(command(close))
            .inspect_result()
            .is_ok()
    );
}

#[test]
fn closing_a_closed_case_is_refused() {
    given_closed_case()
        .when(command(close_case()))
        .then_expect_error(CaseError::CaseClosed);
}

#[test]
fn close_case_dated_before_the_case_opened_is_refused() {
    let mut close = close_case();
    close.closed_on = date(2025, 6, 1);
    given_open_case()
        .when(command(close))
        .then_expect_error(CaseError::DateBeforeCaseOpened {
            field: DateField::ClosedOn,
            date: date(2025, 6, 1),
            opened_on: opened_on(),
        });
}

#[test]
fn reopen_case_opens_a_closed_case_again() {
    given_closed_case()
        .when(command(reopen_case()))
        .then_expect_events(vec![case_reopened()]);
    let case = replay(vec![case_opened(), case_closed(), case_reopened()]);
    assert_eq!(case.status(), Some(CaseStatus::Open));
    // Open again, it accepts visits.
    given(vec![case_opened(), case_closed(), case_reopened()])
        .when(command(record_visit()))
        .then_expect_events(vec![visit_recorded()]);
}

#[test]
fn reopening_an_open_case_is_refused() {
    given_open_case()
        .when(command(reopen_case()))
        .then_expect_error(CaseError::CaseNotClosed);
    given(vec![case_opened(), case_closed(), case_reopened()])
        .when(command(reopen_case()))
        .then_expect_error(CaseError::CaseNotClosed);
}

#[test]
fn reopen_case_without_a_reason_is_refused() {
    let mut reopen = reopen_case();
    reopen.reason = String::new();
    given_closed_case()
        .when(command(reopen))
        .then_expect_error(CaseError::BlankText {
            field: TextField::ReopenReason,
        });
}

#[test]
fn reopening_before_the_case_was_closed_is_refused() {
    let mut reopen = reopen_case();
    reopen.reopened_on = date(2026, 3, 14);
    given_closed_case()
        .when(command(reopen))
        .then_expect_error(CaseError::ReopenedBeforeClosed {
            reopened_on: date(2026, 3, 14),
            closed_on: date(2026, 3, 15),
        });
}

#[test]
fn reopen_case_dated_after_today_is_refused() {
    let mut reopen = reopen_case();
    reopen.reopened_on = date(2026, 3, 21);
    given_closed_case()
        .when(command(reopen))
        .then_expect_error(CaseError::DateInFuture {
            field: DateField::ReopenedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- CorrectEntry

#[test]
fn correct_entry_references_an_earlier_event() {
    given_open_case()
        .when(command(correct_entry()))
        .then_expect_events(vec![entry_corrected()]);
}

#[test]
fn a_closed_case_can_still_be_corrected() {
    let mut correction = correct_entry();
    correction.corrected_version = 2;
    let result = given_closed_case()
        .when(command(correction))
        .inspect_result();
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn correcting_a_version_that_does_not_exist_is_refused() {
    for corrected_version in [0, 2] {
        let mut correction = correct_entry();
        correction.corrected_version = corrected_version;
        given_open_case()
            .when(command(correction))
            .then_expect_error(CaseError::CorrectionTargetNotFound {
                corrected_version,
                current_version: 1,
            });
    }
}

#[test]
fn correct_entry_without_fields_is_refused() {
    let mut correction = correct_entry();
    correction.corrected_fields = Map::new();
    given_open_case()
        .when(command(correction))
        .then_expect_error(CaseError::EmptyCorrection);
}

#[test]
fn correct_entry_without_a_reason_is_refused() {
    let mut correction = correct_entry();
    correction.reason = String::new();
    given_open_case()
        .when(command(correction))
        .then_expect_error(CaseError::BlankText {
            field: TextField::CorrectionReason,
        });
}

// ---------------------------------------------------------------- ErasePersonalData

#[test]
fn erase_personal_data_destroys_the_key_of_open_and_closed_cases() {
    given_open_case()
        .when(command(erase_personal_data()))
        .then_expect_events(vec![personal_data_erased()]);
    given_closed_case()
        .when(command(erase_personal_data()))
        .then_expect_events(vec![personal_data_erased()]);
    assert!(personal_data_erased().erases_personal_data());
}

#[test]
fn erasing_twice_is_refused() {
    given(vec![case_opened(), personal_data_erased()])
        .when(command(erase_personal_data()))
        .then_expect_error(CaseError::AlreadyErased);
}

#[test]
fn erase_personal_data_without_a_legal_basis_is_refused() {
    let mut erasure = erase_personal_data();
    erasure.legal_basis = String::new();
    given_open_case()
        .when(command(erasure))
        .then_expect_error(CaseError::BlankText {
            field: TextField::LegalBasis,
        });
}

// ---------------------------------------------------------------- state

#[test]
fn every_applied_event_increments_the_version() {
    let events = every_event();
    let count = events.len() as u64;
    assert_eq!(replay(events).version(), count);
    assert_eq!(CareCase::default().version(), 0);
}

#[test]
fn the_state_holds_no_personal_data() {
    let case = replay(vec![
        case_opened(),
        profile_recorded(),
        visit_recorded(),
        entry_corrected(),
        outcome_recorded(),
        referral_made(),
        referral_resolved(),
    ]);
    let snapshot = serde_json::to_string(&case).unwrap();
    for personal in [
        ID_NUMBER,
        "王秀英",
        "13807081234",
        "13807085678",
        "墩子塘",
        "高血压",
        "精神状态",
        "心里踏实",
        "慢性病",
    ] {
        assert!(
            !snapshot.contains(personal),
            "snapshot leaks {personal}: {snapshot}"
        );
    }
}

#[test]
fn the_state_survives_a_snapshot_round_trip() {
    let case = replay(vec![
        case_opened(),
        caregiver_assigned(),
        referral_made(),
        case_transferred(),
        case_closed(),
    ]);
    let json = serde_json::to_value(&case).unwrap();
    let back: CareCase = serde_json::from_value(json).unwrap();
    assert_eq!(back, case);
    assert_eq!(back.version(), 5);
    assert_eq!(back.opened_on(), Some(opened_on()));
    assert!(back.is_opened());
}

#[test]
fn a_reopened_case_keeps_its_caregivers_and_referrals() {
    let case = replay(vec![
        case_opened(),
        caregiver_assigned(),
        referral_made(),
        case_closed(),
        case_reopened(),
    ]);
    assert_eq!(case.caregivers().len(), 1);
    assert_eq!(case.open_referral_ids().count(), 1);
    assert_eq!(case.closed_on(), None);
}

#[test]
fn erasure_is_remembered_in_the_state() {
    let case = replay(vec![case_opened(), personal_data_erased()]);
    assert!(case.is_personal_data_erased());
    let CaseEvent::CaseOpened(opened) = case_opened() else {
        unreachable!()
    };
    assert!(!opened.id_number.is_erased());
    assert!(Personal::<String>::erased().is_erased());
}

// ---------------------------------------------------------------- errors

/// One of each error, to check codes and messages as a whole.
fn one_of_each_error() -> Vec<CaseError> {
    vec![
        CaseError::CaseNotOpened,
        CaseError::CaseAlreadyOpened,
        CaseError::CaseClosed,
        CaseError::CaseNotClosed,
        CaseError::PersonalDataErased,
        CaseError::AlreadyErased,
        CaseError::DateInFuture {
            field: DateField::VisitedOn,
            date: date(2026, 12, 1),
            today: today(),
        },
        CaseError::DateBeforeCaseOpened {
            field: DateField::VisitedOn,
            date: date(2025, 12, 1),
            opened_on: opened_on(),
        },
        CaseError::ReopenedBeforeClosed {
            reopened_on: date(2026, 3, 1),
            closed_on: date(2026, 3, 2),
        },
        CaseError::BornAfterOpening {
            birth_date: date(2026, 3, 1),
            opened_on: opened_on(),
        },
        CaseError::BlankText {
            field: TextField::Name,
        },
        CaseError::InvalidIdNumber(IdNumberError::WrongCheckCharacter),
        CaseError::IdNumberBirthDateMismatch {
            id_birth_date: birth_date(),
            birth_date: date(1948, 5, 13),
        },
        CaseError::IdNumberGenderMismatch {
            id_gender: Gender::Female,
            gender: Gender::Male,
        },
        CaseError::InvalidRegionCode(RegionCodeError::WrongLength { length: 6 }),
        CaseError::InvalidPhone,
        CaseError::NoCareCategory,
        CaseError::NoCategoryChange,
        CaseError::CategoryAlreadyPresent(CareCategory::Orphan),
        CaseError::CategoryNotPresent(CareCategory::Orphan),
        CaseError::CategoryAddedAndRemoved(CareCategory::Orphan),
        CaseError::LastCategoryRemoved,
        CaseError::CaregiverAlreadyAssigned,
        CaseError::CaregiverNotAssigned,
        CaseError::ReleasedBeforeAssigned {
            ended_on: date(2026, 1, 1),
            started_on: date(2026, 1, 2),
        },
        CaseError::MinutesOutOfRange { minutes: 0 },
        CaseError::NegativeAmount {
            field: AmountField::Money,
            amount_fen: -1,
        },
        CaseError::SatisfactionOutOfRange { satisfaction: 0 },
        CaseError::NoVisitor,
        CaseError::NoServiceType,
        CaseError::DuplicateReferral(referral()),
        CaseError::UnknownReferral(referral()),
        CaseError::ReferralAlreadyResolved(referral()),
        CaseError::ResolvedBeforeReferred {
            resolved_on: date(2026, 1, 1),
            referred_on: date(2026, 1, 2),
        },
        CaseError::TransferChangesNothing,
        CaseError::CorrectionTargetNotFound {
            corrected_version: 9,
            current_version: 3,
        },
        CaseError::EmptyCorrection,
    ]
}

#[test]
fn error_codes_are_unique_snake_case_and_messages_are_chinese() {
    let errors = one_of_each_error();
    let codes: BTreeSet<_> = errors.iter().map(CaseError::code).collect();
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
        assert!(!message.contains(ID_NUMBER), "{code} repeats the ID number");
    }
}

#[test]
fn commands_deserialize_from_the_json_the_http_layer_sends() {
    let json = serde_json::json!({
        "today": "2026-03-20",
        "action": {
            "RecordVisit": {
                "visited_on": "2026-03-18",
                "visitor_ids": [worker(), other_worker()],
                "method": "home_visit",
                "minutes": 45,
                "findings": "家中取暖设备老化，已提醒注意用电安全",
                "wellbeing_notes": "精神状态良好，血压偏高，按时服药",
                "follow_up_needed": true
            }
        }
    });
    let parsed: CaseCommand = serde_json::from_value(json).unwrap();
    assert_eq!(parsed, command(record_visit()));
    for action in every_action() {
        let command = CaseCommand::new(today(), action);
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(
            serde_json::from_value::<CaseCommand>(json).unwrap(),
            command
        );
    }
}
