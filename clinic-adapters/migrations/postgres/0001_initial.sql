-- clinic-rs storage, schema version 1 (PostgreSQL).
-- Every table is keyed by practice_id first and has row-level security on it: the
-- application role (clinic_app, which the adapter switches to on every connection) sees
-- only the practice named by the transaction's `app.practice_id` setting, so a query that
-- forgot its filter returns nothing. The schema's owner (who runs migrations) is exempt.
-- Keys and names compare bytewise (COLLATE "C"): they are ids, not words.
-- Aggregates are stored as serialized documents in `body`; the columns beside it are the
-- ones queries filter, order and guard on. Health data bodies are sealed by the
-- FieldCipher (`sealed_with` names the key-encryption key).

CREATE EXTENSION IF NOT EXISTS btree_gist;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'clinic_app') THEN
        CREATE ROLE clinic_app NOLOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'clinic_app', 'MEMBER') THEN
        EXECUTE format('GRANT clinic_app TO %I', current_user);
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created concurrently by another database's migration
END $$;

CREATE FUNCTION app_practice() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.practice_id', true), '')::uuid $$;

CREATE TABLE records (
    practice_id uuid  NOT NULL,
    kind        text  COLLATE "C" NOT NULL,
    key         text  COLLATE "C" NOT NULL,
    owner_id    uuid,
    sealed_with text,
    body        bytea NOT NULL,
    PRIMARY KEY (practice_id, kind, key)
);
CREATE INDEX records_owner ON records (practice_id, kind, owner_id, key);
CREATE INDEX records_sealed ON records (sealed_with) WHERE sealed_with IS NOT NULL;

CREATE TABLE versions (
    practice_id uuid   NOT NULL,
    name        text   COLLATE "C" NOT NULL,
    value       bigint NOT NULL,
    PRIMARY KEY (practice_id, name)
);

CREATE TABLE appointments (
    practice_id     uuid        NOT NULL,
    id              uuid        NOT NULL,
    practitioner_id uuid        NOT NULL,
    room_id         uuid,
    holds_time      boolean     NOT NULL,
    session_start   timestamptz NOT NULL,
    session_end     timestamptz NOT NULL,
    block_start     timestamptz NOT NULL,
    block_end       timestamptz NOT NULL,
    body            bytea       NOT NULL,
    PRIMARY KEY (practice_id, id),
    -- The last line of defence: whatever the application does, no practitioner's
    -- buffered time and no room's session time is ever held twice.
    CONSTRAINT practitioner_not_double_booked EXCLUDE USING gist (
        practice_id WITH =, practitioner_id WITH =, tstzrange(block_start, block_end) WITH &&
    ) WHERE (holds_time),
    CONSTRAINT room_not_double_booked EXCLUDE USING gist (
        practice_id WITH =, room_id WITH =, tstzrange(session_start, session_end) WITH &&
    ) WHERE (holds_time AND room_id IS NOT NULL)
);

-- What each appointment occupies, one row per resource (practitioner, room, each patient):
-- the index behind calendar snapshots, busy-time reads and a patient's appointments.
-- `block_*` is the appointment's buffered interval; `busy_*` the range this resource is
-- held for (buffered for the practitioner, the session for rooms and patients), in
-- microseconds since the Unix epoch.
CREATE TABLE appointment_resources (
    practice_id    uuid    NOT NULL,
    resource       text    COLLATE "C" NOT NULL,
    block_start    bigint  NOT NULL,
    appointment_id uuid    NOT NULL,
    block_end      bigint  NOT NULL,
    busy_start     bigint  NOT NULL,
    busy_end       bigint  NOT NULL,
    holds_time     boolean NOT NULL,
    PRIMARY KEY (practice_id, resource, block_start, appointment_id)
);
CREATE INDEX appointment_resources_appointment ON appointment_resources (practice_id, appointment_id);

CREATE TABLE invoices (
    practice_id uuid   NOT NULL,
    id          uuid   NOT NULL,
    patient_id  uuid   NOT NULL,
    number      bigint,
    revision    bigint NOT NULL,
    body        bytea  NOT NULL,
    PRIMARY KEY (practice_id, id),
    UNIQUE (practice_id, number)
);
CREATE INDEX invoices_patient ON invoices (practice_id, patient_id, id);

CREATE TABLE claims (
    practice_id  uuid  NOT NULL,
    id           uuid  NOT NULL,
    patient_id   uuid  NOT NULL,
    service_date text  NOT NULL,
    body         bytea NOT NULL,
    PRIMARY KEY (practice_id, id)
);
CREATE INDEX claims_patient ON claims (practice_id, patient_id, service_date);

CREATE TABLE audit_events (
    practice_id uuid   NOT NULL,
    seq         bigint NOT NULL,
    body        bytea  NOT NULL,
    PRIMARY KEY (practice_id, seq)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['records', 'versions', 'appointments', 'appointment_resources',
                             'invoices', 'claims', 'audit_events'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        -- The sub-select runs once per statement (an init plan), not once per row.
        EXECUTE format('CREATE POLICY tenant ON %I USING (practice_id = (SELECT app_practice())) '
                       'WITH CHECK (practice_id = (SELECT app_practice()))', t);
    END LOOP;
END $$;

-- Maintenance (key rotation, sweeps over every practice) needs the practices' ids and
-- nothing else of theirs.
CREATE FUNCTION practice_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT practice_id FROM records WHERE kind = 'practice' ORDER BY practice_id $$;

GRANT USAGE ON SCHEMA public TO clinic_app;
GRANT EXECUTE ON FUNCTION practice_ids() TO clinic_app;
GRANT EXECUTE ON FUNCTION app_practice() TO clinic_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON records, versions, appointments, appointment_resources,
    invoices, claims TO clinic_app;
-- The audit chain is append-only for the application: no UPDATE, DELETE or TRUNCATE.
GRANT SELECT, INSERT ON audit_events TO clinic_app;
