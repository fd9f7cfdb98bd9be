//! The firmware's own paste key maps (`langue` `""`, `de`, `fr`).
//!
//! The firmware does not use a full layout model for `/api/hid/paste`: it has a US map
//! and two small override tables. The simulator reproduces those tables (not the
//! nanokvm-hid layouts) so that pasted text reaches the virtual target exactly as a
//! device would send it, quirks included.

use crate::config::FirmwareVersion;

const SHIFT: u8 = 0x02;
const ALTGR: u8 = 0x40;

/// A paste layout as the firmware selects it from `langue`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PasteMap {
    Us,
    De,
    Fr,
}

impl PasteMap {
    /// Any value but `de`/`fr` means US; `fr` arrived in 2.4.1.
    /// The Pro has one map, US, and no `langue` field.
    pub(crate) fn from_langue(langue: &str, firmware: FirmwareVersion) -> Self {
        if firmware.is_pro() {
            return Self::Us;
        }
        match langue {
            "de" => Self::De,
            "fr" if firmware.at_least_2_5_0() => Self::Fr,
            _ => Self::Us,
        }
    }

    /// The `(modifier, usage)` that types `c`, or `None` when the firmware skips it.
    pub(crate) fn lookup(self, c: char) -> Option<(u8, u8)> {
        let over = match self {
            Self::Us => None,
            Self::De => de(c),
            Self::Fr => fr(c),
        };
        over.or_else(|| us(c))
    }
}

fn us(c: char) -> Option<(u8, u8)> {
    let b = u8::try_from(u32::from(c)).ok()?;
    Some(match b {
        b'a'..=b'z' => (0, b - b'a' + 4),
        b'A'..=b'Z' => (SHIFT, b - b'A' + 4),
        b'1'..=b'9' => (0, b - b'1' + 30),
        b'0' => (0, 39),
        b'\n' => (0, 40),
        b'\t' => (0, 43),
        b' ' => (0, 44),
        _ => {
            const UNSHIFTED: &[u8] = b"-=[]\\;'`,./";
            const SHIFTED: &[u8] = b"_+{}|:\"~<>?";
            const CODES: [u8; 11] = [45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56];
            const DIGIT_SYMBOLS: &[u8] = b"!@#$%^&*()";
            if let Some(i) = UNSHIFTED.iter().position(|&x| x == b) {
                (0, CODES[i])
            } else if let Some(i) = SHIFTED.iter().position(|&x| x == b) {
                (SHIFT, CODES[i])
            } else {
                let i = DIGIT_SYMBOLS.iter().position(|&x| x == b)?;
                (SHIFT, 30 + u8::try_from(i).ok()?)
            }
        }
    })
}

fn de(c: char) -> Option<(u8, u8)> {
    Some(match c {
        'y' => (0, 29),
        'Y' => (SHIFT, 29),
        'z' => (0, 28),
        'Z' => (SHIFT, 28),
        'ä' => (0, 52),
        'Ä' => (SHIFT, 52),
        'ö' => (0, 51),
        'Ö' => (SHIFT, 51),
        'ü' => (0, 47),
        'Ü' => (SHIFT, 47),
        'ß' => (0, 45),
        '^' => (0, 53),
        '/' => (SHIFT, 36),
        '(' => (SHIFT, 37),
        ')' => (SHIFT, 38),
        '&' => (SHIFT, 35),
        '`' => (SHIFT, 46),
        '"' => (SHIFT, 31),
        '?' => (SHIFT, 45),
        '{' => (ALTGR, 36),
        '[' => (ALTGR, 37),
        ']' => (ALTGR, 38),
        '}' => (ALTGR, 39),
        '\\' => (ALTGR, 45),
        '@' => (ALTGR, 20),
        '+' => (0, 48),
        '*' => (SHIFT, 48),
        '~' => (ALTGR, 48),
        '#' => (0, 49),
        '\'' => (SHIFT, 49),
        '<' => (0, 100),
        '>' => (SHIFT, 100),
        '|' => (ALTGR, 100),
        ';' => (SHIFT, 54),
        ':' => (SHIFT, 55),
        '-' => (0, 56),
        '_' => (SHIFT, 56),
        '´' => (0, 46),
        '°' => (SHIFT, 53),
        '§' => (SHIFT, 32),
        '€' => (ALTGR, 8),
        '²' => (ALTGR, 31),
        '³' => (ALTGR, 32),
        _ => return None,
    })
}

fn fr(c: char) -> Option<(u8, u8)> {
    const ROW: [char; 10] = ['&', 'é', '"', '\'', '(', '-', 'è', '_', 'ç', 'à'];
    if let Some(d) = c.to_digit(10) {
        // 1..9 then 0 sit on usages 30..39 and need Shift on AZERTY.
        let i = if d == 0 { 9 } else { d - 1 };
        return Some((SHIFT, 30 + u8::try_from(i).ok()?));
    }
    if let Some(i) = ROW.iter().position(|&x| x == c) {
        return Some((0, 30 + u8::try_from(i).ok()?));
    }
    Some(match c {
        'a' => (0, 20),
        'A' => (SHIFT, 20),
        'q' => (0, 4),
        'Q' => (SHIFT, 4),
        'z' => (0, 26),
        'Z' => (SHIFT, 26),
        'w' => (0, 29),
        'W' => (SHIFT, 29),
        'm' => (0, 51),
        'M' => (SHIFT, 51),
        ')' => (0, 45),
        '°' => (SHIFT, 45),
        '^' => (0, 47),
        '¨' => (SHIFT, 47),
        '$' => (0, 48),
        '£' => (SHIFT, 48),
        '*' => (0, 49),
        'µ' => (SHIFT, 49),
        'ù' => (0, 52),
        '%' => (SHIFT, 52),
        ',' => (0, 16),
        '?' => (SHIFT, 16),
        ';' => (0, 54),
        '.' => (SHIFT, 54),
        ':' => (0, 55),
        '/' => (SHIFT, 55),
        '!' => (0, 56),
        '§' => (SHIFT, 56),
        '~' => (ALTGR, 31),
        '#' => (ALTGR, 32),
        '{' => (ALTGR, 33),
        '[' => (ALTGR, 34),
        '|' => (ALTGR, 35),
        '`' => (ALTGR, 36),
        '\\' => (ALTGR, 37),
        '@' => (ALTGR, 39),
        ']' => (ALTGR, 45),
        '}' => (ALTGR, 46),
        '€' => (ALTGR, 8),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_map_matches_the_firmware_table() {
        let cases = [
            ('a', (0, 4)),
            ('Z', (SHIFT, 29)),
            ('1', (0, 30)),
            ('0', (0, 39)),
            ('!', (SHIFT, 30)),
            (')', (SHIFT, 39)),
            ('\n', (0, 40)),
            ('\t', (0, 43)),
            (' ', (0, 44)),
            ('~', (SHIFT, 53)),
            ('?', (SHIFT, 56)),
            ('"', (SHIFT, 52)),
        ];
        for (c, want) in cases {
            assert_eq!(PasteMap::Us.lookup(c), Some(want), "{c:?}");
        }
        assert_eq!(PasteMap::Us.lookup('\r'), None);
        assert_eq!(PasteMap::Us.lookup('é'), None);
    }

    #[test]
    fn de_and_fr_override_only_their_keys() {
        assert_eq!(PasteMap::De.lookup('z'), Some((0, 28)));
        assert_eq!(PasteMap::De.lookup('@'), Some((ALTGR, 20)));
        assert_eq!(PasteMap::De.lookup('b'), Some((0, 5)));
        assert_eq!(PasteMap::Fr.lookup('1'), Some((SHIFT, 30)));
        assert_eq!(PasteMap::Fr.lookup('é'), Some((0, 31)));
        assert_eq!(PasteMap::Fr.lookup('m'), Some((0, 51)));
        assert_eq!(PasteMap::Fr.lookup('@'), Some((ALTGR, 39)));
    }

    #[test]
    fn langue_selection_follows_the_firmware() {
        let v = FirmwareVersion::V2_5_1;
        assert_eq!(PasteMap::from_langue("en", v), PasteMap::Us);
        assert_eq!(PasteMap::from_langue("ru", v), PasteMap::Us);
        assert_eq!(PasteMap::from_langue("fr", v), PasteMap::Fr);
        assert_eq!(
            PasteMap::from_langue("fr", FirmwareVersion::V2_3_1),
            PasteMap::Us
        );
    }
}
