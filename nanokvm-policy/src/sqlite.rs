//! [`SqliteStore`]: limit counters in an SQLite file, so that they survive restarts,
//! crashes and policy reloads, and can be shared by several processes.
//!
//! Every use of a counter is one row (the time of its reservation, its weight, and the
//! reservation it belongs to until it is settled), and every counter keeps a running
//! total beside it. Touching a counter first prunes its uses from before the window's
//! start, the same instant [`MemoryStore`](crate::MemoryStore) prunes from, so a
//! reservation costs a handful of indexed statements however busy the counter is; a
//! refusal's retry-after comes from the same shared arithmetic. So the two stores decide
//! alike (a property test holds them to it).
//!
//! Durability: the database runs in WAL mode. A reservation is written with
//! `synchronous=FULL`, so it is on disk before [`CounterStore::reserve`] returns and the
//! call goes ahead. Settling (commit or rollback) runs with `synchronous=NORMAL`: it is
//! written at once but synced with the next reservation or checkpoint, because losing a
//! settle in a power cut can only leave a use counted that might have been removed,
//! never let a call through uncounted. A reservation that is never settled (the process
//! died) keeps counting until its window has passed, like a committed one.
//!
//! Uses are pruned when their counter is next touched; counters nobody touches any more
//! are dropped whole once their newest use has stopped counting (swept at most once a
//! minute), so the file does not grow without bound. Reservation ids come from an
//! `AUTOINCREMENT` column and are never reused, even across reopening.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::Error;
use crate::policy::Window;
use crate::store::{
    CounterKey, CounterRequest, CounterStore, Refusal, ReservationId, Reserve, expiry, retry_after,
    window_name, window_start,
};
use crate::time::Timestamp;

/// The schema this code writes, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

/// How long another process may hold the write lock before an operation fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an unsettled reservation's id stays known after its last use stopped
/// counting, so that a slow call can still settle it. After that it is forgotten, and
/// settling it reports [`Error::UnknownReservation`].
const RESERVATION_GRACE_MS: i64 = 86_400_000;

/// A settle checkpoints the WAL once this many reservations were written since the last
/// checkpoint, so that reservations, which the caller waits for, do not pay for it.
const CHECKPOINT_AFTER: u32 = 256;

/// A reservation checkpoints itself only when this many went by without a settle doing
/// it (a caller that never settles), so the WAL cannot grow without bound.
const CHECKPOINT_AT_THE_LATEST: u32 = 1024;

/// Sweeping counters that nobody touches any more runs at most this often (in the
/// callers' time).
const SWEEP_EVERY_MS: i64 = 60_000;

/// One row per counter with its running total (settled and unsettled uses within the
/// window, once pruned), and one row per use. `last_expires` is when the counter's newest
/// use stops counting: from then on the whole counter is zero and can be dropped.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS counters (
    id INTEGER PRIMARY KEY,
    counter TEXT NOT NULL,
    win TEXT NOT NULL,
    scope TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    total INTEGER NOT NULL,
    last_expires INTEGER NOT NULL,
    UNIQUE (counter, win, scope, scope_key)
);
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (last_expires);
CREATE TABLE IF NOT EXISTS uses (
    counter_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    weight INTEGER NOT NULL,
    reservation INTEGER
);
CREATE INDEX IF NOT EXISTS uses_by_counter ON uses (counter_id, at);
CREATE INDEX IF NOT EXISTS uses_by_reservation ON uses (reservation)
    WHERE reservation IS NOT NULL;
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    forget_after INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_by_expiry ON reservations (forget_after);
";

const FIND_COUNTER: &str = "SELECT id, total FROM counters
    WHERE counter = ?1 AND win = ?2 AND scope = ?3 AND scope_key = ?4";
const PRUNE_USES: &str = "DELETE FROM uses WHERE counter_id = ?1 AND at < ?2 RETURNING weight";
const LIST_USES: &str = "SELECT at, weight FROM uses WHERE counter_id = ?1 AND at >= ?2";
const NEW_COUNTER: &str = "INSERT INTO counters
    (counter, win, scope, scope_key, total, last_expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const UPDATE_COUNTER: &str =
    "UPDATE counters SET total = ?2, last_expires = max(last_expires, ?3) WHERE id = ?1";
const INSERT_USE: &str =
    "INSERT INTO uses (counter_id, at, weight, reservation) VALUES (?1, ?2, ?3, ?4)";

/// Counters in an SQLite database file.
///
/// Open one per process (it is `Send + Sync`; operations are serialised by an internal
/// mutex); several processes may open the same file, and SQLite's locking keeps their
/// reservations atomic.
///
/// # Example
///
/// ```
/// use nanokvm_policy::{Call, Engine, Policy, SqliteStore, Timestamp, Verdict};
/// use serde_json::json;
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("counters.sqlite");
/// let policy = r#"{"version": "1", "default": "deny", "tools": {"nanokvm_power": {
///     "limits": [{"counter": "power", "window": "hour", "max": 1}]}}}"#;
/// let now = Timestamp::parse_rfc3339("2026-03-03T10:15:00Z")?;
/// let args = json!({"action": "power"});
/// let call = Call::new("nanokvm_power", &args).principal("agent");
///
/// let engine = Engine::with_policy(Policy::from_json(policy)?, SqliteStore::open(&path)?);
/// let decision = engine.decide(&call, now);
/// assert_eq!(decision.verdict, Verdict::Allow);
/// if let Some(reservation) = decision.reservation {
///     engine.commit(reservation)?;
/// }
/// drop(engine);
///
/// // A restart does not reset the limit.
/// let engine = Engine::with_policy(Policy::from_json(policy)?, SqliteStore::open(&path)?);
/// assert_eq!(engine.decide(&call, now).verdict, Verdict::Deny);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore {
    inner: Mutex<Inner>,
    path: Option<PathBuf>,
}

struct Inner {
    conn: Connection,
    /// Whether the connection is at `synchronous=FULL` (else `NORMAL`).
    sync_full: bool,
    /// The `now` of the last sweep of idle counters, so it runs at most once a minute.
    last_sweep: Option<i64>,
    /// Reservations written since this handle last checkpointed the WAL (file stores
    /// only; `None` in memory).
    unchecked: Option<u32>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn failed(operation: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |e| Error::Store {
        operation,
        message: e.to_string(),
    }
}

/// A `u64` as SQLite's signed integer, saturating.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// Opens (creating if needed) the counter database at `path`, in WAL mode with
    /// `synchronous=FULL` and a busy timeout of five seconds for other processes.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] with operation `open` when the file cannot be opened or created,
    /// is not an SQLite database, or was written by a newer version of this crate.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let conn = Connection::open(path).map_err(|e| Error::Store {
            operation: "open",
            message: format!("{}: {e}", path.display()),
        })?;
        Self::setup(conn, Some(path.to_owned()))
    }

    /// A store in memory, private to this handle: the same code as a file, without
    /// durability. For tests and dry runs.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when SQLite cannot allocate the database.
    pub fn open_in_memory() -> Result<Self, Error> {
        let conn = Connection::open_in_memory().map_err(failed("open"))?;
        Self::setup(conn, None)
    }

    fn setup(conn: Connection, path: Option<PathBuf>) -> Result<Self, Error> {
        let open = failed("open");
        conn.busy_timeout(BUSY_TIMEOUT).map_err(&open)?;
        if path.is_some() {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(&open)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Store {
                    operation: "open",
                    message: format!("the database refused WAL mode (it is in `{mode}` mode)"),
                });
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(&open)?;
        if path.is_some() {
            // Checkpoints are run by hand, off the reservation path (see `checkpoint`),
            // and the WAL file is cut back to 16 MiB after them.
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(&open)?;
            conn.pragma_update(None, "journal_size_limit", 16 * 1024 * 1024)
                .map_err(&open)?;
        }
        let mut inner = Inner {
            conn,
            sync_full: true,
            last_sweep: None,
            unchecked: path.is_some().then_some(0),
        };
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&open)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(&open)?;
        if version > SCHEMA_VERSION {
            return Err(Error::Store {
                operation: "open",
                message: format!(
                    "the counter database has schema version {version}, newer than this \
                     program's {SCHEMA_VERSION}"
                ),
            });
        }
        tx.execute_batch(SCHEMA).map_err(&open)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(&open)?;
        tx.commit().map_err(&open)?;
        Ok(Self {
            inner: Mutex::new(inner),
            path,
        })
    }

    /// The database file, or `None` for an in-memory store.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reservations made and not yet settled, by any process, including those of
    /// processes that died. They count until their window passes.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the database cannot be read.
    pub fn in_flight(&self) -> Result<u64, Error> {
        let inner = self.lock();
        let n: i64 = inner
            .conn
            .query_row("SELECT COUNT(*) FROM reservations", [], |row| row.get(0))
            .map_err(failed("count"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The number of use rows stored, settled or not. Rows that no longer count are
    /// pruned as time passes, so this stays bounded by the traffic within each counter's
    /// window (plus, for a counter nobody touched since, at most a minute more).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the database cannot be read.
    pub fn stored_uses(&self) -> Result<u64, Error> {
        let inner = self.lock();
        let n: i64 = inner
            .conn
            .query_row("SELECT COUNT(*) FROM uses", [], |row| row.get(0))
            .map_err(failed("count"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic inside an operation drops its open transaction, which rolls back, so
        // the connection behind a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn settle(&self, id: ReservationId, keep: bool) -> Result<(), Error> {
        let operation = if keep { "commit" } else { "rollback" };
        let fail = failed(operation);
        let Ok(rid) = i64::try_from(id.0) else {
            return Err(Error::UnknownReservation { id: id.0 });
        };
        let mut inner = self.lock();
        // A lost settle can only over-count, so it need not wait for the disk; it is
        // synced with the next reservation.
        inner.set_sync(false).map_err(&fail)?;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&fail)?;
        let known = tx
            .execute("DELETE FROM reservations WHERE id = ?1", [rid])
            .map_err(&fail)?;
        if known == 0 {
            return Err(Error::UnknownReservation { id: id.0 });
        }
        if keep {
            tx.execute(
                "UPDATE uses SET reservation = NULL WHERE reservation = ?1",
                [rid],
            )
            .map_err(&fail)?;
        } else {
            let removed: Vec<(i64, i64)> = {
                let mut statement = tx
                    .prepare("DELETE FROM uses WHERE reservation = ?1 RETURNING counter_id, weight")
                    .map_err(&fail)?;
                statement
                    .query_map([rid], |row| Ok((row.get(0)?, row.get(1)?)))
                    .and_then(Iterator::collect)
                    .map_err(&fail)?
            };
            for (counter, weight) in removed {
                tx.execute(
                    "UPDATE counters SET total = max(total - ?2, 0) WHERE id = ?1",
                    params![counter, weight],
                )
                .map_err(&fail)?;
            }
        }
        tx.commit().map_err(&fail)?;
        inner.checkpoint(CHECKPOINT_AFTER);
        Ok(())
    }
}

impl Inner {
    /// Copies the WAL into the database (a passive checkpoint, which never waits for
    /// other processes) once `after` reservations were written since the last one.
    ///
    /// A failed checkpoint is not an error of the operation that ran it, which has
    /// already committed; it is tried again after the next settle.
    fn checkpoint(&mut self, after: u32) {
        if self.unchecked.is_some_and(|n| n >= after)
            && self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .is_ok()
        {
            self.unchecked = Some(0);
        }
    }

    fn set_sync(&mut self, full: bool) -> rusqlite::Result<()> {
        if self.sync_full != full {
            self.conn
                .pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })?;
            self.sync_full = full;
        }
        Ok(())
    }
}

/// The key columns of a counter: name, window, scope, scope key.
struct KeyParams<'a> {
    counter: &'a str,
    window: String,
    scope: &'static str,
    scope_key: &'a str,
}

impl<'a> KeyParams<'a> {
    fn new(key: &'a CounterKey) -> Self {
        Self {
            counter: &key.counter,
            window: window_name(key.window),
            scope: key.scope.name(),
            scope_key: &key.scope_key,
        }
    }
}

/// A counter as a reservation sees it: its row (if it has one) and the units it holds.
#[derive(Clone, Copy)]
struct Counted {
    id: Option<i64>,
    total: u64,
}

fn find_counter(conn: &Connection, key: &KeyParams<'_>) -> rusqlite::Result<Option<(i64, u64)>> {
    conn.query_row(
        FIND_COUNTER,
        params![key.counter, key.window, key.scope, key.scope_key],
        |row| {
            let total: i64 = row.get(1)?;
            Ok((row.get(0)?, u64::try_from(total).unwrap_or(0)))
        },
    )
    .optional()
}

/// Loads a counter, first forgetting its uses from before `start`, exactly as
/// `MemoryStore` prunes a counter it touches. Each use is pruned once, so this costs
/// nothing like a scan of the window.
fn load_counter(conn: &Connection, key: &KeyParams<'_>, start: i64) -> rusqlite::Result<Counted> {
    let Some((id, total)) = find_counter(conn, key)? else {
        return Ok(Counted { id: None, total: 0 });
    };
    let pruned: u64 = {
        let mut statement = conn.prepare(PRUNE_USES)?;
        let weights = statement.query_map(params![id, start], |row| row.get::<_, i64>(0))?;
        let mut sum = 0_u64;
        for weight in weights {
            sum = sum.saturating_add(u64::try_from(weight?).unwrap_or(0));
        }
        sum
    };
    let total = total.saturating_sub(pruned);
    if pruned > 0 {
        conn.execute(
            "UPDATE counters SET total = ?2 WHERE id = ?1",
            params![id, int(total)],
        )?;
    }
    Ok(Counted {
        id: Some(id),
        total,
    })
}

fn list_uses(conn: &Connection, id: i64, start: i64) -> rusqlite::Result<Vec<(i64, u64)>> {
    let mut statement = conn.prepare(LIST_USES)?;
    let rows = statement.query_map(params![id, start], |row| {
        let at: i64 = row.get(0)?;
        let weight: i64 = row.get(1)?;
        Ok((at, u64::try_from(weight).unwrap_or(0)))
    })?;
    rows.collect()
}

/// Drops counters whose every use has stopped counting (nobody touched them since, so
/// they were never pruned), and reservations long past settling.
fn sweep(conn: &Connection, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM uses WHERE counter_id IN (SELECT id FROM counters WHERE last_expires <= ?1)",
        [now],
    )?;
    conn.execute("DELETE FROM counters WHERE last_expires <= ?1", [now])?;
    conn.execute("DELETE FROM reservations WHERE forget_after <= ?1", [now])?;
    Ok(())
}

impl CounterStore for SqliteStore {
    fn reserve(&self, requests: &[CounterRequest], now: Timestamp) -> Result<Reserve, Error> {
        let fail = failed("reserve");
        let now = now.unix_millis();
        let mut inner = self.lock();
        inner.set_sync(true).map_err(&fail)?;
        let swept = inner
            .last_sweep
            .is_none_or(|last| now < last || now >= last.saturating_add(SWEEP_EVERY_MS));
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&fail)?;
        if swept {
            sweep(&tx, now).map_err(&fail)?;
        }
        let keys: Vec<KeyParams<'_>> = requests.iter().map(|r| KeyParams::new(&r.key)).collect();
        let mut counted: HashMap<&CounterKey, Counted> = HashMap::new();
        // Several limits of one call may name the same counter; they must fit together.
        let mut planned: HashMap<&CounterKey, u64> = HashMap::new();
        let mut refusals = Vec::new();
        for (index, (request, key)) in requests.iter().zip(&keys).enumerate() {
            let start = window_start(request.key.window, now);
            let counter = match counted.get(&request.key) {
                Some(&c) => c,
                None => {
                    let c = load_counter(&tx, key, start).map_err(&fail)?;
                    counted.insert(&request.key, c);
                    c
                }
            };
            let before = planned.get(&request.key).copied().unwrap_or(0);
            let wanted = before.saturating_add(request.weight);
            if counter.total.saturating_add(wanted) > request.max {
                let uses = match (request.key.window, counter.id) {
                    (Window::Sliding(_), Some(id)) if wanted <= request.max => {
                        list_uses(&tx, id, start).map_err(&fail)?
                    }
                    _ => Vec::new(),
                };
                refusals.push(Refusal {
                    index,
                    retry_after_s: retry_after(
                        request.key.window,
                        now,
                        request.max,
                        wanted,
                        counter.total,
                        || uses,
                    ),
                });
            }
            planned.insert(&request.key, wanted);
        }
        if !refusals.is_empty() {
            // Nothing is reserved; only the pruning is kept.
            tx.commit().map_err(&fail)?;
            if swept {
                inner.last_sweep = Some(now);
            }
            return Ok(Reserve::Refused(refusals));
        }
        tx.execute(
            "INSERT INTO reservations (forget_after) VALUES (?1)",
            [now.saturating_add(RESERVATION_GRACE_MS)],
        )
        .map_err(&fail)?;
        let id = tx.last_insert_rowid();
        let mut forget_after = now;
        for (request, key) in requests.iter().zip(&keys) {
            if request.weight == 0 {
                continue;
            }
            let expires = expiry(request.key.window, now);
            forget_after = forget_after.max(expires);
            let counter = counted
                .entry(&request.key)
                .or_insert(Counted { id: None, total: 0 });
            counter.total = counter.total.saturating_add(request.weight);
            let counter_id = if let Some(counter_id) = counter.id {
                tx.execute(
                    UPDATE_COUNTER,
                    params![counter_id, int(counter.total), expires],
                )
                .map_err(&fail)?;
                counter_id
            } else {
                tx.execute(
                    NEW_COUNTER,
                    params![
                        key.counter,
                        key.window,
                        key.scope,
                        key.scope_key,
                        int(counter.total),
                        expires
                    ],
                )
                .map_err(&fail)?;
                let counter_id = tx.last_insert_rowid();
                counter.id = Some(counter_id);
                counter_id
            };
            tx.execute(
                INSERT_USE,
                params![counter_id, now, int(request.weight), id],
            )
            .map_err(&fail)?;
        }
        tx.execute(
            "UPDATE reservations SET forget_after = ?2 WHERE id = ?1",
            params![id, forget_after.saturating_add(RESERVATION_GRACE_MS)],
        )
        .map_err(&fail)?;
        tx.commit().map_err(&fail)?;
        if swept {
            inner.last_sweep = Some(now);
        }
        if let Some(n) = &mut inner.unchecked {
            *n = n.saturating_add(1);
        }
        inner.checkpoint(CHECKPOINT_AT_THE_LATEST);
        Ok(Reserve::Reserved(ReservationId(
            u64::try_from(id).unwrap_or(0),
        )))
    }

    fn commit(&self, id: ReservationId) -> Result<(), Error> {
        self.settle(id, true)
    }

    fn rollback(&self, id: ReservationId) -> Result<(), Error> {
        self.settle(id, false)
    }

    fn usage(&self, key: &CounterKey, now: Timestamp) -> Result<u64, Error> {
        let fail = failed("usage");
        let inner = self.lock();
        let start = window_start(key.window, now.unix_millis());
        let Some((id, total)) = find_counter(&inner.conn, &KeyParams::new(key)).map_err(&fail)?
        else {
            return Ok(0);
        };
        // Read-only: subtract what pruning would remove, without removing it.
        let stale: i64 = inner
            .conn
            .query_row(
                "SELECT COALESCE(SUM(weight), 0) FROM uses WHERE counter_id = ?1 AND at < ?2",
                params![id, start],
                |row| row.get(0),
            )
            .map_err(&fail)?;
        Ok(total.saturating_sub(u64::try_from(stale).unwrap_or(0)))
    }
}

/// Reads one reservation's row, for tests of the schema.
#[cfg(test)]
fn reservation_exists(conn: &Connection, id: i64) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM reservations WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map(|row| row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Scope;

    fn key(window: Window) -> CounterKey {
        CounterKey {
            counter: "c".into(),
            window,
            scope: Scope::Global,
            scope_key: String::new(),
        }
    }

    #[test]
    fn expiry_is_the_first_instant_a_use_stops_counting() {
        for (window, at) in [
            (Window::Fixed(60), 1_000_020_500),
            (Window::Fixed(1), 7),
            (Window::Sliding(60), 1_000_020_500),
            (Window::Sliding(1), -5),
        ] {
            let end = expiry(window, at);
            assert!(window_start(window, end - 1) <= at, "{window} {at}");
            assert!(window_start(window, end) > at, "{window} {at}");
        }
    }

    #[test]
    fn zero_weight_reservations_are_known_but_store_no_use() {
        let store = SqliteStore::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let request = CounterRequest {
            key: key(Window::Fixed(60)),
            max: 1,
            weight: 0,
        };
        let now = Timestamp::from_unix_secs(100);
        let Ok(Reserve::Reserved(id)) = store.reserve(&[request], now) else {
            panic!("not reserved");
        };
        assert_eq!(store.stored_uses().ok(), Some(0));
        let exists = reservation_exists(&store.lock().conn, int(id.0));
        assert_eq!(exists.ok(), Some(true));
        assert!(store.commit(id).is_ok());
        let exists = reservation_exists(&store.lock().conn, int(id.0));
        assert_eq!(exists.ok(), Some(false));
    }
}
