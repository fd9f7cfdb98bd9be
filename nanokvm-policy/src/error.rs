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
        /// What the store was doing: `open`, `reserve`, `commit`, `rollback`, `usage` or `count`.
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
    /// The gate knows no device tool by this name.
    #[error("unknown tool `{tool}`")]
    UnknownTool {
        /// The name given.
        tool: String,
    },
    /// A tool's arguments are missing, unknown, mistyped or out of range. Nothing was
    /// decided, counted or sent.
    #[error("invalid arguments for `{tool}`{}: {message}", argument_name(argument))]
    InvalidArguments {
        /// The tool.
        tool: String,
        /// The argument's name (`from.x`); empty for the arguments as a whole.
        argument: String,
        /// What is wrong with it.
        message: String,
    },
    /// The policy refused the call, or approval was required and not given.
    #[error("[POLICY DENIED] {} (rule {})", .0.message, .0.rule.as_deref().unwrap_or("(none)"))]
    Denied(Box<crate::engine::Denial>),
    /// The device failed to do an allowed action. It was not retried. The client's error
    /// ([`std::error::Error::source`]) says why.
    #[error("`{tool}` failed on the device")]
    Device {
        /// The tool that ran.
        tool: String,
        /// What the client reported.
        #[source]
        source: Box<nanokvm_client::Error>,
    },
    /// The gate was built without a device ([`crate::gate::Gate::without_device`], for
    /// the MCP gateway), so it decides calls but runs no device tool. Nothing was
    /// decided, counted or sent.
    #[error("`{tool}` needs a NanoKVM and this gate has none")]
    NoDevice {
        /// The tool asked for.
        tool: String,
    },
    /// A timestamp could not be parsed as RFC 3339.
    #[error("invalid RFC 3339 timestamp `{input}`: {message}")]
    Timestamp {
        /// The text given.
        input: String,
        /// What is wrong with it.
        message: &'static str,
    },
    /// The audit log or its key file could not be opened, read or written. A call whose
    /// record cannot be written must not go ahead.
    #[error("audit log failed to {operation} {}: {message}", path.display())]
    Audit {
        /// What was being done: `open`, `append to`, `rotate`, `verify`, `read the key`, ...
        operation: &'static str,
        /// The file concerned.
        path: std::path::PathBuf,
        /// Why it failed.
        message: String,
    },
    /// Verifying the audit log found a record that breaks the hash chain: edited,
    /// removed, inserted, reordered or torn.
    #[error("audit chain broken in {} at line {line}: {problem}", file.display())]
    AuditChain {
        /// The file holding the offending line.
        file: std::path::PathBuf,
        /// The line's number in that file, from 1.
        line: u64,
        /// The offending record's seq, when it has one.
        seq: Option<u64>,
        /// What is wrong.
        problem: String,
    },
    /// A device configuration file is not valid, or a device in it cannot be reached
    /// as configured (an unset password variable, an unreadable CA file).
    #[error("{}: {message}", path.display())]
    Config {
        /// The configuration file, or the device.
        path: std::path::PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The policy file could not be read (missing, unreadable or not UTF-8); the policy
    /// in force stays.
    #[error("cannot read policy file {}: {message}", path.display())]
    PolicyFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why it could not be read.
        message: String,
    },
    /// The audit log's keyed head (`<log>.head`) does not vouch for the log: it is
    /// missing, unreadable or forged (or made with another key), or the log no longer
    /// holds the record it names: records were cut off the end, or that record was edited.
    #[error("audit head {} rejected: {problem}", head.display())]
    AuditHead {
        /// The head file.
        head: std::path::PathBuf,
        /// The seq the head names, when it could be read.
        seq: Option<u64>,
        /// What is wrong.
        problem: String,
    },
}

/// ` (argument `x`)` for a named argument, nothing for the whole arguments.
fn argument_name(argument: &str) -> String {
    if argument.is_empty() {
        String::new()
    } else {
        format!(" (argument `{argument}`)")
    }
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

    /// The same mistake, placed at `pointer` (for a value parsed without knowing where
    /// it stands in the document).
    pub(crate) fn at(self, pointer: &str) -> Self {
        match self {
            Self::Invalid { message, .. } => Self::invalid(pointer, message),
            other => other,
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

/// An error and its causes, each once, joined with `: ` (`what failed: why: why`), for
/// messages that must carry the whole chain, such as audit records and tool results.
#[must_use]
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
