//! Integration tests for nanokvm-hid: one binary, one module per area.

mod encoding;
mod keys;
mod layouts_core;
mod layouts_north;
mod layouts_west;
mod mouse;
mod properties;

use nanokvm_hid::{Layout, encode};

/// The strokes that type `text` on `layout`, as `(modifier byte, usage)` pairs.
pub fn strokes(layout: Layout, text: &str) -> Vec<(u8, u8)> {
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

/// Asserts each `(text, strokes)` case of a table for one layout.
pub fn check(layout: Layout, cases: &[(&str, &[(u8, u8)])]) {
    for (text, expected) in cases {
        assert_eq!(strokes(layout, text), *expected, "{layout}: {text:?}");
    }
}

/// Asserts that none of `chars` can be typed on `layout`.
pub fn untypeable(layout: Layout, chars: &str) {
    for c in chars.chars() {
        assert!(!layout.can_type(c), "{layout} should not type {c:?}");
    }
}
