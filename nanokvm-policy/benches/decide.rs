//! Decision latency: median and p99 of `decide` plus `commit` for a 50-tool policy with
//! regexes and limits, against the in-memory counter store. Prints figures; asserts
//! nothing (the target is a p99 under 20 µs).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use nanokvm_policy::{Call, Engine, MemoryStore, Policy, Timestamp};
use serde_json::{Value, json};

/// 50 tools, each with a `require` regex, a `deny_if` regex, an `approve_if`, a calendar
/// limit and a sliding limit; plus `all_tools` limits and a keystroke filter.
fn policy() -> Value {
    let mut tools = serde_json::Map::new();
    for i in 0..50 {
        tools.insert(
            format!("tool_{i}"),
            json!({
                "require": [
                    {"path": "args.file", "op": "regex", "value": "^/data/[A-Za-z0-9._-]+\\.iso$"},
                    {"path": "args.n", "op": "lte", "value": 1000}
                ],
                "deny_if": [
                    {"path": "args.text", "op": "regex", "value": "rm\\s+-rf|mkfs|dd\\s+if="},
                    {"path": "args.mode", "op": "in", "value": ["rw", "force"]}
                ],
                "approve_if": [{"path": "args.force", "op": "eq", "value": true}],
                "limits": [
                    {"counter": format!("tool_{i}_rate"), "window": "minute", "max": 1_000_000_000u64, "scope": "grant"},
                    {"counter": format!("tool_{i}_chars"), "window": "sliding:60s", "max": 1_000_000_000u64,
                     "scope": "device", "weight": "len(args.text)"}
                ]
            }),
        );
    }
    tools.insert("nanokvm_send_text".into(), json!({}));
    json!({
        "version": "1",
        "default": "deny",
        "hide": ["nanokvm_reset_hid"],
        "all_tools": {"limits": [
            {"counter": "calls", "window": "minute", "max": 1_000_000_000u64, "scope": "grant"},
            {"counter": "daily", "window": "day", "max": 1_000_000_000u64, "scope": "global"}
        ]},
        "tools": tools,
        "keystrokes": {"deny": ["rm\\s+-rf\\s+/", "mkfs\\.", "dd\\s.*of=/dev/"]}
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn measure(name: &str, engine: &Engine, calls: &[(String, Value)], rounds: usize) {
    let mut samples = Vec::with_capacity(rounds * calls.len());
    let start_ms = 1_772_532_000_000_i64;
    for round in 0..rounds {
        for (i, (tool, args)) in calls.iter().enumerate() {
            let now = Timestamp::from_unix_millis(start_ms + (round * calls.len() + i) as i64);
            let call = Call::new(tool, args)
                .principal("agent")
                .session("s")
                .device("kvm");
            let t = Instant::now();
            let decision = engine.decide(black_box(&call), now);
            if let Some(r) = decision.reservation {
                let _ = engine.commit(r);
            }
            samples.push(t.elapsed());
            black_box(decision.verdict);
        }
    }
    samples.sort_unstable();
    println!(
        "{name:<40} n={:<7} median={:>8.2?} p99={:>8.2?} max={:>8.2?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
    );
}

fn main() {
    let policy = match Policy::from_value(&policy()) {
        Ok(p) => p,
        Err(e) => {
            println!("benchmark policy does not load: {e}");
            return;
        }
    };
    let t = Instant::now();
    let reloaded = Policy::from_value(&self::policy());
    println!(
        "load 50-tool policy: {:?} ({})",
        t.elapsed(),
        reloaded.is_ok()
    );

    let allowed: Vec<(String, Value)> = (0..50)
        .map(|i| {
            (
                format!("tool_{i}"),
                json!({"file": format!("/data/image-{i}.iso"), "n": i, "text": "ls -la /tmp", "mode": "ro"}),
            )
        })
        .collect();
    let engine = Engine::with_policy(policy.clone(), MemoryStore::new());
    measure(
        "allowed call (4 limits, 5 predicates)",
        &engine,
        &allowed,
        400,
    );

    let denied: Vec<(String, Value)> = (0..50)
        .map(|i| (format!("tool_{i}"), json!({"file": "/etc/passwd", "n": i})))
        .collect();
    measure("denied by require regex", &engine, &denied, 400);

    let unnamed: Vec<(String, Value)> =
        (0..50).map(|i| (format!("other_{i}"), json!({}))).collect();
    measure("default deny", &engine, &unnamed, 400);

    let typing: Vec<(String, Value)> = (0..50)
        .map(|i| {
            (
                "nanokvm_send_text".to_owned(),
                json!({"text": format!("echo {i} && ls -la\n")}),
            )
        })
        .collect();
    measure(
        "keystroke filter (send_text, 3 patterns)",
        &engine,
        &typing,
        400,
    );
}
