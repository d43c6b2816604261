//! SQLite's booking writer: one connection owned by one thread, which runs a whole
//! transaction per request.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement, and
//! the transaction's begin and commit, across to it and back: a booking's commit was five
//! such round trips, and on two cores each is a pair of thread wake-ups that cost more than
//! the statements. Here the request is the whole transaction (a closure over the
//! connection), so a commit is one hand-off each way, and none when the writer is idle:
//! the caller then runs its transaction in place, on the writer's connection (see
//! [`Writer::run`]). A short read may use that connection in place too
//! ([`Writer::read_if_idle`]): its page cache is always current, where every other
//! connection's is emptied by each commit.
//!
//! The two writers never write at once: the store's write gate is held shared around a
//! request here (the thread runs requests one after another) and exclusively around an
//! sqlx write transaction, so neither ever meets the other's lock and waits on
//! `SQLITE_BUSY`.
//!
//! Values are bound as sqlx binds them (UUIDs as 16-byte blobs, booleans as integers), so a
//! row reads alike whichever writer stored it, and statements use sqlx's `$N` parameters, so
//! both writers share their text.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use clinic_core::ports::{PortError, PortErrorKind};
use rusqlite::types::Value;
use uuid::Uuid;

/// Prepared statements kept per connection: a booking's statements differ by how many
/// notices and guards it has, so a few dozen texts are in use.
const STATEMENT_CACHE: usize = 64;

/// Requests run in one transaction at most, when that many are waiting together.
const MOST_PER_TRANSACTION: usize = 64;

/// How long after a request last found the writer busy the next still queue rather than
/// run in place: while requests overlap, those queued together share one transaction (one
/// commit's log writes serve them all, and pages they share are written once), which
/// serves a crowd better than each committing alone on the caller's thread.
const QUIET: Duration = Duration::from_millis(20);

/// A request to the writer: its work, run in a savepoint of the writer's transaction, and
/// the answer to its caller once that transaction has ended.
trait Request: Send {
    /// Runs the work; answers whether it is kept (else it is rolled back to the savepoint).
    fn run(&mut self, c: &rusqlite::Connection) -> bool;
    /// Answers the caller: `Ok` when the transaction committed (or the work kept nothing),
    /// else the commit's failure.
    fn answer(self: Box<Self>, committed: Result<(), &PortError>);
}

type Job = Box<dyn Request>;

/// A request's work `F` and, once it ran, its outcome, for the caller waiting on `reply`.
struct Pending<R, F> {
    work: Option<F>,
    outcome: Option<Result<Option<R>, PortError>>,
    reply: tokio::sync::oneshot::Sender<Result<Option<R>, PortError>>,
}

impl<R, F> Request for Pending<R, F>
where
    R: Send,
    F: FnOnce(&rusqlite::Connection) -> Result<Option<R>, PortError> + Send,
{
    fn run(&mut self, c: &rusqlite::Connection) -> bool {
        let outcome = self.work.take().map_or(Ok(None), |work| work(c));
        let keep = matches!(outcome, Ok(Some(_)));
        self.outcome = Some(outcome);
        keep
    }

    fn answer(self: Box<Self>, committed: Result<(), &PortError>) {
        let outcome = match (self.outcome, committed) {
            (Some(Ok(Some(_))), Err(e)) => Err(PortError::new(e.kind(), "the database failed to commit")),
            (Some(outcome), _) => outcome,
            // Never finished: the transaction could not begin, or a request panicked.
            (None, Err(e)) => Err(PortError::new(e.kind(), "the write failed")),
            (None, Ok(())) => Ok(None),
        };
        // The receiver is gone only when the caller stopped waiting.
        let _ = self.reply.send(outcome);
    }
}

/// How often the checkpointer copies committed pages from the write-ahead log into the
/// database (and syncs both): also the most a power loss can take with `synchronous =
/// NORMAL`, which syncs only at checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Frames in the log past which the writer finishes the checkpoint itself, between two
/// requests, so that its next write starts the log again from the beginning. A checkpoint
/// beside a stream of commits never catches up with the last one, and the log would grow
/// without end. 8,192 frames are 32 MiB of 4 KiB pages.
const RESTART_FRAMES: u64 = 8_192;

/// The most disk the log keeps: SQLite truncates it to this when it starts again, so a log
/// file longer than this has grown past it since, and the writer then waits for the log to
/// start again whatever the checkpointer last saw.
const LOG_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// The longest the writer waits, between two batches, for readers of an old snapshot to
/// finish so that the log can start again: requests queue behind it meanwhile.
const LONGEST_WAIT: Duration = Duration::from_millis(100);

/// How long the writer leaves the log alone after waiting for it in vain (a reader, such as
/// a backup, held an old snapshot past [`LONGEST_WAIT`]): at most a tenth of its time is
/// spent waiting while such a reader lasts.
const WAIT_AGAIN_AFTER: Duration = Duration::from_secs(1);

/// How often the writer refreshes the query planner's statistics where tables have grown or
/// shrunk a lot since they were gathered (`PRAGMA optimize`, checking every table), between
/// two batches: SQLite's advice for a connection that stays open, which this one does for
/// the life of the server. Without statistics the planner guesses every table small.
const OPTIMIZE_EVERY: Duration = Duration::from_secs(3600);

/// Refreshes the query planner's statistics, then drops the samples table: `how` is
/// `ANALYZE` (every table) or a `PRAGMA optimize` (only the tables that need it).
///
/// The SQLite built here (`libsqlite3-sys`, bundled) has `SQLITE_ENABLE_STAT4`: besides
/// each index's summary (`sqlite_stat1`), `ANALYZE` keeps samples of its values
/// (`sqlite_stat4`). With samples, the planner weighs an equality or a range on an indexed
/// column by the value bound to it, and marks the prepared statement to be planned again
/// whenever that parameter is bound anew. Every statement here binds the practice and its
/// window afresh on each run, so every booking's snapshot, guards and inserts were parsed
/// and planned again each time (a booking's snapshot took four times as long). The
/// summary alone leaves plans made once; the reads are all bounded by an index's leading
/// columns, so the samples have no better plan to offer them.
///
/// Dropping the table changes the schema, so every other connection reloads the
/// statistics before its next statement; `ANALYZE sqlite_schema` reloads this one's (and
/// makes the table again, empty). Run it in a transaction, so that no other connection
/// ever loads the samples: a statement prepared while they were loaded keeps being planned
/// again on each run until it is finalized, whatever the statistics later hold.
pub(crate) fn statistics_sql(how: &str) -> String {
    format!("{how}; DROP TABLE IF EXISTS sqlite_stat4; ANALYZE sqlite_schema;")
}

/// What the writer and the checkpointer share about the log.
struct Log {
    /// The log file, whose length the writer reads after each batch.
    file: std::path::PathBuf,
    /// The frames in the log when the checkpointer last looked (0 after a restart).
    frames: AtomicU64,
    /// Held by whichever thread is checkpointing: SQLite refuses a second checkpoint
    /// outright (`SQLITE_BUSY`, never waiting), so the writer waits here instead.
    turn: Mutex<()>,
    /// The connections' busy timeout, which the writer shortens while it waits for readers.
    busy_timeout: Duration,
}

impl Log {
    fn turn(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guard protects no data, so a poisoned lock is sound.
        self.turn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bytes(&self) -> u64 {
        std::fs::metadata(&self.file).map_or(0, |m| m.len())
    }

    /// Whether the log file is past [`LOG_LIMIT_BYTES`] and the writer may wait for it to
    /// start again (its last wait, if any, failed at least [`WAIT_AGAIN_AFTER`] ago).
    fn past_limit(&self, waited_in_vain: Option<std::time::Instant>) -> bool {
        self.bytes() > u64::try_from(LOG_LIMIT_BYTES).unwrap_or(u64::MAX)
            && waited_in_vain.is_none_or(|at| at.elapsed() >= WAIT_AGAIN_AFTER)
    }

    /// Whether [`restart_if_long`] has work to do.
    fn long(&self, waited_in_vain: Option<std::time::Instant>) -> bool {
        self.frames.load(Ordering::Relaxed) > RESTART_FRAMES || self.past_limit(waited_in_vain)
    }
}

/// The writer thread and the way to it, and the checkpointer beside it.
pub(crate) struct Writer {
    /// Taken on close: the thread ends when its queue is dropped.
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    /// Taken on close: the checkpointer ends when this is dropped.
    stop: Mutex<Option<mpsc::Sender<()>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// The connection, shared by the thread and callers that find the writer idle.
    shared: std::sync::Arc<Shared>,
}

/// What the writer thread and callers in place share.
struct Shared {
    /// The connection and its upkeep; `None` once closed. Held for a whole batch (or a
    /// request or read in place), so a transaction is never interleaved with another's.
    held: Mutex<Option<Held>>,
    /// Requests sent and not yet taken by the thread: while any wait, a caller does not
    /// go in place, so requests arriving together still share one transaction.
    waiting: AtomicUsize,
    log: std::sync::Arc<Log>,
    optimize_every: Duration,
    /// When the writer opened: the origin of `busy_at`.
    opened: std::time::Instant,
    /// When a request last found the writer busy (µs since `opened`; 0 never).
    busy_at: AtomicU64,
}

impl Shared {
    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Notes that a request found the writer busy.
    fn saw_busy(&self) {
        self.busy_at.store(self.now(), Ordering::Relaxed);
    }

    /// Whether no request has found the writer busy for [`QUIET`]: requests are then
    /// coming one at a time, and one in place waits for nobody.
    fn quiet(&self) -> bool {
        let at = self.busy_at.load(Ordering::Relaxed);
        at == 0 || self.now().saturating_sub(at) >= u64::try_from(QUIET.as_micros()).unwrap_or(u64::MAX)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<Held>> {
        // A poisoned lock means a request panicked; its transaction is rolled back before
        // the guard drops (see `Held::run`), so the connection is sound.
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The connection, when the writer is idle: nothing queued and no batch under way.
    fn idle(&self) -> Option<std::sync::MutexGuard<'_, Option<Held>>> {
        if self.waiting.load(Ordering::Acquire) > 0 {
            return None;
        }
        let held = match self.held.try_lock() {
            Ok(held) => held,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        held.is_some().then_some(held)
    }
}

/// The writer's connection and when its upkeep last ran.
struct Held {
    conn: rusqlite::Connection,
    /// When the planner statistics were last refreshed.
    optimized: std::time::Instant,
    /// When the last wait for readers, to start the log again, failed.
    waited_in_vain: Option<std::time::Instant>,
}

impl Held {
    /// Runs `batch` in one transaction and answers each request.
    fn run(&self, batch: &mut Vec<Job>) {
        let conn = &self.conn;
        // A panicking request loses its answer (its caller sees the database unavailable)
        // and the batch's transaction; the connection outlives it.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_batch(conn, batch)));
        let committed = match ran {
            Ok(committed) => committed,
            Err(_) => Err(PortError::new(PortErrorKind::Unexpected, "a write failed")),
        };
        if !conn.is_autocommit() {
            // Best effort: a connection that cannot even roll back fails the next begin.
            let _ = plain(conn, "ROLLBACK");
        }
        for job in batch.drain(..) {
            job.answer(committed.as_ref().map(|_| ()));
        }
    }

    /// Whether upkeep is due after the next batch: the log is long (see
    /// [`restart_if_long`]) or the statistics are old. Requests then go to the thread,
    /// which does it, rather than in place on a caller's runtime thread.
    fn upkeep_due(&self, log: &Log, optimize_every: Duration) -> bool {
        self.optimized.elapsed() >= optimize_every || log.long(self.waited_in_vain)
    }

    /// The upkeep between two batches: the log started again when long, the statistics
    /// refreshed when old.
    fn upkeep(&mut self, log: &Log, optimize_every: Duration) {
        restart_if_long(&self.conn, log, &mut self.waited_in_vain);
        if self.optimized.elapsed() >= optimize_every {
            // Best effort: without fresh statistics queries still answer, only slower.
            let _ = refresh_statistics(&self.conn, "PRAGMA optimize = 0x10002");
            self.optimized = std::time::Instant::now();
        }
    }
}

/// Opens a read-write connection to `path` with the store's settings: WAL, `synchronous =
/// NORMAL` (durable against a crash of the process; a power loss may take the last
/// transactions since a checkpoint but never corrupts the database), foreign keys, a busy
/// timeout. Nothing here checkpoints on commit: the checkpointer does, off the writer's path.
/// Savepoints and statements keep their undo copies of pages in memory (`temp_store`), not
/// in a temporary file written with a system call per page: a batch's are a few dozen pages.
fn connect(path: &Path, busy_timeout: Duration) -> Result<rusqlite::Connection, rusqlite::Error> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {LOG_LIMIT_BYTES};
         PRAGMA temp_store = MEMORY;"
    ))?;
    Ok(conn)
}

impl Writer {
    /// Opens `path` (an existing, migrated database) on a new thread, and a checkpointer on
    /// another.
    pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Self, rusqlite::Error> {
        Self::open_with(path, busy_timeout, CHECKPOINT_EVERY, OPTIMIZE_EVERY)
    }

    /// [`Writer::open`] with the checkpointer's interval and the planner statistics'.
    fn open_with(
        path: &Path,
        busy_timeout: Duration,
        every: Duration,
        optimize_every: Duration,
    ) -> Result<Self, rusqlite::Error> {
        let spawn_failed = |e: std::io::Error| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
        let conn = connect(path, busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpointer = connect(path, busy_timeout)?;
        let mut file = path.as_os_str().to_owned();
        file.push("-wal");
        let log = std::sync::Arc::new(Log {
            file: file.into(),
            frames: AtomicU64::new(0),
            turn: Mutex::new(()),
            busy_timeout,
        });
        let (queue, jobs) = mpsc::channel::<Job>();
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = std::sync::Arc::new(Shared {
            held: Mutex::new(Some(Held {
                conn,
                optimized: std::time::Instant::now(),
                waited_in_vain: None,
            })),
            waiting: AtomicUsize::new(0),
            log: log.clone(),
            optimize_every,
            opened: std::time::Instant::now(),
            busy_at: AtomicU64::new(0),
        });
        let serving = shared.clone();
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(&serving, &jobs))
            .map_err(spawn_failed)?;
        let checkpoints = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_until(&checkpointer, &stopped, every, &log))
            .map_err(spawn_failed)?;
        Ok(Self {
            queue: Mutex::new(Some(queue)),
            stop: Mutex::new(Some(stop)),
            threads: Mutex::new(vec![writer, checkpoints]),
            shared,
        })
    }

    /// Runs `work` in the writer's transaction and answers what it returned once that
    /// transaction has ended. `Ok(Some(_))` keeps what it wrote; `Ok(None)` or an error
    /// rolls it back (to a savepoint of its own: requests waiting together share one
    /// transaction, so one commit's page writes serve them all, and one request's failure
    /// never undoes another's work). A failed commit fails every request it would have kept.
    ///
    /// When the writer is idle (nothing queued, no batch under way, no upkeep due) and has
    /// been for [`QUIET`], the request runs in place, on the caller's thread, in a
    /// transaction of its own: a request alone would have had one anyway, and the two thread
    /// hand-offs cost more than a booking's statements. Requests meeting a busy writer queue
    /// and share its next transaction. A request is short (a booking's few statements), as a
    /// read in place is.
    pub(crate) async fn run<R, F>(&self, work: F) -> Result<Option<R>, PortError>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<Option<R>, PortError> + Send + 'static,
    {
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(Pending {
            work: Some(work),
            outcome: None,
            reply,
        });
        match self.shared.idle() {
            Some(mut held) if self.shared.quiet() => {
                if let Some(h) = held.as_mut()
                    && !h.upkeep_due(&self.shared.log, self.shared.optimize_every)
                {
                    h.run(&mut vec![job]);
                    drop(held);
                    // `Held::run` has answered: the value is there.
                    return answer.try_recv().map_err(|_| closed())?;
                }
            }
            Some(_) => {}
            None => self.shared.saw_busy(),
        }
        self.queue(job)?;
        answer.await.map_err(|_| closed())?
    }

    /// [`Writer::run`] always through the queue, as when the writer is busy.
    #[cfg(test)]
    async fn run_queued<R, F>(&self, work: F) -> Result<Option<R>, PortError>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<Option<R>, PortError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.queue(Box::new(Pending {
            work: Some(work),
            outcome: None,
            reply,
        }))?;
        answer.await.map_err(|_| closed())?
    }

    /// Queues `job` for the thread.
    fn queue(&self, job: Job) -> Result<(), PortError> {
        // The queue is only ever taken whole, so a poisoned lock's value is sound.
        let queue = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let sender = queue.as_ref().ok_or_else(closed)?;
        self.shared.waiting.fetch_add(1, Ordering::AcqRel);
        sender.send(job).map_err(|_| {
            self.shared.waiting.fetch_sub(1, Ordering::AcqRel);
            closed()
        })
    }

    /// Runs `read` in a read transaction on the writer's connection, in place, if the writer
    /// is idle; `None` (nothing run) if it is not. The writer's page cache holds what its
    /// commits wrote, where a reader's is emptied whenever the database changed since its
    /// last read and every page is read from the file again (a booking's snapshot right
    /// after another's commit took 61 µs on a reader, 17 µs with its pages cached). The
    /// read sees every commit acknowledged so far.
    pub(crate) fn read_if_idle<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, PortError>,
    ) -> Option<Result<T, PortError>> {
        let held = self.shared.idle()?;
        let conn = &held.as_ref()?.conn;
        if let Err(e) = plain(conn, "BEGIN") {
            return Some(Err(e));
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(conn)));
        // A read wrote nothing: ending it only lets the log move past its snapshot. One
        // that will not end is rolled back, so the writer's next transaction can begin.
        if !conn.is_autocommit() && plain(conn, "COMMIT").is_err() {
            let _ = plain(conn, "ROLLBACK");
        }
        drop(held);
        Some(out.unwrap_or_else(|_| Err(PortError::new(PortErrorKind::Unexpected, "a read failed"))))
    }

    /// Ends both threads after the requests already queued, closing their connections.
    pub(crate) async fn close(&self) {
        drop(
            self.queue
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
        drop(
            self.stop
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let shared = self.shared.clone();
        // A panicked thread has nothing left to close. The connection closes once the
        // thread has run what was queued; a caller in place holds it until done.
        let _ = tokio::task::spawn_blocking(move || {
            threads.into_iter().map(std::thread::JoinHandle::join).count();
            shared.held().take();
        })
        .await;
    }
}

/// How a checkpoint treats the connections it would wait for.
#[derive(Clone, Copy)]
enum Checkpoint {
    /// Copies what it can and never waits for a writer or a reader.
    Passive,
    /// Waits (up to the busy timeout) for the writer and for every reader of the log, so
    /// that the next write starts the log again.
    Restart,
}

/// One checkpoint: answers the frames in the log and whether every one is now in the
/// database.
fn checkpoint(c: &rusqlite::Connection, how: Checkpoint) -> Result<(u64, bool), rusqlite::Error> {
    let text = match how {
        Checkpoint::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Checkpoint::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    c.query_row(text, [], |row| {
        let (busy, log, done): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
        Ok((u64::try_from(log).unwrap_or(0), busy == 0 && done == log))
    })
}

/// The checkpointer: a passive checkpoint every `every` until stopped, noting the log's
/// length for the writer.
fn checkpoint_until(c: &rusqlite::Connection, stop: &mpsc::Receiver<()>, every: Duration, log: &Log) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(every) {
        let _turn = log.turn();
        // A failed checkpoint loses nothing: the pages stay in the log for the next one.
        if let Ok((frames, _)) = checkpoint(c, Checkpoint::Passive) {
            log.frames.store(frames, Ordering::Relaxed);
        }
    }
}

/// Between two batches, when the log is long, finishes the checkpoint so that the next write
/// starts the log again (nothing is being written then, and the checkpointer has copied most
/// of it). Past [`RESTART_FRAMES`] (as the checkpointer last saw) it copies what no reader
/// still needs; once the file is past [`LOG_LIMIT_BYTES`] (the checkpointer may be slow or
/// starved, or readers may have kept the passive ones from finishing) it waits for the
/// readers too, up to [`LONGEST_WAIT`], unless that failed within [`WAIT_AGAIN_AFTER`].
/// `waited_in_vain` is when the last wait failed.
fn restart_if_long(c: &rusqlite::Connection, log: &Log, waited_in_vain: &mut Option<std::time::Instant>) {
    let past_limit = log.past_limit(*waited_in_vain);
    if !past_limit && log.frames.load(Ordering::Relaxed) <= RESTART_FRAMES {
        return;
    }
    let _turn = log.turn();
    if !past_limit {
        if matches!(checkpoint(c, Checkpoint::Passive), Ok((_, true))) {
            log.frames.store(0, Ordering::Relaxed);
        }
        return;
    }
    // The connection's own busy timeout is seconds; here requests are waiting. Setting it
    // cannot fail on an open connection.
    let _ = c.busy_timeout(LONGEST_WAIT);
    let finished = matches!(checkpoint(c, Checkpoint::Restart), Ok((_, true)));
    let _ = c.busy_timeout(log.busy_timeout);
    if finished {
        log.frames.store(0, Ordering::Relaxed);
    }
    *waited_in_vain = (!finished).then(std::time::Instant::now);
}

fn closed() -> PortError {
    PortError::new(PortErrorKind::Unavailable, "the database is closed")
}

fn serve(shared: &Shared, jobs: &mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MOST_PER_TRANSACTION);
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        while batch.len() < MOST_PER_TRANSACTION {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut held = shared.held();
        // Taken only once queued requests ran (the thread joined) or on close.
        shared.waiting.fetch_sub(batch.len(), Ordering::AcqRel);
        let Some(h) = held.as_mut() else {
            for job in batch.drain(..) {
                job.answer(Err(&closed()));
            }
            continue;
        };
        h.run(&mut batch);
        h.upkeep(&shared.log, shared.optimize_every);
    }
}

/// [`statistics_sql`] with `how`, in a transaction of its own.
fn refresh_statistics(c: &rusqlite::Connection, how: &str) -> Result<(), PortError> {
    plain(c, "BEGIN IMMEDIATE")?;
    match c.execute_batch(&statistics_sql(how)) {
        Ok(()) => plain(c, "COMMIT"),
        Err(e) => {
            let _ = plain(c, "ROLLBACK");
            Err(fail(e))
        }
    }
}

/// Runs `batch` in one transaction, each request in a savepoint; commits if any kept work.
/// A request alone needs no savepoint (its transaction is its own), and a savepoint costs a
/// copy of every page the request changes, kept in case it rolls back.
fn run_batch(c: &rusqlite::Connection, batch: &mut [Job]) -> Result<(), PortError> {
    plain(c, "BEGIN IMMEDIATE")?;
    if let [alone] = batch {
        return if alone.run(c) {
            plain(c, "COMMIT")
        } else {
            plain(c, "ROLLBACK")
        };
    }
    let mut kept = false;
    for job in batch.iter_mut() {
        plain(c, "SAVEPOINT request")?;
        if job.run(c) {
            kept = true;
        } else {
            plain(c, "ROLLBACK TO request")?;
        }
        plain(c, "RELEASE request")?;
    }
    if kept { plain(c, "COMMIT") } else { plain(c, "ROLLBACK") }
}

/// Maps a SQLite error to the port's kinds, as [`super::fail`] does for sqlx's. The message
/// is fixed text; SQLite's (which may quote constraint names, never bodies) rides as the
/// source.
pub(crate) fn fail(e: rusqlite::Error) -> PortError {
    use rusqlite::ErrorCode;
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match (f.code, f.extended_code) {
            // Constraint unique / primary key.
            (_, 2067 | 1555) => PortErrorKind::Conflict,
            (
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::ReadOnly,
                _,
            ) => PortErrorKind::Unavailable,
            _ => PortErrorKind::Unexpected,
        },
        _ => PortErrorKind::Unexpected,
    };
    let message = match kind {
        PortErrorKind::Conflict => "the write conflicts with stored data",
        PortErrorKind::Unavailable => "the database is unavailable",
        _ => "the database failed",
    };
    PortError::new(kind, message).with_source(e)
}

/// A value to bind, converted as sqlx's SQLite driver converts it.
pub(crate) trait Bindable {
    /// The value SQLite stores.
    fn value(&self) -> Value;
}

impl<T: Bindable + ?Sized> Bindable for &T {
    fn value(&self) -> Value {
        (**self).value()
    }
}

impl<T: Bindable> Bindable for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, Bindable::value)
    }
}

impl Bindable for Uuid {
    fn value(&self) -> Value {
        Value::Blob(self.as_bytes().to_vec())
    }
}

impl Bindable for bool {
    fn value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}

impl Bindable for i64 {
    fn value(&self) -> Value {
        Value::Integer(*self)
    }
}

impl Bindable for str {
    fn value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl Bindable for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl Bindable for Vec<u8> {
    fn value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

/// A statement's arguments in order (`$1` first), built with the same `bind` calls as an
/// sqlx query so the crate's binding macros serve both.
#[derive(Clone, Debug, Default)]
pub(crate) struct Args(Vec<Value>);

impl Args {
    /// Appends the next argument.
    #[must_use]
    pub(crate) fn bind<T: Bindable>(mut self, v: T) -> Self {
        self.0.push(v.value());
        self
    }
}

/// Prepares `sql` (cached) and binds `args` to its `$N` parameters.
fn prepare<'c>(
    c: &'c rusqlite::Connection,
    sql: &str,
    args: &Args,
) -> Result<rusqlite::CachedStatement<'c>, PortError> {
    let mut stmt = c.prepare_cached(sql).map_err(fail)?;
    for i in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| PortError::new(PortErrorKind::Unexpected, "a statement has an unnumbered parameter"))?;
        let value = n
            .checked_sub(1)
            .and_then(|n| args.0.get(n))
            .ok_or_else(|| PortError::new(PortErrorKind::Unexpected, "a statement parameter is not bound"))?;
        stmt.raw_bind_parameter(i, value).map_err(fail)?;
    }
    Ok(stmt)
}

/// Runs `sql` with `args`; answers the rows it changed.
pub(crate) fn execute(c: &rusqlite::Connection, sql: &str, args: &Args) -> Result<u64, PortError> {
    let changed = prepare(c, sql, args)?.raw_execute().map_err(fail)?;
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

/// Runs the query `sql` with `args`, handing each row to `each`.
pub(crate) fn query(
    c: &rusqlite::Connection,
    sql: &str,
    args: &Args,
    mut each: impl FnMut(&rusqlite::Row<'_>) -> Result<(), PortError>,
) -> Result<(), PortError> {
    let mut stmt = prepare(c, sql, args)?;
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(fail)? {
        each(row)?;
    }
    Ok(())
}

/// Runs a statement without parameters, prepared once.
pub(crate) fn plain(c: &rusqlite::Connection, sql: &str) -> Result<(), PortError> {
    c.prepare_cached(sql).and_then(|mut s| s.raw_execute()).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A fresh database file with one table, removed when dropped.
    struct Db(std::path::PathBuf);

    impl Db {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("clinic-writer-{}", Uuid::now_v7()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("t.db");
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB);")
                .unwrap();
            Self(path)
        }

        /// Indexes `t.v`, so that statistics have an index to describe.
        fn index(&self) {
            let c = rusqlite::Connection::open(&self.0).unwrap();
            c.execute_batch("CREATE INDEX t_v ON t (v)").unwrap();
        }

        fn keys(&self) -> Vec<i64> {
            let c = rusqlite::Connection::open(&self.0).unwrap();
            let mut s = c.prepare("SELECT k FROM t ORDER BY k").unwrap();
            s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        }
    }

    impl Drop for Db {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn insert(k: i64) -> impl FnOnce(&rusqlite::Connection) -> Result<u64, PortError> {
        move |c| execute(c, "INSERT INTO t (k) VALUES ($1)", &Args::default().bind(k))
    }

    #[tokio::test]
    async fn requests_queued_together_keep_or_lose_their_own_work_alone() {
        let db = Db::new();
        let writer = std::sync::Arc::new(Writer::open(&db.0, Duration::from_secs(1)).unwrap());
        // The first request holds the writer until every other is queued, so the rest run
        // together in one transaction (the writer being busy, none runs in place).
        let (release, held) = mpsc::channel::<()>();
        let first = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .run_queued(move |c| {
                        held.recv().unwrap();
                        insert(0)(c).map(Some)
                    })
                    .await
            }
        });
        let mut rest = Vec::new();
        for k in 1..=40_i64 {
            let writer = writer.clone();
            rest.push(tokio::spawn(async move {
                writer
                    .run(move |c| {
                        let added = insert(k)(c)?;
                        match k % 4 {
                            // Wrote, then failed: undone.
                            1 => Err(PortError::conflict("no")),
                            // Wrote, then kept nothing: undone.
                            2 => Ok(None),
                            // A duplicate key: fails alone.
                            3 => insert(k)(c).map(Some),
                            _ => Ok(Some(added)),
                        }
                    })
                    .await
            }));
            tokio::task::yield_now().await;
        }
        // Every request has reached the queue once its task has run to the await.
        tokio::time::sleep(Duration::from_millis(100)).await;
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), Some(1));
        for (k, task) in (1..=40_i64).zip(rest) {
            let answer = task.await.unwrap();
            match k % 4 {
                1 | 3 => assert_eq!(answer.unwrap_err().kind(), PortErrorKind::Conflict),
                2 => assert_eq!(answer.unwrap(), None),
                _ => assert_eq!(answer.unwrap(), Some(1)),
            }
        }
        let kept: Vec<i64> = (0..=40).filter(|k| k % 4 == 0).collect();
        assert_eq!(db.keys(), kept);
        writer.close().await;
    }

    /// The name of the thread running this.
    fn here() -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }

    #[tokio::test]
    async fn an_idle_writer_runs_a_request_in_place_and_a_busy_one_queues_it() {
        let db = Db::new();
        let writer = std::sync::Arc::new(Writer::open(&db.0, Duration::from_secs(1)).unwrap());
        let caller = here();
        let ran_on = writer
            .run(|c| {
                insert(1)(c)?;
                Ok(Some(here()))
            })
            .await
            .unwrap();
        assert_eq!(ran_on, Some(caller.clone()), "idle: in place, on the caller's thread");
        assert!(
            !writer.read_if_idle(|c| Ok(c.is_autocommit())).unwrap().unwrap(),
            "an idle writer's connection reads in place, in a transaction"
        );
        // Busy: a request holds the writer's thread; the next queues behind it, and reads
        // do not wait for it.
        let (release, held) = mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let first = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .run_queued(move |c| {
                        let _ = started.send(());
                        held.recv().unwrap();
                        insert(2)(c).map(Some)
                    })
                    .await
            }
        });
        running.await.unwrap();
        assert!(
            writer.read_if_idle(|_| Ok(())).is_none(),
            "a busy writer's connection is not lent"
        );
        let second = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .run(|c| {
                        insert(3)(c)?;
                        Ok(Some(here()))
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!second.is_finished(), "queued behind the busy writer");
        assert!(!writer.shared.quiet(), "and noted that it found the writer busy");
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(
            second.await.unwrap().unwrap(),
            Some(Some("sqlite-writer".to_owned())),
            "run by the writer's thread"
        );
        // Idle again (once the thread's upkeep after its batch is done): the read in place
        // sees every commit acknowledged.
        let read = |c: &rusqlite::Connection| {
            let mut keys = Vec::new();
            query(c, "SELECT k FROM t ORDER BY k", &Args::default(), |r| {
                keys.push(r.get::<_, i64>(0).map_err(fail)?);
                Ok(())
            })?;
            Ok(keys)
        };
        let mut seen = None;
        for _ in 0..100 {
            seen = writer.read_if_idle(read);
            if seen.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen.unwrap().unwrap(), vec![1, 2, 3]);
        // Requests overlapped a moment ago: the next still queues, to share a transaction
        // with any that come with it, until the writer has been quiet for a while.
        let on = |k: i64| {
            let writer = writer.clone();
            async move {
                writer
                    .run(move |c| {
                        insert(k)(c)?;
                        Ok(Some(here()))
                    })
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        // (Noted afresh: the wait for the thread's upkeep above may have outlasted QUIET.)
        writer.shared.saw_busy();
        assert_eq!(on(4).await, Some("sqlite-writer".to_owned()));
        tokio::time::sleep(QUIET).await;
        assert_eq!(on(5).await, caller, "quiet again: in place");
        writer.close().await;
        assert!(writer.read_if_idle(|_| Ok(())).is_none(), "closed");
        assert_eq!(
            writer.run(|c| insert(6)(c).map(Some)).await.unwrap_err().kind(),
            PortErrorKind::Unavailable
        );
        assert_eq!(db.keys(), vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_failed_or_panicking_read_in_place_leaves_the_writer_sound() {
        let db = Db::new();
        let writer = Writer::open(&db.0, Duration::from_secs(1)).unwrap();
        let failed = writer
            .read_if_idle(|c| query(c, "SELECT nothing FROM nowhere", &Args::default(), |_| Ok(())))
            .unwrap()
            .unwrap_err();
        assert_eq!(failed.kind(), PortErrorKind::Unexpected);
        let panicked = writer
            .read_if_idle(|_| -> Result<(), PortError> { panic!("a bug in a read") })
            .unwrap()
            .unwrap_err();
        assert_eq!(panicked.kind(), PortErrorKind::Unexpected);
        assert!(
            !writer.read_if_idle(|c| Ok(c.is_autocommit())).unwrap().unwrap(),
            "the next read in place begins afresh"
        );
        writer.run(|c| insert(5)(c).map(Some)).await.unwrap();
        writer.close().await;
        assert_eq!(db.keys(), vec![5]);
    }

    #[tokio::test]
    async fn a_duplicate_key_is_a_conflict() {
        let db = Db::new();
        let writer = Writer::open(&db.0, Duration::from_secs(1)).unwrap();
        writer.run(|c| insert(7)(c).map(Some)).await.unwrap();
        let e = writer.run(|c| insert(7)(c).map(Some)).await.unwrap_err();
        // An INTEGER PRIMARY KEY clash is SQLite's constraint-primary-key code.
        assert_eq!(e.kind(), PortErrorKind::Conflict);
        assert_eq!(db.keys(), vec![7]);
        writer.close().await;
    }

    #[tokio::test]
    async fn a_panicking_request_fails_and_the_writer_carries_on() {
        let db = Db::new();
        let writer = Writer::open(&db.0, Duration::from_secs(1)).unwrap();
        let panicked = writer
            .run(|c| -> Result<Option<()>, PortError> {
                insert(1)(c)?;
                panic!("a bug in a request");
            })
            .await
            .unwrap_err();
        assert_eq!(panicked.kind(), PortErrorKind::Unexpected);
        writer.run(|c| insert(2)(c).map(Some)).await.unwrap();
        assert_eq!(db.keys(), vec![2]);
        writer.close().await;
        let closed = writer.run(|c| insert(3)(c).map(Some)).await.unwrap_err();
        assert_eq!(closed.kind(), PortErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn values_are_stored_as_sqlx_stores_them() {
        use sqlx::{ConnectOptions as _, Row as _};
        let db = Db::new();
        let writer = Writer::open(&db.0, Duration::from_secs(1)).unwrap();
        let id = Uuid::now_v7();
        writer
            .run(move |c| {
                execute(
                    c,
                    "CREATE TABLE u (id BLOB, yes INTEGER, none BLOB, name TEXT, n INTEGER)",
                    &Args::default(),
                )?;
                let args = Args::default()
                    .bind(id)
                    .bind(true)
                    .bind(None::<Uuid>)
                    .bind("Zoë")
                    .bind(Some(-5_i64));
                execute(c, "INSERT INTO u VALUES ($1, $2, $3, $4, $5)", &args).map(Some)
            })
            .await
            .unwrap();
        writer.close().await;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db.0)
            .connect()
            .await
            .unwrap();
        let row = sqlx::query("SELECT id, yes, none, name, n FROM u WHERE id = $1 AND yes = $2")
            .bind(id)
            .bind(true)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(row.get::<Uuid, _>(0), id);
        assert!(row.get::<bool, _>(1));
        assert_eq!(row.get::<Option<Uuid>, _>(2), None);
        assert_eq!(row.get::<String, _>(3), "Zoë");
        assert_eq!(row.get::<i64, _>(4), -5);
    }

    /// What the log may pass its limit by: the batch that took it past (one commit here, a
    /// 32 KiB value in 4 KiB pages and its index), before the writer starts it again.
    const ONE_BATCH: u64 = 64 * 1024;

    /// The length of the log file.
    fn log_bytes(db: &Db) -> u64 {
        std::fs::metadata(db.0.with_extension("db-wal")).unwrap().len()
    }

    /// Writes 100 MiB through the log, one commit after another from key `first`, and
    /// answers the longest the log file grew.
    async fn write_100_mib(db: &Db, writer: &Writer, first: i64) -> u64 {
        let blob = vec![7_u8; 32 * 1024];
        let commits = 3_200_i64;
        let written = u64::try_from(commits).unwrap() * u64::try_from(blob.len()).unwrap();
        assert!(written > 3 * RESTART_FRAMES * 4096, "the test writes enough");
        let mut longest = 0;
        for k in first..first + commits {
            let blob = blob.clone();
            writer
                .run(move |c| {
                    execute(
                        c,
                        "INSERT INTO t (k, v) VALUES ($1, $2)",
                        &Args::default().bind(k).bind(blob),
                    )
                    .map(Some)
                })
                .await
                .unwrap();
            longest = longest.max(log_bytes(db));
        }
        longest
    }

    /// Writes 100 MiB through the log, one commit after another, and checks that the log
    /// file never grew past its limit by more than a batch, and that every commit is kept.
    async fn the_log_stays_bounded(db: &Db, writer: Writer) {
        let longest = write_100_mib(db, &writer, 0).await;
        assert!(
            longest <= u64::try_from(LOG_LIMIT_BYTES).unwrap() + ONE_BATCH,
            "the log grew to {longest} bytes"
        );
        writer.close().await;
        assert_eq!(db.keys().len(), 3_200);
    }

    #[tokio::test]
    async fn the_log_starts_again_under_a_stream_of_commits() {
        // Without the writer's own checkpoints the log would hold all 100 MiB.
        let db = Db::new();
        let writer = Writer::open(&db.0, Duration::from_secs(1)).unwrap();
        the_log_stays_bounded(&db, writer).await;
    }

    #[tokio::test]
    async fn the_log_starts_again_when_the_checkpointer_never_runs() {
        // A checkpointer starved of the CPU or stuck in a slow sync: the writer sees the log
        // pass its limit by the file's own length and waits for it to start again.
        let db = Db::new();
        let hour = Duration::from_secs(3600);
        let writer = Writer::open_with(&db.0, Duration::from_secs(1), hour, OPTIMIZE_EVERY).unwrap();
        the_log_stays_bounded(&db, writer).await;
    }

    #[tokio::test]
    async fn commits_go_on_while_a_reader_holds_an_old_snapshot_and_the_log_starts_again_after() {
        let db = Db::new();
        let writer = Writer::open(&db.0, Duration::from_secs(1)).unwrap();
        // A reader (a backup, say) in the middle of a long read: the log cannot start again
        // while it lasts, and every commit must still go through.
        let reader = rusqlite::Connection::open(&db.0).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let before: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        let held = write_100_mib(&db, &writer, 0).await;
        assert!(
            held > u64::try_from(LOG_LIMIT_BYTES).unwrap(),
            "the log could not start again"
        );
        let still: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(still, before, "the reader's snapshot held");
        reader.execute_batch("COMMIT").unwrap();
        // Once the reader is gone, and the writer's pause after its last wait is over, the
        // next batch starts the log again and the one after cuts it to its limit.
        tokio::time::sleep(WAIT_AGAIN_AFTER).await;
        for k in 0..3 {
            writer.run(move |c| insert(10_000 + k)(c).map(Some)).await.unwrap();
        }
        assert!(
            log_bytes(&db) <= u64::try_from(LOG_LIMIT_BYTES).unwrap(),
            "{}",
            log_bytes(&db)
        );
        writer.close().await;
        assert_eq!(db.keys().len(), 3_203);
    }

    #[tokio::test]
    async fn the_planner_statistics_are_gathered_as_the_writer_goes() {
        let db = Db::new();
        let count = |sql: &str| {
            let c = rusqlite::Connection::open(&db.0).unwrap();
            c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap()
        };
        db.index();
        let writer = Writer::open_with(&db.0, Duration::from_secs(1), CHECKPOINT_EVERY, Duration::ZERO).unwrap();
        assert_eq!(
            count("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'sqlite_stat%'"),
            0,
            "a new database has none"
        );
        for k in 0..200 {
            writer.run(move |c| insert(k)(c).map(Some)).await.unwrap();
        }
        writer.close().await;
        // The summary, gathered after a batch once due; never the samples (see
        // `statistics_sql`).
        assert!(count("SELECT count(*) FROM sqlite_stat1 WHERE idx = 't_v'") > 0);
        assert_eq!(count("SELECT count(*) FROM sqlite_stat4"), 0);
        assert_eq!(db.keys().len(), 200);
    }
}
