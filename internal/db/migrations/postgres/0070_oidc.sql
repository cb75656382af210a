-- OpenID Connect provider (internal/oidc, on ory/fosite). Times are timestamptz.
--
-- Clients: only the SHA-256 of a confidential client's secret is stored (the
-- secret is 32 random bytes, shown once). Lists (redirect URIs, post-logout
-- URIs, scopes, roles) are space-separated.
CREATE TABLE oidc_clients (
    id               TEXT    PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    secret_hash      BYTEA   CHECK (secret_hash IS NULL OR octet_length(secret_hash) = 32),
    name             TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    redirect_uris    TEXT    NOT NULL CHECK (length(redirect_uris) <= 8192),
    post_logout_uris TEXT    NOT NULL DEFAULT '' CHECK (length(post_logout_uris) <= 8192),
    public           BOOLEAN NOT NULL DEFAULT FALSE,
    scopes           TEXT    NOT NULL CHECK (length(scopes) <= 1024),
    require_2fa      BOOLEAN NOT NULL DEFAULT FALSE,
    roles            TEXT    NOT NULL DEFAULT '' CHECK (length(roles) <= 1024),
    skip_consent     BOOLEAN NOT NULL DEFAULT FALSE,
    pkce_optional    BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_at      TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL
);

-- Every stored grant of the protocol library: authorization codes ("code"),
-- PKCE challenges ("pkce"), OpenID Connect sessions of a code ("oidc"),
-- access tokens ("access") and refresh tokens ("refresh"). signature is the
-- SHA-256 of the library's token signature, so the table holds nothing that
-- can be presented. request_id is shared by every token of one sign-in and
-- its refreshes: the family that a reused code or refresh token revokes.
-- data is the library's request (client, scopes, session) as JSON.
CREATE TABLE oidc_tokens (
    kind         TEXT    NOT NULL CHECK (kind IN ('code', 'pkce', 'oidc', 'access', 'refresh')),
    signature    BYTEA   NOT NULL CHECK (octet_length(signature) = 32),
    request_id   TEXT    NOT NULL CHECK (length(request_id) BETWEEN 1 AND 64),
    client_id    TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id      BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    requested_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    data         TEXT    NOT NULL CHECK (length(data) <= 65536),
    PRIMARY KEY (kind, signature)
);
CREATE INDEX oidc_tokens_request ON oidc_tokens (request_id);
CREATE INDEX oidc_tokens_user_client ON oidc_tokens (user_id, client_id);
CREATE INDEX oidc_tokens_expires ON oidc_tokens (expires_at);

-- Consents: the scopes a user granted a client, so the consent page is not
-- shown again for the same or fewer scopes.
CREATE TABLE oidc_consents (
    user_id    BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL CHECK (length(scopes) <= 1024),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- RS256 signing keys, one per keyring key: the PKCS #8 private key sealed
-- with the keyring (AEAD bound to the kid), so the database alone holds no
-- usable key and retiring the keyring key retires its RSA key.
CREATE TABLE oidc_signing_keys (
    kid        TEXT    PRIMARY KEY CHECK (length(kid) BETWEEN 1 AND 64),
    sealed     BYTEA   NOT NULL CHECK (octet_length(sealed) <= 8192),
    created_at TIMESTAMPTZ NOT NULL
);
