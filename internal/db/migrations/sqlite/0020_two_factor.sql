-- Two-factor sign-in. Times are UTC unix nanoseconds (INTEGER), truncated
-- to microseconds.
--
-- One TOTP secret per user, sealed with the keyring (purpose "totp-secret",
-- additional data the user id). enabled_at is NULL while a setup waits for
-- its first code. last_step is the last accepted RFC 6238 time step: a code
-- of that step or an older one is never accepted again, and it only moves
-- forward through a compare-and-set (UPDATE ... WHERE last_step < ?).
CREATE TABLE user_totp (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BLOB    NOT NULL CHECK (length(secret) BETWEEN 1 AND 512),
    enabled_at INTEGER,
    last_step  INTEGER NOT NULL DEFAULT 0 CHECK (last_step >= 0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Single-use recovery codes: only their SHA-256 hashes. A code is spent by
-- setting used_at (UPDATE ... WHERE used_at IS NULL), so two concurrent
-- uses cannot both succeed.
CREATE TABLE user_recovery_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB    NOT NULL CHECK (length(code_hash) = 32),
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    UNIQUE (user_id, code_hash)
) STRICT;
