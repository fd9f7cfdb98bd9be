//! Key names, modifiers and chords.

use nanokvm_hid::{Chord, Error, KeySequence, Keycode, Modifiers};

#[test]
fn key_names_resolve_case_insensitively() {
    let table: &[(&str, u8)] = &[
        ("KeyA", 0x04),
        ("keya", 0x04),
        ("a", 0x04),
        ("Z", 0x1D),
        ("Digit1", 0x1E),
        ("1", 0x1E),
        ("0", 0x27),
        ("enter", 0x28),
        ("Return", 0x28),
        ("esc", 0x29),
        ("ESCAPE", 0x29),
        ("backspace", 0x2A),
        ("tab", 0x2B),
        ("space", 0x2C),
        ("delete", 0x4C),
        ("del", 0x4C),
        ("insert", 0x49),
        ("up", 0x52),
        ("down", 0x51),
        ("left", 0x50),
        ("right", 0x4F),
        ("ArrowUp", 0x52),
        ("home", 0x4A),
        ("end", 0x4D),
        ("pageup", 0x4B),
        ("pgup", 0x4B),
        ("pagedown", 0x4E),
        ("pgdn", 0x4E),
        ("f1", 0x3A),
        ("F12", 0x45),
        ("f13", 0x68),
        ("F24", 0x73),
        ("printscreen", 0x46),
        ("capslock", 0x39),
        ("ControlLeft", 0xE0),
        ("MetaRight", 0xE7),
        ("Numpad0", 0x62),
        ("NumpadEnter", 0x58),
        ("numpadadd", 0x57),
        ("IntlBackslash", 0x64),
        ("IntlRo", 0x87),
        ("IntlYen", 0x89),
        ("IntlHash", 0x32),
        ("Lang1", 0x90),
        ("Lang2", 0x91),
        ("ContextMenu", 0x65),
        ("menu", 0x65),
        ("Backquote", 0x35),
        ("0x2a", 0x2A),
        ("0XE7", 0xE7),
        ("  enter  ", 0x28),
    ];
    for &(name, usage) in table {
        assert_eq!(
            Keycode::from_name(name).map(Keycode::usage),
            Ok(usage),
            "{name}"
        );
    }
}

#[test]
fn standard_names_round_trip() {
    for key in Keycode::all() {
        let name = key.name().expect("every listed key has a name");
        assert_eq!(Keycode::from_name(name), Ok(key), "{name}");
        assert_eq!(key.to_string(), name);
    }
    assert_eq!(
        Keycode::all().count(),
        0xA4 - 0x04 + 1 + (0xDD - 0xB0 + 1) + 8
    );
    assert_eq!(Keycode::from_usage(0xA5).name(), None);
    assert_eq!(Keycode::from_usage(0xA5).to_string(), "0xa5");
}

#[test]
fn unknown_names_suggest_the_closest() {
    let table = [
        ("entr", Some("Enter")),
        ("escpae", Some("Escape")),
        ("ArowUp", Some("ArrowUp")),
        ("pgdwn", Some("pgdn")),
        ("f25", Some("F2")),
        ("xyzzy-frobnicate", None),
        ("", None),
    ];
    for (name, suggestion) in table {
        match Keycode::from_name(name) {
            Err(Error::UnknownKey {
                suggestion: got, ..
            }) => {
                assert_eq!(got.as_deref(), suggestion, "{name}");
            }
            other => panic!("{name}: expected an unknown-key error, got {other:?}"),
        }
    }
    let message = Keycode::from_name("entr").unwrap_err().to_string();
    assert_eq!(message, "unknown key name `entr`; did you mean `Enter`?");
}

#[test]
fn chords_parse() {
    let table: &[(&str, u8, &[u8])] = &[
        ("ctrl+alt+delete", 0x05, &[0x4C]),
        ("Ctrl+Shift+Esc", 0x03, &[0x29]),
        ("win+r", 0x08, &[0x15]),
        ("cmd+space", 0x08, &[0x2C]),
        ("AltGr+q", 0x40, &[0x14]),
        ("rctrl+rshift+ralt+rwin+a", 0xF0, &[0x04]),
        ("RightCtrl+F1", 0x10, &[0x3A]),
        ("ControlLeft+c", 0x01, &[0x06]),
        ("shift", 0x02, &[]),
        ("enter", 0x00, &[0x28]),
        ("a+b+c+d+e+f", 0x00, &[0x04, 0x05, 0x06, 0x07, 0x08, 0x09]),
        ("ctrl + alt + del", 0x05, &[0x4C]),
        ("super+Tab", 0x08, &[0x2B]),
        ("option+ArrowLeft", 0x04, &[0x50]),
        ("ctrl+ctrl+x", 0x01, &[0x1B]),
    ];
    for &(text, modifiers, keys) in table {
        let chord = Chord::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(chord.modifiers(), Modifiers::from_bits(modifiers), "{text}");
        let usages: Vec<u8> = chord.keys().iter().map(|k| k.usage()).collect();
        assert_eq!(usages, keys, "{text}");
    }
}

#[test]
fn bad_chords_are_errors() {
    assert!(matches!(
        Chord::parse("a+b+c+d+e+f+g"),
        Err(Error::TooManyKeys { count: 7, .. })
    ));
    assert!(matches!(
        Chord::parse("ctrl++a"),
        Err(Error::EmptyChord { .. })
    ));
    assert!(matches!(Chord::parse(""), Err(Error::EmptyChord { .. })));
    assert!(matches!(
        Chord::parse("a+a"),
        Err(Error::DuplicateKey { .. })
    ));
    let error = Chord::parse("ctlr+c").unwrap_err();
    assert!(matches!(error, Error::UnknownKey { .. }));
    assert_eq!(
        error.to_string(),
        "unknown key name `ctlr`; did you mean `ctrl`?"
    );
    let error = Chord::parse("a+b+c+d+e+f+g").unwrap_err().to_string();
    assert_eq!(
        error,
        "chord `a+b+c+d+e+f+g` presses 7 keys; a keyboard report holds at most 6 besides modifiers"
    );
}

#[test]
fn chord_reports_press_modifiers_first_and_release_in_reverse() {
    let chord = Chord::parse("ctrl+alt+delete").unwrap();
    let bytes: Vec<[u8; 8]> = chord.reports().iter().map(|r| r.to_bytes()).collect();
    assert_eq!(
        bytes,
        vec![
            [0x01, 0, 0, 0, 0, 0, 0, 0],
            [0x05, 0, 0, 0, 0, 0, 0, 0],
            [0x05, 0, 0x4C, 0, 0, 0, 0, 0],
            [0x05, 0, 0, 0, 0, 0, 0, 0],
            [0x01, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
        ]
    );
    let two = Chord::parse("a+b").unwrap();
    let bytes: Vec<[u8; 8]> = two.reports().iter().map(|r| r.to_bytes()).collect();
    assert_eq!(
        bytes,
        vec![
            [0, 0, 0x04, 0, 0, 0, 0, 0],
            [0, 0, 0x04, 0x05, 0, 0, 0, 0],
            [0, 0, 0x04, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
        ]
    );
    assert_eq!(chord.to_string(), "ControlLeft+AltLeft+Delete");
    assert_eq!(Chord::parse(&chord.to_string()), Ok(chord));
}

#[test]
fn sequences_parse() {
    let sequence = KeySequence::parse("ctrl+a ctrl+c\tdown  enter").unwrap();
    let rendered: Vec<String> = sequence.chords().iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        ["ControlLeft+KeyA", "ControlLeft+KeyC", "ArrowDown", "Enter"]
    );
    assert_eq!(sequence.reports().len(), 4 + 4 + 2 + 2);
    assert_eq!(
        KeySequence::parse("ctrl + a  shift +tab")
            .unwrap()
            .chords()
            .len(),
        2
    );
    assert!(matches!(
        KeySequence::parse("   "),
        Err(Error::EmptyChord { .. })
    ));
    assert!(KeySequence::parse("ctrl+a nope").is_err());
    assert_eq!(
        KeySequence::parse(&sequence.to_string()).unwrap(),
        sequence,
        "the display form parses back"
    );
}

#[test]
fn errors_are_thread_safe() {
    fn assert_bounds<T: Send + Sync + 'static + std::error::Error>() {}
    assert_bounds::<Error>();
}
