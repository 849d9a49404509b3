-- Every opening of a person's sealed personal data (ID number, phone,
-- address, health notes…), written in the same call that reveals it
-- (个人信息保护法: who looked, in what role, for which organization, why, and
-- what they saw). It is evidence, so like `events` it is append-only. It
-- holds no personal values, only the names of the fields revealed.
CREATE TABLE access_log (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accessed_at    TEXT   NOT NULL,
    actor          TEXT   NOT NULL,
    role           TEXT   NOT NULL,
    organization   TEXT,
    case_id        TEXT   NOT NULL,
    reason         TEXT   NOT NULL CHECK (length(trim(reason)) > 0),
    -- JSON array of the field names shown, e.g. ["id_number","phone"].
    revealed       TEXT   NOT NULL,
    -- The case's stream version that was read: what exactly was seen.
    stream_version BIGINT NOT NULL,
    -- True when the person's data had been erased and nothing was readable.
    erased         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX access_log_by_case ON access_log (case_id, accessed_at);
CREATE INDEX access_log_by_actor ON access_log (actor, accessed_at);
CREATE INDEX access_log_by_time ON access_log (accessed_at);

CREATE FUNCTION shouwang_refuse_access_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only: % on access_log is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER access_log_append_only
    BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION shouwang_refuse_access_log_change();
CREATE TRIGGER access_log_no_truncate
    BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION shouwang_refuse_access_log_change();
