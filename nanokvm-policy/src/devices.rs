//! The device configuration file both frontends read: several named NanoKVMs, how to
//! reach and log in to each, the target's keyboard layout, and the policy per device.
//!
//! ```toml
//! [devices.lab]
//! url = "http://192.168.1.50"
//! user = "admin"
//! password_env = "LAB_KVM_PASSWORD"   # or password_file = "...", or password = "..."
//! tls_fingerprint = "sha256:..."      # optional; or ca_file = "..."
//! layout = "de"                       # the target's keyboard layout (default us)
//! target_os = "linux"                 # what reads it: windows (default) or linux
//! policy = "lab-policy.json"          # relative to this file
//! download_hosts = ["releases.ubuntu.com"]  # hosts the device may fetch images from
//! upload_dir = "/srv/images"          # where images may be uploaded from
//! ```
//!
//! Devices keep the order of the file; the first is the default. Unknown keys are
//! refused, with the device and key named, so a typo cannot quietly drop a setting. A
//! password written into the file works but is reported by [`DeviceConfig::warnings`]:
//! the environment or a file readable only by its owner is the place for it. Paths are
//! read relative to the configuration file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nanokvm_client::{Client, SecretString};
use nanokvm_hid::{Keymap, Layout, TargetOs};
use serde::Deserialize;

use crate::audit::{AuditKey, AuditLog};
use crate::error::{Error, error_chain};
use crate::gate::{Gate, ScreenSize};
use crate::reload::PolicyFile;
use crate::sqlite::SqliteStore;
use crate::{Policy, RECOMMENDED_POLICY};

/// A configuration file: the devices, in file order.
#[derive(Clone, Debug)]
pub struct DevicesConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// The devices; the first is the default.
    pub devices: Vec<DeviceConfig>,
}

/// Where a device's password comes from. Its `Debug` never shows a password.
#[derive(Clone)]
pub enum PasswordSource {
    /// An environment variable, read when the client is built.
    Env(String),
    /// A file (its first line), read when the client is built.
    File(PathBuf),
    /// Written in the configuration file.
    Inline(SecretString),
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(name) => write!(f, "Env({name})"),
            Self::File(path) => write!(f, "File({})", path.display()),
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

/// How to trust the device's TLS certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsConfig {
    /// Exactly the certificate with this SHA-256 fingerprint (`sha256:...`).
    Fingerprint(String),
    /// Certificates signed by the CA in this PEM file.
    CaFile(PathBuf),
}

/// One device.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// Its name: the `device` argument, the counters' `device` scope, the audit records.
    pub name: String,
    /// The device's address (`http://192.168.1.50`).
    pub url: String,
    /// The account.
    pub user: String,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// How to trust its certificate, for `https` URLs; the system's roots otherwise.
    pub tls: Option<TlsConfig>,
    /// The target machine's keyboard layout.
    pub layout: Layout,
    /// The target's operating system (`windows`, the default, or `linux`), which decides
    /// what its layout types.
    pub target_os: TargetOs,
    /// The device's policy file, when it has its own.
    pub policy: Option<PathBuf>,
    /// The hosts the device may download images from (`releases.ubuntu.com`, or
    /// `*.example.org` for a domain and its subdomains). Empty, the default, allows no
    /// download: a device that fetches any URL it is given can be turned against the
    /// operator's network.
    pub download_hosts: Vec<String>,
    /// The directory images may be uploaded from; no uploads without one.
    pub upload_dir: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    devices: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    url: String,
    #[serde(default = "admin")]
    user: String,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    password: Option<String>,
    tls_fingerprint: Option<String>,
    ca_file: Option<PathBuf>,
    layout: Option<String>,
    target_os: Option<String>,
    policy: Option<PathBuf>,
    #[serde(default)]
    download_hosts: Vec<String>,
    upload_dir: Option<PathBuf>,
}

fn admin() -> String {
    "admin".to_owned()
}

impl DevicesConfig {
    /// Reads and checks a configuration file.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the file, and the device and key where the mistake is:
    /// unreadable file, bad TOML, no devices, unknown keys, a missing URL, no or
    /// several password sources, both TLS settings, an unknown layout.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| config_error(path, e.to_string()))?;
        Self::parse(&text, path)
    }

    /// Checks the text of a configuration file read from `path` (which relative paths
    /// in it are resolved against).
    ///
    /// # Errors
    ///
    /// As [`DevicesConfig::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let file: File = toml::from_str(text).map_err(|e| config_error(path, e.to_string()))?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut devices = Vec::new();
        for (name, value) in file.devices {
            let at = |message: String| config_error(path, format!("[devices.{name}]: {message}"));
            let raw: RawDevice = value
                .try_into()
                .map_err(|e: toml::de::Error| at(e.to_string()))?;
            if !raw.url.contains("://") {
                return Err(at(format!(
                    "url `{}` has no scheme: write http://{} or https://{}",
                    raw.url, raw.url, raw.url
                )));
            }
            let password = match (raw.password_env, raw.password_file, raw.password) {
                (Some(var), None, None) => PasswordSource::Env(var),
                (None, Some(file), None) => PasswordSource::File(dir.join(file)),
                (None, None, Some(p)) => PasswordSource::Inline(SecretString::from(p)),
                (None, None, None) => {
                    return Err(at(
                        "no password: set password_env (an environment variable), \
                         password_file or password"
                            .to_owned(),
                    ));
                }
                _ => {
                    return Err(at(
                        "give one of password_env, password_file and password".to_owned()
                    ));
                }
            };
            let tls = match (raw.tls_fingerprint, raw.ca_file) {
                (Some(f), None) => Some(TlsConfig::Fingerprint(f)),
                (None, Some(ca)) => Some(TlsConfig::CaFile(dir.join(ca))),
                (None, None) => None,
                (Some(_), Some(_)) => {
                    return Err(at("give tls_fingerprint or ca_file, not both".to_owned()));
                }
            };
            let target_os = match raw.target_os {
                Some(name) => name
                    .parse::<TargetOs>()
                    .map_err(|e| at(format!("target_os: {e}")))?,
                None => TargetOs::Windows,
            };
            let layout = match raw.layout {
                Some(name) => Layout::from_name(&name).map_err(|e| at(format!("layout: {e}")))?,
                None => Layout::Us,
            };
            devices.push(DeviceConfig {
                name,
                url: raw.url,
                user: raw.user,
                password,
                tls,
                layout,
                target_os,
                policy: raw.policy.map(|p| dir.join(p)),
                download_hosts: raw.download_hosts,
                upload_dir: raw.upload_dir.map(|p| dir.join(p)),
            });
        }
        if devices.is_empty() {
            return Err(config_error(
                path,
                "no devices: add a [devices.NAME] table with its url and password".to_owned(),
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            devices,
        })
    }
}

impl DeviceConfig {
    /// The target's layout on its operating system.
    #[must_use]
    pub fn keymap(&self) -> Keymap {
        Keymap::new(self.layout, self.target_os)
    }

    /// What the operator should fix though it works: a password written into the file.
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        match self.password {
            PasswordSource::Inline(_) => vec![format!(
                "device `{}`: the password is written in the configuration file; \
                 password_env or password_file keeps it out of it",
                self.name
            )],
            _ => Vec::new(),
        }
    }

    /// A client for the device, with its password read now.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a password that cannot be read or a TLS setting that does
    /// not work; the client builder's own errors as [`Error::Config`] too.
    pub fn client(&self) -> Result<Client, Error> {
        let at = |message: String| Error::Config {
            path: PathBuf::from(format!("device `{}`", self.name)),
            message,
        };
        let password = match &self.password {
            PasswordSource::Env(var) => SecretString::from(std::env::var(var).map_err(|_| {
                at(format!(
                    "the environment variable {var} (password_env) is not set"
                ))
            })?),
            PasswordSource::File(file) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    at(format!(
                        "cannot read the password file {}: {e}",
                        file.display()
                    ))
                })?;
                SecretString::from(text.lines().next().unwrap_or_default().to_owned())
            }
            PasswordSource::Inline(p) => p.clone(),
        };
        let mut builder =
            Client::builder(self.url.clone()).credentials(self.user.clone(), password);
        match &self.tls {
            Some(TlsConfig::Fingerprint(f)) => builder = builder.tls_pin_sha256(f.clone()),
            Some(TlsConfig::CaFile(file)) => {
                let pem = std::fs::read(file)
                    .map_err(|e| at(format!("cannot read ca_file {}: {e}", file.display())))?;
                builder = builder.tls_ca_pem(pem);
            }
            None => {}
        }
        builder.build().map_err(|e| at(error_chain(&e)))
    }
}

/// The URL of a device given as a host, host:port or URL (`192.168.1.50`,
/// `kvm.lan:8080`, `https://kvm.lan`): a bare host gets `https://` when `https` is set,
/// `http://` otherwise.
#[must_use]
pub fn device_url(host: &str, https: bool) -> String {
    let host = host.trim().trim_end_matches('/');
    if host.contains("://") {
        host.to_owned()
    } else {
        let scheme = if https { "https" } else { "http" };
        format!("{scheme}://{host}")
    }
}

/// Where the frontends keep counters, approvals and audit logs by default:
/// `$XDG_DATA_HOME/nanokvm`, or `~/.local/share/nanokvm`.
#[must_use]
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("nanokvm");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/nanokvm"),
        None => PathBuf::from(".nanokvm"),
    }
}

/// Where the frontends look for the device configuration file when none is named:
/// `$XDG_CONFIG_HOME/nanokvm/config.toml`, or `~/.config/nanokvm/config.toml`.
#[must_use]
pub fn default_config_path() -> PathBuf {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => PathBuf::from("."),
        },
    };
    base.join("nanokvm").join("config.toml")
}

/// The audit key's file beside its log: `audit.jsonl` → `audit.jsonl.key`.
#[must_use]
pub fn audit_key_path(log: &Path) -> PathBuf {
    let mut name = log
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".key");
    log.with_file_name(name)
}

/// How a frontend opens the gate in front of one device: the counters in the state
/// directory's `counters.sqlite` (shared by every frontend and keyed by device), the
/// audit log and its key, and the device's policy (its own, else `policy`, else the
/// shipped [`RECOMMENDED_POLICY`]). A policy file is reloaded when it changes.
#[derive(Clone, Debug)]
pub struct GateSetup<'a> {
    /// The device.
    pub device: &'a DeviceConfig,
    /// The policy file for a device that names none.
    pub policy: Option<&'a Path>,
    /// Where counters live.
    pub state_dir: &'a Path,
    /// The audit log (its key beside it, made on first use). One writer per log: two
    /// processes need two logs.
    pub audit: PathBuf,
    /// The frame pointer pixels refer to before a screenshot was taken.
    pub screen: Option<ScreenSize>,
    /// How long a call that needs a human's approval waits for one.
    pub approval_timeout: Duration,
}

/// A gate [`GateSetup::open`] opened.
#[derive(Debug)]
pub struct OpenedGate {
    /// The gate.
    pub gate: Gate<SqliteStore>,
    /// No policy file was given: the shipped recommended policy applies, which the
    /// frontend should tell its user.
    pub recommended: bool,
}

impl GateSetup<'_> {
    /// Opens the stores and the policy and builds the gate over `client`.
    ///
    /// # Errors
    ///
    /// A state directory, counter store, audit log or key that cannot be opened, or a
    /// policy that does not load, each naming its file.
    pub fn open(self, client: Client) -> Result<OpenedGate, Error> {
        std::fs::create_dir_all(self.state_dir).map_err(|e| {
            config_error(
                self.state_dir,
                format!("cannot create the state directory: {e}"),
            )
        })?;
        let store = SqliteStore::open(self.state_dir.join("counters.sqlite"))?;
        let key = AuditKey::load_or_create(audit_key_path(&self.audit))?;
        let audit = AuditLog::open(&self.audit, key)?;
        let device = self.device;
        let mut builder = Gate::builder(client, store)
            .device(&device.name)
            .layout(device.layout)
            .target_os(device.target_os)
            .audit(audit)
            .approval_timeout(self.approval_timeout)
            .download_hosts(device.download_hosts.clone());
        if let Some(dir) = &device.upload_dir {
            builder = builder.upload_dir(dir.clone());
        }
        if let Some(screen) = self.screen {
            builder = builder.screen(screen);
        }
        Ok(match device.policy.as_deref().or(self.policy) {
            Some(path) => OpenedGate {
                gate: builder
                    .policy_file(PolicyFile::open(path)?, Duration::from_secs(2))
                    .build(),
                recommended: false,
            },
            None => OpenedGate {
                gate: builder
                    .policy(Policy::from_json(RECOMMENDED_POLICY)?)
                    .build(),
                recommended: true,
            },
        })
    }
}

fn config_error(path: &Path, message: String) -> Error {
    Error::Config {
        path: path.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DevicesConfig, String> {
        DevicesConfig::parse(text, Path::new("/etc/nanokvm/config.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn devices_keep_their_order_and_paths_are_relative_to_the_file() {
        let config = parse(
            r#"
            [devices.zeta]
            url = "http://10.0.0.2"
            password_env = "ZETA"
            layout = "de"
            target_os = "linux"
            policy = "zeta.json"

            [devices.alpha]
            url = "https://10.0.0.1"
            user = "ops"
            password_file = "secrets/alpha"
            tls_fingerprint = "sha256:00"
            "#,
        )
        .expect("valid");
        let names: Vec<&str> = config.devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        let zeta = &config.devices[0];
        assert_eq!((zeta.user.as_str(), zeta.layout), ("admin", Layout::De));
        assert_eq!(zeta.keymap(), Keymap::new(Layout::De, TargetOs::Linux));
        assert_eq!(config.devices[1].target_os, TargetOs::Windows);
        assert_eq!(
            zeta.policy.as_deref(),
            Some(Path::new("/etc/nanokvm/zeta.json"))
        );
        assert!(
            matches!(&config.devices[1].password, PasswordSource::File(p) if p == Path::new("/etc/nanokvm/secrets/alpha"))
        );
        assert!(zeta.warnings().is_empty());
    }

    #[test]
    fn mistakes_name_the_device_and_what_to_do() {
        let cases = [
            ("", "missing field `devices`"),
            ("[devices]", "no devices"),
            (
                "[devices.a]\nurl = \"http://x\"",
                "[devices.a]: no password",
            ),
            (
                "[devices.a]\nurl = \"x\"\npassword_env = \"P\"",
                "has no scheme",
            ),
            (
                "[devices.a]\nurl = \"http://x\"\npassword_env = \"P\"\npassword = \"p\"",
                "one of",
            ),
            (
                "[devices.a]\nurl = \"http://x\"\npassword_env = \"P\"\nlayuot = \"de\"",
                "unknown field `layuot`",
            ),
            (
                "[devices.a]\nurl = \"http://x\"\npassword_env = \"P\"\nlayout = \"xx\"",
                "layout",
            ),
            (
                "[devices.a]\nurl = \"http://x\"\npassword_env = \"P\"\ntls_fingerprint = \"a\"\nca_file = \"b\"",
                "not both",
            ),
        ];
        for (text, needle) in cases {
            let err = parse(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.contains("/etc/nanokvm/config.toml"), "{err}");
        }
    }

    #[test]
    fn an_inline_password_works_is_warned_about_and_never_shown() {
        let config =
            parse("[devices.a]\nurl = \"http://x\"\npassword = \"hunter2\"").expect("valid");
        let device = &config.devices[0];
        assert_eq!(device.warnings().len(), 1);
        assert!(!format!("{device:?}").contains("hunter2"));
        assert!(device.client().is_ok());
    }

    #[test]
    fn the_default_config_file_is_nanokvm_config_toml() {
        assert!(default_config_path().ends_with("nanokvm/config.toml"));
    }

    #[test]
    fn a_missing_password_variable_is_named() {
        let config = parse(
            "[devices.a]\nurl = \"http://x\"\npassword_env = \"NANOKVM_TEST_SURELY_UNSET_VAR\"",
        )
        .expect("valid");
        let err = config.devices[0].client().expect_err("unset").to_string();
        assert!(err.contains("NANOKVM_TEST_SURELY_UNSET_VAR"), "{err}");
    }
}
