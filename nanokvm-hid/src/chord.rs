//! Key chords (`ctrl+alt+delete`) and sequences of chords (`ctrl+a ctrl+c`).
//!
//! A chord is a set of modifiers plus at most six other keys, pressed together and then
//! released. Pressing goes one key at a time, modifiers first, the way a person's fingers
//! do it, because some hosts (BIOS setup screens, some KVM-unaware USB stacks) miss a
//! modifier that arrives in the same report as the key it modifies. Releasing goes in the
//! reverse order and always ends with the all-zero report.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::keyboard::KeyboardReport;
use crate::keycode::{self, Keycode};
use crate::modifiers::Modifiers;
use crate::suggest::closest;

/// Modifier spellings accepted in chords besides key names, for suggestions.
const MODIFIER_WORDS: &[&str] = &[
    "ctrl", "control", "shift", "alt", "option", "altgr", "win", "windows", "cmd", "command",
    "super", "meta", "gui",
];

/// Modifiers plus up to six keys, pressed together.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chord {
    modifiers: Modifiers,
    keys: [u8; 6],
    len: u8,
}

impl Chord {
    /// The most non-modifier keys one chord can press (the boot report's six slots).
    pub const MAX_KEYS: usize = 6;

    /// A chord of one key with no modifiers.
    #[must_use]
    pub const fn key(key: Keycode) -> Self {
        Self {
            modifiers: Modifiers::NONE,
            keys: [key.usage(), 0, 0, 0, 0, 0],
            len: 1,
        }
    }

    /// A chord of modifiers and keys. Modifier keys among `keys` join the modifiers.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyKeys`] for more than six other keys, [`Error::DuplicateKey`] for a
    /// key named twice.
    pub fn new(modifiers: Modifiers, keys: &[Keycode]) -> Result<Self, Error> {
        let mut chord = Self {
            modifiers,
            keys: [0; 6],
            len: 0,
        };
        let label = || {
            let mut parts: Vec<String> = modifiers.keys().map(|k| k.to_string()).collect();
            parts.extend(keys.iter().map(ToString::to_string));
            parts.join("+")
        };
        let count = keys.iter().filter(|k| !k.is_modifier()).count();
        if count > Self::MAX_KEYS {
            return Err(Error::TooManyKeys {
                chord: label(),
                count,
            });
        }
        for &key in keys {
            if let Some(bit) = Modifiers::from_key(key) {
                chord.modifiers |= bit;
            } else if chord.usages().contains(&key.usage()) {
                return Err(Error::DuplicateKey {
                    chord: label(),
                    key: key.to_string(),
                });
            } else {
                chord.keys[usize::from(chord.len)] = key.usage();
                chord.len += 1;
            }
        }
        Ok(chord)
    }

    /// Parses one chord: names joined by `+`, case-insensitive, such as
    /// `ctrl+alt+delete`, `Ctrl+Shift+Esc`, `win+r`, `AltGr+q` or a lone `enter`.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyChord`], [`Error::UnknownKey`] (with a suggestion),
    /// [`Error::TooManyKeys`] or [`Error::DuplicateKey`].
    ///
    /// # Example
    ///
    /// ```
    /// use nanokvm_hid::{Chord, Keycode, Modifiers};
    ///
    /// let chord = Chord::parse("Ctrl+Shift+Esc")?;
    /// assert_eq!(chord.modifiers(), Modifiers::LEFT_CTRL | Modifiers::LEFT_SHIFT);
    /// assert_eq!(chord.keys(), [Keycode::ESCAPE]);
    /// assert!(Chord::parse("a+b+c+d+e+f+g").is_err()); // seven keys do not fit a report
    /// # Ok::<(), nanokvm_hid::Error>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, Error> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Error::EmptyChord {
                input: input.to_owned(),
            });
        }
        let mut modifiers = Modifiers::NONE;
        let mut keys = Vec::new();
        for part in trimmed.split('+').map(str::trim) {
            if part.is_empty() {
                return Err(Error::EmptyChord {
                    input: input.to_owned(),
                });
            }
            if let Some(bit) = Modifiers::from_name(part) {
                modifiers |= bit;
                continue;
            }
            match Keycode::from_name(part) {
                Ok(key) => keys.push(key),
                Err(_) => {
                    let candidates = keycode::all_names().chain(MODIFIER_WORDS.iter().copied());
                    return Err(Error::UnknownKey {
                        name: part.to_owned(),
                        suggestion: closest(part, candidates).map(str::to_owned),
                    });
                }
            }
        }
        Self::new(modifiers, &keys).map_err(|e| match e {
            Error::TooManyKeys { count, .. } => Error::TooManyKeys {
                chord: trimmed.to_owned(),
                count,
            },
            Error::DuplicateKey { key, .. } => Error::DuplicateKey {
                chord: trimmed.to_owned(),
                key,
            },
            other => other,
        })
    }

    /// The chord's modifiers.
    #[must_use]
    pub const fn modifiers(&self) -> Modifiers {
        self.modifiers
    }

    /// The chord's non-modifier keys, in the order given.
    #[must_use]
    pub fn keys(&self) -> Vec<Keycode> {
        self.usages()
            .iter()
            .map(|&k| Keycode::from_usage(k))
            .collect()
    }

    /// The usages of the non-modifier keys, without allocating.
    fn usages(&self) -> &[u8] {
        &self.keys[..usize::from(self.len)]
    }

    /// The reports that press the chord: one modifier at a time, then one key at a time.
    #[must_use]
    pub fn press_reports(&self) -> Vec<KeyboardReport> {
        let mut reports = Vec::with_capacity(8 + usize::from(self.len));
        let mut held = Modifiers::NONE;
        for bit in self.modifiers.keys().filter_map(Modifiers::from_key) {
            held |= bit;
            reports.push(KeyboardReport::new(held, &[]).unwrap_or_default());
        }
        let keys = self.keys();
        for n in 1..=keys.len() {
            // At most six keys by construction, so the report always fits.
            reports.push(KeyboardReport::new(held, &keys[..n]).unwrap_or_default());
        }
        reports
    }

    /// The reports that release the chord, in reverse order of pressing, ending with the
    /// all-zero report.
    #[must_use]
    pub fn release_reports(&self) -> Vec<KeyboardReport> {
        let mut presses = self.press_reports();
        presses.pop();
        presses.reverse();
        presses.push(KeyboardReport::RELEASE);
        presses
    }

    /// Press then release: the full report sequence for tapping the chord.
    #[must_use]
    pub fn reports(&self) -> Vec<KeyboardReport> {
        let mut reports = self.press_reports();
        reports.extend(self.release_reports());
        reports
    }
}

impl fmt::Debug for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chord({self})")
    }
}

impl fmt::Display for Chord {
    /// The canonical spelling: modifier key names, then keys, joined by `+`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.modifiers.keys().chain(self.keys());
        for (i, key) in names.enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{key}")?;
        }
        Ok(())
    }
}

impl FromStr for Chord {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Chords tapped one after the other, written separated by whitespace:
/// `ctrl+a ctrl+c`, `down down enter`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct KeySequence(Vec<Chord>);

impl KeySequence {
    /// Parses a whitespace-separated sequence of chords. Spaces around `+` are allowed
    /// (`ctrl + c`).
    ///
    /// # Errors
    ///
    /// The first chord's error; [`Error::EmptyChord`] for a blank input.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let mut joined = String::with_capacity(input.len());
        let mut tokens = input.split_whitespace().peekable();
        while let Some(token) = tokens.next() {
            joined.push_str(token);
            let glue =
                token.ends_with('+') || tokens.peek().is_some_and(|next| next.starts_with('+'));
            if !glue && tokens.peek().is_some() {
                joined.push(' ');
            }
        }
        if joined.is_empty() {
            return Err(Error::EmptyChord {
                input: input.to_owned(),
            });
        }
        joined
            .split(' ')
            .map(Chord::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The chords in order.
    #[must_use]
    pub fn chords(&self) -> &[Chord] {
        &self.0
    }

    /// The full report sequence: each chord pressed and released in turn.
    #[must_use]
    pub fn reports(&self) -> Vec<KeyboardReport> {
        self.0.iter().flat_map(Chord::reports).collect()
    }
}

impl From<Vec<Chord>> for KeySequence {
    fn from(chords: Vec<Chord>) -> Self {
        Self(chords)
    }
}

impl FromStr for KeySequence {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for KeySequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, chord) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{chord}")?;
        }
        Ok(())
    }
}
