//! Given / when / then: every command on a volunteer's record (积分制管理),
//! accepted and refused; and the stored form of every volunteer event.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use cqrs_es::{Aggregate, DomainEvent};
use proptest::prelude::*;
use serde_json::json;
use shouwang_domain::vocabulary::VolunteerStatus;
use shouwang_domain::volunteer::*;
use shouwang_domain::{Personal, PersonalData};
use uuid::Uuid;

// ---------------------------------------------------------------- fixtures

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid fixture date")
}

fn today() -> NaiveDate {
    date(2026, 3, 20)
}

fn registered_on() -> NaiveDate {
    date(2025, 9, 1)
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("valid fixture uuid")
}

/// 上坊路社区爱心妈妈志愿服务团.
fn organization() -> Uuid {
    uuid("01958c20-0b00-7b02-8c02-000000000001")
}

/// The social worker who verifies service time.
fn verifier() -> Uuid {
    uuid("01958c20-0b00-7b02-8c02-000000000002")
}

fn activity() -> Uuid {
    uuid("01958c20-0b00-7b02-8c02-0000000000a1")
}

fn care_case() -> Uuid {
    uuid("01958c20-0b00-7b02-8c02-0000000000c1")
}

fn need() -> Uuid {
    uuid("01958c20-0b00-7b02-8c02-0000000000d1")
}

const PHONE: &str = "13907912345";

fn command(action: impl Into<VolunteerAction>) -> VolunteerCommand {
    VolunteerCommand::new(today(), action)
}

fn register_volunteer() -> RegisterVolunteer {
    RegisterVolunteer {
        organization_id: organization(),
        name: "刘桂兰".to_owned(),
        phone: PHONE.to_owned(),
        registered_on: registered_on(),
    }
}

/// 90 minutes at an activity: 15 points at the default 10 an hour.
fn credit_points() -> CreditPoints {
    CreditPoints {
        source: CreditSource::Activity(activity()),
        verified_minutes: 90,
        verified_by: verifier(),
        verified_on: date(2026, 3, 1),
    }
}

fn redeem_points() -> RedeemPoints {
    RedeemPoints {
        reward: "大米一袋（5 公斤）".to_owned(),
        points: 10,
        redeemed_on: date(2026, 3, 15),
    }
}

fn deactivate_volunteer() -> DeactivateVolunteer {
    DeactivateVolunteer {
        reason: "随子女迁居外地".to_owned(),
        deactivated_on: date(2026, 3, 16),
    }
}

fn reactivate_volunteer() -> ReactivateVolunteer {
    ReactivateVolunteer {
        reason: "返回社区，继续参加志愿服务".to_owned(),
        reactivated_on: date(2026, 3, 18),
    }
}

fn every_action() -> Vec<VolunteerAction> {
    vec![
        register_volunteer().into(),
        credit_points().into(),
        redeem_points().into(),
        deactivate_volunteer().into(),
        reactivate_volunteer().into(),
    ]
}

fn volunteer_registered() -> VolunteerEvent {
    let register = register_volunteer();
    VolunteerEvent::VolunteerRegistered(VolunteerRegistered {
        organization_id: register.organization_id,
        name: register.name,
        phone: Personal::known(register.phone),
        registered_on: register.registered_on,
    })
}

fn points_credited() -> VolunteerEvent {
    let credit = credit_points();
    VolunteerEvent::PointsCredited(PointsCredited {
        source: credit.source,
        minutes: credit.verified_minutes,
        points: 15,
        points_per_hour: 10,
        verified_by: credit.verified_by,
        verified_on: credit.verified_on,
    })
}

fn points_redeemed() -> VolunteerEvent {
    let redeem = redeem_points();
    VolunteerEvent::PointsRedeemed(PointsRedeemed {
        reward: redeem.reward,
        points: redeem.points,
        redeemed_on: redeem.redeemed_on,
    })
}

fn volunteer_deactivated() -> VolunteerEvent {
    let deactivate = deactivate_volunteer();
    VolunteerEvent::VolunteerDeactivated(VolunteerDeactivated {
        reason: deactivate.reason,
        deactivated_on: deactivate.deactivated_on,
    })
}

fn volunteer_reactivated() -> VolunteerEvent {
    let reactivate = reactivate_volunteer();
    VolunteerEvent::VolunteerReactivated(VolunteerReactivated {
        reason: reactivate.reason,
        reactivated_on: reactivate.reactivated_on,
    })
}

fn every_event() -> Vec<VolunteerEvent> {
    vec![
        volunteer_registered(),
        points_credited(),
        points_redeemed(),
        volunteer_deactivated(),
        volunteer_reactivated(),
    ]
}

fn framework() -> TestFramework<Volunteer> {
    TestFramework::<Volunteer>::with(PointsPolicy::default())
}

fn given_nothing() -> AggregateTestExecutor<Volunteer> {
    framework().given_no_previous_events()
}

fn given(events: Vec<VolunteerEvent>) -> AggregateTestExecutor<Volunteer> {
    framework().given(events)
}

fn given_registered() -> AggregateTestExecutor<Volunteer> {
    given(vec![volunteer_registered()])
}

fn given_credited() -> AggregateTestExecutor<Volunteer> {
    given(vec![volunteer_registered(), points_credited()])
}

fn given_inactive() -> AggregateTestExecutor<Volunteer> {
    given(vec![
        volunteer_registered(),
        points_credited(),
        volunteer_deactivated(),
    ])
}

fn replay(events: Vec<VolunteerEvent>) -> Volunteer {
    let mut volunteer = Volunteer::default();
    for event in events {
        volunteer.apply(event);
    }
    volunteer
}

// ---------------------------------------------------------------- lifecycle

#[test]
fn every_command_but_register_is_refused_before_registration() {
    for action in every_action() {
        if matches!(action, VolunteerAction::RegisterVolunteer(_)) {
            continue;
        }
        given_nothing()
            .when(VolunteerCommand::new(today(), action))
            .then_expect_error(VolunteerError::NotRegistered);
    }
}

#[test]
fn an_inactive_volunteer_accepts_only_reactivation() {
    for action in every_action() {
        let expected = match action {
            VolunteerAction::RegisterVolunteer(_) => Err(VolunteerError::AlreadyRegistered),
            VolunteerAction::CreditPoints(_) | VolunteerAction::RedeemPoints(_) => {
                Err(VolunteerError::VolunteerInactive)
            }
            VolunteerAction::DeactivateVolunteer(_) => Err(VolunteerError::AlreadyInactive),
            VolunteerAction::ReactivateVolunteer(_) => Ok(vec![volunteer_reactivated()]),
        };
        let result = given_inactive()
            .when(VolunteerCommand::new(today(), action))
            .inspect_result();
        assert_eq!(result, expected);
    }
}

// ---------------------------------------------------------------- RegisterVolunteer

#[test]
fn register_volunteer_records_the_volunteer() {
    given_nothing()
        .when(command(register_volunteer()))
        .then_expect_events(vec![volunteer_registered()]);
    let volunteer = replay(vec![volunteer_registered()]);
    assert!(volunteer.is_registered());
    assert!(volunteer.is_active());
    assert_eq!(volunteer.status(), Some(VolunteerStatus::Active));
    assert_eq!(volunteer.organization_id(), Some(organization()));
    assert_eq!(volunteer.registered_on(), Some(registered_on()));
    assert_eq!(volunteer.balance(), 0);
}

#[test]
fn registering_twice_is_refused() {
    given_registered()
        .when(command(register_volunteer()))
        .then_expect_error(VolunteerError::AlreadyRegistered);
}

#[test]
fn register_volunteer_without_a_name_or_phone_is_refused() {
    let mut register = register_volunteer();
    register.name = " ".to_owned();
    given_nothing()
        .when(command(register))
        .then_expect_error(VolunteerError::BlankText {
            field: TextField::Name,
        });
    let mut register = register_volunteer();
    register.phone = String::new();
    given_nothing()
        .when(command(register))
        .then_expect_error(VolunteerError::BlankText {
            field: TextField::Phone,
        });
}

#[test]
fn register_volunteer_with_an_implausible_phone_is_refused() {
    let mut register = register_volunteer();
    register.phone = "打电话给她女儿".to_owned();
    given_nothing()
        .when(command(register))
        .then_expect_error(VolunteerError::InvalidPhone);
}

#[test]
fn register_volunteer_dated_after_today_is_refused() {
    let mut register = register_volunteer();
    register.registered_on = date(2026, 3, 21);
    given_nothing()
        .when(command(register))
        .then_expect_error(VolunteerError::DateInFuture {
            field: DateField::RegisteredOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

#[test]
fn the_phone_is_hidden_from_debug_output() {
    let debug = format!("{:?}", command(register_volunteer()));
    assert!(debug.contains("刘桂兰"), "{debug}");
    assert!(debug.contains("phone: <sealed>"), "{debug}");
    assert!(!debug.contains(PHONE), "{debug}");
}

// ---------------------------------------------------------------- CreditPoints

#[test]
fn credit_points_earns_points_for_verified_time() {
    given_registered()
        .when(command(credit_points()))
        .then_expect_events(vec![points_credited()]);
    let volunteer = replay(vec![volunteer_registered(), points_credited()]);
    assert_eq!(volunteer.balance(), 15);
    assert_eq!(volunteer.points_earned(), 15);
    assert_eq!(volunteer.verified_minutes(), 90);
    assert!(volunteer.has_credited(&CreditSource::Activity(activity())));
}

#[test]
fn the_rate_is_configuration_and_is_recorded_with_each_credit() {
    let policy = PointsPolicy {
        points_per_hour: 12,
    };
    let mut credit = credit_points();
    credit.verified_minutes = 45;
    let events = TestFramework::<Volunteer>::with(policy)
        .given(vec![volunteer_registered()])
        .when(command(credit))
        .inspect_result()
        .unwrap();
    let VolunteerEvent::PointsCredited(credited) = &events[0] else {
        panic!("expected PointsCredited")
    };
    assert_eq!((credited.points, credited.points_per_hour), (9, 12));
    assert_eq!(PointsPolicy::default().points_per_hour, 10);
}

#[test]
fn fractions_of_a_point_are_dropped() {
    let policy = PointsPolicy::default();
    assert_eq!(policy.points_for(45), 7);
    assert_eq!(policy.points_for(5), 0);
    assert_eq!(policy.points_for(60), 10);
    assert_eq!(policy.points_for(10_080), 1_680);
    let generous = PointsPolicy {
        points_per_hour: u32::MAX,
    };
    assert_eq!(generous.points_for(u32::MAX), u32::MAX);
}

#[test]
fn every_kind_of_source_can_be_credited() {
    let sources = [
        CreditSource::Activity(activity()),
        CreditSource::Service {
            case_id: care_case(),
            stream_version: 7,
        },
        CreditSource::Need(need()),
    ];
    for source in sources {
        let mut credit = credit_points();
        credit.source = source;
        let result = given_registered().when(command(credit)).inspect_result();
        assert!(result.is_ok(), "{source:?}: {result:?}");
    }
}

#[test]
fn a_second_credit_for_the_same_source_is_refused() {
    let mut credit = credit_points();
    credit.verified_minutes = 30;
    let error = given_credited()
        .when(command(credit))
        .inspect_result()
        .unwrap_err();
    assert_eq!(
        error,
        VolunteerError::AlreadyCredited(CreditSource::Activity(activity()))
    );
    assert_eq!(
        error.to_string(),
        "活动（编号 01958c20-0b00-7b02-8c02-0000000000a1）已经记过积分，同一次服务不能重复记分"
    );
}

#[test]
fn services_are_told_apart_by_case_and_stream_version() {
    let service = |stream_version| CreditSource::Service {
        case_id: care_case(),
        stream_version,
    };
    let credited = |source| {
        VolunteerEvent::PointsCredited(PointsCredited {
            source,
            minutes: 60,
            points: 10,
            points_per_hour: 10,
            verified_by: verifier(),
            verified_on: date(2026, 3, 1),
        })
    };
    let history = || given(vec![volunteer_registered(), credited(service(7))]);
    let mut credit = credit_points();
    credit.source = service(8);
    assert!(
        history()
            .when(command(credit.clone()))
            .inspect_result()
            .is_ok()
    );
    credit.source = service(7);
    history()
        .when(command(credit))
        .then_expect_error(VolunteerError::AlreadyCredited(service(7)));
}

#[test]
fn a_service_source_without_a_stream_version_is_refused() {
    let mut credit = credit_points();
    credit.source = CreditSource::Service {
        case_id: care_case(),
        stream_version: 0,
    };
    given_registered()
        .when(command(credit))
        .then_expect_error(VolunteerError::InvalidServiceVersion);
}

#[test]
fn credit_points_with_minutes_out_of_range_is_refused() {
    for minutes in [0, 10_081] {
        let mut credit = credit_points();
        credit.verified_minutes = minutes;
        given_registered()
            .when(command(credit))
            .then_expect_error(VolunteerError::MinutesOutOfRange { minutes });
    }
}

#[test]
fn credit_points_verified_before_registration_or_after_today_is_refused() {
    let mut credit = credit_points();
    credit.verified_on = date(2025, 8, 31);
    given_registered().when(command(credit)).then_expect_error(
        VolunteerError::DateBeforeRegistration {
            field: DateField::VerifiedOn,
            date: date(2025, 8, 31),
            registered_on: registered_on(),
        },
    );
    let mut credit = credit_points();
    credit.verified_on = date(2026, 3, 21);
    given_registered()
        .when(command(credit))
        .then_expect_error(VolunteerError::DateInFuture {
            field: DateField::VerifiedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- RedeemPoints

#[test]
fn redeem_points_spends_points() {
    given_credited()
        .when(command(redeem_points()))
        .then_expect_events(vec![points_redeemed()]);
    let volunteer = replay(vec![
        volunteer_registered(),
        points_credited(),
        points_redeemed(),
    ]);
    assert_eq!(volunteer.balance(), 5);
    assert_eq!(volunteer.points_redeemed(), 10);
}

#[test]
fn the_whole_balance_can_be_redeemed_but_not_more() {
    let mut redeem = redeem_points();
    redeem.points = 15;
    assert!(
        given_credited()
            .when(command(redeem.clone()))
            .inspect_result()
            .is_ok()
    );
    redeem.points = 16;
    let error = given_credited()
        .when(command(redeem))
        .inspect_result()
        .unwrap_err();
    assert_eq!(
        error,
        VolunteerError::InsufficientPoints {
            requested: 16,
            balance: 15,
        }
    );
    assert_eq!(
        error.to_string(),
        "积分不足：要兑换 16 分，当前余额只有 15 分"
    );
    given_registered()
        .when(command(redeem_points()))
        .then_expect_error(VolunteerError::InsufficientPoints {
            requested: 10,
            balance: 0,
        });
}

#[test]
fn redeeming_zero_points_is_refused() {
    let mut redeem = redeem_points();
    redeem.points = 0;
    given_credited()
        .when(command(redeem))
        .then_expect_error(VolunteerError::NoPointsToRedeem);
}

#[test]
fn redeem_points_without_a_reward_is_refused() {
    let mut redeem = redeem_points();
    redeem.reward = String::new();
    given_credited()
        .when(command(redeem))
        .then_expect_error(VolunteerError::BlankText {
            field: TextField::Reward,
        });
}

#[test]
fn redeem_points_dated_after_today_is_refused() {
    let mut redeem = redeem_points();
    redeem.redeemed_on = date(2026, 3, 21);
    given_credited()
        .when(command(redeem))
        .then_expect_error(VolunteerError::DateInFuture {
            field: DateField::RedeemedOn,
            date: date(2026, 3, 21),
            today: today(),
        });
}

// ---------------------------------------------------------------- deactivation

#[test]
fn deactivate_volunteer_stops_credits_and_redemptions() {
    given_credited()
        .when(command(deactivate_volunteer()))
        .then_expect_events(vec![volunteer_deactivated()]);
    let volunteer = replay(vec![
        volunteer_registered(),
        points_credited(),
        volunteer_deactivated(),
    ]);
    assert!(!volunteer.is_active());
    assert_eq!(volunteer.status(), Some(VolunteerStatus::Inactive));
    // The points are kept for when the volunteer comes back.
    assert_eq!(volunteer.balance(), 15);
}

#[test]
fn deactivate_volunteer_without_a_reason_is_refused() {
    let mut deactivate = deactivate_volunteer();
    deactivate.reason = String::new();
    given_registered()
        .when(command(deactivate))
        .then_expect_error(VolunteerError::BlankText {
            field: TextField::DeactivationReason,
        });
}

#[test]
fn deactivate_volunteer_dated_before_registration_is_refused() {
    let mut deactivate = deactivate_volunteer();
    deactivate.deactivated_on = date(2025, 1, 1);
    given_registered()
        .when(command(deactivate))
        .then_expect_error(VolunteerError::DateBeforeRegistration {
            field: DateField::DeactivatedOn,
            date: date(2025, 1, 1),
            registered_on: registered_on(),
        });
}

#[test]
fn reactivate_volunteer_makes_the_volunteer_active_again() {
    given_inactive()
        .when(command(reactivate_volunteer()))
        .then_expect_events(vec![volunteer_reactivated()]);
    let volunteer = replay(vec![
        volunteer_registered(),
        volunteer_deactivated(),
        volunteer_reactivated(),
    ]);
    assert!(volunteer.is_active());
}

#[test]
fn reactivating_an_active_volunteer_is_refused() {
    given_registered()
        .when(command(reactivate_volunteer()))
        .then_expect_error(VolunteerError::NotInactive);
}

#[test]
fn reactivate_volunteer_without_a_reason_is_refused() {
    let mut reactivate = reactivate_volunteer();
    reactivate.reason = "  ".to_owned();
    given_inactive()
        .when(command(reactivate))
        .then_expect_error(VolunteerError::BlankText {
            field: TextField::ReactivationReason,
        });
}

#[test]
fn reactivating_before_the_deactivation_is_refused() {
    let mut reactivate = reactivate_volunteer();
    reactivate.reactivated_on = date(2026, 3, 15);
    given_inactive()
        .when(command(reactivate))
        .then_expect_error(VolunteerError::ReactivatedBeforeDeactivated {
            reactivated_on: date(2026, 3, 15),
            deactivated_on: date(2026, 3, 16),
        });
}

// ---------------------------------------------------------------- balance

/// One step of a random history: credit some minutes for a fresh activity,
/// or try to redeem some points.
#[derive(Debug, Clone)]
enum Step {
    Credit(u32),
    Redeem(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u32..=600).prop_map(Step::Credit),
        (0u32..=120).prop_map(Step::Redeem),
    ]
}

proptest! {
    /// Whatever is asked, the balance is what was earned less what was
    /// spent, never below zero, and a redemption is accepted exactly when
    /// the balance covers it.
    #[test]
    fn the_balance_never_goes_below_zero(steps in proptest::collection::vec(step(), 0..40)) {
        let policy = PointsPolicy::default();
        let mut volunteer = replay(vec![volunteer_registered()]);
        let (mut earned, mut spent) = (0u64, 0u64);
        for (index, step) in steps.into_iter().enumerate() {
            let action: VolunteerAction = match step {
                Step::Credit(minutes) => CreditPoints {
                    source: CreditSource::Activity(Uuid::from_u128(index as u128 + 1)),
                    verified_minutes: minutes,
                    verified_by: verifier(),
                    verified_on: date(2026, 3, 1),
                }
                .into(),
                Step::Redeem(points) => RedeemPoints {
                    reward: "洗衣液一瓶".to_owned(),
                    points,
                    redeemed_on: date(2026, 3, 2),
                }
                .into(),
            };
            let balance = volunteer.balance();
            match (&step, volunteer.decide(&command(action), &policy)) {
                (Step::Credit(minutes), Ok(events)) => {
                    earned += u64::from(policy.points_for(*minutes));
                    events.into_iter().for_each(|event| volunteer.apply(event));
                }
                (Step::Redeem(points), Ok(events)) => {
                    prop_assert!(*points > 0 && u64::from(*points) <= balance);
                    spent += u64::from(*points);
                    events.into_iter().for_each(|event| volunteer.apply(event));
                }
                (Step::Redeem(points), Err(_)) => {
                    prop_assert!(*points == 0 || u64::from(*points) > balance);
                }
                (Step::Credit(_), Err(error)) => prop_assert!(false, "credit refused: {error}"),
            }
            prop_assert_eq!(volunteer.balance(), earned - spent);
        }
    }
}

// ---------------------------------------------------------------- state

#[test]
fn every_applied_event_increments_the_version() {
    let events = every_event();
    let count = events.len() as u64;
    assert_eq!(replay(events).version(), count);
    assert_eq!(Volunteer::default().version(), 0);
}

#[test]
fn the_state_holds_no_name_or_phone_and_survives_a_snapshot_round_trip() {
    let volunteer = replay(vec![
        volunteer_registered(),
        points_credited(),
        points_redeemed(),
    ]);
    let json = serde_json::to_string(&volunteer).unwrap();
    for personal in ["刘桂兰", PHONE] {
        assert!(
            !json.contains(personal),
            "snapshot leaks {personal}: {json}"
        );
    }
    let back: Volunteer = serde_json::from_str(&json).unwrap();
    assert_eq!(back, volunteer);
    assert!(back.has_credited(&CreditSource::Activity(activity())));
}

// ---------------------------------------------------------------- errors and JSON

fn one_of_each_error() -> Vec<VolunteerError> {
    vec![
        VolunteerError::NotRegistered,
        VolunteerError::AlreadyRegistered,
        VolunteerError::VolunteerInactive,
        VolunteerError::AlreadyInactive,
        VolunteerError::NotInactive,
        VolunteerError::DateInFuture {
            field: DateField::VerifiedOn,
            date: date(2026, 4, 1),
            today: today(),
        },
        VolunteerError::DateBeforeRegistration {
            field: DateField::VerifiedOn,
            date: date(2025, 1, 1),
            registered_on: registered_on(),
        },
        VolunteerError::ReactivatedBeforeDeactivated {
            reactivated_on: date(2026, 1, 1),
            deactivated_on: date(2026, 1, 2),
        },
        VolunteerError::BlankText {
            field: TextField::Name,
        },
        VolunteerError::InvalidPhone,
        VolunteerError::MinutesOutOfRange { minutes: 0 },
        VolunteerError::AlreadyCredited(CreditSource::Need(need())),
        VolunteerError::InvalidServiceVersion,
        VolunteerError::NoPointsToRedeem,
        VolunteerError::InsufficientPoints {
            requested: 2,
            balance: 1,
        },
    ]
}

#[test]
fn error_codes_are_unique_snake_case_and_messages_are_chinese() {
    let errors = one_of_each_error();
    let codes: BTreeSet<_> = errors.iter().map(VolunteerError::code).collect();
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
        assert!(!message.contains(PHONE), "{code} repeats the phone");
    }
}

#[test]
fn commands_deserialize_from_the_json_the_http_layer_sends() {
    let json = json!({
        "today": "2026-03-20",
        "action": {
            "CreditPoints": {
                "source": { "service": { "case_id": care_case(), "stream_version": 7 } },
                "verified_minutes": 90,
                "verified_by": verifier(),
                "verified_on": "2026-03-01"
            }
        }
    });
    let parsed: VolunteerCommand = serde_json::from_value(json).unwrap();
    let mut credit = credit_points();
    credit.source = CreditSource::Service {
        case_id: care_case(),
        stream_version: 7,
    };
    assert_eq!(parsed, command(credit));
    assert_eq!(
        serde_json::to_value(CreditSource::Need(need())).unwrap(),
        json!({ "need": need() })
    );
    for action in every_action() {
        let command = VolunteerCommand::new(today(), action);
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(
            serde_json::from_value::<VolunteerCommand>(json).unwrap(),
            command
        );
    }
}

// ---------------------------------------------------------------- event schema

/// Names every variant exhaustively, so adding a variant without a fixture
/// (and therefore without a snapshot) fails to compile here.
fn variant_name(event: &VolunteerEvent) -> &'static str {
    match event {
        VolunteerEvent::VolunteerRegistered(_) => "VolunteerRegistered",
        VolunteerEvent::PointsCredited(_) => "PointsCredited",
        VolunteerEvent::PointsRedeemed(_) => "PointsRedeemed",
        VolunteerEvent::VolunteerDeactivated(_) => "VolunteerDeactivated",
        VolunteerEvent::VolunteerReactivated(_) => "VolunteerReactivated",
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
    volunteer_registered_schema: volunteer_registered => "VolunteerRegistered",
    points_credited_schema: points_credited => "PointsCredited",
    points_redeemed_schema: points_redeemed => "PointsRedeemed",
    volunteer_deactivated_schema: volunteer_deactivated => "VolunteerDeactivated",
    volunteer_reactivated_schema: volunteer_reactivated => "VolunteerReactivated",
}

#[test]
fn every_event_round_trips_and_is_tagged_by_its_type() {
    let events = every_event();
    let names: BTreeSet<_> = events.iter().map(variant_name).collect();
    assert_eq!(names.len(), 5);
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
        let back: VolunteerEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}

#[test]
fn only_the_phone_is_sealed_and_it_reads_back_when_erased() {
    for event in every_event() {
        let expected: &[&str] = match event {
            VolunteerEvent::VolunteerRegistered(_) => &["phone"],
            _ => &[],
        };
        assert_eq!(event.sealed_fields(), expected);
    }
    let stored = json!({ "VolunteerRegistered": {
        "organization_id": organization(),
        "name": "刘桂兰",
        "phone": { "erased": true },
        "registered_on": "2025-09-01"
    }});
    let VolunteerEvent::VolunteerRegistered(registered) = serde_json::from_value(stored).unwrap()
    else {
        panic!("expected VolunteerRegistered")
    };
    assert!(registered.phone.is_erased());
    assert_eq!(registered.name, "刘桂兰");
}
