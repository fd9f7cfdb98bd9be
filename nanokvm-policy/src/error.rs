//! The crate's one error type.

/// Everything that can go wrong in the policy engine.
///
/// Loading errors name the place of the mistake as a JSON Pointer into the document
/// (`/tools/nanokvm_tap/limits/0/window`), so that a person can find it; store errors say
/// which operation failed. Every error that reaches a decision turns it into a denial:
/// the engine fails closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is not well-formed JSON or YAML (or has a duplicate key).
    #[error("policy is not valid {format}: {message}")]
    Syntax {
        /// `"JSON"` or `"YAML"`.
        format: &'static str,
        /// What the parser said, with its line and column.
        message: String,
    },
    /// The document parsed, but a field is unknown, missing, of the wrong type, or holds a
    /// value the language does not accept.
    #[error("invalid policy{}: {message}", at_pointer(pointer))]
    Invalid {
        /// JSON Pointer to the offending value (`""` is the whole document).
        pointer: String,
        /// What is wrong with it.
        message: String,
    },
    /// The counter store failed; the call it was deciding is denied.
    #[error("counter store failed to {operation}: {message}")]
    Store {
        /// What the store was doing: `reserve`, `commit` or `rollback`.
        operation: &'static str,
        /// Why it failed.
        message: String,
    },
    /// A reservation was committed or rolled back twice, or was never made by this store.
    #[error("reservation {id} is unknown or already settled")]
    UnknownReservation {
        /// The reservation's id.
        id: u64,
    },
    /// A timestamp could not be parsed as RFC 3339.
    #[error("invalid RFC 3339 timestamp `{input}`: {message}")]
    Timestamp {
        /// The text given.
        input: String,
        /// What is wrong with it.
        message: &'static str,
    },
}

/// ` at /tools/t` for a pointer, nothing for the whole document.
fn at_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" at {pointer}")
    }
}

impl Error {
    pub(crate) fn invalid(pointer: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            pointer: pointer.to_owned(),
            message: message.into(),
        }
    }

    /// The JSON Pointer of the mistake, for [`Error::Invalid`].
    #[must_use]
    pub fn pointer(&self) -> Option<&str> {
        match self {
            Self::Invalid { pointer, .. } => Some(pointer),
            _ => None,
        }
    }
}
