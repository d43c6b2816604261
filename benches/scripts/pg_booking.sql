-- One booking as the PostgreSQL store makes it, for pgbench: the calendar snapshot
-- (practitioner's and patient's versions and appointments, in a read transaction that
-- rolls back), then the guarded commit as one statement (both versions moved, the
-- appointment inserted under both exclusion constraints, its two resource rows) in a
-- transaction scoped to the practice, as the application role (row-level security on).
-- The statements are the store's, with constants for what the store binds: the
-- database's own cost of a booking, without any client code.
-- Versions move by one rather than from the value read (pgbench cannot carry the value
-- from the snapshot to the commit); the row updates are the same. Colons in literals are
-- written \x3a so pgbench does not read them as variables. The names are built in the
-- statement that scopes the transaction and bound as parameters, as the store binds
-- them: a name built inside a condition would keep it out of the index search under
-- row-level security.
\set p random(1, 50)
\set t random(1, 1000000000)
\set pat random(1, 1000000000)
\set bs 1893456000000000 + :t * 3600000000
\set se :bs + 3000000000
\set be :bs + 3600000000
BEGIN;
SELECT set_config('app.practice_id', '11111111-1111-1111-1111-111111111111', true) AS scoped,
  E'practitioner\x3a' || :p AS rp, E'patient\x3a' || :pat AS rq,
  E'cal\x3apractitioner\x3a' || :p AS vp, E'cal\x3apatient\x3a' || :pat AS vq \gset
SELECT NULL AS id, name, value, NULL AS body FROM versions
 WHERE practice_id = '11111111-1111-1111-1111-111111111111' AND name IN (:vp, :vq, 'longest_block_us')
UNION ALL
SELECT a.id, NULL, NULL, a.body FROM appointment_resources r
 JOIN appointments a ON a.practice_id = r.practice_id AND a.id = r.appointment_id
 WHERE r.practice_id = '11111111-1111-1111-1111-111111111111' AND r.holds_time AND r.resource IN (:rp, :rq)
   AND r.block_start >= (SELECT (:bs)::bigint - COALESCE(max(value), 0) FROM versions WHERE practice_id = '11111111-1111-1111-1111-111111111111' AND name = 'longest_block_us')
   AND r.block_start < (:be)::bigint AND r.block_end > (:bs)::bigint;
ROLLBACK;
BEGIN;
SELECT set_config('app.practice_id', '11111111-1111-1111-1111-111111111111', true);
WITH guard AS (
  INSERT INTO versions (practice_id, name, value) VALUES
    ('11111111-1111-1111-1111-111111111111', :vq, 1),
    ('11111111-1111-1111-1111-111111111111', :vp, 1)
  ON CONFLICT (practice_id, name) DO UPDATE SET value = versions.value + 1
  RETURNING 1
), swapped AS (SELECT count(*) = 2 AS ok FROM guard
), added AS (
  INSERT INTO appointments (practice_id, id, practitioner_id, room_id, holds_time, session_start, session_end,
      block_start, block_end, body, location_id, status, late_cancel, service_id)
  SELECT '11111111-1111-1111-1111-111111111111', gen_random_uuid(), md5((:p)::text)::uuid, NULL, true,
      to_timestamp((:bs)::bigint / 1000000.0), to_timestamp((:se)::bigint / 1000000.0), to_timestamp((:bs)::bigint / 1000000.0), to_timestamp((:be)::bigint / 1000000.0),
      convert_to(repeat('{"appointment":"body"}', 25), 'UTF8'), md5('loc')::uuid, 'booked', false, md5('svc')::uuid
  WHERE (SELECT ok FROM swapped)
  RETURNING id
), held AS (
  INSERT INTO appointment_resources (practice_id, resource, block_start, appointment_id, block_end, busy_start, busy_end, holds_time)
  SELECT '11111111-1111-1111-1111-111111111111', v.resource, (:bs)::bigint, added.id, (:be)::bigint, (:bs)::bigint, v.busy_end, true
  FROM added, (VALUES (:rp, :be::bigint), (:rq, :se::bigint)) AS v (resource, busy_end)
  RETURNING 1
)
SELECT (SELECT count(*) FROM guard), (SELECT count(*) FROM added), (SELECT count(*) FROM held);
COMMIT;
