//! The [`AuditKey`]: the secret that keys redacted arguments' digests and the head's
//! MAC, with its key file.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::audit_error;
use super::files::{create_private, sync_parent};
use crate::error::Error;
use crate::hex::{lowercase_hex, parse_hex32};

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

    pub(super) fn parse(bytes: &[u8], path: &Path) -> Result<Self, Error> {
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
    pub(super) fn keyed(&self) -> Hmac<Sha256> {
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

    pub(super) fn redacted(&self, text: &str) -> Value {
        let mut object = Map::new();
        object.insert("redacted".into(), Value::Bool(true));
        object.insert("chars".into(), Value::from(text.chars().count()));
        object.insert("hmac".into(), Value::String(self.digest(text)));
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
