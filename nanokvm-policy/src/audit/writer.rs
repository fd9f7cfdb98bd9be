//! [`AuditLog`]: opening a log (repairing a torn tail, resuming the chain, checking the
//! head), appending records durably or deferred, syncing, and rotating.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use serde_json::Value;

use super::files::{
    first_newline, line_start_before, open_append, read_range, record_seq, rotated_files,
    rotated_path, sync_parent,
};
use super::head::{Anchor, FORGED, HeadState, contradiction, record_hash_at};
use super::key::AuditKey;
use super::redact::redact;
use super::{GENESIS_PREV, audit_error};
use crate::error::Error;
use crate::hex::sha256_hex;
use crate::time::Timestamp;

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
    /// [`AuditLog::append`] leaves syncing to [`AuditLog::sync`], which the owner calls
    /// on a timer ([`AuditLog::batched`]).
    batched: bool,
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
            batched: false,
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
        self.write_record(event, !self.batched)
    }

    /// The same log with group commit: every [`AuditLog::append`] acts like
    /// [`AuditLog::append_deferred`], and the owner calls [`AuditLog::sync`] on a timer
    /// (the MCP gateway's `--audit-sync 50ms`). Each record is still written to the file
    /// before `append` returns, so a crash of the process loses nothing; a crash of the
    /// machine can lose the records of the last interval, which the head (naming only
    /// synced records) shows as lag, never as tampering. It takes the fsync out of each
    /// call's path.
    #[must_use]
    pub fn batched(mut self) -> Self {
        self.batched = true;
        self
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
}
