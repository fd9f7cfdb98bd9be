//! Exit codes, and the error messages that say what to do next.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure: the device refused, a file could not be read, a wait ran out |
//! | 2 | usage error: bad arguments, an unknown device, text a layout cannot type |
//! | 3 | denied by the policy, or approval was not given; nothing was sent |
//! | 4 | device unreachable: connection refused, timeout, TLS |
//! | 5 | authentication failed |
//! | 6 | not supported by this device's firmware |
//!
//! The code is found by walking the error's chain for the typed errors of the policy
//! crate and the client, so a context added on the way does not hide it.

use std::fmt;

use nanokvm_client::Error as ClientError;
use nanokvm_policy::Error as PolicyError;

/// The documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0.
    Success,
    /// 1.
    Failure,
    /// 2.
    Usage,
    /// 3.
    Denied,
    /// 4.
    Unreachable,
    /// 5.
    Auth,
    /// 6.
    NotSupported,
}

impl Exit {
    /// The process exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Usage => 2,
            Self::Denied => 3,
            Self::Unreachable => 4,
            Self::Auth => 5,
            Self::NotSupported => 6,
        }
    }

    /// A stable name for `--json` errors.
    #[must_use]
    pub fn kind(self) -> &'static str {
        match self {
            Self::Success => "ok",
            Self::Failure => "failure",
            Self::Usage => "usage",
            Self::Denied => "denied",
            Self::Unreachable => "unreachable",
            Self::Auth => "authentication",
            Self::NotSupported => "not_supported",
        }
    }
}

/// A mistake in how the command was called (exit code 2).
#[derive(Debug)]
pub struct UsageError(String);

impl UsageError {
    /// A usage error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The exit code for `error`.
#[must_use]
pub fn classify(error: &anyhow::Error) -> Exit {
    for cause in error.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return Exit::Usage;
        }
        if let Some(e) = cause.downcast_ref::<PolicyError>() {
            match e {
                PolicyError::Denied(_) => return Exit::Denied,
                PolicyError::InvalidArguments { .. } | PolicyError::UnknownTool { .. } => {
                    return Exit::Usage;
                }
                PolicyError::Device { source, .. } => return classify_client(source),
                _ => {}
            }
        }
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return classify_client(e);
        }
    }
    Exit::Failure
}

fn classify_client(e: &ClientError) -> Exit {
    if e.is_auth() {
        Exit::Auth
    } else if e.is_not_supported() {
        Exit::NotSupported
    } else if e.is_connection() || e.is_timeout() {
        Exit::Unreachable
    } else {
        Exit::Failure
    }
}

/// What to do next, for errors whose message alone does not say.
#[must_use]
pub fn hint(error: &anyhow::Error, exit: Exit) -> Option<String> {
    let denial = error
        .chain()
        .find_map(|c| match c.downcast_ref::<PolicyError>() {
            Some(PolicyError::Denied(d)) => Some(d),
            _ => None,
        });
    match exit {
        // Refused at the prompt: the operator knows.
        Exit::Denied if denial.is_some_and(|d| d.message.contains("refused on the terminal")) => {
            None
        }
        Exit::Denied => Some(match denial.and_then(|d| d.approval_binding.as_ref()) {
            Some(_) => "this action needs a human's approval: answer the prompt on a \
                        terminal, or approve it from another one with `nanokvm approvals \
                        list` and `nanokvm approvals approve ID`, then run it again"
                .to_owned(),
            None => "nothing was sent; `nanokvm policy explain POLICY TOOL ARGS` shows \
                     which rule decides"
                .to_owned(),
        }),
        Exit::Auth => Some(
            "check the user and password (NANOKVM_USER and NANOKVM_PASS, --password-env, \
             --password-file, or the device's password_env/password_file in the config)"
                .to_owned(),
        ),
        Exit::Unreachable => Some(
            "check the address and that the NanoKVM is on and reachable; `nanokvm --sim \
             ...` tries the command against a simulated device"
                .to_owned(),
        ),
        Exit::NotSupported => Some(
            "this firmware cannot do that; `nanokvm info` shows its version, and updating \
             the NanoKVM's application adds it"
                .to_owned(),
        ),
        Exit::Usage if error.chain().any(|c| c.to_string().contains("cannot be typed")) => Some(
            "the target's layout is --target-layout (or the device's `layout` in the config); `type --layout NAME` encodes for another one; or leave \
             those characters out"
                .to_owned(),
        ),
        _ => None,
    }
}

/// A typing error with anything that could quote the typed text removed: its kind and
/// exit code stay, the details go.
#[must_use]
pub fn redact_typing_error(error: &anyhow::Error, length: usize) -> anyhow::Error {
    let exit = classify(error);
    let message = match exit {
        // A denial names the rule, never the text; keep it whole.
        Exit::Denied => denial_text(error),
        Exit::Usage => format!(
            "the secret ({length} characters) cannot be typed on this layout; the characters \
             are not shown"
        ),
        Exit::Auth => "typing the secret failed: authentication failed".to_owned(),
        Exit::Unreachable => "typing the secret failed: the device is unreachable".to_owned(),
        Exit::NotSupported => "typing the secret failed: not supported by this firmware".to_owned(),
        _ => "typing the secret failed on the device".to_owned(),
    };
    anyhow::Error::new(Redacted { message, exit })
}

fn denial_text(error: &anyhow::Error) -> String {
    error
        .chain()
        .find_map(|c| match c.downcast_ref::<PolicyError>() {
            Some(e @ PolicyError::Denied(_)) => Some(e.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "[POLICY DENIED]".to_owned())
}

/// An error whose message was stripped of typed text, carrying its exit code.
#[derive(Debug)]
pub struct Redacted {
    message: String,
    exit: Exit,
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Redacted {}

/// The exit code of `error`, including redacted ones.
#[must_use]
pub fn exit_of(error: &anyhow::Error) -> Exit {
    if let Some(r) = error.chain().find_map(|c| c.downcast_ref::<Redacted>()) {
        return r.exit;
    }
    classify(error)
}
