//! Integration tests for nanokvm-hid: one binary, one module per area.

mod encoding;
mod keys;
mod layouts_core;
mod layouts_linux;
mod layouts_north;
mod layouts_west;
mod mouse;
mod properties;
mod xkb;

use nanokvm_hid::{Keymap, encode};

/// The strokes that type `text` on a keymap, as `(modifier byte, usage)` pairs.
pub fn strokes(keymap: impl Into<Keymap>, text: &str) -> Vec<(u8, u8)> {
    let layout = keymap.into();
    match encode(text, layout) {
        Ok(strokes) => strokes
            .iter()
            .map(|s| (s.modifiers.bits(), s.key.usage()))
            .collect(),
        Err(e) => panic!("{layout}: cannot encode {text:?}: {e}"),
    }
}

/// Modifier bytes, for readable expectations.
pub const NO: u8 = 0x00;
/// Left Shift.
pub const SH: u8 = 0x02;
/// AltGr (right Alt).
pub const AG: u8 = 0x40;
/// Shift and AltGr.
pub const SA: u8 = 0x42;

/// Asserts each `(text, strokes)` case of a table for one keymap.
pub fn check(keymap: impl Into<Keymap>, cases: &[(&str, &[(u8, u8)])]) {
    let layout = keymap.into();
    for (text, expected) in cases {
        assert_eq!(strokes(layout, text), *expected, "{layout}: {text:?}");
    }
}

/// Asserts that none of `chars` can be typed on a keymap.
pub fn untypeable(keymap: impl Into<Keymap>, chars: &str) {
    let layout = keymap.into();
    for c in chars.chars() {
        assert!(!layout.can_type(c), "{layout} should not type {c:?}");
    }
}
