//! The crate's error type, which classifies itself.
//!
//! Every variant that concerns a request names the endpoint (`"POST /api/vm/gpio"`), so a
//! log line says which call failed. No variant carries a password, a token or a session
//! cookie: the transport builds errors from status codes and firmware messages only.
//!
//! A message says what failed; a lower-level cause is not repeated in it but returned by
//! [`std::error::Error::source`], so print the whole chain (`{:#}` with `anyhow`, or walk
//! `source()`) to see why.

use std::time::Duration;

/// A boxed error from a lower layer (HTTP, TLS, WebSocket, I/O).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong when talking to a NanoKVM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client was configured wrongly (a bad URL, an unreadable CA certificate, a
    /// malformed fingerprint). Nothing was sent.
    #[error("invalid client configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// The device rejected the username or password (firmware code -2 on login).
    #[error("authentication failed: wrong username or password")]
    AuthenticationFailed,
    /// The device locked this client's address out after too many failed logins
    /// (firmware code -5). Wait for the lockout to expire.
    #[error("authentication failed: locked out after too many failed attempts")]
    LockedOut,
    /// The device needs a session but the client has no credentials.
    #[error("{endpoint}: the device requires a login but no credentials were configured")]
    CredentialsRequired {
        /// The request that was refused.
        endpoint: String,
    },
    /// The session expired or was revoked (HTTP 401 after a fresh login, or on a request
    /// that must not be repeated automatically).
    #[error("{endpoint}: session expired or revoked{}", if *repeated { "" } else { "; the request was not repeated" })]
    SessionExpired {
        /// The request that was refused.
        endpoint: String,
        /// Whether the request had already been repeated once after logging in again.
        repeated: bool,
    },
    /// The account is not an administrator (HTTP 403 on firmware with roles).
    #[error("{endpoint}: forbidden; this needs an admin account")]
    Forbidden {
        /// The request that was refused.
        endpoint: String,
    },
    /// The firmware answered with a failure code in its response envelope.
    #[error("{endpoint}: device error {code}: {message}")]
    Device {
        /// The firmware's (per-handler, negative) error code.
        code: i64,
        /// The firmware's message, verbatim.
        message: String,
        /// The request that failed.
        endpoint: String,
    },
    /// The device's firmware cannot do this. Nothing was sent.
    #[error("{operation} is not supported by {firmware}{}", needs.as_deref().map(|n| format!(" (needs {n})")).unwrap_or_default())]
    NotSupported {
        /// What was asked for.
        operation: String,
        /// The firmware and hardware, e.g. `firmware 2.4.3 on PCIE`.
        firmware: String,
        /// What would support it, e.g. `firmware 2.5.0 or later`.
        needs: Option<String>,
    },
    /// An argument was rejected before anything was sent (text over the paste limit, a
    /// malformed MAC address, an untypeable character).
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What is wrong with it.
        reason: String,
    },
    /// The device did not answer in time. Requests that act on the target (power
    /// presses, typing, paste) are never retried after a timeout: they may have happened.
    #[error("{endpoint}: timed out after {after:?}")]
    Timeout {
        /// The request that timed out.
        endpoint: String,
        /// The time limit that was exceeded.
        after: Duration,
    },
    /// The connection to the device failed (DNS, TCP, TLS, or the connection dropped).
    /// The cause is the [`source`](std::error::Error::source).
    #[error("{endpoint}: connection failed")]
    Connection {
        /// The request that failed.
        endpoint: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The TLS handshake failed: the device's certificate is not the pinned one, is not
    /// signed by a trusted CA, names another host or has expired, or no common protocol
    /// was found. Nothing was sent.
    #[error("{endpoint}: TLS handshake with the device failed: {reason}")]
    Tls {
        /// The request that was not sent.
        endpoint: String,
        /// Why the certificate or handshake was refused.
        reason: String,
    },
    /// The device answered with an HTTP status this client does not expect.
    #[error("{endpoint}: unexpected HTTP status {status}")]
    Http {
        /// The request.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
    },
    /// A response did not have the shape the firmware documents.
    #[error("{endpoint}: cannot decode the response at `{path}`: {message}")]
    Decode {
        /// The request whose response failed to decode.
        endpoint: String,
        /// The JSON path of the offending value, e.g. `data.ips[0].addr`.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The WebSocket session failed or was closed by the device; a lower-level cause, if
    /// any, is the [`source`](std::error::Error::source).
    #[error("websocket: {reason}")]
    WebSocket {
        /// What happened.
        reason: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// A local file could not be read (image upload). The cause is the
    /// [`source`](std::error::Error::source).
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Key names, chords, layouts or coordinates were rejected by `nanokvm-hid`.
    #[error(transparent)]
    Hid(#[from] nanokvm_hid::Error),
}

impl Error {
    /// Whether this is about authentication or authorization: wrong credentials, a
    /// lockout, a missing login, an expired session, or a non-admin account.
    #[must_use]
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::AuthenticationFailed
                | Self::LockedOut
                | Self::CredentialsRequired { .. }
                | Self::SessionExpired { .. }
                | Self::Forbidden { .. }
        )
    }

    /// Whether the device did not answer in time.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// Whether the firmware cannot do what was asked.
    #[must_use]
    pub fn is_not_supported(&self) -> bool {
        matches!(self, Self::NotSupported { .. })
    }

    /// Whether an argument was rejected before anything was sent.
    #[must_use]
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::InvalidInput { .. } | Self::Hid(_))
    }

    /// Whether the connection failed (including TLS and WebSocket failures).
    #[must_use]
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            Self::Connection { .. } | Self::Tls { .. } | Self::WebSocket { .. }
        )
    }

    /// Whether the TLS handshake failed, for example because the device's certificate
    /// does not match the pinned fingerprint.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. })
    }

    /// Whether a response could not be decoded.
    #[must_use]
    pub fn is_decode(&self) -> bool {
        matches!(self, Self::Decode { .. })
    }

    /// The firmware's error code, for [`Error::Device`].
    #[must_use]
    pub fn device_code(&self) -> Option<i64> {
        match self {
            Self::Device { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            reason: reason.into(),
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::Config {
            reason: reason.into(),
        }
    }

    pub(crate) fn ws(reason: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::WebSocket {
            reason: reason.into(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
