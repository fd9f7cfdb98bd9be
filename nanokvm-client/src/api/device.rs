//! Device information, names, reboot, versions, the account and user management, and
//! the device's own services: SSH, mDNS and the virtual USB network and disk devices.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::capabilities::{FirmwareVersion, Hardware};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::password;
use crate::wire::{ApiRequest, Method, null_as_empty};

/// What `GET /api/vm/info` reports.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct DeviceInfo {
    /// The wired and wireless interfaces that are up, with their first IPv4 address.
    pub interfaces: Vec<Interface>,
    /// The mDNS name (`kvm-abcd.local`) when avahi runs.
    pub mdns: Option<String>,
    /// The system image version (`v1.4.2`), or what the device could read.
    pub image: String,
    /// The application version, which gates features.
    pub application: FirmwareVersion,
    /// The device key derived from the chip's unique ID.
    pub device_key: String,
}

/// One network interface of the device.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Interface {
    /// The interface name (`eth0`, `wlan0`).
    pub name: String,
    /// Its IPv4 address.
    pub address: String,
    /// Wired or wireless.
    pub kind: InterfaceKind,
}

/// Whether an interface is wired or wireless. Serializes as `wired`, `wireless` or the
/// firmware's value verbatim.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum InterfaceKind {
    /// Ethernet.
    Wired,
    /// Wi-Fi.
    Wireless,
    /// Something else, verbatim.
    Other(String),
}

impl InterfaceKind {
    fn json_name(&self) -> &str {
        match self {
            Self::Wired => "wired",
            Self::Wireless => "wireless",
            Self::Other(s) => s,
        }
    }
}

crate::serialize::serialize_as_str!(InterfaceKind, json_name);

#[derive(Deserialize)]
struct InfoWire {
    #[serde(default, deserialize_with = "null_as_empty")]
    ips: Vec<IpWire>,
    #[serde(default)]
    mdns: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    application: String,
    #[serde(default, rename = "deviceKey")]
    device_key: String,
}

#[derive(Deserialize)]
struct IpWire {
    name: String,
    addr: String,
    #[serde(default, rename = "type")]
    kind: String,
}

impl From<InfoWire> for DeviceInfo {
    fn from(w: InfoWire) -> Self {
        Self {
            interfaces: w
                .ips
                .into_iter()
                .map(|ip| Interface {
                    name: ip.name,
                    address: ip.addr,
                    kind: match ip.kind.as_str() {
                        "Wired" => InterfaceKind::Wired,
                        "Wireless" => InterfaceKind::Wireless,
                        _ => InterfaceKind::Other(ip.kind),
                    },
                })
                .collect(),
            mdns: (!w.mdns.is_empty()).then_some(w.mdns),
            image: w.image,
            application: FirmwareVersion::parse(&w.application),
            device_key: w.device_key,
        }
    }
}

/// The running and the latest available application version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ApplicationVersion {
    /// The installed version.
    pub current: FirmwareVersion,
    /// The newest version on the update server.
    pub latest: FirmwareVersion,
}

/// An account role (firmware with multiple users). Serializes as `admin`, `user` or
/// the firmware's value verbatim.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Role {
    /// May do everything.
    Admin,
    /// Video, keyboard, mouse, paste, power and Wake-on-LAN only.
    User,
    /// A role this client does not know, verbatim.
    Other(String),
}

impl Role {
    fn from_wire(s: &str) -> Self {
        match s {
            "admin" => Self::Admin,
            "user" => Self::User,
            other => Self::Other(other.to_owned()),
        }
    }

    fn as_wire(&self) -> &str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
            Self::Other(s) => s,
        }
    }
}

crate::serialize::serialize_as_str!(Role, as_wire);

/// The logged-in account.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Account {
    /// The user name.
    pub username: String,
    /// The role, on firmware with roles.
    pub role: Option<Role>,
}

/// One account on a multi-user device.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct User {
    /// The user name.
    pub username: String,
    /// The role.
    pub role: Role,
    /// Whether the account may log in.
    pub enabled: bool,
    /// Whether this is the built-in device-owner account.
    pub system_account: bool,
}

/// Changes to an existing user; at least one field must be set.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct UserUpdate {
    /// A new role.
    pub role: Option<Role>,
    /// Enable or disable the account.
    pub enabled: Option<bool>,
}

/// A USB device the NanoKVM can present to the target besides keyboard and mouse.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VirtualDevice {
    /// A USB network adapter (RNDIS/NCM) to reach the NanoKVM from the target.
    Network,
    /// A USB disk backed by the NanoKVM's storage.
    Disk,
}

impl VirtualDevice {
    fn as_wire(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Disk => "disk",
        }
    }
}

/// Which virtual USB devices are presented to the target.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct VirtualDevices {
    /// The USB network adapter.
    pub network: bool,
    /// The USB disk.
    pub disk: bool,
}

/// A service of the NanoKVM that can be switched on and off.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Service {
    /// The SSH server (`/api/vm/ssh`).
    Ssh,
    /// mDNS announcements (`/api/vm/mdns`), which make `<hostname>.local` resolve.
    Mdns,
}

impl Service {
    fn path(self) -> &'static str {
        match self {
            Self::Ssh => "/api/vm/ssh",
            Self::Mdns => "/api/vm/mdns",
        }
    }
}

/// The request that switches `service` on or off (pure).
pub(crate) fn service_request(service: Service, on: bool) -> ApiRequest {
    let action = if on { "enable" } else { "disable" };
    ApiRequest::post(format!("{}/{action}", service.path()), json!({})).idempotent()
}

/// Checks a user name against the firmware's rule before sending it.
pub(crate) fn validate_username(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && name.len() <= 32 {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "user name {name:?} must be 1-32 letters, digits, `_`, `.` or `-`, starting with a letter or digit"
        )))
    }
}

/// Checks a new password against the firmware's length rule (8-72 bytes).
pub(crate) fn validate_new_password(password: &SecretString) -> Result<()> {
    let len = password.expose_secret().len();
    if (8..=72).contains(&len) {
        Ok(())
    } else {
        Err(Error::invalid("a new password must be 8 to 72 bytes long"))
    }
}

/// Device information and administration. Obtain with [`Client::device`].
#[derive(Clone, Copy, Debug)]
pub struct DeviceHandler<'a> {
    pub(crate) client: &'a Client,
}

impl DeviceHandler<'_> {
    /// Addresses, mDNS name, image and application version (`GET /api/vm/info`).
    ///
    /// # Errors
    ///
    /// Transport, authentication or decoding errors.
    pub async fn info(&self) -> Result<DeviceInfo> {
        let wire: InfoWire = self.client.call(ApiRequest::get("/api/vm/info")).await?;
        Ok(wire.into())
    }

    /// The hardware kind (`GET /api/vm/hardware`).
    ///
    /// # Errors
    ///
    /// Transport, authentication or decoding errors.
    pub async fn hardware(&self) -> Result<Hardware> {
        #[derive(Deserialize)]
        struct Wire {
            version: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/vm/hardware"))
            .await?;
        Ok(Hardware::from_wire(&wire.version))
    }

    /// The device's host name.
    ///
    /// # Errors
    ///
    /// Transport, authentication or decoding errors.
    pub async fn hostname(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Wire {
            hostname: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/vm/hostname"))
            .await?;
        Ok(wire.hostname)
    }

    /// Sets the host name (admin).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty name; device and transport errors.
    pub async fn set_hostname(&self, hostname: &str) -> Result<()> {
        if hostname.trim().is_empty() {
            return Err(Error::invalid("the host name must not be empty"));
        }
        let req =
            ApiRequest::post("/api/vm/hostname", json!({ "hostname": hostname })).idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// The web UI's page title.
    ///
    /// # Errors
    ///
    /// Transport, authentication or decoding errors.
    pub async fn web_title(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Wire {
            title: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/vm/web-title"))
            .await?;
        Ok(wire.title)
    }

    /// Sets the web UI's page title; `""` restores the default (admin).
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn set_web_title(&self, title: &str) -> Result<()> {
        let req = ApiRequest::post("/api/vm/web-title", json!({ "title": title })).idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Reboots the NanoKVM itself, not the target (admin). Never repeated.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn reboot(&self) -> Result<()> {
        let req = ApiRequest::post("/api/vm/system/reboot", json!({}));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Whether `service` runs (admin).
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors.
    pub async fn service_enabled(&self, service: Service) -> Result<bool> {
        #[derive(Deserialize)]
        struct Wire {
            enabled: bool,
        }
        let wire: Wire = self.client.call(ApiRequest::get(service.path())).await?;
        Ok(wire.enabled)
    }

    /// Starts `service` and keeps it on across reboots (admin).
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn enable_service(&self, service: Service) -> Result<()> {
        let req = service_request(service, true);
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Stops `service` and keeps it off across reboots (admin). Stopping SSH does not
    /// end SSH sessions that are already open.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn disable_service(&self, service: Service) -> Result<()> {
        let req = service_request(service, false);
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Which virtual USB devices the target sees (admin).
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors.
    pub async fn virtual_devices(&self) -> Result<VirtualDevices> {
        #[derive(Deserialize)]
        struct Wire {
            network: bool,
            disk: bool,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/vm/device/virtual"))
            .await?;
        Ok(VirtualDevices {
            network: wire.network,
            disk: wire.disk,
        })
    }

    /// Switches a virtual USB device over (on to off, off to on) and returns whether it
    /// is now on (admin). The firmware only toggles, so this is never repeated; the
    /// target sees the whole USB device re-enumerate, keyboard and mouse included.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn toggle_virtual_device(&self, device: VirtualDevice) -> Result<bool> {
        #[derive(Deserialize)]
        struct Wire {
            on: bool,
        }
        let req = ApiRequest::post(
            "/api/vm/device/virtual",
            json!({ "device": device.as_wire() }),
        )
        .extra_timeout(Duration::from_secs(5));
        let wire: Wire = self.client.call(req).await?;
        Ok(wire.on)
    }

    /// The installed and latest application version (admin). The device asks its update
    /// server, so an offline device answers with a device error.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn application_version(&self) -> Result<ApplicationVersion> {
        #[derive(Deserialize)]
        struct Wire {
            current: String,
            latest: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/application/version"))
            .await?;
        Ok(ApplicationVersion {
            current: FirmwareVersion::parse(&wire.current),
            latest: FirmwareVersion::parse(&wire.latest),
        })
    }

    /// The logged-in account and, on firmware with roles, its role.
    ///
    /// # Errors
    ///
    /// Transport, authentication or decoding errors.
    pub async fn account(&self) -> Result<Account> {
        #[derive(Deserialize)]
        struct Wire {
            username: String,
            #[serde(default)]
            role: Option<String>,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/auth/account"))
            .await?;
        Ok(Account {
            username: wire.username,
            role: wire.role.as_deref().map(Role::from_wire),
        })
    }

    /// Whether the default password was changed (`GET /api/auth/password`).
    ///
    /// # Errors
    ///
    /// Transport, authentication or decoding errors.
    pub async fn password_changed(&self) -> Result<bool> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "isUpdated")]
            is_updated: bool,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/auth/password"))
            .await?;
        Ok(wire.is_updated)
    }

    /// Changes the logged-in account's password. Firmware after 2.5.0 checks `current`
    /// and revokes every session of the account; 2.5.0 and earlier take the user name
    /// instead. Either way, build a new client with the new password afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a new password outside 8-72 bytes (on firmware that
    /// enforces it); device and transport errors.
    pub async fn change_password(&self, current: &SecretString, new: &SecretString) -> Result<()> {
        let caps = self.client.capabilities().await?;
        let body = if caps.password_change_needs_current() {
            validate_new_password(new)?;
            json!({
                "currentPassword": password::obfuscate(current).expose_secret(),
                "password": password::obfuscate(new).expose_secret(),
            })
        } else {
            let account = self.account().await?;
            json!({
                "username": account.username,
                "password": password::obfuscate(new).expose_secret(),
            })
        };
        let req = ApiRequest::post("/api/auth/password", body);
        self.client.call::<Value>(req).await.map(drop)
    }

    async fn require_roles(&self, operation: &str) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_roles(),
            operation,
            "firmware with multiple users (after 2.5.0)",
        )
    }

    /// Every account (admin, firmware with roles).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on single-user firmware; device and transport errors.
    pub async fn users(&self) -> Result<Vec<User>> {
        self.require_roles("user management").await?;
        #[derive(Deserialize)]
        struct Wire {
            #[serde(deserialize_with = "null_as_empty")]
            users: Vec<UserWire>,
        }
        #[derive(Deserialize)]
        struct UserWire {
            username: String,
            role: String,
            enabled: bool,
            #[serde(default, rename = "systemAccount")]
            system_account: bool,
        }
        let wire: Wire = self.client.call(ApiRequest::get("/api/auth/users")).await?;
        Ok(wire
            .users
            .into_iter()
            .map(|u| User {
                role: Role::from_wire(&u.role),
                username: u.username,
                enabled: u.enabled,
                system_account: u.system_account,
            })
            .collect())
    }

    /// Creates an account (admin, firmware with roles).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad user name or password; [`Error::NotSupported`];
    /// device and transport errors.
    pub async fn create_user(
        &self,
        username: &str,
        password: &SecretString,
        role: Role,
    ) -> Result<()> {
        validate_username(username)?;
        validate_new_password(password)?;
        self.require_roles("user management").await?;
        let req = ApiRequest::post(
            "/api/auth/users",
            json!({
                "username": username,
                "password": password::obfuscate(password).expose_secret(),
                "role": role.as_wire(),
            }),
        );
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Changes an account's role or enabled flag (admin, firmware with roles).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when nothing would change; [`Error::NotSupported`]; device
    /// and transport errors.
    pub async fn update_user(&self, username: &str, update: &UserUpdate) -> Result<()> {
        validate_username(username)?;
        if update.role.is_none() && update.enabled.is_none() {
            return Err(Error::invalid(
                "a user update must change the role or the enabled flag",
            ));
        }
        self.require_roles("user management").await?;
        let mut body = serde_json::Map::new();
        if let Some(role) = &update.role {
            body.insert("role".into(), role.as_wire().into());
        }
        if let Some(enabled) = update.enabled {
            body.insert("enabled".into(), enabled.into());
        }
        let req = ApiRequest::post(format!("/api/auth/users/{username}"), Value::Object(body))
            .with_method(Method::Put)
            .idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Deletes an account (admin, firmware with roles).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`]; device and transport errors.
    pub async fn delete_user(&self, username: &str) -> Result<()> {
        validate_username(username)?;
        self.require_roles("user management").await?;
        let mut req =
            ApiRequest::get(format!("/api/auth/users/{username}")).with_method(Method::Delete);
        req.idempotent = false;
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Sets another account's password (admin, firmware with roles).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`]; [`Error::NotSupported`]; device and transport errors.
    pub async fn reset_user_password(&self, username: &str, password: &SecretString) -> Result<()> {
        validate_username(username)?;
        validate_new_password(password)?;
        self.require_roles("user management").await?;
        let req = ApiRequest::post(
            format!("/api/auth/users/{username}/password"),
            json!({ "password": password::obfuscate(password).expose_secret() }),
        );
        self.client.call::<Value>(req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_switch_by_path() {
        assert_eq!(
            service_request(Service::Ssh, false).endpoint(),
            "POST /api/vm/ssh/disable"
        );
        assert_eq!(
            service_request(Service::Mdns, true).endpoint(),
            "POST /api/vm/mdns/enable"
        );
    }

    #[test]
    fn user_names_follow_the_firmware_rule() {
        for ok in ["admin", "a", "Bob_2.x-y", &"a".repeat(32)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "_x", "a b", "é", &"a".repeat(33), "../x"] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn new_passwords_need_8_to_72_bytes() {
        assert!(validate_new_password(&SecretString::from("1234567")).is_err());
        assert!(validate_new_password(&SecretString::from("12345678")).is_ok());
        assert!(validate_new_password(&SecretString::from("x".repeat(73))).is_err());
        let err = validate_new_password(&SecretString::from("short")).unwrap_err();
        assert!(!err.to_string().contains("short"));
    }
}
