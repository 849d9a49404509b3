//! Given / when / then: every command on a need (需求 / 微星愿), accepted and
//! refused; a whole need from survey to evaluation; and the stored form of
//! every need event.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::json;
use shouwang_domain::codes::RegionPrefix;
use shouwang_domain::evidence::{EvidenceError, Sha256Hex};
use shouwang_domain::need::*;
use shouwang_domain::values::{RegionCode, RegionCodeError};
use shouwang_domain::vocabulary::*;
use shouwang_domain::{Personal, PersonalData};
use uuid::Uuid;

// ---------------------------------------------------------------- fixtures

/// 南昌市西湖区南站街道广南社区.
const REGION: &str = "360103004002";
const TOWNSHIP: &str = "360103004";
const DESCRIPTION: &str = "独居老人家中灯泡损坏，行动不便无法自行更换";
const EVIDENCE: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid fixture date")
}

fn today() -> NaiveDate {
    date(2026, 3, 20)
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("valid fixture uuid")
}

fn care_case() -> Uuid {
    uuid("01958c30-0c00-7c03-8d03-0000000000c1")
}

/// 南昌心灵家园成长中心.
fn organization() -> Uuid {
    uuid("01958c30-0c00-7c03-8d03-000000000001")
}

/// 江西省照明电器协会.
fn other_organization() -> Uuid {
    uuid("01958c30-0c00-7c03-8d03-000000000002")
}

fn command(action: impl Into<NeedAction>) -> NeedCommand {
    NeedCommand::new(today(), action)
}

fn raise_need() -> RaiseNeed {
    RaiseNeed {
        case_id: Some(care_case()),
        region_code: REGION.to_owned(),
        category: NeedCategory::Living,
        description: DESCRIPTION.to_owned(),
        micro_wish: true,
        urgency: NeedUrgency::Pressing,
        source: NeedSource::HouseholdSurvey,
        raised_on: date(2026, 2, 10),
    }
}

fn raise_community_need() -> RaiseNeed {
    RaiseNeed {
        case_id: None,
        region_code: REGION.to_owned(),
        category: NeedCategory::Environment,
        description: "社区照明不足，楼道和庭院夜间无灯".to_owned(),
        micro_wish: false,
        urgency: NeedUrgency::Normal,
        source: NeedSource::CommunityConsultation,
        raised_on: date(2026, 2, 10),
    }
}

fn dispatch_need() -> DispatchNeed {
    DispatchNeed {
        organization_id: organization(),
        organization_active: true,
        due_on: date(2026, 3, 10),
        dispatched_on: date(2026, 2, 12),
        instructions: "请联系电工志愿者上门".to_owned(),
    }
}

fn accept_need() -> AcceptNeed {
    AcceptNeed {
        acting_organization_id: organization(),
        accepted_on: date(2026, 2, 13),
    }
}

fn decline_need() -> DeclineNeed {
    DeclineNeed {
        acting_organization_id: organization(),
        reason: "本组织暂无电工志愿者".to_owned(),
        declined_on: date(2026, 2, 13),
    }
}

fn record_progress() -> RecordNeedProgress {
    RecordNeedProgress {
        acting_organization_id: organization(),
        note: "已联系电工志愿者，约定 2 月 20 日上门".to_owned(),
        recorded_on: date(2026, 2, 15),
    }
}

fn fulfil_need() -> FulfilNeed {
    FulfilNeed {
        acting_organization_id: organization(),
        what_was_done: "更换灯泡 3 个，检修室内线路".to_owned(),
        minutes: 90,
        money_fen: 0,
        material_value_fen: 4_500,
        evidence: vec![EVIDENCE.to_owned()],
        fulfilled_on: date(2026, 2, 20),
    }
}

fn evaluate_need() -> EvaluateNeed {
    EvaluateNeed {
        satisfaction: 5,
        words: "灯亮了，晚上起夜不怕了".to_owned(),
        evaluated_on: date(2026, 2, 25),
    }
}

fn escalate_need() -> EscalateNeed {
    EscalateNeed {
        to: EscalationLevel::City,
        department: None,
        reason: "本县社会组织均无电工资质".to_owned(),
        escalated_on: date(2026, 2, 14),
    }
}

fn report_to_government() -> EscalateNeed {
    EscalateNeed {
        to: EscalationLevel::Government,
        department: Some(Department::HousingAndConstruction),
        reason: "房屋线路老化需整体改造，超出社会组织力量".to_owned(),
        escalated_on: date(2026, 2, 14),
    }
}

fn withdraw_need() -> WithdrawNeed {
    WithdrawNeed {
        reason: "本人已随子女搬离".to_owned(),
        withdrawn_on: date(2026, 2, 16),
    }
}

fn every_action() -> Vec<NeedAction> {
    vec![
        raise_need().into(),
        dispatch_need().into(),
        accept_need().into(),
        decline_need().into(),
        record_progress().into(),
        fulfil_need().into(),
        evaluate_need().into(),
        escalate_need().into(),
        withdraw_need().into(),
    ]
}

fn region() -> RegionCode {
    RegionCode::parse(REGION).expect("valid fixture region")
}

fn township() -> RegionPrefix {
    RegionPrefix::parse(TOWNSHIP).expect("valid fixture township")
}

fn need_raised() -> NeedEvent {
    let raise = raise_need();
    NeedEvent::NeedRaised(NeedRaised {
        case_id: raise.case_id,
        region: region(),
        township: township(),
        category: raise.category,
        description: Personal::known(raise.description),
        micro_wish: raise.micro_wish,
        urgency: raise.urgency,
        source: raise.source,
        raised_on: raise.raised_on,
    })
}

fn community_need_raised() -> NeedEvent {
    let raise = raise_community_need();
    NeedEvent::NeedRaised(NeedRaised {
        case_id: None,
        region: region(),
        township: township(),
        category: raise.category,
        description: Personal::known(raise.description),
        micro_wish: raise.micro_wish,
        urgency: raise.urgency,
        source: raise.source,
        raised_on: raise.raised_on,
    })
}

fn need_dispatched() -> NeedEvent {
    let dispatch = dispatch_need();
    NeedEvent::NeedDispatched(NeedDispatched {
        organization_id: dispatch.organization_id,
        level: EscalationLevel::County,
        due_on: dispatch.due_on,
        dispatched_on: dispatch.dispatched_on,
        instructions: dispatch.instructions,
    })
}

fn need_accepted() -> NeedEvent {
    let accept = accept_need();
    NeedEvent::NeedAccepted(NeedAccepted {
        organization_id: accept.acting_organization_id,
        accepted_on: accept.accepted_on,
    })
}

fn need_declined() -> NeedEvent {
    let decline = decline_need();
    NeedEvent::NeedDeclined(NeedDeclined {
        organization_id: decline.acting_organization_id,
        reason: decline.reason,
        declined_on: decline.declined_on,
    })
}

fn need_progress_recorded() -> NeedEvent {
    let progress = record_progress();
    NeedEvent::NeedProgressRecorded(NeedProgressRecorded {
        organization_id: progress.acting_organization_id,
        note: progress.note,
        recorded_on: progress.recorded_on,
    })
}

fn need_fulfilled() -> NeedEvent {
    let fulfil = fulfil_need();
    NeedEvent::NeedFulfilled(NeedFulfilled {
        organization_id: fulfil.acting_organization_id,
        what_was_done: fulfil.what_was_done,
        minutes: fulfil.minutes,
        money_fen: fulfil.money_fen,
        material_value_fen: fulfil.material_value_fen,
        evidence: vec![Sha256Hex::parse(EVIDENCE).expect("valid fixture digest")],
        fulfilled_on: fulfil.fulfilled_on,
    })
}

fn need_evaluated() -> NeedEvent {
    let evaluation = evaluate_need();
    NeedEvent::NeedEvaluated(NeedEvaluated {
        satisfaction: evaluation.satisfaction,
        words: evaluation.words,
        evaluated_on: evaluation.evaluated_on,
    })
}

fn need_escalated() -> NeedEvent {
    let escalation = escalate_need();
    NeedEvent::NeedEscalated(NeedEscalated {
        from: EscalationLevel::County,
        to: escalation.to,
        department: None,
        reason: escalation.reason,
        escalated_on: escalation.escalated_on,
    })
}

fn reported_to_government() -> NeedEvent {
    let escalation = report_to_government();
    NeedEvent::NeedEscalated(NeedEscalated {
        from: EscalationLevel::County,
        to: escalation.to,
        department: escalation.department,
        reason: escalation.reason,
        escalated_on: escalation.escalated_on,
    })
}

fn escalated_to(from: EscalationLevel, to: EscalationLevel) -> NeedEvent {
    NeedEvent::NeedEscalated(NeedEscalated {
        from,
        to,
        department: None,
        reason: "本级无法解决".to_owned(),
        escalated_on: date(2026, 2, 14),
    })
}

fn need_withdrawn() -> NeedEvent {
    let withdrawal = withdraw_need();
    NeedEvent::NeedWithdrawn(NeedWithdrawn {
        reason: withdrawal.reason,
        withdrawn_on: withdrawal.withdrawn_on,
    })
}

fn every_event() -> Vec<NeedEvent> {
    vec![
        need_raised(),
        need_dispatched(),
        need_accepted(),
        need_declined(),
        need_progress_recorded(),
        need_fulfilled(),
        need_evaluated(),
        need_escalated(),
        need_withdrawn(),
    ]
}

// Histories.

fn raised() -> Vec<NeedEvent> {
    vec![need_raised()]
}

fn dispatched() -> Vec<NeedEvent> {
    vec![need_raised(), need_dispatched()]
}

fn accepted() -> Vec<NeedEvent> {
    vec![need_raised(), need_dispatched(), need_accepted()]
}

fn fulfilled() -> Vec<NeedEvent> {
    vec![
        need_raised(),
        need_dispatched(),
        need_accepted(),
        need_fulfilled(),
    ]
}

fn evaluated() -> Vec<NeedEvent> {
    let mut events = fulfilled();
    events.push(need_evaluated());
    events
}

fn given_nothing() -> AggregateTestExecutor<Need> {
    TestFramework::<Need>::with(()).given_no_previous_events()
}

fn given(events: Vec<NeedEvent>) -> AggregateTestExecutor<Need> {
    TestFramework::<Need>::with(()).given(events)
}

fn replay(events: Vec<NeedEvent>) -> Need {
    let mut need = Need::default();
    for event in events {
        need.apply(event);
    }
    need
}

fn refusal(events: Vec<NeedEvent>, action: impl Into<NeedAction>) -> NeedError {
    given(events)
        .when(command(action))
        .inspect_result()
        .expect_err("command should be refused")
}

fn accepted_by(events: Vec<NeedEvent>, action: impl Into<NeedAction>) -> Vec<NeedEvent> {
    given(events)
        .when(command(action))
        .inspect_result()
        .expect("command should be accepted")
}

// ---------------------------------------------------------------- the whole need

/// Runs a command on the need and applies what it decided.
fn run(need: &mut Need, action: impl Into<NeedAction>) -> Vec<NeedEvent> {
    let events = need
        .decide(&command(action))
        .expect("command should be accepted");
    for event in events.clone() {
        need.apply(event);
    }
    events
}

#[test]
fn a_need_from_the_household_survey_to_the_residents_evaluation() {
    let mut need = Need::default();
    assert_eq!(need.status(), None);

    run(&mut need, raise_need());
    assert_eq!(need.status(), Some(NeedStatus::OnLedger));
    assert_eq!(need.township(), Some(&township()));
    assert_eq!(need.level(), Some(EscalationLevel::County));
    assert!(!need.is_overdue(today()));

    // 派单 to an organization that cannot do it; it declines.
    let mut first = dispatch_need();
    first.organization_id = other_organization();
    run(&mut need, first);
    assert_eq!(need.status(), Some(NeedStatus::Dispatched));
    assert_eq!(need.organization_id(), Some(other_organization()));
    let mut decline = decline_need();
    decline.acting_organization_id = other_organization();
    run(&mut need, decline);
    assert_eq!(need.status(), Some(NeedStatus::OnLedger));
    assert_eq!(need.organization_id(), None);
    assert_eq!(need.due_on(), None);

    // 派单 again, this time to an organization that takes it on (接单).
    let mut second = dispatch_need();
    second.dispatched_on = date(2026, 2, 13);
    run(&mut need, second);
    let mut accept = accept_need();
    accept.accepted_on = date(2026, 2, 14);
    run(&mut need, accept);
    assert_eq!(need.status(), Some(NeedStatus::Accepted));
    assert!(!need.is_overdue(date(2026, 3, 10)));
    assert!(need.is_overdue(date(2026, 3, 11)));

    run(&mut need, record_progress());
    let fulfilled = run(&mut need, fulfil_need());
    assert_eq!(fulfilled, vec![need_fulfilled()]);
    assert_eq!(need.status(), Some(NeedStatus::Fulfilled));
    assert_eq!(need.fulfilled_on(), Some(date(2026, 2, 20)));
    assert!(!need.is_overdue(date(2026, 3, 11)));

    run(&mut need, evaluate_need());
    assert_eq!(need.status(), Some(NeedStatus::Evaluated));
    assert_eq!(need.version(), 8);
    assert_eq!(
        need.status().map(|status| status.label_zh()),
        Some("已评价")
    );
}

// ---------------------------------------------------------------- lifecycle

#[test]
fn every_command_but_raise_is_refused_before_the_need_is_raised() {
    for action in every_action() {
        if matches!(action, NeedAction::RaiseNeed(_)) {
            continue;
        }
        given_nothing()
            .when(NeedCommand::new(today(), action))
            .then_expect_error(NeedError::NotRaised);
    }
}

#[test]
fn a_withdrawn_need_accepts_nothing() {
    let mut events = dispatched();
    events.push(need_withdrawn());
    for action in every_action() {
        let expected = match action {
            NeedAction::RaiseNeed(_) => NeedError::AlreadyRaised,
            _ => NeedError::Withdrawn,
        };
        given(events.clone())
            .when(NeedCommand::new(today(), action))
            .then_expect_error(expected);
    }
}

#[test]
fn a_fulfilled_need_accepts_only_its_evaluation() {
    for action in every_action() {
        let expected = match action {
            NeedAction::RaiseNeed(_) => Err(NeedError::AlreadyRaised),
            NeedAction::EvaluateNeed(_) => Ok(vec![need_evaluated()]),
            _ => Err(NeedError::AlreadyFulfilled),
        };
        let result = given(fulfilled())
            .when(NeedCommand::new(today(), action))
            .inspect_result();
        assert_eq!(result, expected);
    }
}

// ---------------------------------------------------------------- RaiseNeed

#[test]
fn raise_need_puts_the_need_on_the_townships_ledger() {
    given_nothing()
        .when(command(raise_need()))
        .then_expect_events(vec![need_raised()]);
    let need = replay(raised());
    assert!(need.is_raised());
    assert_eq!(need.case_id(), Some(care_case()));
    assert_eq!(need.region(), Some(&region()));
    assert_eq!(need.category(), Some(NeedCategory::Living));
    assert_eq!(need.urgency(), Some(NeedUrgency::Pressing));
    assert!(need.is_micro_wish());
    assert_eq!(need.raised_on(), Some(date(2026, 2, 10)));
}

#[test]
fn a_community_need_has_a_region_and_no_case() {
    given_nothing()
        .when(command(raise_community_need()))
        .then_expect_events(vec![community_need_raised()]);
}

#[test]
fn a_need_at_township_level_is_on_that_townships_ledger() {
    let mut raise = raise_community_need();
    raise.region_code = "360103004000".to_owned();
    let events = accepted_by(vec![], raise);
    let NeedEvent::NeedRaised(raised) = &events[0] else {
        panic!("expected NeedRaised")
    };
    assert_eq!(raised.township, township());
}

#[test]
fn raising_twice_is_refused() {
    given(raised())
        .when(command(raise_need()))
        .then_expect_error(NeedError::AlreadyRaised);
}

#[test]
fn raise_need_with_an_invalid_region_is_refused() {
    let mut raise = raise_need();
    raise.region_code = "36010300400".to_owned();
    given_nothing()
        .when(command(raise))
        .then_expect_error(NeedError::InvalidRegionCode(RegionCodeError::WrongLength {
            length: 11,
        }));
}

#[test]
fn a_need_above_township_level_is_refused() {
    let mut raise = raise_need();
    raise.region_code = "360103000000".to_owned();
    let error = given_nothing()
        .when(command(raise))
        .inspect_result()
        .unwrap_err();
    assert_eq!(
        error,
        NeedError::RegionAboveTownship {
            region: "360103000000".to_owned()
        }
    );
    assert_eq!(error.code(), "region_above_township");
}

#[test]
fn raise_need_without_a_description_is_refused() {
    let mut raise = raise_need();
    raise.description = "   ".to_owned();
    given_nothing()
        .when(command(raise))
        .then_expect_error(NeedError::BlankText {
            field: TextField::Description,
        });
}

#[test]
fn raise_need_dated_after_today_is_refused() {
    let mut raise = raise_need();
    raise.raised_on = date(2026, 3, 21);
    given_nothing()
        .when(command(raise))
        .then_expect_error(NeedError::DateInFuture {
            field: DateField::RaisedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

#[test]
fn the_description_is_hidden_from_debug_output() {
    let debug = format!("{:?}", command(raise_need()));
    assert!(debug.contains("description: <sealed>"), "{debug}");
    assert!(!debug.contains("灯泡"), "{debug}");
}

// ---------------------------------------------------------------- DispatchNeed

#[test]
fn dispatch_need_gives_the_need_to_one_organization_with_a_due_date() {
    given(raised())
        .when(command(dispatch_need()))
        .then_expect_events(vec![need_dispatched()]);
    let need = replay(dispatched());
    assert_eq!(need.status(), Some(NeedStatus::Dispatched));
    assert_eq!(need.organization_id(), Some(organization()));
    assert_eq!(need.due_on(), Some(date(2026, 3, 10)));
}

#[test]
fn dispatching_to_an_inactive_organization_is_refused() {
    let mut dispatch = dispatch_need();
    dispatch.organization_active = false;
    let error = refusal(raised(), dispatch);
    assert_eq!(error, NeedError::OrganizationInactive(organization()));
    assert_eq!(error.code(), "organization_inactive");
}

#[test]
fn a_due_date_before_the_dispatch_is_refused() {
    let mut dispatch = dispatch_need();
    dispatch.due_on = date(2026, 2, 11);
    given(raised())
        .when(command(dispatch))
        .then_expect_error(NeedError::DateOutOfOrder {
            field: DateField::DueOn,
            date: date(2026, 2, 11),
            earlier_field: DateField::DispatchedOn,
            earlier: date(2026, 2, 12),
        });
}

#[test]
fn a_due_date_may_lie_after_today() {
    let mut dispatch = dispatch_need();
    dispatch.due_on = date(2026, 6, 30);
    assert_eq!(accepted_by(raised(), dispatch).len(), 1);
}

#[test]
fn dispatching_before_the_need_was_raised_is_refused() {
    let mut dispatch = dispatch_need();
    dispatch.dispatched_on = date(2026, 2, 9);
    let error = refusal(raised(), dispatch);
    assert_eq!(
        error,
        NeedError::DateOutOfOrder {
            field: DateField::DispatchedOn,
            date: date(2026, 2, 9),
            earlier_field: DateField::RaisedOn,
            earlier: date(2026, 2, 10),
        }
    );
    assert_eq!(
        error.to_string(),
        "派单日期 2026-02-09 早于需求登记日期 2026-02-10，请核对日期"
    );
}

#[test]
fn dispatch_dated_after_today_is_refused() {
    let mut dispatch = dispatch_need();
    dispatch.dispatched_on = date(2026, 3, 21);
    dispatch.due_on = date(2026, 4, 30);
    given(raised())
        .when(command(dispatch))
        .then_expect_error(NeedError::DateInFuture {
            field: DateField::DispatchedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

#[test]
fn a_need_in_an_organizations_hands_is_not_dispatched_again() {
    for history in [dispatched(), accepted()] {
        given(history)
            .when(command(dispatch_need()))
            .then_expect_error(NeedError::AlreadyDispatched);
    }
}

#[test]
fn a_fulfilled_need_is_not_dispatched_again() {
    for history in [fulfilled(), evaluated()] {
        given(history)
            .when(command(dispatch_need()))
            .then_expect_error(NeedError::AlreadyFulfilled);
    }
}

#[test]
fn a_declined_need_can_be_dispatched_again() {
    let mut dispatch = dispatch_need();
    dispatch.organization_id = other_organization();
    dispatch.dispatched_on = date(2026, 2, 14);
    let events = accepted_by(
        vec![need_raised(), need_dispatched(), need_declined()],
        dispatch,
    );
    let NeedEvent::NeedDispatched(dispatched) = &events[0] else {
        panic!("expected NeedDispatched")
    };
    assert_eq!(dispatched.organization_id, other_organization());
}

#[test]
fn an_escalated_need_is_dispatched_by_the_level_it_was_escalated_to() {
    let mut dispatch = dispatch_need();
    dispatch.dispatched_on = date(2026, 2, 15);
    let events = accepted_by(vec![need_raised(), need_escalated()], dispatch);
    let NeedEvent::NeedDispatched(dispatched) = &events[0] else {
        panic!("expected NeedDispatched")
    };
    assert_eq!(dispatched.level, EscalationLevel::City);
}

// ---------------------------------------------------------------- AcceptNeed

#[test]
fn accept_need_is_recorded_for_the_organization_dispatched_to() {
    given(dispatched())
        .when(command(accept_need()))
        .then_expect_events(vec![need_accepted()]);
    assert_eq!(replay(accepted()).status(), Some(NeedStatus::Accepted));
}

#[test]
fn only_the_organization_dispatched_to_may_accept() {
    let mut accept = accept_need();
    accept.acting_organization_id = other_organization();
    let error = refusal(dispatched(), accept);
    assert_eq!(
        error,
        NeedError::NotAssignedOrganization {
            acting_organization_id: other_organization()
        }
    );
    assert_eq!(error.code(), "not_assigned_organization");
}

#[test]
fn accepting_a_need_that_is_not_dispatched_is_refused() {
    given(raised())
        .when(command(accept_need()))
        .then_expect_error(NeedError::NotDispatched);
    given(vec![need_raised(), need_dispatched(), need_declined()])
        .when(command(accept_need()))
        .then_expect_error(NeedError::NotDispatched);
}

#[test]
fn accepting_twice_is_refused() {
    given(accepted())
        .when(command(accept_need()))
        .then_expect_error(NeedError::AlreadyAccepted);
}

#[test]
fn accepting_before_the_dispatch_is_refused() {
    let mut accept = accept_need();
    accept.accepted_on = date(2026, 2, 11);
    given(dispatched())
        .when(command(accept))
        .then_expect_error(NeedError::DateOutOfOrder {
            field: DateField::AcceptedOn,
            date: date(2026, 2, 11),
            earlier_field: DateField::DispatchedOn,
            earlier: date(2026, 2, 12),
        });
}

#[test]
fn accepting_after_today_is_refused() {
    let mut accept = accept_need();
    accept.accepted_on = date(2026, 3, 21);
    given(dispatched())
        .when(command(accept))
        .then_expect_error(NeedError::DateInFuture {
            field: DateField::AcceptedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- DeclineNeed

#[test]
fn decline_need_returns_the_need_to_the_ledger() {
    given(dispatched())
        .when(command(decline_need()))
        .then_expect_events(vec![need_declined()]);
    let need = replay(vec![need_raised(), need_dispatched(), need_declined()]);
    assert_eq!(need.status(), Some(NeedStatus::OnLedger));
    assert_eq!(need.organization_id(), None);
    assert_eq!(need.due_on(), None);
}

#[test]
fn a_need_declined_after_escalation_returns_to_the_higher_ledger() {
    let need = replay(vec![
        need_raised(),
        need_escalated(),
        NeedEvent::NeedDispatched(NeedDispatched {
            organization_id: organization(),
            level: EscalationLevel::City,
            due_on: date(2026, 3, 10),
            dispatched_on: date(2026, 2, 15),
            instructions: String::new(),
        }),
        NeedEvent::NeedDeclined(NeedDeclined {
            organization_id: organization(),
            reason: "无力承接".to_owned(),
            declined_on: date(2026, 2, 16),
        }),
    ]);
    assert_eq!(need.status(), Some(NeedStatus::Escalated));
    assert_eq!(need.level(), Some(EscalationLevel::City));
}

#[test]
fn only_the_organization_dispatched_to_may_decline() {
    let mut decline = decline_need();
    decline.acting_organization_id = other_organization();
    given(dispatched())
        .when(command(decline))
        .then_expect_error(NeedError::NotAssignedOrganization {
            acting_organization_id: other_organization(),
        });
}

#[test]
fn declining_an_accepted_need_is_refused() {
    given(accepted())
        .when(command(decline_need()))
        .then_expect_error(NeedError::AlreadyAccepted);
}

#[test]
fn declining_a_need_that_is_not_dispatched_is_refused() {
    given(raised())
        .when(command(decline_need()))
        .then_expect_error(NeedError::NotDispatched);
}

#[test]
fn decline_need_without_a_reason_is_refused() {
    let mut decline = decline_need();
    decline.reason = String::new();
    given(dispatched())
        .when(command(decline))
        .then_expect_error(NeedError::BlankText {
            field: TextField::DeclineReason,
        });
}

#[test]
fn declining_before_the_dispatch_is_refused() {
    let mut decline = decline_need();
    decline.declined_on = date(2026, 2, 11);
    given(dispatched())
        .when(command(decline))
        .then_expect_error(NeedError::DateOutOfOrder {
            field: DateField::DeclinedOn,
            date: date(2026, 2, 11),
            earlier_field: DateField::DispatchedOn,
            earlier: date(2026, 2, 12),
        });
}

// ---------------------------------------------------------------- RecordNeedProgress

#[test]
fn record_progress_notes_the_way_to_meeting_the_need() {
    given(accepted())
        .when(command(record_progress()))
        .then_expect_events(vec![need_progress_recorded()]);
}

#[test]
fn progress_notes_may_be_entered_out_of_order_but_not_before_acceptance() {
    let mut later = accepted();
    later.push(need_progress_recorded());
    let mut earlier_note = record_progress();
    earlier_note.recorded_on = date(2026, 2, 14);
    assert_eq!(accepted_by(later.clone(), earlier_note).len(), 1);
    let mut before_acceptance = record_progress();
    before_acceptance.recorded_on = date(2026, 2, 12);
    given(later)
        .when(command(before_acceptance))
        .then_expect_error(NeedError::DateOutOfOrder {
            field: DateField::ProgressRecordedOn,
            date: date(2026, 2, 12),
            earlier_field: DateField::AcceptedOn,
            earlier: date(2026, 2, 13),
        });
}

#[test]
fn progress_before_acceptance_is_refused() {
    for history in [raised(), dispatched()] {
        given(history)
            .when(command(record_progress()))
            .then_expect_error(NeedError::NotAccepted);
    }
}

#[test]
fn only_the_accepting_organization_records_progress() {
    let mut progress = record_progress();
    progress.acting_organization_id = other_organization();
    given(accepted()).when(command(progress)).then_expect_error(
        NeedError::NotAssignedOrganization {
            acting_organization_id: other_organization(),
        },
    );
}

#[test]
fn record_progress_without_a_note_is_refused() {
    let mut progress = record_progress();
    progress.note = String::new();
    given(accepted())
        .when(command(progress))
        .then_expect_error(NeedError::BlankText {
            field: TextField::ProgressNote,
        });
}

#[test]
fn record_progress_dated_after_today_is_refused() {
    let mut progress = record_progress();
    progress.recorded_on = date(2026, 3, 21);
    given(accepted())
        .when(command(progress))
        .then_expect_error(NeedError::DateInFuture {
            field: DateField::ProgressRecordedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- FulfilNeed

#[test]
fn fulfil_need_records_what_was_done_and_what_it_took() {
    given(accepted())
        .when(command(fulfil_need()))
        .then_expect_events(vec![need_fulfilled()]);
}

#[test]
fn evidence_references_are_normalized_and_repeats_dropped() {
    let mut fulfil = fulfil_need();
    fulfil.evidence = vec![EVIDENCE.to_ascii_uppercase(), format!(" {EVIDENCE} ")];
    given(accepted())
        .when(command(fulfil))
        .then_expect_events(vec![need_fulfilled()]);
}

#[test]
fn fulfilling_before_acceptance_is_refused() {
    for history in [raised(), dispatched()] {
        given(history)
            .when(command(fulfil_need()))
            .then_expect_error(NeedError::NotAccepted);
    }
}

#[test]
fn only_the_accepting_organization_fulfils() {
    let mut fulfil = fulfil_need();
    fulfil.acting_organization_id = other_organization();
    given(accepted())
        .when(command(fulfil))
        .then_expect_error(NeedError::NotAssignedOrganization {
            acting_organization_id: other_organization(),
        });
}

#[test]
fn fulfil_need_without_saying_what_was_done_is_refused() {
    let mut fulfil = fulfil_need();
    fulfil.what_was_done = String::new();
    given(accepted())
        .when(command(fulfil))
        .then_expect_error(NeedError::BlankText {
            field: TextField::WhatWasDone,
        });
}

#[test]
fn fulfil_need_with_negative_amounts_is_refused() {
    let mut fulfil = fulfil_need();
    fulfil.money_fen = -100;
    given(accepted())
        .when(command(fulfil))
        .then_expect_error(NeedError::NegativeAmount {
            field: AmountField::Money,
            amount_fen: -100,
        });
    let mut fulfil = fulfil_need();
    fulfil.material_value_fen = -1;
    let error = refusal(accepted(), fulfil);
    assert_eq!(
        error,
        NeedError::NegativeAmount {
            field: AmountField::MaterialValue,
            amount_fen: -1,
        }
    );
    assert_eq!(
        error.to_string(),
        "物资折款不能为负数（填写的是 -0.01 元），请填写 0 或实际金额"
    );
}

#[test]
fn fulfil_need_with_a_malformed_evidence_reference_is_refused() {
    let mut fulfil = fulfil_need();
    fulfil.evidence.push("photo.jpg".to_owned());
    given(accepted())
        .when(command(fulfil))
        .then_expect_error(NeedError::InvalidEvidence {
            position: 2,
            error: EvidenceError::InvalidSha256,
        });
}

#[test]
fn fulfilling_before_acceptance_date_or_after_today_is_refused() {
    let mut fulfil = fulfil_need();
    fulfil.fulfilled_on = date(2026, 2, 12);
    given(accepted())
        .when(command(fulfil))
        .then_expect_error(NeedError::DateOutOfOrder {
            field: DateField::FulfilledOn,
            date: date(2026, 2, 12),
            earlier_field: DateField::AcceptedOn,
            earlier: date(2026, 2, 13),
        });
    let mut fulfil = fulfil_need();
    fulfil.fulfilled_on = date(2026, 3, 21);
    given(accepted())
        .when(command(fulfil))
        .then_expect_error(NeedError::DateInFuture {
            field: DateField::FulfilledOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- EvaluateNeed

#[test]
fn evaluate_need_records_the_residents_judgement() {
    given(fulfilled())
        .when(command(evaluate_need()))
        .then_expect_events(vec![need_evaluated()]);
}

#[test]
fn evaluating_before_fulfilment_is_refused() {
    for history in [raised(), dispatched(), accepted()] {
        given(history)
            .when(command(evaluate_need()))
            .then_expect_error(NeedError::NotFulfilled);
    }
}

#[test]
fn evaluating_twice_is_refused() {
    given(evaluated())
        .when(command(evaluate_need()))
        .then_expect_error(NeedError::AlreadyEvaluated);
}

#[test]
fn satisfaction_out_of_range_is_refused() {
    for satisfaction in [0, 6] {
        let mut evaluation = evaluate_need();
        evaluation.satisfaction = satisfaction;
        given(fulfilled())
            .when(command(evaluation))
            .then_expect_error(NeedError::SatisfactionOutOfRange { satisfaction });
    }
}

#[test]
fn evaluating_before_the_fulfilment_date_is_refused() {
    let mut evaluation = evaluate_need();
    evaluation.evaluated_on = date(2026, 2, 19);
    given(fulfilled())
        .when(command(evaluation))
        .then_expect_error(NeedError::DateOutOfOrder {
            field: DateField::EvaluatedOn,
            date: date(2026, 2, 19),
            earlier_field: DateField::FulfilledOn,
            earlier: date(2026, 2, 20),
        });
}

// ---------------------------------------------------------------- EscalateNeed

#[test]
fn escalate_need_goes_from_county_to_city() {
    given(raised())
        .when(command(escalate_need()))
        .then_expect_events(vec![need_escalated()]);
    let need = replay(vec![need_raised(), need_escalated()]);
    assert_eq!(need.status(), Some(NeedStatus::Escalated));
    assert_eq!(need.level(), Some(EscalationLevel::City));
}

#[test]
fn escalate_need_goes_from_city_to_province() {
    let mut escalation = escalate_need();
    escalation.to = EscalationLevel::Province;
    escalation.escalated_on = date(2026, 2, 15);
    let events = accepted_by(vec![need_raised(), need_escalated()], escalation);
    let NeedEvent::NeedEscalated(escalated) = &events[0] else {
        panic!("expected NeedEscalated")
    };
    assert_eq!(
        (escalated.from, escalated.to),
        (EscalationLevel::City, EscalationLevel::Province)
    );
}

#[test]
fn escalation_cannot_skip_a_level() {
    let mut escalation = escalate_need();
    escalation.to = EscalationLevel::Province;
    let error = refusal(raised(), escalation);
    assert_eq!(
        error,
        NeedError::EscalationSkipsLevel {
            from: EscalationLevel::County,
            to: EscalationLevel::Province,
        }
    );
    assert_eq!(
        error.to_string(),
        "需求目前在县级民政部门，只能逐级上报到设区市民政部门（或报本级政府、相关部门），不能越级上报到省级民政部门"
    );
}

#[test]
fn escalation_only_goes_up() {
    let mut escalation = escalate_need();
    escalation.to = EscalationLevel::County;
    given(raised())
        .when(command(escalation))
        .then_expect_error(NeedError::EscalationNotUpward {
            from: EscalationLevel::County,
            to: EscalationLevel::County,
        });
    let at_province = vec![
        need_raised(),
        need_escalated(),
        escalated_to(EscalationLevel::City, EscalationLevel::Province),
    ];
    given(at_province)
        .when(command(escalate_need()))
        .then_expect_error(NeedError::EscalationNotUpward {
            from: EscalationLevel::Province,
            to: EscalationLevel::City,
        });
}

#[test]
fn a_need_beyond_social_organizations_is_reported_to_a_department_from_any_level() {
    given(raised())
        .when(command(report_to_government()))
        .then_expect_events(vec![reported_to_government()]);
    let at_province = vec![
        need_raised(),
        need_escalated(),
        escalated_to(EscalationLevel::City, EscalationLevel::Province),
    ];
    assert_eq!(accepted_by(at_province, report_to_government()).len(), 1);
}

#[test]
fn a_need_reported_to_the_government_is_not_escalated_further() {
    let reported = vec![need_raised(), reported_to_government()];
    given(reported.clone())
        .when(command(escalate_need()))
        .then_expect_error(NeedError::AlreadyReportedToGovernment);
    given(reported)
        .when(command(report_to_government()))
        .then_expect_error(NeedError::AlreadyReportedToGovernment);
}

#[test]
fn reporting_to_the_government_names_a_department_and_only_then() {
    let mut report = report_to_government();
    report.department = None;
    given(raised())
        .when(command(report))
        .then_expect_error(NeedError::DepartmentRequired);
    let mut escalation = escalate_need();
    escalation.department = Some(Department::CivilAffairs);
    given(raised())
        .when(command(escalation))
        .then_expect_error(NeedError::DepartmentWithoutGovernment);
}

#[test]
fn a_need_in_an_organizations_hands_is_not_escalated() {
    for history in [dispatched(), accepted()] {
        given(history)
            .when(command(escalate_need()))
            .then_expect_error(NeedError::AlreadyDispatched);
    }
}

#[test]
fn escalate_need_without_a_reason_is_refused() {
    let mut escalation = escalate_need();
    escalation.reason = String::new();
    given(raised())
        .when(command(escalation))
        .then_expect_error(NeedError::BlankText {
            field: TextField::EscalationReason,
        });
}

#[test]
fn escalating_before_the_need_was_raised_or_after_today_is_refused() {
    let mut escalation = escalate_need();
    escalation.escalated_on = date(2026, 2, 1);
    given(raised())
        .when(command(escalation))
        .then_expect_error(NeedError::DateOutOfOrder {
            field: DateField::EscalatedOn,
            date: date(2026, 2, 1),
            earlier_field: DateField::RaisedOn,
            earlier: date(2026, 2, 10),
        });
    let mut escalation = escalate_need();
    escalation.escalated_on = date(2026, 3, 21);
    given(raised())
        .when(command(escalation))
        .then_expect_error(NeedError::DateInFuture {
            field: DateField::EscalatedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- WithdrawNeed

#[test]
fn withdraw_need_from_any_step_before_fulfilment() {
    for history in [
        raised(),
        dispatched(),
        accepted(),
        vec![need_raised(), need_escalated()],
    ] {
        given(history)
            .when(command(withdraw_need()))
            .then_expect_events(vec![need_withdrawn()]);
    }
    let need = replay(vec![need_raised(), need_dispatched(), need_withdrawn()]);
    assert_eq!(need.status(), Some(NeedStatus::Withdrawn));
}

#[test]
fn withdraw_need_without_a_reason_is_refused() {
    let mut withdrawal = withdraw_need();
    withdrawal.reason = String::new();
    given(raised())
        .when(command(withdrawal))
        .then_expect_error(NeedError::BlankText {
            field: TextField::WithdrawalReason,
        });
}

#[test]
fn withdrawing_before_the_latest_step_is_refused() {
    let mut withdrawal = withdraw_need();
    withdrawal.withdrawn_on = date(2026, 2, 12);
    given(accepted())
        .when(command(withdrawal))
        .then_expect_error(NeedError::DateOutOfOrder {
            field: DateField::WithdrawnOn,
            date: date(2026, 2, 12),
            earlier_field: DateField::AcceptedOn,
            earlier: date(2026, 2, 13),
        });
}

// ---------------------------------------------------------------- overdue

#[test]
fn a_need_is_overdue_when_past_its_due_date_and_not_fulfilled() {
    let due = date(2026, 3, 10);
    let after = date(2026, 3, 11);
    assert!(!replay(raised()).is_overdue(after));
    assert!(!replay(dispatched()).is_overdue(due));
    assert!(replay(dispatched()).is_overdue(after));
    assert!(replay(accepted()).is_overdue(after));
    assert!(!replay(fulfilled()).is_overdue(after));
    assert!(!replay(evaluated()).is_overdue(after));
    assert!(!replay(vec![need_raised(), need_dispatched(), need_declined()]).is_overdue(after));
    assert!(!replay(vec![need_raised(), need_dispatched(), need_withdrawn()]).is_overdue(after));
    // The due date is in the event, so any reader can tell the same.
    let NeedEvent::NeedDispatched(dispatched) = need_dispatched() else {
        unreachable!()
    };
    assert_eq!(dispatched.due_on, due);
    // Fulfilled late, it is no longer overdue but the due date is kept.
    assert_eq!(replay(fulfilled()).due_on(), Some(due));
}

// ---------------------------------------------------------------- state

#[test]
fn every_applied_event_increments_the_version() {
    let events = every_event();
    let count = events.len() as u64;
    assert_eq!(replay(events).version(), count);
    assert_eq!(Need::default().version(), 0);
}

#[test]
fn the_state_holds_no_description_and_survives_a_snapshot_round_trip() {
    let need = replay(accepted());
    let json = serde_json::to_string(&need).unwrap();
    assert!(!json.contains("灯泡"), "{json}");
    let back: Need = serde_json::from_str(&json).unwrap();
    assert_eq!(back, need);
    assert!(back.is_overdue(date(2026, 3, 11)));
}

#[test]
fn need_statuses_have_chinese_labels() {
    let labels: Vec<_> = NeedStatus::ALL.iter().map(NeedStatus::label_zh).collect();
    assert_eq!(
        labels,
        [
            "待派单（已列入需求台账）",
            "已派单",
            "已接单",
            "已办结",
            "已评价",
            "已上报",
            "已撤回"
        ]
    );
}

// ---------------------------------------------------------------- errors and JSON

fn one_of_each_error() -> Vec<NeedError> {
    vec![
        NeedError::NotRaised,
        NeedError::AlreadyRaised,
        NeedError::Withdrawn,
        NeedError::AlreadyDispatched,
        NeedError::NotDispatched,
        NeedError::AlreadyAccepted,
        NeedError::NotAccepted,
        NeedError::AlreadyFulfilled,
        NeedError::NotFulfilled,
        NeedError::AlreadyEvaluated,
        NeedError::OrganizationInactive(organization()),
        NeedError::NotAssignedOrganization {
            acting_organization_id: organization(),
        },
        NeedError::EscalationSkipsLevel {
            from: EscalationLevel::County,
            to: EscalationLevel::Province,
        },
        NeedError::EscalationNotUpward {
            from: EscalationLevel::City,
            to: EscalationLevel::County,
        },
        NeedError::AlreadyReportedToGovernment,
        NeedError::DepartmentRequired,
        NeedError::DepartmentWithoutGovernment,
        NeedError::DateInFuture {
            field: DateField::RaisedOn,
            date: date(2026, 4, 1),
            today: today(),
        },
        NeedError::DateOutOfOrder {
            field: DateField::AcceptedOn,
            date: date(2026, 1, 1),
            earlier_field: DateField::DispatchedOn,
            earlier: date(2026, 1, 2),
        },
        NeedError::BlankText {
            field: TextField::Description,
        },
        NeedError::InvalidRegionCode(RegionCodeError::WrongLength { length: 6 }),
        NeedError::RegionAboveTownship {
            region: "360103000000".to_owned(),
        },
        NeedError::NegativeAmount {
            field: AmountField::Money,
            amount_fen: -1,
        },
        NeedError::InvalidEvidence {
            position: 1,
            error: EvidenceError::InvalidSha256,
        },
        NeedError::SatisfactionOutOfRange { satisfaction: 0 },
    ]
}

#[test]
fn error_codes_are_unique_snake_case_and_messages_are_chinese() {
    let errors = one_of_each_error();
    let codes: BTreeSet<_> = errors.iter().map(NeedError::code).collect();
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
            "DispatchNeed": {
                "organization_id": organization(),
                "organization_active": true,
                "due_on": "2026-03-10",
                "dispatched_on": "2026-02-12",
                "instructions": "请联系电工志愿者上门"
            }
        }
    });
    let parsed: NeedCommand = serde_json::from_value(json).unwrap();
    assert_eq!(parsed, command(dispatch_need()));
    // The fact about the organization must be supplied, never defaulted.
    let missing = json!({
        "today": "2026-03-20",
        "action": { "DispatchNeed": {
            "organization_id": organization(),
            "due_on": "2026-03-10",
            "dispatched_on": "2026-02-12"
        }}
    });
    assert!(serde_json::from_value::<NeedCommand>(missing).is_err());
    for action in every_action() {
        let command = NeedCommand::new(today(), action);
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(
            serde_json::from_value::<NeedCommand>(json).unwrap(),
            command
        );
    }
}

// ---------------------------------------------------------------- event schema

/// Names every variant exhaustively, so adding a variant without a fixture
/// (and therefore without a snapshot) fails to compile here.
fn variant_name(event: &NeedEvent) -> &'static str {
    match event {
        NeedEvent::NeedRaised(_) => "NeedRaised",
        NeedEvent::NeedDispatched(_) => "NeedDispatched",
        NeedEvent::NeedAccepted(_) => "NeedAccepted",
        NeedEvent::NeedDeclined(_) => "NeedDeclined",
        NeedEvent::NeedProgressRecorded(_) => "NeedProgressRecorded",
        NeedEvent::NeedFulfilled(_) => "NeedFulfilled",
        NeedEvent::NeedEvaluated(_) => "NeedEvaluated",
        NeedEvent::NeedEscalated(_) => "NeedEscalated",
        NeedEvent::NeedWithdrawn(_) => "NeedWithdrawn",
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
    need_raised_schema: need_raised => "NeedRaised",
    need_dispatched_schema: need_dispatched => "NeedDispatched",
    need_accepted_schema: need_accepted => "NeedAccepted",
    need_declined_schema: need_declined => "NeedDeclined",
    need_progress_recorded_schema: need_progress_recorded => "NeedProgressRecorded",
    need_fulfilled_schema: need_fulfilled => "NeedFulfilled",
    need_evaluated_schema: need_evaluated => "NeedEvaluated",
    need_escalated_schema: reported_to_government => "NeedEscalated",
    need_withdrawn_schema: need_withdrawn => "NeedWithdrawn",
}

#[test]
fn every_event_round_trips_and_is_tagged_by_its_type() {
    let events = every_event();
    let names: BTreeSet<_> = events.iter().map(variant_name).collect();
    assert_eq!(names.len(), 9);
    for event in events {
        let name = variant_name(&event);
        assert_eq!(event.event_type(), name);
        assert_eq!(event.event_version(), "1");
        assert!(event.blind_index_terms().is_empty(), "{name}");
        assert!(!event.erases_personal_data(), "{name}");
        let json = serde_json::to_value(&event).unwrap();
        let serde_json::Value::Object(outer) = &json else {
            panic!("{name} did not serialize as an object")
        };
        assert_eq!(outer.keys().collect::<Vec<_>>(), [name]);
        let back: NeedEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}

#[test]
fn the_description_is_sealed_only_when_the_need_belongs_to_a_case() {
    assert_eq!(need_raised().sealed_fields(), ["description"]);
    assert!(community_need_raised().sealed_fields().is_empty());
    for event in every_event().into_iter().skip(1) {
        assert!(event.sealed_fields().is_empty(), "{}", event.event_type());
    }
    // After erasure the store hands back the marker; the event still reads.
    let json = serde_json::to_value(need_raised()).unwrap();
    let mut payload = json["NeedRaised"].clone();
    payload["description"] = json!({ "erased": true });
    let NeedEvent::NeedRaised(raised) =
        serde_json::from_value(json!({ "NeedRaised": payload })).unwrap()
    else {
        panic!("expected NeedRaised")
    };
    assert!(raised.description.is_erased());
    assert_eq!(raised.case_id, Some(care_case()));
}
