-- The event store. Payload, metadata and recorded_at are TEXT (not JSONB or
-- TIMESTAMPTZ) on purpose: the hash chain covers the stored bytes, and TEXT
-- keeps them byte-for-byte identical to what was hashed, on both backends.
CREATE TABLE events (
    position       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction's id: the feed orders by (txid, position) and
    -- only reads below the oldest running transaction (see docs/adr/0001).
    txid           BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    stream_type    TEXT   NOT NULL,
    stream_id      TEXT   NOT NULL,
    stream_version BIGINT NOT NULL CHECK (stream_version >= 1),
    event_type     TEXT   NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version >= 1),
    payload        TEXT   NOT NULL,
    sealed         BYTEA,
    metadata       TEXT   NOT NULL,
    recorded_at    TEXT   NOT NULL,
    hash           BYTEA  NOT NULL,
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_feed_order ON events (txid, position);
CREATE INDEX events_by_type ON events (stream_type, event_type);

CREATE FUNCTION shouwang_refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % on events is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION shouwang_refuse_event_change();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION shouwang_refuse_event_change();

-- One row per client command id: a retried command returns this first result.
CREATE TABLE commands (
    command_id     TEXT   PRIMARY KEY,
    stream_type    TEXT   NOT NULL,
    stream_id      TEXT   NOT NULL,
    fingerprint    TEXT   NOT NULL,
    first_version  BIGINT,
    last_version   BIGINT,
    first_position BIGINT,
    last_position  BIGINT,
    recorded_at    TEXT   NOT NULL
);

CREATE TABLE snapshots (
    stream_id      TEXT   PRIMARY KEY,
    stream_type    TEXT   NOT NULL,
    stream_version BIGINT NOT NULL,
    state          TEXT   NOT NULL,
    taken_at       TEXT   NOT NULL
);

-- Per-person data keys, wrapped by the master key. Erasure sets wrapped_key
-- to NULL: the sealed bytes in events stay, unreadable for ever.
CREATE TABLE data_keys (
    stream_id   TEXT PRIMARY KEY,
    wrapped_key BYTEA,
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
    name       TEXT   PRIMARY KEY,
    txid       BIGINT NOT NULL DEFAULT 0,
    position   BIGINT NOT NULL DEFAULT 0,
    updated_at TEXT   NOT NULL,
    error      TEXT
);
