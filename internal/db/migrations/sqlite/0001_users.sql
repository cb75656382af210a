-- Accounts. Times are UTC unix nanoseconds (INTEGER), truncated to microseconds.
CREATE TABLE users (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    email                TEXT    NOT NULL CHECK (length(email) <= 254),
    email_key            TEXT    NOT NULL UNIQUE CHECK (length(email_key) <= 254),
    display_name         TEXT    NOT NULL DEFAULT '',
    password_hash        TEXT    NOT NULL,
    roles                TEXT    NOT NULL DEFAULT 'user',
    email_verified_at    INTEGER,
    disabled_at          INTEGER,
    sessions_valid_after INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;
