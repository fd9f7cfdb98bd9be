//! The us and de layouts, and how they compare with the firmware's own paste tables.

use nanokvm_hid::{Keycode, Layout, Modifiers, Stroke, decode};

use super::{AG, NO, SH, check, strokes, untypeable};

#[test]
fn us() {
    check(
        Layout::Us,
        &[
            ("a", &[(NO, 0x04)]),
            ("Z", &[(SH, 0x1D)]),
            ("1!", &[(NO, 0x1E), (SH, 0x1E)]),
            ("@#", &[(SH, 0x1F), (SH, 0x20)]),
            ("-_=+", &[(NO, 0x2D), (SH, 0x2D), (NO, 0x2E), (SH, 0x2E)]),
            ("[]{}", &[(NO, 0x2F), (NO, 0x30), (SH, 0x2F), (SH, 0x30)]),
            ("\\|", &[(NO, 0x31), (SH, 0x31)]),
            (";:'\"", &[(NO, 0x33), (SH, 0x33), (NO, 0x34), (SH, 0x34)]),
            ("`~", &[(NO, 0x35), (SH, 0x35)]),
            (
                ",<.>/?",
                &[
                    (NO, 0x36),
                    (SH, 0x36),
                    (NO, 0x37),
                    (SH, 0x37),
                    (NO, 0x38),
                    (SH, 0x38),
                ],
            ),
            (" \n\t", &[(NO, 0x2C), (NO, 0x28), (NO, 0x2B)]),
        ],
    );
    untypeable(Layout::Us, "éüß€£§ä");
    let printable = (' '..='~').filter(|c| Layout::Us.can_type(*c)).count();
    assert_eq!(printable, 95, "US types all of printable ASCII");
}

#[test]
fn de() {
    check(
        Layout::De,
        &[
            ("z", &[(NO, 0x1C)]),
            ("y", &[(NO, 0x1D)]),
            ("Z", &[(SH, 0x1C)]),
            ("ä", &[(NO, 0x34)]),
            ("Ö", &[(SH, 0x33)]),
            ("ü", &[(NO, 0x2F)]),
            ("ß", &[(NO, 0x2D)]),
            ("@", &[(AG, 0x14)]),
            ("€", &[(AG, 0x08)]),
            ("\\", &[(AG, 0x2D)]),
            ("{[]}", &[(AG, 0x24), (AG, 0x25), (AG, 0x26), (AG, 0x27)]),
            ("|<>", &[(AG, 0x64), (NO, 0x64), (SH, 0x64)]),
            ("#'", &[(NO, 0x32), (SH, 0x32)]),
            ("~", &[(AG, 0x30)]),
            ("=", &[(SH, 0x27)]),
            ("µ", &[(AG, 0x10)]),
            ("²³", &[(AG, 0x1F), (AG, 0x20)]),
            // Dead keys: the accent alone is the dead key then Space.
            ("^", &[(NO, 0x35), (NO, 0x2C)]),
            ("´", &[(NO, 0x2E), (NO, 0x2C)]),
            ("`", &[(SH, 0x2E), (NO, 0x2C)]),
            // Composition: dead key then the base letter.
            ("ê", &[(NO, 0x35), (NO, 0x08)]),
            ("Â", &[(NO, 0x35), (SH, 0x04)]),
            ("é", &[(NO, 0x2E), (NO, 0x08)]),
            ("ý", &[(NO, 0x2E), (NO, 0x1D)]),
            ("ò", &[(SH, 0x2E), (NO, 0x12)]),
        ],
    );
    // Windows' German dead keys compose vowels only, so ĉ or ñ cannot be typed.
    untypeable(Layout::De, "ĉñçøæ£");
}

/// The firmware's paste table (`POST /api/hid/paste`): the US map, with the overrides
/// for `langue` (docs/protocol.md, "Paste"), as `(char, modifiers, usage)`.
fn firmware_table(langue: &str) -> Vec<(char, u8, u8)> {
    let mut map: Vec<(char, u8, u8)> = Vec::new();
    let mut set = |c: char, m: u8, u: u8| match map.iter_mut().find(|e| e.0 == c) {
        Some(entry) => *entry = (c, m, u),
        None => map.push((c, m, u)),
    };
    for (i, c) in ('a'..='z').enumerate() {
        let u = 4 + u8::try_from(i).unwrap();
        set(c, 0, u);
        set(c.to_ascii_uppercase(), 2, u);
    }
    for (i, c) in "1234567890".chars().enumerate() {
        set(c, 0, 30 + u8::try_from(i).unwrap());
    }
    for (i, c) in "!@#$%^&*()".chars().enumerate() {
        set(c, 2, 30 + u8::try_from(i).unwrap());
    }
    let us: &[(char, u8, u8)] = &[
        ('\n', 0, 40),
        ('\t', 0, 43),
        (' ', 0, 44),
        ('-', 0, 45),
        ('=', 0, 46),
        ('[', 0, 47),
        (']', 0, 48),
        ('\\', 0, 49),
        (';', 0, 51),
        ('\'', 0, 52),
        ('`', 0, 53),
        (',', 0, 54),
        ('.', 0, 55),
        ('/', 0, 56),
        ('_', 2, 45),
        ('+', 2, 46),
        ('{', 2, 47),
        ('}', 2, 48),
        ('|', 2, 49),
        (':', 2, 51),
        ('"', 2, 52),
        ('~', 2, 53),
        ('<', 2, 54),
        ('>', 2, 55),
        ('?', 2, 56),
    ];
    for &(c, m, u) in us {
        set(c, m, u);
    }
    let overrides: &[(char, u8, u8)] = match langue {
        "de" => &[
            ('y', 0, 29),
            ('Y', 2, 29),
            ('z', 0, 28),
            ('Z', 2, 28),
            ('ä', 0, 52),
            ('Ä', 2, 52),
            ('ö', 0, 51),
            ('Ö', 2, 51),
            ('ü', 0, 47),
            ('Ü', 2, 47),
            ('ß', 0, 45),
            ('^', 0, 53),
            ('/', 2, 36),
            ('(', 2, 37),
            (')', 2, 38),
            ('&', 2, 35),
            ('`', 2, 46),
            ('"', 2, 31),
            ('?', 2, 45),
            ('{', 0x40, 36),
            ('[', 0x40, 37),
            (']', 0x40, 38),
            ('}', 0x40, 39),
            ('\\', 0x40, 45),
            ('@', 0x40, 20),
            ('+', 0, 48),
            ('*', 2, 48),
            ('~', 0x40, 48),
            ('#', 0, 49),
            ('\'', 2, 49),
            ('<', 0, 100),
            ('>', 2, 100),
            ('|', 0x40, 100),
            (';', 2, 54),
            (':', 2, 55),
            ('-', 0, 56),
            ('_', 2, 56),
            ('´', 0, 46),
            ('°', 2, 53),
            ('§', 2, 32),
            ('€', 0x40, 8),
            ('²', 0x40, 31),
            ('³', 0x40, 32),
        ],
        "fr" => &[
            ('a', 0, 20),
            ('A', 2, 20),
            ('q', 0, 4),
            ('Q', 2, 4),
            ('z', 0, 26),
            ('Z', 2, 26),
            ('w', 0, 29),
            ('W', 2, 29),
            ('m', 0, 51),
            ('M', 2, 51),
            ('1', 2, 30),
            ('2', 2, 31),
            ('3', 2, 32),
            ('4', 2, 33),
            ('5', 2, 34),
            ('6', 2, 35),
            ('7', 2, 36),
            ('8', 2, 37),
            ('9', 2, 38),
            ('0', 2, 39),
            ('&', 0, 30),
            ('é', 0, 31),
            ('"', 0, 32),
            ('\'', 0, 33),
            ('(', 0, 34),
            ('-', 0, 35),
            ('è', 0, 36),
            ('_', 0, 37),
            ('ç', 0, 38),
            ('à', 0, 39),
            (')', 0, 45),
            ('°', 2, 45),
            ('^', 0, 47),
            ('¨', 2, 47),
            ('$', 0, 48),
            ('£', 2, 48),
            ('*', 0, 49),
            ('µ', 2, 49),
            ('ù', 0, 52),
            ('%', 2, 52),
            (',', 0, 16),
            ('?', 2, 16),
            (';', 0, 54),
            ('.', 2, 54),
            (':', 0, 55),
            ('/', 2, 55),
            ('!', 0, 56),
            ('§', 2, 56),
            ('~', 0x40, 31),
            ('#', 0x40, 32),
            ('{', 0x40, 33),
            ('[', 0x40, 34),
            ('|', 0x40, 35),
            ('`', 0x40, 36),
            ('\\', 0x40, 37),
            ('@', 0x40, 39),
            (']', 0x40, 45),
            ('}', 0x40, 46),
            ('€', 0x40, 8),
        ],
        _ => &[],
    };
    for &(c, m, u) in overrides {
        set(c, m, u);
    }
    map
}

/// Why the firmware's paste table and this crate's layout type a character differently.
#[derive(Debug, PartialEq)]
enum Difference {
    /// The key left of Enter on an ISO keyboard sends usage 0x32 ("Non-US #"); the
    /// firmware sends 0x31 ("\ and |", the ANSI key), which Windows, Linux and macOS map to
    /// the same key, so both type the same. We send what a real keyboard of the layout
    /// sends.
    IsoKeyLeftOfEnter,
    /// The firmware presses a dead key once, so the target shows nothing until the next
    /// key and then may compose with it (`^` then `e` gives `ê`, not `^e`). A real
    /// keyboard types the accent alone as the dead key then Space, which is what we send,
    /// or with a key that types it directly where the layout has one.
    DeadKeyAlone,
    /// The firmware keeps the US position for a character the layout has elsewhere, so a
    /// real keyboard of that layout types something else.
    FirmwareTypesWrongCharacter,
}

fn compare(layout: Layout, langue: &str, expected: &[(char, Difference)]) {
    let mut found = Vec::new();
    for (c, m, u) in firmware_table(langue) {
        let ours = strokes(layout, &c.to_string());
        if ours == [(m, u)] {
            continue;
        }
        // What the firmware's stroke types on a real keyboard of this layout.
        let firmware_stroke = Stroke::new(Modifiers::from_bits(m), Keycode::from_usage(u));
        let typed = decode(&[firmware_stroke], layout);
        let difference = if u == 0x31 && ours == [(m, 0x32)] {
            assert_eq!(typed, c.to_string(), "0x31 and 0x32 type the same");
            Difference::IsoKeyLeftOfEnter
        } else if typed.is_empty()
            && decode(
                &[
                    firmware_stroke,
                    Stroke::new(Modifiers::NONE, Keycode::SPACE),
                ],
                layout,
            ) == c.to_string()
        {
            Difference::DeadKeyAlone
        } else {
            assert_ne!(typed, c.to_string());
            Difference::FirmwareTypesWrongCharacter
        };
        found.push((c, difference));
    }
    found.sort_by_key(|(c, _)| *c);
    assert_eq!(found, expected, "{layout} vs firmware `{langue}`");
}

/// Decision record for `de`: where the firmware and this crate differ, the crate follows a
/// real German keyboard.
#[test]
fn de_agrees_with_the_firmware_except_where_the_firmware_is_wrong() {
    compare(
        Layout::De,
        "de",
        &[
            ('#', Difference::IsoKeyLeftOfEnter),
            ('\'', Difference::IsoKeyLeftOfEnter),
            // The firmware sends US `=` (usage 0x2E), which is the dead acute key on a German
            // keyboard; `=` is Shift+0 there.
            ('=', Difference::FirmwareTypesWrongCharacter),
            ('^', Difference::DeadKeyAlone),
            ('`', Difference::DeadKeyAlone),
            ('´', Difference::DeadKeyAlone),
        ],
    );
    assert_eq!(strokes(Layout::De, "="), [(SH, 0x27)]);
    // What the firmware's `=` turns into on a German target: a pending dead acute that
    // composes with the next letter.
    let firmware_equals_then_e = [
        nanokvm_hid::Stroke::new(nanokvm_hid::Modifiers::NONE, nanokvm_hid::Keycode::EQUAL),
        nanokvm_hid::Stroke::new(nanokvm_hid::Modifiers::NONE, nanokvm_hid::Keycode::E),
    ];
    assert_eq!(
        nanokvm_hid::decode(&firmware_equals_then_e, Layout::De),
        "é"
    );
}

/// Decision record for `fr`.
#[test]
fn fr_agrees_with_the_firmware_except_where_the_firmware_is_wrong() {
    compare(
        Layout::Fr,
        "fr",
        &[
            ('*', Difference::IsoKeyLeftOfEnter),
            // The firmware keeps US Shift+comma and Shift+period for `<` and `>`; on AZERTY
            // those type `.` and `/`. A French keyboard has `<` and `>` on the ISO key.
            ('<', Difference::FirmwareTypesWrongCharacter),
            ('>', Difference::FirmwareTypesWrongCharacter),
            ('^', Difference::DeadKeyAlone),
            ('`', Difference::DeadKeyAlone),
            ('~', Difference::DeadKeyAlone),
            ('¨', Difference::DeadKeyAlone),
            ('µ', Difference::IsoKeyLeftOfEnter),
        ],
    );
    assert_eq!(strokes(Layout::Fr, "<>"), [(NO, 0x64), (SH, 0x64)]);
    // French Windows has a plain `^` on AltGr+9 besides the dead key, so no Space is needed.
    assert_eq!(strokes(Layout::Fr, "^"), [(AG, 0x26)]);
}
