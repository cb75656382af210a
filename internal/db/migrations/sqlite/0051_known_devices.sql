-- Devices each account signed in from, for the new-device notice: only a
-- keyed MAC of (user, browser family, OS, network prefix), never the
-- description. Times are UTC unix nanoseconds (INTEGER).
CREATE TABLE known_devices (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mac        BLOB    NOT NULL CHECK (length(mac) <= 64),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) STRICT;

CREATE INDEX known_devices_user_seen ON known_devices (user_id, last_seen);
