//! Text to key strokes for a layout, checked before anything is sent.
//!
//! [`encode`] turns a whole text into [`Stroke`]s or fails with every character the layout
//! cannot type, so a caller can refuse up front instead of typing half a command.
//! [`Encoder`] adds the options: skip what cannot be typed (and say what was skipped), or
//! fall back to an operating system's Unicode input method for characters no key types.
//!
//! Line endings: `\n` is Enter, `\t` is Tab, and `\r\n` or a lone `\r` types one Enter.

use std::fmt::Write as _;

use crate::error::{Error, Unencodable};
use crate::keyboard::KeyboardReport;
use crate::keycode::Keycode;
use crate::layout::table::KeyTable;
use crate::layout::{Keymap, Layout};
use crate::modifiers::Modifiers;

/// One key press with modifiers, followed by its release.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct Stroke {
    /// The modifiers held while the key is pressed.
    pub modifiers: Modifiers,
    /// The key pressed.
    pub key: Keycode,
    /// Keep the modifiers held after the key is released, for the next stroke (input
    /// methods such as Alt plus numpad digits need a modifier held across several keys).
    pub hold_modifiers: bool,
}

impl Stroke {
    /// A stroke that presses `key` with `modifiers`, then releases everything.
    #[must_use]
    pub const fn new(modifiers: Modifiers, key: Keycode) -> Self {
        Self {
            modifiers,
            key,
            hold_modifiers: false,
        }
    }

    /// The press report and the release report.
    #[must_use]
    pub const fn reports(&self) -> [KeyboardReport; 2] {
        let release = if self.hold_modifiers {
            KeyboardReport::single(self.modifiers, None)
        } else {
            KeyboardReport::RELEASE
        };
        [
            KeyboardReport::single(self.modifiers, Some(self.key)),
            release,
        ]
    }
}

/// The keyboard reports for a stroke sequence: a press and a release per stroke.
#[must_use]
pub fn reports(strokes: &[Stroke]) -> Vec<KeyboardReport> {
    strokes.iter().flat_map(Stroke::reports).collect()
}

/// Encodes `text` for a keymap, refusing the whole text if any character cannot be typed.
///
/// A bare [`Layout`] is the layout as Windows reads it; [`Layout::on`] names another
/// system.
///
/// # Errors
///
/// [`Error::Unencodable`] listing every character that cannot be typed, with its position.
///
/// # Example
///
/// ```
/// use nanokvm_hid::{encode, Keycode, Layout, TargetOs};
///
/// let strokes = encode("ê", Layout::Fr).unwrap();
/// // The dead circumflex key, then e.
/// assert_eq!(strokes.len(), 2);
/// assert_eq!(strokes[0].key, Keycode::BRACKET_LEFT);
/// assert_eq!(strokes[1].key, Keycode::E);
///
/// let error = encode("Жx€", Layout::Us).unwrap_err();
/// assert!(error.to_string().starts_with("2 characters cannot be typed on layout `us`"));
///
/// // `^` on a Czech Linux target is AltGr+6; Windows needs its dead key and Space.
/// let linux = encode("^", Layout::Cz.on(TargetOs::Linux)).unwrap();
/// assert_eq!((linux.len(), linux[0].key), (1, Keycode::DIGIT6));
/// assert_eq!(encode("^", Layout::Cz).unwrap().len(), 2);
/// ```
pub fn encode(text: &str, keymap: impl Into<Keymap>) -> Result<Vec<Stroke>, Error> {
    Encoder::new(keymap)
        .encode(text)
        .map(|encoded| encoded.strokes)
}

/// A way to type characters that no key of the layout produces, through the target
/// operating system's Unicode input method. Each needs that method to be available on the
/// target; none is used unless asked for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum UnicodeFallback {
    /// Linux (GTK and IBus): Ctrl+Shift+U, the code point in hexadecimal, then Space.
    Linux,
    /// Windows Alt codes: Alt held while typing `0` and the Windows-1252 code on the
    /// numeric keypad. Covers only the characters of code page 1252, the ANSI code page
    /// of Western European systems, and needs Num Lock on.
    WindowsAltCode,
    /// Windows hexadecimal numpad input: Alt held, numpad `+`, then the code point in
    /// hexadecimal. Covers the Basic Multilingual Plane and needs the registry value
    /// `HKCU\Control Panel\Input Method\EnableHexNumpad` set to `1`.
    WindowsHexNumpad,
    /// macOS with the "Unicode Hex Input" input source selected: Option held while
    /// typing four hexadecimal digits per UTF-16 code unit.
    MacOs,
}

impl UnicodeFallback {
    /// Appends the strokes that type `c`, or returns `false` when this method cannot
    /// type it.
    fn encode(self, c: char, table: &KeyTable, caps: bool, out: &mut Vec<Stroke>) -> bool {
        let start = out.len();
        let ok = match self {
            Self::Linux => linux(c, table, caps, out),
            Self::WindowsAltCode => windows_alt_code(c, out),
            Self::WindowsHexNumpad => windows_hex_numpad(c, table, out),
            Self::MacOs => mac_hex_input(c, out),
        };
        if !ok {
            out.truncate(start);
        }
        ok
    }
}

fn linux(c: char, table: &KeyTable, caps: bool, out: &mut Vec<Stroke>) -> bool {
    let Some(u) = table.entry('u', false).and_then(|e| e.strokes().first()) else {
        return false;
    };
    out.push(Stroke::new(
        Modifiers::LEFT_CTRL | Modifiers::LEFT_SHIFT,
        u.key,
    ));
    let mut hex = String::new();
    let _ = write!(hex, "{:x}", u32::from(c));
    for digit in hex.chars() {
        match table.entry(digit, caps) {
            Some(entry) => out.extend_from_slice(entry.strokes()),
            None => return false,
        }
    }
    out.push(Stroke::new(Modifiers::NONE, Keycode::SPACE));
    true
}

/// Appends a run of strokes with `modifiers` held from the first to the last.
fn held(modifiers: Modifiers, keys: impl IntoIterator<Item = Keycode>, out: &mut Vec<Stroke>) {
    let start = out.len();
    out.extend(keys.into_iter().map(|key| Stroke {
        modifiers,
        key,
        hold_modifiers: true,
    }));
    if let Some(last) = out[start..].last_mut() {
        last.hold_modifiers = false;
    }
}

fn numpad_digit(d: u32) -> Keycode {
    if d == 0 {
        Keycode::NUMPAD0
    } else {
        // Numpad1..Numpad9 are consecutive usages; d is 1..=9 here.
        Keycode::from_usage(Keycode::NUMPAD1.usage() + u8::try_from(d - 1).unwrap_or(0))
    }
}

fn windows_alt_code(c: char, out: &mut Vec<Stroke>) -> bool {
    let Some(code) = windows_1252(c) else {
        return false;
    };
    let digits = format!("0{code}");
    let keys = digits
        .chars()
        .filter_map(|d| d.to_digit(10))
        .map(numpad_digit);
    held(Modifiers::LEFT_ALT, keys, out);
    true
}

fn windows_hex_numpad(c: char, table: &KeyTable, out: &mut Vec<Stroke>) -> bool {
    let code = u32::from(c);
    if code > 0xFFFF {
        return false;
    }
    let mut keys = vec![Keycode::NUMPAD_ADD];
    for digit in format!("{code:x}").chars() {
        let key = match digit.to_digit(10) {
            Some(d) => numpad_digit(d),
            // Letters a to f are typed on the letter keys of the layout.
            None => match table.entry(digit, false).and_then(|e| e.strokes().first()) {
                Some(stroke) => stroke.key,
                None => return false,
            },
        };
        keys.push(key);
    }
    held(Modifiers::LEFT_ALT, keys, out);
    true
}

fn mac_hex_input(c: char, out: &mut Vec<Stroke>) -> bool {
    // Unicode Hex Input is a US-based input source, so digits and letters are typed at
    // their US positions whatever layout the target normally uses.
    const US_HEX: [Keycode; 16] = [
        Keycode::DIGIT0,
        Keycode::DIGIT1,
        Keycode::DIGIT2,
        Keycode::DIGIT3,
        Keycode::DIGIT4,
        Keycode::DIGIT5,
        Keycode::DIGIT6,
        Keycode::DIGIT7,
        Keycode::DIGIT8,
        Keycode::DIGIT9,
        Keycode::A,
        Keycode::B,
        Keycode::C,
        Keycode::D,
        Keycode::E,
        Keycode::F,
    ];
    let mut units = [0u16; 2];
    let keys: Vec<Keycode> = c
        .encode_utf16(&mut units)
        .iter()
        .flat_map(|&unit| {
            (0..4)
                .rev()
                .map(move |i| US_HEX[usize::from((unit >> (i * 4)) & 0xF)])
        })
        .collect();
    held(Modifiers::LEFT_ALT, keys, out);
    true
}

/// The Windows-1252 code of `c`, for characters outside ASCII.
fn windows_1252(c: char) -> Option<u32> {
    const HIGH: [char; 32] = [
        '€', '\0', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\0', 'Ž', '\0', '\0',
        '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\0', 'ž', 'Ÿ',
    ];
    let code = u32::from(c);
    if (0xA0..=0xFF).contains(&code) {
        return Some(code);
    }
    HIGH.iter()
        .position(|&h| h == c && h != '\0')
        .and_then(|i| u32::try_from(i).ok())
        .map(|i| 0x80 + i)
}

/// Text encoding with options; [`encode`] is the strict default.
#[derive(Clone, Copy, Debug)]
pub struct Encoder {
    keymap: Keymap,
    caps_lock: bool,
    skip_unencodable: bool,
    fallback: Option<UnicodeFallback>,
}

/// The result of [`Encoder::encode`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// The strokes to send, in order.
    pub strokes: Vec<Stroke>,
    /// The characters left out, when skipping was asked for.
    pub skipped: Vec<Unencodable>,
}

impl Encoded {
    /// The keyboard reports for [`Encoded::strokes`].
    #[must_use]
    pub fn reports(&self) -> Vec<KeyboardReport> {
        reports(&self.strokes)
    }
}

impl Encoder {
    /// A strict encoder for a keymap: no skipping, no Unicode fallback.
    ///
    /// A bare [`Layout`] is the layout as Windows reads it; [`Layout::on`] names another
    /// system.
    #[must_use]
    pub fn new(keymap: impl Into<Keymap>) -> Self {
        Self {
            keymap: keymap.into(),
            caps_lock: false,
            skip_unencodable: false,
            fallback: None,
        }
    }

    /// Type for a target whose Caps Lock is on (as its keyboard LED shows): every
    /// character is typed with the keys that give it while Caps Lock is on, as the target's
    /// system applies Caps Lock (usually letters with the opposite Shift state), so the
    /// text still comes out as given.
    #[must_use]
    pub const fn caps_lock(mut self, on: bool) -> Self {
        self.caps_lock = on;
        self
    }

    /// Leave out characters that cannot be typed instead of failing, and report them in
    /// [`Encoded::skipped`].
    #[must_use]
    pub const fn skip_unencodable(mut self, skip: bool) -> Self {
        self.skip_unencodable = skip;
        self
    }

    /// Type characters that no key produces through the target's Unicode input method.
    #[must_use]
    pub const fn unicode_fallback(mut self, fallback: Option<UnicodeFallback>) -> Self {
        self.fallback = fallback;
        self
    }

    /// The layout this encoder types for.
    #[must_use]
    pub const fn layout(&self) -> Layout {
        self.keymap.layout
    }

    /// The keymap this encoder types for: the layout and the target's system.
    #[must_use]
    pub const fn keymap(&self) -> Keymap {
        self.keymap
    }

    /// Encodes `text`.
    ///
    /// # Errors
    ///
    /// [`Error::Unencodable`] listing every character that cannot be typed, unless
    /// skipping was asked for. Control characters other than line breaks and Tab can
    /// never be typed.
    pub fn encode(&self, text: &str) -> Result<Encoded, Error> {
        let table = self.keymap.table();
        let bytes = text.as_bytes();
        let mut strokes = Vec::with_capacity(text.len() + text.len() / 4);
        let mut bad = Vec::new();
        for (index, (offset, c)) in text.char_indices().enumerate() {
            let c = match c {
                '\r' if bytes.get(offset + 1) == Some(&b'\n') => continue,
                '\r' => '\n',
                c => c,
            };
            if let Some(entry) = table.entry(c, self.caps_lock) {
                strokes.extend_from_slice(entry.strokes());
                continue;
            }
            if let Some(fallback) = self.fallback {
                if !c.is_control() && fallback.encode(c, table, self.caps_lock, &mut strokes) {
                    continue;
                }
            }
            bad.push(Unencodable {
                ch: c,
                index,
                byte_offset: offset,
            });
        }
        if !bad.is_empty() && !self.skip_unencodable {
            return Err(Error::Unencodable {
                layout: self.keymap.label(),
                chars: bad,
            });
        }
        Ok(Encoded {
            strokes,
            skipped: bad,
        })
    }
}
