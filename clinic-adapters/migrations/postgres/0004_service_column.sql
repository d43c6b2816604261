-- clinic-rs storage, schema version 4 (PostgreSQL): each appointment's service beside its
-- body, so counting a patient's year of bookings against the Medicare cap reads the
-- patient's index rows and a few columns instead of decoding every appointment.
-- Existing rows are filled from their bodies.
ALTER TABLE appointments ADD COLUMN service_id uuid;
UPDATE appointments SET service_id = (convert_from(body, 'UTF8')::jsonb ->> 'service_id')::uuid;
