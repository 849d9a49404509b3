-- The event store. See the PostgreSQL migration for the reasoning; SQLite has
-- a single writer, so positions commit in order and txid stays 0.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    txid           INTEGER NOT NULL DEFAULT 0,
    stream_type    TEXT    NOT NULL,
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL CHECK (stream_version >= 1),
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version >= 1),
    payload        TEXT    NOT NULL,
    sealed         BLOB,
    metadata       TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL,
    hash           BLOB    NOT NULL,
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_by_type ON events (stream_type, event_type);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: UPDATE on events is refused');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: DELETE on events is refused');
END;

CREATE TABLE commands (
    command_id     TEXT    PRIMARY KEY,
    stream_type    TEXT    NOT NULL,
    stream_id      TEXT    NOT NULL,
    fingerprint    TEXT    NOT NULL,
    first_version  INTEGER,
    last_version   INTEGER,
    first_position INTEGER,
    last_position  INTEGER,
    recorded_at    TEXT    NOT NULL
);

CREATE TABLE snapshots (
    stream_id      TEXT    PRIMARY KEY,
    stream_type    TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    taken_at       TEXT    NOT NULL
);

CREATE TABLE data_keys (
    stream_id   TEXT PRIMARY KEY,
    wrapped_key BLOB,
    created_at  TEXT NOT NULL,
    erased_at   TEXT
);

CREATE TABLE blind_index (
    kind      TEXT NOT NULL,
    digest    TEXT NOT NULL,
    stream_id TEXT NOT NULL,
    PRIMARY KEY (kind, digest, stream_id)
);
CREATE INDEX blind_index_by_stream ON blind_index (stream_id);

CREATE TABLE projection_checkpoints (
    name       TEXT    PRIMARY KEY,
    txid       INTEGER NOT NULL DEFAULT 0,
    position   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT    NOT NULL,
    error      TEXT
);
