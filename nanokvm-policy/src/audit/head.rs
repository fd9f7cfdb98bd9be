//! The keyed head `<log>.head`: written after each synced record, read and checked
//! against the chain when the log is opened or verified with the key (see the module
//! documentation of `audit`).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::GENESIS_PREV;
use super::files::{chain_files, record_seq};
use super::key::AuditKey;
use crate::error::Error;
use crate::hex::{HEX_DIGITS, parse_hex32, push_hex, sha256_hex};

/// `n` in decimal, written into the end of `buf`.
pub(super) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
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

/// What a head's MAC covers starts with these bytes, and goes on with the seq in decimal,
/// a space and the hash. No UTF-8 text starts with `0xFF`, so no redacted argument's
/// digest (a MAC of text under the same key) can ever equal a head's MAC.
pub(super) const HEAD_DOMAIN: &[u8] = b"\xffnanokvm-audit-head/v1 ";

/// `path` with `suffix` added to its file name.
pub(super) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The problem with a well-formed head whose MAC fails.
pub(super) const FORGED: &str =
    "its MAC is not valid under this key: it was forged or altered, or made with another key";

/// A head as read from its file, before its MAC is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Head {
    pub(super) seq: u64,
    pub(super) hash: String,
    pub(super) mac: String,
}

/// What reading a head found.
pub(super) enum HeadState {
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
pub(super) struct Anchor {
    pub(super) path: PathBuf,
    pub(super) aside: PathBuf,
    pub(super) mac: Hmac<Sha256>,
}

impl Anchor {
    pub(super) fn new(log: &Path, key: &AuditKey) -> Self {
        Self {
            path: sidecar(log, ".head"),
            aside: sidecar(log, ".head.tmp"),
            mac: key.keyed(),
        }
    }

    /// The MAC of the head naming record `seq`, whose line hashes to `hash`.
    pub(super) fn mac_of(&self, seq: u64, hash: &str) -> Hmac<Sha256> {
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
    pub(super) fn write(&self, buf: &mut Vec<u8>, seq: u64, hash: &str) -> io::Result<()> {
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
    pub(super) fn read(&self) -> io::Result<HeadState> {
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

    pub(super) fn rejected(&self, seq: Option<u64>, problem: impl Into<String>) -> Error {
        Error::AuditHead {
            head: self.path.clone(),
            seq,
            problem: problem.into(),
        }
    }

    /// The head, if `state` is a valid one, or what is wrong with it.
    pub(super) fn require_valid(&self, state: HeadState) -> Result<Head, Error> {
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
pub(super) fn contradiction(head: &Head, last_seq: u64, found: Option<&str>) -> Option<String> {
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
pub(super) fn record_hash_at(path: &Path, seq: u64) -> io::Result<Option<String>> {
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
