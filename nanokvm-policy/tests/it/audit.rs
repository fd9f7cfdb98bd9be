//! The audit log: the chain across appends, reopening and rotation; verification
//! against edited, removed, inserted, reordered and cut records; the keyed head against
//! cut tails, an edited last record and forged or deleted heads, and its limits (a
//! lagging or replayed head); torn tails; redaction; key files; appends from several
//! threads.

use std::fs;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use nanokvm_policy::{
    AuditEvent, AuditKey, AuditKind, AuditLog, Error, GENESIS_PREV, Timestamp, VerifyReport,
    verify, verify_dir_chain,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const KEY: [u8; 32] = [42; 32];

fn tempdir() -> TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"))
}

fn open(path: &Path) -> AuditLog {
    AuditLog::open(path, AuditKey::from_bytes(KEY)).unwrap_or_else(|e| panic!("{e}"))
}

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        at: Timestamp::from_unix_millis(1_772_532_000_000 + i64::try_from(i).unwrap_or(0)),
        kind: if i.is_multiple_of(2) {
            AuditKind::Decision
        } else {
            AuditKind::Outcome
        },
        tool: "nanokvm_power".into(),
        args: json!({"action": "power", "n": i}),
        principal: Some("agent".into()),
        session: Some("s1".into()),
        device: Some("kvm1".into()),
        verdict: "allow".into(),
        rule: None,
        message: Some("allowed".into()),
        policy_hash: Some("ab".repeat(32)),
        duration_ms: (i % 2 == 1).then_some(12),
        outcome: (i % 2 == 1).then(|| "ok".to_owned()),
        error: None,
    }
}

fn append(log: &AuditLog, i: u64) -> u64 {
    log.append(&event(i)).unwrap_or_else(|e| panic!("{e}"))
}

/// A log at `dir/audit.jsonl` holding records 1..=n.
fn log_with(dir: &TempDir, n: u64) -> PathBuf {
    let path = dir.path().join("audit.jsonl");
    let log = open(&path);
    for i in 1..=n {
        assert_eq!(append(&log, i), i);
    }
    path
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    assert!(fs::write(path, text).is_ok());
}

fn record(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `(line, seq)` of the chain error, or a panic naming what came instead.
fn chain_break(result: Result<VerifyReport, Error>) -> (u64, Option<u64>, String) {
    match result {
        Err(Error::AuditChain {
            line, seq, problem, ..
        }) => (line, seq, problem),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[test]
fn records_chain_by_the_hash_of_the_previous_line() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let lines = lines(&path);
    assert_eq!(lines.len(), 3);
    let first = record(&lines[0]);
    assert_eq!(first["seq"], json!(1));
    assert_eq!(first["prev"], json!(GENESIS_PREV));
    assert_eq!(first["at"], json!("2026-03-03T10:00:00.001Z"));
    assert_eq!(first["kind"], json!("outcome"));
    assert_eq!(first["tool"], json!("nanokvm_power"));
    assert_eq!(first["args"], json!({"action": "power", "n": 1}));
    assert_eq!(first["outcome"], json!("ok"));
    assert_eq!(first["duration_ms"], json!(12));
    assert_eq!(record(&lines[1])["kind"], json!("decision"));
    for pair in lines.windows(2) {
        assert_eq!(record(&pair[1])["prev"], json!(sha256_hex(&pair[0])));
    }
    // The line starts with the chain fields.
    assert!(lines[2].starts_with(r#"{"seq":3,"prev":""#), "{}", lines[2]);
    let report = verify(&[path]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            report.records,
            report.first_seq,
            report.last_seq,
            report.files
        ),
        (3, 1, 3, 1)
    );
    assert_eq!(report.last_hash, sha256_hex(&lines[2]));
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempdir();
    let path = log_with(&dir, 2);
    let log = open(&path);
    assert_eq!((log.last_seq(), log.torn_tail()), (2, None));
    assert_eq!(log.last_hash(), sha256_hex(&lines(&path)[1]));
    assert_eq!(append(&log, 3), 3);
    drop(log);
    let log = open(&path);
    assert_eq!(append(&log, 4), 4);
    assert_eq!(verify_dir_chain(&path).map(|r| r.records).ok(), Some(4));
}

#[test]
fn verify_detects_every_kind_of_tampering() {
    let dir = tempdir();
    let original = lines(&log_with(&dir, 5));
    let path = dir.path().join("tampered.jsonl");
    let edited = {
        let mut l = original.clone();
        l[1] = l[1].replace(r#""verdict":"allow""#, r#""verdict":"deny""#);
        assert_ne!(l[1], original[1]);
        l
    };
    let removed = {
        let mut l = original.clone();
        l.remove(2);
        l
    };
    let removed_first = original[1..].to_vec();
    let inserted = {
        let mut l = original.clone();
        l.insert(3, original[2].clone());
        l
    };
    let reordered = {
        let mut l = original.clone();
        l.swap(1, 2);
        l
    };
    let cut_in_the_middle = {
        let mut l = original.clone();
        let half = l[2].len() / 2;
        l[2].truncate(half);
        l
    };
    // Every field of a record, including the redacted arguments, is covered.
    let args_edited = {
        let mut l = original.clone();
        let mut r = record(&l[0]);
        r["args"]["n"] = json!(99);
        l[0] = r.to_string();
        l
    };
    // (name, tampered lines, line and seq named, problem named)
    let cases = [
        (
            "edited",
            edited,
            3,
            Some(3),
            "`prev` is not the hash of record 2",
        ),
        (
            "removed",
            removed,
            3,
            Some(4),
            "expected seq 3 after 2, found 4",
        ),
        (
            "first removed",
            removed_first,
            1,
            Some(2),
            "starts at seq 2",
        ),
        (
            "inserted",
            inserted,
            4,
            Some(3),
            "expected seq 4 after 3, found 3",
        ),
        (
            "reordered",
            reordered,
            2,
            Some(3),
            "expected seq 2 after 1, found 3",
        ),
        ("cut", cut_in_the_middle, 3, None, "not a JSON record"),
        ("args edited", args_edited, 2, Some(2), "hash of record 1"),
    ];
    for (name, tampered, line, seq, problem) in cases {
        write_lines(&path, &tampered);
        let (found_line, found_seq, found) = chain_break(verify(std::slice::from_ref(&path)));
        assert_eq!((found_line, found_seq), (line, seq), "{name}: {found}");
        assert!(found.contains(problem), "{name}: {found}");
    }
    // The untouched log still verifies, and an error names the file.
    write_lines(&path, &original);
    assert!(verify(std::slice::from_ref(&path)).is_ok());
    let mut reordered = original;
    reordered.swap(3, 4);
    write_lines(&path, &reordered);
    let message = verify(std::slice::from_ref(&path))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("tampered.jsonl at line 4"), "{message}");
}

#[test]
fn a_torn_last_line_is_cut_off_on_open_and_reported() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let whole = fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let torn = br#"{"seq":4,"prev":"00","at":"2026-"#;
    let mut bytes = whole.clone();
    bytes.extend_from_slice(torn);
    assert!(fs::write(&path, &bytes).is_ok());
    let (line, _, problem) = chain_break(verify(std::slice::from_ref(&path)));
    assert_eq!(line, 4);
    assert!(problem.contains("no newline"), "{problem}");

    let log = open(&path);
    assert_eq!(log.torn_tail(), Some(torn.len() as u64));
    assert_eq!(fs::read(&path).ok(), Some(whole));
    assert_eq!(append(&log, 4), 4, "the torn record was never acknowledged");
    assert_eq!(verify_dir_chain(&path).map(|r| r.last_seq).ok(), Some(4));

    // A file holding nothing but a torn line becomes empty and starts the chain.
    let fresh = dir.path().join("fresh.jsonl");
    assert!(fs::write(&fresh, b"{\"seq\":1,").is_ok());
    let log = open(&fresh);
    assert_eq!((log.torn_tail(), log.last_seq()), (Some(9), 0));
}

#[test]
fn a_log_whose_last_record_is_garbage_is_refused() {
    let dir = tempdir();
    let path = log_with(&dir, 2);
    let mut l = lines(&path);
    l.push("not json".into());
    write_lines(&path, &l);
    let err = AuditLog::open(&path, AuditKey::from_bytes(KEY)).err();
    assert!(
        matches!(&err, Some(Error::Audit { operation: "open", message, .. }) if message.contains("cannot be continued")),
        "{err:?}"
    );
}

#[test]
fn rotation_keeps_the_chain_across_files() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let log = open(&path);
    let rotated = log.rotate().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rotated, dir.path().join("audit.jsonl.000000000001"));
    assert_eq!(lines(&rotated).len(), 3);
    assert_eq!(fs::read(&path).map(|b| b.len()).ok(), Some(0));
    // Nothing to rotate until a record is written.
    assert!(matches!(
        log.rotate(),
        Err(Error::Audit {
            operation: "rotate",
            ..
        })
    ));
    assert_eq!(append(&log, 4), 4);
    drop(log);
    let first_of_new = record(&lines(&path)[0]);
    assert_eq!(first_of_new["prev"], json!(sha256_hex(&lines(&rotated)[2])));

    // Reopening after a rotation, with an empty current file, resumes from the
    // rotated file.
    let log = open(&path);
    assert_eq!(append(&log, 5), 5);
    let second = log.rotate().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second, dir.path().join("audit.jsonl.000000000004"));
    drop(log);
    let log = open(&path);
    assert_eq!(log.last_seq(), 5);
    assert_eq!(append(&log, 6), 6);

    let report = verify_dir_chain(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            report.records,
            report.first_seq,
            report.last_seq,
            report.files
        ),
        (6, 1, 6, 3)
    );
    // The same files out of order, or one missing, break the chain.
    let (line, seq, _) = chain_break(verify(&[second.clone(), rotated.clone(), path.clone()]));
    assert_eq!((line, seq), (1, Some(4)));
    let (line, seq, problem) = chain_break(verify(&[rotated.clone(), path.clone()]));
    assert_eq!((line, seq), (1, Some(6)), "{problem}");
    // A rotated file renamed to hide a gap is caught by its name.
    let renamed = dir.path().join("audit.jsonl.000000000002");
    assert!(fs::rename(&second, &renamed).is_ok());
    let (_, seq, problem) = chain_break(verify(&[rotated, renamed, path]));
    assert_eq!(seq, Some(4));
    assert!(problem.contains("named for seq 2"), "{problem}");
}

#[test]
fn typed_text_and_secrets_never_reach_the_file_in_clear() {
    let dir = tempdir();
    let path = dir.path().join("audit.jsonl");
    let log = open(&path);
    let key = AuditKey::from_bytes(KEY);
    let typed = "correct horse battery staple";
    let cases = [
        ("nanokvm_send_text", json!({"text": typed})),
        ("nanokvm_type_text", json!({"text": typed, "layout": "us"})),
        ("nanokvm_paste", json!({"content": typed})),
        ("nanokvm_send_key", json!({"key": typed, "ctrl": true})),
        ("nanokvm_login", json!({"user": "admin", "password": typed})),
        (
            "gateway_tool",
            json!({"Token": typed, "secret": {"nested": typed}}),
        ),
    ];
    for (i, (tool, args)) in cases.iter().enumerate() {
        let mut e = event(i as u64);
        e.tool = (*tool).into();
        e.args = args.clone();
        assert!(log.append(&e).is_ok());
    }
    let bytes = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!bytes.contains("horse"), "{bytes}");
    let redacted =
        json!({"redacted": true, "chars": typed.chars().count(), "hmac": key.digest(typed)});
    let records: Vec<Value> = bytes.lines().map(record).collect();
    assert_eq!(records[0]["args"], json!({"text": redacted}));
    assert_eq!(
        records[1]["args"]["layout"]["chars"],
        json!(2),
        "every string of a typing tool is redacted"
    );
    assert_eq!(records[2]["args"]["content"], redacted);
    assert_eq!(records[3]["args"], json!({"key": redacted, "ctrl": true}));
    assert_eq!(
        records[4]["args"],
        json!({"user": "admin", "password": redacted})
    );
    assert_eq!(records[5]["args"]["Token"], redacted);
    assert_eq!(records[5]["args"]["secret"]["redacted"], json!(true));
    // The digest depends on the key.
    assert_ne!(
        AuditKey::from_bytes([1; 32]).digest(typed),
        key.digest(typed)
    );
    assert!(verify(&[path]).is_ok());
}

#[test]
fn key_files_are_created_once_private_and_reused() {
    let dir = tempdir();
    let path = dir.path().join("audit.key");
    let created = AuditKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
    let loaded = AuditKey::load_or_create(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created, loaded);
    assert_eq!(created.digest("x"), loaded.digest("x"));
    let text = fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(text.trim().len(), 64);
    assert_eq!(format!("{created:?}"), "AuditKey(..)");
    assert!(!format!("{created:?}").contains(text.trim()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .ok();
        assert_eq!(mode, Some(0o600));
    }
    let other = dir.path().join("other.key");
    let fresh = AuditKey::load_or_create(&other).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(fresh, created, "each new key is random");
    assert!(fs::write(&other, "not a key").is_ok());
    assert!(matches!(
        AuditKey::load_or_create(&other),
        Err(Error::Audit { .. })
    ));
}

#[test]
fn appends_from_many_threads_form_one_valid_chain() {
    const THREADS: u64 = 4;
    const EACH: u64 = 25;
    let dir = tempdir();
    let path = dir.path().join("audit.jsonl");
    let log = open(&path);
    let mut seqs: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let log = &log;
                scope.spawn(move || {
                    (0..EACH)
                        .map(|i| append(log, t * EACH + i))
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| panic!("a thread panicked")))
            .collect()
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=THREADS * EACH).collect::<Vec<_>>());
    let report = verify_dir_chain(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.records, THREADS * EACH);
}

#[test]
fn the_log_crosses_threads_and_hides_its_key() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<AuditLog>();
    send_sync::<AuditKey>();
    let dir = tempdir();
    let log = open(&dir.path().join("audit.jsonl"));
    let shown = format!("{log:?}");
    assert!(
        !shown.contains("2a2a2a2a") && !shown.contains("42, 42"),
        "{shown}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(log.path())
            .map(|m| m.permissions().mode() & 0o777)
            .ok();
        assert_eq!(mode, Some(0o600));
    }
}

#[test]
fn verify_dir_chain_needs_some_file() {
    let dir = tempdir();
    assert!(matches!(
        verify_dir_chain(dir.path().join("none.jsonl")),
        Err(Error::Audit {
            operation: "verify",
            ..
        })
    ));
}

fn head_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".head");
    PathBuf::from(name)
}

fn verify_keyed(path: &Path) -> Result<VerifyReport, Error> {
    AuditLog::verify_with_key(path, &AuditKey::from_bytes(KEY))
}

fn anchored(path: &Path) -> (u64, Option<u64>) {
    let report = verify_keyed(path).unwrap_or_else(|e| panic!("{e}"));
    (report.last_seq, report.anchored_seq)
}

/// `(seq, problem)` of the head's rejection, or a panic naming what came instead.
fn head_rejected(result: Result<impl std::fmt::Debug, Error>) -> (Option<u64>, String) {
    match result {
        Err(Error::AuditHead { seq, problem, .. }) => (seq, problem),
        other => panic!("expected the head to be rejected, got {other:?}"),
    }
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The MAC of a head as the module documentation defines it, computed here on its own.
fn documented_mac(key: [u8; 32], seq: u64, hash: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap_or_else(|e| panic!("{e}"));
    mac.update(b"\xff");
    mac.update(format!("nanokvm-audit-head/v1 {seq} {hash}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn the_head_names_the_last_record_under_the_key() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let head = head_of(&path);
    assert_eq!(head, dir.path().join("audit.jsonl.head"));
    let last = sha256_hex(&lines(&path)[2]);
    let expected = json!({"seq": 3, "hash": last, "mac": documented_mac(KEY, 3, &last)});
    let text = String::from_utf8(read(&head)).unwrap_or_default();
    assert_eq!(record(text.trim_end()), expected, "{text}");
    assert!(text.ends_with("}\n"), "{text}");
    assert_eq!(anchored(&path), (3, Some(3)));
    // The keyless functions vouch for no head.
    assert_eq!(
        verify_dir_chain(&path).ok().map(|r| r.anchored_seq),
        Some(None)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&head)
            .map(|m| m.permissions().mode() & 0o777)
            .ok();
        assert_eq!(mode, Some(0o600));
    }
    // Nothing is left aside, and the head is not taken for a rotated file.
    assert!(!dir.path().join("audit.jsonl.head.tmp").exists());
    assert_eq!(verify_dir_chain(&path).map(|r| r.files).ok(), Some(1));
}

#[test]
fn cutting_records_off_the_end_is_caught_only_with_the_key() {
    let dir = tempdir();
    let path = log_with(&dir, 5);
    let original = lines(&path);
    for keep in [4, 3, 1] {
        write_lines(&path, &original[..keep]);
        assert!(
            verify_dir_chain(&path).is_ok(),
            "the chain alone cannot tell"
        );
        let (seq, problem) = head_rejected(verify_keyed(&path));
        assert_eq!(seq, Some(5));
        assert!(
            problem.contains(&format!("records after seq {keep} were removed")),
            "{problem}"
        );
    }
    assert!(fs::write(&path, b"").is_ok());
    let (_, problem) = head_rejected(verify_keyed(&path));
    assert!(problem.contains("records after seq 0"), "{problem}");
    write_lines(&path, &original);
    assert_eq!(anchored(&path), (5, Some(5)));
}

#[test]
fn editing_the_last_record_is_caught_only_with_the_key() {
    let dir = tempdir();
    let path = log_with(&dir, 4);
    let original = lines(&path);
    let mut edited = original.clone();
    edited[3] = edited[3].replace(r#""verdict":"allow""#, r#""verdict":"deny""#);
    assert_ne!(edited, original);
    write_lines(&path, &edited);
    assert!(
        verify_dir_chain(&path).is_ok(),
        "the chain alone cannot tell"
    );
    let (seq, problem) = head_rejected(verify_keyed(&path));
    assert_eq!(seq, Some(4));
    assert!(
        problem.contains("record 4 does not hash to the head's `hash`"),
        "{problem}"
    );
    // An earlier edit breaks the chain, which is reported first, with its place.
    let mut earlier = original;
    earlier[1] = earlier[1].replace(r#""verdict":"allow""#, r#""verdict":"deny""#);
    write_lines(&path, &earlier);
    let (line, seq, _) = chain_break(verify_keyed(&path));
    assert_eq!((line, seq), (3, Some(3)));
}

#[test]
fn a_forged_altered_foreign_or_deleted_head_is_rejected() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let head = head_of(&path);
    let good = read(&head);
    let value = record(std::str::from_utf8(&good).unwrap_or_default().trim_end());
    let l = lines(&path);
    let forged_mac = {
        let mut v = value.clone();
        v["mac"] = json!("00".repeat(32));
        v
    };
    // Moving the head back to record 2, keeping the MAC of record 3.
    let moved = {
        let mut v = value.clone();
        v["seq"] = json!(2);
        v["hash"] = json!(sha256_hex(&l[1]));
        v
    };
    let uppercase_hash = {
        let mut v = value.clone();
        v["hash"] = json!(v["hash"].as_str().unwrap_or_default().to_uppercase());
        v
    };
    let other_key = {
        let mut v = value.clone();
        v["mac"] = json!(documented_mac([1; 32], 3, &sha256_hex(&l[2])));
        v
    };
    // The digest of a redacted argument is a MAC under the same key, but of text.
    let typed_digest = {
        let mut v = value;
        let text = format!("nanokvm-audit-head/v1 3 {}", sha256_hex(&l[2]));
        v["mac"] = json!(AuditKey::from_bytes(KEY).digest(&text));
        v
    };
    // (name, head file bytes, seq named, problem named)
    let cases = [
        (
            "forged mac",
            forged_mac.to_string(),
            Some(3),
            "not valid under this key",
        ),
        (
            "moved",
            moved.to_string(),
            Some(2),
            "not valid under this key",
        ),
        (
            "other key",
            other_key.to_string(),
            Some(3),
            "not valid under this key",
        ),
        (
            "typed digest",
            typed_digest.to_string(),
            Some(3),
            "not valid under this key",
        ),
        (
            "uppercase",
            uppercase_hash.to_string(),
            None,
            "lowercase hex",
        ),
        ("empty", String::new(), None, "not a head"),
        ("junk", "{\"seq\":3}".into(), None, "not a head"),
    ];
    for (name, bytes, seq, problem) in cases {
        assert!(fs::write(&head, bytes).is_ok());
        let (found_seq, found) = head_rejected(verify_keyed(&path));
        assert_eq!(found_seq, seq, "{name}: {found}");
        assert!(found.contains(problem), "{name}: {found}");
    }
    assert!(fs::remove_file(&head).is_ok());
    let (seq, problem) = head_rejected(verify_keyed(&path));
    assert_eq!(seq, None);
    assert!(problem.contains("missing"), "{problem}");
    // The right key is needed too.
    assert!(fs::write(&head, &good).is_ok());
    let (_, problem) = head_rejected(AuditLog::verify_with_key(
        &path,
        &AuditKey::from_bytes([1; 32]),
    ));
    assert!(problem.contains("not valid under this key"), "{problem}");
    assert_eq!(anchored(&path), (3, Some(3)));
}

#[test]
fn a_lagging_head_passes_and_a_replayed_one_is_the_residual_limit() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let head = head_of(&path);
    let older = read(&head);
    let log = open(&path);
    assert_eq!(append(&log, 4), 4);
    assert_eq!(append(&log, 5), 5);
    drop(log);
    // What a crash between a record's sync and its head's rename leaves behind.
    assert!(fs::write(&head, &older).is_ok());
    assert_eq!(anchored(&path), (5, Some(3)));
    // The records after the head are protected by the chain alone: cutting them off
    // back to the head's seq, with the older head put back, looks the same. Only a
    // verifier that remembers the anchored seq of its last run (5 here) can tell.
    let all = lines(&path);
    write_lines(&path, &all[..3]);
    assert_eq!(anchored(&path), (3, Some(3)));
    let mut last_edited = all.clone();
    last_edited[4] = last_edited[4].replace(r#""verdict":"allow""#, r#""verdict":"deny""#);
    write_lines(&path, &last_edited);
    assert_eq!(anchored(&path), (5, Some(3)));
    // The anchored record itself is still covered.
    let mut anchored_edited = all.clone();
    anchored_edited[2] = anchored_edited[2].replace(r#""verdict":"allow""#, r#""verdict":"deny""#);
    write_lines(&path, &anchored_edited[..3]);
    let (seq, problem) = head_rejected(verify_keyed(&path));
    assert_eq!(seq, Some(3));
    assert!(problem.contains("record 3 does not hash"), "{problem}");

    // Reopening with a lagging head is fine, and the next append catches it up.
    write_lines(&path, &all);
    let log = open(&path);
    assert_eq!(append(&log, 6), 6);
    drop(log);
    assert_eq!(anchored(&path), (6, Some(6)));
}

#[test]
fn rotation_keeps_the_head_on_the_chains_last_record() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let log = open(&path);
    assert!(log.rotate().is_ok());
    assert_eq!(anchored(&path), (3, Some(3)), "the current file is empty");
    assert_eq!(append(&log, 4), 4);
    assert!(log.rotate().is_ok());
    assert_eq!(append(&log, 5), 5);
    assert_eq!(append(&log, 6), 6);
    drop(log);
    let report = verify_keyed(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (report.records, report.files, report.anchored_seq),
        (6, 3, Some(6))
    );
    // Removing the current file, or cutting the last record of a rotated file while
    // the current one is empty, is caught.
    let current = read(&path);
    assert!(fs::remove_file(&path).is_ok());
    assert!(verify_dir_chain(&path).is_ok());
    let (_, problem) = head_rejected(verify_keyed(&path));
    assert!(
        problem.contains("records after seq 4 were removed"),
        "{problem}"
    );
    assert!(fs::write(&path, &current).is_ok());
    assert_eq!(anchored(&path), (6, Some(6)));

    let dir = tempdir();
    let path = log_with(&dir, 3);
    let rotated = open(&path).rotate().unwrap_or_else(|e| panic!("{e}"));
    write_lines(&rotated, &lines(&rotated)[..2]);
    let (_, problem) = head_rejected(verify_keyed(&path));
    assert!(
        problem.contains("records after seq 2 were removed"),
        "{problem}"
    );
}

#[test]
fn opening_checks_the_head_so_a_cut_log_is_not_continued() {
    let dir = tempdir();
    let path = log_with(&dir, 5);
    let original = lines(&path);
    let key = AuditKey::from_bytes(KEY);

    write_lines(&path, &original[..3]);
    let (seq, problem) = head_rejected(AuditLog::open(&path, key.clone()));
    assert_eq!(seq, Some(5));
    assert!(
        problem.contains("records after seq 3 were removed"),
        "{problem}"
    );

    let mut edited = original.clone();
    edited[4] = edited[4].replace(r#""verdict":"allow""#, r#""verdict":"deny""#);
    write_lines(&path, &edited);
    let (_, problem) = head_rejected(AuditLog::open(&path, key.clone()));
    assert!(problem.contains("record 5 does not hash"), "{problem}");

    write_lines(&path, &original);
    let (_, problem) = head_rejected(AuditLog::open(&path, AuditKey::from_bytes([1; 32])));
    assert!(problem.contains("not valid under this key"), "{problem}");

    assert_eq!(open(&path).last_seq(), 5, "the intact log opens");
}

#[test]
fn opening_looks_up_a_lagging_heads_record_in_a_rotated_file() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let head = head_of(&path);
    let older = read(&head);
    let log = open(&path);
    let rotated = log.rotate().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(append(&log, 4), 4);
    drop(log);
    assert!(fs::write(&head, &older).is_ok());
    assert_eq!(open(&path).last_seq(), 4);
    // The anchored record edited (and, say, the chain after it rewritten) is refused.
    let mut r = lines(&rotated);
    r[2] = r[2].replace(r#""verdict":"allow""#, r#""verdict":"deny""#);
    write_lines(&rotated, &r);
    let (seq, problem) = head_rejected(AuditLog::open(&path, AuditKey::from_bytes(KEY)));
    assert_eq!(seq, Some(3));
    assert!(problem.contains("record 3 does not hash"), "{problem}");
}

#[test]
fn logs_without_a_head_still_open_and_the_first_append_anchors_them() {
    let dir = tempdir();
    let path = log_with(&dir, 2);
    let head = head_of(&path);
    // A log written before heads existed, or whose head was deleted or left empty.
    for (damage, problem) in [
        (None, "missing"),
        (Some(&b""[..]), "not a head"),
        (Some(&b"{\"seq\":"[..]), "not a head"),
    ] {
        match damage {
            None => assert!(fs::remove_file(&head).is_ok()),
            Some(bytes) => assert!(fs::write(&head, bytes).is_ok()),
        }
        let (_, found) = head_rejected(verify_keyed(&path));
        assert!(found.contains(problem), "{found}");
        let log = open(&path);
        let before = log.last_seq();
        assert_eq!(append(&log, before + 1), before + 1);
        drop(log);
        assert_eq!(anchored(&path), (before + 1, Some(before + 1)));
    }

    // A new log is anchored at seq 0 at once, so deleting everything is caught.
    let fresh = dir.path().join("fresh.jsonl");
    drop(open(&fresh));
    assert_eq!(anchored(&fresh), (0, Some(0)));
    let log = open(&fresh);
    assert_eq!(append(&log, 1), 1);
    drop(log);
    assert!(fs::write(&fresh, b"").is_ok());
    assert!(fs::remove_file(head_of(&fresh)).is_ok());
    let (_, problem) = head_rejected(verify_keyed(&fresh));
    assert!(problem.contains("missing"), "{problem}");
}

#[test]
fn a_torn_tail_behind_the_head_is_repaired_and_still_anchored() {
    let dir = tempdir();
    let path = log_with(&dir, 3);
    let mut bytes = read(&path);
    bytes.extend_from_slice(br#"{"seq":4,"prev":"#);
    assert!(fs::write(&path, &bytes).is_ok());
    let log = open(&path);
    assert!(log.torn_tail().is_some());
    assert_eq!(anchored(&path), (3, Some(3)));
    assert_eq!(append(&log, 4), 4);
    assert_eq!(anchored(&path), (4, Some(4)));
}

#[test]
fn deferred_records_are_chained_and_anchored_at_the_next_sync() {
    let dir = tempdir();
    let path = dir.path().join("audit.jsonl");
    let key = AuditKey::from_bytes(KEY);
    let log = open(&path);
    append(&log, 1);
    for i in 2..=4 {
        let seq = log
            .append_deferred(&event(i))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seq, i);
    }
    // In the file and in the chain, but the head still names the last synced record.
    let report = AuditLog::verify_with_key(&path, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.last_seq, report.anchored_seq), (4, Some(1)));
    // The next durable append anchors everything before it.
    append(&log, 5);
    let report = AuditLog::verify_with_key(&path, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.last_seq, report.anchored_seq), (5, Some(5)));
    // Closing the log anchors what is left.
    log.append_deferred(&event(6))
        .unwrap_or_else(|e| panic!("{e}"));
    drop(log);
    let report = AuditLog::verify_with_key(&path, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.last_seq, report.anchored_seq), (6, Some(6)));
    // A reopened log carries on after the deferred records.
    let log = open(&path);
    assert_eq!(append(&log, 7), 7);
    log.sync().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_batched_log_chains_every_append_and_anchors_it_at_the_owners_sync() {
    let dir = tempdir();
    let path = dir.path().join("audit.jsonl");
    let key = AuditKey::from_bytes(KEY);
    let log = open(&path).batched();
    for i in 1..=3 {
        assert_eq!(append(&log, i), i);
    }
    // Every record is in the file and the chain; the head waits for a sync.
    let report = AuditLog::verify_with_key(&path, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.last_seq, report.anchored_seq), (3, Some(0)));
    log.sync().unwrap_or_else(|e| panic!("{e}"));
    let report = AuditLog::verify_with_key(&path, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.last_seq, report.anchored_seq), (3, Some(3)));
    // Closing the log anchors what came after the last sync.
    assert_eq!(append(&log, 4), 4);
    drop(log);
    let report = AuditLog::verify_with_key(&path, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((report.last_seq, report.anchored_seq), (4, Some(4)));
}
