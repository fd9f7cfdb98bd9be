//! Limits: calendar and sliding windows, retry-after, weights, reserve, commit and
//! rollback, all-or-nothing reservations, calls in flight, and store failures. How scopes
//! key counters is checked on both stores at once, in `sqlite.rs`.

use nanokvm_policy::{
    Call, CounterKey, CounterRequest, CounterStore, Engine, Error, MemoryStore, ReservationId,
    Reserve, Scope, Timestamp, Verdict, Window,
};
use serde_json::json;

use crate::support::{at, engine, policy, run, summary};

fn one_limit(window: &str, max: u64) -> Engine {
    engine(&format!(
        r#"{{"version": "1", "default": "deny", "tools": {{"t": {{"limits": [
            {{"counter": "c", "window": "{window}", "max": {max}, "scope": "grant"}}]}}}}}}"#
    ))
}

#[test]
fn calendar_windows_reset_at_utc_boundaries() {
    // (window, first use, last instant of the same window, first instant of the next)
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
            "2026-03-03T00:00:00Z",
            "2026-03-03T23:59:59.999Z",
            "2026-03-04T00:00:00Z",
        ),
        // The offset is applied first: 05:29:59+05:30 is still UTC day 03-03.
        (
            "day",
            "2026-03-03T12:00:00Z",
            "2026-03-04T05:29:59+05:30",
            "2026-03-04T05:30:00+05:30",
        ),
    ];
    let args = json!({});
    for (window, first, same, next) in cases {
        let e = one_limit(window, 1);
        assert_eq!(
            run(&e, "t", &args, at(first)).verdict,
            Verdict::Allow,
            "{window}"
        );
        let d = run(&e, "t", &args, at(same));
        assert_eq!(
            summary(&d),
            (Verdict::Deny, Some("/tools/t/limits/0")),
            "{window} {same}"
        );
        assert_eq!(
            d.retry_after_s,
            Some(1),
            "{window} {same}: the window ends within a second"
        );
        assert_eq!(
            run(&e, "t", &args, at(next)).verdict,
            Verdict::Allow,
            "{window} {next}"
        );
    }
}

#[test]
fn retry_after_for_calendar_windows_is_the_time_to_the_window_end_rounded_up() {
    let e = one_limit("hour", 1);
    let args = json!({});
    run(&e, "t", &args, at("2026-03-03T10:00:00Z"));
    let cases = [
        ("2026-03-03T10:00:00Z", 3600),
        ("2026-03-03T10:15:00Z", 2700),
        ("2026-03-03T10:59:58.001Z", 2),
        ("2026-03-03T10:59:59Z", 1),
    ];
    for (now, retry) in cases {
        assert_eq!(
            run(&e, "t", &args, at(now)).retry_after_s,
            Some(retry),
            "{now}"
        );
    }
}

#[test]
fn sliding_windows_count_exactly_the_last_n_seconds() {
    let e = one_limit("sliding:60s", 2);
    let args = json!({});
    let t0 = at("2026-03-03T10:00:30Z");
    assert_eq!(run(&e, "t", &args, t0).verdict, Verdict::Allow);
    assert_eq!(
        run(&e, "t", &args, at("2026-03-03T10:00:50Z")).verdict,
        Verdict::Allow
    );
    // Not calendar-aligned: the minute boundary frees nothing.
    let d = run(&e, "t", &args, at("2026-03-03T10:01:10Z"));
    assert_eq!(summary(&d), (Verdict::Deny, Some("/tools/t/limits/0")));
    assert_eq!(
        d.retry_after_s,
        Some(20),
        "the 10:00:30 use expires at 10:01:30"
    );
    let d = run(&e, "t", &args, at("2026-03-03T10:01:29.999Z"));
    assert_eq!(d.retry_after_s, Some(1));
    // Exactly 60 s after the first use, it no longer counts.
    assert_eq!(
        run(&e, "t", &args, at("2026-03-03T10:01:30Z")).verdict,
        Verdict::Allow
    );
    let d = run(&e, "t", &args, at("2026-03-03T10:01:31Z"));
    assert_eq!(
        d.retry_after_s,
        Some(19),
        "next to expire is the 10:00:50 use"
    );
}

#[test]
fn rate_limit_shorthand_is_a_fixed_epoch_aligned_window() {
    let e = engine(
        r#"{"version": "1", "default": "deny", "tools": {"t": {"rate_limit": {"max": 2, "window": 60}}}}"#,
    );
    let args = json!({});
    assert_eq!(
        run(&e, "t", &args, at("2026-03-03T10:00:58Z")).verdict,
        Verdict::Allow
    );
    assert_eq!(
        run(&e, "t", &args, at("2026-03-03T10:00:59Z")).verdict,
        Verdict::Allow
    );
    let d = run(&e, "t", &args, at("2026-03-03T10:00:59.500Z"));
    assert_eq!(summary(&d), (Verdict::Deny, Some("/tools/t/rate_limit")));
    assert_eq!(
        run(&e, "t", &args, at("2026-03-03T10:01:00Z")).verdict,
        Verdict::Allow
    );
}

#[test]
fn weights_count_characters_of_typed_text() {
    let e = engine(
        r#"{"version": "1", "default": "deny", "tools": {"nanokvm_send_text": {"limits": [
            {"counter": "chars", "window": "minute", "max": 10, "scope": "grant", "weight": "len(args.text)"}]}}}"#,
    );
    let now = at("2026-03-03T10:00:00Z");
    let cases = [
        (json!({"text": "ééééé"}), Verdict::Allow), // 5 characters, 10 bytes
        (json!({"text": "123456"}), Verdict::Deny), // 5 + 6 > 10
        (json!({"text": "12345"}), Verdict::Allow), // exactly 10
        (json!({"text": ""}), Verdict::Allow),      // costs nothing
        (json!({}), Verdict::Deny),                 // no text still costs one unit
    ];
    for (args, verdict) in cases {
        assert_eq!(
            run(&e, "nanokvm_send_text", &args, now).verdict,
            verdict,
            "{args}"
        );
    }
    // A call heavier than the whole limit can never fit.
    let big = json!({"text": "x".repeat(11)});
    let d = run(&e, "nanokvm_send_text", &big, at("2026-03-03T11:00:00Z"));
    assert_eq!(
        summary(&d),
        (Verdict::Deny, Some("/tools/nanokvm_send_text/limits/0"))
    );
    assert_eq!(d.retry_after_s, None);
    assert!(d.message.contains("more than its maximum"), "{}", d.message);
}

#[test]
fn reservations_are_all_or_nothing_and_count_in_flight() {
    let e = engine(
        r#"{"version": "1", "default": "deny",
            "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 3}]},
            "tools": {
                "a": {"limits": [{"counter": "a", "window": "minute", "max": 1}]},
                "b": {}
            }}"#,
    );
    let now = at("2026-03-03T10:00:00Z");
    let args = json!({});
    let call = |tool| Call::new(tool, &args).principal("p");
    // In flight: the first `a` is reserved but not yet settled, and already counts.
    let first = e.decide(&call("a"), now);
    assert_eq!(first.verdict, Verdict::Allow);
    let second = e.decide(&call("a"), now);
    assert_eq!(summary(&second), (Verdict::Deny, Some("/tools/a/limits/0")));
    // The refused `a` consumed nothing on `all`: two more calls of `b` fit, a third not.
    let b1 = e.decide(&call("b"), now);
    let b2 = e.decide(&call("b"), now);
    assert_eq!((b1.verdict, b2.verdict), (Verdict::Allow, Verdict::Allow));
    let b3 = e.decide(&call("b"), now);
    assert_eq!(summary(&b3), (Verdict::Deny, Some("/all_tools/limits/0")));
    assert_eq!(e.store().in_flight(), 3);
    // The first `a` failed: rolling back frees both `a` and one unit of `all`.
    let settle = |d: nanokvm_policy::Decision, ok: bool| match d.reservation {
        Some(r) if ok => e.commit(r),
        Some(r) => e.rollback(r),
        None => panic!("no reservation"),
    };
    assert!(settle(first, false).is_ok());
    assert!(settle(b1, true).is_ok());
    assert!(settle(b2, true).is_ok());
    assert_eq!(e.store().in_flight(), 0);
    let again = e.decide(&call("a"), now);
    assert_eq!(again.verdict, Verdict::Allow);
    assert!(settle(again, true).is_ok());
    let over = e.decide(&call("b"), now);
    assert_eq!(summary(&over), (Verdict::Deny, Some("/all_tools/limits/0")));
}

#[test]
fn approvals_and_denials_reserve_nothing() {
    let e = engine(
        r#"{"version": "1", "default": "deny", "tools": {"t": {
            "approve_if": [{"path": "args.ask", "op": "eq", "value": true}],
            "deny_if": [{"path": "args.no", "op": "eq", "value": true}],
            "limits": [{"counter": "c", "window": "minute", "max": 1}]}}}"#,
    );
    let now = at("2026-03-03T10:00:00Z");
    for args in [
        json!({"ask": true}),
        json!({"no": true}),
        json!({"ask": true}),
    ] {
        let d = e.decide(&Call::new("t", &args), now);
        assert!(d.reservation.is_none());
    }
    assert_eq!(run(&e, "t", &json!({}), now).verdict, Verdict::Allow);
    // Once approved, the call is counted like any other.
    let d = e.decide(
        &Call::new("t", &json!({"ask": true}))
            .principal("p")
            .approved(true),
        now,
    );
    assert_eq!(summary(&d), (Verdict::Deny, Some("/tools/t/limits/0")));
}

#[test]
fn limits_on_the_same_counter_add_up_within_one_call() {
    let e = engine(
        r#"{"version": "1", "default": "deny",
            "all_tools": {"limits": [{"counter": "c", "window": "minute", "max": 3}]},
            "tools": {"t": {"limits": [{"counter": "c", "window": "minute", "max": 3}]}}}"#,
    );
    let now = at("2026-03-03T10:00:00Z");
    let args = json!({});
    assert_eq!(run(&e, "t", &args, now).verdict, Verdict::Allow); // 2 units
    let d = run(&e, "t", &args, now); // would be 4
    assert_eq!(summary(&d), (Verdict::Deny, Some("/all_tools/limits/0")));
}

#[test]
fn memory_store_settles_each_reservation_once() {
    let store = MemoryStore::new();
    let key = CounterKey {
        counter: "c".into(),
        window: Window::Fixed(60),
        scope: Scope::Global,
        scope_key: String::new(),
    };
    let req = [CounterRequest {
        key: key.clone(),
        max: 5,
        weight: 2,
    }];
    let now = Timestamp::from_unix_secs(1_000_020);
    let Ok(Reserve::Reserved(id)) = store.reserve(&req, now) else {
        panic!("not reserved");
    };
    assert_eq!(store.usage(&key, now).ok(), Some(2));
    assert!(store.commit(id).is_ok());
    assert!(matches!(
        store.commit(id),
        Err(Error::UnknownReservation { .. })
    ));
    assert!(matches!(
        store.rollback(id),
        Err(Error::UnknownReservation { .. })
    ));
    assert!(matches!(
        store.rollback(ReservationId(99)),
        Err(Error::UnknownReservation { id: 99 })
    ));
    assert_eq!(store.usage(&key, now).ok(), Some(2));
    let refused = store.reserve(
        &[CounterRequest {
            key: key.clone(),
            max: 3,
            weight: 2,
        }],
        now,
    );
    assert_eq!(
        refused.ok(),
        Some(Reserve::Refused(vec![nanokvm_policy::Refusal {
            index: 0,
            retry_after_s: Some(60)
        }]))
    );
    // The minute starting at 1_000_020 s rolls over at 1_000_080 s.
    assert_eq!(
        store.usage(&key, Timestamp::from_unix_secs(1_000_079)).ok(),
        Some(2)
    );
    assert_eq!(
        store.usage(&key, Timestamp::from_unix_secs(1_000_080)).ok(),
        Some(0)
    );
}

/// A store that always fails.
struct Broken;

impl CounterStore for Broken {
    fn reserve(&self, _: &[CounterRequest], _: Timestamp) -> Result<Reserve, Error> {
        Err(Error::Store {
            operation: "reserve",
            message: "disk full".into(),
        })
    }
    fn commit(&self, _: ReservationId) -> Result<(), Error> {
        Err(Error::Store {
            operation: "commit",
            message: "disk full".into(),
        })
    }
    fn rollback(&self, _: ReservationId) -> Result<(), Error> {
        Err(Error::Store {
            operation: "rollback",
            message: "disk full".into(),
        })
    }
    fn usage(&self, _: &CounterKey, _: Timestamp) -> Result<u64, Error> {
        Err(Error::Store {
            operation: "usage",
            message: "disk full".into(),
        })
    }
}

#[test]
fn a_store_error_denies_even_in_shadow_mode() {
    for mode in ["enforce", "shadow"] {
        let p = policy(&format!(
            r#"{{"version": "1", "default": "deny", "mode": "{mode}", "tools": {{
                "t": {{"limits": [{{"counter": "c", "window": "minute", "max": 5}}]}},
                "free": {{}}}}}}"#
        ));
        let e = Engine::with_policy(p, Broken);
        let now = at("2026-03-03T10:00:00Z");
        let d = e.decide(&Call::new("t", &json!({})), now);
        assert_eq!(
            summary(&d),
            (Verdict::Deny, Some("(store error)")),
            "{mode}"
        );
        assert!(d.message.contains("disk full"));
        // A tool without limits never touches the store.
        let d = e.decide(&Call::new("free", &json!({})), now);
        assert_eq!(d.verdict, Verdict::Allow);
    }
}

#[test]
fn counters_survive_a_policy_reload() {
    let doc = r#"{"version": "1", "default": "deny", "tools": {"t": {"limits": [
        {"counter": "c", "window": "hour", "max": 1}]}}}"#;
    let e = engine(doc);
    let now = at("2026-03-03T10:00:00Z");
    assert_eq!(run(&e, "t", &json!({}), now).verdict, Verdict::Allow);
    e.set_policy(policy(doc));
    assert_eq!(run(&e, "t", &json!({}), now).verdict, Verdict::Deny);
}
