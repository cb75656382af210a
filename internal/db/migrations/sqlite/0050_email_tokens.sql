-- One-time tokens of the email flows (internal/account EmailTokens): only
-- the selector and the purpose hash of the verifier are stored, never the
-- token. At most one unused token per user and purpose. Times are UTC unix
-- nanoseconds (INTEGER), truncated to microseconds.
-- The foreign key is checked at commit: a decoy token (user 0) is inserted
-- and rolled back so that an unknown address costs the same work.
CREATE TABLE email_tokens (
    selector   TEXT    PRIMARY KEY CHECK (length(selector) <= 64),
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify', 'reset', 'change')),
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    email      TEXT    NOT NULL CHECK (length(email) <= 254),
    email_key  TEXT    NOT NULL CHECK (length(email_key) <= 254),
    hash       BLOB    NOT NULL CHECK (length(hash) = 32),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE UNIQUE INDEX email_tokens_live ON email_tokens (user_id, purpose) WHERE used_at IS NULL;
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires ON email_tokens (expires_at);
