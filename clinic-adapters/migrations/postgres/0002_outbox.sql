-- clinic-rs storage, schema version 2 (PostgreSQL): the notification outbox.
-- Notifications hold ids and states, no personal details; the body is the whole
-- notification as JSON, the columns beside it what claiming filters and orders on.
-- Workers claim rows with FOR UPDATE SKIP LOCKED, so replicas never share one.
CREATE TABLE outbox (
    practice_id     uuid        NOT NULL,
    id              uuid        NOT NULL,
    key             text        COLLATE "C" NOT NULL,
    about           uuid        NOT NULL,
    state           text        NOT NULL,
    attempts        bigint      NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    provider_id     text        COLLATE "C",
    body            bytea       NOT NULL,
    PRIMARY KEY (practice_id, id),
    UNIQUE (practice_id, key)
);
CREATE INDEX outbox_due ON outbox (practice_id, state, next_attempt_at);
CREATE INDEX outbox_about ON outbox (practice_id, about);
CREATE INDEX outbox_provider ON outbox (practice_id, provider_id) WHERE provider_id IS NOT NULL;

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON outbox USING (practice_id = (SELECT app_practice()))
    WITH CHECK (practice_id = (SELECT app_practice()));
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO clinic_app;
