//! The behaviours every counter store shares, run against each of them (memory, SQLite,
//! and Redis when the `redis` feature is on and `redis-server` is installed), and the
//! differential property test the durable stores' modules run against `MemoryStore`.

use std::cell::Cell;

use nanokvm_policy::{
    Call, CounterKey, CounterRequest, CounterStore, Decision, Engine, Error, MemoryStore, Refusal,
    ReservationId, Reserve, Scope, SqliteStore, Timestamp, Verdict, Window,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::support::{at, policy, summary};

/// Any store, so that one test body runs against each.
pub type AnyStore = Box<dyn CounterStore>;

/// Runs `test` once per store: memory, a fresh SQLite file, and Redis when the feature
/// is on and a server can be started (`crate::redis::RedisServer`). `test` gets the
/// store's name and a maker of fresh, empty stores.
fn on_every_store(test: impl Fn(&str, &dyn Fn() -> AnyStore)) {
    test("memory", &|| Box::new(MemoryStore::new()));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
    let n = Cell::new(0);
    test("sqlite", &|| {
        n.set(n.get() + 1);
        let path = dir.path().join(format!("c{}.sqlite", n.get()));
        Box::new(SqliteStore::open(path).unwrap_or_else(|e| panic!("{e}")))
    });
    #[cfg(feature = "redis")]
    if let Some(server) = crate::redis::RedisServer::start() {
        test("redis", &|| {
            n.set(n.get() + 1);
            Box::new(server.store(&format!("t{}:", n.get())))
        });
    }
}

pub fn engine(store: AnyStore, json: &str) -> Engine<AnyStore> {
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
pub fn run<S: CounterStore>(e: &Engine<S>, tool: &str, args: &Value, now: Timestamp) -> Decision {
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

pub fn settle<S: CounterStore>(e: &Engine<S>, d: Decision, ok: bool) {
    let settled = match d.reservation {
        Some(r) if ok => e.commit(r),
        Some(r) => e.rollback(r),
        None => panic!("no reservation"),
    };
    assert!(settled.is_ok(), "{settled:?}");
}

#[test]
fn calendar_windows_reset_at_utc_boundaries_in_every_store() {
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
    on_every_store(|name, store| {
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
fn retry_after_matches_in_every_store() {
    on_every_store(|name, store| {
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
fn rate_limit_shorthand_and_weights_match_in_every_store() {
    on_every_store(|name, store| {
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
fn scopes_key_counters_alike_in_every_store() {
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
    on_every_store(|name, store| {
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
fn reservations_are_all_or_nothing_and_count_in_flight_in_every_store() {
    on_every_store(|name, store| {
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

pub fn key(counter: &str, window: Window) -> CounterKey {
    CounterKey {
        counter: counter.into(),
        window,
        scope: Scope::Global,
        scope_key: String::new(),
    }
}

pub fn request(key: &CounterKey, max: u64, weight: u64) -> CounterRequest {
    CounterRequest {
        key: key.clone(),
        max,
        weight,
    }
}

pub fn reserved(result: Result<Reserve, Error>) -> ReservationId {
    match result {
        Ok(Reserve::Reserved(id)) => id,
        other => panic!("not reserved: {other:?}"),
    }
}

#[test]
fn each_reservation_settles_once_in_every_store() {
    on_every_store(|name, store| {
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

/// How the clock moves before a step: by some milliseconds (often less than a second,
/// so that calls share a window), or to a whole second and on by whole seconds, so that
/// uses land exactly on window boundaries and expiries.
#[derive(Clone, Copy, Debug)]
enum Tick {
    Millis(u64),
    Seconds(u64),
}

impl Tick {
    fn apply(self, now: i64) -> i64 {
        match self {
            Self::Millis(ms) => now + i64::try_from(ms).unwrap_or(0),
            Self::Seconds(s) => {
                now.div_euclid(1000) * 1000 + 1000 + i64::try_from(s).unwrap_or(0) * 1000
            }
        }
    }
}

fn op() -> impl Strategy<Value = (Tick, Op)> {
    let reserve =
        proptest::collection::vec((0..4_usize, 0..6_u64, 0..4_u64), 1..4).prop_map(Op::Reserve);
    let settle = prop_oneof![
        any::<usize>().prop_map(Op::Commit),
        any::<usize>().prop_map(Op::Rollback)
    ];
    let tick = prop_oneof![
        (0..40_000_u64).prop_map(Tick::Millis),
        (0..1_500_u64).prop_map(Tick::Millis),
        (0..40_u64).prop_map(Tick::Seconds)
    ];
    (tick, prop_oneof![3 => reserve, 2 => settle])
}

/// The differential property test: random sequences of reservations (several counters,
/// fixed and sliding windows, weights, maxima, repeats of one counter), commits and
/// rollbacks, on `MemoryStore` and on a store from `fresh` (called once per case, and
/// empty each time), which must answer every step alike: the same refusals and
/// retry-after seconds, the same settles refused, the same usage of every counter.
pub fn answers_like_memory<S: CounterStore>(fresh: impl Fn() -> S) {
    let mut runner = TestRunner::new(Config::with_cases(64));
    let ops = proptest::collection::vec(op(), 1..60);
    let outcome = runner.run(&ops, |ops| {
        let keys = [
            key("a", Window::Fixed(1)),
            key("b", Window::Fixed(60)),
            key("c", Window::Sliding(5)),
            key("d", Window::Sliding(30)),
        ];
        let memory = MemoryStore::new();
        let other = fresh();
        let mut made: Vec<(ReservationId, ReservationId)> = Vec::new();
        let mut now = 1_772_532_000_000_i64;
        for (tick, op) in ops {
            now = tick.apply(now);
            let t = Timestamp::from_unix_millis(now);
            match op {
                Op::Reserve(parts) => {
                    let requests: Vec<CounterRequest> = parts
                        .iter()
                        .map(|&(k, max, weight)| request(&keys[k], max, weight))
                        .collect();
                    match (memory.reserve(&requests, t), other.reserve(&requests, t)) {
                        (Ok(Reserve::Reserved(a)), Ok(Reserve::Reserved(b))) => made.push((a, b)),
                        (m, o) => prop_assert_eq!(m.ok(), o.ok()),
                    }
                }
                Op::Commit(_) | Op::Rollback(_) if made.is_empty() => {}
                Op::Commit(i) => {
                    let (a, b) = made[i % made.len()];
                    prop_assert_eq!(memory.commit(a).is_ok(), other.commit(b).is_ok());
                }
                Op::Rollback(i) => {
                    let (a, b) = made[i % made.len()];
                    prop_assert_eq!(memory.rollback(a).is_ok(), other.rollback(b).is_ok());
                }
            }
            for k in &keys {
                prop_assert_eq!(memory.usage(k, t).ok(), other.usage(k, t).ok());
            }
        }
        Ok::<(), TestCaseError>(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}
