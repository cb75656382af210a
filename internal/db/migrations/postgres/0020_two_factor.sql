-- Two-factor sign-in. Times are timestamptz (microsecond precision),
-- written in UTC.
--
-- One TOTP secret per user, sealed with the keyring (purpose "totp-secret",
-- additional data the user id). enabled_at is NULL while a setup waits for
-- its first code. last_step is the last accepted RFC 6238 time step: a code
-- of that step or an older one is never accepted again, and it only moves
-- forward through a compare-and-set (UPDATE ... WHERE last_step < ?).
CREATE TABLE user_totp (
    user_id    BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BYTEA       NOT NULL CHECK (length(secret) BETWEEN 1 AND 512),
    enabled_at TIMESTAMPTZ,
    last_step  BIGINT      NOT NULL DEFAULT 0 CHECK (last_step >= 0),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Single-use recovery codes: only their SHA-256 hashes. A code is spent by
-- setting used_at (UPDATE ... WHERE used_at IS NULL), so two concurrent
-- uses cannot both succeed.
CREATE TABLE user_recovery_codes (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BYTEA       NOT NULL CHECK (length(code_hash) = 32),
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    UNIQUE (user_id, code_hash)
);
