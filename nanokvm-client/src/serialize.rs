//! Helpers for the domain types' `serde::Serialize` impls, so that a frontend prints
//! results as JSON without going through `Debug`.
//!
//! The conventions: enums are lowercase `snake_case` strings (a value the client does
//! not know is kept verbatim); durations are whole numbers with the unit in the field
//! name (`idle_timeout_secs`, `hold_off_ms`); secrets are never serialized, at most
//! whether one is set.

use std::time::Duration;

use serde::Serializer;

/// A duration as whole seconds (sub-second parts are dropped).
pub(crate) fn secs<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_secs())
}

/// An optional duration as whole seconds, or `null`.
pub(crate) fn opt_secs<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_some(&duration.as_secs()),
        None => serializer.serialize_none(),
    }
}

/// A duration as whole milliseconds.
pub(crate) fn millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// Whether an optional value (a secret) is set, without the value.
pub(crate) fn is_set<T, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(value.is_some())
}

/// Implements `Serialize` as a string for a type with `fn $method(&self) -> &str`.
macro_rules! serialize_as_str {
    ($type:ty, $method:ident) => {
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.$method())
            }
        }
    };
}

pub(crate) use serialize_as_str;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;
    use serde_json::{Value, json};

    use crate::api::ai::{ControlMode, McpConfig};
    use crate::api::device::{DeviceInfo, Interface, InterfaceKind};
    use crate::api::hdmi::HdmiState;
    use crate::api::hid::{HidMode, PasteLayout, PasteReport, SkippedChar};
    use crate::api::network::{DnsConfig, MacAddress, WolEntry};
    use crate::api::power::PowerCycle;
    use crate::api::storage::{DownloadStatus, MountMode};
    use crate::api::system::{OledSleep, TailscaleState};
    use crate::capabilities::{Capabilities, FirmwareVersion, Hardware};
    use crate::ws::push::Push;

    fn json(value: impl serde::Serialize) -> Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn domain_types_serialize_as_documented() {
        let info = DeviceInfo {
            interfaces: vec![Interface {
                name: "eth0".to_owned(),
                address: "192.168.1.50".to_owned(),
                kind: InterfaceKind::Wired,
            }],
            mdns: None,
            image: "v1.4.2".to_owned(),
            application: FirmwareVersion::parse("2.5.0"),
            device_key: "k".to_owned(),
        };
        assert_eq!(
            json(&info),
            json!({
                "interfaces": [{"name": "eth0", "address": "192.168.1.50", "kind": "wired"}],
                "mdns": null, "image": "v1.4.2", "application": "2.5.0", "device_key": "k"
            })
        );
        assert_eq!(
            json(Capabilities::new(
                FirmwareVersion::new(2, 4, 3),
                Hardware::Pcie
            )),
            json!({"application": "2.4.3", "image": "", "hardware": "pcie"})
        );
        assert_eq!(json(Hardware::Other("Gamma".to_owned())), json!("Gamma"));
        assert_eq!(
            json(InterfaceKind::Other("Bridge".to_owned())),
            json!("Bridge")
        );
        let report = PasteReport {
            typed: 2,
            skipped: vec![SkippedChar { ch: 'é', index: 1 }],
        };
        assert_eq!(
            json(report),
            json!({"typed": 2, "skipped": [{"ch": "é", "index": 1}]})
        );
        assert_eq!(json(PasteLayout::De), json!("de"));
        assert_eq!(json(HidMode::HidOnly), json!("hid_only"));
        assert_eq!(json(MountMode::CdRom), json!("cdrom"));
        assert_eq!(json(TailscaleState::NotLoggedIn), json!("not_logged_in"));
        assert_eq!(
            json(WolEntry {
                mac: "aa-bb-cc-dd-ee-ff".parse::<MacAddress>().unwrap(),
                name: None
            }),
            json!({"mac": "AA:BB:CC:DD:EE:FF", "name": null})
        );
        assert_eq!(
            json(DnsConfig::Manual(vec!["1.1.1.1".parse().unwrap()])),
            json!({"manual": ["1.1.1.1"]})
        );
        assert_eq!(json(DnsConfig::Dhcp), json!("dhcp"));
        assert_eq!(
            json(Push::KeyboardLeds(None)),
            json!({"keyboard_leds": null})
        );
    }

    #[test]
    fn durations_carry_their_unit_in_the_field_name() {
        let hdmi = HdmiState {
            enabled: true,
            signal: None,
            idle_timeout: Some(Duration::from_secs(600)),
        };
        assert_eq!(
            json(hdmi),
            json!({"enabled": true, "signal": null, "idle_timeout_secs": 600})
        );
        assert_eq!(
            json(PowerCycle::default()),
            json!({"hold_off_ms": 6000, "off_for_ms": 5000, "press_on_ms": 800})
        );
        assert_eq!(json(OledSleep::Never), json!("never"));
        assert_eq!(
            json(OledSleep::After(Duration::from_secs(60))),
            json!({"after_secs": 60})
        );
        assert_eq!(
            json(DownloadStatus::InProgress {
                url: "http://x/a.iso".to_owned(),
                percentage: Some(12.5)
            }),
            json!({"status": "in_progress", "url": "http://x/a.iso", "percentage": 12.5})
        );
        assert_eq!(json(DownloadStatus::Idle), json!({"status": "idle"}));
    }

    #[test]
    fn secrets_are_not_serialized() {
        let config = McpConfig {
            enabled: true,
            api_key: Some(SecretString::from("nag_mcp_secret")),
            control_mode: ControlMode::PicoClaw,
            transitioning: false,
        };
        let text = serde_json::to_string(&config).unwrap();
        assert!(!text.contains("nag_mcp_secret"), "{text}");
        assert_eq!(
            json(&config),
            json!({"enabled": true, "api_key_set": true, "control_mode": "picoclaw", "transitioning": false})
        );
    }
}
