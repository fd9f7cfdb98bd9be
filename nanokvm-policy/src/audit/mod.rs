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
//! continues the chain in a fresh file; [`verify()`] checks files in chain order and
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
//!
//! The module is split by concern, as its siblings are: `key.rs` (the [`AuditKey`]),
//! `redact.rs` (what is written in place of typed secrets), `files.rs` (the log's files
//! on disk: private creation, reading back the tail, rotated names), `head.rs` (the
//! keyed head), `writer.rs` ([`AuditLog`]: opening, appending, syncing, rotating) and
//! `verify.rs` ([`verify()`], [`verify_dir_chain`], [`AuditLog::verify_with_key`]).

use std::fmt;
use std::path::Path;

#[cfg(doc)]
use crate::catalogue::ToolInfo;
use crate::error::Error;

mod files;
mod head;
mod key;
mod redact;
mod verify;
mod writer;

pub use key::AuditKey;
pub use verify::{VerifyReport, verify, verify_dir_chain};
pub use writer::{AuditEvent, AuditKind, AuditLog};

/// `prev` of the first record ever: 64 zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn audit_error(operation: &'static str, path: &Path, e: impl fmt::Display) -> Error {
    Error::Audit {
        operation,
        path: path.to_owned(),
        message: e.to_string(),
    }
}
