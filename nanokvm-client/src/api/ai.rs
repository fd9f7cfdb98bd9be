//! The device's AI control modes and the configuration of its built-in MCP server
//! (firmware 2.5.0 and later; admin routes).
//!
//! The control mode decides who may drive keyboard and mouse besides people: nobody
//! (`off`), MCP clients holding the API key (`mcp`), or the on-device PicoClaw agent
//! (`picoclaw`, the default when nothing is configured). The MCP API key is a
//! [`SecretString`]: it never shows in `Debug` output or errors.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::{ApiRequest, Method};

/// Who may control keyboard and mouse besides the web UI. Serializes as the firmware
/// names it (`off`, `mcp`, `picoclaw`), an unknown mode verbatim.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ControlMode {
    /// Nobody.
    Off,
    /// Clients of the built-in MCP server.
    Mcp,
    /// The on-device PicoClaw agent.
    PicoClaw,
    /// A mode this client does not know, verbatim.
    Other(String),
}

impl ControlMode {
    fn from_wire(s: &str) -> Self {
        match s {
            "off" => Self::Off,
            "mcp" => Self::Mcp,
            "picoclaw" => Self::PicoClaw,
            other => Self::Other(other.to_owned()),
        }
    }

    fn as_wire(&self) -> &str {
        match self {
            Self::Off => "off",
            Self::Mcp => "mcp",
            Self::PicoClaw => "picoclaw",
            Self::Other(s) => s,
        }
    }
}

crate::serialize::serialize_as_str!(ControlMode, as_wire);

/// What `GET /api/ai/control/status` reports.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ControlStatus {
    /// The current mode.
    pub mode: ControlMode,
    /// Whether a switch between modes is under way.
    pub transitioning: bool,
    /// Why the last switch failed, if it did.
    pub last_error: Option<String>,
    /// When the mode last changed (RFC 3339).
    pub changed_at: String,
}

/// The built-in MCP server's configuration. Serializes without the API key, only
/// whether one exists (`api_key_set`).
#[derive(Clone, Debug, Serialize)]
pub struct McpConfig {
    /// Whether the MCP server answers (the mode is `mcp` and not switching).
    pub enabled: bool,
    /// The API key MCP clients send as a bearer token, once one exists.
    #[serde(rename = "api_key_set", serialize_with = "crate::serialize::is_set")]
    pub api_key: Option<SecretString>,
    /// The current control mode.
    pub control_mode: ControlMode,
    /// Whether a switch between modes is under way.
    pub transitioning: bool,
}

#[derive(Deserialize)]
struct McpWire {
    enabled: bool,
    #[serde(default, rename = "apiKey")]
    api_key: String,
    #[serde(default, rename = "controlMode")]
    control_mode: String,
    #[serde(default)]
    transitioning: bool,
}

impl From<McpWire> for McpConfig {
    fn from(w: McpWire) -> Self {
        Self {
            enabled: w.enabled,
            api_key: (!w.api_key.is_empty()).then(|| SecretString::from(w.api_key)),
            control_mode: ControlMode::from_wire(&w.control_mode),
            transitioning: w.transitioning,
        }
    }
}

/// AI control and MCP configuration. Obtain with [`Client::ai`].
#[derive(Clone, Copy, Debug)]
pub struct AiHandler<'a> {
    pub(crate) client: &'a Client,
}

impl AiHandler<'_> {
    async fn require(&self, operation: &str) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_ai_control(), operation, "firmware 2.5.0 or later")
    }

    /// The AI control mode.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.5.0; device, transport and decoding errors.
    pub async fn control_status(&self) -> Result<ControlStatus> {
        self.require("AI control modes").await?;
        #[derive(Deserialize)]
        struct Wire {
            mode: String,
            #[serde(default)]
            transitioning: bool,
            #[serde(default)]
            last_error: Option<String>,
            #[serde(default)]
            changed_at: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/ai/control/status"))
            .await?;
        Ok(ControlStatus {
            mode: ControlMode::from_wire(&wire.mode),
            transitioning: wire.transitioning,
            last_error: wire.last_error.filter(|e| !e.is_empty()),
            changed_at: wire.changed_at,
        })
    }

    /// Switches the AI control mode. Switching stops whatever controlled the device
    /// before and releases every key and button it held.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for [`ControlMode::Other`] (nothing sent);
    /// [`Error::NotSupported`] before 2.5.0; device and transport errors.
    pub async fn set_control_mode(&self, mode: &ControlMode) -> Result<()> {
        if let ControlMode::Other(other) = mode {
            return Err(Error::invalid(format!("unknown control mode {other:?}")));
        }
        self.require("AI control modes").await?;
        let req = ApiRequest::post("/api/ai/control/mode", json!({ "mode": mode.as_wire() }))
            .with_method(Method::Put)
            .idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// The MCP server's configuration, API key included.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.5.0; device, transport and decoding errors.
    pub async fn mcp_config(&self) -> Result<McpConfig> {
        self.require("the MCP server").await?;
        let wire: McpWire = self.client.call(ApiRequest::get("/api/mcp/config")).await?;
        Ok(wire.into())
    }

    /// Turns the MCP server on: creates an API key if there is none and switches the
    /// control mode to `mcp` (stopping PicoClaw).
    ///
    /// # Errors
    ///
    /// As [`AiHandler::mcp_config`].
    pub async fn enable_mcp(&self) -> Result<McpConfig> {
        self.set_mcp(true).await
    }

    /// Turns the MCP server off: the control mode goes from `mcp` to `off` (another
    /// mode is left alone).
    ///
    /// # Errors
    ///
    /// As [`AiHandler::mcp_config`].
    pub async fn disable_mcp(&self) -> Result<McpConfig> {
        self.set_mcp(false).await
    }

    async fn set_mcp(&self, enabled: bool) -> Result<McpConfig> {
        self.require("the MCP server").await?;
        let req = ApiRequest::post("/api/mcp/config", json!({ "enabled": enabled })).idempotent();
        let wire: McpWire = self.client.call(req).await?;
        Ok(wire.into())
    }

    /// Replaces the MCP API key; clients holding the old one are refused from then on.
    /// Never repeated.
    ///
    /// # Errors
    ///
    /// As [`AiHandler::mcp_config`].
    pub async fn regenerate_mcp_key(&self) -> Result<McpConfig> {
        self.require("the MCP server").await?;
        let req = ApiRequest::post("/api/mcp/key/regenerate", json!({}));
        let wire: McpWire = self.client.call(req).await?;
        Ok(wire.into())
    }
}
