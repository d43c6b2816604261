-- clinic-rs storage, schema version 3 (SQLite): what practice reports read of an
-- appointment, beside its body, so a report over a year of appointments reads a few
-- columns instead of decoding every document. Existing rows are filled from their bodies.
ALTER TABLE appointments ADD COLUMN location_id BLOB;
ALTER TABLE appointments ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE appointments ADD COLUMN late_cancel INTEGER NOT NULL DEFAULT 0;
UPDATE appointments SET
    location_id = unhex(replace(json_extract(CAST(body AS TEXT), '$.location_id'), '-', '')),
    status      = json_extract(CAST(body AS TEXT), '$.status.state'),
    late_cancel = coalesce(json_extract(CAST(body AS TEXT), '$.status.late'), 0);
-- Covering: a report reads the index alone, never the appointments' bodies.
CREATE INDEX appointments_by_location ON appointments
    (practice_id, location_id, session_start, practitioner_id, status, late_cancel, session_end);
