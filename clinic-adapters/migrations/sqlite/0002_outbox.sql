-- clinic-rs storage, schema version 2 (SQLite): the notification outbox.
-- Notifications hold ids and states, no personal details; the body is the whole
-- notification as JSON, the columns beside it what claiming filters and orders on.
CREATE TABLE outbox (
    practice_id     BLOB    NOT NULL,
    id              BLOB    NOT NULL,
    key             TEXT    NOT NULL,
    about           BLOB    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    lease_until     INTEGER,
    provider_id     TEXT,
    body            BLOB    NOT NULL,
    PRIMARY KEY (practice_id, id),
    UNIQUE (practice_id, key)
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (practice_id, state, next_attempt_at);
CREATE INDEX outbox_about ON outbox (practice_id, about);
CREATE INDEX outbox_provider ON outbox (practice_id, provider_id) WHERE provider_id IS NOT NULL;
