-- Accounts. Times are timestamptz (microsecond precision), written in UTC.
CREATE TABLE users (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email                TEXT        NOT NULL CHECK (length(email) <= 254),
    email_key            TEXT        NOT NULL UNIQUE CHECK (length(email_key) <= 254),
    display_name         TEXT        NOT NULL DEFAULT '',
    password_hash        TEXT        NOT NULL,
    roles                TEXT        NOT NULL DEFAULT 'user',
    email_verified_at    TIMESTAMPTZ,
    disabled_at          TIMESTAMPTZ,
    sessions_valid_after TIMESTAMPTZ NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
