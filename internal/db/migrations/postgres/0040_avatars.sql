-- Profile pictures: bytes re-encoded by imagesafe, never the upload itself.
-- One row per user; a new picture replaces the row under a new random id
-- (so its URL changes). Times are timestamptz (microsecond precision),
-- written in UTC.
CREATE TABLE avatars (
    id           TEXT        PRIMARY KEY CHECK (length(id) = 22),
    user_id      BIGINT      NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT        NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    sha256       TEXT        NOT NULL CHECK (length(sha256) = 64),
    data         BYTEA       NOT NULL CHECK (octet_length(data) BETWEEN 1 AND 1048576),
    created_at   TIMESTAMPTZ NOT NULL
);
