-- Every opening of a person's sealed personal data (ID number, phone,
-- address, health notes…), written in the same call that reveals it
-- (个人信息保护法: who looked, in what role, for which organization, why, and
-- what they saw). It is evidence, so like `events` it is append-only. It
-- holds no personal values, only the names of the fields revealed.
CREATE TABLE access_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    accessed_at    TEXT    NOT NULL,
    actor          TEXT    NOT NULL,
    role           TEXT    NOT NULL,
    organization   TEXT,
    case_id        TEXT    NOT NULL,
    reason         TEXT    NOT NULL CHECK (length(trim(reason)) > 0),
    -- JSON array of the field names shown, e.g. ["id_number","phone"].
    revealed       TEXT    NOT NULL,
    -- The case's stream version that was read: what exactly was seen.
    stream_version BIGINT  NOT NULL,
    -- True when the person's data had been erased and nothing was readable.
    erased         BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX access_log_by_case ON access_log (case_id, accessed_at);
CREATE INDEX access_log_by_actor ON access_log (actor, accessed_at);
CREATE INDEX access_log_by_time ON access_log (accessed_at);

CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only: UPDATE on access_log is refused');
END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only: DELETE on access_log is refused');
END;
