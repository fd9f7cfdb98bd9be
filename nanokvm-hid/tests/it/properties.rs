//! Property tests: round trips on every layout, and no panics on arbitrary input.

use nanokvm_hid::{
    Chord, Decoder, Encoder, KeySequence, KeyboardReport, Keycode, Layout, UnicodeFallback, decode,
    encode,
};
use proptest::prelude::*;

fn layout() -> impl Strategy<Value = Layout> {
    prop::sample::select(Layout::ALL.to_vec())
}

/// A layout and a text made of characters that layout can type.
fn typeable_text() -> impl Strategy<Value = (Layout, String)> {
    layout().prop_flat_map(|layout| {
        let chars: Vec<char> = layout.chars().into_iter().map(|(c, _)| c).collect();
        (
            Just(layout),
            prop::collection::vec(prop::sample::select(chars), 0..64)
                .prop_map(|chars| chars.into_iter().collect::<String>()),
        )
    })
}

#[test]
fn every_typeable_character_round_trips_alone() {
    for &layout in Layout::ALL {
        for (c, strokes) in layout.chars() {
            assert_eq!(decode(strokes, layout), c.to_string(), "{layout}: {c:?}");
        }
    }
}

#[test]
fn every_layout_types_printable_ascii_letters_and_digits() {
    for &layout in Layout::ALL {
        for c in ('a'..='z')
            .chain('A'..='Z')
            .chain('0'..='9')
            .chain([' ', '\n', '\t'])
        {
            assert!(layout.can_type(c), "{layout} cannot type {c:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_inverts_encode((layout, text) in typeable_text()) {
        let strokes = encode(&text, layout).unwrap();
        prop_assert_eq!(decode(&strokes, layout), text);
    }

    #[test]
    fn caps_lock_aware_encoding_round_trips((layout, text) in typeable_text()) {
        let encoded = Encoder::new(layout).caps_lock(true).encode(&text).unwrap();
        let mut decoder = Decoder::new(layout);
        decoder.set_caps_lock(true);
        let mut typed = String::new();
        for stroke in &encoded.strokes {
            nanokvm_hid::apply(&mut typed, decoder.feed_stroke(stroke));
        }
        prop_assert_eq!(typed, text);
    }

    #[test]
    fn line_endings_normalise(layout in layout(), text in "[a-z\r\n]{0,24}") {
        // `\r\n` and a lone `\r` each type one Enter.
        let expected = text.replace("\r\n", "\n").replace('\r', "\n");
        let strokes = encode(&text, layout).unwrap();
        prop_assert_eq!(decode(&strokes, layout), expected);
    }

    #[test]
    fn encoding_arbitrary_text_never_panics(layout in layout(), text in any::<String>()) {
        let strict = encode(&text, layout);
        let skipping = Encoder::new(layout).skip_unencodable(true).encode(&text).unwrap();
        match strict {
            Ok(strokes) => prop_assert_eq!(strokes, skipping.strokes),
            Err(_) => prop_assert!(!skipping.skipped.is_empty()),
        }
        for fallback in [UnicodeFallback::Linux, UnicodeFallback::WindowsAltCode, UnicodeFallback::WindowsHexNumpad, UnicodeFallback::MacOs] {
            let _ = Encoder::new(layout).unicode_fallback(Some(fallback)).skip_unencodable(true).encode(&text).unwrap();
        }
    }

    #[test]
    fn skipping_keeps_exactly_the_typeable_characters(layout in layout(), text in "[a-zé€Жß^~@ \\n]{0,40}") {
        let encoded = Encoder::new(layout).skip_unencodable(true).encode(&text).unwrap();
        let kept: String = text.chars().filter(|&c| layout.can_type(c)).collect();
        prop_assert_eq!(decode(&encoded.strokes, layout), kept);
        prop_assert_eq!(encoded.skipped.len(), text.chars().filter(|&c| !layout.can_type(c)).count());
    }

    #[test]
    fn key_and_chord_parsing_never_panics(text in any::<String>()) {
        let _ = Keycode::from_name(&text);
        let _ = Chord::parse(&text);
        let _ = KeySequence::parse(&text);
        let _ = Layout::from_name(&text);
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
    fn decoding_arbitrary_reports_never_panics(layout in layout(), reports in prop::collection::vec(proptest::array::uniform8(any::<u8>()), 0..32)) {
        let mut decoder = Decoder::new(layout);
        for bytes in reports {
            let report = KeyboardReport::from_bytes(&bytes).unwrap();
            let _ = decoder.feed(&report);
        }
    }
}
