//! The SQLite counter store: the behaviours of `limits.rs` run against both stores,
//! persistence across reopening, reservations left unsettled by a crash, pruning,
//! several handles and threads on one file, and a property test that the two stores
//! answer every sequence of operations alike.

use std::path::Path;
use std::sync::Barrier;

use nanokvm_policy::{
    Call, CounterKey, CounterRequest, CounterStore, Decision, Engine, Error, MemoryStore, Refusal,
    ReservationId, Reserve, Scope, SqliteStore, Timestamp, Verdict, Window,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{at, policy, summary};

/// Either store, so that one test body runs against both.
enum AnyStore {
    Memory(MemoryStore),
    Sqlite(SqliteStore),
}

impl CounterStore for AnyStore {
    fn reserve(&self, requests: &[CounterRequest], now: Timestamp) -> Result<Reserve, Error> {
        match self {
            Self::Memory(s) => s.reserve(requests, now),
            Self::Sqlite(s) => s.reserve(requests, now),
        }
    }
    fn commit(&self, id: ReservationId) -> Result<(), Error> {
        match self {
            Self::Memory(s) => s.commit(id),
            Self::Sqlite(s) => s.commit(id),
        }
    }
    fn rollback(&self, id: ReservationId) -> Result<(), Error> {
        match self {
            Self::Memory(s) => s.rollback(id),
            Self::Sqlite(s) => s.rollback(id),
        }
    }
    fn usage(&self, key: &CounterKey, now: Timestamp) -> Result<u64, Error> {
        match self {
            Self::Memory(s) => s.usage(key, now),
            Self::Sqlite(s) => s.usage(key, now),
        }
    }
}

fn tempdir() -> TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"))
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `test` once with a memory store and once with a fresh SQLite file; `test`
/// gets the store's name and a maker of fresh stores.
fn on_both_stores(test: impl Fn(&str, &dyn Fn() -> AnyStore)) {
    test("memory", &|| AnyStore::Memory(MemoryStore::new()));
    let dir = tempdir();
    let n = std::cell::Cell::new(0);
    test("sqlite", &|| {
        n.set(n.get() + 1);
        AnyStore::Sqlite(open(&dir.path().join(format!("c{}.sqlite", n.get()))))
    });
}

fn engine(store: AnyStore, json: &str) -> Engine<AnyStore> {
    Engine::with_policy(policy(json), store)
}

fn one_limit(store: AnyStore, window: &str, max: u64) -> Engine<AnyStore> {
    engine(
        store,
        &format!(
            r#"{{"version": "1", "default": "deny", "tools": {{"t": {{"limits": [
            {{"counter": "c", "window": "{window}", "max": {max}, "scope": "grant"}}]}}}}}}"#
        ),
    )
}

/// Decides a call from principal `p` on device `d`, committing any reservation.
fn run<S: CounterStore>(e: &Engine<S>, tool: &str, args: &Value, now: Timestamp) -> Decision {
    let mut d = e.decide(
        &Call::new(tool, args)
            .principal("p")
            .device("d")
            .session("s"),
        now,
    );
    if let Some(r) = d.reservation.take()
        && let Err(err) = e.commit(r)
    {
        panic!("commit failed: {err}");
    }
    d
}

fn settle<S: CounterStore>(e: &Engine<S>, d: Decision, ok: bool) {
    let settled = match d.reservation {
        Some(r) if ok => e.commit(r),
        Some(r) => e.rollback(r),
        None => panic!("no reservation"),
    };
    assert!(settled.is_ok(), "{settled:?}");
}

#[test]
fn calendar_windows_reset_at_utc_boundaries_in_both_stores() {
    let cases = [
        (
            "second",
            "2026-03-03T10:00:00.000Z",
            "2026-03-03T10:00:00.999Z",
            "2026-03-03T10:00:01.000Z",
        ),
        (
            "minute",
            "2026-03-03T10:00:00Z",
            "2026-03-03T10:00:59.999Z",
            "2026-03-03T10:01:00Z",
        ),
        (
            "hour",
            "2026-03-03T10:30:00Z",
            "2026-03-03T10:59:59.999Z",
            "2026-03-03T11:00:00Z",
        ),
        (
            "day",
            "2026-03-03T12:00:00Z",
            "2026-03-04T05:29:59+05:30",
            "2026-03-04T05:30:00+05:30",
        ),
    ];
    on_both_stores(|name, store| {
        let args = json!({});
        for (window, first, same, next) in cases {
            let e = one_limit(store(), window, 1);
            assert_eq!(run(&e, "t", &args, at(first)).verdict, Verdict::Allow);
            let d = run(&e, "t", &args, at(same));
            assert_eq!(
                (summary(&d), d.retry_after_s),
                ((Verdict::Deny, Some("/tools/t/limits/0")), Some(1)),
                "{name} {window} {same}"
            );
            assert_eq!(
                run(&e, "t", &args, at(next)).verdict,
                Verdict::Allow,
                "{name} {window} {next}"
            );
        }
    });
}

#[test]
fn retry_after_matches_in_both_stores() {
    on_both_stores(|name, store| {
        let args = json!({});
        let e = one_limit(store(), "hour", 1);
        run(&e, "t", &args, at("2026-03-03T10:00:00Z"));
        for (now, retry) in [
            ("2026-03-03T10:00:00Z", 3600),
            ("2026-03-03T10:15:00Z", 2700),
            ("2026-03-03T10:59:58.001Z", 2),
            ("2026-03-03T10:59:59Z", 1),
        ] {
            assert_eq!(
                run(&e, "t", &args, at(now)).retry_after_s,
                Some(retry),
                "{name} {now}"
            );
        }
        let e = one_limit(store(), "sliding:60s", 2);
        assert_eq!(
            run(&e, "t", &args, at("2026-03-03T10:00:30Z")).verdict,
            Verdict::Allow
        );
        assert_eq!(
            run(&e, "t", &args, at("2026-03-03T10:00:50Z")).verdict,
            Verdict::Allow
        );
        let cases = [
            ("2026-03-03T10:01:10Z", Verdict::Deny, Some(20)),
            ("2026-03-03T10:01:29.999Z", Verdict::Deny, Some(1)),
            ("2026-03-03T10:01:30Z", Verdict::Allow, None),
            ("2026-03-03T10:01:31Z", Verdict::Deny, Some(19)),
        ];
        for (now, verdict, retry) in cases {
            let d = run(&e, "t", &args, at(now));
            assert_eq!(
                (d.verdict, d.retry_after_s),
                (verdict, retry),
                "{name} {now}"
            );
        }
    });
}

#[test]
fn rate_limit_shorthand_and_weights_match_in_both_stores() {
    on_both_stores(|name, store| {
        let args = json!({});
        let e = engine(
            store(),
            r#"{"version": "1", "default": "deny", "tools": {"t": {"rate_limit": {"max": 2, "window": 60}}}}"#,
        );
        let cases = [
            ("2026-03-03T10:00:58Z", Verdict::Allow),
            ("2026-03-03T10:00:59Z", Verdict::Allow),
            ("2026-03-03T10:00:59.500Z", Verdict::Deny),
            ("2026-03-03T10:01:00Z", Verdict::Allow),
        ];
        for (now, verdict) in cases {
            assert_eq!(
                run(&e, "t", &args, at(now)).verdict,
                verdict,
                "{name} {now}"
            );
        }

        let e = engine(
            store(),
            r#"{"version": "1", "default": "deny", "tools": {"nanokvm_send_text": {"limits": [
                {"counter": "chars", "window": "minute", "max": 10, "weight": "len(args.text)"}]}}}"#,
        );
        let now = at("2026-03-03T10:00:00Z");
        let cases = [
            (json!({"text": "ééééé"}), Verdict::Allow, None),
            (json!({"text": "123456"}), Verdict::Deny, Some(60)),
            (json!({"text": "12345"}), Verdict::Allow, None),
            (json!({"text": ""}), Verdict::Allow, None),
            (json!({}), Verdict::Deny, Some(60)),
            (json!({"text": "x".repeat(11)}), Verdict::Deny, None),
        ];
        for (args, verdict, retry) in cases {
            let d = run(&e, "nanokvm_send_text", &args, now);
            assert_eq!(
                (d.verdict, d.retry_after_s),
                (verdict, retry),
                "{name} {args}"
            );
        }
    });
}

#[test]
fn scopes_key_counters_alike_in_both_stores() {
    let a = ("alice", "s1", "kvm1");
    let cases = [
        (
            "grant",
            [a, ("alice", "s2", "kvm2"), ("bob", "s1", "kvm1")],
            [true, false, true],
        ),
        (
            "principal",
            [a, ("alice", "s2", "kvm2"), ("bob", "s1", "kvm1")],
            [true, false, true],
        ),
        (
            "session",
            [a, ("bob", "s1", "kvm2"), ("alice", "s2", "kvm1")],
            [true, false, true],
        ),
        (
            "device",
            [a, ("bob", "s2", "kvm1"), ("alice", "s1", "kvm2")],
            [true, false, true],
        ),
        (
            "global",
            [a, ("bob", "s2", "kvm2"), ("carol", "s3", "kvm3")],
            [true, false, false],
        ),
    ];
    on_both_stores(|name, store| {
        let now = at("2026-03-03T10:00:00Z");
        let args = json!({});
        for (scope, calls, expected) in cases {
            let e = engine(
                store(),
                &format!(
                    r#"{{"version": "1", "default": "allow", "all_tools": {{"limits": [
                    {{"counter": "c", "window": "minute", "max": 1, "scope": "{scope}"}}]}}}}"#
                ),
            );
            for ((principal, session, device), allowed) in calls.into_iter().zip(expected) {
                let call = Call::new("t", &args)
                    .principal(principal)
                    .session(session)
                    .device(device);
                let mut d = e.decide(&call, now);
                assert_eq!(
                    d.verdict == Verdict::Allow,
                    allowed,
                    "{name} {scope} {principal} {session} {device}"
                );
                if let Some(r) = d.reservation.take() {
                    assert!(e.commit(r).is_ok());
                }
            }
        }
    });
}

#[test]
fn reservations_are_all_or_nothing_and_count_in_flight_in_both_stores() {
    on_both_stores(|name, store| {
        let e = engine(
            store(),
            r#"{"version": "1", "default": "deny",
                "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 3}]},
                "tools": {
                    "a": {"limits": [{"counter": "a", "window": "minute", "max": 1}]},
                    "b": {},
                    "same": {"limits": [{"counter": "all", "window": "minute", "max": 3}]}
                }}"#,
        );
        let now = at("2026-03-03T10:00:00Z");
        let args = json!({});
        let call = |tool| Call::new(tool, &args).principal("p");
        let first = e.decide(&call("a"), now);
        assert_eq!(first.verdict, Verdict::Allow, "{name}");
        let second = e.decide(&call("a"), now);
        assert_eq!(
            summary(&second),
            (Verdict::Deny, Some("/tools/a/limits/0")),
            "{name}"
        );
        // Two limits on one counter add up within a call: `same` needs 2 units where 1
        // is left.
        let b1 = e.decide(&call("b"), now);
        assert_eq!(b1.verdict, Verdict::Allow, "{name}");
        let b2 = e.decide(&call("same"), now);
        assert_eq!(
            summary(&b2),
            (Verdict::Deny, Some("/all_tools/limits/0")),
            "{name}: 2 used + 2 wanted"
        );
        let b3 = e.decide(&call("b"), now);
        assert_eq!(b3.verdict, Verdict::Allow, "{name}");
        let b4 = e.decide(&call("b"), now);
        assert_eq!(
            summary(&b4),
            (Verdict::Deny, Some("/all_tools/limits/0")),
            "{name}"
        );
        settle(&e, first, false);
        settle(&e, b1, true);
        settle(&e, b3, true);
        let again = e.decide(&call("a"), now);
        assert_eq!(
            again.verdict,
            Verdict::Allow,
            "{name}: the rollback freed a and all"
        );
        settle(&e, again, true);
        let over = e.decide(&call("b"), now);
        assert_eq!(
            summary(&over),
            (Verdict::Deny, Some("/all_tools/limits/0")),
            "{name}"
        );
        // Approvals reserve nothing; a reload keeps the counters.
        e.set_policy(policy(
            r#"{"version": "1", "default": "deny",
                "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 3}]},
                "tools": {"b": {"action": "require_approval"}}}"#,
        ));
        let ask = e.decide(&call("b"), now);
        assert_eq!(
            (ask.verdict, ask.reservation.is_none()),
            (Verdict::ApprovalRequired, true)
        );
        let approved = e.decide(&call("b").approved(true), now);
        assert_eq!(
            summary(&approved),
            (Verdict::Deny, Some("/all_tools/limits/0")),
            "{name}"
        );
    });
}

fn key(counter: &str, window: Window) -> CounterKey {
    CounterKey {
        counter: counter.into(),
        window,
        scope: Scope::Global,
        scope_key: String::new(),
    }
}

fn request(key: &CounterKey, max: u64, weight: u64) -> CounterRequest {
    CounterRequest {
        key: key.clone(),
        max,
        weight,
    }
}

fn reserved(result: Result<Reserve, Error>) -> ReservationId {
    match result {
        Ok(Reserve::Reserved(id)) => id,
        other => panic!("not reserved: {other:?}"),
    }
}

#[test]
fn each_reservation_settles_once_in_both_stores() {
    on_both_stores(|name, store| {
        let store = store();
        let k = key("c", Window::Fixed(60));
        let now = Timestamp::from_unix_secs(1_000_020);
        let id = reserved(store.reserve(&[request(&k, 5, 2)], now));
        assert_eq!(store.usage(&k, now).ok(), Some(2), "{name}");
        assert!(store.commit(id).is_ok(), "{name}");
        for second in [store.commit(id), store.rollback(id)] {
            assert!(
                matches!(second, Err(Error::UnknownReservation { .. })),
                "{name}: {second:?}"
            );
        }
        assert!(matches!(
            store.rollback(ReservationId(99)),
            Err(Error::UnknownReservation { id: 99 })
        ));
        assert_eq!(
            store.reserve(&[request(&k, 3, 2)], now).ok(),
            Some(Reserve::Refused(vec![Refusal {
                index: 0,
                retry_after_s: Some(60)
            }])),
            "{name}"
        );
        assert_eq!(
            store.usage(&k, Timestamp::from_unix_secs(1_000_079)).ok(),
            Some(2)
        );
        assert_eq!(
            store.usage(&k, Timestamp::from_unix_secs(1_000_080)).ok(),
            Some(0)
        );
    });
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
    let e = engine(AnyStore::Sqlite(open(&path)), doc);
    let call = Call::new("t", &args).principal("p");
    let first = e.decide(&call, at("2026-03-03T10:00:00Z"));
    settle(&e, first, true);
    let failed = e.decide(&call, at("2026-03-03T10:05:00Z"));
    settle(&e, failed, false);
    drop(e);

    let e = engine(AnyStore::Sqlite(open(&path)), doc);
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

/// One step of the differential property test.
#[derive(Clone, Debug)]
enum Op {
    /// Reserve on up to three of four counters (by index), with maxima and weights.
    Reserve(Vec<(usize, u64, u64)>),
    /// Commit the n-th reservation made so far (modulo their number).
    Commit(usize),
    /// Roll back the n-th reservation.
    Rollback(usize),
}

fn op() -> impl Strategy<Value = (u64, Op)> {
    let reserve =
        proptest::collection::vec((0..4_usize, 0..6_u64, 0..4_u64), 1..4).prop_map(Op::Reserve);
    let settle = prop_oneof![
        any::<usize>().prop_map(Op::Commit),
        any::<usize>().prop_map(Op::Rollback)
    ];
    (0..40_000_u64, prop_oneof![3 => reserve, 2 => settle])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn both_stores_answer_every_sequence_alike(ops in proptest::collection::vec(op(), 1..60)) {
        let keys = [
            key("a", Window::Fixed(1)),
            key("b", Window::Fixed(60)),
            key("c", Window::Sliding(5)),
            key("d", Window::Sliding(30)),
        ];
        let memory = MemoryStore::new();
        let sqlite = SqliteStore::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let mut made: Vec<(ReservationId, ReservationId)> = Vec::new();
        let mut now = 1_772_532_000_000_i64;
        for (step, op) in ops {
            now += i64::try_from(step).unwrap_or(0);
            let t = Timestamp::from_unix_millis(now);
            match op {
                Op::Reserve(parts) => {
                    let requests: Vec<CounterRequest> = parts
                        .iter()
                        .map(|&(k, max, weight)| request(&keys[k], max, weight))
                        .collect();
                    let (m, s) = (memory.reserve(&requests, t), sqlite.reserve(&requests, t));
                    match (m, s) {
                        (Ok(Reserve::Reserved(a)), Ok(Reserve::Reserved(b))) => made.push((a, b)),
                        (m, s) => prop_assert_eq!(m.ok(), s.ok()),
                    }
                }
                Op::Commit(i) | Op::Rollback(i) if made.is_empty() => { let _ = i; }
                Op::Commit(i) => {
                    let (a, b) = made[i % made.len()];
                    prop_assert_eq!(memory.commit(a).is_ok(), sqlite.commit(b).is_ok());
                }
                Op::Rollback(i) => {
                    let (a, b) = made[i % made.len()];
                    prop_assert_eq!(memory.rollback(a).is_ok(), sqlite.rollback(b).is_ok());
                }
            }
            for k in &keys {
                prop_assert_eq!(memory.usage(k, t).ok(), sqlite.usage(k, t).ok());
            }
        }
    }
}
