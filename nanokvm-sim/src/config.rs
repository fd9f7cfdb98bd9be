//! What the simulator plays: firmware version, accounts, hardware and target machine.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::Error;

/// A firmware release the simulator can play. The API differs between them in the ways
/// the protocol reference lists (token handling, roles, WebSocket framing, limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum FirmwareVersion {
    /// 2.3.1: JSON-array WebSocket protocol, 1024-byte paste limit, token in the body.
    V2_3_1,
    /// 2.5.0: binary WebSocket, token in `data.token`, a single user.
    V2_5_0,
    /// 2.5.1 (firmware HEAD): cookie-only sessions, admin and user roles.
    #[default]
    V2_5_1,
}

impl FirmwareVersion {
    /// The version string, as `GET /api/vm/info` reports it in `application`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2_3_1 => "2.3.1",
            Self::V2_5_0 => "2.5.0",
            Self::V2_5_1 => "2.5.1",
        }
    }

    /// Whether this release has accounts with roles and the server-set cookie.
    #[must_use]
    pub(crate) fn is_head(self) -> bool {
        self == Self::V2_5_1
    }

    /// Whether this release is 2.5.0 or newer.
    #[must_use]
    pub(crate) fn at_least_2_5_0(self) -> bool {
        self >= Self::V2_5_0
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FirmwareVersion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "2.3.1" => Ok(Self::V2_3_1),
            "2.5.0" => Ok(Self::V2_5_0),
            "2.5.1" | "head" | "HEAD" => Ok(Self::V2_5_1),
            other => Err(Error::UnsupportedFirmware(other.to_owned())),
        }
    }
}

/// An account's role (2.5.1). Older firmware has one user who may do everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// May call every route.
    Admin,
    /// May view, type, point, paste, press power/reset and send Wake-on-LAN.
    User,
}

impl Role {
    /// The role's name on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

/// A login account. The password is kept out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) role: Role,
}

impl Account {
    /// An account with a plaintext password and a role.
    #[must_use]
    pub fn new(username: impl Into<String>, password: impl Into<String>, role: Role) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            role,
        }
    }

    /// The user name.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("role", &self.role)
            .finish()
    }
}

/// The board the firmware believes it runs on (`/etc/kvm/hw`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Hardware {
    /// The first Cube boards; the only ones with an HDD LED line.
    #[default]
    Alpha,
    /// Later Cube boards.
    Beta,
    /// The PCIe card.
    Pcie,
}

impl Hardware {
    /// The name `GET /api/vm/hardware` answers.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Alpha => "Alpha",
            Self::Beta => "Beta",
            Self::Pcie => "PCIE",
        }
    }
}

/// Brute-force protection (`security.loginLockoutDuration` / `loginMaxFailures`); off
/// unless configured, as on the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lockout {
    /// Failed logins from one address that lock it.
    pub max_failures: u32,
    /// How long the lock lasts (firmware time, scaled like every delay).
    pub duration: Duration,
}

/// The complete configuration a simulator runs with.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub firmware: FirmwareVersion,
    pub accounts: Vec<Account>,
    pub authentication: bool,
    pub lockout: Option<Lockout>,
    pub layout: nanokvm_hid::Layout,
    pub width: u32,
    pub height: u32,
    pub hardware: Hardware,
    pub hostname: String,
    /// Plays the vendor's update server, if set.
    pub update_server: Option<String>,
}
