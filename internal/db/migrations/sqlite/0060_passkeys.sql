-- Passkeys (WebAuthn). Times are UTC unix nanoseconds (INTEGER), truncated
-- to microseconds; flags are 0 or 1.
--
-- Each user who has ever begun a passkey registration gets a WebAuthn user
-- handle: 64 random bytes, never the email or the row id, shown to
-- authenticators and returned by them at a discoverable sign-in.
CREATE TABLE webauthn_users (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle     BLOB    NOT NULL UNIQUE CHECK (length(handle) = 64),
    created_at INTEGER NOT NULL
) STRICT;

-- One row per passkey. credential_id is unique across users. sign_count
-- only moves forward through a compare-and-set (a regression is refused as
-- a possible clone). backup_eligible/backup_state tell a synced passkey
-- from a device-bound one. transports is a comma-separated list.
CREATE TABLE passkeys (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id    BLOB    NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    public_key       BLOB    NOT NULL CHECK (length(public_key) BETWEEN 1 AND 2048),
    attestation_type TEXT    NOT NULL DEFAULT '' CHECK (length(attestation_type) <= 32),
    aaguid           BLOB    NOT NULL CHECK (length(aaguid) <= 16),
    sign_count       INTEGER NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    user_verified    INTEGER NOT NULL DEFAULT 0 CHECK (user_verified IN (0, 1)),
    backup_eligible  INTEGER NOT NULL DEFAULT 0 CHECK (backup_eligible IN (0, 1)),
    backup_state     INTEGER NOT NULL DEFAULT 0 CHECK (backup_state IN (0, 1)),
    transports       TEXT    NOT NULL DEFAULT '' CHECK (length(transports) <= 256),
    name             TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER
) STRICT;

CREATE INDEX passkeys_user ON passkeys (user_id, id);

-- The state of a ceremony between its begin and finish steps, single use
-- (DELETE ... RETURNING): found by the SHA-256 of its challenge, bound to
-- the browser session by the SHA-256 of a value kept in that session.
CREATE TABLE passkey_challenges (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    challenge_hash BLOB    NOT NULL UNIQUE CHECK (length(challenge_hash) = 32),
    binding_hash   BLOB    NOT NULL CHECK (length(binding_hash) = 32),
    kind           TEXT    NOT NULL CHECK (length(kind) <= 16),
    user_id        INTEGER REFERENCES users (id) ON DELETE CASCADE,
    state          BLOB    NOT NULL CHECK (length(state) <= 16384),
    expires_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires_at);
