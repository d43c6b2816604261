//! SQLite reads run in place, on the calling thread.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and hands every
//! statement over and every answer back: two thread wake-ups per statement, which cost
//! more than the short indexed reads of a booking or a slot search themselves (tens of
//! microseconds each, from pages already in memory). The reads on those paths take a
//! connection from [`Readers`] instead and run on the task's own thread.
//!
//! Only short reads come here, each bounded by an index (one practice's records of a
//! kind, one patient's rows): a long one would hold up the other tasks of its runtime
//! thread. Reports and exports stay on sqlx's pool.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use clinic_core::ports::{PortError, PortErrorKind};

use super::sqlite_writer::{fail, plain};

/// How many idle connections are kept: one per runtime thread is enough, as a read
/// never waits for anything while it holds one.
const KEEP: usize = 8;

/// Read-only connections to one database, taken for a read and put back after it.
pub(crate) struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<rusqlite::Connection>>,
    closed: AtomicBool,
}

impl Readers {
    /// Readers of the database at `path` (which the store has opened and migrated).
    pub(crate) fn new(path: &Path, busy_timeout: Duration) -> Self {
        Self {
            path: path.to_owned(),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// Closes the idle connections; reads after this fail as unavailable, as they do on
    /// a closed pool.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    fn open(&self) -> Result<rusqlite::Connection, rusqlite::Error> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        Ok(conn)
    }

    /// Runs `f` in one read transaction (every statement in it sees one snapshot of the
    /// database) on a connection of its own.
    ///
    /// # Errors
    /// What `f` returns; a connection that cannot be opened or a transaction that cannot
    /// start, as unavailable.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(PortError::new(PortErrorKind::Unavailable, "the store is closed"));
        }
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.open().map_err(fail)?,
        };
        plain(&conn, "BEGIN")?;
        let out = f(&conn);
        // A read wrote nothing: ending it only lets the log move past its snapshot. A
        // connection that cannot end it is dropped rather than kept.
        if plain(&conn, "COMMIT").is_ok() && !self.closed.load(Ordering::Acquire) {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < KEEP {
                idle.push(conn);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::sql::sqlite_writer::{Args, query};

    /// A fresh database file in WAL mode with one table, removed when dropped.
    struct Db(PathBuf);

    impl Db {
        fn new() -> Self {
            let path = std::env::temp_dir().join(format!("clinic-read-{}.db", uuid::Uuid::now_v7()));
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k INTEGER PRIMARY KEY);")
                .unwrap();
            Self(path)
        }

        fn insert(&self, k: i64) {
            let c = rusqlite::Connection::open(&self.0).unwrap();
            c.execute("INSERT INTO t (k) VALUES (?1)", [k]).unwrap();
        }
    }

    impl Drop for Db {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    fn count(c: &rusqlite::Connection) -> Result<i64, PortError> {
        let mut n = 0;
        query(c, "SELECT count(*) FROM t", &Args::default(), |r| {
            n = r.get(0).map_err(fail)?;
            Ok(())
        })?;
        Ok(n)
    }

    #[test]
    fn a_read_sees_one_moment_and_the_next_read_a_later_one() {
        let db = Db::new();
        db.insert(1);
        let readers = Readers::new(&db.0, Duration::from_secs(1));
        let (before, after) = readers
            .read(|c| {
                let before = count(c)?;
                db.insert(2);
                Ok((before, count(c)?))
            })
            .unwrap();
        assert_eq!((before, after), (1, 1), "a commit during a read is not seen by it");
        assert_eq!(readers.read(count).unwrap(), 2);
    }

    #[test]
    fn a_failed_read_ends_its_transaction_and_the_connection_serves_again() {
        let db = Db::new();
        let readers = Readers::new(&db.0, Duration::from_secs(1));
        let e = readers
            .read(|c| {
                count(c)?;
                query(c, "SELECT nothing FROM nowhere", &Args::default(), |_| Ok(()))
            })
            .unwrap_err();
        assert_eq!(e.kind(), PortErrorKind::Unexpected);
        db.insert(1);
        assert_eq!(readers.read(count).unwrap(), 1);
        assert_eq!(readers.idle.lock().unwrap().len(), 1, "one connection, kept");
    }

    #[test]
    fn readers_are_read_only_and_closed_readers_refuse() {
        let db = Db::new();
        let readers = Readers::new(&db.0, Duration::from_secs(1));
        let e = readers
            .read(|c| crate::sql::sqlite_writer::execute(c, "INSERT INTO t (k) VALUES (1)", &Args::default()))
            .unwrap_err();
        assert_eq!(e.kind(), PortErrorKind::Unavailable, "{e}");
        assert_eq!(readers.read(count).unwrap(), 0);
        readers.close();
        assert!(readers.idle.lock().unwrap().is_empty());
        assert_eq!(readers.read(count).unwrap_err().kind(), PortErrorKind::Unavailable);
    }
}
