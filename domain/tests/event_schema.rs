//! The stored form of every event is persistent schema. These snapshots
//! fail when a field is renamed, retyped or removed: if that is intended,
//! raise the event's schema version and add an upcaster, then accept the
//! new snapshot.

mod fixtures;

use std::collections::BTreeSet;

use cqrs_es::DomainEvent;
use serde_json::{Value, json};
use shouwang_domain::care_case::CaseEvent;
use shouwang_domain::{Personal, PersonalData};

use fixtures::*;

/// Names every variant exhaustively, so adding a variant without a
/// fixture (and therefore without a snapshot) fails to compile here.
fn variant_name(event: &CaseEvent) -> &'static str {
    match event {
        CaseEvent::CaseOpened(_) => "CaseOpened",
        CaseEvent::CategoriesChanged(_) => "CategoriesChanged",
        CaseEvent::ProfileRecorded(_) => "ProfileRecorded",
        CaseEvent::RiskAssessed(_) => "RiskAssessed",
        CaseEvent::CaregiverAssigned(_) => "CaregiverAssigned",
        CaseEvent::CaregiverReleased(_) => "CaregiverReleased",
        CaseEvent::VisitRecorded(_) => "VisitRecorded",
        CaseEvent::ServiceDelivered(_) => "ServiceDelivered",
        CaseEvent::ReferralMade(_) => "ReferralMade",
        CaseEvent::ReferralResolved(_) => "ReferralResolved",
        CaseEvent::OutcomeRecorded(_) => "OutcomeRecorded",
        CaseEvent::CaseTransferred(_) => "CaseTransferred",
        CaseEvent::CaseClosed(_) => "CaseClosed",
        CaseEvent::CaseReopened(_) => "CaseReopened",
        CaseEvent::EntryCorrected(_) => "EntryCorrected",
        CaseEvent::PersonalDataErased(_) => "PersonalDataErased",
    }
}

/// The payload object inside `{"Variant": {...}}`.
fn payload(event: &CaseEvent) -> serde_json::Map<String, Value> {
    let Value::Object(outer) = serde_json::to_value(event).expect("event serializes") else {
        panic!("event did not serialize as an object");
    };
    assert_eq!(outer.len(), 1, "externally tagged: exactly one key");
    let (tag, inner) = outer.into_iter().next().expect("one key");
    assert_eq!(tag, event.event_type());
    let Value::Object(inner) = inner else {
        panic!("payload of {tag} is not an object");
    };
    inner
}

#[test]
fn fixtures_cover_every_event_variant_once() {
    let names: BTreeSet<_> = every_event().iter().map(variant_name).collect();
    assert_eq!(names.len(), 16);
    assert_eq!(every_event().len(), 16);
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
    case_opened_schema: case_opened => "CaseOpened",
    categories_changed_schema: categories_changed => "CategoriesChanged",
    profile_recorded_schema: profile_recorded => "ProfileRecorded",
    risk_assessed_schema: risk_assessed => "RiskAssessed",
    caregiver_assigned_schema: caregiver_assigned => "CaregiverAssigned",
    caregiver_released_schema: caregiver_released => "CaregiverReleased",
    visit_recorded_schema: visit_recorded => "VisitRecorded",
    service_delivered_schema: service_delivered => "ServiceDelivered",
    referral_made_schema: referral_made => "ReferralMade",
    referral_resolved_schema: referral_resolved => "ReferralResolved",
    outcome_recorded_schema: outcome_recorded => "OutcomeRecorded",
    case_transferred_schema: case_transferred => "CaseTransferred",
    case_closed_schema: case_closed => "CaseClosed",
    case_reopened_schema: case_reopened => "CaseReopened",
    entry_corrected_schema: entry_corrected => "EntryCorrected",
    personal_data_erased_schema: personal_data_erased => "PersonalDataErased",
}

#[test]
fn every_event_round_trips_through_json() {
    for event in every_event() {
        let json = serde_json::to_value(&event).unwrap();
        let back: CaseEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}

#[test]
fn event_type_is_the_variant_name_and_version_is_one() {
    for event in every_event() {
        assert_eq!(event.event_type(), variant_name(&event));
        assert_eq!(event.event_version(), "1");
    }
}

#[test]
fn payload_field_names_are_snake_case() {
    for event in every_event() {
        for field in payload(&event).keys() {
            assert!(
                field
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}.{field} is not snake_case",
                event.event_type()
            );
        }
    }
}

#[test]
fn sealed_fields_are_as_agreed_with_the_store() {
    let sealed = |event: CaseEvent| event.sealed_fields().to_vec();
    assert_eq!(sealed(case_opened()), ["id_number", "phone", "address"]);
    assert_eq!(
        sealed(profile_recorded()),
        ["health", "care_situation", "notes"]
    );
    assert_eq!(sealed(visit_recorded()), ["wellbeing_notes"]);
    assert_eq!(sealed(entry_corrected()), ["corrected_fields"]);
    assert_eq!(sealed(referral_made()), ["reason"]);
    assert_eq!(sealed(referral_resolved()), ["answer"]);
    let unsealed: Vec<_> = every_event()
        .into_iter()
        .filter(|event| event.sealed_fields().is_empty())
        .map(|event| event.event_type())
        .collect();
    assert_eq!(unsealed.len(), 10, "unexpectedly sealed: {unsealed:?}");
}

#[test]
fn every_sealed_field_is_a_top_level_payload_field() {
    for event in every_event() {
        let payload = payload(&event);
        for field in event.sealed_fields() {
            assert!(
                payload.contains_key(*field),
                "{} has no field {field}",
                event.event_type()
            );
        }
    }
}

/// After erasure the store hands back `{"erased": true}` for each sealed
/// field; the event must still deserialize and show the value as erased.
#[test]
fn events_with_erased_sealed_fields_still_deserialize() {
    for event in every_event() {
        let mut payload = payload(&event);
        for field in event.sealed_fields() {
            payload.insert((*field).to_owned(), json!({ "erased": true }));
        }
        let stored = json!({ event.event_type(): payload });
        let back: CaseEvent = serde_json::from_value(stored)
            .unwrap_or_else(|error| panic!("{}: {error}", event.event_type()));
        match back {
            CaseEvent::CaseOpened(opened) => {
                assert!(opened.id_number.is_erased());
                assert!(opened.phone.is_erased());
                assert!(opened.address.is_erased());
                assert_eq!(opened.name, "王秀英");
            }
            CaseEvent::ProfileRecorded(profile) => {
                assert!(profile.health.is_erased());
                assert!(profile.care_situation.is_erased());
                assert!(profile.notes.is_erased());
            }
            CaseEvent::VisitRecorded(visit) => assert!(visit.wellbeing_notes.is_erased()),
            CaseEvent::ReferralMade(referral) => assert!(referral.reason.is_erased()),
            CaseEvent::ReferralResolved(resolution) => assert!(resolution.answer.is_erased()),
            CaseEvent::EntryCorrected(correction) => {
                assert!(correction.corrected_fields.is_erased());
            }
            other => assert!(other.sealed_fields().is_empty()),
        }
    }
}

#[test]
fn case_opened_is_findable_by_id_number() {
    assert_eq!(
        case_opened().blind_index_terms(),
        vec![("id_number", ID_NUMBER.to_owned())]
    );
    let CaseEvent::CaseOpened(mut opened) = case_opened() else {
        unreachable!()
    };
    opened.id_number = Personal::erased();
    assert!(CaseEvent::CaseOpened(opened).blind_index_terms().is_empty());
    for event in every_event().into_iter().skip(1) {
        assert!(event.blind_index_terms().is_empty());
    }
}

#[test]
fn only_personal_data_erased_destroys_the_key() {
    for event in every_event() {
        assert_eq!(
            event.erases_personal_data(),
            matches!(event, CaseEvent::PersonalDataErased(_)),
            "{}",
            event.event_type()
        );
    }
}
