//! Encoding options, errors, Unicode fallbacks and decoding behaviour.

use nanokvm_hid::{
    Decoded, Decoder, Encoder, Error, KeyboardReport, Keycode, Layout, Modifiers, UnicodeFallback,
    decode, decode_reports, encode, reports,
};

use super::{NO, SH, strokes};

#[test]
fn control_characters() {
    assert_eq!(
        strokes(Layout::Us, "a\nb"),
        [(NO, 0x04), (NO, 0x28), (NO, 0x05)]
    );
    assert_eq!(strokes(Layout::Us, "\t"), [(NO, 0x2B)]);
    assert_eq!(
        strokes(Layout::Us, "a\r\nb"),
        [(NO, 0x04), (NO, 0x28), (NO, 0x05)]
    );
    assert_eq!(strokes(Layout::Us, "\r"), [(NO, 0x28)]);
    assert_eq!(strokes(Layout::Us, "\r\r\n"), [(NO, 0x28), (NO, 0x28)]);
    assert_eq!(strokes(Layout::Us, ""), []);
}

#[test]
fn unencodable_characters_are_all_listed_with_positions() {
    let error = encode("aЖb€\u{7}é", Layout::Us).unwrap_err();
    let Error::Unencodable { layout, chars } = &error else {
        panic!("expected Unencodable, got {error:?}");
    };
    assert_eq!(*layout, "us");
    let found: Vec<(char, usize, usize)> = chars
        .iter()
        .map(|u| (u.ch, u.index, u.byte_offset))
        .collect();
    assert_eq!(
        found,
        [('Ж', 1, 1), ('€', 3, 4), ('\u{7}', 4, 7), ('é', 5, 8)]
    );
    assert_eq!(
        error.to_string(),
        "4 characters cannot be typed on layout `us`: 'Ж' (U+0416) at character 1, \
         '€' (U+20AC) at character 3, '\\u{7}' (U+0007) at character 4, 'é' (U+00E9) at character 5"
    );
    let many: String = std::iter::repeat_n('Ж', 20).collect();
    let message = encode(&many, Layout::Us).unwrap_err().to_string();
    assert!(message.ends_with(" and 12 more"), "{message}");
}

#[test]
fn skipping_reports_what_was_left_out() {
    let encoded = Encoder::new(Layout::Us)
        .skip_unencodable(true)
        .encode("aЖb")
        .unwrap();
    assert_eq!(decode(&encoded.strokes, Layout::Us), "ab");
    assert_eq!(encoded.skipped.len(), 1);
    assert_eq!((encoded.skipped[0].ch, encoded.skipped[0].index), ('Ж', 1));
    assert_eq!(encoded.reports().len(), 4);
}

#[test]
fn linux_fallback_types_ctrl_shift_u_and_hex() {
    let encoded = Encoder::new(Layout::Us)
        .unicode_fallback(Some(UnicodeFallback::Linux))
        .encode("→")
        .unwrap();
    let got: Vec<(u8, u8)> = encoded
        .strokes
        .iter()
        .map(|s| (s.modifiers.bits(), s.key.usage()))
        .collect();
    // Ctrl+Shift+U, 2 1 9 2, Space.
    assert_eq!(
        got,
        [
            (0x03, 0x18),
            (NO, 0x1F),
            (NO, 0x1E),
            (NO, 0x26),
            (NO, 0x1F),
            (NO, 0x2C)
        ]
    );
    // On AZERTY the digits need Shift.
    let fr = Encoder::new(Layout::Fr)
        .unicode_fallback(Some(UnicodeFallback::Linux))
        .encode("→")
        .unwrap();
    assert_eq!(
        (fr.strokes[1].modifiers.bits(), fr.strokes[1].key.usage()),
        (SH, 0x1F)
    );
}

#[test]
fn windows_alt_code_holds_alt_across_the_digits() {
    let encoded = Encoder::new(Layout::Us)
        .unicode_fallback(Some(UnicodeFallback::WindowsAltCode))
        .encode("é€")
        .unwrap();
    let bytes: Vec<[u8; 8]> = encoded.reports().iter().map(|r| r.to_bytes()).collect();
    // Alt+0233 (é), then Alt+0128 (€): Alt stays down between the digits of one code and
    // is released between codes.
    let alt = 0x04;
    let expected_keys = [0x62, 0x5A, 0x5B, 0x5B, 0x62, 0x59, 0x5A, 0x60];
    assert_eq!(bytes.len(), 16);
    for (i, key) in expected_keys.iter().enumerate() {
        assert_eq!(bytes[2 * i], [alt, 0, *key, 0, 0, 0, 0, 0], "press {i}");
    }
    assert_eq!(bytes[1], [alt, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(bytes[7], [0; 8]);
    assert_eq!(bytes[15], [0; 8]);
    let error = Encoder::new(Layout::Us)
        .unicode_fallback(Some(UnicodeFallback::WindowsAltCode))
        .encode("→")
        .unwrap_err();
    assert!(matches!(error, Error::Unencodable { .. }));
}

#[test]
fn windows_hex_numpad_and_macos() {
    let win = Encoder::new(Layout::Us)
        .unicode_fallback(Some(UnicodeFallback::WindowsHexNumpad))
        .encode("→")
        .unwrap();
    let keys: Vec<u8> = win.strokes.iter().map(|s| s.key.usage()).collect();
    assert_eq!(keys, [0x57, 0x5A, 0x59, 0x61, 0x5A]);
    assert!(
        win.strokes
            .iter()
            .all(|s| s.modifiers == Modifiers::LEFT_ALT)
    );
    let mac = Encoder::new(Layout::De)
        .unicode_fallback(Some(UnicodeFallback::MacOs))
        .encode("😀")
        .unwrap();
    // U+1F600 is D83D DE00 in UTF-16; Unicode Hex Input keys are at US positions.
    let keys: Vec<u8> = mac.strokes.iter().map(|s| s.key.usage()).collect();
    assert_eq!(keys, [0x07, 0x25, 0x20, 0x07, 0x07, 0x08, 0x27, 0x27]);
    assert!(mac.strokes[..7].iter().all(|s| s.hold_modifiers));
    assert!(!mac.strokes[7].hold_modifiers);
}

#[test]
fn fallbacks_never_type_control_characters() {
    for fallback in [
        UnicodeFallback::Linux,
        UnicodeFallback::WindowsAltCode,
        UnicodeFallback::WindowsHexNumpad,
        UnicodeFallback::MacOs,
    ] {
        let result = Encoder::new(Layout::Us)
            .unicode_fallback(Some(fallback))
            .encode("\u{1b}");
        assert!(result.is_err(), "{fallback:?}");
    }
}

#[test]
fn decoder_composes_dead_keys_like_windows() {
    let dead = (Modifiers::NONE, Keycode::BACKQUOTE); // dead ^ on de
    let press = |(m, k): (Modifiers, Keycode)| {
        [KeyboardReport::single(m, Some(k)), KeyboardReport::RELEASE]
    };
    let run = |keys: &[(Modifiers, Keycode)]| {
        let reports: Vec<KeyboardReport> = keys.iter().flat_map(|&k| press(k)).collect();
        decode_reports(&reports, Layout::De)
    };
    let e = (Modifiers::NONE, Keycode::E);
    let big_e = (Modifiers::LEFT_SHIFT, Keycode::E);
    let space = (Modifiers::NONE, Keycode::SPACE);
    let x = (Modifiers::NONE, Keycode::X);
    let backspace = (Modifiers::NONE, Keycode::BACKSPACE);
    assert_eq!(run(&[dead, e]), "ê");
    assert_eq!(run(&[dead, big_e]), "Ê");
    assert_eq!(run(&[dead, space]), "^");
    assert_eq!(run(&[dead, x]), "^x");
    assert_eq!(run(&[dead, dead]), "^^");
    assert_eq!(run(&[e, dead, backspace, e]), "ee");
    assert_eq!(run(&[e, x, backspace]), "e");
}

#[test]
fn decoder_separates_shortcuts_and_tracks_caps_lock() {
    let mut decoder = Decoder::new(Layout::Us);
    let ctrl_c = KeyboardReport::single(Modifiers::LEFT_CTRL, Some(Keycode::C));
    let events = decoder.feed(&ctrl_c);
    assert!(
        matches!(events.as_slice(), [Decoded::Key(chord)] if chord.to_string() == "ControlLeft+KeyC")
    );
    // Holding the same report again is not a new press.
    assert!(decoder.feed(&ctrl_c).is_empty());
    decoder.feed(&KeyboardReport::RELEASE);
    decoder.feed(&KeyboardReport::single(
        Modifiers::NONE,
        Some(Keycode::CAPS_LOCK),
    ));
    decoder.feed(&KeyboardReport::RELEASE);
    assert!(decoder.caps_lock());
    let a = decoder.feed(&KeyboardReport::single(Modifiers::NONE, Some(Keycode::A)));
    assert_eq!(a, [Decoded::Text('A')]);
    decoder.feed(&KeyboardReport::RELEASE);
    let one = decoder.feed(&KeyboardReport::single(
        Modifiers::NONE,
        Some(Keycode::DIGIT1),
    ));
    assert_eq!(one, [Decoded::Text('1')], "Caps Lock does not shift digits");
    decoder.feed(&KeyboardReport::RELEASE);
    let up = decoder.feed(&KeyboardReport::single(
        Modifiers::NONE,
        Some(Keycode::ARROW_UP),
    ));
    assert!(matches!(up.as_slice(), [Decoded::Key(_)]));
    // AltGr is only a shortcut modifier on layouts without an AltGr level.
    let ralt_q = KeyboardReport::single(Modifiers::ALT_GR, Some(Keycode::Q));
    let mut de = Decoder::new(Layout::De);
    assert_eq!(de.feed(&ralt_q), [Decoded::Text('@')]);
    let mut us = Decoder::new(Layout::Us);
    assert!(matches!(us.feed(&ralt_q).as_slice(), [Decoded::Key(_)]));
}

#[test]
fn rollover_reports_decode_each_new_key_once() {
    // "ab" typed quickly: b goes down before a comes up.
    let bytes: [[u8; 8]; 4] = [
        [0, 0, 0x04, 0, 0, 0, 0, 0],
        [0, 0, 0x04, 0x05, 0, 0, 0, 0],
        [0, 0, 0x05, 0, 0, 0, 0, 0],
        [0; 8],
    ];
    let reports: Vec<KeyboardReport> = bytes
        .iter()
        .map(|b| KeyboardReport::from_bytes(b).unwrap())
        .collect();
    assert_eq!(decode_reports(&reports, Layout::Us), "ab");
}

#[test]
fn reports_press_then_release_each_stroke() {
    let strokes = encode("Ab", Layout::Us).unwrap();
    let bytes: Vec<[u8; 8]> = reports(&strokes).iter().map(|r| r.to_bytes()).collect();
    assert_eq!(
        bytes,
        [
            [0x02, 0, 0x04, 0, 0, 0, 0, 0],
            [0; 8],
            [0, 0, 0x05, 0, 0, 0, 0, 0],
            [0; 8],
        ]
    );
}
