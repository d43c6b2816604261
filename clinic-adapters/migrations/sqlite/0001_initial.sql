-- clinic-rs storage, schema version 1 (SQLite).
-- Every table is keyed by practice_id first: the tenant boundary is in every key and
-- every query. Aggregates are stored as serialized documents in `body`; the columns
-- beside it are the ones queries filter, order and guard on. Health data bodies are
-- sealed by the FieldCipher (`sealed_with` names the key-encryption key).

CREATE TABLE records (
    practice_id BLOB    NOT NULL,
    kind        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    owner_id    BLOB,
    sealed_with TEXT,
    body        BLOB    NOT NULL,
    PRIMARY KEY (practice_id, kind, key)
) WITHOUT ROWID;
CREATE INDEX records_owner ON records (practice_id, kind, owner_id, key);
CREATE INDEX records_sealed ON records (sealed_with) WHERE sealed_with IS NOT NULL;

-- Compare-and-swap counters: calendar versions per resource, claim-history versions
-- per patient, the invoice number sequence and the audit chain's length.
CREATE TABLE versions (
    practice_id BLOB    NOT NULL,
    name        TEXT    NOT NULL,
    value       INTEGER NOT NULL,
    PRIMARY KEY (practice_id, name)
) WITHOUT ROWID;

CREATE TABLE appointments (
    practice_id     BLOB    NOT NULL,
    id              BLOB    NOT NULL,
    practitioner_id BLOB    NOT NULL,
    room_id         BLOB,
    holds_time      INTEGER NOT NULL,
    session_start   INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    session_end     INTEGER NOT NULL,
    block_start     INTEGER NOT NULL,
    block_end       INTEGER NOT NULL,
    body            BLOB    NOT NULL,
    PRIMARY KEY (practice_id, id)
) WITHOUT ROWID;

-- What each live appointment occupies, for calendar snapshots.
-- What each appointment occupies, one row per resource (practitioner, room, each patient):
-- the index behind calendar snapshots, busy-time reads and a patient's appointments.
-- `block_*` is the appointment's buffered interval; `busy_*` the range this resource is
-- held for (buffered for the practitioner, the session for rooms and patients).
CREATE TABLE appointment_resources (
    practice_id    BLOB    NOT NULL,
    resource       TEXT    NOT NULL,
    block_start    INTEGER NOT NULL,
    appointment_id BLOB    NOT NULL,
    block_end      INTEGER NOT NULL,
    busy_start     INTEGER NOT NULL,
    busy_end       INTEGER NOT NULL,
    holds_time     INTEGER NOT NULL,
    PRIMARY KEY (practice_id, resource, block_start, appointment_id)
) WITHOUT ROWID;
CREATE INDEX appointment_resources_appointment ON appointment_resources (practice_id, appointment_id);

CREATE TABLE invoices (
    practice_id BLOB    NOT NULL,
    id          BLOB    NOT NULL,
    patient_id  BLOB    NOT NULL,
    number      INTEGER,
    revision    INTEGER NOT NULL,
    body        BLOB    NOT NULL,
    PRIMARY KEY (practice_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX invoices_number ON invoices (practice_id, number) WHERE number IS NOT NULL;
CREATE INDEX invoices_patient ON invoices (practice_id, patient_id, id);

CREATE TABLE claims (
    practice_id  BLOB NOT NULL,
    id           BLOB NOT NULL,
    patient_id   BLOB NOT NULL,
    service_date TEXT NOT NULL,
    body         BLOB NOT NULL,
    PRIMARY KEY (practice_id, id)
) WITHOUT ROWID;
CREATE INDEX claims_patient ON claims (practice_id, patient_id, service_date);

-- The audit chain. Rows are appended, never changed: triggers refuse updates and deletes.
CREATE TABLE audit_events (
    practice_id BLOB    NOT NULL,
    seq         INTEGER NOT NULL,
    body        BLOB    NOT NULL,
    PRIMARY KEY (practice_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;
