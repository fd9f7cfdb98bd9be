//! Durable figures: decision latency (median and p99) of `decide` plus `commit` for a
//! 50-tool policy with regexes and limits, with counters in SQLite (a synced write per
//! reservation), next to the in-memory store; and audit append throughput with a sync
//! per record. Prints figures; asserts nothing (the target is a p99 under 2 ms with
//! durable counters).
//!
//! Files go to a temporary directory under Cargo's target directory, so the figures are
//! those of the disk the workspace is on; set `NANOKVM_BENCH_DIR` to measure another.
//!
//! With `--features redis` and `NANOKVM_BENCH_REDIS=redis://HOST:PORT/DB`, the same runs
//! with counters in that Redis (under a prefix of their own, whose keys expire).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nanokvm_policy::{
    AuditEvent, AuditKey, AuditKind, AuditLog, Call, CounterStore, Engine, MemoryStore, Policy,
    SqliteStore, Timestamp, verify_dir_chain,
};
use serde_json::{Value, json};

/// Each measurement stops after this many samples or this much time, whichever is first.
const BUDGET: Duration = Duration::from_secs(8);

/// 50 tools, each with a `require` regex, a `deny_if` regex, an `approve_if`, a calendar
/// limit and a sliding limit; plus `all_tools` limits and a keystroke filter (the policy
/// of `benches/decide.rs`).
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
    tools.insert(
        "limited".into(),
        json!({"limits": [{"counter": "limited", "window": "day", "max": 1}]}),
    );
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

fn report(name: &str, samples: &mut [Duration]) {
    if samples.is_empty() {
        println!("{name:<44} no samples");
        return;
    }
    samples.sort_unstable();
    println!(
        "{name:<44} n={:<6} median={:>9.2?} p99={:>9.2?} max={:>9.2?}",
        samples.len(),
        percentile(samples, 0.5),
        percentile(samples, 0.99),
        samples[samples.len() - 1],
    );
}

/// Times `decide` (with its reservation) and `commit`, together and apart.
fn measure<S: CounterStore>(name: &str, engine: &Engine<S>, calls: &[(String, Value)], max: usize) {
    let mut total = Vec::with_capacity(max);
    let mut decide = Vec::with_capacity(max);
    let mut commit = Vec::with_capacity(max);
    let start_ms = 1_772_532_000_000_i64;
    let began = Instant::now();
    for i in 0..max {
        if began.elapsed() > BUDGET {
            break;
        }
        let (tool, args) = &calls[i % calls.len()];
        let now = Timestamp::from_unix_millis(start_ms + i as i64);
        let call = Call::new(tool, args)
            .principal("agent")
            .session("s")
            .device("kvm");
        let t = Instant::now();
        let decision = engine.decide(black_box(&call), now);
        let decided = t.elapsed();
        if let Some(r) = decision.reservation {
            let c = Instant::now();
            if let Err(e) = engine.commit(r) {
                println!("{name}: commit failed: {e}");
                return;
            }
            commit.push(c.elapsed());
        }
        total.push(t.elapsed());
        decide.push(decided);
        black_box(decision.verdict);
    }
    report(&format!("{name}: decide + commit"), &mut total);
    if !commit.is_empty() {
        report(&format!("{name}:   decide (reserve)"), &mut decide);
        report(&format!("{name}:   commit"), &mut commit);
    }
}

fn bench_dir() -> Result<tempfile::TempDir, std::io::Error> {
    let base = std::env::var_os("NANOKVM_BENCH_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from);
    std::fs::create_dir_all(&base)?;
    tempfile::tempdir_in(base)
}

/// The disk's own floor: a 100-byte append and `sync_data`, as often as the others. A
/// durable store cannot answer faster than its disk syncs, so read the other figures
/// against this one (it moves with whatever else is writing to the disk).
fn disk_floor(dir: &std::path::Path, max: usize) {
    use std::io::Write;
    let path = dir.join("floor.bin");
    let mut file = match std::fs::File::create(&path) {
        Ok(f) => f,
        Err(e) => {
            println!("no file for the disk floor: {e}");
            return;
        }
    };
    let line = [b'x'; 100];
    let mut samples = Vec::with_capacity(max);
    let began = Instant::now();
    for _ in 0..max {
        if began.elapsed() > BUDGET / 4 {
            break;
        }
        let t = Instant::now();
        if let Err(e) = file.write_all(&line).and_then(|()| file.sync_data()) {
            println!("disk floor: {e}");
            return;
        }
        samples.push(t.elapsed());
    }
    report("disk floor: 100-byte append + sync_data", &mut samples);
}

fn audit(dir: &std::path::Path, max: usize) {
    let path = dir.join("audit.jsonl");
    let log = match AuditLog::open(&path, AuditKey::from_bytes([7; 32])) {
        Ok(log) => log,
        Err(e) => {
            println!("audit log does not open: {e}");
            return;
        }
    };
    let mut samples = Vec::with_capacity(max);
    let began = Instant::now();
    for i in 0..max {
        if began.elapsed() > BUDGET {
            break;
        }
        let typing = i % 2 == 0;
        let event = AuditEvent {
            at: Timestamp::from_unix_millis(1_772_532_000_000 + i as i64),
            kind: if typing {
                AuditKind::Decision
            } else {
                AuditKind::Outcome
            },
            tool: if typing {
                "nanokvm_send_text".into()
            } else {
                "nanokvm_power".into()
            },
            args: if typing {
                json!({"text": "echo hello && ls -la /tmp\n"})
            } else {
                json!({"action": "power"})
            },
            principal: Some("agent".into()),
            session: Some("session-1".into()),
            device: Some("kvm1".into()),
            verdict: "allow".into(),
            rule: None,
            message: Some("allowed".into()),
            policy_hash: Some("ab".repeat(32)),
            duration_ms: (!typing).then_some(12),
            outcome: (!typing).then(|| "ok".to_owned()),
            error: None,
        };
        let t = Instant::now();
        if let Err(e) = log.append(&event) {
            println!("audit append failed: {e}");
            return;
        }
        samples.push(t.elapsed());
    }
    let elapsed = began.elapsed();
    let n = samples.len();
    report("audit append (sync_data per record)", &mut samples);
    println!(
        "{:<44} {:.0} records/s",
        "audit append throughput, one thread",
        n as f64 / elapsed.as_secs_f64()
    );
    let t = Instant::now();
    match verify_dir_chain(&path) {
        Ok(r) => println!(
            "{:<44} {} records in {:.2?}",
            "audit verify",
            r.records,
            t.elapsed()
        ),
        Err(e) => println!("audit verify failed: {e}"),
    }
}

/// The runs with counters in the Redis `NANOKVM_BENCH_REDIS` names.
#[cfg(feature = "redis")]
fn redis(policy: &Policy, allowed: &[(String, Value)], limited: &[(String, Value)]) {
    let Some(url) = std::env::var_os("NANOKVM_BENCH_REDIS") else {
        println!("redis: set NANOKVM_BENCH_REDIS=redis://HOST:PORT/DB to measure it");
        return;
    };
    let store = nanokvm_policy::RedisStore::builder(url.to_string_lossy())
        .prefix(format!("nanokvm-bench-{}:", std::process::id()))
        .open();
    match store {
        Ok(store) => {
            println!("redis at {}", store.url());
            let engine = Engine::with_policy(policy.clone(), store);
            measure("redis, allowed (4 limits)", &engine, allowed, 5_000);
            measure("redis, refused by a limit", &engine, limited, 5_000);
        }
        Err(e) => println!("redis does not open: {e}"),
    }
}

fn main() {
    let policy = match Policy::from_value(&policy()) {
        Ok(p) => p,
        Err(e) => {
            println!("benchmark policy does not load: {e}");
            return;
        }
    };
    let dir = match bench_dir() {
        Ok(d) => d,
        Err(e) => {
            println!("no directory for the benchmark files: {e}");
            return;
        }
    };
    println!("files in {}", dir.path().display());
    disk_floor(dir.path(), 1_000);

    let allowed: Vec<(String, Value)> = (0..50)
        .map(|i| {
            (
                format!("tool_{i}"),
                json!({"file": format!("/data/image-{i}.iso"), "n": i, "text": "ls -la /tmp", "mode": "ro"}),
            )
        })
        .collect();
    let limited = vec![("limited".to_owned(), json!({}))];

    let memory = Engine::with_policy(policy.clone(), MemoryStore::new());
    measure("memory, allowed (4 limits)", &memory, &allowed, 20_000);

    // The same statements without a disk: what SQLite itself costs.
    match SqliteStore::open_in_memory() {
        Ok(store) => measure(
            "sqlite in memory, allowed",
            &Engine::with_policy(policy.clone(), store),
            &allowed,
            3_000,
        ),
        Err(e) => println!("in-memory SQLite does not open: {e}"),
    }

    let store = match SqliteStore::open(dir.path().join("counters.sqlite")) {
        Ok(s) => s,
        Err(e) => {
            println!("counter store does not open: {e}");
            return;
        }
    };
    #[cfg(feature = "redis")]
    redis(&policy, &allowed, &limited);
    let sqlite = Engine::with_policy(policy, store);
    measure("sqlite, allowed (4 limits)", &sqlite, &allowed, 3_000);
    // The first `limited` call is allowed; every later one is refused by its counter.
    measure("sqlite, refused by a limit", &sqlite, &limited, 3_000);
    if let Ok(n) = sqlite.store().stored_uses() {
        println!("{:<44} {n}", "sqlite use rows after the runs");
    }

    audit(dir.path(), 3_000);
    disk_floor(dir.path(), 1_000);
}
