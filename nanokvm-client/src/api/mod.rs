//! The typed API, one handler per area of the firmware's routes.
//!
//! Each handler borrows the [`Client`] and is obtained from it: `client.power().leds()`.
//! Area modules build their requests with pure functions and decode wire structs into
//! the domain types they export; none of them touches the network directly.

pub mod ai;
pub mod device;
pub mod hdmi;
pub mod hid;
pub mod network;
pub mod power;
pub mod storage;
pub mod system;

use crate::client::Client;

impl Client {
    /// Device information and administration: names, reboot, versions, accounts,
    /// SSH, mDNS and the virtual USB network and disk.
    #[must_use]
    pub fn device(&self) -> device::DeviceHandler<'_> {
        device::DeviceHandler { client: self }
    }

    /// Power and reset buttons, and the power and HDD LEDs.
    #[must_use]
    pub fn power(&self) -> power::PowerHandler<'_> {
        power::PowerHandler { client: self }
    }

    /// HDMI capture, stream settings and MJPEG frame detection.
    #[must_use]
    pub fn hdmi(&self) -> hdmi::HdmiHandler<'_> {
        hdmi::HdmiHandler { client: self }
    }

    /// Paste, keyboard LEDs, HID mode, HID reset, shortcuts, the leader key and the
    /// mouse jiggler.
    #[must_use]
    pub fn hid(&self) -> hid::HidHandler<'_> {
        hid::HidHandler { client: self }
    }

    /// Virtual media: images, mounting, downloads and uploads.
    #[must_use]
    pub fn storage(&self) -> storage::StorageHandler<'_> {
        storage::StorageHandler { client: self }
    }

    /// Wake-on-LAN, the device's Wi-Fi and its DNS settings.
    #[must_use]
    pub fn network(&self) -> network::NetworkHandler<'_> {
        network::NetworkHandler { client: self }
    }

    /// The device's own settings: OLED, swap, memory limit, HTTPS, autostart and user
    /// scripts, updates and Tailscale.
    #[must_use]
    pub fn system(&self) -> system::SystemHandler<'_> {
        system::SystemHandler { client: self }
    }

    /// AI control modes and the built-in MCP server's configuration.
    #[must_use]
    pub fn ai(&self) -> ai::AiHandler<'_> {
        ai::AiHandler { client: self }
    }
}
