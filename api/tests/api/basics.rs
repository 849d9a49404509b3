//! Authentication, the error classes, idempotent retries, health, the API
//! document and page.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both;
use crate::helpers::*;

both! {
    health_readiness_and_metrics => health;
    logins_and_sessions => logins;
    every_error_class_is_a_problem_with_a_stable_code => error_classes;
    a_retried_write_returns_the_first_response_and_writes_nothing_twice => idempotent_retry;
}

async fn health(app: TestApp) {
    assert_eq!(app.get(None, "/healthz").await.status(), StatusCode::OK);
    let ready = app.get(None, "/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], true);
    app.open_case("worker", VILLAGE).await;
    let metrics = app.get(None, "/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(
            "shouwang_http_requests_total{method=\"POST\",route=\"/api/v1/cases\",status=\"201\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("shouwang_events_appended_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shouwang_projection_lag_events"),
        "{metrics}"
    );
    assert!(
        metrics.contains("shouwang_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

async fn logins(app: TestApp) {
    let me: Value = app
        .get(Some("worker"), "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["username"].as_str(), me["role"].as_str()),
        (Some("worker"), Some("social_worker"))
    );
    let wrong = app
        .post_json(
            None,
            "/api/v1/auth/login",
            &json!({ "username": "worker", "password": "wrong password" }),
        )
        .await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "bad_credentials").await;
    for _ in 0..4 {
        app.post_json(
            None,
            "/api/v1/auth/login",
            &json!({ "username": "auditor", "password": "nope nope nope" }),
        )
        .await;
    }
    app.post_json(
        None,
        "/api/v1/auth/login",
        &json!({ "username": "auditor", "password": "nope nope nope" }),
    )
    .await;
    let limited = app
        .post_json(
            None,
            "/api/v1/auth/login",
            &json!({ "username": "auditor", "password": PASSWORD }),
        )
        .await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "login_rate_limited").await;
    // Logout ends the session.
    let logout = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&app.tokens["worker"])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(Some("worker"), "/api/v1/auth/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

async fn error_classes(app: TestApp) {
    let (case_id, _) = app.open_case("worker", VILLAGE).await;
    let visits = format!("/api/v1/cases/{case_id}/visits");
    // 401: no or bad token.
    assert_problem(
        app.post_json(None, &visits, &visit_body("2026-02-01"))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let bad_token = app
        .client
        .post(app.url(&visits))
        .bearer_auth("not-a-token")
        .json(&visit_body("2026-02-01"))
        .send()
        .await
        .unwrap();
    assert_problem(bad_token, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // 400: malformed JSON, and a wrong type naming the field.
    let malformed = app
        .client
        .post(app.url(&visits))
        .bearer_auth(&app.tokens["worker"])
        .header("content-type", "application/json")
        .body("{\"visited_on\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, StatusCode::BAD_REQUEST, "malformed_json").await;
    let mut wrong_type = visit_body("2026-02-01");
    wrong_type["minutes"] = json!("forty");
    let problem = assert_problem(
        app.post_json(Some("worker"), &visits, &wrong_type).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    )
    .await;
    assert_eq!(problem["field"], "minutes", "{problem}");
    let bad_id = app
        .post_json(
            Some("worker"),
            "/api/v1/cases/not-a-uuid/visits",
            &visit_body("2026-02-01"),
        )
        .await;
    assert_problem(bad_id, StatusCode::BAD_REQUEST, "invalid_path").await;
    // 422: the domain refuses, with the domain's code and a Chinese detail.
    let future = app
        .post_json(Some("worker"), &visits, &visit_body("2999-01-01"))
        .await;
    let problem = assert_problem(future, StatusCode::UNPROCESSABLE_ENTITY, "date_in_future").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("走访"),
        "{problem}"
    );
    // 403: role (auditors never write) and scope.
    assert_problem(
        app.post_json(Some("auditor"), &visits, &visit_body("2026-02-01"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_json(Some("worker"), "/api/v1/cases", &open_case_body(ELSEWHERE))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // 404: no such case, no such route; 405: wrong method.
    let missing = format!("/api/v1/cases/{}/visits", Uuid::now_v7());
    assert_problem(
        app.post_json(Some("worker"), &missing, &visit_body("2026-02-01"))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), "/api/v1/nowhere").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), "/api/v1/auth/login").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    // Bad input changed nothing: the case has only its opening event.
    assert_eq!(app.store.stream_version(&case_id).await.unwrap(), 1);
    // Every response carries a request id, also in problem bodies.
    let response = app.get(Some("worker"), "/api/v1/nowhere").await;
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request_id"], header);
}

async fn idempotent_retry(app: TestApp) {
    let key = Uuid::now_v7();
    let first = app
        .post_with_key(
            Some("worker"),
            "/api/v1/cases",
            &open_case_body(VILLAGE),
            Some(key),
        )
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let retry = app
        .post_with_key(
            Some("worker"),
            "/api/v1/cases",
            &open_case_body(VILLAGE),
            Some(key),
        )
        .await;
    assert_eq!(retry.status(), StatusCode::OK);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["replayed"], true);
    for field in ["id", "stream_version", "position", "command_id"] {
        assert_eq!(first[field], retry[field], "{field}");
    }
    assert_eq!(
        app.store.last_position().await.unwrap(),
        first["position"].as_i64().unwrap()
    );
    let case_id = first["id"].as_str().unwrap();
    let visits = format!("/api/v1/cases/{case_id}/visits");
    let visit_key = Uuid::now_v7();
    let a: Value = app
        .post_with_key(
            Some("worker"),
            &visits,
            &visit_body("2026-02-01"),
            Some(visit_key),
        )
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .post_with_key(
            Some("worker"),
            &visits,
            &visit_body("2026-02-01"),
            Some(visit_key),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (a["stream_version"].as_u64(), b["stream_version"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(b["replayed"], true);
    // The same key for a different command is refused and writes nothing.
    let reused = app
        .post_with_key(
            Some("worker"),
            &visits,
            &visit_body("2026-02-02"),
            Some(visit_key),
        )
        .await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    let bad_key = app
        .client
        .post(app.url(&visits))
        .bearer_auth(&app.tokens["worker"])
        .header("Idempotency-Key", "yesterday")
        .json(&visit_body("2026-02-01"))
        .send()
        .await
        .unwrap();
    assert_problem(bad_key, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
    assert_eq!(app.store.stream_version(case_id).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_the_api_page() {
    let app = spawn_app(false).await;
    let document: Value = app
        .get(None, "/api/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    insta::assert_json_snapshot!("openapi", document);
    let page = app.get(None, "/api/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/v1/cases/{id}/visits"));
    assert!(
        !html.contains("http://cdn") && !html.contains("https://"),
        "nothing is fetched from elsewhere"
    );
}

both! {
    an_internal_error_shows_only_the_request_id => internal_error;
}

/// A broken database table makes the query fail inside the server: the
/// client gets a 500 with the request id and nothing internal.
async fn internal_error(app: TestApp) {
    let (case_id, position) = app.open_case("worker", VILLAGE).await;
    let ready = app
        .get(
            Some("worker"),
            &format!("/api/v1/cases/{case_id}?after={position}"),
        )
        .await;
    assert_eq!(ready.status(), StatusCode::OK);
    shouwang_infrastructure::with_pool!(app.store.database(), pool => {
        sqlx::query("ALTER TABLE case_timeline RENAME TO case_timeline_broken").execute(pool).await.unwrap();
    });
    let response = app
        .get(Some("worker"), &format!("/api/v1/cases/{case_id}"))
        .await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let problem = assert_problem(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    )
    .await;
    assert_eq!(problem["request_id"], request_id);
    let text = problem.to_string();
    for internal in ["case_timeline", "sqlx", "SQL", "table"] {
        assert!(!text.contains(internal), "{internal} leaked: {text}");
    }
}
