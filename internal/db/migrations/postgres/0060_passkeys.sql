-- Passkeys (WebAuthn).
--
-- Each user who has ever begun a passkey registration gets a WebAuthn user
-- handle: 64 random bytes, never the email or the row id, shown to
-- authenticators and returned by them at a discoverable sign-in.
CREATE TABLE webauthn_users (
    user_id    BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle     BYTEA       NOT NULL UNIQUE CHECK (length(handle) = 64),
    created_at TIMESTAMPTZ NOT NULL
);

-- One row per passkey. credential_id is unique across users. sign_count
-- only moves forward through a compare-and-set (a regression is refused as
-- a possible clone). backup_eligible/backup_state tell a synced passkey
-- from a device-bound one. transports is a comma-separated list.
CREATE TABLE passkeys (
    id               BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id    BYTEA       NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    public_key       BYTEA       NOT NULL CHECK (length(public_key) BETWEEN 1 AND 2048),
    attestation_type TEXT        NOT NULL DEFAULT '' CHECK (length(attestation_type) <= 32),
    aaguid           BYTEA       NOT NULL CHECK (length(aaguid) <= 16),
    sign_count       BIGINT      NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    user_verified    BOOLEAN     NOT NULL DEFAULT FALSE,
    backup_eligible  BOOLEAN     NOT NULL DEFAULT FALSE,
    backup_state     BOOLEAN     NOT NULL DEFAULT FALSE,
    transports       TEXT        NOT NULL DEFAULT '' CHECK (length(transports) <= 256),
    name             TEXT        NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 256),
    created_at       TIMESTAMPTZ NOT NULL,
    last_used_at     TIMESTAMPTZ
);

CREATE INDEX passkeys_user ON passkeys (user_id, id);

-- The state of a ceremony between its begin and finish steps, single use
-- (DELETE ... RETURNING): found by the SHA-256 of its challenge, bound to
-- the browser session by the SHA-256 of a value kept in that session.
CREATE TABLE passkey_challenges (
    id             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    challenge_hash BYTEA       NOT NULL UNIQUE CHECK (length(challenge_hash) = 32),
    binding_hash   BYTEA       NOT NULL CHECK (length(binding_hash) = 32),
    kind           TEXT        NOT NULL CHECK (length(kind) <= 16),
    user_id        BIGINT      REFERENCES users (id) ON DELETE CASCADE,
    state          BYTEA       NOT NULL CHECK (length(state) <= 16384),
    expires_at     TIMESTAMPTZ NOT NULL
);

CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires_at);
