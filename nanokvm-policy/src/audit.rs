//! The audit log: one JSON line per decision and per executed call, chained by SHA-256
//! so that an edited, removed, inserted or reordered record is detected, and anchored by
//! a keyed head so that records cut off the end, or an edited last record, are detected
//! by whoever holds the key.
//!
//! Every record starts with `seq` (1, 2, 3, ... without gaps, across rotations) and
//! `prev`, the lowercase hex SHA-256 of the previous record's exact line bytes without
//! its newline (64 zeros before the first record), followed by the fields of the
//! [`AuditEvent`]. [`AuditLog::append`] writes the line and syncs the file before it
//! returns, so an acknowledged record survives a crash. [`AuditLog::append_deferred`]
//! (the gate uses it for allowed calls that only read) writes the line without a sync
//! of its own and leaves the head where it is; the next [`AuditLog::append`],
//! [`AuditLog::sync`] or closing the log syncs it and moves the head, so a machine crash
//! can lose such records only as head lag. A crash in the middle of a write
//! leaves at most one torn line without its newline; [`AuditLog::open`] cuts it off and
//! says so ([`AuditLog::torn_tail`]).
//!
//! Argument values that may hold typed secrets are never written in clear. For the
//! tools the catalogue marks as typing ([`ToolInfo::types`]: `nanokvm_send_text`,
//! `nanokvm_type_text`, `nanokvm_send_key`) every string in the arguments, and for every
//! tool any argument
//! named `text`, `content`, `password`, `secret` or `token` (at any depth, in any letter case), is
//! replaced by `{"redacted": true, "chars": N, "hmac": "<hex>"}`: its length in
//! characters and its HMAC-SHA256 under the log's [`AuditKey`]. Whoever holds the key
//! can check whether a given text was typed ([`AuditKey::digest`]); nobody can read it
//! back.
//!
//! [`AuditLog::rotate`] renames the current file to `<name>.<first seq, 12 digits>` and
//! continues the chain in a fresh file; [`verify`] checks files in chain order and
//! [`verify_dir_chain`] finds the rotated files itself.
//!
//! One process writes a log at a time; two writers on one file would fork the chain.
//! Rotate with [`AuditLog::rotate`], not with an outside tool: an open log keeps writing
//! to the file it opened, whatever its name has become.
//!
//! # The keyed head
//!
//! A chain by itself cannot show that records were cut off its end, or that its very last
//! record was edited, since nothing follows them. So after each append, once the record's
//! line is synced, the log replaces a sidecar file `<log>.head` (`audit.jsonl.head`) with
//! one JSON object, `{"seq": N, "hash": "<hex>", "mac": "<hex>"}`: the seq of the record
//! just written, the lowercase hex SHA-256 of its line (without the newline), and the
//! lowercase hex HMAC-SHA256 under the log's [`AuditKey`] of these bytes:
//!
//! ```text
//! 0xFF "nanokvm-audit-head/v1 " <seq in decimal> " " <hash in lowercase hex>
//! ```
//!
//! The leading byte `0xFF` starts no UTF-8 text. Redacted arguments are MACed under the
//! same key, but always as text, so no digest found in the log can pass for a head's MAC.
//!
//! The head is written to `<log>.head.tmp` and renamed over the old one, so it is always
//! one whole head, old or new. It is not synced: the record is synced before its head is
//! written, so after a crash the head on disk can lag the log but never lead it. Rotation
//! leaves the head alone; it names the chain's last record, whichever file holds it.
//! Opening a log that holds no record anywhere writes a head for seq 0, whose hash is
//! [`GENESIS_PREV`]: it vouches for the empty chain.
//!
//! [`AuditLog::verify_with_key`] checks the whole chain as [`verify_dir_chain`] does, then
//! the head: its MAC is valid under the key, the chain reaches its seq, and the record
//! with that seq hashes to its `hash`. Someone who can write the log's files but does not
//! hold the key can then not, unseen:
//!
//! - cut records off the end: the chain stops short of the head's seq, which is reported
//!   as "records after seq X were removed";
//! - edit the last record, or any record up to the head's seq: the hash at the head's seq
//!   differs, or the chain breaks;
//! - forge, alter or delete the head: its MAC fails, or it is missing.
//!
//! [`AuditLog::open`] checks the head as well, so that a reopened writer does not go on
//! from (and anchor afresh) a log that was cut or edited: it refuses a head whose MAC
//! fails (another key, or a forgery) and a valid head the log contradicts. A missing or
//! unreadable head is only warned about through `tracing`, because logs written before
//! heads existed have none, and a power cut on a file system that can persist a rename
//! before the renamed file's data may leave the head empty. The next append writes a
//! new head that anchors the log as it then is, so verify a log found without its head
//! with the key before reopening it.
//!
//! What the head does not cover:
//!
//! - Records after the head's seq are protected by the chain alone. A head that lags the
//!   log is accepted, because a crash between a record's sync and its head's rename
//!   leaves exactly that (and a power cut may leave the unsynced head several records
//!   behind). Those records can be cut off, and the last of them edited, unseen.
//!   [`VerifyReport::anchored_seq`] tells where the anchor stands.
//! - Replay: an older head is as valid as the newest. Whoever kept a copy of an older head
//!   can cut the log back to that head's seq and put the copy back, and the log then looks
//!   like one whose head lags. A verifier that remembers the `anchored_seq` of its last
//!   run and refuses one that went down, or a copy of the head kept elsewhere, closes
//!   this.
//! - Whoever holds the key can write any head. The head guards the log against those who
//!   can write its directory but cannot read the key, so keep the key from them.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

#[cfg(doc)]
use crate::catalogue::ToolInfo;
use crate::error::Error;
use crate::hex::{HEX_DIGITS, lowercase_hex, parse_hex32, push_hex, sha256_hex};
use crate::time::Timestamp;

/// `prev` of the first record ever: 64 zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Argument names redacted for every tool (compared without letter case). `content` is
/// what paste tools of other MCP servers call their text, for the gateway.
const SECRET_NAMES: [&str; 5] = ["text", "content", "password", "secret", "token"];

/// `n` in decimal, written into the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        // `n % 10` is a single digit, so the cast keeps it whole.
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[start..];
        }
    }
}

fn audit_error(operation: &'static str, path: &Path, e: impl fmt::Display) -> Error {
    Error::Audit {
        operation,
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// The secret that keys the digests of redacted arguments: 32 bytes.
///
/// Keep it apart from the log (and out of backups of the log) so that a reader of the
/// log cannot test guesses of typed text. `Debug` shows no key material.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey([u8; 32]);

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    /// A key from its bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new random key from the operating system's generator.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the system has no randomness to give.
    pub fn generate() -> Result<Self, Error> {
        use rand::TryRngCore;
        let mut bytes = [0; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| audit_error("generate a key", Path::new("(system random)"), e))?;
        Ok(Self(bytes))
    }

    /// Reads the key kept at `path` (64 hex digits), or creates it there with a new
    /// random key when the file does not exist. A new file is readable by its owner only
    /// (mode 0600 on Unix), and appears whole: it is written aside and then linked into
    /// place, so two processes starting at once end up with the same key.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the file cannot be read or written, or does not hold a key.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        match fs::read(path) {
            Ok(bytes) => return Self::parse(&bytes, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(audit_error("read the key", path, e)),
        }
        let key = Self::generate()?;
        let mut aside = path.as_os_str().to_owned();
        aside.push(format!(".new-{}", std::process::id()));
        let aside = PathBuf::from(aside);
        let written = (|| {
            let mut file = create_private(&aside)?;
            file.write_all(format!("{}\n", lowercase_hex(&key.0)).as_bytes())?;
            file.sync_all()?;
            fs::hard_link(&aside, path)
        })();
        let _ = fs::remove_file(&aside);
        match written {
            Ok(()) => {
                sync_parent(path).map_err(|e| audit_error("create the key", path, e))?;
                Ok(key)
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let bytes = fs::read(path).map_err(|e| audit_error("read the key", path, e))?;
                Self::parse(&bytes, path)
            }
            Err(e) => Err(audit_error("create the key", path, e)),
        }
    }

    fn parse(bytes: &[u8], path: &Path) -> Result<Self, Error> {
        let invalid = || {
            audit_error(
                "read the key",
                path,
                "the file does not hold a key (64 hex digits)",
            )
        };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid())?.trim();
        parse_hex32(text).map(Self).ok_or_else(invalid)
    }

    /// An HMAC-SHA256 state keyed with this key, ready to be cloned and fed.
    fn keyed(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
    }

    /// The hex HMAC-SHA256 of `text` under this key: the `hmac` of a redacted argument
    /// that held `text`.
    #[must_use]
    pub fn digest(&self, text: &str) -> String {
        let mut mac = self.keyed();
        mac.update(text.as_bytes());
        lowercase_hex(&mac.finalize().into_bytes())
    }

    fn redacted(&self, text: &str) -> Value {
        let mut object = Map::new();
        object.insert("redacted".into(), Value::Bool(true));
        object.insert("chars".into(), Value::from(text.chars().count()));
        object.insert("hmac".into(), Value::String(self.digest(text)));
        Value::Object(object)
    }
}

/// Which moment of a call a record describes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditKind {
    /// Written after deciding, before executing.
    #[default]
    Decision,
    /// Written after the call ran (or was refused for good).
    Outcome,
}

/// One thing to record; the log adds `seq` and `prev` and redacts the arguments.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct AuditEvent {
    /// When it happened; written as RFC 3339 UTC with milliseconds.
    pub at: Timestamp,
    /// Decision or outcome.
    pub kind: AuditKind,
    /// The action: the MCP tool name.
    pub tool: String,
    /// The call's arguments, as given; redacted on writing.
    pub args: Value,
    /// The client credential.
    pub principal: Option<String>,
    /// The connected client.
    pub session: Option<String>,
    /// The device acted on.
    pub device: Option<String>,
    /// `allow`, `deny`, `approval_required` or `shadow_deny`.
    pub verdict: String,
    /// The deciding rule (JSON Pointer or special id).
    pub rule: Option<String>,
    /// The decision's message.
    pub message: Option<String>,
    /// [`Policy::hash_hex`](crate::Policy::hash_hex) of the policy that decided.
    pub policy_hash: Option<String>,
    /// How long the call ran, for outcomes.
    pub duration_ms: Option<u64>,
    /// `ok`, `error`, `denied`, `approval_denied`, ...
    pub outcome: Option<String>,
    /// What went wrong, for failed calls.
    pub error: Option<String>,
}

/// A record as written: the chain fields, then the event's.
#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    prev: &'a str,
    at: String,
    kind: AuditKind,
    tool: &'a str,
    args: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    verdict: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_hash: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// The arguments of `tool` as they may be written: see the module documentation.
fn redact(tool: &str, args: &Value, key: &AuditKey) -> Value {
    redact_value(args, crate::catalogue::types(tool), key)
}

fn redact_value(value: &Value, typing: bool, key: &AuditKey) -> Value {
    match value {
        Value::String(s) if typing => key.redacted(s),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| redact_value(v, typing, key)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, v)| {
                    let secret = SECRET_NAMES.iter().any(|s| name.eq_ignore_ascii_case(s));
                    let v = match v {
                        Value::String(s) if secret => key.redacted(s),
                        // A secret that is not a string is redacted as its JSON text.
                        _ if secret => key.redacted(&v.to_string()),
                        _ => redact_value(v, typing, key),
                    };
                    (name.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Creates a new file readable and writable by its owner only.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Opens the log for appending (and reading back its tail), creating it readable by
/// its owner only.
fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Makes a file's creation or renaming durable, by syncing its directory (Unix only;
/// elsewhere the file system does not offer it).
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The offset just after the last `\n` strictly before `end`, or 0.
fn line_start_before(file: &mut File, end: u64) -> io::Result<u64> {
    const CHUNK: u64 = 8192;
    let mut pos = end;
    let mut buf = vec![0; CHUNK as usize];
    while pos > 0 {
        let from = pos.saturating_sub(CHUNK);
        let n = usize::try_from(pos - from).unwrap_or(0);
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(from + i as u64 + 1);
        }
        pos = from;
    }
    Ok(0)
}

/// The offset of the first `\n` before `end` (there is one: the file ends with it).
fn first_newline(file: &mut File, end: u64) -> io::Result<u64> {
    const CHUNK: u64 = 8192;
    let mut buf = vec![0; CHUNK as usize];
    let mut from = 0;
    while from < end {
        let n = usize::try_from(CHUNK.min(end - from)).unwrap_or(0);
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
            return Ok(from + i as u64);
        }
        from += n as u64;
    }
    Ok(end.saturating_sub(1))
}

fn read_range(file: &mut File, from: u64, to: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; usize::try_from(to.saturating_sub(from)).unwrap_or(0)];
    file.seek(SeekFrom::Start(from))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// `seq` of a record line, which must be a JSON object with `seq` and `prev`.
fn record_seq(line: &[u8]) -> Result<u64, String> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| format!("the record is not JSON: {e}"))?;
    let seq = value
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("the record has no numeric `seq`")?;
    if value.get("prev").and_then(Value::as_str).is_none() {
        return Err("the record has no `prev`".into());
    }
    Ok(seq)
}

/// The rotated siblings of `path` (`<name>.<digits>`), ordered by their first seq.
fn rotated_files(path: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!("{name}.");
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(digits) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix.as_str()))
        else {
            continue;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(first) = digits.parse::<u64>() {
            found.push((first, dir.join(&file_name)));
        }
    }
    found.sort();
    Ok(found)
}

/// The path a file starting at `first_seq` is rotated to.
fn rotated_path(path: &Path, first_seq: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{first_seq:012}"));
    PathBuf::from(name)
}

/// What a head's MAC covers starts with these bytes, and goes on with the seq in decimal,
/// a space and the hash. No UTF-8 text starts with `0xFF`, so no redacted argument's
/// digest (a MAC of text under the same key) can ever equal a head's MAC.
const HEAD_DOMAIN: &[u8] = b"\xffnanokvm-audit-head/v1 ";

/// `path` with `suffix` added to its file name.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The problem with a well-formed head whose MAC fails.
const FORGED: &str =
    "its MAC is not valid under this key: it was forged or altered, or made with another key";

/// A head as read from its file, before its MAC is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    seq: u64,
    hash: String,
    mac: String,
}

/// What reading a head found.
enum HeadState {
    /// There is no head file.
    Missing,
    /// The file does not hold a head; why.
    Unreadable(String),
    /// A well-formed head for this seq whose MAC fails under the key.
    Forged(u64),
    /// A head whose MAC holds.
    Valid(Head),
}

/// The log's keyed head: its file, the file it is written aside to, and the keyed MAC.
struct Anchor {
    path: PathBuf,
    aside: PathBuf,
    mac: Hmac<Sha256>,
}

impl Anchor {
    fn new(log: &Path, key: &AuditKey) -> Self {
        Self {
            path: sidecar(log, ".head"),
            aside: sidecar(log, ".head.tmp"),
            mac: key.keyed(),
        }
    }

    /// The MAC of the head naming record `seq`, whose line hashes to `hash`.
    fn mac_of(&self, seq: u64, hash: &str) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(HEAD_DOMAIN);
        mac.update(decimal(seq, &mut [0; 20]));
        mac.update(b" ");
        mac.update(hash.as_bytes());
        mac
    }

    /// Replaces the head with one naming record `seq`, using `buf` for the bytes. The
    /// head is written aside and renamed into place, so it is always whole; it is not
    /// synced, since the record it names already is (see the module documentation).
    fn write(&self, buf: &mut Vec<u8>, seq: u64, hash: &str) -> io::Result<()> {
        let mac = self.mac_of(seq, hash).finalize().into_bytes();
        buf.clear();
        buf.extend_from_slice(br#"{"seq":"#);
        buf.extend_from_slice(decimal(seq, &mut [0; 20]));
        buf.extend_from_slice(br#","hash":""#);
        buf.extend_from_slice(hash.as_bytes());
        buf.extend_from_slice(br#"","mac":""#);
        push_hex(buf, &mac);
        buf.extend_from_slice(b"\"}\n");
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(&self.aside)?.write_all(buf)?;
        fs::rename(&self.aside, &self.path)
    }

    /// Reads the head and checks its MAC.
    fn read(&self) -> io::Result<HeadState> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HeadState::Missing),
            Err(e) => return Err(e),
        };
        let head: Head = match serde_json::from_slice(&bytes) {
            Ok(head) => head,
            Err(e) => return Ok(HeadState::Unreadable(format!("it is not a head: {e}"))),
        };
        // The MAC covers the hash as written, so only the canonical form is accepted.
        let canonical = |h: &str| h.len() == 64 && h.bytes().all(|b| HEX_DIGITS.contains(&b));
        if !canonical(&head.hash) {
            return Ok(HeadState::Unreadable(
                "its `hash` is not 64 lowercase hex digits".into(),
            ));
        }
        let Some(mac) = parse_hex32(&head.mac) else {
            return Ok(HeadState::Unreadable(
                "its `mac` is not 64 hex digits".into(),
            ));
        };
        // `verify_slice` compares in constant time.
        Ok(match self.mac_of(head.seq, &head.hash).verify_slice(&mac) {
            Ok(()) => HeadState::Valid(head),
            Err(_) => HeadState::Forged(head.seq),
        })
    }

    fn rejected(&self, seq: Option<u64>, problem: impl Into<String>) -> Error {
        Error::AuditHead {
            head: self.path.clone(),
            seq,
            problem: problem.into(),
        }
    }

    /// The head, if `state` is a valid one, or what is wrong with it.
    fn require_valid(&self, state: HeadState) -> Result<Head, Error> {
        match state {
            HeadState::Valid(head) => Ok(head),
            HeadState::Missing => Err(self.rejected(
                None,
                "the head is missing: it was deleted, or the log was last written without one",
            )),
            HeadState::Unreadable(why) => Err(self.rejected(None, why)),
            HeadState::Forged(seq) => Err(self.rejected(Some(seq), FORGED)),
        }
    }
}

/// What is wrong when a chain whose last record is `last_seq` does not hold what a valid
/// `head` vouches for, or `None`. `found` is the hash of the chain's record with the
/// head's seq, if it has one.
fn contradiction(head: &Head, last_seq: u64, found: Option<&str>) -> Option<String> {
    if head.seq > last_seq {
        return Some(format!(
            "records after seq {last_seq} were removed: the head vouches for seq {}",
            head.seq
        ));
    }
    // The empty chain's "last record" is the genesis.
    let found = if head.seq == 0 {
        Some(GENESIS_PREV)
    } else {
        found
    };
    match found {
        Some(hash) if hash == head.hash => None,
        Some(_) => Some(format!(
            "record {} does not hash to the head's `hash`: it was edited or replaced",
            head.seq
        )),
        None => Some(format!(
            "record {}, which the head vouches for, is missing or unreadable",
            head.seq
        )),
    }
}

/// The hash of the record with `seq` in the chain whose current file is `path`, found by
/// the files' first seqs; `None` when no file holds a readable record with that seq.
fn record_hash_at(path: &Path, seq: u64) -> io::Result<Option<String>> {
    for file in chain_files(path)?.iter().rev() {
        let bytes = fs::read(file)?;
        let Some(Ok(first)) = bytes.split(|&b| b == b'\n').next().map(record_seq) else {
            continue;
        };
        if first > seq {
            continue;
        }
        let Some(line) = usize::try_from(seq - first)
            .ok()
            .and_then(|i| bytes.split(|&b| b == b'\n').nth(i))
        else {
            return Ok(None);
        };
        return Ok((record_seq(line) == Ok(seq)).then(|| sha256_hex(line)));
    }
    Ok(None)
}

/// The files of the chain whose current file is `path`, oldest first: its rotated
/// siblings, then the current file when it exists.
fn chain_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = rotated_files(path)?.into_iter().map(|(_, p)| p).collect();
    if path.exists() {
        paths.push(path.to_owned());
    }
    Ok(paths)
}

/// The write side of the log, behind the mutex.
#[derive(Debug)]
struct Writer {
    file: File,
    /// Bytes in the current file, all whole records.
    len: u64,
    /// The last record's seq (0 before the first).
    seq: u64,
    /// The last record's hash (`GENESIS_PREV` before the first).
    prev: String,
    /// The seq of the current file's first record, if it has one.
    file_first_seq: Option<u64>,
    /// Why the log can no longer be written safely, after a failed write that could not
    /// be undone.
    broken: Option<String>,
    /// The bytes of the head, kept between appends so that writing one allocates nothing.
    head_buf: Vec<u8>,
    /// Records written by [`AuditLog::append_deferred`] since the last sync: the file
    /// holds them, the disk may not yet, and the head does not name them.
    deferred: bool,
}

impl Drop for AuditLog {
    /// Syncs what [`AuditLog::append_deferred`] left, so that a log closed in order
    /// ends with its head on its last record.
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::warn!(error = %e, "the audit log could not be synced when closed");
        }
    }
}

/// An append-only, hash-chained audit log in one file (plus its rotated predecessors),
/// anchored by a keyed head in `<file>.head`.
///
/// `Send + Sync`: appends from several threads are serialised, and each one is on disk
/// before it returns, its head written after it.
///
/// # Example
///
/// ```
/// use nanokvm_policy::{AuditEvent, AuditKey, AuditKind, AuditLog, Timestamp, verify_dir_chain};
/// use serde_json::json;
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// let key = AuditKey::from_bytes([7; 32]);
/// let log = AuditLog::open(&path, key.clone())?;
/// let seq = log.append(&AuditEvent {
///     at: Timestamp::parse_rfc3339("2026-03-03T10:15:00Z")?,
///     kind: AuditKind::Decision,
///     tool: "nanokvm_send_text".into(),
///     args: json!({"text": "hunter2"}),
///     principal: Some("agent".into()),
///     verdict: "allow".into(),
///     ..AuditEvent::default()
/// })?;
/// assert_eq!(seq, 1);
/// assert!(!std::fs::read_to_string(&path)?.contains("hunter2"));
/// assert_eq!(verify_dir_chain(&path)?.records, 1);
/// // With the key, the head `audit.jsonl.head` vouches for record 1 too.
/// assert_eq!(AuditLog::verify_with_key(&path, &key)?.anchored_seq, Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AuditLog {
    path: PathBuf,
    key: AuditKey,
    anchor: Anchor,
    torn_tail: Option<u64>,
    writer: Mutex<Writer>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("torn_tail", &self.torn_tail)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens the log at `path` for appending, creating it (mode 0600 on Unix) when
    /// missing, and resumes the chain from its last record, or from the last record of
    /// its newest rotated file when the current file is empty or missing.
    ///
    /// A last line without its newline (a write torn by a crash, never acknowledged) is
    /// cut off; [`AuditLog::torn_tail`] tells how many bytes went.
    ///
    /// The keyed head `<path>.head` is checked against the chain, so that a log cut short
    /// or edited is not continued (which would anchor it afresh). A head that lags the
    /// chain is fine. A missing or unreadable head is warned about (through `tracing`)
    /// and left for the next append to replace; a log that holds no record at all gets a
    /// head for seq 0 at once. See the module documentation.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when a file cannot be opened, read, repaired or written, or the
    /// last record is not a record, so the chain cannot be continued.
    /// [`Error::AuditHead`] when the head's MAC fails under `key` (another key, or a
    /// forged head), or the chain lacks or contradicts the record the head vouches for.
    pub fn open(path: impl AsRef<Path>, key: AuditKey) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let fail = |e: io::Error| audit_error("open", &path, e);
        let mut file = open_append(&path).map_err(fail)?;
        sync_parent(&path).map_err(fail)?;
        let mut len = file.metadata().map_err(fail)?.len();
        let mut torn_tail = None;
        if len > 0 && read_range(&mut file, len - 1, len).map_err(fail)? != b"\n" {
            let keep = line_start_before(&mut file, len).map_err(fail)?;
            file.set_len(keep).map_err(fail)?;
            file.sync_data().map_err(fail)?;
            torn_tail = Some(len - keep);
            len = keep;
        }
        let (seq, prev, file_first_seq) = if len > 0 {
            let start = line_start_before(&mut file, len - 1).map_err(fail)?;
            let last = read_range(&mut file, start, len - 1).map_err(fail)?;
            let seq = record_seq(&last).map_err(|m| {
                audit_error(
                    "open",
                    &path,
                    format!("the last record cannot be continued: {m}"),
                )
            })?;
            let first_end = if start == 0 {
                len - 1
            } else {
                first_newline(&mut file, len).map_err(fail)?
            };
            let first = read_range(&mut file, 0, first_end).map_err(fail)?;
            let first_seq = record_seq(&first).map_err(|m| {
                audit_error(
                    "open",
                    &path,
                    format!("the first record is unreadable: {m}"),
                )
            })?;
            (seq, sha256_hex(&last), Some(first_seq))
        } else {
            let (seq, prev) = Self::resume_from_rotated(&path)?;
            (seq, prev, None)
        };
        let anchor = Anchor::new(&path, &key);
        let mut head_buf = Vec::with_capacity(160);
        Self::check_head(&path, &anchor, seq, &prev, &mut head_buf)?;
        Ok(Self {
            key,
            anchor,
            torn_tail,
            writer: Mutex::new(Writer {
                file,
                len,
                seq,
                prev,
                file_first_seq,
                broken: None,
                head_buf,
                deferred: false,
            }),
            path,
        })
    }

    /// Checks the head against a chain that ends at record `seq` with hash `prev`, as
    /// [`AuditLog::open`] describes; writes the seq-0 head of an empty chain.
    fn check_head(
        path: &Path,
        anchor: &Anchor,
        seq: u64,
        prev: &str,
        head_buf: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let state = anchor
            .read()
            .map_err(|e| audit_error("open", &anchor.path, e))?;
        let why = match state {
            HeadState::Valid(head) => {
                let found = if head.seq == seq {
                    Some(prev.to_owned())
                } else if head.seq < seq {
                    // Only after a crash, so reading the record back is rare.
                    record_hash_at(path, head.seq).map_err(|e| audit_error("open", path, e))?
                } else {
                    None
                };
                return match contradiction(&head, seq, found.as_deref()) {
                    None => Ok(()),
                    Some(problem) => Err(anchor.rejected(Some(head.seq), problem)),
                };
            }
            HeadState::Forged(s) => return Err(anchor.rejected(Some(s), FORGED)),
            HeadState::Missing => None,
            HeadState::Unreadable(why) => Some(why),
        };
        if seq == 0 {
            anchor
                .write(head_buf, 0, GENESIS_PREV)
                .map_err(|e| audit_error("open", &anchor.path, e))?;
        }
        if seq > 0 || why.is_some() {
            tracing::warn!(
                log = %path.display(),
                head = %anchor.path.display(),
                problem = why.as_deref().unwrap_or("it is missing"),
                "the audit log's head is missing or unreadable; the next append writes a new \
                 one, which anchors the log as it is now"
            );
        }
        Ok(())
    }

    /// The chain state at the end of the newest rotated file, or the genesis.
    fn resume_from_rotated(path: &Path) -> Result<(u64, String), Error> {
        let rotated = rotated_files(path).map_err(|e| audit_error("open", path, e))?;
        let Some((_, newest)) = rotated.last() else {
            return Ok((0, GENESIS_PREV.to_owned()));
        };
        let fail = |e: io::Error| audit_error("open", newest, e);
        let mut file = File::open(newest).map_err(fail)?;
        let len = file.metadata().map_err(fail)?.len();
        if len == 0 || read_range(&mut file, len - 1, len).map_err(fail)? != b"\n" {
            return Err(audit_error(
                "open",
                newest,
                "the newest rotated file does not end with a whole record",
            ));
        }
        let start = line_start_before(&mut file, len - 1).map_err(fail)?;
        let last = read_range(&mut file, start, len - 1).map_err(fail)?;
        let seq = record_seq(&last).map_err(|m| audit_error("open", newest, m))?;
        Ok((seq, sha256_hex(&last)))
    }

    /// The current file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many bytes of a torn last line [`AuditLog::open`] cut off, if it found one.
    #[must_use]
    pub fn torn_tail(&self) -> Option<u64> {
        self.torn_tail
    }

    /// The seq of the last record written (0 when there is none yet).
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.lock().seq
    }

    /// The hex SHA-256 of the last record written, which the next one's `prev` will be.
    #[must_use]
    pub fn last_hash(&self) -> String {
        self.lock().prev.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // The writer's fields change only after a record is safely on disk, so a
        // poisoned lock still guards a consistent state.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `event` as the next record, redacting its arguments, syncs the file, and
    /// then replaces the keyed head with one naming the new record, before returning the
    /// record's seq.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the record cannot be written and synced. A partly written
    /// record is cut off again; if even that fails, every later append fails too, until
    /// the log is reopened (which repairs the tail). Also [`Error::Audit`] when the
    /// record is written but its head cannot be: the record stays in the chain (the next
    /// append carries on after it), but until a later head is written it is protected by
    /// the chain alone.
    pub fn append(&self, event: &AuditEvent) -> Result<u64, Error> {
        self.write_record(event, true)
    }

    /// Appends `event` like [`AuditLog::append`], but leaves syncing the file and moving
    /// the head to the next [`AuditLog::append`] (or [`AuditLog::sync`], or dropping the
    /// log): for records of calls that only read, where a sync per record would cost
    /// more than the call. The record is in the file when this returns; a crash of the
    /// machine (not of the process) before the next sync can lose it, which the head,
    /// naming only synced records, shows as lag, never as tampering.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::append`].
    pub fn append_deferred(&self, event: &AuditEvent) -> Result<u64, Error> {
        self.write_record(event, false)
    }

    /// Syncs records [`AuditLog::append_deferred`] wrote and moves the head to the last.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the file cannot be synced or the head written.
    pub fn sync(&self) -> Result<(), Error> {
        let mut w = self.lock();
        if !w.deferred {
            return Ok(());
        }
        w.file
            .sync_data()
            .map_err(|e| audit_error("sync", &self.path, e))?;
        w.deferred = false;
        let (seq, prev) = (w.seq, w.prev.clone());
        self.anchor
            .write(&mut w.head_buf, seq, &prev)
            .map_err(|e| audit_error("sync", &self.path, e))
    }

    fn write_record(&self, event: &AuditEvent, durable: bool) -> Result<u64, Error> {
        let mut w = self.lock();
        if let Some(reason) = &w.broken {
            return Err(audit_error("append to", &self.path, reason));
        }
        let seq = w.seq + 1;
        let record = Record {
            seq,
            prev: &w.prev,
            at: event.at.to_string(),
            kind: event.kind,
            tool: &event.tool,
            args: redact(&event.tool, &event.args, &self.key),
            principal: event.principal.as_deref(),
            session: event.session.as_deref(),
            device: event.device.as_deref(),
            verdict: &event.verdict,
            rule: event.rule.as_deref(),
            message: event.message.as_deref(),
            policy_hash: event.policy_hash.as_deref(),
            duration_ms: event.duration_ms,
            outcome: event.outcome.as_deref(),
            error: event.error.as_deref(),
        };
        let mut line =
            serde_json::to_vec(&record).map_err(|e| audit_error("append to", &self.path, e))?;
        let hash = sha256_hex(&line);
        line.push(b'\n');
        let written = w
            .file
            .write_all(&line)
            .and_then(|()| if durable { w.file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            let len = w.len;
            if let Err(undo) = w.file.set_len(len).and_then(|()| w.file.sync_data()) {
                w.broken = Some(format!(
                    "a failed write ({e}) could not be cut off ({undo}); reopen the log"
                ));
            }
            return Err(audit_error("append to", &self.path, e));
        }
        w.len += line.len() as u64;
        w.seq = seq;
        w.file_first_seq.get_or_insert(seq);
        if !durable {
            // The head names synced records only.
            w.deferred = true;
            w.prev = hash;
            return Ok(seq);
        }
        w.deferred = false;
        let headed = self.anchor.write(&mut w.head_buf, seq, &hash);
        w.prev = hash;
        headed.map_err(|e| {
            audit_error(
                "append to",
                &self.path,
                format!("record {seq} is written, but its head is not: {e}"),
            )
        })?;
        Ok(seq)
    }

    /// Closes the current file under the name `<file>.<seq of its first record, 12
    /// digits>` (for example `audit.jsonl.000000000001`) and starts a new, empty current
    /// file. The chain goes on: the next record's seq and `prev` follow the last record
    /// of the rotated file. Returns the rotated file's path.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the current file holds no record (there is nothing to
    /// rotate), the target name is taken, or renaming or creating fails.
    pub fn rotate(&self) -> Result<PathBuf, Error> {
        let mut w = self.lock();
        let fail = |e: io::Error| audit_error("rotate", &self.path, e);
        if let Some(reason) = &w.broken {
            return Err(audit_error("rotate", &self.path, reason));
        }
        let Some(first) = w.file_first_seq else {
            return Err(audit_error(
                "rotate",
                &self.path,
                "the current file holds no record since the last rotation",
            ));
        };
        let target = rotated_path(&self.path, first);
        if target.exists() {
            return Err(audit_error(
                "rotate",
                &self.path,
                format!("{} already exists", target.display()),
            ));
        }
        w.file.sync_all().map_err(fail)?;
        fs::rename(&self.path, &target).map_err(fail)?;
        let file = match open_append(&self.path).and_then(|f| sync_parent(&self.path).map(|()| f)) {
            Ok(file) => file,
            Err(e) => {
                // The handle still points at the renamed file: writing on would put
                // records in the wrong file.
                w.broken = Some(format!("no new file after rotating: {e}; reopen the log"));
                return Err(fail(e));
            }
        };
        w.file = file;
        w.len = 0;
        w.file_first_seq = None;
        Ok(target)
    }

    /// Verifies the whole chain of the log whose current file is `path`, as
    /// [`verify_dir_chain`] does, and then its keyed head `<path>.head`: the head's MAC
    /// is valid under `key`, the chain reaches the head's seq, and the record with that
    /// seq hashes to the head's `hash`. This detects records cut off the end and an
    /// edited last record, which the chain alone cannot show; records after the head's
    /// seq (a head that lags after a crash) are checked by the chain alone, and an older
    /// head put back passes for one that lags. The report's
    /// [`anchored_seq`](VerifyReport::anchored_seq) is the head's seq.
    ///
    /// # Errors
    ///
    /// As [`verify_dir_chain`] for the chain, whose breaks are reported first; then
    /// [`Error::AuditHead`] when the head is missing, unreadable or fails its MAC, when
    /// the chain ends before the head's seq ("records after seq X were removed"), or when
    /// the record at the head's seq does not hash to the head's `hash`.
    pub fn verify_with_key(path: impl AsRef<Path>, key: &AuditKey) -> Result<VerifyReport, Error> {
        let path = path.as_ref();
        let paths = existing_chain_files(path)?;
        let anchor = Anchor::new(path, key);
        let state = anchor
            .read()
            .map_err(|e| audit_error("verify", &anchor.path, e))?;
        let want = match &state {
            HeadState::Valid(head) => Some(head.seq),
            _ => None,
        };
        // The chain first: a break in it says more, and where.
        let (mut report, found) = verify_chain(&paths, want)?;
        let head = anchor.require_valid(state)?;
        if let Some(problem) = contradiction(&head, report.last_seq, found.as_deref()) {
            return Err(anchor.rejected(Some(head.seq), problem));
        }
        report.anchored_seq = Some(head.seq);
        Ok(report)
    }
}

/// What [`verify`], [`verify_dir_chain`] or [`AuditLog::verify_with_key`] checked.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Records checked.
    pub records: u64,
    /// The first record's seq (1 for a whole chain; 0 when there are no records).
    pub first_seq: u64,
    /// The last record's seq (0 when there are no records).
    pub last_seq: u64,
    /// Files read.
    pub files: usize,
    /// The hex SHA-256 of the last record (the next `prev`).
    pub last_hash: String,
    /// The seq the keyed head vouches for, from [`AuditLog::verify_with_key`]; `None`
    /// from the keyless [`verify`] and [`verify_dir_chain`]. Records after it, up to
    /// `last_seq`, are protected by the chain alone; it should never go down from one
    /// verification to the next (see the module documentation on replay).
    pub anchored_seq: Option<u64>,
}

/// Checks the chain across `paths`, given in chain order (oldest rotated file first,
/// current file last): every record is a JSON object whose `seq` is one more than the
/// previous record's and whose `prev` is the previous record's hash; the chain starts
/// at seq 1 with 64 zeros; a rotated file's name carries its first seq; every line ends
/// with a newline.
///
/// # Errors
///
/// [`Error::AuditChain`] naming the file, line and seq of the first record that breaks
/// the chain, and what is wrong; [`Error::Audit`] when a file cannot be read.
pub fn verify(paths: &[PathBuf]) -> Result<VerifyReport, Error> {
    verify_chain(paths, None).map(|(report, _)| report)
}

/// [`verify`], also returning the hash of the record with seq `want` when the chain has
/// it.
fn verify_chain(
    paths: &[PathBuf],
    want: Option<u64>,
) -> Result<(VerifyReport, Option<String>), Error> {
    let mut found = None;
    let mut report = VerifyReport {
        records: 0,
        first_seq: 0,
        last_seq: 0,
        files: 0,
        last_hash: GENESIS_PREV.to_owned(),
        anchored_seq: None,
    };
    for path in paths {
        let bytes = fs::read(path).map_err(|e| audit_error("verify", path, e))?;
        report.files += 1;
        let named_first = rotated_first_seq(path);
        let mut lines = bytes.split(|&b| b == b'\n').peekable();
        let mut number = 0_u64;
        while let Some(line) = lines.next() {
            number += 1;
            let last = lines.peek().is_none();
            if last && line.is_empty() {
                break;
            }
            let broken = |seq: Option<u64>, problem: String| Error::AuditChain {
                file: path.clone(),
                line: number,
                seq,
                problem,
            };
            if last {
                return Err(broken(
                    None,
                    "the last line has no newline (a torn write; opening the log cuts it off)"
                        .into(),
                ));
            }
            let value: Value = serde_json::from_slice(line)
                .map_err(|e| broken(None, format!("the line is not a JSON record: {e}")))?;
            let seq = value
                .get("seq")
                .and_then(Value::as_u64)
                .ok_or_else(|| broken(None, "the record has no numeric `seq`".into()))?;
            let prev = value
                .get("prev")
                .and_then(Value::as_str)
                .ok_or_else(|| broken(Some(seq), "the record has no `prev`".into()))?;
            let expected = report.last_seq + 1;
            if seq != expected {
                let problem = if report.records == 0 {
                    format!("the chain starts at seq {seq}, not 1: earlier records are missing")
                } else {
                    format!(
                        "expected seq {expected} after {}, found {seq}: records were removed, \
                         inserted or reordered",
                        report.last_seq
                    )
                };
                return Err(broken(Some(seq), problem));
            }
            if prev != report.last_hash {
                let problem = if report.records == 0 {
                    "the first record's `prev` is not 64 zeros".to_owned()
                } else {
                    format!(
                        "`prev` is not the hash of record {}: it was edited, or records were \
                         removed, inserted or reordered",
                        report.last_seq
                    )
                };
                return Err(broken(Some(seq), problem));
            }
            if number == 1
                && let Some(named) = named_first.filter(|&n| n != seq)
            {
                return Err(broken(
                    Some(seq),
                    format!("the file is named for seq {named} but starts at seq {seq}"),
                ));
            }
            if report.records == 0 {
                report.first_seq = seq;
            }
            report.records += 1;
            report.last_seq = seq;
            report.last_hash = sha256_hex(line);
            if want == Some(seq) {
                found = Some(report.last_hash.clone());
            }
        }
    }
    Ok((report, found))
}

/// The first seq a rotated file's name carries (`audit.jsonl.000000000042` is 42).
fn rotated_first_seq(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let (_, digits) = name.rsplit_once('.')?;
    if digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// Verifies the whole chain of the log whose current file is `path`: its rotated
/// siblings (`<name>.<digits>`, in seq order), then the current file when it exists.
///
/// # Errors
///
/// As [`verify`]; [`Error::Audit`] when there is neither a current nor a rotated file.
pub fn verify_dir_chain(path: impl AsRef<Path>) -> Result<VerifyReport, Error> {
    verify(&existing_chain_files(path.as_ref())?)
}

/// [`chain_files`], refusing a log of which no file exists.
fn existing_chain_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let paths = chain_files(path).map_err(|e| audit_error("verify", path, e))?;
    if paths.is_empty() {
        return Err(audit_error(
            "verify",
            path,
            "neither the log nor any rotated file exists",
        ));
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_follows_the_tool_and_the_argument_names() {
        let key = AuditKey::from_bytes([1; 32]);
        let r = |text: &str| key.redacted(text);
        let cases = [
            (
                "nanokvm_send_key",
                json!({"key": "enter", "ctrl": true, "keys": ["a", 1]}),
                json!({"key": r("enter"), "ctrl": true, "keys": [r("a"), 1]}),
            ),
            (
                "nanokvm_mount_iso",
                json!({"file": "/data/a.iso", "Token": "t0k", "auth": {"password": 1234}}),
                json!({"file": "/data/a.iso", "Token": r("t0k"), "auth": {"password": r("1234")}}),
            ),
            ("nanokvm_info", json!(null), json!(null)),
            ("nanokvm_type_text", json!("raw"), r("raw")),
        ];
        for (tool, args, expected) in cases {
            assert_eq!(redact(tool, &args, &key), expected, "{tool}");
        }
        assert_eq!(r("héllo")["chars"], json!(5));
    }

    #[test]
    fn key_files_round_trip_and_refuse_junk() {
        let key = AuditKey::from_bytes([0xab; 32]);
        let text = format!("{}\n", lowercase_hex(&key.0));
        assert_eq!(
            AuditKey::parse(text.as_bytes(), Path::new("k")).ok(),
            Some(key)
        );
        for junk in ["", "abc", &"g".repeat(64), &"0".repeat(66)] {
            assert!(
                AuditKey::parse(junk.as_bytes(), Path::new("k")).is_err(),
                "{junk}"
            );
        }
        assert_eq!(
            format!("{:?}", AuditKey::from_bytes([0xab; 32])),
            "AuditKey(..)"
        );
    }

    #[test]
    fn rotated_names_carry_twelve_digits() {
        let p = rotated_path(Path::new("/x/audit.jsonl"), 42);
        assert_eq!(p, Path::new("/x/audit.jsonl.000000000042"));
        assert_eq!(rotated_first_seq(&p), Some(42));
        assert_eq!(rotated_first_seq(Path::new("/x/audit.jsonl")), None);
    }
}
