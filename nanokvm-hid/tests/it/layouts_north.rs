//! Spot checks for the layouts se, no, dk, fi, pl, cz, hu and jp.
//!
//! Usages: letters a-z are 0x04-0x1D, digits 1-0 are 0x1E-0x27, Space is 0x2C; the
//! punctuation keys are named in the comments. Each test also checks that every character
//! the layout can type reads back as itself.

use nanokvm_hid::{Keycode, Layout, Modifiers, Stroke, decode};

use super::*;

/// What the target types for `(modifier byte, usage)` strokes.
fn typed(layout: Layout, strokes: &[(u8, u8)]) -> String {
    let strokes: Vec<Stroke> = strokes
        .iter()
        .map(|&(m, u)| Stroke::new(Modifiers::from_bits(m), Keycode::from_usage(u)))
        .collect();
    decode(&strokes, layout)
}

/// Every typeable character decodes back to itself.
fn round_trip(layout: Layout) {
    let chars = layout.chars();
    assert!(
        chars.len() > 90,
        "{layout}: only {} characters",
        chars.len()
    );
    for (c, strokes) in chars {
        assert_eq!(decode(strokes, layout), c.to_string(), "{layout}: {c:?}");
    }
}

#[test]
fn swedish() {
    let l = Layout::Se;
    check(
        l,
        &[
            ("a", &[(NO, 0x04)]),
            ("Z", &[(SH, 0x1D)]),
            ("å", &[(NO, 0x2F)]),             // BracketLeft
            ("Ö", &[(SH, 0x33)]),             // Semicolon
            ("ä", &[(NO, 0x34)]),             // Quote
            ("§", &[(NO, 0x35)]),             // Backquote
            ("½", &[(SH, 0x35)]),             // Backquote
            ("\"", &[(SH, 0x1F)]),            // 2
            ("¤", &[(SH, 0x21)]),             // 4
            ("@", &[(AG, 0x1F)]),             // 2
            ("€", &[(AG, 0x22)]),             // 5
            ("{", &[(AG, 0x24)]),             // 7
            ("\\", &[(AG, 0x2D)]),            // Minus
            ("'", &[(NO, 0x32)]),             // IntlHash
            ("*", &[(SH, 0x32)]),             // IntlHash
            ("<", &[(NO, 0x64)]),             // IntlBackslash
            ("|", &[(AG, 0x64)]),             // IntlBackslash
            ("µ", &[(AG, 0x10)]),             // M
            ("é", &[(NO, 0x2E), (NO, 0x08)]), // dead ´ (Equal), e
            ("ê", &[(SH, 0x30), (NO, 0x08)]), // dead ^ (BracketRight), e
            ("ñ", &[(AG, 0x30), (NO, 0x11)]), // dead ~ (BracketRight), n
            ("ÿ", &[(NO, 0x30), (NO, 0x1C)]), // dead ¨ (BracketRight), y
            ("~", &[(AG, 0x30), (NO, 0x2C)]), // dead ~, Space
            ("`", &[(SH, 0x2E), (NO, 0x2C)]), // dead `, Space
        ],
    );
    untypeable(l, "Ÿĩśçøæ");
    round_trip(l);
}

#[test]
fn norwegian() {
    let l = Layout::No;
    check(
        l,
        &[
            ("q", &[(NO, 0x14)]),
            ("ø", &[(NO, 0x33)]),             // Semicolon
            ("Æ", &[(SH, 0x34)]),             // Quote
            ("Å", &[(SH, 0x2F)]),             // BracketLeft
            ("|", &[(NO, 0x35)]),             // Backquote
            ("§", &[(SH, 0x35)]),             // Backquote
            ("\\", &[(NO, 0x2E)]),            // Equal
            ("=", &[(SH, 0x27)]),             // 0
            ("$", &[(AG, 0x21)]),             // 4
            ("€", &[(AG, 0x08)]),             // E, not AltGr+5 (½ on xkb)
            ("}", &[(AG, 0x27)]),             // 0
            ("'", &[(NO, 0x32)]),             // IntlHash
            (">", &[(SH, 0x64)]),             // IntlBackslash
            ("á", &[(AG, 0x2E), (NO, 0x04)]), // dead ´ (AltGr+Equal), a
            ("Ô", &[(SH, 0x30), (SH, 0x12)]), // dead ^ (BracketRight), O
            ("ë", &[(NO, 0x30), (NO, 0x08)]), // dead ¨ (BracketRight), e
            ("´", &[(AG, 0x2E), (NO, 0x2C)]), // dead ´, Space
            ("`", &[(SH, 0x2E), (NO, 0x2C)]), // dead `, Space
        ],
    );
    untypeable(l, "½Ÿçĩß");
    round_trip(l);
}

#[test]
fn danish() {
    let l = Layout::Dk;
    check(
        l,
        &[
            ("m", &[(NO, 0x10)]),
            ("æ", &[(NO, 0x33)]),             // Semicolon
            ("Ø", &[(SH, 0x34)]),             // Quote
            ("å", &[(NO, 0x2F)]),             // BracketLeft
            ("½", &[(NO, 0x35)]),             // Backquote
            ("§", &[(SH, 0x35)]),             // Backquote
            ("+", &[(NO, 0x2D)]),             // Minus
            ("£", &[(AG, 0x20)]),             // 3
            ("|", &[(AG, 0x2E)]),             // Equal
            ("\\", &[(AG, 0x64)]),            // IntlBackslash
            ("€", &[(AG, 0x08)]),             // E, not AltGr+5 (½ on xkb)
            ("*", &[(SH, 0x32)]),             // IntlHash
            ("é", &[(NO, 0x2E), (NO, 0x08)]), // dead ´ (Equal), e
            ("Ã", &[(AG, 0x30), (SH, 0x04)]), // dead ~ (AltGr+BracketRight), A
            ("ù", &[(SH, 0x2E), (NO, 0x18)]), // dead ` (Equal), u
            ("^", &[(SH, 0x30), (NO, 0x2C)]), // dead ^, Space
            ("¨", &[(NO, 0x30), (NO, 0x2C)]), // dead ¨, Space
        ],
    );
    untypeable(l, "ĩŸçß¶");
    round_trip(l);
}

#[test]
fn finnish() {
    let l = Layout::Fi;
    check(
        l,
        &[
            ("y", &[(NO, 0x1C)]),
            ("ö", &[(NO, 0x33)]),             // Semicolon
            ("Ä", &[(SH, 0x34)]),             // Quote
            ("§", &[(NO, 0x35)]),             // Backquote
            ("?", &[(SH, 0x2D)]),             // Minus
            ("/", &[(SH, 0x24)]),             // 7
            ("]", &[(AG, 0x26)]),             // 9
            ("€", &[(AG, 0x08)]),             // E, not AltGr+5 (‰ on xkb)
            ("|", &[(AG, 0x64)]),             // IntlBackslash
            ("'", &[(NO, 0x32)]),             // IntlHash
            ("ü", &[(NO, 0x30), (NO, 0x18)]), // dead ¨ (BracketRight), u
            ("õ", &[(AG, 0x30), (NO, 0x12)]), // dead ~ (AltGr+BracketRight), o
            ("Ò", &[(SH, 0x2E), (SH, 0x12)]), // dead ` (Shift+Equal), O
            ("Ý", &[(NO, 0x2E), (SH, 0x1C)]), // dead ´ (Equal), Y
            ("¨", &[(NO, 0x30), (NO, 0x2C)]), // dead ¨, Space
            ("´", &[(NO, 0x2E), (NO, 0x2C)]), // dead ´, Space
        ],
    );
    untypeable(l, "‰Ÿçšĩæ");
    round_trip(l);
}

#[test]
fn polish_programmers() {
    let l = Layout::Pl;
    check(
        l,
        &[
            ("w", &[(NO, 0x1A)]),
            ("ą", &[(AG, 0x04)]),             // A
            ("Ć", &[(SA, 0x06)]),             // C
            ("ę", &[(AG, 0x08)]),             // E
            ("Ł", &[(SA, 0x0F)]),             // L
            ("ń", &[(AG, 0x11)]),             // N
            ("ó", &[(AG, 0x12)]),             // O
            ("ś", &[(AG, 0x16)]),             // S
            ("ź", &[(AG, 0x1B)]),             // X
            ("Ż", &[(SA, 0x1D)]),             // Z
            ("€", &[(AG, 0x18)]),             // U
            ("@", &[(SH, 0x1F)]),             // 2
            ("`", &[(NO, 0x35)]),             // Backquote
            ("{", &[(SH, 0x2F)]),             // BracketLeft
            ("\"", &[(SH, 0x34)]),            // Quote
            ("\\", &[(NO, 0x31)]),            // Backslash, not IntlBackslash (< on xkb)
            ("|", &[(SH, 0x31)]),             // Backslash
            ("~", &[(SH, 0x35), (NO, 0x2C)]), // dead ~ (Shift+Backquote), Space
        ],
    );
    // The ~ dead key composes the Polish letters, which are typed directly.
    for (strokes, text) in [
        (&[(SH, 0x35), (NO, 0x04)][..], "ą"),
        (&[(SH, 0x35), (NO, 0x1B)][..], "ź"),
        (&[(SH, 0x35), (SH, 0x1D)][..], "Ż"),
        (&[(SH, 0x35), (NO, 0x0F)][..], "ł"),
    ] {
        assert_eq!(typed(l, strokes), text);
    }
    untypeable(l, "ãñõĩũß£");
    round_trip(l);
}

#[test]
fn czech() {
    let l = Layout::Cz;
    check(
        l,
        &[
            ("z", &[(NO, 0x1C)]),             // Y key (QWERTZ)
            ("y", &[(NO, 0x1D)]),             // Z key
            ("+", &[(NO, 0x1E)]),             // 1
            ("1", &[(SH, 0x1E)]),             // 1
            ("ě", &[(NO, 0x1F)]),             // 2
            ("ř", &[(NO, 0x22)]),             // 5
            ("é", &[(NO, 0x27)]),             // 0
            ("%", &[(SH, 0x2D)]),             // Minus
            ("ú", &[(NO, 0x2F)]),             // BracketLeft
            ("(", &[(SH, 0x30)]),             // BracketRight
            ("ů", &[(NO, 0x33)]),             // Semicolon
            ("§", &[(NO, 0x34)]),             // Quote
            ("'", &[(SH, 0x32)]),             // IntlHash
            ("\\", &[(NO, 0x64)]),            // IntlBackslash
            ("|", &[(SH, 0x64)]),             // IntlBackslash
            ("~", &[(AG, 0x1E)]),             // 1
            ("€", &[(AG, 0x08)]),             // E
            ("@", &[(AG, 0x19)]),             // V
            ("[", &[(AG, 0x09)]),             // F
            ("$", &[(AG, 0x33)]),             // Semicolon
            ("Ř", &[(SH, 0x2E), (SH, 0x15)]), // dead ˇ (Shift+Equal), R
            ("Á", &[(NO, 0x2E), (SH, 0x04)]), // dead ´ (Equal), A
            ("Ů", &[(SH, 0x35), (SH, 0x18)]), // dead ° (Shift+Backquote), U
            ("ä", &[(NO, 0x32), (NO, 0x04)]), // dead ¨ (IntlHash), a
            ("ô", &[(AG, 0x20), (NO, 0x12)]), // dead ^ (AltGr+3), o
            ("ż", &[(AG, 0x25), (NO, 0x1C)]), // dead dot above (AltGr+8), z
            ("ç", &[(AG, 0x2E), (NO, 0x06)]), // dead ¸ (AltGr+Equal), c
            ("ˇ", &[(SH, 0x2E), (NO, 0x2C)]), // dead ˇ, Space
            ("·", &[(AG, 0x25), (NO, 0x2C)]), // dead dot above, Space: Windows types ·
        ],
    );
    untypeable(l, "˙ñĉøæ");
    round_trip(l);
}

#[test]
fn hungarian() {
    let l = Layout::Hu;
    check(
        l,
        &[
            ("z", &[(NO, 0x1C)]),             // Y key (QWERTZ)
            ("0", &[(NO, 0x35)]),             // Backquote
            ("§", &[(SH, 0x35)]),             // Backquote
            ("ö", &[(NO, 0x27)]),             // 0
            ("Ü", &[(SH, 0x2D)]),             // Minus
            ("ó", &[(NO, 0x2E)]),             // Equal
            ("ő", &[(NO, 0x2F)]),             // BracketLeft
            ("ú", &[(NO, 0x30)]),             // BracketRight
            ("é", &[(NO, 0x33)]),             // Semicolon
            ("Á", &[(SH, 0x34)]),             // Quote
            ("ű", &[(NO, 0x32)]),             // IntlHash
            ("í", &[(NO, 0x64)]),             // IntlBackslash
            ("+", &[(SH, 0x20)]),             // 3
            ("~", &[(AG, 0x1E)]),             // 1
            ("`", &[(AG, 0x24)]),             // 7, not a dead key
            ("\\", &[(AG, 0x14)]),            // Q
            ("€", &[(AG, 0x18)]),             // U
            ("ä", &[(AG, 0x04)]),             // A
            ("<", &[(AG, 0x64)]),             // IntlBackslash
            ("*", &[(AG, 0x38)]),             // Slash
            ("ř", &[(AG, 0x1F), (NO, 0x15)]), // dead ˇ (AltGr+2), r
            ("Ô", &[(AG, 0x20), (SH, 0x12)]), // dead ^ (AltGr+3), O
            ("ż", &[(AG, 0x25), (NO, 0x1C)]), // dead ˙ (AltGr+8), z
            ("ş", &[(AG, 0x2E), (NO, 0x16)]), // dead ¸ (AltGr+Equal), s
            ("^", &[(AG, 0x20), (NO, 0x2C)]), // dead ^, Space
            ("˝", &[(AG, 0x27), (NO, 0x2C)]), // dead ˝ (AltGr+0), Space
        ],
    );
    untypeable(l, "ľÿïėĉà");
    round_trip(l);
}

#[test]
fn japanese() {
    let l = Layout::Jp;
    check(
        l,
        &[
            ("k", &[(NO, 0x0E)]),
            ("\"", &[(SH, 0x1F)]), // 2
            ("'", &[(SH, 0x24)]),  // 7
            ("(", &[(SH, 0x25)]),  // 8
            ("=", &[(SH, 0x2D)]),  // Minus
            ("^", &[(NO, 0x2E)]),  // Equal
            ("~", &[(SH, 0x2E)]),  // Equal (not Shift+0, which is ~ on xkb only)
            ("@", &[(NO, 0x2F)]),  // BracketLeft
            ("`", &[(SH, 0x2F)]),  // BracketLeft
            ("[", &[(NO, 0x30)]),  // BracketRight
            ("]", &[(NO, 0x32)]),  // IntlHash, left of Enter
            ("}", &[(SH, 0x32)]),  // IntlHash
            (":", &[(NO, 0x34)]),  // Quote
            ("+", &[(SH, 0x33)]),  // Semicolon
            ("\\", &[(NO, 0x87)]), // IntlRo, not IntlYen
            ("_", &[(SH, 0x87)]),  // IntlRo
            ("|", &[(SH, 0x89)]),  // IntlYen
        ],
    );
    // No dead keys: accented letters, ¥ and AltGr characters are out of reach.
    untypeable(l, "¥éäñ€£");
    // Shift+0 types nothing on Windows; the Yen key types a backslash.
    assert_eq!(typed(l, &[(SH, 0x27)]), "");
    assert_eq!(typed(l, &[(NO, 0x89)]), "\\");
    round_trip(l);
}
