-- Users of the system and their sessions. Passwords are argon2id PHC
-- strings; session tokens are stored only as their SHA-256.
CREATE TABLE users (
    id              TEXT   PRIMARY KEY,
    username        TEXT   NOT NULL UNIQUE,
    display_name    TEXT   NOT NULL,
    role            TEXT   NOT NULL,
    region_scope    TEXT   NOT NULL,
    organization_id TEXT,
    password_hash   TEXT   NOT NULL,
    disabled        BIGINT NOT NULL DEFAULT 0,
    created_at      TEXT   NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Failed logins per account, for rate limiting.
CREATE TABLE login_failures (
    username     TEXT NOT NULL,
    attempted_at TEXT NOT NULL
);
CREATE INDEX login_failures_by_user ON login_failures (username, attempted_at);

-- 破窗访问: time-limited access to one case outside the user's scope.
CREATE TABLE break_glass_grants (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    case_id    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX break_glass_by_user_case ON break_glass_grants (user_id, case_id);
