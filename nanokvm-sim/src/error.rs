//! The crate's one error type.

use std::io;
use std::net::SocketAddr;

/// Everything that can go wrong when starting or configuring a simulator.
///
/// Request-level failures never surface here: the simulator answers them on the wire the
/// way the firmware does.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: io::Error,
    },
    /// The data directory could not be created or read.
    #[error("cannot prepare the data directory")]
    DataDir(#[source] io::Error),
    /// A firmware version the simulator does not play.
    #[error("unsupported firmware version {0:?} (expected 2.5.1, 2.5.0 or 2.3.1)")]
    UnsupportedFirmware(String),
    /// The configuration is inconsistent, for example no accounts or a zero-sized screen.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The server task stopped with an I/O error.
    #[error("the server stopped")]
    Serve(#[source] io::Error),
}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn errors_are_send_sync_static_and_lowercase() {
        fn assert_bounds<T: Send + Sync + 'static>() {}
        assert_bounds::<Error>();
        let e = Error::Config("no accounts".to_owned());
        assert!(e.to_string().starts_with("invalid configuration"));
    }

    #[test]
    fn account_debug_hides_the_password() {
        let a = crate::Account::new("admin", "hunter22", crate::Role::Admin);
        let shown = format!("{a:?}");
        assert!(!shown.contains("hunter22") && shown.contains("redacted"));
    }
}
