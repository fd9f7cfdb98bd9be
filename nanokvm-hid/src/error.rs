//! The crate's error type.

use std::fmt;

/// Everything that can go wrong in this crate: bad names, bad chords, text that cannot be
/// typed, out-of-range coordinates and malformed reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key name matched no key.
    #[error("unknown key name `{name}`{}", DidYouMean(suggestion.as_deref()))]
    UnknownKey {
        /// The name as given.
        name: String,
        /// The closest valid name, when one is close enough to be a likely typo.
        suggestion: Option<String>,
    },
    /// A layout name matched no layout.
    #[error("unknown keyboard layout `{name}`{}", DidYouMean(suggestion.as_deref()))]
    UnknownLayout {
        /// The name as given.
        name: String,
        /// The closest valid layout name, if any is close.
        suggestion: Option<String>,
    },
    /// A target system name matched no system.
    #[error("unknown target operating system `{name}`{}", DidYouMean(suggestion.as_deref()))]
    UnknownTargetOs {
        /// The name as given.
        name: String,
        /// The closest valid name, if any is close.
        suggestion: Option<String>,
    },
    /// A chord or key sequence was empty or had an empty part (`ctrl++a`).
    #[error("empty key chord in `{input}`")]
    EmptyChord {
        /// The text that was parsed.
        input: String,
    },
    /// A chord named more non-modifier keys than a boot keyboard report can hold.
    #[error(
        "chord `{chord}` presses {count} keys; a keyboard report holds at most 6 besides modifiers"
    )]
    TooManyKeys {
        /// The chord as given.
        chord: String,
        /// How many non-modifier keys it named.
        count: usize,
    },
    /// A chord named the same key twice.
    #[error("chord `{chord}` names the key {key} twice")]
    DuplicateKey {
        /// The chord as given.
        chord: String,
        /// The repeated key's standard name.
        key: String,
    },
    /// Some characters of a text cannot be typed on the chosen layout.
    #[error("{} on layout `{layout}`: {}", CountChars(chars.len()), CharList(chars))]
    Unencodable {
        /// The keymap's [label](crate::Keymap::label): the layout's name (`fr`), followed
        /// by the system for a keymap other than Windows (`fr (linux)`).
        layout: &'static str,
        /// Every character that cannot be typed, in text order.
        chars: Vec<Unencodable>,
    },
    /// A pointer coordinate was not a finite number, or a screen size was zero.
    #[error("invalid pointer coordinate: {reason}")]
    InvalidCoordinate {
        /// What was wrong with it.
        reason: String,
    },
    /// A report had the wrong length for its kind.
    #[error("a {kind} report is {expected} bytes, got {actual}")]
    ReportLength {
        /// Which report: `keyboard`, `relative mouse`, `absolute pointer`.
        kind: &'static str,
        /// The length that report has.
        expected: usize,
        /// The length received.
        actual: usize,
    },
}

/// One character that a layout cannot type, with where it stands in the text.
///
/// The error carries the characters themselves, which is what a person fixing a text
/// needs. A caller typing a secret should report the positions only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unencodable {
    /// The character.
    pub ch: char,
    /// Its index counted in characters (Unicode scalar values) from the start of the text.
    pub index: usize,
    /// Its byte offset in the UTF-8 text.
    pub byte_offset: usize,
}

impl fmt::Display for Unencodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} (U+{:04X}) at character {}",
            self.ch,
            u32::from(self.ch),
            self.index
        )
    }
}

struct DidYouMean<'a>(Option<&'a str>);

impl fmt::Display for DidYouMean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, "; did you mean `{name}`?"),
            None => Ok(()),
        }
    }
}

struct CountChars(usize);

impl fmt::Display for CountChars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 character cannot be typed"),
            n => write!(f, "{n} characters cannot be typed"),
        }
    }
}

/// Lists the first few characters; the full list is in the error's field.
struct CharList<'a>(&'a [Unencodable]);

impl fmt::Display for CharList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 8;
        for (i, c) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, " and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}
