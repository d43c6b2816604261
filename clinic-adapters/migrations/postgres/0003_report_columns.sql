-- clinic-rs storage, schema version 3 (PostgreSQL): what practice reports read of an
-- appointment, beside its body, so a report over a year of appointments reads a few
-- columns instead of decoding every document. Existing rows are filled from their bodies.
ALTER TABLE appointments
    ADD COLUMN location_id uuid,
    ADD COLUMN status      text    NOT NULL DEFAULT '',
    ADD COLUMN late_cancel boolean NOT NULL DEFAULT false;
UPDATE appointments SET
    location_id = (convert_from(body, 'UTF8')::jsonb ->> 'location_id')::uuid,
    status      = convert_from(body, 'UTF8')::jsonb #>> '{status,state}',
    late_cancel = coalesce((convert_from(body, 'UTF8')::jsonb #>> '{status,late}')::boolean, false);
-- Covering: a report reads the index alone (an index-only scan), never the bodies.
CREATE INDEX appointments_by_location ON appointments (practice_id, location_id, session_start)
    INCLUDE (practitioner_id, status, late_cancel, session_end);
