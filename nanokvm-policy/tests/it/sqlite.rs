//! The SQLite counter store: persistence across reopening, reservations left unsettled
//! by a crash, pruning, several handles and threads on one file, and the differential
//! property test against `MemoryStore` (`stores.rs` runs the behaviours every store
//! shares).

use std::path::Path;
use std::sync::Barrier;

use nanokvm_policy::{
    Call, CounterStore, Engine, Error, Refusal, Reserve, SqliteStore, Timestamp, Verdict, Window,
};
use serde_json::json;
use tempfile::TempDir;

use crate::stores::{answers_like_memory, engine, key, request, reserved, run, settle};
use crate::support::{at, policy, summary};

fn tempdir() -> TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"))
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_refused_reservation_changes_no_counter_and_survives_reopening() {
    let dir = tempdir();
    let path = dir.path().join("counters.sqlite");
    let (a, b) = (key("a", Window::Fixed(3600)), key("b", Window::Fixed(3600)));
    let now = Timestamp::from_unix_secs(1_772_532_000);
    {
        let store = open(&path);
        let id = reserved(store.reserve(&[request(&b, 1, 1)], now));
        assert!(store.commit(id).is_ok());
        let refused = store.reserve(&[request(&a, 5, 1), request(&b, 1, 1)], now);
        assert_eq!(
            refused.ok(),
            Some(Reserve::Refused(vec![Refusal {
                index: 1,
                retry_after_s: Some(3600)
            }]))
        );
        assert_eq!(store.usage(&a, now).ok(), Some(0));
    }
    let store = open(&path);
    assert_eq!(
        (store.usage(&a, now).ok(), store.usage(&b, now).ok()),
        (Some(0), Some(1))
    );
}

#[test]
fn counters_survive_reopening_the_store_and_reloading_the_policy() {
    let dir = tempdir();
    let path = dir.path().join("counters.sqlite");
    let doc = r#"{"version": "1", "default": "deny", "tools": {"t": {"limits": [
        {"counter": "c", "window": "hour", "max": 2}]}}}"#;
    let args = json!({});
    let e = engine(Box::new(open(&path)), doc);
    let call = Call::new("t", &args).principal("p");
    let first = e.decide(&call, at("2026-03-03T10:00:00Z"));
    settle(&e, first, true);
    let failed = e.decide(&call, at("2026-03-03T10:05:00Z"));
    settle(&e, failed, false);
    drop(e);

    let e = engine(Box::new(open(&path)), doc);
    assert_eq!(
        run(&e, "t", &args, at("2026-03-03T10:10:00Z")).verdict,
        Verdict::Allow,
        "the rolled-back use is gone"
    );
    e.set_policy(policy(doc));
    let d = run(&e, "t", &args, at("2026-03-03T10:15:00Z"));
    assert_eq!(
        (summary(&d), d.retry_after_s),
        ((Verdict::Deny, Some("/tools/t/limits/0")), Some(2700))
    );
}

#[test]
fn a_reservation_never_settled_keeps_counting_after_a_crash() {
    let dir = tempdir();
    let path = dir.path().join("counters.sqlite");
    let k = key("c", Window::Sliding(60));
    let t0 = Timestamp::from_unix_secs(1_772_532_000);
    let lost = {
        let store = open(&path);
        let id = reserved(store.reserve(&[request(&k, 1, 1)], t0));
        assert_eq!(store.in_flight().ok(), Some(1));
        // The process dies here: the reservation is neither committed nor rolled back.
        id
    };
    let store = open(&path);
    assert_eq!(store.in_flight().ok(), Some(1));
    let refused = store.reserve(&[request(&k, 1, 1)], t0.after(secs(59)));
    assert_eq!(
        refused.ok(),
        Some(Reserve::Refused(vec![Refusal {
            index: 0,
            retry_after_s: Some(1)
        }]))
    );
    // Its window passes, and the use stops counting.
    let id = reserved(store.reserve(&[request(&k, 1, 1)], t0.after(secs(60))));
    assert!(store.commit(id).is_ok());
    assert_ne!(id, lost, "reservation ids are never reused");
    // Much later the lost reservation is forgotten; settling it then is an error.
    let later = t0.after(secs(3 * 86_400));
    let id = reserved(store.reserve(&[request(&k, 1, 1)], later));
    assert!(store.rollback(id).is_ok());
    assert_eq!(store.in_flight().ok(), Some(0));
    assert!(matches!(
        store.commit(lost),
        Err(Error::UnknownReservation { .. })
    ));
}

fn secs(s: u64) -> std::time::Duration {
    std::time::Duration::from_secs(s)
}

#[test]
fn uses_are_pruned_once_no_window_counts_them() {
    let store = SqliteStore::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    let minute = key("m", Window::Fixed(60));
    let sliding = key("s", Window::Sliding(10));
    let other = key("o", Window::Sliding(1));
    let t0 = Timestamp::from_unix_secs(1_772_532_000);
    for i in 0..30 {
        let now = t0.after(std::time::Duration::from_millis(i * 100));
        let id = reserved(store.reserve(
            &[request(&minute, 1000, 1), request(&sliding, 1000, 1)],
            now,
        ));
        assert!(store.commit(id).is_ok());
    }
    assert_eq!(store.stored_uses().ok(), Some(60));
    // 20 s later, touching the sliding counter prunes its uses; the minute ones count.
    let id = reserved(store.reserve(&[request(&sliding, 1000, 1)], t0.after(secs(20))));
    assert!(store.rollback(id).is_ok());
    assert_eq!(store.stored_uses().ok(), Some(30));
    assert_eq!(store.usage(&minute, t0.after(secs(20))).ok(), Some(30));
    assert_eq!(store.usage(&minute, t0.after(secs(60))).ok(), Some(0));
    // Counters nobody touches are dropped whole once nothing in them counts.
    let id = reserved(store.reserve(&[request(&other, 1000, 1)], t0.after(secs(120))));
    assert!(store.commit(id).is_ok());
    assert_eq!(store.stored_uses().ok(), Some(1));
    assert_eq!(store.usage(&minute, t0.after(secs(120))).ok(), Some(0));
}

#[test]
fn two_handles_on_one_file_share_counters_and_reservations() {
    let dir = tempdir();
    let path = dir.path().join("counters.sqlite");
    let (one, two) = (open(&path), open(&path));
    let k = key("c", Window::Fixed(3600));
    let now = Timestamp::from_unix_secs(1_772_532_000);
    let id = reserved(one.reserve(&[request(&k, 2, 1)], now));
    assert_eq!(
        two.usage(&k, now).ok(),
        Some(1),
        "in flight in the other handle"
    );
    let other = reserved(two.reserve(&[request(&k, 2, 1)], now));
    assert_ne!(id, other);
    assert!(matches!(
        one.reserve(&[request(&k, 2, 1)], now),
        Ok(Reserve::Refused(_))
    ));
    // Either handle can settle either reservation, once.
    assert!(two.rollback(id).is_ok());
    assert!(matches!(
        one.commit(id),
        Err(Error::UnknownReservation { .. })
    ));
    assert!(one.commit(other).is_ok());
    assert_eq!(one.usage(&k, now).ok(), Some(1));
}

#[test]
fn concurrent_handles_never_overrun_a_limit() {
    const THREADS: usize = 4;
    const TRIES: usize = 10;
    const MAX: u64 = 13;
    let dir = tempdir();
    let path = dir.path().join("counters.sqlite");
    drop(open(&path));
    let k = key("c", Window::Fixed(3600));
    let now = Timestamp::from_unix_secs(1_772_532_000);
    let barrier = Barrier::new(THREADS);
    let granted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let store = open(&path);
                    barrier.wait();
                    (0..TRIES)
                        .filter(|_| match store.reserve(&[request(&k, MAX, 1)], now) {
                            Ok(Reserve::Reserved(id)) => store.commit(id).is_ok(),
                            Ok(Reserve::Refused(_)) => false,
                            Err(e) => panic!("{e}"),
                        })
                        .count()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("a thread panicked")))
            .sum()
    });
    assert_eq!(granted as u64, MAX);
    assert_eq!(open(&path).usage(&k, now).ok(), Some(MAX));
}

#[test]
fn opening_something_that_is_not_a_database_fails_with_a_store_error() {
    let dir = tempdir();
    let path = dir.path().join("junk.sqlite");
    let junk = "this is not an SQLite database, just some text that is long enough. ".repeat(20);
    assert!(std::fs::write(&path, junk).is_ok());
    assert!(matches!(
        SqliteStore::open(&path),
        Err(Error::Store {
            operation: "open",
            ..
        })
    ));
    let missing_dir = dir.path().join("no/such/dir/c.sqlite");
    let err = SqliteStore::open(&missing_dir).err();
    assert!(
        matches!(&err, Some(Error::Store { operation: "open", message }) if message.contains("no/such/dir")),
        "{err:?}"
    );
}

#[test]
fn the_store_and_its_errors_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<SqliteStore>();
    send_sync::<Engine<SqliteStore>>();
}

#[test]
fn sqlite_answers_every_sequence_like_memory() {
    answers_like_memory(|| SqliteStore::open_in_memory().unwrap_or_else(|e| panic!("{e}")));
}
