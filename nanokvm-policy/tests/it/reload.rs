//! Hot reload: a valid edit is picked up, a broken edit or a deleted file keeps the
//! last good policy and says why, and counters survive every reload.

use std::fs;
use std::path::Path;

use nanokvm_policy::{Call, Engine, Error, MemoryStore, PolicyFile, Reload, Verdict};
use serde_json::json;

use crate::support::at;

const DENY_ALL: &str = r#"{"version": "1", "default": "deny"}"#;
const ALLOW_T: &str = r#"{"version": "1", "default": "deny", "tools": {"t": {"limits": [
    {"counter": "c", "window": "hour", "max": 1}]}}}"#;

fn write(path: &Path, text: &str) {
    assert!(
        fs::write(path, text).is_ok(),
        "cannot write {}",
        path.display()
    );
}

fn open(path: &Path) -> PolicyFile {
    PolicyFile::open(path).unwrap_or_else(|e| panic!("{e}"))
}

fn verdict(engine: &Engine, tool: &str) -> Verdict {
    let args = json!({});
    let mut d = engine.decide(
        &Call::new(tool, &args).principal("p"),
        at("2026-03-03T10:00:00Z"),
    );
    if let Some(r) = d.reservation.take() {
        assert!(engine.commit(r).is_ok());
    }
    d.verdict
}

#[test]
fn a_valid_edit_is_picked_up_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("policy.json");
    write(&path, DENY_ALL);
    let file = open(&path);
    let engine = Engine::new(MemoryStore::new());
    file.apply_to(&engine);
    assert_eq!(verdict(&engine, "t"), Verdict::Deny);
    assert!(matches!(file.check_and_apply(&engine), Reload::Unchanged));

    write(&path, ALLOW_T);
    let hash = match file.check_and_apply(&engine) {
        Reload::Reloaded { hash } => hash,
        other => panic!("expected a reload, got {other:?}"),
    };
    assert_eq!(hash, file.current().hash_hex());
    assert_eq!(
        engine.policy().map(|p| p.hash_hex()),
        Some(hash),
        "the engine decides by the new policy"
    );
    assert_eq!(verdict(&engine, "t"), Verdict::Allow);
    assert!(matches!(file.check(), Reload::Unchanged));

    // Only the layout changed: same policy, nothing to report.
    write(&path, &ALLOW_T.replace('\n', " "));
    assert!(matches!(file.check(), Reload::Unchanged));

    // The same policy again: the counter was kept across the reloads.
    write(&path, DENY_ALL);
    assert!(matches!(
        file.check_and_apply(&engine),
        Reload::Reloaded { .. }
    ));
    write(&path, ALLOW_T);
    assert!(matches!(
        file.check_and_apply(&engine),
        Reload::Reloaded { .. }
    ));
    assert_eq!(
        verdict(&engine, "t"),
        Verdict::Deny,
        "1 an hour, already used"
    );
}

#[test]
fn a_broken_edit_keeps_the_last_good_policy_and_names_the_mistake() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("policy.json");
    write(&path, ALLOW_T);
    let file = open(&path);
    let engine = Engine::with_policy(file.current().as_ref().clone(), MemoryStore::new());
    let good = file.current().hash_hex();

    let cases = [
        (
            ALLOW_T.replace(r#""window": "hour""#, r#""window": "fortnight""#),
            Some("/tools/t/limits/0/window"),
        ),
        (ALLOW_T.replace("limits", "limitz"), Some("/tools/t/limitz")),
        (ALLOW_T.replace('}', ""), None),
    ];
    for (text, pointer) in cases {
        write(&path, &text);
        match file.check_and_apply(&engine) {
            Reload::Rejected { error } => {
                assert_eq!(error.pointer(), pointer, "{error}");
                if pointer.is_none() {
                    assert!(matches!(error, Error::Syntax { .. }), "{error}");
                }
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(file.current().hash_hex(), good);
        assert_eq!(engine.policy().map(|p| p.hash_hex()), Some(good.clone()));
        assert_eq!(verdict(&engine, "other"), Verdict::Deny);
        // Reported once: the same broken bytes are not news.
        assert!(matches!(file.check(), Reload::Unchanged));
    }
    // Fixing the file back to the policy in force changes nothing.
    write(&path, ALLOW_T);
    assert!(matches!(file.check(), Reload::Unchanged));
}

#[test]
fn a_deleted_file_keeps_the_last_good_policy_and_reports_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("policy.yaml");
    write(&path, "version: '1'\ndefault: allow\n");
    let file = open(&path);
    let good = file.current().hash_hex();
    assert!(fs::remove_file(&path).is_ok());
    match file.check() {
        Reload::Rejected {
            error: Error::PolicyFile { path: p, .. },
        } => assert_eq!(p, path),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(matches!(file.check(), Reload::Unchanged));
    assert_eq!(file.current().hash_hex(), good);
    // It comes back as YAML with a change.
    write(&path, "version: '1'\ndefault: deny\n");
    assert!(matches!(file.check(), Reload::Reloaded { .. }));
    assert_ne!(file.current().hash_hex(), good);
}

#[test]
fn opening_needs_a_readable_valid_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("missing.json");
    assert!(matches!(
        PolicyFile::open(&missing),
        Err(Error::PolicyFile { .. })
    ));
    let yml = dir.path().join("policy.YML");
    write(&yml, "version: '1'\ndefault: sometimes\n");
    assert_eq!(
        PolicyFile::open(&yml)
            .err()
            .as_ref()
            .and_then(Error::pointer),
        Some("/default")
    );
    let json = dir.path().join("policy.txt");
    write(&json, "version: '1'\ndefault: deny\n");
    assert!(
        matches!(
            PolicyFile::open(&json),
            Err(Error::Syntax { format: "JSON", .. })
        ),
        "anything but .yaml/.yml is JSON"
    );
}
