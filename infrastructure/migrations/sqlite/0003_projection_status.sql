-- Which version of a projection built its tables (a changed projection is
-- rebuilt at start), and where it stopped when an event could not be applied.
ALTER TABLE projection_checkpoints ADD COLUMN projection_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projection_checkpoints ADD COLUMN failed_position BIGINT;
ALTER TABLE projection_checkpoints ADD COLUMN failed_at TEXT;
