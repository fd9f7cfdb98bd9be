//! What the simulator plays: firmware version, accounts, hardware and target machine.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::Error;

/// A firmware release the simulator can play. The API differs between them in the ways
/// `docs/protocol.md` lists (token handling, roles, WebSocket framing, limits).
///
/// The Cube and PCIe releases (2.x) are one code base and are ordered by release; the
/// NanoKVM Pro's 1.2.13 is another code base, and sorts after them only because
/// `Ord` needs some order: compare Cube versions with each other only.
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
    /// The NanoKVM Pro's firmware 1.2.13 (`sipeed/NanoKVM-Pro`): plaintext login, the
    /// token in the body, cookie or `Authorization: Bearer`, no authentication for
    /// loopback clients, and its own route table. It runs only on [`Hardware::Pro`].
    Pro1_2_13,
}

impl FirmwareVersion {
    /// The version string, as `GET /api/vm/info` reports it in `application`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2_3_1 => "2.3.1",
            Self::V2_5_0 => "2.5.0",
            Self::V2_5_1 => "2.5.1",
            Self::Pro1_2_13 => "1.2.13",
        }
    }

    /// Whether this is the NanoKVM Pro's firmware.
    #[must_use]
    pub const fn is_pro(self) -> bool {
        matches!(self, Self::Pro1_2_13)
    }

    /// Whether this release has accounts with roles and the server-set cookie.
    #[must_use]
    pub(crate) fn is_head(self) -> bool {
        self == Self::V2_5_1
    }

    /// Whether this is a Cube release of 2.5.0 or newer (the Pro firmware is not).
    #[must_use]
    pub(crate) fn at_least_2_5_0(self) -> bool {
        matches!(self, Self::V2_5_0 | Self::V2_5_1)
    }

    /// Whether `/api/ws` speaks the binary protocol (every release but 2.3.1).
    #[must_use]
    pub(crate) fn binary_ws(self) -> bool {
        self != Self::V2_3_1
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
            "1.2.13" | "pro" | "Pro" => Ok(Self::Pro1_2_13),
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

/// The board the simulator plays: the Cube and PCIe boards run the same firmware and
/// differ only in their GPIO lines (`/etc/kvm/hw`); the NanoKVM Pro runs its own firmware
/// ([`FirmwareVersion::Pro1_2_13`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Hardware {
    /// The first Cube boards; the only ones whose firmware reads an HDD LED line.
    #[default]
    Alpha,
    /// Later Cube boards.
    Beta,
    /// The PCIe card.
    Pcie,
    /// The NanoKVM Pro (Desk or ATX board), with the Pro firmware.
    Pro,
}

/// The sysfs GPIO value files a board's firmware drives and reads (`docs/protocol.md`,
/// "Power and LEDs"; the Pro's from its `config/hardware.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GpioLines {
    /// The reset button line.
    pub reset: &'static str,
    /// The power button line.
    pub power: &'static str,
    /// The power LED line (active low).
    pub power_led: &'static str,
    /// The HDD LED line, when the firmware reads one (Alpha only).
    pub hdd_led: Option<&'static str>,
}

impl Hardware {
    /// Every board, in the order the CLI lists them.
    pub const ALL: [Self; 4] = [Self::Alpha, Self::Beta, Self::Pcie, Self::Pro];

    /// The name `GET /api/vm/hardware` answers.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Alpha => "Alpha",
            Self::Beta => "Beta",
            Self::Pcie => "PCIE",
            Self::Pro => "Pro",
        }
    }

    /// The lower-case name the command line takes (`/etc/kvm/hw`'s spelling).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Alpha => "alpha",
            Self::Beta => "beta",
            Self::Pcie => "pcie",
            Self::Pro => "pro",
        }
    }

    /// The GPIO lines of this board.
    #[must_use]
    pub const fn gpio_lines(self) -> GpioLines {
        match self {
            Self::Alpha => GpioLines {
                reset: "/sys/class/gpio/gpio507/value",
                power: "/sys/class/gpio/gpio503/value",
                power_led: "/sys/class/gpio/gpio504/value",
                hdd_led: Some("/sys/class/gpio/gpio505/value"),
            },
            Self::Beta | Self::Pcie => GpioLines {
                reset: "/sys/class/gpio/gpio505/value",
                power: "/sys/class/gpio/gpio503/value",
                power_led: "/sys/class/gpio/gpio504/value",
                hdd_led: None,
            },
            // The Pro board has an HDD LED line, but its firmware never reads it.
            Self::Pro => GpioLines {
                reset: "/sys/class/gpio/gpio35/value",
                power: "/sys/class/gpio/gpio7/value",
                power_led: "/sys/class/gpio/gpio75/value",
                hdd_led: None,
            },
        }
    }

    /// Whether this board runs the Pro firmware.
    #[must_use]
    pub const fn is_pro(self) -> bool {
        matches!(self, Self::Pro)
    }
}

impl fmt::Display for Hardware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hardware {
    type Err = Error;

    /// Parses `alpha`, `beta`, `pcie` or `pro`, in any case.
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::Config(format!("unknown hardware {s:?}")))
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

/// A device the target's firmware can boot from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BootDevice {
    /// The target's own disk.
    HardDisk,
    /// The NanoKVM's virtual CD-ROM drive: boots when an image is mounted as a CD-ROM.
    CdRom,
    /// PXE network boot; no boot server answers, so it always fails after a timeout.
    Network,
}

impl BootDevice {
    /// The name the firmware setup screen shows.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::HardDisk => "Hard Disk",
            Self::CdRom => "CD-ROM",
            Self::Network => "Network (PXE)",
        }
    }
}

/// The virtual target machine behind the KVM: who may log in, how it reads the keyboard,
/// where it boots from and how long an installation takes. Built by value and handed to
/// [`SimulatorBuilder::machine`](crate::SimulatorBuilder::machine); the password is kept
/// out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct MachineConfig {
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) hostname: String,
    pub(crate) layout: nanokvm_hid::Layout,
    pub(crate) boot_order: [BootDevice; 3],
    pub(crate) install_time: Duration,
    pub(crate) logged_in: bool,
    pub(crate) blank_disk: bool,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            user: "user".to_owned(),
            password: "password".to_owned(),
            hostname: "target".to_owned(),
            layout: nanokvm_hid::Layout::Us,
            boot_order: [BootDevice::HardDisk, BootDevice::CdRom, BootDevice::Network],
            install_time: Duration::from_secs(60),
            logged_in: false,
            blank_disk: false,
        }
    }
}

impl MachineConfig {
    /// The defaults: user `user` with password `password`, host name `target`, a US
    /// keyboard, boot order hard disk, CD-ROM, network, a 60 s installation, and a
    /// machine that starts at its login prompt.
    pub fn new() -> Self {
        Self::default()
    }

    /// The account that can log in on the target's console.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// That account's password.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = password.into();
        self
    }

    /// The target's host name, shown in its login prompt (`target login:`).
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = hostname.into();
        self
    }

    /// The keyboard layout the target decodes key reports with: text encoded for
    /// another layout comes out as a real target would show it.
    pub fn layout(mut self, layout: nanokvm_hid::Layout) -> Self {
        self.layout = layout;
        self
    }

    /// The boot order kept in the target's firmware settings, first device first. A
    /// device listed twice is tried once; devices left out are appended in their
    /// default order.
    pub fn boot_order(mut self, order: impl IntoIterator<Item = BootDevice>) -> Self {
        let mut out: Vec<BootDevice> = Vec::with_capacity(3);
        let defaults = [BootDevice::HardDisk, BootDevice::CdRom, BootDevice::Network];
        for d in order.into_iter().chain(defaults) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        self.boot_order = [out[0], out[1], out[2]];
        self
    }

    /// How long an installation from a mounted CD-ROM takes (firmware time, scaled).
    pub fn install_time(mut self, time: Duration) -> Self {
        self.install_time = time;
        self
    }

    /// Whether a target that starts powered on is already logged in at a shell
    /// (`true`) or waits at its login prompt (`false`, the default).
    pub fn logged_in(mut self, logged_in: bool) -> Self {
        self.logged_in = logged_in;
        self
    }

    /// Whether the target's disk starts without a system (`false` by default: a system
    /// is installed). A blank disk boots nothing until an installation from a CD-ROM
    /// image has run; a target that starts powered on then goes through its boot, ending
    /// at "No bootable device" when no CD-ROM is mounted.
    pub fn blank_disk(mut self, blank: bool) -> Self {
        self.blank_disk = blank;
        self
    }

    /// The configured user name.
    #[must_use]
    pub fn user_name(&self) -> &str {
        &self.user
    }

    /// The configured layout.
    #[must_use]
    pub fn keyboard_layout(&self) -> nanokvm_hid::Layout {
        self.layout
    }
}

impl fmt::Debug for MachineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("hostname", &self.hostname)
            .field("layout", &self.layout)
            .field("boot_order", &self.boot_order)
            .field("install_time", &self.install_time)
            .field("logged_in", &self.logged_in)
            .field("blank_disk", &self.blank_disk)
            .finish()
    }
}

/// The complete configuration a simulator runs with.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub firmware: FirmwareVersion,
    pub accounts: Vec<Account>,
    pub authentication: bool,
    pub lockout: Option<Lockout>,
    pub machine: MachineConfig,
    pub width: u32,
    pub height: u32,
    pub hardware: Hardware,
    pub hostname: String,
    /// Plays the vendor's update server, if set.
    pub update_server: Option<String>,
}
