//! `/api/hid/*`: paste, HID mode, reset, LEDs, shortcuts and the leader key.

use std::time::Duration;

use axum::response::Response;
use nanokvm_hid::{KeyboardReport, Keycode, Modifiers};

use super::{Ctx, fail, ok, ok_null};
use crate::json::J;
use crate::paste::PasteMap;
use crate::state::lock;

/// The firmware's delay after each typed character.
const PASTE_DELAY: Duration = Duration::from_millis(30);
/// The Pro waits longer between characters.
const PRO_PASTE_DELAY: Duration = Duration::from_millis(50);
/// 25 s / 30 ms: the firmware's rune limit from 2.5.0.
const MAX_RUNES: usize = 833;
/// The byte limit of earlier firmware, and of the Pro's.
const MAX_BYTES_LEGACY: usize = 1024;

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/api/hid/paste") => paste(&ctx).await,
        ("GET", "/api/hid/mode") => ok(J::obj([(
            "mode",
            lock(&shared.settings).hid_mode.clone().into(),
        )])),
        ("POST", "/api/hid/mode") => {
            // `Mode` is `required`: an empty value fails validation like a bad body.
            let mode = match ctx.form().string("Mode", "mode") {
                Ok(mode) if !mode.is_empty() => mode,
                _ => return fail(-1, "invalid arguments"),
            };
            if mode != "normal" && mode != "hid-only" {
                return fail(-2, "invalid arguments");
            }
            let changed = {
                let mut s = lock(&shared.settings);
                let changed = s.hid_mode != mode;
                s.hid_mode = mode;
                changed
            };
            if changed {
                // The firmware reboots shortly after answering.
                shared.reboot_device();
            }
            ok_null()
        }
        ("POST", "/api/hid/reset") => {
            if lock(&shared.faults).hid_busy {
                return fail(-1, "HID control is busy");
            }
            let _lane = shared.hid_lane.lock().await;
            shared.usb_rebind();
            shared.time.sleep(Duration::from_secs(1)).await;
            ok_null()
        }
        ("GET", "/api/hid/leds") => {
            let leds = shared.machine.borrow().leds();
            // The route shows an unknown time as an empty string (spec 4.6).
            ok(leds_object(&leds, ""))
        }
        ("GET", "/api/hid/shortcuts") => {
            let s = lock(&shared.settings);
            let list = s
                .shortcuts
                .iter()
                .map(|(id, keys)| {
                    J::obj([
                        ("id", id.clone().into()),
                        (
                            "keys",
                            J::Arr(
                                keys.iter()
                                    .map(|(code, label)| {
                                        J::obj([
                                            ("code", code.clone().into()),
                                            ("label", label.clone().into()),
                                        ])
                                    })
                                    .collect(),
                            ),
                        ),
                    ])
                })
                .collect();
            ok(J::obj([("shortcuts", J::Arr(list))]))
        }
        ("POST", "/api/hid/shortcut") => {
            let Ok(Some(serde_json::Value::Array(keys))) = ctx.form().value("Keys") else {
                return fail(-1, "invalid arguments");
            };
            let mut parsed = Vec::new();
            for k in keys {
                let code = k.get("code").and_then(|v| v.as_str()).unwrap_or("");
                let label = k.get("label").and_then(|v| v.as_str()).unwrap_or("");
                parsed.push((code.to_owned(), label.to_owned()));
            }
            if parsed.is_empty() {
                return fail(-1, "invalid arguments");
            }
            let id = crate::util::uuid();
            lock(&shared.settings).shortcuts.push((id, parsed));
            ok_null()
        }
        ("DELETE", "/api/hid/shortcut") => {
            let id = match ctx.form().string("Id", "id") {
                Ok(id) if !id.is_empty() => id,
                _ => return fail(-1, "invalid arguments"),
            };
            let mut s = lock(&shared.settings);
            let before = s.shortcuts.len();
            s.shortcuts.retain(|(i, _)| *i != id);
            if s.shortcuts.len() == before {
                return fail(-2, "shortcut not found");
            }
            ok_null()
        }
        ("GET", "/api/hid/shortcut/leader-key") => ok(J::obj([(
            "key",
            lock(&shared.settings).leader_key.clone().into(),
        )])),
        ("POST", "/api/hid/shortcut/leader-key") => match ctx.form().string("Key", "key") {
            Ok(k) => {
                lock(&shared.settings).leader_key = k;
                ok_null()
            }
            Err(_) => fail(-1, "invalid arguments"),
        },
        _ => super::not_found(),
    }
}

async fn paste(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    let fw = shared.config.firmware;
    let form = ctx.form();
    let (Ok(content), Ok(langue)) = (
        form.string("Content", "content"),
        form.string("Langue", "langue"),
    ) else {
        return fail(-1, "invalid arguments");
    };
    if content.is_empty() {
        return fail(-1, "invalid arguments");
    }
    if fw.is_pro() {
        if content.len() > MAX_BYTES_LEGACY {
            return fail(-2, "content too long");
        }
    } else if fw.at_least_2_5_0() {
        if content.chars().count() > MAX_RUNES {
            return fail(-2, "content too long");
        }
    } else if content.len() > MAX_BYTES_LEGACY {
        return fail(-2, "content too long");
    }
    if lock(&shared.faults).hid_busy {
        return fail(-3, "HID control is busy");
    }
    let map = PasteMap::from_langue(&langue, fw);
    let _lane = shared.hid_lane.lock().await;
    for c in content.chars() {
        let Some((modifier, usage)) = map.lookup(c) else {
            continue;
        };
        let press = KeyboardReport::single(
            Modifiers::from_bits(modifier),
            Some(Keycode::from_usage(usage)),
        );
        if !shared.write_keyboard(press) || !shared.write_keyboard(KeyboardReport::RELEASE) {
            return fail(-3, "HID paste failed");
        }
        shared
            .time
            .sleep(if fw.is_pro() {
                PRO_PASTE_DELAY
            } else {
                PASTE_DELAY
            })
            .await;
    }
    if !shared.write_keyboard(KeyboardReport::RELEASE) {
        return fail(-3, "HID paste failed");
    }
    ok_null()
}

/// The keyboard LED state as both `GET /api/hid/leds` and the `hid-led-status` push show
/// it; they differ only in how an unknown update time is written (`unknown_time`).
pub(super) fn leds_object(leds: &crate::machine::Leds, unknown_time: &str) -> J {
    J::obj([
        ("numLock", leds.num_lock.into()),
        ("capsLock", leds.caps_lock.into()),
        ("scrollLock", leds.scroll_lock.into()),
        ("known", leds.known.into()),
        (
            "updatedAt",
            leds.updated_at
                .map_or_else(|| unknown_time.to_owned(), crate::util::rfc3339_nano)
                .into(),
        ),
    ])
}
