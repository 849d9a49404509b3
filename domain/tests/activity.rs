//! Given / when / then: every command on an activity (the source of 附件1 and
//! 附件2), accepted and refused; a whole activity from plan to completion;
//! and the stored form of every activity event.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::{Map, Value, json};
use shouwang_domain::PersonalData;
use shouwang_domain::activity::*;
use shouwang_domain::evidence::{
    EvidenceError, ImageMediaType, MAX_EVIDENCE_BYTES, Sha256Hex, sniff_image,
};
use shouwang_domain::values::{RegionCode, RegionCodeError};
use shouwang_domain::vocabulary::*;
use uuid::Uuid;

// ---------------------------------------------------------------- fixtures

/// 南昌市西湖区南站街道广南社区.
const REGION: &str = "360103004002";
const PHOTO: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";
const OTHER_PHOTO: &str = "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c";
const THIRD_PHOTO: &str = "7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730";

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid fixture date")
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> NaiveDateTime {
    day.and_hms_opt(hour, minute, 0)
        .expect("valid fixture time")
}

fn today() -> NaiveDate {
    date(2026, 3, 20)
}

fn activity_day() -> NaiveDate {
    date(2026, 3, 14)
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("valid fixture uuid")
}

/// 广南社区社会组织联合会.
fn organizer() -> Uuid {
    uuid("01958c40-0d00-7d04-8e04-000000000001")
}

/// 江西省照明电器协会.
fn lighting_association() -> Uuid {
    uuid("01958c40-0d00-7d04-8e04-000000000002")
}

fn care_case() -> Uuid {
    uuid("01958c40-0d00-7d04-8e04-0000000000c1")
}

fn other_care_case() -> Uuid {
    uuid("01958c40-0d00-7d04-8e04-0000000000c2")
}

fn command(action: impl Into<ActivityAction>) -> ActivityCommand {
    ActivityCommand::new(today(), action)
}

fn plan_activity() -> PlanActivity {
    PlanActivity {
        name: "“点亮桔灯”社区照明改善行动".to_owned(),
        organizer_name: "广南社区社会组织联合会".to_owned(),
        organizer_organization_id: Some(organizer()),
        action_line: Some(ActionLine::NeighborhoodBeauty),
        region_code: REGION.to_owned(),
        region_level: RegionLevel::Village,
        place: "广南社区党群服务中心".to_owned(),
        starts_at: at(activity_day(), 9, 0),
        ends_at: at(activity_day(), 17, 0),
        leader: "代冁婧".to_owned(),
    }
}

fn add_participant() -> AddParticipatingOrganization {
    AddParticipatingOrganization {
        organization_name: "江西省照明电器协会".to_owned(),
        organization_id: Some(lighting_association()),
        headcount: 8,
    }
}

fn update_headcount() -> UpdateParticipantHeadcount {
    UpdateParticipantHeadcount {
        organization_name: "江西省照明电器协会".to_owned(),
        headcount: 12,
    }
}

fn remove_participant() -> RemoveParticipatingOrganization {
    RemoveParticipatingOrganization {
        organization_name: "江西省照明电器协会".to_owned(),
        reason: "误录，该协会只捐赠物资、未派人参与".to_owned(),
    }
}

fn record_funds() -> RecordFunds {
    RecordFunds {
        source: FundSource::SocialDonation,
        money_fen: 0,
        material_value_fen: 1_250_000,
        note: "太阳能庭院灯 10 盏、楼道灯 30 盏、儿童学习台灯 15 盏".to_owned(),
    }
}

fn record_beneficiaries() -> RecordBeneficiaries {
    RecordBeneficiaries {
        person_times: 420,
        persons: 380,
        linked_case_ids: vec![care_case(), other_care_case()],
        missing_case_ids: vec![],
    }
}

fn record_service_time() -> RecordServiceTime {
    RecordServiceTime { minutes: 960 }
}

fn details() -> String {
    "社区“幸福圆桌会”上居民反映照明不足后，社区社会组织联合会链接江西省照明电器协会，\
     在广南社区安装太阳能庭院灯 10 盏、楼道灯 30 盏，并为困境儿童赠送学习台灯 15 盏。\
     志愿者逐户登记需求、入户安装并讲解使用方法，独居老人夜间出行更安全。"
        .to_owned()
}

fn write_details() -> WriteDetails {
    WriteDetails { details: details() }
}

fn attach_evidence() -> AttachEvidence {
    AttachEvidence {
        sha256: PHOTO.to_owned(),
        media_type: "image/jpeg".to_owned(),
        size_bytes: 2_345_678,
        file_name: "安装现场.jpg".to_owned(),
    }
}

fn attach_other_evidence() -> AttachEvidence {
    AttachEvidence {
        sha256: OTHER_PHOTO.to_owned(),
        media_type: "image/png".to_owned(),
        size_bytes: 1_024_000,
        file_name: "受赠儿童合影.png".to_owned(),
    }
}

fn remove_evidence() -> RemoveEvidence {
    RemoveEvidence {
        sha256: PHOTO.to_owned(),
        reason: "照片模糊，换一张".to_owned(),
    }
}

fn complete_activity() -> CompleteActivity {
    CompleteActivity {
        actual_starts_at: at(activity_day(), 9, 0),
        actual_ends_at: at(activity_day(), 17, 30),
        person_times: 420,
        persons: 380,
        service_minutes: 960,
        completed_on: date(2026, 3, 15),
    }
}

fn cancel_activity() -> CancelActivity {
    CancelActivity {
        reason: "暴雨预警，活动取消".to_owned(),
        cancelled_on: date(2026, 3, 13),
    }
}

fn corrected_fields() -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("place".to_owned(), json!("广南社区文化广场"));
    fields
}

fn correct_activity() -> CorrectActivity {
    CorrectActivity {
        corrected_version: 1,
        corrected_fields: corrected_fields(),
        reason: "活动地点临时改到文化广场".to_owned(),
    }
}

fn every_action() -> Vec<ActivityAction> {
    vec![
        plan_activity().into(),
        add_participant().into(),
        update_headcount().into(),
        remove_participant().into(),
        record_funds().into(),
        record_beneficiaries().into(),
        record_service_time().into(),
        write_details().into(),
        attach_evidence().into(),
        remove_evidence().into(),
        complete_activity().into(),
        cancel_activity().into(),
        correct_activity().into(),
    ]
}

fn sha(text: &str) -> Sha256Hex {
    Sha256Hex::parse(text).expect("valid fixture digest")
}

fn activity_planned() -> ActivityEvent {
    let plan = plan_activity();
    ActivityEvent::ActivityPlanned(ActivityPlanned {
        name: plan.name,
        organizer_name: plan.organizer_name,
        organizer_organization_id: plan.organizer_organization_id,
        action_line: plan.action_line,
        region: RegionCode::parse(REGION).expect("valid fixture region"),
        region_level: plan.region_level,
        place: plan.place,
        starts_at: plan.starts_at,
        ends_at: plan.ends_at,
        leader: plan.leader,
    })
}

fn participant_added() -> ActivityEvent {
    let add = add_participant();
    ActivityEvent::ParticipantAdded(ParticipantAdded {
        organization_name: add.organization_name,
        organization_id: add.organization_id,
        headcount: add.headcount,
    })
}

fn participant_headcount_updated() -> ActivityEvent {
    let update = update_headcount();
    ActivityEvent::ParticipantHeadcountUpdated(ParticipantHeadcountUpdated {
        organization_name: update.organization_name,
        headcount: update.headcount,
    })
}

fn participant_removed() -> ActivityEvent {
    let remove = remove_participant();
    ActivityEvent::ParticipantRemoved(ParticipantRemoved {
        organization_name: remove.organization_name,
        reason: remove.reason,
    })
}

fn funds_recorded() -> ActivityEvent {
    let funds = record_funds();
    ActivityEvent::FundsRecorded(FundsRecorded {
        source: funds.source,
        money_fen: funds.money_fen,
        material_value_fen: funds.material_value_fen,
        note: funds.note,
    })
}

fn beneficiaries_recorded() -> ActivityEvent {
    let beneficiaries = record_beneficiaries();
    ActivityEvent::BeneficiariesRecorded(BeneficiariesRecorded {
        person_times: beneficiaries.person_times,
        persons: beneficiaries.persons,
        linked_case_ids: beneficiaries.linked_case_ids,
    })
}

fn service_time_recorded() -> ActivityEvent {
    ActivityEvent::ServiceTimeRecorded(ServiceTimeRecorded {
        minutes: record_service_time().minutes,
    })
}

fn details_written() -> ActivityEvent {
    ActivityEvent::DetailsWritten(DetailsWritten { details: details() })
}

fn evidence_attached() -> ActivityEvent {
    let attach = attach_evidence();
    ActivityEvent::EvidenceAttached(EvidenceAttached {
        sha256: sha(PHOTO),
        media_type: ImageMediaType::Jpeg,
        size_bytes: attach.size_bytes,
        file_name: attach.file_name,
    })
}

fn other_evidence_attached() -> ActivityEvent {
    let attach = attach_other_evidence();
    ActivityEvent::EvidenceAttached(EvidenceAttached {
        sha256: sha(OTHER_PHOTO),
        media_type: ImageMediaType::Png,
        size_bytes: attach.size_bytes,
        file_name: attach.file_name,
    })
}

fn evidence_removed() -> ActivityEvent {
    ActivityEvent::EvidenceRemoved(EvidenceRemoved {
        sha256: sha(PHOTO),
        reason: remove_evidence().reason,
    })
}

fn activity_completed() -> ActivityEvent {
    let complete = complete_activity();
    ActivityEvent::ActivityCompleted(ActivityCompleted {
        actual_starts_at: complete.actual_starts_at,
        actual_ends_at: complete.actual_ends_at,
        person_times: complete.person_times,
        persons: complete.persons,
        service_minutes: complete.service_minutes,
        completed_on: complete.completed_on,
    })
}

fn activity_cancelled() -> ActivityEvent {
    let cancel = cancel_activity();
    ActivityEvent::ActivityCancelled(ActivityCancelled {
        reason: cancel.reason,
        cancelled_on: cancel.cancelled_on,
    })
}

fn activity_corrected() -> ActivityEvent {
    let correction = correct_activity();
    ActivityEvent::ActivityCorrected(ActivityCorrected {
        corrected_version: correction.corrected_version,
        corrected_fields: correction.corrected_fields,
        reason: correction.reason,
    })
}

fn every_event() -> Vec<ActivityEvent> {
    vec![
        activity_planned(),
        participant_added(),
        participant_headcount_updated(),
        participant_removed(),
        funds_recorded(),
        beneficiaries_recorded(),
        service_time_recorded(),
        details_written(),
        evidence_attached(),
        evidence_removed(),
        activity_completed(),
        activity_cancelled(),
        activity_corrected(),
    ]
}

fn given_nothing() -> AggregateTestExecutor<Activity> {
    TestFramework::<Activity>::with(()).given_no_previous_events()
}

fn given(events: Vec<ActivityEvent>) -> AggregateTestExecutor<Activity> {
    TestFramework::<Activity>::with(()).given(events)
}

fn given_planned() -> AggregateTestExecutor<Activity> {
    given(vec![activity_planned()])
}

fn given_participant() -> AggregateTestExecutor<Activity> {
    given(vec![activity_planned(), participant_added()])
}

fn given_one_photo() -> AggregateTestExecutor<Activity> {
    given(vec![activity_planned(), evidence_attached()])
}

fn given_two_photos() -> AggregateTestExecutor<Activity> {
    given(vec![
        activity_planned(),
        evidence_attached(),
        other_evidence_attached(),
    ])
}

fn replay(events: Vec<ActivityEvent>) -> Activity {
    let mut activity = Activity::default();
    for event in events {
        activity.apply(event);
    }
    activity
}

fn refusal(
    executor: AggregateTestExecutor<Activity>,
    action: impl Into<ActivityAction>,
) -> ActivityError {
    executor
        .when(command(action))
        .inspect_result()
        .expect_err("command should be refused")
}

// ---------------------------------------------------------------- the whole activity

/// Runs a command on the activity and applies what it decided.
fn run(activity: &mut Activity, action: impl Into<ActivityAction>) -> Vec<ActivityEvent> {
    let events = activity
        .decide(&command(action))
        .expect("command should be accepted");
    for event in events.clone() {
        activity.apply(event);
    }
    events
}

/// A minimal PNG header, as the phone uploads it under a `.jpg` name.
const PNG_BYTES: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR";

#[test]
fn an_activity_from_plan_to_completion() {
    let mut activity = Activity::default();
    run(&mut activity, plan_activity());
    assert_eq!(activity.status(), Some(ActivityStatus::Planned));

    run(&mut activity, add_participant());
    run(
        &mut activity,
        AddParticipatingOrganization {
            organization_name: "南昌乐清商会".to_owned(),
            organization_id: None,
            headcount: 5,
        },
    );
    run(&mut activity, update_headcount());
    assert_eq!(activity.total_headcount(), 17);

    run(&mut activity, record_funds());
    run(
        &mut activity,
        RecordFunds {
            source: FundSource::WelfareLotteryFund,
            money_fen: 200_000,
            material_value_fen: 0,
            note: "福彩公益金小微创投".to_owned(),
        },
    );
    assert_eq!(activity.money_fen(), 200_000);
    assert_eq!(activity.material_value_fen(), 1_250_000);

    run(&mut activity, record_beneficiaries());
    run(&mut activity, record_service_time());
    run(&mut activity, write_details());

    // The infrastructure stores the bytes and sniffs their type; the
    // domain is told the digest and the sniffed media type.
    let sniffed = sniff_image(PNG_BYTES).unwrap();
    run(
        &mut activity,
        AttachEvidence {
            sha256: OTHER_PHOTO.to_owned(),
            media_type: sniffed.as_str().to_owned(),
            size_bytes: PNG_BYTES.len() as u64,
            file_name: "受赠儿童合影.jpg".to_owned(),
        },
    );
    run(&mut activity, attach_evidence());
    assert_eq!(activity.evidence().len(), 2);
    assert_eq!(activity.evidence()[0].media_type, ImageMediaType::Png);

    let completed = run(&mut activity, complete_activity());
    assert_eq!(completed, vec![activity_completed()]);
    assert_eq!(activity.status(), Some(ActivityStatus::Completed));
    assert_eq!(activity.completed_on(), Some(date(2026, 3, 15)));
    assert_eq!(activity.ends_at(), Some(at(activity_day(), 17, 30)));
    assert_eq!((activity.person_times(), activity.persons()), (420, 380));
    assert_eq!(activity.service_minutes(), 960);
    assert_eq!(activity.linked_case_ids().len(), 2);
    assert!(activity.has_details());

    // After completion only corrections are recorded.
    assert_eq!(
        activity.decide(&command(write_details())),
        Err(ActivityError::AlreadyCompleted)
    );
    // The details (the 9th event) are corrected after the fact.
    let mut fields = Map::new();
    fields.insert(
        "details".to_owned(),
        json!(format!("{}共惠及 380 人。", details())),
    );
    run(
        &mut activity,
        CorrectActivity {
            corrected_version: 9,
            corrected_fields: fields,
            reason: "补充受益人数".to_owned(),
        },
    );
    assert_eq!(activity.version(), 13);
}

// ---------------------------------------------------------------- lifecycle

#[test]
fn every_command_but_plan_is_refused_before_the_activity_is_planned() {
    for action in every_action() {
        if matches!(action, ActivityAction::PlanActivity(_)) {
            continue;
        }
        given_nothing()
            .when(ActivityCommand::new(today(), action))
            .then_expect_error(ActivityError::NotPlanned);
    }
}

#[test]
fn a_completed_or_cancelled_activity_accepts_only_corrections() {
    for (ended, refusal) in [
        (activity_completed(), ActivityError::AlreadyCompleted),
        (activity_cancelled(), ActivityError::AlreadyCancelled),
    ] {
        for action in every_action() {
            let expected = match action {
                ActivityAction::PlanActivity(_) => Err(ActivityError::AlreadyPlanned),
                ActivityAction::CorrectActivity(_) => Ok(vec![activity_corrected()]),
                _ => Err(refusal.clone()),
            };
            let result = given(vec![activity_planned(), ended.clone()])
                .when(ActivityCommand::new(today(), action))
                .inspect_result();
            assert_eq!(result, expected);
        }
    }
}

// ---------------------------------------------------------------- PlanActivity

#[test]
fn plan_activity_records_the_activity() {
    given_nothing()
        .when(command(plan_activity()))
        .then_expect_events(vec![activity_planned()]);
    let activity = replay(vec![activity_planned()]);
    assert!(activity.is_planned());
    assert_eq!(activity.organizer_organization_id(), Some(organizer()));
    assert_eq!(activity.action_line(), Some(ActionLine::NeighborhoodBeauty));
    assert_eq!(activity.region().map(RegionCode::as_str), Some(REGION));
    assert_eq!(activity.region_level(), Some(RegionLevel::Village));
    assert_eq!(activity.starts_at(), Some(at(activity_day(), 9, 0)));
}

#[test]
fn county_and_township_activities_are_planned_with_zero_padded_codes() {
    for (code, level) in [
        ("360103000000", RegionLevel::County),
        ("360103004000", RegionLevel::Township),
    ] {
        let mut plan = plan_activity();
        plan.region_code = code.to_owned();
        plan.region_level = level;
        let result = given_nothing().when(command(plan)).inspect_result();
        assert!(result.is_ok(), "{code}: {result:?}");
    }
}

#[test]
fn planning_twice_is_refused() {
    given_planned()
        .when(command(plan_activity()))
        .then_expect_error(ActivityError::AlreadyPlanned);
}

#[test]
fn plan_activity_without_required_text_is_refused() {
    type Blank = fn(&mut PlanActivity);
    let blanks: [(Blank, TextField); 4] = [
        (|plan| plan.name = " ".to_owned(), TextField::Name),
        (
            |plan| plan.organizer_name = String::new(),
            TextField::OrganizerName,
        ),
        (|plan| plan.place = String::new(), TextField::Place),
        (|plan| plan.leader = "\t".to_owned(), TextField::Leader),
    ];
    for (blank, field) in blanks {
        let mut plan = plan_activity();
        blank(&mut plan);
        given_nothing()
            .when(command(plan))
            .then_expect_error(ActivityError::BlankText { field });
    }
}

#[test]
fn plan_activity_with_an_invalid_region_code_is_refused() {
    let mut plan = plan_activity();
    plan.region_code = "360103".to_owned();
    given_nothing()
        .when(command(plan))
        .then_expect_error(ActivityError::InvalidRegionCode(
            RegionCodeError::WrongLength { length: 6 },
        ));
}

#[test]
fn an_activity_region_above_the_county_is_refused() {
    for level in [RegionLevel::Province, RegionLevel::City] {
        let mut plan = plan_activity();
        plan.region_level = level;
        given_nothing()
            .when(command(plan))
            .then_expect_error(ActivityError::RegionLevelNotAllowed(level));
    }
}

#[test]
fn a_region_code_of_another_level_than_stated_is_refused() {
    let mut plan = plan_activity();
    plan.region_level = RegionLevel::County;
    let error = refusal(given_nothing(), plan);
    assert_eq!(
        error,
        ActivityError::RegionLevelMismatch {
            region_level: RegionLevel::Village,
            level: RegionLevel::County,
        }
    );
    assert_eq!(error.code(), "region_level_mismatch");
}

#[test]
fn an_activity_ending_before_it_starts_is_refused() {
    let mut plan = plan_activity();
    plan.ends_at = at(activity_day(), 8, 59);
    let error = refusal(given_nothing(), plan);
    assert_eq!(
        error,
        ActivityError::EndsBeforeStarts {
            starts_at: at(activity_day(), 9, 0),
            ends_at: at(activity_day(), 8, 59),
        }
    );
    assert_eq!(
        error.to_string(),
        "结束时间 2026-03-14 08:59:00 早于开始时间 2026-03-14 09:00:00，请核对活动时间"
    );
}

#[test]
fn an_activity_may_be_planned_for_the_future() {
    let mut plan = plan_activity();
    plan.starts_at = at(date(2026, 5, 1), 9, 0);
    plan.ends_at = at(date(2026, 5, 3), 17, 0);
    assert!(given_nothing().when(command(plan)).inspect_result().is_ok());
}

// ---------------------------------------------------------------- participating organizations

#[test]
fn add_participating_organization_lists_it_with_its_headcount() {
    given_planned()
        .when(command(add_participant()))
        .then_expect_events(vec![participant_added()]);
    let activity = replay(vec![activity_planned(), participant_added()]);
    let participant = &activity.participants()["江西省照明电器协会"];
    assert_eq!(participant.headcount, 8);
    assert_eq!(participant.organization_id, Some(lighting_association()));
}

#[test]
fn adding_the_same_organization_twice_is_refused() {
    given_participant()
        .when(command(add_participant()))
        .then_expect_error(ActivityError::ParticipantAlreadyAdded(
            "江西省照明电器协会".to_owned(),
        ));
    let mut same_id = add_participant();
    same_id.organization_name = "省照明电器协会".to_owned();
    given_participant()
        .when(command(same_id))
        .then_expect_error(ActivityError::ParticipantAlreadyAdded(
            "省照明电器协会".to_owned(),
        ));
}

#[test]
fn a_participant_without_a_name_or_people_is_refused() {
    let mut add = add_participant();
    add.organization_name = String::new();
    given_planned()
        .when(command(add))
        .then_expect_error(ActivityError::BlankText {
            field: TextField::OrganizationName,
        });
    let mut add = add_participant();
    add.headcount = 0;
    given_planned()
        .when(command(add))
        .then_expect_error(ActivityError::HeadcountZero);
}

#[test]
fn update_participant_headcount_changes_the_headcount() {
    given_participant()
        .when(command(update_headcount()))
        .then_expect_events(vec![participant_headcount_updated()]);
    let activity = replay(vec![
        activity_planned(),
        participant_added(),
        participant_headcount_updated(),
    ]);
    assert_eq!(activity.total_headcount(), 12);
}

#[test]
fn updating_an_unknown_participant_or_to_zero_is_refused() {
    given_planned()
        .when(command(update_headcount()))
        .then_expect_error(ActivityError::UnknownParticipant(
            "江西省照明电器协会".to_owned(),
        ));
    let mut update = update_headcount();
    update.headcount = 0;
    given_participant()
        .when(command(update))
        .then_expect_error(ActivityError::HeadcountZero);
}

#[test]
fn remove_participating_organization_takes_it_off() {
    given_participant()
        .when(command(remove_participant()))
        .then_expect_events(vec![participant_removed()]);
    let activity = replay(vec![
        activity_planned(),
        participant_added(),
        participant_removed(),
    ]);
    assert!(activity.participants().is_empty());
}

#[test]
fn removing_an_unknown_participant_or_without_a_reason_is_refused() {
    given_planned()
        .when(command(remove_participant()))
        .then_expect_error(ActivityError::UnknownParticipant(
            "江西省照明电器协会".to_owned(),
        ));
    let mut remove = remove_participant();
    remove.reason = String::new();
    given_participant()
        .when(command(remove))
        .then_expect_error(ActivityError::BlankText {
            field: TextField::ParticipantRemovalReason,
        });
}

// ---------------------------------------------------------------- RecordFunds

#[test]
fn record_funds_adds_money_and_material_value_by_source() {
    given_planned()
        .when(command(record_funds()))
        .then_expect_events(vec![funds_recorded()]);
    let activity = replay(vec![activity_planned(), funds_recorded(), funds_recorded()]);
    assert_eq!(activity.material_value_fen(), 2_500_000);
    assert_eq!(activity.money_fen(), 0);
}

#[test]
fn negative_funds_are_refused() {
    let mut funds = record_funds();
    funds.money_fen = -50;
    let error = refusal(given_planned(), funds);
    assert_eq!(
        error,
        ActivityError::NegativeAmount {
            field: AmountField::Money,
            amount_fen: -50,
        }
    );
    assert_eq!(
        error.to_string(),
        "投入资金不能为负数（填写的是 -0.50 元），请填写 0 或实际金额"
    );
    let mut funds = record_funds();
    funds.material_value_fen = -1;
    given_planned()
        .when(command(funds))
        .then_expect_error(ActivityError::NegativeAmount {
            field: AmountField::MaterialValue,
            amount_fen: -1,
        });
}

#[test]
fn funds_of_nothing_are_refused() {
    let mut funds = record_funds();
    funds.material_value_fen = 0;
    given_planned()
        .when(command(funds))
        .then_expect_error(ActivityError::EmptyFunds);
}

// ---------------------------------------------------------------- RecordBeneficiaries

#[test]
fn record_beneficiaries_records_person_times_persons_and_linked_cases() {
    given_planned()
        .when(command(record_beneficiaries()))
        .then_expect_events(vec![beneficiaries_recorded()]);
    let mut repeated = record_beneficiaries();
    repeated.linked_case_ids.push(care_case());
    given_planned()
        .when(command(repeated))
        .then_expect_events(vec![beneficiaries_recorded()]);
}

#[test]
fn more_persons_than_person_times_is_refused() {
    let mut beneficiaries = record_beneficiaries();
    beneficiaries.persons = 421;
    let error = refusal(given_planned(), beneficiaries);
    assert_eq!(
        error,
        ActivityError::PersonsExceedPersonTimes {
            persons: 421,
            person_times: 420,
        }
    );
    assert_eq!(
        error.to_string(),
        "受益人数 421 多于受益人次 420，请核对：人数不会多于人次"
    );
}

#[test]
fn more_linked_cases_than_persons_is_refused() {
    let mut beneficiaries = record_beneficiaries();
    beneficiaries.person_times = 1;
    beneficiaries.persons = 1;
    given_planned()
        .when(command(beneficiaries))
        .then_expect_error(ActivityError::LinkedCasesExceedPersons {
            linked: 2,
            persons: 1,
        });
}

#[test]
fn linked_cases_must_exist() {
    let mut beneficiaries = record_beneficiaries();
    beneficiaries.missing_case_ids = vec![other_care_case(), other_care_case()];
    let error = refusal(given_planned(), beneficiaries);
    assert_eq!(
        error,
        ActivityError::LinkedCasesMissing(vec![other_care_case()])
    );
    assert_eq!(
        error.to_string(),
        "以下关联的关爱对象档案不存在：01958c40-0d00-7d04-8e04-0000000000c2，请核对后重新选择"
    );
}

// ---------------------------------------------------------------- service time and details

#[test]
fn record_service_time_replaces_the_total() {
    given_planned()
        .when(command(record_service_time()))
        .then_expect_events(vec![service_time_recorded()]);
    let later = ActivityEvent::ServiceTimeRecorded(ServiceTimeRecorded { minutes: 1_200 });
    let activity = replay(vec![activity_planned(), service_time_recorded(), later]);
    assert_eq!(activity.service_minutes(), 1_200);
}

#[test]
fn write_details_records_the_details() {
    given_planned()
        .when(command(write_details()))
        .then_expect_events(vec![details_written()]);
}

#[test]
fn blank_details_are_refused() {
    given_planned()
        .when(command(WriteDetails {
            details: "  ".to_owned(),
        }))
        .then_expect_error(ActivityError::BlankText {
            field: TextField::Details,
        });
}

#[test]
fn details_are_limited_to_2000_characters_not_bytes() {
    let longest = "邻".repeat(MAX_DETAILS_CHARS);
    assert_eq!(longest.len(), 6_000);
    assert!(
        given_planned()
            .when(command(WriteDetails { details: longest }))
            .inspect_result()
            .is_ok()
    );
    let error = refusal(
        given_planned(),
        WriteDetails {
            details: "邻".repeat(MAX_DETAILS_CHARS + 1),
        },
    );
    assert_eq!(error, ActivityError::DetailsTooLong { chars: 2_001 });
    assert_eq!(
        error.to_string(),
        "活动详情有 2001 个字，超过 2000 字的上限，请精简到 300 字左右"
    );
}

// ---------------------------------------------------------------- evidence

#[test]
fn attach_evidence_records_an_image() {
    given_planned()
        .when(command(attach_evidence()))
        .then_expect_events(vec![evidence_attached()]);
    given_one_photo()
        .when(command(attach_other_evidence()))
        .then_expect_events(vec![other_evidence_attached()]);
}

#[test]
fn a_third_image_is_refused() {
    let third = AttachEvidence {
        sha256: THIRD_PHOTO.to_owned(),
        media_type: "image/webp".to_owned(),
        size_bytes: 400_000,
        file_name: "第三张.webp".to_owned(),
    };
    given_two_photos()
        .when(command(third.clone()))
        .then_expect_error(ActivityError::TooManyEvidenceImages);
    // After one is removed, another may take its place.
    let after_removal = given(vec![
        activity_planned(),
        evidence_attached(),
        other_evidence_attached(),
        evidence_removed(),
    ]);
    assert!(after_removal.when(command(third)).inspect_result().is_ok());
}

#[test]
fn the_same_image_twice_is_refused() {
    let mut again = attach_evidence();
    again.sha256 = PHOTO.to_ascii_uppercase();
    again.file_name = "安装现场（副本）.jpg".to_owned();
    given_one_photo()
        .when(command(again))
        .then_expect_error(ActivityError::DuplicateEvidence);
}

#[test]
fn a_file_that_is_not_an_image_is_refused() {
    for media_type in ["image/gif", "application/pdf", "text/plain"] {
        let mut attach = attach_evidence();
        attach.media_type = media_type.to_owned();
        given_planned()
            .when(command(attach))
            .then_expect_error(ActivityError::InvalidEvidence(
                EvidenceError::UnsupportedMediaType {
                    media_type: media_type.to_owned(),
                },
            ));
    }
}

#[test]
fn an_oversize_or_empty_image_is_refused() {
    let mut attach = attach_evidence();
    attach.size_bytes = MAX_EVIDENCE_BYTES as u64 + 1;
    let error = refusal(given_planned(), attach);
    assert_eq!(
        error,
        ActivityError::InvalidEvidence(EvidenceError::TooLarge {
            size_bytes: MAX_EVIDENCE_BYTES as u64 + 1
        })
    );
    assert_eq!(error.code(), "invalid_evidence");
    let mut attach = attach_evidence();
    attach.size_bytes = MAX_EVIDENCE_BYTES as u64;
    assert!(
        given_planned()
            .when(command(attach))
            .inspect_result()
            .is_ok()
    );
    let mut attach = attach_evidence();
    attach.size_bytes = 0;
    given_planned()
        .when(command(attach))
        .then_expect_error(ActivityError::InvalidEvidence(EvidenceError::Empty));
}

#[test]
fn a_malformed_digest_or_blank_file_name_is_refused() {
    let mut attach = attach_evidence();
    attach.sha256 = "not-a-digest".to_owned();
    given_planned()
        .when(command(attach))
        .then_expect_error(ActivityError::InvalidEvidence(EvidenceError::InvalidSha256));
    let mut attach = attach_evidence();
    attach.file_name = String::new();
    given_planned()
        .when(command(attach))
        .then_expect_error(ActivityError::BlankText {
            field: TextField::FileName,
        });
}

#[test]
fn remove_evidence_removes_the_image() {
    given_two_photos()
        .when(command(remove_evidence()))
        .then_expect_events(vec![evidence_removed()]);
    let activity = replay(vec![
        activity_planned(),
        evidence_attached(),
        other_evidence_attached(),
        evidence_removed(),
    ]);
    assert_eq!(activity.evidence().len(), 1);
    assert_eq!(activity.evidence()[0].sha256, sha(OTHER_PHOTO));
}

#[test]
fn removing_an_unknown_image_or_without_a_reason_is_refused() {
    given_planned()
        .when(command(remove_evidence()))
        .then_expect_error(ActivityError::UnknownEvidence);
    let mut remove = remove_evidence();
    remove.reason = String::new();
    given_one_photo()
        .when(command(remove))
        .then_expect_error(ActivityError::BlankText {
            field: TextField::EvidenceRemovalReason,
        });
    let mut remove = remove_evidence();
    remove.sha256 = "abc".to_owned();
    given_one_photo()
        .when(command(remove))
        .then_expect_error(ActivityError::InvalidEvidence(EvidenceError::InvalidSha256));
}

// ---------------------------------------------------------------- CompleteActivity

#[test]
fn complete_activity_records_the_actual_figures() {
    given_planned()
        .when(command(complete_activity()))
        .then_expect_events(vec![activity_completed()]);
}

#[test]
fn completing_with_an_end_before_the_start_is_refused() {
    let mut complete = complete_activity();
    complete.actual_ends_at = at(activity_day(), 8, 0);
    given_planned()
        .when(command(complete))
        .then_expect_error(ActivityError::EndsBeforeStarts {
            starts_at: at(activity_day(), 9, 0),
            ends_at: at(activity_day(), 8, 0),
        });
}

#[test]
fn completing_an_activity_that_ends_after_today_is_refused() {
    let mut complete = complete_activity();
    complete.actual_ends_at = at(date(2026, 3, 21), 12, 0);
    given_planned()
        .when(command(complete))
        .then_expect_error(ActivityError::DateInFuture {
            field: DateField::ActualEnd,
            date: date(2026, 3, 21),
            today: today(),
        });
    let mut complete = complete_activity();
    complete.completed_on = date(2026, 3, 21);
    given_planned()
        .when(command(complete))
        .then_expect_error(ActivityError::DateInFuture {
            field: DateField::CompletedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

#[test]
fn completing_before_the_activity_ended_is_refused() {
    let mut complete = complete_activity();
    complete.completed_on = date(2026, 3, 13);
    given_planned().when(command(complete)).then_expect_error(
        ActivityError::CompletedBeforeEnded {
            completed_on: date(2026, 3, 13),
            ended_on: activity_day(),
        },
    );
}

#[test]
fn completion_figures_are_checked_like_beneficiaries() {
    let mut complete = complete_activity();
    complete.persons = 500;
    given_planned().when(command(complete)).then_expect_error(
        ActivityError::PersonsExceedPersonTimes {
            persons: 500,
            person_times: 420,
        },
    );
    let mut complete = complete_activity();
    complete.person_times = 1;
    complete.persons = 1;
    given(vec![activity_planned(), beneficiaries_recorded()])
        .when(command(complete))
        .then_expect_error(ActivityError::LinkedCasesExceedPersons {
            linked: 2,
            persons: 1,
        });
}

// ---------------------------------------------------------------- CancelActivity

#[test]
fn cancel_activity_records_why() {
    given_planned()
        .when(command(cancel_activity()))
        .then_expect_events(vec![activity_cancelled()]);
    let activity = replay(vec![activity_planned(), activity_cancelled()]);
    assert_eq!(activity.status(), Some(ActivityStatus::Cancelled));
    assert_eq!(activity.cancelled_on(), Some(date(2026, 3, 13)));
}

#[test]
fn cancel_activity_without_a_reason_or_after_today_is_refused() {
    let mut cancel = cancel_activity();
    cancel.reason = String::new();
    given_planned()
        .when(command(cancel))
        .then_expect_error(ActivityError::BlankText {
            field: TextField::CancellationReason,
        });
    let mut cancel = cancel_activity();
    cancel.cancelled_on = date(2026, 3, 21);
    given_planned()
        .when(command(cancel))
        .then_expect_error(ActivityError::DateInFuture {
            field: DateField::CancelledOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- CorrectActivity

#[test]
fn correct_activity_references_an_earlier_version() {
    given_planned()
        .when(command(correct_activity()))
        .then_expect_events(vec![activity_corrected()]);
    let mut correction = correct_activity();
    correction.corrected_version = 2;
    assert!(
        given(vec![activity_planned(), activity_completed()])
            .when(command(correction))
            .inspect_result()
            .is_ok()
    );
}

#[test]
fn correcting_a_version_that_does_not_exist_is_refused() {
    for corrected_version in [0, 2] {
        let mut correction = correct_activity();
        correction.corrected_version = corrected_version;
        given_planned().when(command(correction)).then_expect_error(
            ActivityError::CorrectionTargetNotFound {
                corrected_version,
                current_version: 1,
            },
        );
    }
}

#[test]
fn correct_activity_without_fields_or_reason_is_refused() {
    let mut correction = correct_activity();
    correction.corrected_fields = Map::new();
    given_planned()
        .when(command(correction))
        .then_expect_error(ActivityError::EmptyCorrection);
    let mut correction = correct_activity();
    correction.reason = String::new();
    given_planned()
        .when(command(correction))
        .then_expect_error(ActivityError::BlankText {
            field: TextField::CorrectionReason,
        });
}

// ---------------------------------------------------------------- state

#[test]
fn every_applied_event_increments_the_version() {
    let events = every_event();
    let count = events.len() as u64;
    assert_eq!(replay(events).version(), count);
    assert_eq!(Activity::default().version(), 0);
}

#[test]
fn the_state_survives_a_snapshot_round_trip() {
    let activity = replay(vec![
        activity_planned(),
        participant_added(),
        funds_recorded(),
        beneficiaries_recorded(),
        evidence_attached(),
        activity_completed(),
    ]);
    let json = serde_json::to_value(&activity).unwrap();
    let back: Activity = serde_json::from_value(json).unwrap();
    assert_eq!(back, activity);
    assert_eq!(back.version(), 6);
}

// ---------------------------------------------------------------- errors and JSON

fn one_of_each_error() -> Vec<ActivityError> {
    vec![
        ActivityError::NotPlanned,
        ActivityError::AlreadyPlanned,
        ActivityError::AlreadyCompleted,
        ActivityError::AlreadyCancelled,
        ActivityError::InvalidRegionCode(RegionCodeError::WrongLength { length: 6 }),
        ActivityError::RegionLevelNotAllowed(RegionLevel::City),
        ActivityError::RegionLevelMismatch {
            region_level: RegionLevel::Village,
            level: RegionLevel::County,
        },
        ActivityError::EndsBeforeStarts {
            starts_at: at(activity_day(), 9, 0),
            ends_at: at(activity_day(), 8, 0),
        },
        ActivityError::DateInFuture {
            field: DateField::CompletedOn,
            date: date(2026, 4, 1),
            today: today(),
        },
        ActivityError::CompletedBeforeEnded {
            completed_on: date(2026, 3, 13),
            ended_on: activity_day(),
        },
        ActivityError::BlankText {
            field: TextField::Name,
        },
        ActivityError::DetailsTooLong { chars: 2_001 },
        ActivityError::HeadcountZero,
        ActivityError::ParticipantAlreadyAdded("江西省照明电器协会".to_owned()),
        ActivityError::UnknownParticipant("江西省照明电器协会".to_owned()),
        ActivityError::NegativeAmount {
            field: AmountField::Money,
            amount_fen: -1,
        },
        ActivityError::EmptyFunds,
        ActivityError::PersonsExceedPersonTimes {
            persons: 2,
            person_times: 1,
        },
        ActivityError::LinkedCasesExceedPersons {
            linked: 2,
            persons: 1,
        },
        ActivityError::LinkedCasesMissing(vec![care_case()]),
        ActivityError::InvalidEvidence(EvidenceError::NotAnImage),
        ActivityError::TooManyEvidenceImages,
        ActivityError::DuplicateEvidence,
        ActivityError::UnknownEvidence,
        ActivityError::CorrectionTargetNotFound {
            corrected_version: 9,
            current_version: 3,
        },
        ActivityError::EmptyCorrection,
    ]
}

#[test]
fn error_codes_are_unique_snake_case_and_messages_are_chinese() {
    let errors = one_of_each_error();
    let codes: BTreeSet<_> = errors.iter().map(ActivityError::code).collect();
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
    let json = json!({
        "today": "2026-03-20",
        "action": {
            "PlanActivity": {
                "name": "“点亮桔灯”社区照明改善行动",
                "organizer_name": "广南社区社会组织联合会",
                "organizer_organization_id": organizer(),
                "action_line": "neighborhood_beauty",
                "region_code": REGION,
                "region_level": "village",
                "place": "广南社区党群服务中心",
                "starts_at": "2026-03-14T09:00:00",
                "ends_at": "2026-03-14T17:00:00",
                "leader": "代冁婧"
            }
        }
    });
    let parsed: ActivityCommand = serde_json::from_value(json).unwrap();
    assert_eq!(parsed, command(plan_activity()));
    // Whether linked cases exist must be supplied, never defaulted.
    let missing = json!({
        "today": "2026-03-20",
        "action": { "RecordBeneficiaries": {
            "person_times": 1, "persons": 1, "linked_case_ids": [care_case()]
        }}
    });
    assert!(serde_json::from_value::<ActivityCommand>(missing).is_err());
    for action in every_action() {
        let command = ActivityCommand::new(today(), action);
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(
            serde_json::from_value::<ActivityCommand>(json).unwrap(),
            command
        );
    }
}

// ---------------------------------------------------------------- event schema

/// Names every variant exhaustively, so adding a variant without a fixture
/// (and therefore without a snapshot) fails to compile here.
fn variant_name(event: &ActivityEvent) -> &'static str {
    match event {
        ActivityEvent::ActivityPlanned(_) => "ActivityPlanned",
        ActivityEvent::ParticipantAdded(_) => "ParticipantAdded",
        ActivityEvent::ParticipantHeadcountUpdated(_) => "ParticipantHeadcountUpdated",
        ActivityEvent::ParticipantRemoved(_) => "ParticipantRemoved",
        ActivityEvent::FundsRecorded(_) => "FundsRecorded",
        ActivityEvent::BeneficiariesRecorded(_) => "BeneficiariesRecorded",
        ActivityEvent::ServiceTimeRecorded(_) => "ServiceTimeRecorded",
        ActivityEvent::DetailsWritten(_) => "DetailsWritten",
        ActivityEvent::EvidenceAttached(_) => "EvidenceAttached",
        ActivityEvent::EvidenceRemoved(_) => "EvidenceRemoved",
        ActivityEvent::ActivityCompleted(_) => "ActivityCompleted",
        ActivityEvent::ActivityCancelled(_) => "ActivityCancelled",
        ActivityEvent::ActivityCorrected(_) => "ActivityCorrected",
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
    activity_planned_schema: activity_planned => "ActivityPlanned",
    participant_added_schema: participant_added => "ParticipantAdded",
    participant_headcount_updated_schema: participant_headcount_updated => "ParticipantHeadcountUpdated",
    participant_removed_schema: participant_removed => "ParticipantRemoved",
    funds_recorded_schema: funds_recorded => "FundsRecorded",
    beneficiaries_recorded_schema: beneficiaries_recorded => "BeneficiariesRecorded",
    service_time_recorded_schema: service_time_recorded => "ServiceTimeRecorded",
    details_written_schema: details_written => "DetailsWritten",
    evidence_attached_schema: evidence_attached => "EvidenceAttached",
    evidence_removed_schema: evidence_removed => "EvidenceRemoved",
    activity_completed_schema: activity_completed => "ActivityCompleted",
    activity_cancelled_schema: activity_cancelled => "ActivityCancelled",
    activity_corrected_schema: activity_corrected => "ActivityCorrected",
}

#[test]
fn every_event_round_trips_is_tagged_by_its_type_and_is_never_sealed() {
    let events = every_event();
    let names: BTreeSet<_> = events.iter().map(variant_name).collect();
    assert_eq!(names.len(), 13);
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
        let back: ActivityEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
