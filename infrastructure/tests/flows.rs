//! Whole flows of the aggregates through the application layer, on
//! SQLite and PostgreSQL: a need from household survey to the resident's
//! evaluation (一社一单), an activity from plan to completion with evidence
//! images, and a volunteer's points.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, NaiveDateTime};
use shouwang_domain::activity::*;
use shouwang_domain::care_case::{CaseAction, CaseCommand, OpenCase};
use shouwang_domain::evidence::{EvidenceError, ImageMediaType};
use shouwang_domain::need::*;
use shouwang_domain::organization::*;
use shouwang_domain::vocabulary::*;
use shouwang_domain::volunteer::*;
use shouwang_infrastructure::attachments::{AttachmentError, load_attachment};
use shouwang_infrastructure::{
    Application, CommandError, CommandMetadata, Database, EvidenceUploadError, MasterKey, Store,
};
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn at(d: u32, hour: u32) -> NaiveDateTime {
    day(d).and_hms_opt(hour, 0, 0).unwrap()
}

fn meta() -> CommandMetadata {
    CommandMetadata::system("flow-test")
}

async fn application(url: &str) -> Application {
    let db = Database::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    Application::new(
        Store::new(db, MasterKey::generate().1),
        PointsPolicy::default(),
    )
}

async fn register_organization(app: &Application, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    app.organizations
        .execute(
            &id.to_string(),
            OrganizationCommand::new(
                today(),
                RegisterOrganization {
                    name: name.into(),
                    credit_code: "91350100M000100Y43".into(),
                    kind: OrganizationKind::ALL[0],
                    level: RegionLevel::Township,
                    region_code: "360121100000".into(),
                    hub: false,
                    registered_on: day(1),
                },
            ),
            meta(),
        )
        .await
        .unwrap();
    id
}

async fn open_case(app: &Application) -> Uuid {
    let id = Uuid::now_v7();
    app.cases
        .execute(
            &id.to_string(),
            CaseCommand {
                today: today(),
                action: CaseAction::OpenCase(OpenCase {
                    name: "王秀英".into(),
                    gender: Gender::Female,
                    birth_date: NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(),
                    id_number: "11010519491231002X".into(),
                    phone: "13807910000".into(),
                    address: "莲塘镇东湖村 3 组 12 号".into(),
                    residence_region: "360121100001".into(),
                    categories: vec![CareCategory::EmptyNestElder],
                    identified_via: IdentificationChannel::ALL[0],
                    risk_level: RiskLevel::Medium,
                    organization_id: None,
                    opened_on: day(2),
                }),
            },
            meta(),
        )
        .await
        .unwrap();
    id
}

fn need(action: impl Into<NeedAction>) -> NeedCommand {
    NeedCommand::new(today(), action)
}

on_both_backends! {
    a_need_goes_from_survey_to_evaluation => need_flow;
    an_activity_goes_from_plan_to_completion_with_evidence => activity_flow;
    volunteer_points_are_credited_once_and_never_overdrawn => volunteer_flow;
}

async fn need_flow(url: &str) {
    let app = application(url).await;
    let station = register_organization(&app, "莲塘镇社工站").await;
    let other = register_organization(&app, "向塘镇志愿者协会").await;
    let case_id = open_case(&app).await;
    let need_id = Uuid::now_v7();

    app.execute_need(
        need_id,
        need(RaiseNeed {
            case_id: Some(case_id),
            region_code: "360121100001".into(),
            category: NeedCategory::Living,
            description: "独居老人家中灯泡损坏，夜间行动不便".into(),
            micro_wish: true,
            urgency: NeedUrgency::Pressing,
            source: NeedSource::HouseholdSurvey,
            raised_on: day(3),
        }),
        meta(),
    )
    .await
    .unwrap();

    // A suspended organization cannot receive the dispatch: the fact comes
    // from the Organization aggregate, whatever the client claimed.
    app.organizations
        .execute(
            &other.to_string(),
            OrganizationCommand::new(
                today(),
                SuspendOrganization {
                    reason: "年检未通过".into(),
                    suspended_on: day(4),
                },
            ),
            meta(),
        )
        .await
        .unwrap();
    let dispatch_to = |organization_id: Uuid, dispatched_on: NaiveDate| DispatchNeed {
        organization_id,
        organization_active: true,
        due_on: day(25),
        dispatched_on,
        instructions: String::new(),
    };
    let refused = app
        .execute_need(need_id, need(dispatch_to(other, day(5))), meta())
        .await;
    assert!(
        matches!(refused, Err(CommandError::Refused(NeedError::OrganizationInactive(id))) if id == other),
        "{refused:?}"
    );
    // An unknown organization is not active either.
    let unknown = app
        .execute_need(need_id, need(dispatch_to(Uuid::now_v7(), day(5))), meta())
        .await;
    assert!(matches!(
        unknown,
        Err(CommandError::Refused(NeedError::OrganizationInactive(_)))
    ));

    app.execute_need(need_id, need(dispatch_to(station, day(5))), meta())
        .await
        .unwrap();
    // Only the organization it was dispatched to may decline or accept.
    let wrong = app
        .execute_need(
            need_id,
            need(AcceptNeed {
                acting_organization_id: other,
                accepted_on: day(6),
            }),
            meta(),
        )
        .await;
    assert!(matches!(
        wrong,
        Err(CommandError::Refused(
            NeedError::NotAssignedOrganization { .. }
        ))
    ));
    app.execute_need(
        need_id,
        need(DeclineNeed {
            acting_organization_id: station,
            reason: "本周人手不足".into(),
            declined_on: day(6),
        }),
        meta(),
    )
    .await
    .unwrap();
    // Back on the ledger: dispatched again, accepted, fulfilled, evaluated.
    app.execute_need(need_id, need(dispatch_to(station, day(6))), meta())
        .await
        .unwrap();
    app.execute_need(
        need_id,
        need(AcceptNeed {
            acting_organization_id: station,
            accepted_on: day(7),
        }),
        meta(),
    )
    .await
    .unwrap();
    app.execute_need(
        need_id,
        need(RecordNeedProgress {
            acting_organization_id: station,
            note: "已购买灯泡".into(),
            recorded_on: day(8),
        }),
        meta(),
    )
    .await
    .unwrap();
    // Evaluation only after fulfilment.
    let early = app
        .execute_need(
            need_id,
            need(EvaluateNeed {
                satisfaction: 5,
                words: "很好".into(),
                evaluated_on: day(8),
            }),
            meta(),
        )
        .await;
    assert!(
        matches!(early, Err(CommandError::Refused(NeedError::NotFulfilled))),
        "{early:?}"
    );
    app.execute_need(
        need_id,
        need(FulfilNeed {
            acting_organization_id: station,
            what_was_done: "上门更换 3 个节能灯泡".into(),
            minutes: 45,
            money_fen: 0,
            material_value_fen: 3_600,
            evidence: Vec::new(),
            fulfilled_on: day(9),
        }),
        meta(),
    )
    .await
    .unwrap();
    app.execute_need(
        need_id,
        need(EvaluateNeed {
            satisfaction: 5,
            words: "灯亮了，晚上起夜放心多了".into(),
            evaluated_on: day(10),
        }),
        meta(),
    )
    .await
    .unwrap();
    // A fulfilled need cannot be dispatched again.
    let again = app
        .execute_need(need_id, need(dispatch_to(station, day(11))), meta())
        .await;
    assert!(matches!(again, Err(CommandError::Refused(_))), "{again:?}");

    let state = app
        .needs
        .event_store()
        .load_for_decision(&need_id.to_string())
        .await
        .unwrap();
    assert_eq!(state.aggregate.status(), Some(NeedStatus::Evaluated));
    assert_eq!(
        state.version, 8,
        "raise, dispatch, decline, dispatch, accept, progress, fulfil, evaluate"
    );
    assert!(
        !state.aggregate.is_overdue(day(30)),
        "a fulfilled need is never overdue"
    );
}

fn plan() -> PlanActivity {
    PlanActivity {
        name: "重阳节助老敲门行动".into(),
        organizer_name: "南昌县民政局".into(),
        organizer_organization_id: None,
        action_line: Some(ActionLine::ALL[0]),
        region_code: "360121100000".into(),
        region_level: RegionLevel::Township,
        place: "莲塘镇东湖村委会".into(),
        starts_at: at(10, 9),
        ends_at: at(10, 17),
        leader: "刘建国".into(),
    }
}

fn tiny_png(seed: u8) -> Vec<u8> {
    // The bytes are what count, not the file name: PNG signature and a little more.
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 13, b'I', b'H', b'D', b'R', seed, 1, 2, 3]);
    bytes
}

async fn activity_flow(url: &str) {
    let app = application(url).await;
    let case_id = open_case(&app).await;
    let id = Uuid::now_v7();
    let run = |action: ActivityAction| {
        app.execute_activity(
            id,
            ActivityCommand {
                today: today(),
                action,
            },
            meta(),
        )
    };
    run(ActivityAction::PlanActivity(plan())).await.unwrap();
    run(ActivityAction::AddParticipatingOrganization(
        AddParticipatingOrganization {
            organization_name: "莲塘镇社工站".into(),
            organization_id: None,
            headcount: 6,
        },
    ))
    .await
    .unwrap();
    run(ActivityAction::RecordFunds(RecordFunds {
        source: FundSource::ALL[0],
        money_fen: 150_000,
        material_value_fen: 82_050,
        note: "慰问品".into(),
    }))
    .await
    .unwrap();
    // Linked cases must exist: the application finds the missing one.
    let ghost = Uuid::now_v7();
    let missing = run(ActivityAction::RecordBeneficiaries(RecordBeneficiaries {
        person_times: 40,
        persons: 32,
        linked_case_ids: vec![case_id, ghost],
        missing_case_ids: Vec::new(),
    }))
    .await;
    assert!(
        matches!(&missing, Err(CommandError::Refused(ActivityError::LinkedCasesMissing(ids))) if ids == &vec![ghost]),
        "{missing:?}"
    );
    run(ActivityAction::RecordBeneficiaries(RecordBeneficiaries {
        person_times: 40,
        persons: 32,
        linked_case_ids: vec![case_id],
        missing_case_ids: Vec::new(),
    }))
    .await
    .unwrap();
    run(ActivityAction::RecordServiceTime(RecordServiceTime {
        minutes: 2_880,
    }))
    .await
    .unwrap();
    run(ActivityAction::WriteDetails(WriteDetails {
        details: "组织社工和志愿者入户走访 32 位空巢老人……".into(),
    }))
    .await
    .unwrap();

    // Evidence: checked by bytes; a text file named .jpg is refused and stores nothing.
    let not_image = app
        .upload_evidence(id, today(), b"just some notes", "photo.jpg", meta())
        .await;
    assert!(matches!(
        not_image,
        Err(EvidenceUploadError::Attachment(AttachmentError::Refused(
            EvidenceError::NotAnImage
        )))
    ));
    let first = tiny_png(1);
    let (stored, _) = app
        .upload_evidence(id, today(), &first, "现场照片1.jpg", meta())
        .await
        .unwrap();
    assert_eq!(
        stored.media_type,
        ImageMediaType::Png,
        "by bytes, not by the .jpg name"
    );
    let (media_type, bytes) = load_attachment(app.store().database(), &stored.sha256)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((media_type, bytes), (ImageMediaType::Png, first.clone()));
    // The same photo again is a duplicate for the activity.
    let duplicate = app
        .upload_evidence(id, today(), &first, "again.png", meta())
        .await;
    assert!(matches!(
        duplicate,
        Err(EvidenceUploadError::Command(CommandError::Refused(
            ActivityError::DuplicateEvidence
        )))
    ));
    app.upload_evidence(id, today(), &tiny_png(2), "现场照片2.png", meta())
        .await
        .unwrap();
    let third = app
        .upload_evidence(id, today(), &tiny_png(3), "3.png", meta())
        .await;
    assert!(matches!(
        third,
        Err(EvidenceUploadError::Command(CommandError::Refused(
            ActivityError::TooManyEvidenceImages
        )))
    ));
    let oversize = vec![0xFF_u8, 0xD8, 0xFF]
        .into_iter()
        .chain(std::iter::repeat_n(0, 5 * 1024 * 1024))
        .collect::<Vec<u8>>();
    let too_big = app
        .upload_evidence(id, today(), &oversize, "big.jpg", meta())
        .await;
    assert!(matches!(
        too_big,
        Err(EvidenceUploadError::Attachment(AttachmentError::Refused(
            EvidenceError::TooLarge { .. }
        )))
    ));

    run(ActivityAction::CompleteActivity(CompleteActivity {
        actual_starts_at: at(10, 9),
        actual_ends_at: at(10, 16),
        person_times: 40,
        persons: 32,
        service_minutes: 2_880,
        completed_on: day(11),
    }))
    .await
    .unwrap();
    let after = run(ActivityAction::WriteDetails(WriteDetails {
        details: "补充".into(),
    }))
    .await;
    assert!(
        matches!(
            after,
            Err(CommandError::Refused(ActivityError::AlreadyCompleted))
        ),
        "{after:?}"
    );

    let state = app
        .activities
        .event_store()
        .load_for_decision(&id.to_string())
        .await
        .unwrap();
    assert_eq!(state.aggregate.status(), Some(ActivityStatus::Completed));
    assert_eq!(state.aggregate.evidence().len(), 2);
}

async fn volunteer_flow(url: &str) {
    let app = application(url).await;
    let organization = register_organization(&app, "莲塘镇志愿者协会").await;
    let id = Uuid::now_v7().to_string();
    let run = |action: VolunteerAction| {
        app.volunteers.execute(
            &id,
            VolunteerCommand {
                today: today(),
                action,
            },
            meta(),
        )
    };
    run(VolunteerAction::RegisterVolunteer(RegisterVolunteer {
        organization_id: organization,
        name: "李志强".into(),
        phone: "13907910000".into(),
        registered_on: day(1),
    }))
    .await
    .unwrap();
    let activity = Uuid::now_v7();
    let credit = CreditPoints {
        source: CreditSource::Activity(activity),
        verified_minutes: 90,
        verified_by: Uuid::now_v7(),
        verified_on: day(12),
    };
    run(VolunteerAction::CreditPoints(credit.clone()))
        .await
        .unwrap();
    let twice = run(VolunteerAction::CreditPoints(credit)).await;
    assert!(
        matches!(
            twice,
            Err(CommandError::Refused(VolunteerError::AlreadyCredited(_)))
        ),
        "{twice:?}"
    );
    let state = app
        .volunteers
        .event_store()
        .load_for_decision(&id)
        .await
        .unwrap();
    let balance = state.aggregate.balance();
    assert_eq!(balance, u64::from(PointsPolicy::default().points_for(90)));
    let overdraw = run(VolunteerAction::RedeemPoints(RedeemPoints {
        reward: "爱心超市兑换".into(),
        points: u32::try_from(balance).unwrap() + 1,
        redeemed_on: day(13),
    }))
    .await;
    assert!(matches!(
        overdraw,
        Err(CommandError::Refused(
            VolunteerError::InsufficientPoints { .. }
        ))
    ));
    run(VolunteerAction::RedeemPoints(RedeemPoints {
        reward: "爱心超市兑换".into(),
        points: u32::try_from(balance).unwrap(),
        redeemed_on: day(13),
    }))
    .await
    .unwrap();
    let state = app
        .volunteers
        .event_store()
        .load_for_decision(&id)
        .await
        .unwrap();
    assert_eq!(state.aggregate.balance(), 0);
}
