//! The NanoKVM's own system settings: its OLED display, swap file, memory limit, HTTPS,
//! autostart and user scripts, update channel and update server, and the Tailscale
//! extension. All of them are admin routes.
//!
//! None of these touch the target machine; several restart parts of the device (HTTPS
//! restarts the web server), which the method documentation says.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::{ApiRequest, Method, null_as_empty};

/// When the OLED display goes dark. Serializes as `"never"` or `{"after_secs": 600}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OledSleep {
    /// It stays on.
    Never,
    /// After this long without activity: 10 seconds to one hour, in whole seconds.
    #[serde(rename = "after_secs", serialize_with = "crate::serialize::secs")]
    After(Duration),
}

/// The smallest memory limit the firmware applies, in megabytes: it raises anything
/// lower to this.
pub const MIN_MEMORY_LIMIT_MB: u32 = 50;

/// Whether a user script runs while the request waits, or in the background.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptMode {
    /// The device answers when the script ends, with its output.
    Foreground,
    /// The device starts the script and answers at once.
    Background,
}

/// The update server the device asks for new versions (firmware after 2.5.0).
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct UpdateServer {
    /// Whether the custom server is used instead of Sipeed's.
    pub enabled: bool,
    /// The custom server's URL.
    pub url: String,
}

/// The Tailscale extension's state. Serializes as `not_installed`, `running`, ..., an
/// unknown state verbatim.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum TailscaleState {
    /// Not installed.
    NotInstalled,
    /// Installed, not running.
    NotRunning,
    /// Running, not logged in.
    NotLoggedIn,
    /// Logged in, stopped.
    Stopped,
    /// Running and connected.
    Running,
    /// A state this client does not know, verbatim.
    Other(String),
}

impl TailscaleState {
    fn json_name(&self) -> &str {
        match self {
            Self::NotInstalled => "not_installed",
            Self::NotRunning => "not_running",
            Self::NotLoggedIn => "not_logged_in",
            Self::Stopped => "stopped",
            Self::Running => "running",
            Self::Other(s) => s,
        }
    }
}

crate::serialize::serialize_as_str!(TailscaleState, json_name);

/// What `GET /api/extensions/tailscale/status` reports.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct TailscaleStatus {
    /// The state.
    pub state: TailscaleState,
    /// The device's name in the tailnet, when known.
    pub name: Option<String>,
    /// Its tailnet address, when known.
    pub ip: Option<String>,
    /// The account it is logged in with, when known.
    pub account: Option<String>,
}

/// An action on the Tailscale extension.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TailscaleAction {
    /// Download and install it.
    Install,
    /// Remove it.
    Uninstall,
    /// `tailscale up`.
    Up,
    /// `tailscale down`.
    Down,
    /// Log out of the tailnet.
    Logout,
    /// Start the daemon.
    Start,
    /// Stop the daemon.
    Stop,
    /// Restart the daemon.
    Restart,
}

impl TailscaleAction {
    fn path(self) -> &'static str {
        match self {
            Self::Install => "/api/extensions/tailscale/install",
            Self::Uninstall => "/api/extensions/tailscale/uninstall",
            Self::Up => "/api/extensions/tailscale/up",
            Self::Down => "/api/extensions/tailscale/down",
            Self::Logout => "/api/extensions/tailscale/logout",
            Self::Start => "/api/extensions/tailscale/start",
            Self::Stop => "/api/extensions/tailscale/stop",
            Self::Restart => "/api/extensions/tailscale/restart",
        }
    }
}

/// Builds the OLED request, refusing values the firmware refuses (pure).
pub(crate) fn oled_request(sleep: OledSleep) -> Result<ApiRequest> {
    let seconds = match sleep {
        OledSleep::Never => 0,
        OledSleep::After(d) if d.subsec_nanos() == 0 && (10..=3600).contains(&d.as_secs()) => {
            d.as_secs()
        }
        OledSleep::After(d) => {
            return Err(Error::invalid(format!(
                "the OLED sleeps after 10 to 3600 whole seconds, not {d:?}"
            )));
        }
    };
    Ok(ApiRequest::post("/api/vm/oled", json!({ "sleep": seconds })).idempotent())
}

/// Checks a script name before it becomes part of a path or a body (pure).
pub(crate) fn validate_script_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "script name {name:?} must be letters, digits, `.`, `_` or `-`"
        )))
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[derive(Deserialize)]
struct FilesWire {
    #[serde(default, deserialize_with = "null_as_empty")]
    files: Vec<String>,
}

#[derive(Deserialize)]
struct EnabledWire {
    enabled: bool,
}

/// The device's own settings. Obtain with [`Client::system`].
#[derive(Clone, Copy, Debug)]
pub struct SystemHandler<'a> {
    pub(crate) client: &'a Client,
}

impl SystemHandler<'_> {
    async fn require_cube(&self, operation: &str) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(!caps.is_pro(), operation, "a NanoKVM Cube or PCIe")
    }

    async fn ok(&self, req: ApiRequest) -> Result<()> {
        self.client.call::<Value>(req).await.map(drop)
    }

    /// The OLED display's sleep setting, or `None` when the device has no OLED.
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors.
    pub async fn oled(&self) -> Result<Option<OledSleep>> {
        #[derive(Deserialize)]
        struct Wire {
            exist: bool,
            #[serde(default)]
            sleep: u64,
        }
        let wire: Wire = self.client.call(ApiRequest::get("/api/vm/oled")).await?;
        Ok(wire.exist.then_some(match wire.sleep {
            0 => OledSleep::Never,
            s => OledSleep::After(Duration::from_secs(s)),
        }))
    }

    /// Sets when the OLED display goes dark.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a delay the firmware refuses (nothing sent); device
    /// and transport errors.
    pub async fn set_oled_sleep(&self, sleep: OledSleep) -> Result<()> {
        self.ok(oled_request(sleep)?).await
    }

    /// The swap file's size in megabytes; 0 when there is none.
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors.
    pub async fn swap_mb(&self) -> Result<u64> {
        #[derive(Deserialize)]
        struct Wire {
            size: u64,
        }
        let wire: Wire = self.client.call(ApiRequest::get("/api/vm/swap")).await?;
        Ok(wire.size)
    }

    /// Creates, resizes or (with 0) removes the swap file. Writing a large file takes a
    /// while; the request waits up to a minute longer than usual.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn set_swap_mb(&self, size_mb: u64) -> Result<()> {
        let req = ApiRequest::post("/api/vm/swap", json!({ "size": size_mb }))
            .idempotent()
            .extra_timeout(Duration::from_secs(60));
        self.ok(req).await
    }

    /// The web server's memory limit (Go's `GOMEMLIMIT`) in megabytes, or `None` when
    /// there is none.
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors.
    pub async fn memory_limit_mb(&self) -> Result<Option<u64>> {
        #[derive(Deserialize)]
        struct Wire {
            enabled: bool,
            #[serde(default)]
            limit: u64,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/vm/memory/limit"))
            .await?;
        Ok(wire.enabled.then_some(wire.limit))
    }

    /// Sets the web server's memory limit in megabytes, or removes it with `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] below [`MIN_MEMORY_LIMIT_MB`] (nothing sent); device and
    /// transport errors.
    pub async fn set_memory_limit_mb(&self, limit_mb: Option<u32>) -> Result<()> {
        let body = match limit_mb {
            Some(mb) if mb < MIN_MEMORY_LIMIT_MB => {
                return Err(Error::invalid(format!(
                    "the memory limit is at least {MIN_MEMORY_LIMIT_MB} MB, not {mb}"
                )));
            }
            Some(mb) => json!({ "enabled": true, "limit": mb }),
            None => json!({ "enabled": false }),
        };
        self.ok(ApiRequest::post("/api/vm/memory/limit", body).idempotent())
            .await
    }

    /// Switches the web server to HTTPS (with HTTP redirecting to it). **The web server
    /// restarts**: reconnect with an `https://` client afterwards. Never repeated.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn enable_https(&self) -> Result<()> {
        self.ok(ApiRequest::post("/api/vm/tls", json!({ "enabled": true })))
            .await
    }

    /// Switches the web server back to plain HTTP. **The web server restarts.** Never
    /// repeated.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn disable_https(&self) -> Result<()> {
        self.ok(ApiRequest::post("/api/vm/tls", json!({ "enabled": false })))
            .await
    }

    /// The names of the scripts the device runs at boot (2.3.1 and later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.3.1 and on the Pro; device, transport and
    /// decoding errors.
    pub async fn autostart_scripts(&self) -> Result<Vec<String>> {
        self.require_autostart().await?;
        let wire: FilesWire = self
            .client
            .call(ApiRequest::get("/api/vm/autostart"))
            .await?;
        Ok(wire.files)
    }

    /// The text of one autostart script.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a name with other than letters, digits, `.`, `_` and
    /// `-` (nothing sent); as [`SystemHandler::autostart_scripts`].
    pub async fn autostart_script(&self, name: &str) -> Result<String> {
        validate_script_name(name)?;
        self.require_autostart().await?;
        self.client
            .call(ApiRequest::get(format!("/api/vm/autostart/{name}")))
            .await
    }

    /// Creates or replaces an autostart script.
    ///
    /// # Errors
    ///
    /// As [`SystemHandler::autostart_script`].
    pub async fn set_autostart_script(&self, name: &str, content: &str) -> Result<()> {
        validate_script_name(name)?;
        self.require_autostart().await?;
        let req = ApiRequest::post(
            format!("/api/vm/autostart/{name}"),
            json!({ "content": content }),
        )
        .idempotent();
        self.ok(req).await
    }

    /// Deletes an autostart script.
    ///
    /// # Errors
    ///
    /// As [`SystemHandler::autostart_script`].
    pub async fn delete_autostart_script(&self, name: &str) -> Result<()> {
        validate_script_name(name)?;
        self.require_autostart().await?;
        let req = ApiRequest::post(format!("/api/vm/autostart/{name}"), json!({}))
            .with_method(Method::Delete)
            .idempotent();
        self.ok(req).await
    }

    async fn require_autostart(&self) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(
            !caps.is_pro() && caps.application.at_least(2, 3, 1),
            "autostart scripts",
            "NanoKVM firmware 2.3.1 or later",
        )
    }

    /// The names of the user scripts on the device.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on the Pro; device, transport and decoding errors.
    pub async fn scripts(&self) -> Result<Vec<String>> {
        self.require_cube("user scripts").await?;
        let wire: FilesWire = self.client.call(ApiRequest::get("/api/vm/script")).await?;
        Ok(wire.files)
    }

    /// Runs a user script on the device and returns what the firmware reports (the
    /// output, for a foreground run). A foreground run may wait up to `wait` longer than
    /// the usual time limit. Never repeated.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad name (nothing sent); [`Error::NotSupported`] on
    /// the Pro; device and transport errors.
    pub async fn run_script(&self, name: &str, mode: ScriptMode, wait: Duration) -> Result<String> {
        validate_script_name(name)?;
        self.require_cube("user scripts").await?;
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            log: String,
        }
        let kind = match mode {
            ScriptMode::Foreground => "foreground",
            ScriptMode::Background => "background",
        };
        let req = ApiRequest::post("/api/vm/script/run", json!({ "name": name, "type": kind }))
            .extra_timeout(wait);
        let wire: Wire = self.client.call(req).await?;
        Ok(wire.log)
    }

    /// Deletes a user script.
    ///
    /// # Errors
    ///
    /// As [`SystemHandler::run_script`].
    pub async fn delete_script(&self, name: &str) -> Result<()> {
        validate_script_name(name)?;
        self.require_cube("user scripts").await?;
        let req = ApiRequest::post("/api/vm/script", json!({ "name": name }))
            .with_method(Method::Delete)
            .idempotent();
        self.ok(req).await
    }

    /// Whether the device offers preview (pre-release) updates.
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors.
    pub async fn preview_updates(&self) -> Result<bool> {
        let wire: EnabledWire = self
            .client
            .call(ApiRequest::get("/api/application/preview"))
            .await?;
        Ok(wire.enabled)
    }

    /// Opts in to preview updates.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn enable_preview_updates(&self) -> Result<()> {
        // This route's field is `enable`, not `enabled`.
        let req = ApiRequest::post("/api/application/preview", json!({ "enable": true }));
        self.ok(req.idempotent()).await
    }

    /// Opts out of preview updates.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn disable_preview_updates(&self) -> Result<()> {
        let req = ApiRequest::post("/api/application/preview", json!({ "enable": false }));
        self.ok(req.idempotent()).await
    }

    /// The custom update server (firmware after 2.5.0).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on earlier firmware; device, transport and decoding
    /// errors.
    pub async fn update_server(&self) -> Result<UpdateServer> {
        self.require_update_server().await?;
        #[derive(Deserialize)]
        struct Wire {
            enabled: bool,
            #[serde(default)]
            url: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/application/update-server"))
            .await?;
        Ok(UpdateServer {
            enabled: wire.enabled,
            url: wire.url,
        })
    }

    /// Uses a custom update server at `url`, or Sipeed's again with `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a URL that is not `http(s)://` (nothing sent); as
    /// [`SystemHandler::update_server`].
    pub async fn set_update_server(&self, url: Option<&str>) -> Result<()> {
        let body = match url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                json!({ "enabled": true, "url": url })
            }
            Some(url) => {
                return Err(Error::invalid(format!(
                    "the update server {url:?} must be an http:// or https:// URL"
                )));
            }
            None => json!({ "enabled": false, "url": "" }),
        };
        self.require_update_server().await?;
        let req = ApiRequest::post("/api/application/update-server", body).idempotent();
        self.ok(req).await
    }

    async fn require_update_server(&self) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_roles(),
            "a custom update server",
            "firmware after 2.5.0",
        )
    }

    /// The Tailscale extension's state.
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors.
    pub async fn tailscale(&self) -> Result<TailscaleStatus> {
        #[derive(Deserialize)]
        struct Wire {
            state: String,
            #[serde(default)]
            name: String,
            #[serde(default)]
            ip: String,
            #[serde(default)]
            account: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/extensions/tailscale/status"))
            .await?;
        let state = match wire.state.as_str() {
            "notInstall" => TailscaleState::NotInstalled,
            "notRunning" => TailscaleState::NotRunning,
            "notLogin" => TailscaleState::NotLoggedIn,
            "stopped" => TailscaleState::Stopped,
            "running" => TailscaleState::Running,
            _ => TailscaleState::Other(wire.state),
        };
        Ok(TailscaleStatus {
            state,
            name: non_empty(wire.name),
            ip: non_empty(wire.ip),
            account: non_empty(wire.account),
        })
    }

    /// Acts on the Tailscale extension. Installing downloads it and can take minutes;
    /// the request waits up to five minutes longer than usual. Never repeated.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn tailscale_action(&self, action: TailscaleAction) -> Result<()> {
        let extra = match action {
            TailscaleAction::Install => Duration::from_secs(300),
            _ => Duration::from_secs(30),
        };
        self.ok(ApiRequest::post(action.path(), json!({})).extra_timeout(extra))
            .await
    }

    /// Starts a Tailscale login and returns the URL to open to approve the device.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn tailscale_login(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Wire {
            url: String,
        }
        let req = ApiRequest::post("/api/extensions/tailscale/login", json!({}))
            .extra_timeout(Duration::from_secs(30));
        let wire: Wire = self.client.call(req).await?;
        Ok(wire.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oled_delays_are_checked() {
        assert_eq!(
            oled_request(OledSleep::Never).unwrap().body,
            Some(json!({"sleep": 0}))
        );
        assert_eq!(
            oled_request(OledSleep::After(Duration::from_secs(60)))
                .unwrap()
                .body,
            Some(json!({"sleep": 60}))
        );
        for bad in [
            Duration::from_secs(9),
            Duration::from_secs(3601),
            Duration::from_millis(10_500),
        ] {
            assert!(
                oled_request(OledSleep::After(bad))
                    .unwrap_err()
                    .is_invalid_input()
            );
        }
    }

    #[test]
    fn script_names_cannot_leave_their_directory() {
        assert!(validate_script_name("boot-setup_1.sh").is_ok());
        for bad in ["", ".", "..", "../x", "a/b", "a b", "x?y"] {
            assert!(validate_script_name(bad).is_err(), "{bad}");
        }
    }
}
