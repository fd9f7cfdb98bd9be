//! USB HID keyboard usages (usage page 0x07) and key names.
//!
//! [`Keycode`] wraps one usage ID. Every usage the HID Usage Tables define between
//! `0x04` and `0xE7` has a constant and a standard name. The standard name is the
//! browser's `KeyboardEvent.code` name where the W3C UI Events specification has one
//! (`KeyA`, `Digit1`, `ArrowUp`, `IntlBackslash`, ...), and a name derived from the
//! HID Usage Tables otherwise (`NumpadMemoryStore`, `LockingCapsLock`, ...).
//!
//! [`Keycode::from_name`] accepts those names, a set of short names people and existing
//! NanoKVM tools use (`enter`, `esc`, `pgup`, `f5`, `a`, `7`, ...) and raw usages written
//! in hexadecimal (`0x28`), all case-insensitively. An unknown name is an error that
//! suggests the closest valid one.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::suggest::closest;

/// One USB HID keyboard usage ID (usage page 0x07).
///
/// Any byte can be held, because the firmware forwards usages unchecked and a decoded
/// report may carry anything; the named constants cover every defined usage. The default
/// is usage 0, "no event", which fills empty report slots.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Keycode(u8);

impl Keycode {
    /// Wraps a raw usage ID.
    #[must_use]
    pub const fn from_usage(usage: u8) -> Self {
        Self(usage)
    }

    /// The raw usage ID, as written into a keyboard report.
    #[must_use]
    pub const fn usage(self) -> u8 {
        self.0
    }

    /// The standard name of this usage, or `None` for a reserved or undefined usage.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        KEYS.iter().find(|k| k.usage == self.0).map(|k| k.name)
    }

    /// Whether this usage is one of the eight modifier keys (`0xE0..=0xE7`).
    ///
    /// Modifier keys travel in the report's modifier byte, not in the key slots.
    #[must_use]
    pub const fn is_modifier(self) -> bool {
        self.0 >= 0xE0 && self.0 <= 0xE7
    }

    /// Parses a key name: a standard name, a short name or a hexadecimal usage
    /// (`0x2a`), case-insensitively.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`] with the closest valid name when nothing matches.
    ///
    /// # Example
    ///
    /// ```
    /// use nanokvm_hid::Keycode;
    ///
    /// assert_eq!(Keycode::from_name("pgdn")?, Keycode::PAGE_DOWN);
    /// assert_eq!(Keycode::from_name("ArrowUp")?.usage(), 0x52);
    /// let error = Keycode::from_name("escpae").unwrap_err();
    /// assert_eq!(error.to_string(), "unknown key name `escpae`; did you mean `Escape`?");
    /// # Ok::<(), nanokvm_hid::Error>(())
    /// ```
    pub fn from_name(name: &str) -> Result<Self, Error> {
        let trimmed = name.trim();
        if let Some(key) = lookup(trimmed) {
            return Ok(key);
        }
        if let Some(hex) = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
        {
            if let Ok(usage) = u8::from_str_radix(hex, 16) {
                return Ok(Self(usage));
            }
        }
        let suggestion = closest(trimmed, all_names()).map(str::to_owned);
        Err(Error::UnknownKey {
            name: trimmed.to_owned(),
            suggestion,
        })
    }

    /// Every defined usage between `0x04` and `0xE7`, in usage order.
    pub fn all() -> impl Iterator<Item = Keycode> {
        KEYS.iter().map(|k| Keycode(k.usage))
    }
}

impl fmt::Debug for Keycode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Keycode({name})"),
            None => write!(f, "Keycode({:#04x})", self.0),
        }
    }
}

impl fmt::Display for Keycode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{:#04x}", self.0),
        }
    }
}

impl FromStr for Keycode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

impl From<Keycode> for u8 {
    fn from(key: Keycode) -> u8 {
        key.0
    }
}

struct KeyDef {
    usage: u8,
    name: &'static str,
    aliases: &'static [&'static str],
}

/// Finds a key by standard name or alias, ignoring ASCII case.
fn lookup(name: &str) -> Option<Keycode> {
    KEYS.iter()
        .find(|k| {
            k.name.eq_ignore_ascii_case(name)
                || k.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
        .map(|k| Keycode(k.usage))
}

/// Every accepted name: standard names first, then aliases.
pub(crate) fn all_names() -> impl Iterator<Item = &'static str> + Clone {
    KEYS.iter()
        .map(|k| k.name)
        .chain(KEYS.iter().flat_map(|k| k.aliases.iter().copied()))
}

macro_rules! keys {
    ($( $(#[$doc:meta])* $konst:ident = $usage:literal, $name:literal $(, [$($alias:literal),* $(,)?])?; )*) => {
        impl Keycode {
            $( $(#[$doc])* pub const $konst: Keycode = Keycode($usage); )*
        }

        const KEYS: &[KeyDef] = &[
            $( KeyDef { usage: $usage, name: $name, aliases: &[$($($alias),*)?] }, )*
        ];
    };
}

keys! {
    /// Keyboard a and A.
    A = 0x04, "KeyA", ["a"];
    /// Keyboard b and B.
    B = 0x05, "KeyB", ["b"];
    /// Keyboard c and C.
    C = 0x06, "KeyC", ["c"];
    /// Keyboard d and D.
    D = 0x07, "KeyD", ["d"];
    /// Keyboard e and E.
    E = 0x08, "KeyE", ["e"];
    /// Keyboard f and F.
    F = 0x09, "KeyF", ["f"];
    /// Keyboard g and G.
    G = 0x0A, "KeyG", ["g"];
    /// Keyboard h and H.
    H = 0x0B, "KeyH", ["h"];
    /// Keyboard i and I.
    I = 0x0C, "KeyI", ["i"];
    /// Keyboard j and J.
    J = 0x0D, "KeyJ", ["j"];
    /// Keyboard k and K.
    K = 0x0E, "KeyK", ["k"];
    /// Keyboard l and L.
    L = 0x0F, "KeyL", ["l"];
    /// Keyboard m and M.
    M = 0x10, "KeyM", ["m"];
    /// Keyboard n and N.
    N = 0x11, "KeyN", ["n"];
    /// Keyboard o and O.
    O = 0x12, "KeyO", ["o"];
    /// Keyboard p and P.
    P = 0x13, "KeyP", ["p"];
    /// Keyboard q and Q.
    Q = 0x14, "KeyQ", ["q"];
    /// Keyboard r and R.
    R = 0x15, "KeyR", ["r"];
    /// Keyboard s and S.
    S = 0x16, "KeyS", ["s"];
    /// Keyboard t and T.
    T = 0x17, "KeyT", ["t"];
    /// Keyboard u and U.
    U = 0x18, "KeyU", ["u"];
    /// Keyboard v and V.
    V = 0x19, "KeyV", ["v"];
    /// Keyboard w and W.
    W = 0x1A, "KeyW", ["w"];
    /// Keyboard x and X.
    X = 0x1B, "KeyX", ["x"];
    /// Keyboard y and Y.
    Y = 0x1C, "KeyY", ["y"];
    /// Keyboard z and Z.
    Z = 0x1D, "KeyZ", ["z"];
    /// Keyboard 1 and !.
    DIGIT1 = 0x1E, "Digit1", ["1"];
    /// Keyboard 2 and @.
    DIGIT2 = 0x1F, "Digit2", ["2"];
    /// Keyboard 3 and #.
    DIGIT3 = 0x20, "Digit3", ["3"];
    /// Keyboard 4 and $.
    DIGIT4 = 0x21, "Digit4", ["4"];
    /// Keyboard 5 and %.
    DIGIT5 = 0x22, "Digit5", ["5"];
    /// Keyboard 6 and ^.
    DIGIT6 = 0x23, "Digit6", ["6"];
    /// Keyboard 7 and &.
    DIGIT7 = 0x24, "Digit7", ["7"];
    /// Keyboard 8 and *.
    DIGIT8 = 0x25, "Digit8", ["8"];
    /// Keyboard 9 and (.
    DIGIT9 = 0x26, "Digit9", ["9"];
    /// Keyboard 0 and ).
    DIGIT0 = 0x27, "Digit0", ["0"];
    /// Keyboard Return (ENTER).
    ENTER = 0x28, "Enter", ["return", "ret", "cr", "newline"];
    /// Keyboard ESCAPE.
    ESCAPE = 0x29, "Escape", ["esc"];
    /// Keyboard DELETE (Backspace).
    BACKSPACE = 0x2A, "Backspace", ["bksp", "bs"];
    /// Keyboard Tab.
    TAB = 0x2B, "Tab";
    /// Keyboard Spacebar.
    SPACE = 0x2C, "Space", ["spacebar", "spc"];
    /// Keyboard - and _ (US position).
    MINUS = 0x2D, "Minus", ["dash", "hyphen"];
    /// Keyboard = and + (US position).
    EQUAL = 0x2E, "Equal", ["equals"];
    /// Keyboard [ and { (US position).
    BRACKET_LEFT = 0x2F, "BracketLeft", ["leftbracket", "lbracket"];
    /// Keyboard ] and } (US position).
    BRACKET_RIGHT = 0x30, "BracketRight", ["rightbracket", "rbracket"];
    /// Keyboard \ and | (US position, ANSI keyboards).
    BACKSLASH = 0x31, "Backslash";
    /// Keyboard Non-US # and ~: the key left of Enter on ISO and JIS keyboards.
    NON_US_HASH = 0x32, "IntlHash", ["NonUsHash"];
    /// Keyboard ; and : (US position).
    SEMICOLON = 0x33, "Semicolon";
    /// Keyboard ' and " (US position).
    QUOTE = 0x34, "Quote", ["apostrophe"];
    /// Keyboard Grave Accent and Tilde (US position).
    BACKQUOTE = 0x35, "Backquote", ["grave", "tilde"];
    /// Keyboard , and < (US position).
    COMMA = 0x36, "Comma";
    /// Keyboard . and > (US position).
    PERIOD = 0x37, "Period", ["dot"];
    /// Keyboard / and ? (US position).
    SLASH = 0x38, "Slash";
    /// Keyboard Caps Lock.
    CAPS_LOCK = 0x39, "CapsLock", ["caps"];
    /// Keyboard F1.
    F1 = 0x3A, "F1";
    /// Keyboard F2.
    F2 = 0x3B, "F2";
    /// Keyboard F3.
    F3 = 0x3C, "F3";
    /// Keyboard F4.
    F4 = 0x3D, "F4";
    /// Keyboard F5.
    F5 = 0x3E, "F5";
    /// Keyboard F6.
    F6 = 0x3F, "F6";
    /// Keyboard F7.
    F7 = 0x40, "F7";
    /// Keyboard F8.
    F8 = 0x41, "F8";
    /// Keyboard F9.
    F9 = 0x42, "F9";
    /// Keyboard F10.
    F10 = 0x43, "F10";
    /// Keyboard F11.
    F11 = 0x44, "F11";
    /// Keyboard F12.
    F12 = 0x45, "F12";
    /// Keyboard PrintScreen.
    PRINT_SCREEN = 0x46, "PrintScreen", ["prtsc", "prtscr", "print", "prntscrn"];
    /// Keyboard Scroll Lock.
    SCROLL_LOCK = 0x47, "ScrollLock", ["scrlk"];
    /// Keyboard Pause.
    PAUSE = 0x48, "Pause", ["break"];
    /// Keyboard Insert.
    INSERT = 0x49, "Insert", ["ins"];
    /// Keyboard Home.
    HOME = 0x4A, "Home";
    /// Keyboard PageUp.
    PAGE_UP = 0x4B, "PageUp", ["pgup", "prior"];
    /// Keyboard Delete Forward.
    DELETE = 0x4C, "Delete", ["del"];
    /// Keyboard End.
    END = 0x4D, "End";
    /// Keyboard PageDown.
    PAGE_DOWN = 0x4E, "PageDown", ["pgdn", "next"];
    /// Keyboard RightArrow.
    ARROW_RIGHT = 0x4F, "ArrowRight", ["right"];
    /// Keyboard LeftArrow.
    ARROW_LEFT = 0x50, "ArrowLeft", ["left"];
    /// Keyboard DownArrow.
    ARROW_DOWN = 0x51, "ArrowDown", ["down"];
    /// Keyboard UpArrow.
    ARROW_UP = 0x52, "ArrowUp", ["up"];
    /// Keypad Num Lock and Clear.
    NUM_LOCK = 0x53, "NumLock";
    /// Keypad /.
    NUMPAD_DIVIDE = 0x54, "NumpadDivide";
    /// Keypad *.
    NUMPAD_MULTIPLY = 0x55, "NumpadMultiply";
    /// Keypad -.
    NUMPAD_SUBTRACT = 0x56, "NumpadSubtract";
    /// Keypad +.
    NUMPAD_ADD = 0x57, "NumpadAdd";
    /// Keypad ENTER.
    NUMPAD_ENTER = 0x58, "NumpadEnter";
    /// Keypad 1 and End.
    NUMPAD1 = 0x59, "Numpad1";
    /// Keypad 2 and Down Arrow.
    NUMPAD2 = 0x5A, "Numpad2";
    /// Keypad 3 and PageDn.
    NUMPAD3 = 0x5B, "Numpad3";
    /// Keypad 4 and Left Arrow.
    NUMPAD4 = 0x5C, "Numpad4";
    /// Keypad 5.
    NUMPAD5 = 0x5D, "Numpad5";
    /// Keypad 6 and Right Arrow.
    NUMPAD6 = 0x5E, "Numpad6";
    /// Keypad 7 and Home.
    NUMPAD7 = 0x5F, "Numpad7";
    /// Keypad 8 and Up Arrow.
    NUMPAD8 = 0x60, "Numpad8";
    /// Keypad 9 and PageUp.
    NUMPAD9 = 0x61, "Numpad9";
    /// Keypad 0 and Insert.
    NUMPAD0 = 0x62, "Numpad0";
    /// Keypad . and Delete.
    NUMPAD_DECIMAL = 0x63, "NumpadDecimal";
    /// Keyboard Non-US \ and |: the 105th key, right of left Shift on ISO keyboards.
    INTL_BACKSLASH = 0x64, "IntlBackslash", ["NonUsBackslash", "iso"];
    /// Keyboard Application: the context menu key.
    CONTEXT_MENU = 0x65, "ContextMenu", ["menu", "application", "apps"];
    /// Keyboard Power.
    POWER = 0x66, "Power";
    /// Keypad =.
    NUMPAD_EQUAL = 0x67, "NumpadEqual";
    /// Keyboard F13.
    F13 = 0x68, "F13";
    /// Keyboard F14.
    F14 = 0x69, "F14";
    /// Keyboard F15.
    F15 = 0x6A, "F15";
    /// Keyboard F16.
    F16 = 0x6B, "F16";
    /// Keyboard F17.
    F17 = 0x6C, "F17";
    /// Keyboard F18.
    F18 = 0x6D, "F18";
    /// Keyboard F19.
    F19 = 0x6E, "F19";
    /// Keyboard F20.
    F20 = 0x6F, "F20";
    /// Keyboard F21.
    F21 = 0x70, "F21";
    /// Keyboard F22.
    F22 = 0x71, "F22";
    /// Keyboard F23.
    F23 = 0x72, "F23";
    /// Keyboard F24.
    F24 = 0x73, "F24";
    /// Keyboard Execute.
    EXECUTE = 0x74, "Execute", ["Open"];
    /// Keyboard Help.
    HELP = 0x75, "Help";
    /// Keyboard Menu (not the context menu key, which is [`Keycode::CONTEXT_MENU`]).
    KEYBOARD_MENU = 0x76, "KeyboardMenu", ["Props"];
    /// Keyboard Select.
    SELECT = 0x77, "Select";
    /// Keyboard Stop.
    STOP = 0x78, "Stop";
    /// Keyboard Again.
    AGAIN = 0x79, "Again", ["redo"];
    /// Keyboard Undo.
    UNDO = 0x7A, "Undo";
    /// Keyboard Cut.
    CUT = 0x7B, "Cut";
    /// Keyboard Copy.
    COPY = 0x7C, "Copy";
    /// Keyboard Paste.
    PASTE = 0x7D, "Paste";
    /// Keyboard Find.
    FIND = 0x7E, "Find";
    /// Keyboard Mute.
    MUTE = 0x7F, "AudioVolumeMute", ["mute"];
    /// Keyboard Volume Up.
    VOLUME_UP = 0x80, "AudioVolumeUp", ["volumeup", "volup"];
    /// Keyboard Volume Down.
    VOLUME_DOWN = 0x81, "AudioVolumeDown", ["volumedown", "voldown"];
    /// Keyboard Locking Caps Lock.
    LOCKING_CAPS_LOCK = 0x82, "LockingCapsLock";
    /// Keyboard Locking Num Lock.
    LOCKING_NUM_LOCK = 0x83, "LockingNumLock";
    /// Keyboard Locking Scroll Lock.
    LOCKING_SCROLL_LOCK = 0x84, "LockingScrollLock";
    /// Keypad Comma.
    NUMPAD_COMMA = 0x85, "NumpadComma";
    /// Keypad Equal Sign (AS/400).
    NUMPAD_EQUAL_AS400 = 0x86, "NumpadEqualAs400";
    /// Keyboard International1: the JIS Ro key (`\` and `_`).
    INTL_RO = 0x87, "IntlRo", ["International1", "ro"];
    /// Keyboard International2: Katakana/Hiragana.
    KANA_MODE = 0x88, "KanaMode", ["International2", "katakanahiragana"];
    /// Keyboard International3: the JIS Yen key.
    INTL_YEN = 0x89, "IntlYen", ["International3", "yen"];
    /// Keyboard International4: Henkan (convert).
    CONVERT = 0x8A, "Convert", ["International4", "henkan"];
    /// Keyboard International5: Muhenkan (non-convert).
    NON_CONVERT = 0x8B, "NonConvert", ["International5", "muhenkan"];
    /// Keyboard International6.
    INTERNATIONAL6 = 0x8C, "International6";
    /// Keyboard International7.
    INTERNATIONAL7 = 0x8D, "International7";
    /// Keyboard International8.
    INTERNATIONAL8 = 0x8E, "International8";
    /// Keyboard International9.
    INTERNATIONAL9 = 0x8F, "International9";
    /// Keyboard LANG1: Hangul/English toggle, or Kana on Apple JIS keyboards.
    LANG1 = 0x90, "Lang1", ["hangul", "hanyeong"];
    /// Keyboard LANG2: Hanja conversion, or Eisu on Apple JIS keyboards.
    LANG2 = 0x91, "Lang2", ["hanja"];
    /// Keyboard LANG3: Katakana.
    LANG3 = 0x92, "Lang3";
    /// Keyboard LANG4: Hiragana.
    LANG4 = 0x93, "Lang4";
    /// Keyboard LANG5: Zenkaku/Hankaku.
    LANG5 = 0x94, "Lang5";
    /// Keyboard LANG6.
    LANG6 = 0x95, "Lang6";
    /// Keyboard LANG7.
    LANG7 = 0x96, "Lang7";
    /// Keyboard LANG8.
    LANG8 = 0x97, "Lang8";
    /// Keyboard LANG9.
    LANG9 = 0x98, "Lang9";
    /// Keyboard Alternate Erase.
    ALTERNATE_ERASE = 0x99, "AlternateErase";
    /// Keyboard SysReq/Attention.
    SYS_REQ = 0x9A, "SysReq", ["attention"];
    /// Keyboard Cancel.
    CANCEL = 0x9B, "Cancel";
    /// Keyboard Clear.
    CLEAR = 0x9C, "Clear";
    /// Keyboard Prior.
    PRIOR = 0x9D, "KeyboardPrior";
    /// Keyboard Return (usage 0x9E, distinct from Enter, which is 0x28).
    KEYBOARD_RETURN = 0x9E, "KeyboardReturn";
    /// Keyboard Separator.
    SEPARATOR = 0x9F, "Separator";
    /// Keyboard Out.
    OUT = 0xA0, "Out";
    /// Keyboard Oper.
    OPER = 0xA1, "Oper";
    /// Keyboard Clear/Again.
    CLEAR_AGAIN = 0xA2, "ClearAgain";
    /// Keyboard CrSel/Props.
    CR_SEL = 0xA3, "CrSel";
    /// Keyboard ExSel.
    EX_SEL = 0xA4, "ExSel";
    /// Keypad 00.
    NUMPAD00 = 0xB0, "Numpad00";
    /// Keypad 000.
    NUMPAD000 = 0xB1, "Numpad000";
    /// Thousands Separator.
    THOUSANDS_SEPARATOR = 0xB2, "ThousandsSeparator";
    /// Decimal Separator.
    DECIMAL_SEPARATOR = 0xB3, "DecimalSeparator";
    /// Currency Unit.
    CURRENCY_UNIT = 0xB4, "CurrencyUnit";
    /// Currency Sub-unit.
    CURRENCY_SUBUNIT = 0xB5, "CurrencySubunit";
    /// Keypad (.
    NUMPAD_PAREN_LEFT = 0xB6, "NumpadParenLeft";
    /// Keypad ).
    NUMPAD_PAREN_RIGHT = 0xB7, "NumpadParenRight";
    /// Keypad {.
    NUMPAD_BRACE_LEFT = 0xB8, "NumpadBraceLeft";
    /// Keypad }.
    NUMPAD_BRACE_RIGHT = 0xB9, "NumpadBraceRight";
    /// Keypad Tab.
    NUMPAD_TAB = 0xBA, "NumpadTab";
    /// Keypad Backspace.
    NUMPAD_BACKSPACE = 0xBB, "NumpadBackspace";
    /// Keypad A.
    NUMPAD_A = 0xBC, "NumpadA";
    /// Keypad B.
    NUMPAD_B = 0xBD, "NumpadB";
    /// Keypad C.
    NUMPAD_C = 0xBE, "NumpadC";
    /// Keypad D.
    NUMPAD_D = 0xBF, "NumpadD";
    /// Keypad E.
    NUMPAD_E = 0xC0, "NumpadE";
    /// Keypad F.
    NUMPAD_F = 0xC1, "NumpadF";
    /// Keypad XOR.
    NUMPAD_XOR = 0xC2, "NumpadXor";
    /// Keypad ^.
    NUMPAD_CARET = 0xC3, "NumpadCaret";
    /// Keypad %.
    NUMPAD_PERCENT = 0xC4, "NumpadPercent";
    /// Keypad <.
    NUMPAD_LESS = 0xC5, "NumpadLess";
    /// Keypad >.
    NUMPAD_GREATER = 0xC6, "NumpadGreater";
    /// Keypad &.
    NUMPAD_AMPERSAND = 0xC7, "NumpadAmpersand";
    /// Keypad &&.
    NUMPAD_DOUBLE_AMPERSAND = 0xC8, "NumpadDoubleAmpersand";
    /// Keypad |.
    NUMPAD_BAR = 0xC9, "NumpadBar";
    /// Keypad ||.
    NUMPAD_DOUBLE_BAR = 0xCA, "NumpadDoubleBar";
    /// Keypad :.
    NUMPAD_COLON = 0xCB, "NumpadColon";
    /// Keypad #.
    NUMPAD_HASH = 0xCC, "NumpadHash";
    /// Keypad Space.
    NUMPAD_SPACE = 0xCD, "NumpadSpace";
    /// Keypad @.
    NUMPAD_AT = 0xCE, "NumpadAt";
    /// Keypad !.
    NUMPAD_EXCLAMATION = 0xCF, "NumpadExclamation";
    /// Keypad Memory Store.
    NUMPAD_MEMORY_STORE = 0xD0, "NumpadMemoryStore";
    /// Keypad Memory Recall.
    NUMPAD_MEMORY_RECALL = 0xD1, "NumpadMemoryRecall";
    /// Keypad Memory Clear.
    NUMPAD_MEMORY_CLEAR = 0xD2, "NumpadMemoryClear";
    /// Keypad Memory Add.
    NUMPAD_MEMORY_ADD = 0xD3, "NumpadMemoryAdd";
    /// Keypad Memory Subtract.
    NUMPAD_MEMORY_SUBTRACT = 0xD4, "NumpadMemorySubtract";
    /// Keypad Memory Multiply.
    NUMPAD_MEMORY_MULTIPLY = 0xD5, "NumpadMemoryMultiply";
    /// Keypad Memory Divide.
    NUMPAD_MEMORY_DIVIDE = 0xD6, "NumpadMemoryDivide";
    /// Keypad +/-.
    NUMPAD_SIGN_CHANGE = 0xD7, "NumpadSignChange";
    /// Keypad Clear.
    NUMPAD_CLEAR = 0xD8, "NumpadClear";
    /// Keypad Clear Entry.
    NUMPAD_CLEAR_ENTRY = 0xD9, "NumpadClearEntry";
    /// Keypad Binary.
    NUMPAD_BINARY = 0xDA, "NumpadBinary";
    /// Keypad Octal.
    NUMPAD_OCTAL = 0xDB, "NumpadOctal";
    /// Keypad Decimal (number base).
    NUMPAD_DECIMAL_BASE = 0xDC, "NumpadDecimalBase";
    /// Keypad Hexadecimal.
    NUMPAD_HEXADECIMAL = 0xDD, "NumpadHexadecimal";
    /// Keyboard LeftControl.
    CONTROL_LEFT = 0xE0, "ControlLeft", ["lctrl", "leftctrl", "ctrlleft", "lcontrol", "ctrl_l"];
    /// Keyboard LeftShift.
    SHIFT_LEFT = 0xE1, "ShiftLeft", ["lshift", "leftshift", "shift_l"];
    /// Keyboard LeftAlt.
    ALT_LEFT = 0xE2, "AltLeft", ["lalt", "leftalt", "alt_l", "loption"];
    /// Keyboard Left GUI (Windows, Command, Super).
    META_LEFT = 0xE3, "MetaLeft", ["lmeta", "lwin", "leftwin", "lgui", "lsuper", "lcmd", "OSLeft", "super_l"];
    /// Keyboard RightControl.
    CONTROL_RIGHT = 0xE4, "ControlRight", ["rctrl", "rightctrl", "ctrlright", "rcontrol", "ctrl_r"];
    /// Keyboard RightShift.
    SHIFT_RIGHT = 0xE5, "ShiftRight", ["rshift", "rightshift", "shift_r"];
    /// Keyboard RightAlt (AltGr on most non-US layouts).
    ALT_RIGHT = 0xE6, "AltRight", ["ralt", "rightalt", "altgr", "alt_r", "roption"];
    /// Keyboard Right GUI (Windows, Command, Super).
    META_RIGHT = 0xE7, "MetaRight", ["rmeta", "rwin", "rightwin", "rgui", "rsuper", "rcmd", "OSRight", "super_r"];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_ignoring_case() {
        let mut seen = std::collections::HashSet::new();
        for name in all_names() {
            assert!(
                seen.insert(name.to_ascii_lowercase()),
                "duplicate key name {name}"
            );
        }
    }

    #[test]
    fn every_defined_usage_has_a_name() {
        let defined: Vec<u8> = (0x04..=0xA4)
            .chain(0xB0..=0xDD)
            .chain(0xE0..=0xE7)
            .collect();
        let named: Vec<u8> = Keycode::all().map(Keycode::usage).collect();
        assert_eq!(defined, named);
    }
}
