//! User administration over HTTP: admins only.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

both! {
    admins_manage_users_and_nobody_else_does => manage_users;
}

async fn manage_users(app: TestApp) {
    let new_user = json!({
        "username": "newcomer", "display_name": "新社工", "role": "social_worker",
        "region_scope": TOWNSHIP, "organization_id": null, "password": "a long enough password"
    });
    for role in ["worker", "supervisor", "official", "auditor"] {
        assert_problem(
            app.post_json(Some(role), "/api/v1/users", &new_user).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_problem(
            app.get(Some(role), "/api/v1/users").await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let created = app
        .post_json(Some("admin"), "/api/v1/users", &new_user)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let again = app
        .post_json(Some("admin"), "/api/v1/users", &new_user)
        .await;
    assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "invalid_user").await;
    let mut weak = new_user.clone();
    weak["username"] = json!("weakling");
    weak["password"] = json!("short");
    assert_problem(
        app.post_json(Some("admin"), "/api/v1/users", &weak).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_user",
    )
    .await;
    let listed: Vec<Value> = app
        .get(Some("admin"), "/api/v1/users")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed
            .iter()
            .any(|u| u["username"] == "newcomer" && u["role"] == "social_worker")
    );

    let login = |password: &'static str| {
        let body = json!({ "username": "newcomer", "password": password });
        let app = &app;
        async move { app.post_json(None, "/api/v1/auth/login", &body).await }
    };
    assert_eq!(
        login("a long enough password").await.status(),
        StatusCode::OK
    );
    let reset = app
        .post_json(
            Some("admin"),
            "/api/v1/users/newcomer/password",
            &json!({ "password": "another long password" }),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        login("a long enough password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login("another long password").await.status(),
        StatusCode::OK
    );
    let disabled = app
        .post_json(Some("admin"), "/api/v1/users/newcomer/disable", &json!({}))
        .await;
    assert_eq!(disabled.status(), StatusCode::NO_CONTENT);
    assert_problem(
        login("another long password").await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    assert_problem(
        app.post_json(Some("admin"), "/api/v1/users/nobody/disable", &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
