//! `spawn_app`: a real server on port 0 with a fresh database, a running
//! projector and one logged-in user per role.

use std::collections::HashMap;

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use shouwang_api::{ApiSettings, AppState};
use shouwang_domain::vocabulary::UserRole;
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_infrastructure::users::{NewUser, add_user};
use shouwang_infrastructure::{Application, Database, MasterKey, Store};
use shouwang_projections::Projector;
use uuid::Uuid;

pub const PASSWORD: &str = "test password 123";
/// The test county and township.
pub const COUNTY: &str = "360121";
pub const TOWNSHIP: &str = "360121100";
pub const VILLAGE: &str = "360121100001";
/// A region outside every test user's scope (except admin).
pub const ELSEWHERE: &str = "360122100001";

pub enum Backend {
    Sqlite(shouwang_testkit::SqliteTestDatabase),
    Postgres(shouwang_testkit::PgTestDatabase),
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub store: Store,
    /// username → bearer token
    pub tokens: HashMap<&'static str, String>,
    pub organization: Uuid,
    _database: Backend,
}

/// The users every test app has: (username, role, scope, in the organization).
pub const USERS: &[(&str, UserRole, &str, bool)] = &[
    ("worker", UserRole::SocialWorker, TOWNSHIP, true),
    ("supervisor", UserRole::Supervisor, COUNTY, true),
    ("official", UserRole::Official, COUNTY, false),
    ("auditor", UserRole::Auditor, COUNTY, false),
    ("admin", UserRole::Admin, "", false),
];

pub async fn spawn_app(postgres: bool) -> TestApp {
    let database = if postgres {
        Backend::Postgres(shouwang_testkit::postgres_database().await)
    } else {
        Backend::Sqlite(shouwang_testkit::sqlite_database())
    };
    let url = match &database {
        Backend::Sqlite(db) => db.url().to_owned(),
        Backend::Postgres(db) => db.url().to_owned(),
    };
    let db = Database::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let store = Store::new(db, MasterKey::generate().1);
    let organization = Uuid::now_v7();
    for (username, role, scope, in_organization) in USERS {
        add_user(
            store.database(),
            NewUser {
                username: (*username).to_owned(),
                display_name: format!("测试{username}"),
                role: *role,
                region_scope: (*scope).to_owned(),
                organization_id: in_organization.then_some(organization),
                password: PASSWORD.to_owned(),
            },
        )
        .await
        .unwrap();
    }
    let projector = Projector::new(store.clone(), shouwang_projections::all_projections());
    projector.prepare().await.unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    {
        let projector = projector.clone();
        tokio::spawn(async move {
            let _keep_sender_alive = _stop;
            projector.run(stopped).await
        });
    }
    let state = AppState::new(
        Application::new(store.clone(), PointsPolicy::default()),
        projector,
        ApiSettings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(shouwang_api::serve(listener, state, std::future::pending()));
    let client = Client::new();
    let mut app = TestApp {
        address,
        client,
        store,
        tokens: HashMap::new(),
        organization,
        _database: database,
    };
    for (username, ..) in USERS {
        let response = app
            .post_json(
                None,
                "/api/v1/auth/login",
                &serde_json::json!({ "username": username, "password": PASSWORD }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        app.tokens
            .insert(username, body["token"].as_str().unwrap().to_owned());
    }
    app
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, user: Option<&str>, path: &str) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(user) = user {
            request = request.bearer_auth(&self.tokens[user]);
        }
        request.send().await.unwrap()
    }

    pub async fn post_json(&self, user: Option<&str>, path: &str, body: &Value) -> Response {
        self.post_with_key(user, path, body, None).await
    }

    pub async fn post_with_key(
        &self,
        user: Option<&str>,
        path: &str,
        body: &Value,
        key: Option<Uuid>,
    ) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(user) = user {
            request = request.bearer_auth(&self.tokens[user]);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key.to_string());
        }
        request.send().await.unwrap()
    }

    /// Opens a case in `region` as `user`; returns its id and the position.
    pub async fn open_case(&self, user: &str, region: &str) -> (String, i64) {
        let response = self
            .post_json(Some(user), "/api/v1/cases", &open_case_body(region))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        let body: Value = response.json().await.unwrap();
        (
            body["id"].as_str().unwrap().to_owned(),
            body["position"].as_i64().unwrap(),
        )
    }
}

pub fn open_case_body(region: &str) -> Value {
    serde_json::json!({
        "name": "王秀英",
        "gender": "female",
        "birth_date": "1949-12-31",
        "id_number": "11010519491231002X",
        "phone": "13807910000",
        "address": "莲塘镇东湖村 3 组 12 号",
        "residence_region": region,
        "categories": ["empty_nest_elder"],
        "identified_via": "visit_discovery",
        "risk_level": "high",
        "organization_id": null,
        "opened_on": "2026-01-05"
    })
}

pub fn visit_body(date: &str) -> Value {
    serde_json::json!({
        "visited_on": date,
        "visitor_ids": [Uuid::nil()],
        "method": "home_visit",
        "minutes": 40,
        "findings": "身体状况平稳",
        "wellbeing_notes": "夜间失眠",
        "follow_up_needed": false
    })
}

/// Asserts a problem response and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "expected {status} {code}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

/// Runs an async test body on both backends.
#[macro_export]
macro_rules! both {
    ($($name:ident => $body:ident;)+) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$body($crate::helpers::spawn_app(false).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$body($crate::helpers::spawn_app(true).await).await;
                }
            }
        )+
    };
}
