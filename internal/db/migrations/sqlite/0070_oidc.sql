-- OpenID Connect provider (internal/oidc, on ory/fosite). Times are UTC unix
-- nanoseconds (INTEGER), truncated to microseconds.
--
-- Clients: only the SHA-256 of a confidential client's secret is stored (the
-- secret is 32 random bytes, shown once). Lists (redirect URIs, post-logout
-- URIs, scopes, roles) are space-separated.
CREATE TABLE oidc_clients (
    id               TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    secret_hash      BLOB    CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
    name             TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    redirect_uris    TEXT    NOT NULL CHECK (length(redirect_uris) <= 8192),
    post_logout_uris TEXT    NOT NULL DEFAULT '' CHECK (length(post_logout_uris) <= 8192),
    public           INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    scopes           TEXT    NOT NULL CHECK (length(scopes) <= 1024),
    require_2fa      INTEGER NOT NULL DEFAULT 0 CHECK (require_2fa IN (0, 1)),
    roles            TEXT    NOT NULL DEFAULT '' CHECK (length(roles) <= 1024),
    skip_consent     INTEGER NOT NULL DEFAULT 0 CHECK (skip_consent IN (0, 1)),
    pkce_optional    INTEGER NOT NULL DEFAULT 0 CHECK (pkce_optional IN (0, 1)),
    disabled_at      INTEGER,
    created_at       INTEGER NOT NULL
) STRICT;

-- Every stored grant of the protocol library: authorization codes ("code"),
-- PKCE challenges ("pkce"), OpenID Connect sessions of a code ("oidc"),
-- access tokens ("access") and refresh tokens ("refresh"). signature is the
-- SHA-256 of the library's token signature, so the table holds nothing that
-- can be presented. request_id is shared by every token of one sign-in and
-- its refreshes: the family that a reused code or refresh token revokes.
-- data is the library's request (client, scopes, session) as JSON.
CREATE TABLE oidc_tokens (
    kind         TEXT    NOT NULL CHECK (kind IN ('code', 'pkce', 'oidc', 'access', 'refresh')),
    signature    BLOB    NOT NULL CHECK (length(signature) = 32),
    request_id   TEXT    NOT NULL CHECK (length(request_id) BETWEEN 1 AND 64),
    client_id    TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    requested_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    data         TEXT    NOT NULL CHECK (length(data) <= 65536),
    PRIMARY KEY (kind, signature)
) STRICT;
CREATE INDEX oidc_tokens_request ON oidc_tokens (request_id);
CREATE INDEX oidc_tokens_user_client ON oidc_tokens (user_id, client_id);
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);

-- Consents: the scopes a user granted a client, so the consent page is not
-- shown again for the same or fewer scopes.
CREATE TABLE oidc_consents (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL CHECK (length(scopes) <= 1024),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) STRICT;

-- RS256 signing keys, one per keyring key: the PKCS #8 private key sealed
-- with the keyring (AEAD bound to the kid), so the database alone holds no
-- usable key and retiring the keyring key retires its RSA key.
CREATE TABLE oidc_signing_keys (
    kid        TEXT    PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 64),
    sealed     BLOB    NOT NULL CHECK (length(sealed) <= 8192),
    created_at INTEGER NOT NULL
) STRICT;
