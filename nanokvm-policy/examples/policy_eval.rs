//! Evaluates calls against a policy, or replays an audit log against a candidate policy.
//!
//! ```text
//! cargo run -p nanokvm-policy --example policy_eval -- POLICY [--state DIR] < calls.jsonl
//! ```
//!
//! `POLICY` is a JSON or YAML document (by its extension: `.yaml`/`.yml` are YAML). Each
//! line of standard input is one call:
//! `{"tool", "args", "principal", "session", "device", "at" (RFC 3339), "outcome": "ok"|"error"}`
//! (`outcome` defaults to `ok`: the call's reservation is committed; `error` rolls it
//! back). For each line, exactly one JSON object is written to standard output:
//! `{"verdict", "rule", "message", "retry_after_s"}`. A line that is not a valid call gets
//! a `deny` with rule `(invalid input)`. Errors and nothing else go to standard error.
//!
//! Exit codes: 0 after the last line, 1 when the policy does not load, 2 for bad usage.
//! `--state DIR` (persistent counters across runs) needs the SQLite counter store, which
//! is not written yet: it is refused with exit code 2 for now, and counters live in memory.
#![allow(clippy::print_stderr)]

use std::io::{BufRead, Write};
use std::process::ExitCode;

use nanokvm_policy::{Call, Engine, MemoryStore, Policy, RiskClass, Timestamp};
use serde_json::{Value, json};

const USAGE: &str = "usage: policy_eval POLICY [--state DIR] < calls.jsonl
  POLICY       a policy document (.json, or .yaml/.yml)
  --state DIR  keep counters in DIR across runs (not available yet: it needs the
               SQLite counter store; counters are kept in memory for one run)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [path] if !path.starts_with('-') => path,
        [_, flag, _] | [flag, _, _] if flag == "--state" => {
            eprintln!(
                "policy_eval: --state is not supported yet (it needs the SQLite counter store)"
            );
            return ExitCode::from(2);
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("policy_eval: cannot read {path}: {e}");
            return ExitCode::from(1);
        }
    };
    let yaml = path.ends_with(".yaml") || path.ends_with(".yml");
    let loaded = if yaml {
        Policy::from_yaml(&text)
    } else {
        Policy::from_json(&text)
    };
    let policy = match loaded {
        Ok(p) => p,
        Err(e) => {
            eprintln!("policy_eval: {path}: {e}");
            return ExitCode::from(1);
        }
    };
    let engine = Engine::with_policy(policy, MemoryStore::new());
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("policy_eval: cannot read standard input: {e}");
                return ExitCode::from(1);
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let result = match evaluate(&engine, &line) {
            Ok(v) => v,
            Err(message) => json!({
                "verdict": "deny", "rule": "(invalid input)", "message": message, "retry_after_s": null
            }),
        };
        if writeln!(out, "{result}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

fn evaluate(engine: &Engine, line: &str) -> Result<Value, String> {
    let input: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let text = |field: &str| -> Result<&str, String> {
        match input.get(field) {
            None | Some(Value::Null) => Ok(""),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("`{field}` must be a string")),
        }
    };
    let tool = text("tool")?;
    if tool.is_empty() {
        return Err("`tool` is required".into());
    }
    let at = Timestamp::parse_rfc3339(text("at")?).map_err(|e| e.to_string())?;
    let empty = json!({});
    let args = input.get("args").unwrap_or(&empty);
    let mut call = Call::new(tool, args)
        .principal(text("principal")?)
        .session(text("session")?)
        .device(text("device")?);
    if let Some(risk) = input.get("risk").and_then(Value::as_str) {
        call.risk = Some(
            risk.parse::<RiskClass>()
                .map_err(|_| format!("unknown risk `{risk}`"))?,
        );
    }
    let failed = match text("outcome")? {
        "" | "ok" => false,
        "error" => true,
        other => return Err(format!("unknown outcome `{other}` (expected ok or error)")),
    };
    let mut decision = engine.decide(&call, at);
    if let Some(reservation) = decision.reservation.take() {
        let settled = if failed {
            engine.rollback(reservation)
        } else {
            engine.commit(reservation)
        };
        settled.map_err(|e| e.to_string())?;
    }
    Ok(decision.to_json())
}
