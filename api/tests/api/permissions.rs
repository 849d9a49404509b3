//! The permission matrix, table-driven: every role × every endpoint group,
//! inside and outside the user's region scope, against the real server. The
//! expected answer comes from `authz::role_allows` — the one place the
//! matrix is written — so this test checks that every endpoint enforces it.

use chrono::NaiveDate;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shouwang_api::authz::{Operation, role_allows};
use shouwang_domain::care_case::{CaseAction, CaseCommand, OpenCase};
use shouwang_domain::need::{DispatchNeed, NeedAction, NeedCommand, RaiseNeed};
use shouwang_domain::organization::{
    OrganizationAction, OrganizationCommand, RegisterOrganization,
};
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_infrastructure::{Application, CommandMetadata};
use uuid::Uuid;

use crate::both;
use crate::helpers::*;

const OTHER_COUNTY: &str = "360122";
const OTHER_TOWNSHIP: &str = "360122100";

both! {
    every_role_and_endpoint_group_inside_and_outside_scope => matrix;
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

/// Records written straight through the application (not through the
/// endpoints under test): one inside every test user's scope, one outside.
struct Fixtures {
    application: Application,
}

impl Fixtures {
    async fn case(&self, region: &str) -> String {
        let id = Uuid::now_v7().to_string();
        let open: OpenCase = serde_json::from_value(open_case_body(region)).unwrap();
        self.application
            .cases
            .execute(
                &id,
                CaseCommand {
                    today: today(),
                    action: CaseAction::OpenCase(open),
                },
                CommandMetadata::system("fixture"),
            )
            .await
            .unwrap();
        id
    }

    async fn organization(&self, id: Uuid, county: &str) -> Uuid {
        let register: RegisterOrganization = serde_json::from_value(json!({
            "name": "测试社工服务中心", "credit_code": "91350100M000100Y43", "kind": "social_work_agency",
            "level": "county", "region_code": format!("{county}000000"), "hub": false, "registered_on": "2026-01-05"
        }))
        .unwrap();
        self.application
            .organizations
            .execute(
                &id.to_string(),
                OrganizationCommand {
                    today: today(),
                    action: OrganizationAction::RegisterOrganization(register),
                },
                CommandMetadata::system("fixture"),
            )
            .await
            .unwrap();
        id
    }

    async fn need(&self, region: &str, dispatched_to: Uuid) -> Uuid {
        let id = Uuid::now_v7();
        let raise: RaiseNeed = serde_json::from_value(json!({
            "case_id": null, "region_code": region, "category": "living", "description": "社区路灯损坏",
            "micro_wish": false, "urgency": "normal", "source": "household_survey", "raised_on": "2026-02-10"
        }))
        .unwrap();
        let meta = CommandMetadata::system("fixture");
        self.application
            .execute_need(
                id,
                NeedCommand {
                    today: today(),
                    action: NeedAction::RaiseNeed(raise),
                },
                meta,
            )
            .await
            .unwrap();
        let dispatch = DispatchNeed {
            organization_id: dispatched_to,
            organization_active: false,
            due_on: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
            dispatched_on: NaiveDate::from_ymd_opt(2026, 2, 11).unwrap(),
            instructions: String::new(),
        };
        self.application
            .execute_need(
                id,
                NeedCommand {
                    today: today(),
                    action: NeedAction::DispatchNeed(dispatch),
                },
                CommandMetadata::system("fixture"),
            )
            .await
            .unwrap();
        id
    }
}

/// One request of an endpoint group, against a record inside or outside
/// scope.
struct Probe {
    operation: Operation,
    method: Method,
    path: String,
    body: Option<Value>,
}

async fn call(app: &TestApp, user: &str, probe: &Probe) -> StatusCode {
    let mut request = app
        .client
        .request(probe.method.clone(), app.url(&probe.path))
        .bearer_auth(&app.tokens[user]);
    if let Some(body) = &probe.body {
        request = request.json(body);
    }
    request.send().await.unwrap().status()
}

fn post(operation: Operation, path: String, body: Value) -> Probe {
    Probe {
        operation,
        method: Method::POST,
        path,
        body: Some(body),
    }
}

fn get(operation: Operation, path: String) -> Probe {
    Probe {
        operation,
        method: Method::GET,
        path,
        body: None,
    }
}

async fn probes(
    fixtures: &Fixtures,
    inside: bool,
    own_organization: Uuid,
    other_organization: Uuid,
) -> Vec<Probe> {
    let (region, township, county) = if inside {
        (VILLAGE, TOWNSHIP, COUNTY)
    } else {
        (ELSEWHERE, OTHER_TOWNSHIP, OTHER_COUNTY)
    };
    let case = fixtures.case(region).await;
    let organization = if inside {
        own_organization
    } else {
        other_organization
    };
    let need = fixtures.need(region, organization).await;
    vec![
        post(
            Operation::OpenCase,
            "/api/v1/cases".into(),
            open_case_body(region),
        ),
        post(
            Operation::RecordOnCase,
            format!("/api/v1/cases/{case}/visits"),
            visit_body("2026-02-01"),
        ),
        post(
            Operation::ManageCase,
            format!("/api/v1/cases/{case}/risk"),
            json!({ "level": "medium", "factors": [], "assessed_on": "2026-02-01" }),
        ),
        get(Operation::ReadCases, format!("/api/v1/cases/{case}")),
        post(
            Operation::RevealPersonalData,
            format!("/api/v1/cases/{case}/personal-data"),
            json!({ "reason": "核实联系方式" }),
        ),
        get(
            Operation::ReplayCases,
            format!("/api/v1/cases/{case}/replay"),
        ),
        post(
            Operation::ErasePersonalData,
            format!("/api/v1/cases/{}/erasure", fixtures.case(region).await),
            json!({ "legal_basis": "本人撤回同意" }),
        ),
        post(
            Operation::ManageOrganizations,
            format!("/api/v1/organizations/{organization}/supply"),
            json!({ "service_type": "legal_aid", "areas": [county], "description": "法律咨询" }),
        ),
        get(
            Operation::ReadOrganizations,
            format!("/api/v1/organizations/{organization}"),
        ),
        post(
            Operation::ManageVolunteers,
            "/api/v1/volunteers".into(),
            json!({ "organization_id": organization, "name": "张志愿", "phone": "13807910001", "registered_on": "2026-01-10" }),
        ),
        post(
            Operation::RaiseNeed,
            "/api/v1/needs".into(),
            json!({ "case_id": null, "region_code": region, "category": "living", "description": "x",
                    "micro_wish": false, "urgency": "normal", "source": "household_survey", "raised_on": "2026-02-10" }),
        ),
        post(
            Operation::DispatchNeed,
            format!("/api/v1/needs/{need}/withdraw"),
            json!({ "reason": "重复登记", "withdrawn_on": "2026-02-12" }),
        ),
        post(
            Operation::RespondToDispatch,
            format!("/api/v1/needs/{need}/accept"),
            json!({ "accepted_on": "2026-02-12" }),
        ),
        post(
            Operation::EvaluateNeed,
            format!("/api/v1/needs/{need}/evaluation"),
            json!({ "satisfaction": 5, "words": "满意", "evaluated_on": "2026-02-13" }),
        ),
        post(
            Operation::EscalateNeed,
            format!("/api/v1/needs/{need}/escalate"),
            json!({ "to": "city", "department": null, "reason": "县内无法解决", "escalated_on": "2026-02-12" }),
        ),
        post(
            Operation::ManageActivities,
            "/api/v1/activities".into(),
            json!({ "name": "助老敲门", "organizer_name": "社工站", "action_line": "knocking_for_elders",
                    "region_code": region, "region_level": "village", "place": "村委会",
                    "starts_at": "2026-03-01T09:00:00", "ends_at": "2026-03-01T11:00:00", "leader": "李社工" }),
        ),
        get(
            Operation::ReadReports,
            format!("/api/v1/needs-ledger/{township}"),
        ),
        post(
            Operation::GenerateReports,
            "/api/v1/reports".into(),
            json!({ "period": "2026-01", "region": county }),
        ),
        get(
            Operation::ReadAudit,
            format!("/api/v1/audit?region={county}"),
        ),
    ]
}

async fn matrix(app: TestApp) {
    let fixtures = Fixtures {
        application: Application::new(app.store.clone(), PointsPolicy::default()),
    };
    // The test users' organization is registered in the test county; another
    // organization lies in the neighbouring county.
    let own = fixtures.organization(app.organization, COUNTY).await;
    let other = fixtures.organization(Uuid::now_v7(), OTHER_COUNTY).await;
    let mut checked = 0;
    for (user, role, scope, _) in USERS {
        for inside in [true, false] {
            for probe in probes(&fixtures, inside, own, other).await {
                let status = call(&app, user, &probe).await;
                // The admin's scope is the whole country: nothing is outside it.
                let in_scope = inside || scope.is_empty();
                let expected_allowed = in_scope && role_allows(*role, probe.operation);
                let allowed = status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED;
                assert_eq!(
                    allowed,
                    expected_allowed,
                    "{user} ({role:?}) {:?} {} {} {} → {status}",
                    probe.operation,
                    probe.method,
                    probe.path,
                    if inside {
                        "inside scope"
                    } else {
                        "outside scope"
                    }
                );
                checked += 1;
            }
        }
        // User administration has no region.
        let users = get(Operation::ManageUsers, "/api/v1/users".into());
        let allowed = call(&app, user, &users).await != StatusCode::FORBIDDEN;
        assert_eq!(
            allowed,
            role_allows(*role, Operation::ManageUsers),
            "{user} users"
        );
        checked += 1;
    }
    assert!(checked >= USERS.len() * 39, "{checked} probes");
}
