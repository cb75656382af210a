-- Devices each account signed in from, for the new-device notice: only a
-- keyed MAC of (user, browser family, OS, network prefix), never the
-- description.
CREATE TABLE known_devices (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mac        BYTEA       NOT NULL CHECK (length(mac) <= 64),
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);

CREATE INDEX known_devices_user_seen ON known_devices (user_id, last_seen);
