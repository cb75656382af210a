-- Append-only audit trail of security events.
CREATE TABLE audit_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    user_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    actor_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    event      TEXT        NOT NULL,
    outcome    TEXT        NOT NULL,
    ip         TEXT        NOT NULL DEFAULT '',
    user_agent TEXT        NOT NULL DEFAULT '',
    detail     TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_user_at ON audit_events (user_id, at);
CREATE INDEX audit_events_event_at ON audit_events (event, at);
