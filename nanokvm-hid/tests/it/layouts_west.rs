//! Spot checks for the layouts gb, de-ch, fr, fr-ch, be, es, it, pt and br.
//!
//! Usages: letters 0x04 (A) to 0x1D (Z), digits 0x1E (1) to 0x27 (0), Space 0x2C, Minus
//! 0x2D, Equal 0x2E, BracketLeft 0x2F, BracketRight 0x30, IntlHash 0x32, Semicolon 0x33,
//! Quote 0x34, Backquote 0x35, Comma 0x36, Period 0x37, Slash 0x38, IntlBackslash 0x64,
//! IntlRo 0x87.

use nanokvm_hid::Layout;

use super::*;

#[test]
fn gb() {
    check(
        Layout::Gb,
        &[
            ("q", &[(NO, 0x14)]),
            ("Z", &[(SH, 0x1D)]),
            // Shift on the digits: " and £ where US has @ and #.
            ("1!", &[(NO, 0x1E), (SH, 0x1E)]),
            ("\"£", &[(SH, 0x1F), (SH, 0x20)]),
            ("^", &[(SH, 0x23)]),
            // @ is Shift+' (Quote 0x34).
            ("'@", &[(NO, 0x34), (SH, 0x34)]),
            // ISO key left of Enter (IntlHash 0x32) and the 105th key (IntlBackslash 0x64).
            ("#~", &[(NO, 0x32), (SH, 0x32)]),
            ("\\|", &[(NO, 0x64), (SH, 0x64)]),
            // Backquote 0x35: ` ¬ and ¦ on AltGr.
            ("`¬¦", &[(NO, 0x35), (SH, 0x35), (AG, 0x35)]),
            ("€", &[(AG, 0x21)]),
            // Windows UK: acute vowels on AltGr (A 0x04, E 0x08, U 0x18), capitals with Shift.
            ("á", &[(AG, 0x04)]),
            ("É", &[(SA, 0x08)]),
            ("ú", &[(AG, 0x18)]),
            ("[]{}", &[(NO, 0x2F), (NO, 0x30), (SH, 0x2F), (SH, 0x30)]),
        ],
    );
    // No dead keys: ^ ` ~ are single strokes above, and there is nothing to compose.
    untypeable(Layout::Gb, "äöüñçàß§°µ");
}

#[test]
fn de_ch() {
    check(
        Layout::DeCh,
        &[
            // QWERTZ: z on the Y key (0x1C), y on the Z key (0x1D).
            ("z", &[(NO, 0x1C)]),
            ("Y", &[(SH, 0x1D)]),
            ("1+", &[(NO, 0x1E), (SH, 0x1E)]),
            ("\"*ç", &[(SH, 0x1F), (SH, 0x20), (SH, 0x21)]),
            ("=?", &[(SH, 0x27), (SH, 0x2D)]),
            // Swiss German: ü ö ä plain, è é à with Shift.
            ("üè", &[(NO, 0x2F), (SH, 0x2F)]),
            ("öé", &[(NO, 0x33), (SH, 0x33)]),
            ("äà", &[(NO, 0x34), (SH, 0x34)]),
            // AltGr on the top row: ¦ @ # ¬ | ¢.
            ("¦@#", &[(AG, 0x1E), (AG, 0x1F), (AG, 0x20)]),
            ("¬|¢", &[(AG, 0x23), (AG, 0x24), (AG, 0x25)]),
            ("€", &[(AG, 0x08)]),
            ("[]{}", &[(AG, 0x2F), (AG, 0x30), (AG, 0x34), (AG, 0x32)]),
            // ISO keys: $ £ left of Enter (0x32), < > \ right of left Shift (0x64).
            ("$£", &[(NO, 0x32), (SH, 0x32)]),
            ("<>\\", &[(NO, 0x64), (SH, 0x64), (AG, 0x64)]),
            ("§°!", &[(NO, 0x35), (SH, 0x35), (SH, 0x30)]),
            // Dead keys alone: the dead key then Space.
            ("^", &[(NO, 0x2E), (NO, 0x2C)]),
            ("`", &[(SH, 0x2E), (NO, 0x2C)]),
            ("¨", &[(NO, 0x30), (NO, 0x2C)]),
            ("´", &[(AG, 0x2D), (NO, 0x2C)]),
            ("~", &[(AG, 0x2E), (NO, 0x2C)]),
            // Compositions.
            ("ê", &[(NO, 0x2E), (NO, 0x08)]),
            ("Ä", &[(NO, 0x30), (SH, 0x04)]),
            ("ó", &[(AG, 0x2D), (NO, 0x12)]),
            ("ñ", &[(AG, 0x2E), (NO, 0x11)]),
            ("ÿ", &[(NO, 0x30), (NO, 0x1D)]),
        ],
    );
    // Windows' Swiss dead keys compose vowels (and y, n) only; no ß key.
    untypeable(Layout::DeCh, "ßĉŷŸœæø");
}

#[test]
fn fr_ch() {
    check(
        Layout::FrCh,
        &[
            ("z", &[(NO, 0x1C)]),
            ("y", &[(NO, 0x1D)]),
            ("4ç", &[(NO, 0x21), (SH, 0x21)]),
            // Swiss French: è é à plain, ü ö ä with Shift (the reverse of Swiss German).
            ("èü", &[(NO, 0x2F), (SH, 0x2F)]),
            ("éö", &[(NO, 0x33), (SH, 0x33)]),
            ("àä", &[(NO, 0x34), (SH, 0x34)]),
            ("@#|", &[(AG, 0x1F), (AG, 0x20), (AG, 0x24)]),
            ("[]{}", &[(AG, 0x2F), (AG, 0x30), (AG, 0x34), (AG, 0x32)]),
            ("$£", &[(NO, 0x32), (SH, 0x32)]),
            ("<>\\", &[(NO, 0x64), (SH, 0x64), (AG, 0x64)]),
            ("§°", &[(NO, 0x35), (SH, 0x35)]),
            ("'?", &[(NO, 0x2D), (SH, 0x2D)]),
            // Dead keys alone, then compositions.
            ("^", &[(NO, 0x2E), (NO, 0x2C)]),
            ("¨", &[(NO, 0x30), (NO, 0x2C)]),
            ("´", &[(AG, 0x2D), (NO, 0x2C)]),
            ("ê", &[(NO, 0x2E), (NO, 0x08)]),
            ("Ü", &[(NO, 0x30), (SH, 0x18)]),
            ("ù", &[(SH, 0x2E), (NO, 0x18)]),
            ("Á", &[(AG, 0x2D), (SH, 0x04)]),
            ("õ", &[(AG, 0x2E), (NO, 0x12)]),
        ],
    );
    untypeable(Layout::FrCh, "ßĉŷŸœæø");
}

#[test]
fn fr() {
    check(
        Layout::Fr,
        &[
            // AZERTY: a on the Q key (0x14), q on the A key (0x04), z on W, w on Z, m right of L.
            ("a", &[(NO, 0x14)]),
            ("q", &[(NO, 0x04)]),
            ("zw", &[(NO, 0x1A), (NO, 0x1D)]),
            ("M", &[(SH, 0x33)]),
            // Digits are on the Shift level.
            ("1590", &[(SH, 0x1E), (SH, 0x22), (SH, 0x26), (SH, 0x27)]),
            ("&é\"'", &[(NO, 0x1E), (NO, 0x1F), (NO, 0x20), (NO, 0x21)]),
            ("(-è_", &[(NO, 0x22), (NO, 0x23), (NO, 0x24), (NO, 0x25)]),
            ("çà", &[(NO, 0x26), (NO, 0x27)]),
            (")°=+", &[(NO, 0x2D), (SH, 0x2D), (NO, 0x2E), (SH, 0x2E)]),
            // AltGr on the top row; ^ on AltGr+9 types at once.
            ("#{[|", &[(AG, 0x20), (AG, 0x21), (AG, 0x22), (AG, 0x23)]),
            ("\\^@", &[(AG, 0x25), (AG, 0x26), (AG, 0x27)]),
            ("]}", &[(AG, 0x2D), (AG, 0x2E)]),
            ("€¤", &[(AG, 0x08), (AG, 0x30)]),
            (",?;.", &[(NO, 0x10), (SH, 0x10), (NO, 0x36), (SH, 0x36)]),
            (":/!§", &[(NO, 0x37), (SH, 0x37), (NO, 0x38), (SH, 0x38)]),
            // ISO keys: * µ left of Enter (0x32), < > right of left Shift (0x64).
            ("*µ", &[(NO, 0x32), (SH, 0x32)]),
            ("<>", &[(NO, 0x64), (SH, 0x64)]),
            ("ù%²", &[(NO, 0x34), (SH, 0x34), (NO, 0x35)]),
            ("$£", &[(NO, 0x30), (SH, 0x30)]),
            // ê only from the dead ^ (BracketLeft 0x2F) then e.
            ("ê", &[(NO, 0x2F), (NO, 0x08)]),
            ("Ê", &[(NO, 0x2F), (SH, 0x08)]),
            ("ë", &[(SH, 0x2F), (NO, 0x08)]),
            ("ÿ", &[(SH, 0x2F), (NO, 0x1C)]),
            // Windows' AltGr+2 (~) and AltGr+7 (`) are dead keys.
            ("ã", &[(AG, 0x1F), (NO, 0x14)]),
            ("ò", &[(AG, 0x24), (NO, 0x12)]),
            ("~", &[(AG, 0x1F), (NO, 0x2C)]),
            ("`", &[(AG, 0x24), (NO, 0x2C)]),
            ("¨", &[(SH, 0x2F), (NO, 0x2C)]),
        ],
    );
    // No dead acute on French AZERTY, no ß, œ or æ.
    untypeable(Layout::Fr, "áúýßœæ¡");
}

#[test]
fn be() {
    check(
        Layout::Be,
        &[
            ("a", &[(NO, 0x14)]),
            ("Q", &[(SH, 0x04)]),
            ("zwm", &[(NO, 0x1A), (NO, 0x1D), (NO, 0x33)]),
            ("1590", &[(SH, 0x1E), (SH, 0x22), (SH, 0x26), (SH, 0x27)]),
            ("&é\"'", &[(NO, 0x1E), (NO, 0x1F), (NO, 0x20), (NO, 0x21)]),
            ("(§è!", &[(NO, 0x22), (NO, 0x23), (NO, 0x24), (NO, 0x25)]),
            ("çà", &[(NO, 0x26), (NO, 0x27)]),
            (")°-_", &[(NO, 0x2D), (SH, 0x2D), (NO, 0x2E), (SH, 0x2E)]),
            // AltGr: | @ # ^ on 1 2 3 6, { } on 9 0 (the keycap positions), [ ] right of P.
            ("|@#^", &[(AG, 0x1E), (AG, 0x1F), (AG, 0x20), (AG, 0x23)]),
            ("{}[]", &[(AG, 0x26), (AG, 0x27), (AG, 0x2F), (AG, 0x30)]),
            ("€", &[(AG, 0x08)]),
            (",?;.", &[(NO, 0x10), (SH, 0x10), (NO, 0x36), (SH, 0x36)]),
            (":/=+", &[(NO, 0x37), (SH, 0x37), (NO, 0x38), (SH, 0x38)]),
            // ISO keys: µ £ left of Enter (0x32), < > \ right of left Shift (0x64).
            ("µ£", &[(NO, 0x32), (SH, 0x32)]),
            ("<>\\", &[(NO, 0x64), (SH, 0x64), (AG, 0x64)]),
            ("²³$*", &[(NO, 0x35), (SH, 0x35), (NO, 0x30), (SH, 0x30)]),
            ("ù%", &[(NO, 0x34), (SH, 0x34)]),
            // Dead ^ ¨ (BracketLeft 0x2F), ´ (AltGr+ù 0x34), ` (AltGr+µ 0x32), ~ (AltGr+= 0x38).
            ("ê", &[(NO, 0x2F), (NO, 0x08)]),
            ("ï", &[(SH, 0x2F), (NO, 0x0C)]),
            ("á", &[(AG, 0x34), (NO, 0x14)]),
            ("È", &[(AG, 0x32), (SH, 0x08)]),
            ("ñ", &[(AG, 0x38), (NO, 0x11)]),
            ("´", &[(AG, 0x34), (NO, 0x2C)]),
            ("`", &[(AG, 0x32), (NO, 0x2C)]),
            ("~", &[(AG, 0x38), (NO, 0x2C)]),
            ("¨", &[(SH, 0x2F), (NO, 0x2C)]),
        ],
    );
    untypeable(Layout::Be, "ßæœ¤ĉŷ");
}

#[test]
fn es() {
    check(
        Layout::Es,
        &[
            // ñ right of L (Semicolon 0x33), ç left of Enter (IntlHash 0x32).
            ("ñÑ", &[(NO, 0x33), (SH, 0x33)]),
            ("çÇ", &[(NO, 0x32), (SH, 0x32)]),
            ("1!", &[(NO, 0x1E), (SH, 0x1E)]),
            ("\"·&/", &[(SH, 0x1F), (SH, 0x20), (SH, 0x23), (SH, 0x24)]),
            ("=", &[(SH, 0x27)]),
            ("'?¡¿", &[(NO, 0x2D), (SH, 0x2D), (NO, 0x2E), (SH, 0x2E)]),
            ("ºª\\", &[(NO, 0x35), (SH, 0x35), (AG, 0x35)]),
            ("|@#¬", &[(AG, 0x1E), (AG, 0x1F), (AG, 0x20), (AG, 0x23)]),
            // € with AltGr+E, which Windows and xkb agree on.
            ("€", &[(AG, 0x08)]),
            ("[]{}", &[(AG, 0x2F), (AG, 0x30), (AG, 0x34), (AG, 0x32)]),
            ("+*", &[(NO, 0x30), (SH, 0x30)]),
            ("<>", &[(NO, 0x64), (SH, 0x64)]),
            (",;.:", &[(NO, 0x36), (SH, 0x36), (NO, 0x37), (SH, 0x37)]),
            ("-_", &[(NO, 0x38), (SH, 0x38)]),
            // Dead ´ ¨ (Quote 0x34), ` ^ (BracketLeft 0x2F), ~ (AltGr+4).
            ("á", &[(NO, 0x34), (NO, 0x04)]),
            ("Ü", &[(SH, 0x34), (SH, 0x18)]),
            ("è", &[(NO, 0x2F), (NO, 0x08)]),
            ("ô", &[(SH, 0x2F), (NO, 0x12)]),
            ("ã", &[(AG, 0x21), (NO, 0x04)]),
            ("´", &[(NO, 0x34), (NO, 0x2C)]),
            ("^", &[(SH, 0x2F), (NO, 0x2C)]),
            ("~", &[(AG, 0x21), (NO, 0x2C)]),
        ],
    );
    untypeable(Layout::Es, "ß£§œĉ");
}

#[test]
fn it() {
    check(
        Layout::It,
        &[
            ("z", &[(NO, 0x1D)]),
            ("2\"3£", &[(NO, 0x1F), (SH, 0x1F), (NO, 0x20), (SH, 0x20)]),
            ("/=", &[(SH, 0x24), (SH, 0x27)]),
            ("'?", &[(NO, 0x2D), (SH, 0x2D)]),
            // No dead keys on Windows: ^ is a single stroke (Shift+ì).
            ("ì^", &[(NO, 0x2E), (SH, 0x2E)]),
            ("èé", &[(NO, 0x2F), (SH, 0x2F)]),
            ("òç", &[(NO, 0x33), (SH, 0x33)]),
            ("à°", &[(NO, 0x34), (SH, 0x34)]),
            // ISO keys: ù § left of Enter (0x32), < > right of left Shift (0x64).
            ("ù§", &[(NO, 0x32), (SH, 0x32)]),
            ("<>", &[(NO, 0x64), (SH, 0x64)]),
            ("\\|", &[(NO, 0x35), (SH, 0x35)]),
            ("+*", &[(NO, 0x30), (SH, 0x30)]),
            // AltGr: @ on ò, # on à, [ ] on è +; { } with Shift+AltGr.
            ("@#", &[(AG, 0x33), (AG, 0x34)]),
            ("[]", &[(AG, 0x2F), (AG, 0x30)]),
            ("{}", &[(SA, 0x2F), (SA, 0x30)]),
            ("€", &[(AG, 0x08)]),
        ],
    );
    // Windows' Italian layout has no ~ or ` and no dead keys to compose with.
    untypeable(Layout::It, "~`áêñäßÉ");
}

#[test]
fn pt() {
    check(
        Layout::Pt,
        &[
            ("çÇ", &[(NO, 0x33), (SH, 0x33)]),
            ("ºª", &[(NO, 0x34), (SH, 0x34)]),
            ("\"#&", &[(SH, 0x1F), (SH, 0x20), (SH, 0x23)]),
            ("'?«»", &[(NO, 0x2D), (SH, 0x2D), (NO, 0x2E), (SH, 0x2E)]),
            ("+*", &[(NO, 0x2F), (SH, 0x2F)]),
            ("\\|", &[(NO, 0x35), (SH, 0x35)]),
            ("<>", &[(NO, 0x64), (SH, 0x64)]),
            ("@£§€", &[(AG, 0x1F), (AG, 0x20), (AG, 0x21), (AG, 0x08)]),
            ("{[]}", &[(AG, 0x24), (AG, 0x25), (AG, 0x26), (AG, 0x27)]),
            // Dead ~ ^ left of Enter (IntlHash 0x32), ´ ` (BracketRight 0x30), ¨ (AltGr++).
            ("ã", &[(NO, 0x32), (NO, 0x04)]),
            ("Õ", &[(NO, 0x32), (SH, 0x12)]),
            ("â", &[(SH, 0x32), (NO, 0x04)]),
            ("é", &[(NO, 0x30), (NO, 0x08)]),
            ("À", &[(SH, 0x30), (SH, 0x04)]),
            ("ü", &[(AG, 0x2F), (NO, 0x18)]),
            ("~", &[(NO, 0x32), (NO, 0x2C)]),
            ("^", &[(SH, 0x32), (NO, 0x2C)]),
            ("´", &[(NO, 0x30), (NO, 0x2C)]),
            ("`", &[(SH, 0x30), (NO, 0x2C)]),
            ("¨", &[(AG, 0x2F), (NO, 0x2C)]),
        ],
    );
    untypeable(Layout::Pt, "ß¡¿œĉ");
}

#[test]
fn br() {
    check(
        Layout::Br,
        &[
            // ç right of L (Semicolon 0x33).
            ("çÇ", &[(NO, 0x33), (SH, 0x33)]),
            ("'\"", &[(NO, 0x35), (SH, 0x35)]),
            ("2@", &[(NO, 0x1F), (SH, 0x1F)]),
            ("&*()", &[(SH, 0x24), (SH, 0x25), (SH, 0x26), (SH, 0x27)]),
            // ABNT2's extra keys: / ? on IntlRo (0x87), \ | on IntlBackslash (0x64).
            ("/?", &[(NO, 0x87), (SH, 0x87)]),
            ("\\|", &[(NO, 0x64), (SH, 0x64)]),
            ("[{]}", &[(NO, 0x30), (SH, 0x30), (NO, 0x32), (SH, 0x32)]),
            (";:<>", &[(NO, 0x38), (SH, 0x38), (SH, 0x36), (SH, 0x37)]),
            ("¹²³", &[(AG, 0x1E), (AG, 0x1F), (AG, 0x20)]),
            ("£¢¬", &[(AG, 0x21), (AG, 0x22), (AG, 0x23)]),
            ("§°", &[(AG, 0x2E), (AG, 0x08)]),
            ("ªº₢", &[(AG, 0x30), (AG, 0x32), (AG, 0x06)]),
            // Dead ´ ` (BracketLeft 0x2F), ~ ^ (Quote 0x34), ¨ (Shift+6).
            ("á", &[(NO, 0x2F), (NO, 0x04)]),
            ("À", &[(SH, 0x2F), (SH, 0x04)]),
            ("ã", &[(NO, 0x34), (NO, 0x04)]),
            ("ô", &[(SH, 0x34), (NO, 0x12)]),
            ("ü", &[(SH, 0x23), (NO, 0x18)]),
            ("´", &[(NO, 0x2F), (NO, 0x2C)]),
            ("~", &[(NO, 0x34), (NO, 0x2C)]),
            ("^", &[(SH, 0x34), (NO, 0x2C)]),
            ("¨", &[(SH, 0x23), (NO, 0x2C)]),
        ],
    );
    untypeable(Layout::Br, "€ß¡¿œĉ");
}
