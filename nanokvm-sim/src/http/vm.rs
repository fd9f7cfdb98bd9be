//! `/api/vm/*`: device information, GPIO power and reset, HDMI, screen settings and the
//! small configuration routes.

use std::time::Duration;

use axum::response::Response;

use super::{Ctx, fail, ok, ok_null};
use crate::json::J;
use crate::state::lock;

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    let fw = shared.config.firmware;
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("GET", "/api/vm/info") => {
            let hostname = lock(&shared.settings).hostname.clone();
            let mdns = if lock(&shared.settings).mdns {
                format!("{hostname}.local")
            } else {
                String::new()
            };
            let mut info = vec![
                (
                    "ips",
                    J::Arr(vec![J::obj([
                        ("name", "eth0".into()),
                        ("addr", "127.0.0.1".into()),
                        ("version", "IPv4".into()),
                        ("type", "Wired".into()),
                    ])]),
                ),
                ("mdns", mdns.into()),
                ("image", "v1.4.2".into()),
                (
                    "application",
                    lock(&shared.settings).app_version.clone().into(),
                ),
                ("deviceKey", "nanokvm-sim-device-key".into()),
            ];
            if fw.is_pro() {
                // The Pro's image version is the last dash-separated part of
                // `/boot/ver`; `pn` is the last word of the HDMI bridge's version file.
                info[2].1 = "v1.1.0".into();
                info.push(("pn", "NanoKVM-Pro-Desk".into()));
                info.push(("arch", "aarch64".into()));
            }
            ok(J::Obj(info))
        }
        ("GET", "/api/vm/hardware") => ok(J::obj([(
            "version",
            shared.config.hardware.as_str().into(),
        )])),
        ("POST", "/api/vm/gpio") => gpio_press(&ctx).await,
        ("GET", "/api/vm/gpio") => {
            let (pwr, disk) = {
                let m = shared.machine.borrow();
                (m.power().is_powered(), m.disk_active())
            };
            // Only Alpha firmware reads the HDD LED line; the others answer false.
            let hdd = shared.config.hardware.gpio_lines().hdd_led.is_some() && disk;
            ok(J::obj([("pwr", pwr.into()), ("hdd", hdd.into())]))
        }
        ("GET", "/api/vm/hdmi") => {
            let (enabled, timeout) = {
                let s = lock(&shared.settings);
                (s.hdmi_enabled, s.hdmi_idle_timeout)
            };
            if fw.is_head() {
                ok(J::obj([
                    ("enabled", enabled.into()),
                    ("signal", shared.hdmi_signal().into()),
                    ("idleTimeout", timeout.into()),
                ]))
            } else if fw.at_least_2_5_0() {
                ok(J::obj([
                    ("enabled", enabled.into()),
                    ("idleTimeout", timeout.into()),
                ]))
            } else {
                ok(J::obj([("enabled", enabled.into())]))
            }
        }
        ("POST", "/api/vm/hdmi/reset") => {
            // Persisted as enabled, capture off for a second, then on again.
            lock(&shared.settings).hdmi_enabled = true;
            shared.disable_capture(false);
            shared.time.sleep(Duration::from_secs(1)).await;
            shared.enable_capture();
            ok_null()
        }
        ("POST", "/api/vm/hdmi/enable") => {
            shared.enable_capture();
            ok_null()
        }
        ("POST", "/api/vm/hdmi/disable") => {
            shared.disable_capture(true);
            ok_null()
        }
        ("POST", "/api/vm/hdmi/timeout") => {
            let form = ctx.form();
            match form.integer("Minutes", "minutes", false) {
                Ok(m) if (0..=10080).contains(&m.unwrap_or(0)) => {
                    shared.set_idle_timeout(u32::try_from(m.unwrap_or(0)).unwrap_or(0));
                    ok_null()
                }
                _ => fail(-1, "invalid arguments"),
            }
        }
        ("POST", "/api/vm/screen") => screen(&ctx),
        ("GET", "/api/vm/hostname") => ok(J::obj([(
            "hostname",
            lock(&shared.settings).hostname.clone().into(),
        )])),
        ("POST", "/api/vm/hostname") => {
            let form = ctx.form();
            match form.string("Hostname", "hostname") {
                Ok(h) if !h.is_empty() => {
                    lock(&shared.settings).hostname.clone_from(&h);
                    ok(J::obj([("hostname", h.into())]))
                }
                _ => fail(-1, "invalid arguments"),
            }
        }
        ("GET", "/api/vm/web-title") => ok(J::obj([(
            "title",
            lock(&shared.settings).web_title.clone().into(),
        )])),
        ("POST", "/api/vm/web-title") => match ctx.form().string("Title", "title") {
            Ok(t) => {
                lock(&shared.settings).web_title = t;
                ok_null()
            }
            Err(_) => fail(-1, "invalid arguments"),
        },
        ("GET", "/api/vm/mouse-jiggler") => {
            let s = lock(&shared.settings);
            ok(J::obj([
                ("enabled", s.jiggler_enabled.into()),
                ("mode", s.jiggler_mode.clone().into()),
            ]))
        }
        ("POST", "/api/vm/mouse-jiggler/") => {
            let form = ctx.form();
            match (
                form.boolean("Enabled", "enabled"),
                form.string("Mode", "mode"),
            ) {
                (Ok(enabled), Ok(mode)) => {
                    let mut s = lock(&shared.settings);
                    s.jiggler_enabled = enabled.unwrap_or(false);
                    // Disabling leaves the mode as it was, as the firmware's `Disable` does.
                    if s.jiggler_enabled && !mode.is_empty() {
                        s.jiggler_mode = mode;
                    }
                    ok_null()
                }
                _ => fail(-1, "invalid arguments"),
            }
        }
        ("GET", "/api/vm/ssh") => ok(J::obj([("enabled", lock(&shared.settings).ssh.into())])),
        ("GET", "/api/vm/mdns") => ok(J::obj([("enabled", lock(&shared.settings).mdns.into())])),
        ("POST", "/api/vm/ssh/enable" | "/api/vm/ssh/disable") => {
            lock(&shared.settings).ssh = ctx.path.ends_with("/enable");
            ok_null()
        }
        ("POST", "/api/vm/mdns/enable" | "/api/vm/mdns/disable") => {
            lock(&shared.settings).mdns = ctx.path.ends_with("/enable");
            ok_null()
        }
        ("GET", "/api/vm/device/virtual") => {
            let s = lock(&shared.settings);
            ok(J::obj([
                ("network", s.virtual_network.into()),
                ("media", false.into()),
                ("disk", s.virtual_disk.into()),
            ]))
        }
        ("POST", "/api/vm/device/virtual") => {
            let device = ctx.form().string("Device", "device").unwrap_or_default();
            let on = {
                let mut s = lock(&shared.settings);
                match device.as_str() {
                    "network" => {
                        s.virtual_network = !s.virtual_network;
                        s.virtual_network
                    }
                    "disk" => {
                        s.virtual_disk = !s.virtual_disk;
                        s.virtual_disk
                    }
                    _ => return fail(-1, "invalid arguments"),
                }
            };
            shared.usb_rebind();
            ok(J::obj([("on", on.into())]))
        }
        ("POST", "/api/vm/system/reboot") => {
            shared.reboot_device();
            ok_null()
        }
        _ => super::not_found(),
    }
}

async fn gpio_press(ctx: &Ctx) -> Response {
    let form = ctx.form();
    let (Ok(kind), Ok(duration)) = (
        form.string("Type", "type"),
        form.integer("Duration", "duration", true),
    ) else {
        return fail(-1, "invalid arguments: bind failed");
    };
    if kind.is_empty() {
        return fail(
            -1,
            "invalid arguments: Key: 'GpioReq.Type' Error:Field validation for 'Type' failed on the 'required' tag",
        );
    }
    let ms = match duration {
        None | Some(0) => 800,
        Some(n) => u64::try_from(n).unwrap_or(800),
    };
    let held = Duration::from_millis(ms);
    match kind.as_str() {
        "power" => {
            ctx.shared.time.sleep(held).await;
            ctx.shared.power_button(held);
        }
        "reset" => {
            ctx.shared.time.sleep(held).await;
            ctx.shared.reset_button();
        }
        other => return fail(-2, &format!("invalid power event: {other}")),
    }
    ok_null()
}

fn screen(ctx: &Ctx) -> Response {
    let form = ctx.form();
    let (Ok(kind), Ok(value)) = (
        form.string("Type", "type"),
        form.integer("Value", "value", false),
    ) else {
        return fail(-1, "invalid arguments");
    };
    if kind.is_empty() {
        return fail(-1, "invalid arguments");
    }
    let value = value.unwrap_or(0);
    // The firmware stores these as Go uint16/uint8 conversions of the int it received.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (as_u16, as_u8) = (u32::from(value as u16), u32::from(value as u8));
    let mut s = lock(&ctx.shared.settings);
    match kind.as_str() {
        "type" => s.stream_type = u32::from(value != 0),
        // Only heights in the firmware's table are applied; others are ignored.
        "resolution" => {
            if as_u16 == 0 || crate::screen::RESOLUTIONS.iter().any(|(_, h)| *h == as_u16) {
                s.resolution = as_u16;
            }
        }
        "quality" if value > 100 => s.bitrate = as_u16,
        "quality" => s.quality = as_u16,
        "fps" => s.fps = u32::try_from(value.clamp(10, 60)).unwrap_or(30),
        "gop" => s.gop = as_u8,
        _ => return fail(-2, "update screen failed"),
    }
    ok_null()
}
