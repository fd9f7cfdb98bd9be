//! Fuzzes text encoding and decoding: `cargo fuzz run encode` (nightly).
//!
//! The first byte picks a layout, the target system and the options; the rest is the
//! text, taken as UTF-8 with invalid sequences replaced. Encoding must never panic, must
//! agree with skipping on what is typeable, and whatever encodes must decode back to the
//! text with line endings normalised.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nanokvm_hid::{Encoder, Layout, TargetOs, UnicodeFallback, decode, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let os = if selector & 0x10 == 0 {
        TargetOs::Windows
    } else {
        TargetOs::Linux
    };
    let keymap = Layout::ALL[usize::from(selector) % Layout::ALL.len()].on(os);
    let text = String::from_utf8_lossy(rest);
    let fallback = match selector >> 5 {
        1 => Some(UnicodeFallback::Linux),
        2 => Some(UnicodeFallback::WindowsAltCode),
        3 => Some(UnicodeFallback::WindowsHexNumpad),
        4 => Some(UnicodeFallback::MacOs),
        _ => None,
    };
    let skipping = Encoder::new(keymap)
        .skip_unencodable(true)
        .encode(&text)
        .expect("skipping never fails");
    let _ = Encoder::new(keymap)
        .unicode_fallback(fallback)
        .encode(&text);
    if let Ok(strokes) = encode(&text, keymap) {
        assert_eq!(strokes, skipping.strokes);
        let expected = text.replace("\r\n", "\n").replace('\r', "\n");
        assert_eq!(decode(&strokes, keymap), expected);
    } else {
        assert!(!skipping.skipped.is_empty());
    }
});
