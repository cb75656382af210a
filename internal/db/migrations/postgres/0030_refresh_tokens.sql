-- Refresh tokens of the JSON API (internal/account/refresh.go). Only the
-- SHA-256 hash of a token is stored, so a leaked table holds no usable
-- token. A token is replaced at every use: used_at marks it spent, and every
-- token of one sign-in shares a family_id, so that a spent token presented
-- again can revoke the whole family.
CREATE TABLE refresh_tokens (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash       BYTEA       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    family_id        TEXT        NOT NULL CHECK (length(family_id) BETWEEN 1 AND 64),
    user_id          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    authenticated_at TIMESTAMPTZ NOT NULL,
    amr              TEXT        NOT NULL DEFAULT '' CHECK (length(amr) <= 128),
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    used_at          TIMESTAMPTZ,
    revoked_at       TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
