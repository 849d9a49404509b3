-- Evaluation reports (月调度, 季督导, 年底通报) exactly as generated. A report
-- is computed from the statistics read model's facts up to a cut in the
-- global feed (`cut_txid`, `cut_position`; `position` is the highest event
-- position included), so it can be regenerated later byte for byte and two
-- versions of the same period can be diffed down to the events between them.
-- It is evidence handed to the bureau, so like `events` it is append-only: a
-- changed figure is a new version, never an edit.
CREATE TABLE evaluation_reports (
    id           TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    -- 1, 2, … per (kind, period, region).
    version      BIGINT  NOT NULL CHECK (version > 0),
    position     BIGINT  NOT NULL,
    cut_txid     BIGINT  NOT NULL,
    cut_position BIGINT  NOT NULL,
    period_from  TEXT    NOT NULL,
    period_to    TEXT    NOT NULL,
    generated_at TEXT    NOT NULL,
    generated_by TEXT    NOT NULL,
    -- The report body as JSON text (not JSONB): the bytes handed out are the
    -- bytes kept.
    body         TEXT    NOT NULL,
    UNIQUE (kind, period, region, version)
);
CREATE INDEX evaluation_reports_by_region ON evaluation_reports (region, kind, period);

CREATE FUNCTION shouwang_refuse_evaluation_report_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'evaluation_reports is append-only: % on evaluation_reports is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER evaluation_reports_append_only
    BEFORE UPDATE OR DELETE ON evaluation_reports
    FOR EACH ROW EXECUTE FUNCTION shouwang_refuse_evaluation_report_change();
CREATE TRIGGER evaluation_reports_no_truncate
    BEFORE TRUNCATE ON evaluation_reports
    FOR EACH STATEMENT EXECUTE FUNCTION shouwang_refuse_evaluation_report_change();
