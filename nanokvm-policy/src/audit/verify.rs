//! Verification: the chain across the log's files ([`verify`], [`verify_dir_chain`]),
//! and with the key, the head too ([`AuditLog::verify_with_key`]).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::files::{chain_files, rotated_first_seq};
use super::head::{Anchor, HeadState, contradiction};
use super::key::AuditKey;
use super::writer::AuditLog;
use super::{GENESIS_PREV, audit_error};
use crate::error::Error;
use crate::hex::sha256_hex;

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
pub(super) fn verify_chain(
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
pub(super) fn existing_chain_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
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

impl AuditLog {
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
