//! Appointments over [`SqlStore`]: snapshots, busy time and the guarded commit.
//!
//! A booking's statements are kept few on purpose, since each costs a round trip: the
//! snapshot is one statement (versions and appointments together, from one database
//! snapshot). On SQLite a booking's snapshot is read in place (`sqlite_read`) and a commit
//! of new appointments is one request to the booking writer's thread (`sqlite_writer`),
//! which runs every statement there; a commit that changes a stored appointment takes the
//! general path through sqlx. On
//! PostgreSQL a commit of new appointments is one statement for the notices, the swap and
//! both inserts.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::DateTime;
use clinic_core::ids::{AppointmentId, LocationId, PatientId, PracticeId, PractitionerId, ServiceId};
use clinic_core::ports::{
    AppointmentRepository, BookingContext, Busy, CalendarSnapshot, CommitNotices, ContextRequest, Guarded,
    PatientSession, PortError, PortErrorKind, ResourceKey,
};
use clinic_core::reports::Tally;
use clinic_core::scheduling::{Appointment, AppointmentStatus, StatusKind};
use clinic_core::time::TimeRange;
use sqlx::Row as _;
use uuid::Uuid;

use super::ports::{LONGEST_BLOCK, body_by_id, bump, calendar_version, other_practice, resource_name};
use super::{SqlStore, fail, read_tx, to_i64, to_u64, write_tx};

fn decode(body: &[u8]) -> Result<Appointment, PortError> {
    serde_json::from_slice(body).map_err(|e| super::corrupt("appointment", e))
}

/// `$from, $from+1, …` for `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 4);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "${}", from + i);
    }
    s
}

/// The lower bound of a block-start scan whose window starts at parameter `$start` (µs): no
/// appointment is longer than the longest stored, so none blocking the window starts
/// earlier than that before it.
///
/// The whole bound is one sub-select, which PostgreSQL runs once and reads as a plain
/// parameter. Under row-level security the planner keeps a condition that could leak
/// (`COALESCE` or arithmetic outside the sub-select) out of the index search until the
/// tenant policy has passed each row: the search would then start at the resource's first
/// row ever and read every one of them before the window.
fn scan_from(start: usize) -> String {
    format!(
        "(SELECT ${start} - COALESCE(max(value), 0) FROM versions WHERE practice_id = $1 AND name = 'longest_block_us')"
    )
}

fn micros_range(start: i64, end: i64) -> Result<TimeRange, PortError> {
    let at = |us| {
        DateTime::from_timestamp_micros(us)
            .ok_or_else(|| PortError::new(PortErrorKind::Unexpected, "a stored instant is out of range"))
    };
    TimeRange::new(at(start)?, at(end)?)
        .map_err(|_| PortError::new(PortErrorKind::Unexpected, "a stored interval is empty"))
}

/// The columns [`bind_row!`] binds.
const ROW_COLUMNS: usize = 12;

/// Binds an appointment row's columns after its practice and id, in table order:
/// practitioner, room, whether it holds time, session and blocked intervals (through `$ts`),
/// body, location, status, whether it was cancelled late, and service: [`ROW_COLUMNS`] in all.
macro_rules! bind_row {
    ($q:expr, $a:expr, $body:expr, $ts:expr) => {
        $q.bind($a.practitioner_id.as_uuid())
            .bind($a.room_id.map(|r| r.as_uuid()))
            .bind($a.holds_time())
            .bind($ts($a.interval.start()))
            .bind($ts($a.interval.end()))
            .bind($ts($a.blocked.start()))
            .bind($ts($a.blocked.end()))
            .bind($body)
            .bind($a.location_id.as_uuid())
            .bind(status_code($a))
            .bind(matches!(&$a.status, AppointmentStatus::Cancelled(c) if c.late))
            .bind($a.service_id.as_uuid())
    };
}

/// Binds a resource row's columns after its practice: the resource, the appointment's
/// blocked start, its id, blocked end, the range this resource is held for (buffered for
/// the practitioner, the session for rooms and patients) and whether it holds time.
macro_rules! bind_resource {
    ($q:expr, $a:expr, $k:expr) => {{
        let busy = match $k {
            ResourceKey::Practitioner(_) => $a.blocked,
            ResourceKey::Room(_) | ResourceKey::Patient(_) => $a.interval,
        };
        $q.bind(resource_name(*$k))
            .bind($a.blocked.start_micros())
            .bind($a.id.as_uuid())
            .bind($a.blocked.end_micros())
            .bind(busy.start_micros())
            .bind(busy.end_micros())
            .bind($a.holds_time())
    }};
}

/// The compare-and-swap of `guards` calendar versions: each row moves from the value read
/// to the next, or is created at 1 when absent; a row not at the value read is left as it
/// is. Parameters: the practice at `$1`, then name and new value per guard from `$first`.
fn swap_sql(guards: usize, first: usize) -> String {
    let values: Vec<String> = (0..guards)
        .map(|i| format!("($1, {})", placeholders(first + 2 * i, 2)))
        .collect();
    format!(
        "INSERT INTO versions (practice_id, name, value) VALUES {}
         ON CONFLICT (practice_id, name) DO UPDATE SET value = excluded.value
         WHERE versions.value = excluded.value - 1",
        values.join(", ")
    )
}

/// Inserts one appointment unless one with its id is stored. Parameters: the practice at
/// `$1`, then from `$first` its id and the columns of [`bind_row!`].
fn insert_appointment_sql(first: usize) -> String {
    format!(
        "INSERT INTO appointments (practice_id, id, practitioner_id, room_id, holds_time, session_start,
             session_end, block_start, block_end, body, location_id, status, late_cancel, service_id)
         VALUES ($1, {})
         ON CONFLICT (practice_id, id) DO NOTHING",
        placeholders(first, 1 + ROW_COLUMNS)
    )
}

/// PostgreSQL: the guarded commit of new appointments as one statement. `guards` version
/// rows move from the value read to the next (as the two-statement path does); only if
/// every one moved are the `appointments` inserted (an existing id is left for the caller
/// to replace), with the `rows` resource rows of those inserted. Answers the versions
/// moved and the ids inserted (comma-separated). Data-modifying `WITH` clauses all see one
/// snapshot; the inserts read the swap's result, so they run after it and not at all when
/// it failed, and a loser never waits on the exclusion constraint. Parameters: `$1` the
/// practice; then name and new value per guard; then per appointment its id and the
/// columns of [`bind_row!`]; then per resource row those of [`bind_resource!`]; then the
/// change's `outbox` notices and `inbox` items as their own inserts take them (in the same
/// statement, so stored if and only if the change is).
fn pg_guarded_insert(guards: usize, appointments: usize, rows: usize, outbox: usize, inbox: usize) -> String {
    let mut next = 2;
    let mut take = |n: usize| {
        let from = next;
        next += n;
        placeholders(from, n)
    };
    let guard_values: Vec<String> = (0..guards).map(|_| format!("($1, {})", take(2))).collect();
    let appointment_values: Vec<String> = (0..appointments)
        .map(|_| format!("($1, {})", take(1 + ROW_COLUMNS)))
        .collect();
    let resource_values: Vec<String> = (0..rows).map(|_| format!("($1, {})", take(7))).collect();
    let mut notices = String::new();
    if outbox > 0 {
        let _ = write!(notices, "notices AS ({}), ", super::outbox::insert_sql_at(outbox, next));
        next += 10 * outbox;
    }
    if inbox > 0 {
        let _ = write!(notices, "items AS ({}), ", super::inbox::insert_sql_at(inbox, next));
    }
    format!(
        "WITH {notices}guard AS (
             INSERT INTO versions (practice_id, name, value) VALUES {guard}
             ON CONFLICT (practice_id, name) DO UPDATE SET value = excluded.value
             WHERE versions.value = excluded.value - 1
             RETURNING 1
         ), swapped AS (
             SELECT count(*) = {guards} AS ok FROM guard
         ), added AS (
             INSERT INTO appointments (practice_id, id, practitioner_id, room_id, holds_time, session_start,
                 session_end, block_start, block_end, body, location_id, status, late_cancel, service_id)
             SELECT v.* FROM (VALUES {appointments}) AS v WHERE (SELECT ok FROM swapped)
             ON CONFLICT (practice_id, id) DO NOTHING
             RETURNING id
         ), held AS (
             INSERT INTO appointment_resources (practice_id, resource, block_start, appointment_id, block_end,
                 busy_start, busy_end, holds_time)
             SELECT v.* FROM (VALUES {resources})
                 AS v (practice_id, resource, block_start, appointment_id, block_end, busy_start, busy_end, holds_time)
             WHERE v.appointment_id IN (SELECT id FROM added)
             RETURNING 1
         )
         SELECT (SELECT count(*) FROM guard),
                (SELECT coalesce(string_agg(id::text, ','), '') FROM added),
                (SELECT count(*) FROM held)",
        guard = guard_values.join(", "),
        appointments = appointment_values.join(", "),
        resources = resource_values.join(", "),
    )
}

/// Inserts `rows` resource rows. Parameters: the practice at `$1`, then per row those of
/// [`bind_resource!`].
fn insert_resources_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO appointment_resources (practice_id, resource, block_start, appointment_id, block_end,
            busy_start, busy_end, holds_time) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "($1, {})", placeholders(7 * i + 2, 7));
    }
    sql
}

/// Moves each of `names` (at `$2` on) one version on, creating it at 1: the resources a
/// commit occupies that it did not guard. Parameters: the practice at `$1`, then the names.
fn bump_sql(names: usize) -> String {
    let values: Vec<String> = (0..names).map(|i| format!("($1, ${}, 1)", i + 2)).collect();
    format!(
        "INSERT INTO versions (practice_id, name, value) VALUES {}
         ON CONFLICT (practice_id, name) DO UPDATE SET value = versions.value + 1",
        values.join(", ")
    )
}

/// Raises the practice's longest stored block (`$3`, µs) if this one is longer.
const RECORD_LONGEST: &str = "INSERT INTO versions (practice_id, name, value) VALUES ($1, $2, $3)
     ON CONFLICT (practice_id, name) DO UPDATE SET value = excluded.value
     WHERE versions.value < excluded.value";

/// The status stored beside an appointment.
fn status_code(a: &Appointment) -> &'static str {
    a.status.kind().code()
}

/// Tallies from grouped rows: practitioner, status, late, count and total length in
/// `per_minute` units.
fn tallies_from(
    location: LocationId,
    rows: Vec<(Uuid, String, bool, i64, i64)>,
    per_minute: i64,
) -> Result<Vec<Tally>, PortError> {
    let mut out: Vec<Tally> = rows
        .into_iter()
        .map(|(who, status, late, n, length)| {
            let status = StatusKind::from_code(&status)
                .ok_or_else(|| PortError::new(PortErrorKind::Unexpected, "a stored appointment status is unknown"))?;
            Ok(Tally {
                practitioner_id: PractitionerId::from_uuid(who),
                location_id: location,
                status,
                late_cancellation: late,
                appointments: to_u64(n),
                minutes: to_u64(length / per_minute),
            })
        })
        .collect::<Result<_, PortError>>()?;
    out.sort_by_key(|t| (t.practitioner_id, t.status.code(), t.late_cancellation));
    Ok(out)
}

/// A calendar snapshot of `n` resources in one statement, so versions and appointments come
/// from one database snapshot: the resources' versions and the longest stored block, then
/// every appointment holding time that blocks one of them in the window (an appointment
/// holding two of them comes twice). Parameters: the practice, the `n` version names, the
/// longest block's name, the `n` resource names, the window's start and end (µs).
///
/// `keyed` (PostgreSQL) names each version and resource in a part of its own, joined by
/// `UNION ALL`, rather than in `IN` lists: PostgreSQL plans a prepared statement once per
/// connection and keeps the plan. Planned while the tables were small, an `IN` list on an
/// index's second column became a filter, the search ran over the whole practice's rows,
/// and the plan was kept as they grew (a booking's snapshot read 40 pages at first and 330
/// ten seconds later). An equality on each leading column leaves the planner one sensible
/// search, whatever it believes of a table's size. SQLite searches an `IN` list in the
/// index whatever its statistics (a plan test holds it to that), and the parts doubled
/// its time.
fn snapshot_sql(n: usize, keyed: bool) -> String {
    let start = 2 * n + 3;
    let end = 2 * n + 4;
    let versions = |name: String| {
        format!(
            "SELECT CAST(NULL AS uuid) AS id, name, value, CAST(NULL AS bytea) AS body FROM versions
             WHERE practice_id = $1 AND name {name}"
        )
    };
    let appointments = |resource: String| {
        format!(
            "SELECT a.id, NULL, NULL, a.body FROM appointment_resources r
             JOIN appointments a ON a.practice_id = r.practice_id AND a.id = r.appointment_id
             WHERE r.practice_id = $1 AND r.resource {resource} AND r.holds_time
               AND r.block_start >= {floor} AND r.block_start < ${end} AND r.block_end > ${start}",
            floor = scan_from(start),
        )
    };
    let parts: Vec<String> = if keyed {
        (2..=n + 2)
            .map(|i| versions(format!("= ${i}")))
            .chain((n + 3..2 * n + 3).map(|i| appointments(format!("= ${i}"))))
            .collect()
    } else {
        vec![
            versions(format!("IN ({})", placeholders(2, n + 1))),
            appointments(format!("IN ({})", placeholders(n + 3, n))),
        ]
    };
    parts.join("\nUNION ALL ")
}

/// The most resources a busy read names one part each (see [`busy_grouped`]): a booking's,
/// or one practitioner's search with a room and a few patients.
const KEYED_PARTS: usize = 8;

/// The busy time of `n` resources in a window, grouped by resource: what follows the
/// select list of a busy read that packs each resource's stretches into one row (a row per
/// stretch costs more in the drivers than the database spends finding it). Parameters: the
/// practice, the `n` resource names, the window's start and end (µs).
///
/// Up to [`KEYED_PARTS`] resources, each is a part of its own, for the reason
/// [`snapshot_sql`] gives (SQLite reads this text only past its in-place limit,
/// `INLINE_KEY_DAYS`). More (a search over every practitioner) are one `IN` list: the
/// read then wants most of the practice's resources, reading through the practice's index
/// entries is what the planner chooses for it with statistics, and 50 parts ran 30% slower
/// on both databases.
fn busy_grouped(n: usize) -> String {
    let start = n + 2;
    let end = n + 3;
    let part = |resource: String| {
        format!(
            "SELECT * FROM appointment_resources
             WHERE practice_id = $1 AND resource {resource} AND holds_time
               AND block_start >= {floor} AND block_start < ${end}
               AND busy_end > ${start} AND busy_start < ${end}",
            floor = scan_from(start),
        )
    };
    let parts = if n <= KEYED_PARTS {
        (2..n + 2).map(|i| part(format!("= ${i}"))).collect::<Vec<_>>()
    } else {
        vec![part(format!("IN ({})", placeholders(2, n)))]
    };
    format!("FROM ({}) AS r GROUP BY r.resource", parts.join("\nUNION ALL "))
}

/// PostgreSQL: [`busy_grouped`] with each resource's stretches in arrays.
#[cfg(feature = "postgres")]
fn pg_busy_sql(n: usize) -> String {
    format!(
        "SELECT r.resource, array_agg(r.busy_start), array_agg(r.busy_end), array_agg(r.appointment_id) {}",
        busy_grouped(n)
    )
}

/// A patient's sessions starting in a window: their index rows by blocked start (a
/// patient's busy range is the session, which starts no earlier than its block and no
/// later than the longest block after it), then each appointment's columns by its key;
/// no body is read. Parameters: the practice, the patient's resource name, the window's
/// start and end (µs).
fn patient_sessions_sql() -> String {
    format!(
        "SELECT a.id, a.service_id, a.location_id, r.busy_start, a.status FROM appointment_resources r
         JOIN appointments a ON a.practice_id = r.practice_id AND a.id = r.appointment_id
         WHERE r.practice_id = $1 AND r.resource = $2 AND r.holds_time
           AND r.block_start >= {floor} AND r.block_start < $4
           AND r.busy_start >= $3 AND r.busy_start < $4",
        floor = scan_from(3)
    )
}

/// A patient's session as stored: appointment id, service, location, start (µs), status.
type SessionRow = (Uuid, Option<Uuid>, Option<Uuid>, i64, String);

/// A patient's sessions from their rows, by start then id.
fn sessions_from(rows: Vec<SessionRow>) -> Result<Vec<PatientSession>, PortError> {
    let missing = || {
        PortError::new(
            PortErrorKind::Unexpected,
            "a stored appointment lacks its service or location",
        )
    };
    let mut out = rows
        .into_iter()
        .map(|(id, service, location, start, status)| {
            Ok(PatientSession {
                appointment: AppointmentId::from_uuid(id),
                service: ServiceId::from_uuid(service.ok_or_else(missing)?),
                location: LocationId::from_uuid(location.ok_or_else(missing)?),
                start: DateTime::from_timestamp_micros(start)
                    .ok_or_else(|| PortError::new(PortErrorKind::Unexpected, "a stored instant is out of range"))?,
                status: StatusKind::from_code(&status).ok_or_else(|| {
                    PortError::new(PortErrorKind::Unexpected, "a stored appointment status is unknown")
                })?,
            })
        })
        .collect::<Result<Vec<_>, PortError>>()?;
    out.sort_by_key(|s| (s.start, s.appointment));
    Ok(out)
}

/// The most resource-days (keys times days of the window) a busy-time read runs in place
/// on SQLite: at a few stretches a day, at most some thousands of rows, a millisecond.
#[cfg(feature = "sqlite")]
const INLINE_KEY_DAYS: i64 = 1_000;

/// Resource-days of a read: `keys` keys times the days `window` touches.
#[cfg(feature = "sqlite")]
fn key_days(keys: usize, window: TimeRange) -> i64 {
    i64::try_from(keys)
        .unwrap_or(i64::MAX)
        .saturating_mul((window.end() - window.start()).num_days() + 1)
}

/// Resource rows per multi-row insert: 8 parameters each, well under both databases' limits.
const ROWS_PER_INSERT: usize = 500;

impl SqlStore {
    /// A calendar snapshot from the rows read: the versions by name (`version_names` in the
    /// order of `keys`) and the appointments' bodies by id.
    fn snapshot_from(
        &self,
        practice: PracticeId,
        keys: &[ResourceKey],
        version_names: &[String],
        versions: &HashMap<String, i64>,
        bodies: &BTreeMap<Uuid, Vec<u8>>,
    ) -> Result<CalendarSnapshot, PortError> {
        self.saw_longest(practice, versions.get(LONGEST_BLOCK).copied().unwrap_or(0));
        let mut appointments = bodies.values().map(|b| decode(b)).collect::<Result<Vec<_>, _>>()?;
        appointments.sort_by_key(|a| (a.blocked.start(), a.id));
        Ok(CalendarSnapshot {
            appointments,
            versions: keys
                .iter()
                .zip(version_names)
                .map(|(k, name)| Guarded {
                    key: *k,
                    version: to_u64(versions.get(name).copied().unwrap_or(0)),
                })
                .collect(),
        })
    }
}

#[async_trait]
impl AppointmentRepository for SqlStore {
    async fn appointment(&self, practice: PracticeId, id: AppointmentId) -> Result<Appointment, PortError> {
        let body = read_tx!(self, practice, |c| body_by_id!(
            c,
            "appointments",
            practice,
            id.as_uuid()
        ));
        decode(&body.ok_or_else(|| PortError::not_found("appointment"))?)
    }

    #[cfg_attr(not(feature = "postgres"), allow(irrefutable_let_patterns))]
    async fn snapshot(
        &self,
        practice: PracticeId,
        keys: &[ResourceKey],
        window: TimeRange,
    ) -> Result<CalendarSnapshot, PortError> {
        if keys.is_empty() {
            return Ok(CalendarSnapshot::default());
        }
        let n = keys.len();
        let version_names: Vec<String> = keys.iter().map(|k| calendar_version(*k)).collect();
        #[cfg(feature = "sqlite")]
        if let super::Db::Sqlite {
            booking, gate, inline, ..
        } = &self.db
        {
            let sql = snapshot_sql(n, false);
            let mut args = super::sqlite_writer::Args::default().bind(practice.as_uuid());
            for name in &version_names {
                args = args.bind(name);
            }
            args = args.bind(LONGEST_BLOCK);
            for k in keys {
                args = args.bind(resource_name(*k));
            }
            let args = args.bind(window.start_micros()).bind(window.end_micros());
            let read = move |c: &rusqlite::Connection| {
                let mut versions = HashMap::new();
                let mut bodies = BTreeMap::new();
                super::sqlite_writer::query(c, &sql, &args, |r| {
                    let at = |e| super::corrupt("calendar row", e);
                    match r.get::<_, Option<Vec<u8>>>(0).map_err(at)? {
                        Some(id) => {
                            let id = Uuid::from_slice(&id).map_err(|e| super::corrupt("appointment id", e))?;
                            if let std::collections::btree_map::Entry::Vacant(slot) = bodies.entry(id) {
                                slot.insert(r.get::<_, Vec<u8>>(3).map_err(at)?);
                            }
                        }
                        None => {
                            versions.insert(r.get::<_, String>(1).map_err(at)?, r.get::<_, i64>(2).map_err(at)?);
                        }
                    }
                    Ok(())
                })?;
                Ok((versions, bodies))
            };
            // A booking's snapshot (a few keys over hours) is read in place, no hand-off,
            // on the writer's own connection when it is idle (its cache is current): a
            // reader sees every commit already acknowledged, and one that lands after the
            // read moves a version the commit's guards then catch. A wide snapshot goes to
            // the booking writer's thread, off the runtime's.
            let (versions, bodies) = if key_days(n, window) <= INLINE_KEY_DAYS {
                match booking.read_if_idle(&read) {
                    Some(read) => read?,
                    None => inline.read(read)?,
                }
            } else {
                let _shared = gate.read().await;
                booking.run(move |c| read(c).map(Some)).await?.unwrap_or_default()
            };
            return self.snapshot_from(practice, keys, &version_names, &versions, &bodies);
        }
        let sql = snapshot_sql(n, true);
        let (versions, bodies) = read_tx!(self, practice, |c| {
            let mut q = sqlx::query(&sql).bind(practice.as_uuid());
            for name in &version_names {
                q = q.bind(name);
            }
            q = q.bind(LONGEST_BLOCK);
            for k in keys {
                q = q.bind(resource_name(*k));
            }
            let rows = q
                .bind(window.start_micros())
                .bind(window.end_micros())
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?;
            let mut versions = HashMap::new();
            // An appointment occupying several of the keys comes once per key.
            let mut bodies = BTreeMap::new();
            for r in &rows {
                match r.try_get::<Option<Uuid>, _>(0).map_err(fail)? {
                    Some(id) => {
                        if let std::collections::btree_map::Entry::Vacant(slot) = bodies.entry(id) {
                            slot.insert(r.try_get::<Vec<u8>, _>(3).map_err(fail)?);
                        }
                    }
                    None => {
                        let name: String = r.try_get(1).map_err(fail)?;
                        let value: i64 = r.try_get(2).map_err(fail)?;
                        versions.insert(name, value);
                    }
                }
            }
            (versions, bodies)
        });
        self.snapshot_from(practice, keys, &version_names, &versions, &bodies)
    }

    async fn busy(
        &self,
        practice: PracticeId,
        keys: &[ResourceKey],
        window: TimeRange,
    ) -> Result<Vec<Busy>, PortError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let n = keys.len();
        let by_name: HashMap<String, ResourceKey> = keys.iter().map(|k| (resource_name(*k), *k)).collect();
        // One row per resource with its stretches packed (arrays on PostgreSQL, text on
        // SQLite): a row per stretch costs more in the drivers than the database spends
        // finding it.
        #[cfg(feature = "postgres")]
        if let super::Db::Postgres(pool) = &self.db {
            let sql = pg_busy_sql(n);
            let mut tx = pool.begin_with(super::pg_begin(practice)).await.map_err(fail)?;
            let mut q = sqlx::query_as(&sql).bind(practice.as_uuid());
            for k in keys {
                q = q.bind(resource_name(*k));
            }
            let rows: Vec<(String, Vec<i64>, Vec<i64>, Vec<Uuid>)> = q
                .bind(window.start_micros())
                .bind(window.end_micros())
                .fetch_all(&mut *tx)
                .await
                .map_err(fail)?;
            super::pg_end_read(tx);
            let mut out = Vec::new();
            for (name, starts, ends, ids) in rows {
                let Some(key) = by_name.get(&name).copied() else {
                    continue;
                };
                for ((start, end), id) in starts.into_iter().zip(ends).zip(ids) {
                    out.push(Busy {
                        key,
                        range: micros_range(start, end)?,
                        appointment: AppointmentId::from_uuid(id),
                    });
                }
            }
            return Ok(out);
        }
        // A few keys over weeks or months are read in place, a row per stretch (without a
        // driver between, rows cost nothing to hand over); a whole practice over months is
        // thousands of rows, which would hold up the runtime thread, and goes to the pool.
        #[cfg(feature = "sqlite")]
        if let Some(readers) = self.inline().filter(|_| key_days(n, window) <= INLINE_KEY_DAYS) {
            use super::sqlite_writer::{Args, fail as failed, query};
            let sql = format!(
                "SELECT r.resource, r.busy_start, r.busy_end, r.appointment_id
                 FROM appointment_resources r
                 WHERE r.practice_id = $1 AND r.holds_time AND r.resource IN ({resources})
                   AND r.block_start >= {floor} AND r.block_start < ${end}
                   AND r.busy_end > ${start} AND r.busy_start < ${end}",
                resources = placeholders(2, n),
                start = n + 2,
                end = n + 3,
                floor = scan_from(n + 2),
            );
            let mut args = Args::default().bind(practice.as_uuid());
            for k in keys {
                args = args.bind(resource_name(*k).as_str());
            }
            let args = args.bind(window.start_micros()).bind(window.end_micros());
            let mut out = Vec::new();
            readers.read(|c| {
                query(c, &sql, &args, |r| {
                    let name: String = r.get(0).map_err(failed)?;
                    let Some(key) = by_name.get(&name).copied() else {
                        return Ok(());
                    };
                    let id: Vec<u8> = r.get(3).map_err(failed)?;
                    out.push(Busy {
                        key,
                        range: micros_range(r.get(1).map_err(failed)?, r.get(2).map_err(failed)?)?,
                        appointment: AppointmentId::from_uuid(
                            Uuid::from_slice(&id).map_err(|e| super::corrupt("appointment id", e))?,
                        ),
                    });
                    Ok(())
                })
            })?;
            return Ok(out);
        }
        let sql = format!(
            "SELECT r.resource, group_concat(r.busy_start || ' ' || r.busy_end || ' ' || hex(r.appointment_id), ',') {}",
            busy_grouped(n)
        );
        // Only SQLite gets here (PostgreSQL returned above); the macro's PostgreSQL arm is
        // compiled but never runs.
        let rows: Vec<(String, String)> = read_tx!(self, practice, |c| {
            let mut q = sqlx::query_as(&sql).bind(practice.as_uuid());
            for k in keys {
                q = q.bind(resource_name(*k));
            }
            q.bind(window.start_micros())
                .bind(window.end_micros())
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?
        });
        let bad = || PortError::new(PortErrorKind::Unexpected, "a stored busy stretch could not be read");
        let mut out = Vec::new();
        for (name, packed) in rows {
            let Some(key) = by_name.get(&name).copied() else {
                continue;
            };
            for stretch in packed.split(',') {
                let mut parts = stretch.split(' ');
                let (Some(start), Some(end), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad());
                };
                out.push(Busy {
                    key,
                    range: micros_range(start.parse().map_err(|_| bad())?, end.parse().map_err(|_| bad())?)?,
                    appointment: AppointmentId::from_uuid(Uuid::try_parse(id).map_err(|_| bad())?),
                });
            }
        }
        Ok(out)
    }

    async fn booking_context(
        &self,
        practice: PracticeId,
        ask: ContextRequest<'_>,
    ) -> Result<BookingContext, PortError> {
        use super::{Kind, uuid_key};
        let sql = context_sql(self.records_by_owner(), ask.room.is_some(), ask.patients.len());
        let practitioner_key = uuid_key(ask.practitioner.as_uuid());
        let mut rows: Vec<(String, String, bool, Vec<u8>)> = Vec::new();
        #[cfg(feature = "sqlite")]
        let inline = self.inline();
        #[cfg(not(feature = "sqlite"))]
        let inline: Option<()> = None;
        #[cfg(feature = "sqlite")]
        if let Some(readers) = inline {
            use super::sqlite_writer::{Args, fail as failed, query};
            let mut args = Args::default()
                .bind(practice.as_uuid())
                .bind(Kind::Practice.as_str())
                .bind(uuid_key(practice.as_uuid()).as_str())
                .bind(Kind::Practitioner.as_str())
                .bind(practitioner_key.as_str())
                .bind(Kind::Template.as_str())
                .bind(Kind::Exception.as_str())
                .bind(ask.practitioner.as_uuid())
                .bind(Kind::Service.as_str())
                .bind(uuid_key(ask.service.as_uuid()).as_str())
                .bind(Kind::Location.as_str())
                .bind(uuid_key(ask.location.as_uuid()).as_str());
            if let Some(room) = ask.room {
                args = args.bind(Kind::Room.as_str()).bind(uuid_key(room.as_uuid()).as_str());
            }
            if !ask.patients.is_empty() {
                args = args.bind(Kind::Patient.as_str());
                for p in ask.patients {
                    args = args.bind(uuid_key(p.as_uuid()).as_str());
                }
            }
            readers.read(|c| {
                query(c, &sql, &args, |r| {
                    rows.push((
                        r.get(0).map_err(failed)?,
                        r.get(1).map_err(failed)?,
                        r.get(2).map_err(failed)?,
                        r.get(3).map_err(failed)?,
                    ));
                    Ok(())
                })
            })?;
        }
        if inline.is_none() {
            rows = read_tx!(self, practice, |c| {
                let mut q = sqlx::query_as(&sql)
                    .bind(practice.as_uuid())
                    .bind(Kind::Practice.as_str())
                    .bind(uuid_key(practice.as_uuid()))
                    .bind(Kind::Practitioner.as_str())
                    .bind(&practitioner_key)
                    .bind(Kind::Template.as_str())
                    .bind(Kind::Exception.as_str())
                    .bind(ask.practitioner.as_uuid())
                    .bind(Kind::Service.as_str())
                    .bind(uuid_key(ask.service.as_uuid()))
                    .bind(Kind::Location.as_str())
                    .bind(uuid_key(ask.location.as_uuid()));
                if let Some(room) = ask.room {
                    q = q.bind(Kind::Room.as_str()).bind(uuid_key(room.as_uuid()));
                }
                if !ask.patients.is_empty() {
                    q = q.bind(Kind::Patient.as_str());
                    for p in ask.patients {
                        q = q.bind(uuid_key(p.as_uuid()));
                    }
                }
                q.fetch_all(&mut *c).await.map_err(fail)?
            });
        }
        // By kind, then key: templates and exceptions in a stable order, whatever the plan.
        rows.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        // A patient asked for twice is read by two parts of the statement.
        rows.dedup_by(|a, b| (&a.0, &a.1) == (&b.0, &b.1));
        let mut ctx = BookingContext::default();
        for (kind, key, sealed, body) in &rows {
            let Some(kind) = [
                Kind::Practice,
                Kind::Practitioner,
                Kind::Template,
                Kind::Exception,
                Kind::Service,
                Kind::Location,
                Kind::Room,
                Kind::Patient,
            ]
            .into_iter()
            .find(|k| k.as_str() == kind) else {
                return Err(PortError::new(
                    PortErrorKind::Unexpected,
                    "a stored record has an unexpected kind",
                ));
            };
            match kind {
                Kind::Practice => ctx.practice = Some(self.decode(practice, kind, key, *sealed, body)?),
                Kind::Practitioner => ctx.practitioner = Some(self.decode(practice, kind, key, *sealed, body)?),
                Kind::Template => ctx
                    .availability
                    .templates
                    .push(self.decode(practice, kind, key, *sealed, body)?),
                Kind::Exception => ctx
                    .availability
                    .exceptions
                    .push(self.decode(practice, kind, key, *sealed, body)?),
                Kind::Service => ctx.service = Some(self.decode(practice, kind, key, *sealed, body)?),
                Kind::Location => ctx.location = Some(self.decode(practice, kind, key, *sealed, body)?),
                Kind::Room => ctx.room = Some(self.decode(practice, kind, key, *sealed, body)?),
                Kind::Patient => ctx.patients.push(self.decode(practice, kind, key, *sealed, body)?),
                _ => {
                    return Err(PortError::new(
                        PortErrorKind::Unexpected,
                        "a stored record has an unexpected kind",
                    ));
                }
            }
        }
        // In the order asked, as the contract says.
        ctx.patients
            .sort_by_key(|p| ask.patients.iter().position(|x| *x == p.id).unwrap_or(usize::MAX));
        Ok(ctx)
    }

    #[cfg_attr(not(feature = "postgres"), allow(irrefutable_let_patterns))]
    async fn commit_with_notices(
        &self,
        practice: PracticeId,
        guards: &[Guarded],
        changes: &[Appointment],
        notices: &CommitNotices,
    ) -> Result<(), PortError> {
        if changes.iter().any(|a| a.practice_id != practice) {
            return Err(other_practice("an appointment"));
        }
        if notices.outbox.iter().any(|n| n.practice_id != practice)
            || notices.inbox.iter().any(|i| i.practice_id != practice)
        {
            return Err(other_practice("a notice"));
        }
        // Encoded (and sealed) before the transaction, which then only writes.
        let outbox_bodies = notices
            .outbox
            .iter()
            .map(super::outbox::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let inbox_bodies = self.encode_items(&notices.inbox)?;
        let bodies = changes
            .iter()
            .map(|a| {
                serde_json::to_vec(a).map_err(|e| {
                    PortError::new(PortErrorKind::Unexpected, "an appointment could not be serialized").with_source(e)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let longest = changes
            .iter()
            .map(|a| a.blocked.end_micros() - a.blocked.start_micros())
            .max()
            .unwrap_or(0);
        // The stored maximum only grows; one already seen that covers this commit needs no write.
        let record_longest = longest > self.longest_seen(practice);
        let mut guarded: Vec<(String, u64)> = guards.iter().map(|g| (calendar_version(g.key), g.version)).collect();
        guarded.sort();
        guarded.dedup_by(|a, b| a.0 == b.0);
        #[cfg(feature = "sqlite")]
        if let super::Db::Sqlite { booking, gate, .. } = &self.db
            && !changes.is_empty()
        {
            let commit = sqlite::Commit::new(
                practice,
                &guarded,
                changes,
                &bodies,
                notices,
                (&outbox_bodies, &inbox_bodies),
                record_longest.then_some(longest),
            )?;
            let _shared = gate.read().await;
            if booking.run(move |c| commit.run(c)).await?.is_some() {
                drop(_shared);
                self.saw_longest(practice, longest);
                return Ok(());
            }
            // An appointment in it is already stored: a change to it, which the general
            // path below replaces.
        }
        write_tx!(self, practice, |c, ts| {
            let rows: Vec<(&Appointment, ResourceKey)> = changes
                .iter()
                .flat_map(|a| ResourceKey::of(a).into_iter().map(move |k| (a, k)))
                .collect();
            let postgres = super::is_postgres(&c);
            let one_statement = postgres && !guarded.is_empty() && !changes.is_empty() && rows.len() <= ROWS_PER_INSERT;
            if postgres && !one_statement {
                // The change's notices, in the same transaction: stored if and only if it
                // is. They go first, before any calendar row is locked, so the locks below
                // are held for as short a time as possible (a commit that then loses rolls
                // them back).
                super::outbox::insert_outbox!(c, ts, practice, &notices.outbox, &outbox_bodies);
                super::inbox::insert_items!(c, practice, &notices.inbox, &inbox_bodies);
            }
            // Then every guarded version moves from the value read to the next in one
            // statement, in name order so concurrent commits lock rows in one order. Losers
            // of a race stop there, before inserting: an insert that overlapped the winner's
            // would wait on PostgreSQL's exclusion constraint, and two such waits can
            // deadlock. A row absent is version 0 and is created at 1; a row not at its
            // expected value is not changed, and then fewer rows than guards were affected:
            // the calendar moved. New appointments go in after it; one already stored is
            // replaced below, once its old resources are known.
            //
            // On PostgreSQL the notices, the swap, the new appointments and their resource
            // rows are one statement (one round trip instead of five), the appointments'
            // inserts conditional on the swap. New appointments' rows are then in;
            // replaced ones' follow below.
            let mut inserted: Vec<Uuid> = Vec::with_capacity(changes.len());
            if one_statement {
                let sql = pg_guarded_insert(
                    guarded.len(),
                    changes.len(),
                    rows.len(),
                    notices.outbox.len(),
                    notices.inbox.len(),
                );
                let mut q = sqlx::query(&sql).bind(practice.as_uuid());
                for (name, version) in &guarded {
                    q = q.bind(name).bind(to_i64(version + 1)?);
                }
                for (a, body) in changes.iter().zip(&bodies) {
                    q = bind_row!(q.bind(a.id.as_uuid()), a, body, ts);
                }
                for (a, k) in &rows {
                    q = bind_resource!(q, a, k);
                }
                let q = super::outbox::bind_outbox!(q, ts, practice, &notices.outbox, &outbox_bodies);
                let q = super::inbox::bind_items!(q, &notices.inbox, &inbox_bodies);
                let row = q.fetch_one(&mut *c).await.map_err(fail)?;
                let moved: i64 = row.try_get(0).map_err(fail)?;
                if moved != to_i64(guarded.len() as u64)? {
                    return Err(PortError::conflict("the calendar changed since it was read"));
                }
                let ids: String = row.try_get(1).map_err(fail)?;
                for id in ids.split(',').filter(|x| !x.is_empty()) {
                    inserted.push(Uuid::parse_str(id).map_err(|e| super::corrupt("appointment id", e))?);
                }
            } else if !postgres {
                // SQLite runs several statements in one call, one trip to its connection's
                // thread: the notices, the swap and the inserts go together, and the swap is
                // checked from its own result after. Inserts made behind a failed swap are
                // rolled back with it; SQLite's single writer has nobody to wait on.
                let mut statements: Vec<String> = Vec::new();
                let mut next = 2;
                if !notices.outbox.is_empty() {
                    statements.push(super::outbox::insert_sql_at(notices.outbox.len(), next));
                    next += 10 * notices.outbox.len();
                }
                if !notices.inbox.is_empty() {
                    statements.push(super::inbox::insert_sql_at(notices.inbox.len(), next));
                    next += 5 * notices.inbox.len();
                }
                let notice_statements = statements.len();
                if !guarded.is_empty() {
                    statements.push(swap_sql(guarded.len(), next));
                    next += 2 * guarded.len();
                }
                for _ in changes {
                    statements.push(insert_appointment_sql(next));
                    next += 1 + ROW_COLUMNS;
                }
                let sql = statements.join(";\n");
                let q = super::outbox::bind_outbox!(
                    sqlx::query(&sql).bind(practice.as_uuid()),
                    ts,
                    practice,
                    &notices.outbox,
                    &outbox_bodies
                );
                let mut q = super::inbox::bind_items!(q, &notices.inbox, &inbox_bodies);
                for (name, version) in &guarded {
                    q = q.bind(name).bind(to_i64(version + 1)?);
                }
                for (a, body) in changes.iter().zip(&bodies) {
                    q = bind_row!(q.bind(a.id.as_uuid()), a, body, ts);
                }
                let results =
                    futures_util::TryStreamExt::try_collect::<Vec<_>>(sqlx::Executor::execute_many(&mut *c, q))
                        .await
                        .map_err(fail)?;
                // Rows changed by each statement, in order.
                let mut done = Vec::with_capacity(results.len());
                for r in &results {
                    done.push(r.rows_affected());
                }
                let mut done = done.into_iter().skip(notice_statements);
                if !guarded.is_empty() && done.next() != Some(guarded.len() as u64) {
                    return Err(PortError::conflict("the calendar changed since it was read"));
                }
                for (a, added) in changes.iter().zip(done) {
                    if added > 0 {
                        inserted.push(a.id.as_uuid());
                    }
                }
            } else {
                if !guarded.is_empty() {
                    let sql = swap_sql(guarded.len(), 2);
                    let mut q = sqlx::query(&sql).bind(practice.as_uuid());
                    for (name, version) in &guarded {
                        q = q.bind(name).bind(to_i64(version + 1)?);
                    }
                    let moved = q.execute(&mut *c).await.map_err(fail)?.rows_affected();
                    if moved != guarded.len() as u64 {
                        return Err(PortError::conflict("the calendar changed since it was read"));
                    }
                }
                for (a, body) in changes.iter().zip(&bodies) {
                    let added = bind_row!(
                        sqlx::query(&insert_appointment_sql(2))
                            .bind(practice.as_uuid())
                            .bind(a.id.as_uuid()),
                        a,
                        body,
                        ts
                    )
                    .execute(&mut *c)
                    .await
                    .map_err(fail)?
                    .rows_affected();
                    if added > 0 {
                        inserted.push(a.id.as_uuid());
                    }
                }
            }
            let mut replaced = Vec::new();
            let mut touched: Vec<String> = Vec::new();
            for (a, body) in changes.iter().zip(&bodies) {
                if !inserted.contains(&a.id.as_uuid()) {
                    let old = body_by_id!(c, "appointments", practice, a.id.as_uuid());
                    if let Some(old) = old {
                        touched.extend(ResourceKey::of(&decode(&old)?).into_iter().map(calendar_version));
                    }
                    replaced.push((a, body));
                }
                touched.extend(ResourceKey::of(a).into_iter().map(calendar_version));
            }
            touched.sort();
            touched.dedup();
            for name in touched
                .iter()
                .filter(|t| guarded.binary_search_by(|g| g.0.cmp(t)).is_err())
            {
                bump!(c, practice, name.as_str());
            }
            for (a, body) in &replaced {
                bind_row!(
                    sqlx::query(
                        "UPDATE appointments SET practitioner_id = $3, room_id = $4, holds_time = $5,
                            session_start = $6, session_end = $7, block_start = $8, block_end = $9, body = $10,
                            location_id = $11, status = $12, late_cancel = $13, service_id = $14
                         WHERE practice_id = $1 AND id = $2",
                    )
                    .bind(practice.as_uuid())
                    .bind(a.id.as_uuid()),
                    a,
                    *body,
                    ts
                )
                .execute(&mut *c)
                .await
                .map_err(fail)?;
                sqlx::query("DELETE FROM appointment_resources WHERE practice_id = $1 AND appointment_id = $2")
                    .bind(practice.as_uuid())
                    .bind(a.id.as_uuid())
                    .execute(&mut *c)
                    .await
                    .map_err(fail)?;
            }
            // Every appointment's resource rows not already in (all of them but on the
            // one-statement path, where only replaced appointments' remain).
            let rest: Vec<&(&Appointment, ResourceKey)> = rows
                .iter()
                .filter(|(a, _)| !one_statement || !inserted.contains(&a.id.as_uuid()))
                .collect();
            for chunk in rest.chunks(ROWS_PER_INSERT) {
                let sql = insert_resources_sql(chunk.len());
                let mut q = sqlx::query(&sql).bind(practice.as_uuid());
                for (a, k) in chunk {
                    q = bind_resource!(q, a, k);
                }
                q.execute(&mut *c).await.map_err(fail)?;
            }
            if record_longest {
                sqlx::query(RECORD_LONGEST)
                    .bind(practice.as_uuid())
                    .bind(LONGEST_BLOCK)
                    .bind(longest)
                    .execute(&mut *c)
                    .await
                    .map_err(fail)?;
            }
        });
        self.saw_longest(practice, longest);
        Ok(())
    }

    async fn tallies(
        &self,
        practice: PracticeId,
        location: LocationId,
        window: TimeRange,
    ) -> Result<Vec<Tally>, PortError> {
        // Summed in the database over the (practice, location, session start) index: a
        // year of appointments comes back as a few rows per practitioner.
        #[cfg(feature = "postgres")]
        if let super::Db::Postgres(pool) = &self.db {
            let mut tx = pool.begin_with(super::pg_begin(practice)).await.map_err(fail)?;
            let rows: Vec<(Uuid, String, bool, i64, i64)> = sqlx::query_as(
                "SELECT practitioner_id, status, late_cancel, count(*),
                        coalesce(sum(extract(epoch FROM session_end - session_start)), 0)::bigint
                 FROM appointments
                 WHERE practice_id = $1 AND location_id = $2 AND session_start >= $3 AND session_start < $4
                 GROUP BY practitioner_id, status, late_cancel",
            )
            .bind(practice.as_uuid())
            .bind(location.as_uuid())
            .bind(window.start())
            .bind(window.end())
            .fetch_all(&mut *tx)
            .await
            .map_err(fail)?;
            super::pg_end_read(tx);
            return tallies_from(location, rows, 60);
        }
        // Only SQLite gets here (PostgreSQL returned above).
        let rows: Vec<(Uuid, String, bool, i64, i64)> = read_tx!(self, practice, |c| {
            sqlx::query_as(
                "SELECT practitioner_id, status, late_cancel, count(*), coalesce(sum(session_end - session_start), 0)
                 FROM appointments
                 WHERE practice_id = $1 AND location_id = $2 AND session_start >= $3 AND session_start < $4
                 GROUP BY practitioner_id, status, late_cancel",
            )
            .bind(practice.as_uuid())
            .bind(location.as_uuid())
            .bind(window.start_micros())
            .bind(window.end_micros())
            .fetch_all(&mut *c)
            .await
            .map_err(fail)?
        });
        tallies_from(location, rows, 60_000_000)
    }

    async fn patient_sessions(
        &self,
        practice: PracticeId,
        patient: PatientId,
        window: TimeRange,
    ) -> Result<Vec<PatientSession>, PortError> {
        let sql = patient_sessions_sql();
        #[cfg(feature = "sqlite")]
        if let Some(readers) = self.inline() {
            use super::sqlite_writer::{Args, fail as failed, query};
            let args = Args::default()
                .bind(practice.as_uuid())
                .bind(resource_name(ResourceKey::Patient(patient)).as_str())
                .bind(window.start_micros())
                .bind(window.end_micros());
            let uuid = |b: Vec<u8>| Uuid::from_slice(&b).map_err(|e| super::corrupt("appointment row", e));
            let mut rows: Vec<SessionRow> = Vec::new();
            readers.read(|c| {
                query(c, &sql, &args, |r| {
                    rows.push((
                        uuid(r.get(0).map_err(failed)?)?,
                        r.get::<_, Option<Vec<u8>>>(1).map_err(failed)?.map(uuid).transpose()?,
                        r.get::<_, Option<Vec<u8>>>(2).map_err(failed)?.map(uuid).transpose()?,
                        r.get(3).map_err(failed)?,
                        r.get(4).map_err(failed)?,
                    ));
                    Ok(())
                })
            })?;
            return sessions_from(rows);
        }
        let rows: Vec<SessionRow> = read_tx!(self, practice, |c| {
            sqlx::query_as(&sql)
                .bind(practice.as_uuid())
                .bind(resource_name(ResourceKey::Patient(patient)))
                .bind(window.start_micros())
                .bind(window.end_micros())
                .fetch_all(&mut *c)
                .await
                .map_err(fail)?
        });
        sessions_from(rows)
    }

    async fn patient_appointments(
        &self,
        practice: PracticeId,
        patient: PatientId,
    ) -> Result<Vec<Appointment>, PortError> {
        let bodies: Vec<Vec<u8>> = read_tx!(self, practice, |c| {
            sqlx::query_scalar(
                "SELECT a.body FROM appointment_resources r
                 JOIN appointments a ON a.practice_id = r.practice_id AND a.id = r.appointment_id
                 WHERE r.practice_id = $1 AND r.resource = $2",
            )
            .bind(practice.as_uuid())
            .bind(resource_name(ResourceKey::Patient(patient)))
            .fetch_all(&mut *c)
            .await
            .map_err(fail)?
        });
        let mut v = bodies.iter().map(|b| decode(b)).collect::<Result<Vec<_>, _>>()?;
        v.sort_by_key(|a| (a.interval.start(), a.id));
        Ok(v)
    }
}

/// The one statement that reads every record a booking needs: the practice, the
/// practitioner with their templates and exceptions, the service, location, room (when
/// `room`) and `patients` patients. Each part is its own indexed lookup, the owner's through
/// `records_by_owner` (see [`SqlStore::records_by_owner`]): written as one condition joined
/// by `OR`, SQLite walked every record of the practice instead, so a booking slowed as the
/// practice's patients, notes and inbox grew. Each kind and each patient is an equality of
/// its own, not an `IN` list, for the reason [`snapshot_sql`] gives: PostgreSQL had kept a
/// plan that searched the owner's records of every kind and filtered them.
fn context_sql(records_by_owner: &str, room: bool, patients: usize) -> String {
    const SELECT: &str = "SELECT kind, key, sealed_with IS NOT NULL, body FROM";
    let mut sql = format!(
        "{SELECT} records WHERE practice_id = $1 AND kind = $2 AND key = $3
         UNION ALL {SELECT} records WHERE practice_id = $1 AND kind = $4 AND key = $5
         UNION ALL {SELECT} {records_by_owner} WHERE practice_id = $1 AND kind = $6 AND owner_id = $8
         UNION ALL {SELECT} {records_by_owner} WHERE practice_id = $1 AND kind = $7 AND owner_id = $8
         UNION ALL {SELECT} records WHERE practice_id = $1 AND kind = $9 AND key = $10
         UNION ALL {SELECT} records WHERE practice_id = $1 AND kind = $11 AND key = $12"
    );
    let mut next = 13;
    if room {
        let _ = write!(
            sql,
            " UNION ALL {SELECT} records WHERE practice_id = $1 AND kind = ${next} AND key = ${}",
            next + 1
        );
        next += 2;
    }
    for i in 0..patients {
        let _ = write!(
            sql,
            " UNION ALL {SELECT} records WHERE practice_id = $1 AND kind = ${next} AND key = ${}",
            next + 1 + i
        );
    }
    sql
}

/// SQLite's booking commit on the booking writer's thread (see `sqlite_writer`).
#[cfg(feature = "sqlite")]
mod sqlite {
    use clinic_core::ids::PracticeId;
    use clinic_core::ports::{CommitNotices, PortError, ResourceKey};
    use clinic_core::scheduling::{Appointment, AppointmentStatus};

    use super::super::Body;
    use super::super::ports::{calendar_version, resource_name};
    use super::super::sqlite_writer::{Args, execute};
    use super::super::to_i64;
    use super::{
        LONGEST_BLOCK, RECORD_LONGEST, ROWS_PER_INSERT, bump_sql, insert_appointment_sql, insert_resources_sql,
        status_code, swap_sql,
    };

    /// What a statement's changed-row count must be for the commit to go on.
    enum Expect {
        /// Anything (notices already queued are skipped, as on every path).
        Any,
        /// Exactly this many: the guarded versions, every one moved.
        Moved(u64),
        /// One: an appointment not already stored.
        New,
    }

    /// The statements of a commit of new appointments, bound and ready to run in order:
    /// the notices, the swap, the appointments, their resource rows, the longest block.
    pub(super) struct Commit(Vec<(String, Args, Expect)>);

    impl Commit {
        pub(super) fn new(
            practice: PracticeId,
            guarded: &[(String, u64)],
            changes: &[Appointment],
            bodies: &[Vec<u8>],
            notices: &CommitNotices,
            (outbox_bodies, inbox_bodies): (&[Vec<u8>], &[(String, Body)]),
            longest: Option<i64>,
        ) -> Result<Self, PortError> {
            let ts = |t: chrono::DateTime<chrono::Utc>| t.timestamp_micros();
            let at = || Args::default().bind(practice.as_uuid());
            let mut steps = Vec::new();
            if !notices.outbox.is_empty() {
                let args =
                    super::super::outbox::bind_outbox!(Args::default(), ts, practice, &notices.outbox, outbox_bodies);
                steps.push((
                    super::super::outbox::insert_sql_at(notices.outbox.len(), 1),
                    args,
                    Expect::Any,
                ));
            }
            if !notices.inbox.is_empty() {
                let args = super::super::inbox::bind_items!(at(), &notices.inbox, inbox_bodies);
                steps.push((
                    super::super::inbox::insert_sql_at(notices.inbox.len(), 2),
                    args,
                    Expect::Any,
                ));
            }
            if !guarded.is_empty() {
                let mut args = at();
                for (name, version) in guarded {
                    args = args.bind(name).bind(to_i64(version + 1)?);
                }
                steps.push((swap_sql(guarded.len(), 2), args, Expect::Moved(guarded.len() as u64)));
            }
            for (a, body) in changes.iter().zip(bodies) {
                let args = bind_row!(at().bind(a.id.as_uuid()), a, body, ts);
                steps.push((insert_appointment_sql(2), args, Expect::New));
            }
            let rows: Vec<(&Appointment, ResourceKey)> = changes
                .iter()
                .flat_map(|a| ResourceKey::of(a).into_iter().map(move |k| (a, k)))
                .collect();
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                let mut args = at();
                for (a, k) in chunk {
                    args = bind_resource!(args, a, k);
                }
                steps.push((insert_resources_sql(chunk.len()), args, Expect::Any));
            }
            // Every resource occupied moves on, guarded or not (the port's contract): the
            // guarded ones moved in the swap above.
            let mut unguarded: Vec<String> = rows.iter().map(|(_, k)| calendar_version(*k)).collect();
            unguarded.sort();
            unguarded.dedup();
            unguarded.retain(|name| guarded.binary_search_by(|g| g.0.cmp(name)).is_err());
            if !unguarded.is_empty() {
                let args = unguarded.iter().fold(at(), |args, name| args.bind(name.as_str()));
                steps.push((bump_sql(unguarded.len()), args, Expect::Any));
            }
            if let Some(longest) = longest {
                steps.push((
                    RECORD_LONGEST.to_owned(),
                    at().bind(LONGEST_BLOCK).bind(longest),
                    Expect::Any,
                ));
            }
            Ok(Self(steps))
        }

        /// Runs the commit: `Some` when it is stored; `None` (nothing written) when an
        /// appointment in it is already stored, a change this path does not make; a conflict
        /// when a guarded version moved since it was read.
        pub(super) fn run(self, c: &rusqlite::Connection) -> Result<Option<()>, PortError> {
            for (sql, args, expect) in &self.0 {
                let changed = execute(c, sql, args)?;
                match expect {
                    Expect::Moved(n) if changed != *n => {
                        return Err(PortError::conflict("the calendar changed since it was read"));
                    }
                    Expect::New if changed == 0 => return Ok(None),
                    _ => {}
                }
            }
            Ok(Some(()))
        }
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::{INVOICES_BY_PATIENT, OUTBOX_BY_ABOUT, OUTBOX_BY_PROVIDER, RECORDS_BY_OWNER};
    use super::{context_sql, patient_sessions_sql, snapshot_sql};

    /// What SQLite plans for `sql` on a new migrated database, which has no statistics: the
    /// detail of each step.
    async fn plan(sql: &str) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!("clinic-plan-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plan.db");
        super::super::SqlStore::migrate_to(&format!("sqlite://{}", path.display()), i64::MAX)
            .await
            .unwrap();
        let c = rusqlite::Connection::open(&path).unwrap();
        let mut s = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        // Unbound parameters are NULL, and the plan does not depend on them.
        let mut rows = s.raw_query();
        let mut steps = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            steps.push(r.get::<_, String>(3).unwrap());
        }
        drop(rows);
        drop(s);
        drop(c);
        std::fs::remove_dir_all(&dir).unwrap();
        steps
    }

    #[tokio::test]
    async fn a_booking_reads_each_record_by_its_key_or_its_owner() {
        const BY_KEY: &str = "SEARCH records USING PRIMARY KEY (practice_id=? AND kind=? AND key=?)";
        const BY_OWNER: &str = "SEARCH records USING INDEX records_owner (practice_id=? AND kind=? AND owner_id=?)";
        for (room, patients) in [(false, 0), (false, 1), (true, 3)] {
            let steps = plan(&context_sql(RECORDS_BY_OWNER.sqlite, room, patients)).await;
            let reads: Vec<&String> = steps.iter().filter(|s| s.contains("records")).collect();
            assert!(
                reads.iter().all(|s| s.as_str() == BY_KEY || s.as_str() == BY_OWNER),
                "a part of the read walks records: {steps:?}"
            );
            // Templates and exceptions by their owner, each kind apart.
            assert_eq!(reads.iter().filter(|s| s.as_str() == BY_OWNER).count(), 2, "{steps:?}");
            let by_key = 4 + usize::from(room) + patients;
            assert_eq!(reads.len() - 2, by_key, "{steps:?}");
        }
    }

    #[tokio::test]
    async fn a_patient_s_sessions_are_read_by_key_alone() {
        let steps = plan(&patient_sessions_sql()).await;
        assert!(
            steps.contains(
                &"SEARCH r USING PRIMARY KEY (practice_id=? AND resource=? AND block_start>? AND block_start<?)".into()
            ),
            "{steps:?}"
        );
        assert!(
            steps.contains(&"SEARCH a USING PRIMARY KEY (practice_id=? AND id=?)".into()),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
    }

    /// SQLite's snapshot keeps its `IN` lists, and searches the index by them on a new
    /// database without statistics: versions by name, resources by name and both bounds.
    #[tokio::test]
    async fn a_snapshot_searches_by_name_and_both_bounds() {
        for n in [1, 3] {
            let steps = plan(&snapshot_sql(n, false)).await;
            assert!(
                steps.contains(&"SEARCH versions USING PRIMARY KEY (practice_id=? AND name=?)".into()),
                "{steps:?}"
            );
            assert!(
                steps.contains(
                    &"SEARCH r USING PRIMARY KEY (practice_id=? AND resource=? AND block_start>? AND block_start<?)"
                        .into()
                ),
                "{steps:?}"
            );
            assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "{steps:?}");
        }
    }

    #[tokio::test]
    async fn reads_through_a_secondary_index_use_it() {
        let cases = [
            (
                RECORDS_BY_OWNER,
                "kind = $2 AND owner_id = $3 ORDER BY key",
                "records_owner (practice_id=? AND kind=? AND owner_id=?)",
            ),
            (
                INVOICES_BY_PATIENT,
                "patient_id = $2",
                "invoices_patient (practice_id=? AND patient_id=?)",
            ),
            (
                OUTBOX_BY_ABOUT,
                "about = $2",
                "outbox_about (practice_id=? AND about=?)",
            ),
            (
                OUTBOX_BY_PROVIDER,
                "provider_id = $2",
                "outbox_provider (practice_id=? AND provider_id=?)",
            ),
        ];
        for (through, filter, index) in cases {
            let steps = plan(&format!(
                "SELECT body FROM {} WHERE practice_id = $1 AND {filter}",
                through.sqlite
            ))
            .await;
            assert!(steps[0].ends_with(&format!("USING INDEX {index}")), "{steps:?}");
        }
    }
}

/// What PostgreSQL plans for the calendar reads, as the application role under row-level
/// security: the plan a pooled connection keeps for a prepared statement (the generic one).
#[cfg(all(test, feature = "postgres"))]
mod pg_plans {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use sqlx::{Connection as _, Executor as _, Row as _};

    use super::{patient_sessions_sql, pg_busy_sql, snapshot_sql};

    /// The server's URL, or `None` with the reason printed; with `CI=true` a missing
    /// `DATABASE_URL` fails instead.
    fn admin_url() -> Option<String> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if url.starts_with("postgres") => Some(url),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but DATABASE_URL does not name a PostgreSQL database")
            }
            _ => {
                eprintln!("SKIPPED: PostgreSQL plan tests need DATABASE_URL=postgres://…");
                None
            }
        }
    }

    /// The generic plans of `statements` (each with its number of parameters) on a new
    /// migrated database, as the application role scoped to one practice.
    async fn plans(admin: &str, statements: &[(String, usize)]) -> Vec<String> {
        let name = format!("clinic_plan_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        conn.execute(&*format!("CREATE DATABASE {name}")).await.unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').map_or(admin, |(b, _)| b));
        super::super::SqlStore::migrate_to(&url, i64::MAX).await.unwrap();
        let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
        db.execute(
            "SET ROLE clinic_app; SET plan_cache_mode = force_generic_plan;
             SELECT set_config('app.practice_id', '11111111-1111-1111-1111-111111111111', false)",
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        for (i, (sql, params)) in statements.iter().enumerate() {
            db.execute(&*format!("PREPARE s{i} AS {sql}")).await.unwrap();
            let nulls = vec!["NULL"; *params].join(", ");
            let rows = db.fetch_all(&*format!("EXPLAIN EXECUTE s{i}({nulls})")).await.unwrap();
            out.push(
                rows.iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        db.close().await.unwrap();
        conn.execute(&*format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .unwrap();
        out
    }

    /// The scans of a plan: each scan's line, then its conditions (`Index Cond`,
    /// `Recheck Cond`, `Filter`), one string each.
    fn scans(plan: &str) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for line in plan.lines().map(str::trim) {
            let line = line.trim_start_matches("->").trim();
            if line.contains(" Scan ") || line.starts_with("Index Scan") || line.starts_with("Bitmap") {
                out.push((line.to_owned(), Vec::new()));
            } else if let Some(last) = out.last_mut()
                && (line.starts_with("Index Cond:") || line.starts_with("Recheck Cond:") || line.starts_with("Filter:"))
            {
                last.1.push(line.to_owned());
            }
        }
        out
    }

    /// Every calendar read, planned on an empty database (as a prepared statement first is
    /// on a new clinic's, and kept as the tables grow), finds each resource's rows by its
    /// name and between both bounds of the window in the index itself, and each version
    /// by its name: a name or a bound left to a filter reads rows of the whole practice, or
    /// every row a resource ever had, a cost that grows with each booking.
    #[tokio::test]
    async fn calendar_reads_search_the_index_by_name_and_both_bounds() {
        let Some(admin) = admin_url() else { return };
        let statements = vec![
            (snapshot_sql(1, true), 6),
            (snapshot_sql(3, true), 10),
            (pg_busy_sql(1), 4),
            (pg_busy_sql(super::KEYED_PARTS), super::KEYED_PARTS + 3),
            (patient_sessions_sql(), 4),
        ];
        for (plan, (sql, _)) in plans(&admin, &statements).await.iter().zip(&statements) {
            let scans = scans(plan);
            let resources: Vec<_> = scans
                .iter()
                .filter(|(scan, _)| scan.contains(" on appointment_resources"))
                .collect();
            assert!(!resources.is_empty(), "{plan}");
            for (scan, conds) in resources {
                let searched = conds.iter().find(|c| c.starts_with("Index Cond:"));
                assert!(
                    searched.is_some_and(|c| c.contains("(resource = $")
                        && c.contains("(block_start >= $")
                        && c.contains("(block_start < $")),
                    "{scan} leaves the name or a bound out of its search\n{sql}\n{plan}"
                );
            }
            for (scan, conds) in scans.iter().filter(|(scan, _)| scan.contains(" on versions")) {
                assert!(
                    conds
                        .iter()
                        .any(|c| c.starts_with("Index Cond:") && c.contains("(name = ")),
                    "{scan} does not search by name\n{sql}\n{plan}"
                );
            }
            assert!(
                !scans
                    .iter()
                    .flat_map(|(_, conds)| conds)
                    .any(|c| c.starts_with("Filter:") && (c.contains("block_start >=") || c.contains("ANY"))),
                "a name or a bound is filtered, not searched\n{sql}\n{plan}"
            );
        }
    }

    /// A booking's records, planned on an empty database, are each read by kind and key, or
    /// by kind and owner, in the index.
    #[tokio::test]
    async fn a_booking_s_records_are_searched_by_kind_and_key_or_owner() {
        let Some(admin) = admin_url() else { return };
        let statements = vec![
            (super::context_sql(super::super::RECORDS_BY_OWNER.table, false, 1), 14),
            (super::context_sql(super::super::RECORDS_BY_OWNER.table, true, 3), 18),
        ];
        for (plan, (sql, _)) in plans(&admin, &statements).await.iter().zip(&statements) {
            let scans = scans(plan);
            assert!(scans.len() >= 7, "{plan}");
            for (scan, conds) in &scans {
                assert!(scan.contains(" on records"), "{scan}\n{plan}");
                assert!(
                    conds.iter().any(|c| c.starts_with("Index Cond:")
                        && c.contains("(kind = ")
                        && (c.contains("(key = ") || c.contains("(owner_id = "))),
                    "{scan} does not search by kind and key or owner\n{sql}\n{plan}"
                );
                assert!(
                    !conds.iter().any(|c| c.starts_with("Filter:")),
                    "{scan} filters\n{sql}\n{plan}"
                );
            }
        }
    }
}
