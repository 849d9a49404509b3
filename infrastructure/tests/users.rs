//! Users, logins, sessions and break-the-glass grants on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use shouwang_domain::vocabulary::UserRole;
use shouwang_infrastructure::Database;
use shouwang_infrastructure::users::*;
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

async fn database(url: &str) -> Database {
    let db = Database::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    db
}

fn worker(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: "张社工".into(),
        role: UserRole::SocialWorker,
        region_scope: "360121100".into(),
        organization_id: Some(Uuid::from_u128(1)),
        password: "correct horse battery".into(),
    }
}

on_both_backends! {
    users_log_in_and_sessions_end => login_and_sessions;
    failed_logins_are_rate_limited_per_account => rate_limit;
    break_the_glass_is_time_limited_and_recorded => break_glass;
}

async fn login_and_sessions(url: &str) {
    let db = database(url).await;
    let policy = SessionPolicy::default();
    let added = add_user(&db, worker("zhang")).await.unwrap();
    assert!(matches!(
        add_user(&db, worker("zhang")).await,
        Err(UserError::UsernameTaken(_))
    ));
    assert!(matches!(
        add_user(
            &db,
            NewUser {
                password: "short".into(),
                ..worker("lisi")
            }
        )
        .await,
        Err(UserError::WeakPassword)
    ));
    assert!(matches!(
        add_user(
            &db,
            NewUser {
                region_scope: "3601211".into(),
                ..worker("wang")
            }
        )
        .await,
        Err(UserError::InvalidScope)
    ));
    assert_eq!(list_users(&db).await.unwrap(), vec![added.clone()]);

    assert!(matches!(
        login(&db, "zhang", "wrong password!!", &policy).await,
        Err(UserError::BadCredentials)
    ));
    assert!(matches!(
        login(&db, "nobody", "correct horse battery", &policy).await,
        Err(UserError::BadCredentials)
    ));
    let session = login(&db, "zhang", "correct horse battery", &policy)
        .await
        .unwrap();
    assert_eq!(session.token.len(), 64);
    assert_eq!(
        session_user(&db, &session.token).await.unwrap(),
        Some(added.clone())
    );
    // Only the hash of the token is stored.
    let stored: Vec<String> = shouwang_infrastructure::with_pool!(&db, pool => {
        sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_all(pool).await.unwrap()
    });
    assert!(!stored.contains(&session.token));

    revoke_session(&db, &session.token).await.unwrap();
    assert_eq!(session_user(&db, &session.token).await.unwrap(), None);

    // Resetting the password ends sessions; the new password works.
    let second = login(&db, "zhang", "correct horse battery", &policy)
        .await
        .unwrap();
    reset_password(&db, "zhang", "a new long password")
        .await
        .unwrap();
    assert_eq!(session_user(&db, &second.token).await.unwrap(), None);
    let third = login(&db, "zhang", "a new long password", &policy)
        .await
        .unwrap();
    // Disabling ends sessions and refuses logins.
    disable_user(&db, "zhang").await.unwrap();
    assert_eq!(session_user(&db, &third.token).await.unwrap(), None);
    assert!(matches!(
        login(&db, "zhang", "a new long password", &policy).await,
        Err(UserError::Disabled)
    ));
    // Expired sessions are not accepted.
    add_user(&db, worker("short_lived")).await.unwrap();
    let expired_policy = SessionPolicy {
        lifetime: Duration::seconds(-1),
        ..SessionPolicy::default()
    };
    let expired = login(&db, "short_lived", "correct horse battery", &expired_policy)
        .await
        .unwrap();
    assert_eq!(session_user(&db, &expired.token).await.unwrap(), None);
}

async fn rate_limit(url: &str) {
    let db = database(url).await;
    let policy = SessionPolicy::default();
    add_user(&db, worker("target")).await.unwrap();
    add_user(&db, worker("bystander")).await.unwrap();
    for _ in 0..policy.max_failures {
        assert!(matches!(
            login(&db, "target", "guess guess guess", &policy).await,
            Err(UserError::BadCredentials)
        ));
    }
    // Even the right password is refused now; other accounts are unaffected.
    let limited = login(&db, "target", "correct horse battery", &policy).await;
    assert!(
        matches!(limited, Err(UserError::RateLimited { retry_after_seconds }) if retry_after_seconds > 0 && retry_after_seconds <= 900)
    );
    login(&db, "bystander", "correct horse battery", &policy)
        .await
        .unwrap();
}

async fn break_glass(url: &str) {
    let db = database(url).await;
    let supervisor = add_user(
        &db,
        NewUser {
            role: UserRole::Supervisor,
            ..worker("supervisor")
        },
    )
    .await
    .unwrap();
    let case = Uuid::now_v7();
    assert!(!has_break_glass(&db, supervisor.id, case).await.unwrap());
    grant_break_glass(
        &db,
        &supervisor,
        case,
        "老人走失，紧急查找联系人",
        Duration::hours(3),
    )
    .await
    .unwrap();
    assert!(has_break_glass(&db, supervisor.id, case).await.unwrap());
    assert!(
        !has_break_glass(&db, supervisor.id, Uuid::now_v7())
            .await
            .unwrap()
    );
    let expired_case = Uuid::now_v7();
    grant_break_glass(
        &db,
        &supervisor,
        expired_case,
        "过期测试",
        Duration::seconds(-1),
    )
    .await
    .unwrap();
    assert!(
        !has_break_glass(&db, supervisor.id, expired_case)
            .await
            .unwrap()
    );
    let grants = break_glass_grants(&db, Some(case), 10).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].username.as_str(), grants[0].reason.as_str()),
        ("supervisor", "老人走失，紧急查找联系人")
    );
    assert_eq!(break_glass_grants(&db, None, 10).await.unwrap().len(), 2);
}
