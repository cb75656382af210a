-- Durable outbox of internal/mail: requests insert, mail.Worker delivers.
-- Times are UTC unix nanoseconds (INTEGER), truncated to microseconds.
-- Bodies carry one-time links: they are erased when a message is sent or
-- abandoned, and rows are deleted after the retention period
-- (mail.Worker.Retention).
CREATE TABLE mail_outbox (
    id              TEXT    PRIMARY KEY,
    recipient       TEXT    NOT NULL CHECK (length(recipient) <= 254),
    subject         TEXT    NOT NULL CHECK (length(subject) <= 200),
    text_body       TEXT    NOT NULL,
    html_body       TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT '' CHECK (length(last_error) <= 500),
    locked_until    INTEGER,
    claim_token     TEXT,
    sent_at         INTEGER,
    failed_at       INTEGER
) STRICT;

CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_sent ON mail_outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX mail_outbox_failed ON mail_outbox (failed_at) WHERE failed_at IS NOT NULL;
