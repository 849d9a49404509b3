-- Evidence images (佐证材料), content-addressed: the key is the SHA-256 of the
-- bytes, so storing the same photo twice stores it once, and an event that
-- names a digest names exactly these bytes.
CREATE TABLE attachments (
    sha256     TEXT    PRIMARY KEY CHECK (length(sha256) = 64),
    media_type TEXT    NOT NULL,
    size_bytes BIGINT  NOT NULL CHECK (size_bytes > 0),
    content    BYTEA    NOT NULL,
    stored_at  TEXT    NOT NULL
);
