//! Users, password logins and sessions.
//!
//! Passwords are stored as argon2id hashes; a session token is 32 random
//! bytes shown to the client once and stored only as its SHA-256, so a copy
//! of the database does not let anyone log in.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shouwang_domain::vocabulary::UserRole;
use thiserror::Error;
use uuid::Uuid;

use crate::db::Database;
use crate::error::{StoreError, is_unique_violation};
use crate::store::format_instant;
use crate::with_pool;

/// A user as the rest of the system sees it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: UserRole,
    /// A prefix of the 12-digit region code: the user's area.
    pub region_scope: String,
    pub organization_id: Option<Uuid>,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: UserRole,
    pub region_scope: String,
    pub organization_id: Option<Uuid>,
    pub password: String,
}

#[derive(Debug, Error)]
pub enum UserError {
    #[error("用户名 {0} 已存在，请换一个用户名")]
    UsernameTaken(String),
    #[error("找不到用户 {0}")]
    NotFound(String),
    #[error("密码至少需要 10 个字符")]
    WeakPassword,
    #[error("用户名只能包含字母、数字、下划线、点和短横线（3–64 个字符）")]
    InvalidUsername,
    #[error("管辖区域必须是 12 位统计用区划代码的前缀（0、2、4、6、9 或 12 位数字）")]
    InvalidScope,
    #[error("用户名或密码不正确")]
    BadCredentials,
    #[error("该账号已被停用，请联系系统管理员")]
    Disabled,
    #[error("登录失败次数过多，请 {retry_after_seconds} 秒后再试")]
    RateLimited { retry_after_seconds: u64 },
    #[error("密码处理失败")]
    Hashing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for UserError {
    fn from(error: sqlx::Error) -> Self {
        UserError::Store(StoreError::Database(error))
    }
}

/// A freshly issued session: the token is shown once.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub token: String,
    pub user: User,
    pub expires_at: DateTime<Utc>,
}

/// How long sessions live and how logins are throttled.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    pub lifetime: Duration,
    /// Failed attempts allowed per account within `failure_window`.
    pub max_failures: i64,
    pub failure_window: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            lifetime: Duration::hours(12),
            max_failures: 5,
            failure_window: Duration::minutes(15),
        }
    }
}

const USER_COLUMNS: &str =
    "id, username, display_name, role, region_scope, organization_id, disabled";
type UserRow = (String, String, String, String, String, Option<String>, i64);

fn user_from_row(row: UserRow) -> Result<User, UserError> {
    let parse_uuid = |text: &str| {
        Uuid::parse_str(text)
            .map_err(|e| UserError::Store(StoreError::Configuration(e.to_string())))
    };
    Ok(User {
        id: parse_uuid(&row.0)?,
        username: row.1,
        display_name: row.2,
        role: UserRole::from_code(&row.3).ok_or_else(|| {
            UserError::Store(StoreError::Configuration(format!("未知角色 {}", row.3)))
        })?,
        region_scope: row.4,
        organization_id: row.5.as_deref().map(parse_uuid).transpose()?,
        disabled: row.6 != 0,
    })
}

fn valid_username(username: &str) -> bool {
    (3..=64).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_scope(scope: &str) -> bool {
    matches!(scope.len(), 0 | 2 | 4 | 6 | 9 | 12) && scope.chars().all(|c| c.is_ascii_digit())
}

fn hash_password(password: &str) -> Result<String, UserError> {
    if password.chars().count() < 10 {
        return Err(UserError::WeakPassword);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|_| UserError::Hashing)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a user.
pub async fn add_user(db: &Database, new: NewUser) -> Result<User, UserError> {
    if !valid_username(&new.username) {
        return Err(UserError::InvalidUsername);
    }
    if !valid_scope(&new.region_scope) {
        return Err(UserError::InvalidScope);
    }
    let hash = hash_password(&new.password)?;
    let id = Uuid::now_v7();
    let inserted = with_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO users (id, username, display_name, role, region_scope, organization_id, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(&new.username)
        .bind(&new.display_name)
        .bind(new.role.code())
        .bind(&new.region_scope)
        .bind(new.organization_id.map(|o| o.to_string()))
        .bind(&hash)
        .bind(format_instant(Utc::now()))
        .execute(pool)
        .await
        .map(|_| ())
    });
    match inserted {
        Ok(()) => {}
        Err(error) if is_unique_violation(&error) => {
            return Err(UserError::UsernameTaken(new.username));
        }
        Err(error) => return Err(error.into()),
    }
    Ok(User {
        id,
        username: new.username,
        display_name: new.display_name,
        role: new.role,
        region_scope: new.region_scope,
        organization_id: new.organization_id,
        disabled: false,
    })
}

pub async fn list_users(db: &Database) -> Result<Vec<User>, UserError> {
    let rows: Vec<UserRow> = with_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users ORDER BY username")))
            .fetch_all(pool)
            .await?
    });
    rows.into_iter().map(user_from_row).collect()
}

pub async fn find_user(db: &Database, username: &str) -> Result<Option<User>, UserError> {
    let row: Option<UserRow> = with_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1")))
            .bind(username)
            .fetch_optional(pool)
            .await?
    });
    row.map(user_from_row).transpose()
}

/// Disables a user and revokes all their sessions.
pub async fn disable_user(db: &Database, username: &str) -> Result<(), UserError> {
    let user = find_user(db, username)
        .await?
        .ok_or_else(|| UserError::NotFound(username.to_owned()))?;
    let now = format_instant(Utc::now());
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1").bind(user.id.to_string()).execute(&mut *tx).await?;
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user.id.to_string()).bind(&now).execute(&mut *tx).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Sets a new password and revokes the user's sessions.
pub async fn reset_password(
    db: &Database,
    username: &str,
    password: &str,
) -> Result<(), UserError> {
    let user = find_user(db, username)
        .await?
        .ok_or_else(|| UserError::NotFound(username.to_owned()))?;
    let hash = hash_password(password)?;
    let now = format_instant(Utc::now());
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1").bind(user.id.to_string()).bind(&hash).execute(&mut *tx).await?;
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user.id.to_string()).bind(&now).execute(&mut *tx).await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Checks a password and issues a session. Failed attempts are counted per
/// account; past the limit the account is refused until the window passes,
/// whether or not the password is right.
pub async fn login(
    db: &Database,
    username: &str,
    password: &str,
    policy: &SessionPolicy,
) -> Result<IssuedSession, UserError> {
    let now = Utc::now();
    let window_start = format_instant(now - policy.failure_window);
    let failures: (i64, Option<String>) = with_pool!(db, pool => {
        sqlx::query_as("SELECT COUNT(*), MIN(attempted_at) FROM login_failures WHERE username = $1 AND attempted_at > $2")
            .bind(username)
            .bind(&window_start)
            .fetch_one(pool)
            .await?
    });
    if failures.0 >= policy.max_failures {
        let oldest = failures
            .1
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let retry = (oldest + policy.failure_window - now).num_seconds().max(1);
        return Err(UserError::RateLimited {
            retry_after_seconds: u64::try_from(retry).unwrap_or(1),
        });
    }
    let row: Option<(String, String)> = with_pool!(db, pool => {
        sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await?
    });
    let verified = row.as_ref().is_some_and(|(_, hash)| {
        PasswordHash::new(hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    });
    if !verified {
        with_pool!(db, pool => {
            sqlx::query("INSERT INTO login_failures (username, attempted_at) VALUES ($1, $2)")
                .bind(username)
                .bind(format_instant(now))
                .execute(pool)
                .await?;
        });
        return Err(UserError::BadCredentials);
    }
    let user = find_user(db, username)
        .await?
        .ok_or(UserError::BadCredentials)?;
    if user.disabled {
        return Err(UserError::Disabled);
    }
    let token_bytes: [u8; 32] = rand::random();
    let token = hex::encode(token_bytes);
    let expires_at = now + policy.lifetime;
    with_pool!(db, pool => {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token))
            .bind(user.id.to_string())
            .bind(format_instant(now))
            .bind(format_instant(expires_at))
            .execute(pool)
            .await?;
        sqlx::query("DELETE FROM login_failures WHERE username = $1").bind(username).execute(pool).await?;
    });
    Ok(IssuedSession {
        token,
        user,
        expires_at,
    })
}

/// The user behind a bearer token, if the session is live and the user
/// enabled.
pub async fn session_user(db: &Database, token: &str) -> Result<Option<User>, UserError> {
    let now = format_instant(Utc::now());
    let row: Option<UserRow> = with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT u.id, u.username, u.display_name, u.role, u.region_scope, u.organization_id, u.disabled \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.disabled = 0",
        )
        .bind(token_hash(token))
        .bind(&now)
        .fetch_optional(pool)
        .await?
    });
    row.map(user_from_row).transpose()
}

/// Revokes one session (logout).
pub async fn revoke_session(db: &Database, token: &str) -> Result<(), UserError> {
    let now = format_instant(Utc::now());
    with_pool!(db, pool => {
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash(token))
            .bind(&now)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// A recorded break-the-glass grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakGlassGrant {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub case_id: Uuid,
    pub reason: String,
    pub granted_at: String,
    pub expires_at: String,
}

/// Records time-limited access to one case outside the user's scope.
pub async fn grant_break_glass(
    db: &Database,
    user: &User,
    case_id: Uuid,
    reason: &str,
    lasts: Duration,
) -> Result<BreakGlassGrant, UserError> {
    let now = Utc::now();
    let grant = BreakGlassGrant {
        id: Uuid::now_v7(),
        user_id: user.id,
        username: user.username.clone(),
        case_id,
        reason: reason.trim().to_owned(),
        granted_at: format_instant(now),
        expires_at: format_instant(now + lasts),
    };
    with_pool!(db, pool => {
        sqlx::query("INSERT INTO break_glass_grants (id, user_id, case_id, reason, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(grant.id.to_string())
            .bind(user.id.to_string())
            .bind(case_id.to_string())
            .bind(&grant.reason)
            .bind(&grant.granted_at)
            .bind(&grant.expires_at)
            .execute(pool)
            .await?;
    });
    Ok(grant)
}

/// True when the user holds a live break-the-glass grant for the case.
pub async fn has_break_glass(
    db: &Database,
    user_id: Uuid,
    case_id: Uuid,
) -> Result<bool, UserError> {
    let now = format_instant(Utc::now());
    let count: i64 = with_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM break_glass_grants WHERE user_id = $1 AND case_id = $2 AND expires_at > $3")
            .bind(user_id.to_string())
            .bind(case_id.to_string())
            .bind(&now)
            .fetch_one(pool)
            .await?
    });
    Ok(count > 0)
}

/// Break-the-glass grants, newest first (for the audit trail).
pub async fn break_glass_grants(
    db: &Database,
    case_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<BreakGlassGrant>, UserError> {
    type Row = (String, String, String, String, String, String, String);
    let rows: Vec<Row> = with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT g.id, g.user_id, u.username, g.case_id, g.reason, g.granted_at, g.expires_at \
             FROM break_glass_grants g JOIN users u ON u.id = g.user_id \
             WHERE ($1 IS NULL OR g.case_id = $1) ORDER BY g.granted_at DESC LIMIT $2",
        )
        .bind(case_id.map(|c| c.to_string()))
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(|r| {
            let parse = |t: &str| {
                Uuid::parse_str(t)
                    .map_err(|e| UserError::Store(StoreError::Configuration(e.to_string())))
            };
            Ok(BreakGlassGrant {
                id: parse(&r.0)?,
                user_id: parse(&r.1)?,
                username: r.2,
                case_id: parse(&r.3)?,
                reason: r.4,
                granted_at: r.5,
                expires_at: r.6,
            })
        })
        .collect()
}
