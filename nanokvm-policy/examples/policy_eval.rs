//! Evaluates calls against a policy, or replays an audit log against a candidate policy.
//!
//! ```text
//! cargo run -p nanokvm-policy --example policy_eval -- POLICY [--state DIR] [--audit FILE] < calls.jsonl
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
//! `--state DIR` keeps the counters in `DIR/counters.sqlite` (created when missing), so
//! that repeated runs share them, as a restarted gate would. Without it, counters live in
//! memory for one run.
//!
//! `--audit FILE` appends what was decided to the hash-chained audit log `FILE`: a
//! `decision` record per call, and an `outcome` record for each call that went ahead.
//! The key for redacted arguments is `FILE.key`, created when missing.
//!
//! `--replay` reads an audit log (as written by the gate or `--audit`) instead of calls,
//! and decides each call it records against `POLICY`: every `outcome` record (its
//! outcome decides commit or rollback; calls that were refused approval count as `ok`)
//! and every `decision` record with verdict `deny`. Other records are skipped. Each
//! output line carries two more fields: `seq`, the record's sequence number, and `was`,
//! the verdict recorded. Arguments the log redacted are replayed as that many `\u{FFFD}`
//! characters, so length limits and weights still apply while patterns on the text
//! cannot match. The keystroke filter cannot tell what such a call typed, so under a
//! policy with `keystrokes` a replayed typing call with redacted text is refused with
//! rule `/keystrokes`: the log keeps no text to check, by design.
//!
//! Exit codes: 0 after the last line; 1 when the policy does not load, the counter store
//! or the audit log fails, or standard input cannot be read; 2 for bad usage.
#![allow(clippy::print_stderr)]

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use nanokvm_policy::{
    AuditEvent, AuditKey, AuditKind, AuditLog, Call, CounterStore, Decision, Engine, MemoryStore,
    PolicyFile, RiskClass, SqliteStore, Timestamp,
};
use serde_json::{Value, json};

const USAGE: &str =
    "usage: policy_eval POLICY [--state DIR] [--audit FILE] [--replay] < calls.jsonl
  POLICY        a policy document (.json, or .yaml/.yml)
  --state DIR   keep counters in DIR/counters.sqlite across runs
  --audit FILE  append decision and outcome records to the audit log FILE
                (key in FILE.key)
  --replay      read an audit log instead of calls and decide the calls it records";

/// The command line.
struct Options {
    policy: PathBuf,
    state: Option<PathBuf>,
    audit: Option<PathBuf>,
    replay: bool,
}

fn parse_args(args: &[String]) -> Option<Options> {
    let mut policy = None;
    let mut state = None;
    let mut audit = None;
    let mut replay = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--state" if state.is_none() => state = Some(PathBuf::from(rest.next()?)),
            "--audit" if audit.is_none() => audit = Some(PathBuf::from(rest.next()?)),
            "--replay" if !replay => replay = true,
            a if !a.starts_with('-') && policy.is_none() => policy = Some(PathBuf::from(a)),
            _ => return None,
        }
    }
    Some(Options {
        policy: policy?,
        state,
        audit,
        replay,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(options) = parse_args(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let file = match PolicyFile::open(&options.policy) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("policy_eval: {}: {e}", options.policy.display());
            return ExitCode::from(1);
        }
    };
    let policy = file.current();
    let audit = match &options.audit {
        None => None,
        Some(path) => {
            let mut key_path = path.as_os_str().to_owned();
            key_path.push(".key");
            match AuditKey::load_or_create(PathBuf::from(key_path))
                .and_then(|key| AuditLog::open(path, key))
            {
                Ok(log) => {
                    if let Some(bytes) = log.torn_tail() {
                        eprintln!(
                            "policy_eval: cut a torn last record ({bytes} bytes) off {}",
                            path.display()
                        );
                    }
                    Some(log)
                }
                Err(e) => {
                    eprintln!("policy_eval: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    };
    let run = Run {
        audit,
        policy_hash: policy.hash_hex(),
        replay: options.replay,
    };
    let policy = policy.as_ref().clone();
    match &options.state {
        None => run.all(&Engine::with_policy(policy, MemoryStore::new())),
        Some(dir) => {
            let store = std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))
                .and_then(|()| {
                    SqliteStore::open(dir.join("counters.sqlite")).map_err(|e| e.to_string())
                });
            match store {
                Ok(store) => run.all(&Engine::with_policy(policy, store)),
                Err(e) => {
                    eprintln!("policy_eval: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// What every line shares.
struct Run {
    audit: Option<AuditLog>,
    policy_hash: String,
    replay: bool,
}

impl Run {
    fn all<S: CounterStore>(&self, engine: &Engine<S>) -> ExitCode {
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
            let evaluated = if self.replay {
                match replayed_call(&line) {
                    Ok(None) => continue,
                    Ok(Some((call, seq, was))) => {
                        self.evaluate(engine, &call.to_string()).map(|mut v| {
                            v["seq"] = json!(seq);
                            v["was"] = json!(was);
                            v
                        })
                    }
                    Err(e) => Err(e),
                }
            } else {
                self.evaluate(engine, &line)
            };
            let result = match evaluated {
                Ok(v) => v,
                Err(Failure::Input(message)) => json!({
                    "verdict": "deny", "rule": "(invalid input)", "message": message, "retry_after_s": null
                }),
                Err(Failure::Fatal(message)) => {
                    eprintln!("policy_eval: {message}");
                    return ExitCode::from(1);
                }
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

    fn evaluate<S: CounterStore>(&self, engine: &Engine<S>, line: &str) -> Result<Value, Failure> {
        let input: Value =
            serde_json::from_str(line).map_err(|e| Failure::Input(format!("not JSON: {e}")))?;
        let text = |field: &str| -> Result<&str, Failure> {
            match input.get(field) {
                None | Some(Value::Null) => Ok(""),
                Some(Value::String(s)) => Ok(s),
                Some(_) => Err(Failure::Input(format!("`{field}` must be a string"))),
            }
        };
        let tool = text("tool")?;
        if tool.is_empty() {
            return Err(Failure::Input("`tool` is required".into()));
        }
        let at =
            Timestamp::parse_rfc3339(text("at")?).map_err(|e| Failure::Input(e.to_string()))?;
        let empty = json!({});
        let args = input.get("args").unwrap_or(&empty);
        let mut call = Call::new(tool, args)
            .principal(text("principal")?)
            .session(text("session")?)
            .device(text("device")?);
        if let Some(risk) = input.get("risk").and_then(Value::as_str) {
            call.risk = Some(
                risk.parse::<RiskClass>()
                    .map_err(|_| Failure::Input(format!("unknown risk `{risk}`")))?,
            );
        }
        let failed = match text("outcome")? {
            "" | "ok" => false,
            "error" => true,
            other => {
                return Err(Failure::Input(format!(
                    "unknown outcome `{other}` (expected ok or error)"
                )));
            }
        };
        let mut decision = engine.decide(&call, at);
        self.record(&call, at, &decision, AuditKind::Decision, None)?;
        if let Some(reservation) = decision.reservation.take() {
            let settled = if failed {
                engine.rollback(reservation)
            } else {
                engine.commit(reservation)
            };
            settled.map_err(|e| Failure::Fatal(e.to_string()))?;
        }
        if decision.proceeds() {
            let outcome = if failed { "error" } else { "ok" };
            self.record(&call, at, &decision, AuditKind::Outcome, Some(outcome))?;
        }
        Ok(decision.to_json())
    }

    /// Appends an audit record, when there is a log.
    fn record(
        &self,
        call: &Call<'_>,
        at: Timestamp,
        decision: &Decision,
        kind: AuditKind,
        outcome: Option<&str>,
    ) -> Result<(), Failure> {
        let Some(log) = &self.audit else {
            return Ok(());
        };
        let named = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let event = AuditEvent {
            at,
            kind,
            tool: call.tool.to_owned(),
            args: call.args.clone(),
            principal: named(call.principal),
            session: named(call.session),
            device: named(call.device),
            verdict: decision.verdict.as_str().to_owned(),
            rule: decision.rule.clone(),
            message: Some(decision.message.clone()),
            policy_hash: Some(self.policy_hash.clone()),
            duration_ms: None,
            outcome: outcome.map(str::to_owned),
            error: None,
        };
        log.append(&event)
            .map(drop)
            .map_err(|e| Failure::Fatal(e.to_string()))
    }
}

/// The call an audit record stands for, as an input line, with the record's `seq` and
/// verdict; `None` for records that do not end a call.
fn replayed_call(line: &str) -> Result<Option<(Value, u64, String)>, Failure> {
    let record: Value = serde_json::from_str(line)
        .map_err(|e| Failure::Fatal(format!("the audit log has a line that is not JSON: {e}")))?;
    let field = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default();
    let seq = record.get("seq").and_then(Value::as_u64).ok_or_else(|| {
        Failure::Fatal("the audit log has a record without `seq`: is it an audit log?".into())
    })?;
    let was = field("verdict").to_owned();
    let outcome = match (field("kind"), was.as_str(), field("outcome")) {
        ("outcome", _, "error") => "error",
        ("outcome", _, _) | ("decision", "deny", _) => "ok",
        _ => return Ok(None),
    };
    let mut args = record.get("args").cloned().unwrap_or_else(|| json!({}));
    unredact(&mut args);
    let call = json!({
        "tool": field("tool"),
        "args": args,
        "principal": record.get("principal"),
        "session": record.get("session"),
        "device": record.get("device"),
        "at": field("at"),
        "outcome": outcome,
    });
    Ok(Some((call, seq, was)))
}

/// Replaces every redacted value by as many U+FFFD characters as it had.
fn unredact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("redacted") == Some(&Value::Bool(true)) {
                let n = map.get("chars").and_then(Value::as_u64).unwrap_or(0);
                let n = usize::try_from(n).unwrap_or(0).min(1 << 20);
                *value = Value::String("\u{FFFD}".repeat(n));
                return;
            }
            map.values_mut().for_each(unredact);
        }
        Value::Array(items) => items.iter_mut().for_each(unredact),
        _ => {}
    }
}

/// Why a line produced no decision.
enum Failure {
    /// The line is not a valid call: answered with `(invalid input)`.
    Input(String),
    /// The store or the audit log failed: the run stops.
    Fatal(String),
}
