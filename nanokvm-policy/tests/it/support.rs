//! Helpers shared by the test modules.

use nanokvm_policy::{Call, Decision, Engine, MemoryStore, Policy, Timestamp, Verdict};
use serde_json::Value;

/// Loads a JSON policy, failing the test with the loader's message.
pub fn policy(json: &str) -> Policy {
    match Policy::from_json(json) {
        Ok(p) => p,
        Err(e) => panic!("policy does not load: {e}\n{json}"),
    }
}

/// An engine with `json` and a fresh in-memory store.
pub fn engine(json: &str) -> Engine {
    Engine::with_policy(policy(json), MemoryStore::new())
}

/// Parses an RFC 3339 time.
pub fn at(text: &str) -> Timestamp {
    match Timestamp::parse_rfc3339(text) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

/// Decides a call from `principal` on `device`, committing any reservation at once.
pub fn run(engine: &Engine, tool: &str, args: &Value, now: Timestamp) -> Decision {
    let mut d = engine.decide(
        &Call::new(tool, args)
            .principal("p")
            .device("d")
            .session("s"),
        now,
    );
    if let Some(r) = d.reservation.take()
        && let Err(e) = engine.commit(r)
    {
        panic!("commit failed: {e}");
    }
    d
}

/// `(verdict, rule)` of a decision, for compact assertions.
pub fn summary(d: &Decision) -> (Verdict, Option<&str>) {
    (d.verdict, d.rule.as_deref())
}
