//! Property tests: round trips on every layout on both systems, and no panics on arbitrary
//! input.

use nanokvm_hid::{
    Chord, Decoder, Encoder, KeySequence, KeyboardReport, Keycode, Keymap, Layout, TargetOs,
    UnicodeFallback, decode, encode,
};
use proptest::prelude::*;

/// Every layout on every system.
fn keymaps() -> Vec<Keymap> {
    TargetOs::ALL
        .iter()
        .flat_map(|&os| Layout::ALL.iter().map(move |&layout| layout.on(os)))
        .collect()
}

fn keymap() -> impl Strategy<Value = Keymap> {
    prop::sample::select(keymaps())
}

/// A keymap and a text made of characters that keymap can type.
fn typeable_text() -> impl Strategy<Value = (Keymap, String)> {
    keymap().prop_flat_map(|keymap| {
        let chars: Vec<char> = keymap.chars().into_iter().map(|(c, _)| c).collect();
        (
            Just(keymap),
            prop::collection::vec(prop::sample::select(chars), 0..64)
                .prop_map(|chars| chars.into_iter().collect::<String>()),
        )
    })
}

#[test]
fn every_typeable_character_round_trips_alone() {
    for keymap in keymaps() {
        for (c, strokes) in keymap.chars() {
            assert_eq!(decode(strokes, keymap), c.to_string(), "{keymap}: {c:?}");
            let encoded = Encoder::new(keymap).caps_lock(true).encode(&c.to_string());
            let Ok(encoded) = encoded else {
                // With Caps Lock on, Linux turns some letters into capitals on every
                // level that types them (the Czech number row), so they cannot be typed.
                assert_eq!(keymap.os, TargetOs::Linux, "{keymap}: {c:?} with Caps Lock");
                continue;
            };
            let mut decoder = Decoder::new(keymap);
            decoder.set_caps_lock(true);
            let mut typed = String::new();
            for stroke in &encoded.strokes {
                nanokvm_hid::apply(&mut typed, decoder.feed_stroke(stroke));
            }
            assert_eq!(typed, c.to_string(), "{keymap}: {c:?} with Caps Lock");
        }
    }
}

#[test]
fn every_keymap_types_printable_ascii_letters_and_digits() {
    for keymap in keymaps() {
        for c in ('a'..='z')
            .chain('A'..='Z')
            .chain('0'..='9')
            .chain([' ', '\n', '\t'])
        {
            assert!(keymap.can_type(c), "{keymap} cannot type {c:?}");
        }
    }
}

#[test]
fn a_bare_layout_is_the_windows_keymap() {
    for &layout in Layout::ALL {
        let windows = layout.on(TargetOs::Windows);
        assert_eq!(Keymap::from(layout), windows);
        assert_eq!(layout.chars(), windows.chars(), "{layout}");
        assert_eq!(Encoder::new(layout).keymap(), windows);
        assert_eq!(Decoder::new(layout).keymap(), windows);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_inverts_encode((keymap, text) in typeable_text()) {
        let strokes = encode(&text, keymap).unwrap();
        prop_assert_eq!(decode(&strokes, keymap), text);
    }

    #[test]
    fn caps_lock_aware_encoding_round_trips((keymap, text) in typeable_text()) {
        let Ok(encoded) = Encoder::new(keymap).caps_lock(true).encode(&text) else {
            // Only Linux has characters that Caps Lock makes untypeable.
            prop_assert_eq!(keymap.os, TargetOs::Linux);
            return Ok(());
        };
        let mut decoder = Decoder::new(keymap);
        decoder.set_caps_lock(true);
        let mut typed = String::new();
        for stroke in &encoded.strokes {
            nanokvm_hid::apply(&mut typed, decoder.feed_stroke(stroke));
        }
        prop_assert_eq!(typed, text);
    }

    #[test]
    fn line_endings_normalise(keymap in keymap(), text in "[a-z\r\n]{0,24}") {
        // `\r\n` and a lone `\r` each type one Enter.
        let expected = text.replace("\r\n", "\n").replace('\r', "\n");
        let strokes = encode(&text, keymap).unwrap();
        prop_assert_eq!(decode(&strokes, keymap), expected);
    }

    #[test]
    fn encoding_arbitrary_text_never_panics(keymap in keymap(), text in any::<String>()) {
        let strict = encode(&text, keymap);
        let skipping = Encoder::new(keymap).skip_unencodable(true).encode(&text).unwrap();
        match strict {
            Ok(strokes) => prop_assert_eq!(strokes, skipping.strokes),
            Err(_) => prop_assert!(!skipping.skipped.is_empty()),
        }
        for fallback in [UnicodeFallback::Linux, UnicodeFallback::WindowsAltCode, UnicodeFallback::WindowsHexNumpad, UnicodeFallback::MacOs] {
            let _ = Encoder::new(keymap).unicode_fallback(Some(fallback)).skip_unencodable(true).encode(&text).unwrap();
        }
    }

    #[test]
    fn skipping_keeps_exactly_the_typeable_characters(keymap in keymap(), text in "[a-zé€Жß^~@`' \\n]{0,40}") {
        let encoded = Encoder::new(keymap).skip_unencodable(true).encode(&text).unwrap();
        let kept: String = text.chars().filter(|&c| keymap.can_type(c)).collect();
        prop_assert_eq!(decode(&encoded.strokes, keymap), kept);
        prop_assert_eq!(encoded.skipped.len(), text.chars().filter(|&c| !keymap.can_type(c)).count());
    }

    #[test]
    fn key_and_chord_parsing_never_panics(text in any::<String>()) {
        let _ = Keycode::from_name(&text);
        let _ = Chord::parse(&text);
        let _ = KeySequence::parse(&text);
        let _ = Layout::from_name(&text);
        let _ = TargetOs::from_name(&text);
    }

    #[test]
    fn chord_names_parse_back(modifiers in any::<u8>(), keys in prop::collection::btree_set(0x04u8..=0xA4, 0..=6)) {
        let keys: Vec<Keycode> = keys.into_iter().map(Keycode::from_usage).collect();
        let chord = Chord::new(nanokvm_hid::Modifiers::from_bits(modifiers), &keys).unwrap();
        if chord.modifiers().bits() != 0 || !keys.is_empty() {
            prop_assert_eq!(Chord::parse(&chord.to_string()).unwrap(), chord);
        }
    }

    #[test]
    fn decoding_arbitrary_reports_never_panics(keymap in keymap(), reports in prop::collection::vec(proptest::array::uniform8(any::<u8>()), 0..32)) {
        let mut decoder = Decoder::new(keymap);
        for bytes in reports {
            let report = KeyboardReport::from_bytes(&bytes).unwrap();
            let _ = decoder.feed(&report);
        }
    }
}
