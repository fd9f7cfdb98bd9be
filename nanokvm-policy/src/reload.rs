//! Hot reload: [`PolicyFile`] keeps the last good policy of a file and picks up edits
//! when asked.
//!
//! The gate calls [`PolicyFile::check`] on a timer. Each check reads the file and
//! compares the SHA-256 of its bytes with the last version seen; only a change is
//! parsed. A valid edit replaces the policy ([`Reload::Reloaded`]); a broken edit, a
//! deleted file or an unreadable one keeps the policy in force and reports why
//! ([`Reload::Rejected`]), once per distinct problem. Counters live in the store, not in
//! the policy, so a reload never resets a limit.
//!
//! Why not trust the modification time and length to skip the read: an edit that keeps
//! the length within the file system's timestamp granularity, or a copy that preserves
//! the time, would go unnoticed, and a policy file is small enough to read every time.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::error::Error;
use crate::policy::Policy;
use crate::store::CounterStore;

/// What a [`PolicyFile::check`] found.
#[derive(Debug)]
pub enum Reload {
    /// Nothing new: the file is as at the last check, or changed without changing the
    /// policy (only whitespace, key order or comments).
    Unchanged,
    /// A valid edit: this policy is now in force.
    Reloaded {
        /// [`Policy::hash_hex`] of the new policy.
        hash: String,
    },
    /// The file changed but cannot be used; the last good policy stays in force.
    Rejected {
        /// Why: [`Error::Syntax`] or [`Error::Invalid`] (with the JSON Pointer of the
        /// mistake) for a broken document, [`Error::PolicyFile`] for a missing or
        /// unreadable file.
        error: Error,
    },
}

/// What the last check saw in the file.
#[derive(PartialEq, Eq, Debug)]
enum Seen {
    /// The file's bytes, by their SHA-256.
    Content([u8; 32]),
    /// The file could not be read, for this reason.
    Unreadable(io::ErrorKind),
}

#[derive(Debug)]
struct State {
    current: Arc<Policy>,
    seen: Seen,
}

/// A policy loaded from a file, reloaded on request.
///
/// # Example
///
/// ```
/// use nanokvm_policy::{Engine, MemoryStore, PolicyFile, Reload};
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("policy.json");
/// std::fs::write(&path, r#"{"version": "1", "default": "deny"}"#)?;
/// let file = PolicyFile::open(&path)?;
/// let engine = Engine::new(MemoryStore::new());
/// file.apply_to(&engine);
///
/// std::fs::write(&path, r#"{"version": "1", "default": "allow"}"#)?;
/// assert!(matches!(file.check_and_apply(&engine), Reload::Reloaded { .. }));
///
/// std::fs::write(&path, r#"{"version": "1", "default": "maybe"}"#)?;
/// let Reload::Rejected { error } = file.check_and_apply(&engine) else { panic!() };
/// assert_eq!(error.pointer(), Some("/default"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PolicyFile {
    path: PathBuf,
    yaml: bool,
    state: Mutex<State>,
}

impl PolicyFile {
    /// Loads the policy at `path`: YAML when the name ends in `.yaml` or `.yml` (in any
    /// letter case), JSON otherwise.
    ///
    /// # Errors
    ///
    /// [`Error::PolicyFile`] when the file cannot be read; the loader's
    /// [`Error::Syntax`] or [`Error::Invalid`] when the document is not a valid policy.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        let bytes = fs::read(&path).map_err(|e| unreadable(&path, &e))?;
        let policy = parse(&path, yaml, &bytes)?;
        Ok(Self {
            state: Mutex::new(State {
                current: Arc::new(policy),
                seen: Seen::Content(Sha256::digest(&bytes).into()),
            }),
            path,
            yaml,
        })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last good policy.
    #[must_use]
    pub fn current(&self) -> Arc<Policy> {
        Arc::clone(&self.lock().current)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is replaced field by field with values computed beforehand, so a
        // poisoned lock still guards a usable policy.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the file and compares it with the last version seen: see [`Reload`]. A
    /// problem is reported once; later checks that find the same broken bytes, or the
    /// file still missing, say [`Reload::Unchanged`].
    pub fn check(&self) -> Reload {
        let read = fs::read(&self.path);
        let mut state = self.lock();
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => {
                let seen = Seen::Unreadable(e.kind());
                if state.seen == seen {
                    return Reload::Unchanged;
                }
                state.seen = seen;
                return Reload::Rejected {
                    error: unreadable(&self.path, &e),
                };
            }
        };
        let seen = Seen::Content(Sha256::digest(&bytes).into());
        if state.seen == seen {
            return Reload::Unchanged;
        }
        state.seen = seen;
        match parse(&self.path, self.yaml, &bytes) {
            Ok(policy) if policy.hash() == state.current.hash() => Reload::Unchanged,
            Ok(policy) => {
                let hash = policy.hash_hex();
                state.current = Arc::new(policy);
                Reload::Reloaded { hash }
            }
            Err(error) => Reload::Rejected { error },
        }
    }

    /// Puts the last good policy in force in `engine`. Its counters and typed lines are
    /// kept.
    pub fn apply_to<S: CounterStore>(&self, engine: &Engine<S>) {
        let current = self.current();
        let same = engine.policy().is_some_and(|p| p.hash() == current.hash());
        if !same {
            engine.set_shared_policy(current);
        }
    }

    /// [`PolicyFile::check`], then [`PolicyFile::apply_to`] when the policy changed.
    pub fn check_and_apply<S: CounterStore>(&self, engine: &Engine<S>) -> Reload {
        let reload = self.check();
        if matches!(reload, Reload::Reloaded { .. }) {
            self.apply_to(engine);
        }
        reload
    }
}

fn unreadable(path: &Path, e: &io::Error) -> Error {
    Error::PolicyFile {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

fn parse(path: &Path, yaml: bool, bytes: &[u8]) -> Result<Policy, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::PolicyFile {
        path: path.to_owned(),
        message: format!("not UTF-8: {e}"),
    })?;
    if yaml {
        Policy::from_yaml(text)
    } else {
        Policy::from_json(text)
    }
}
