//! The modifier byte of a boot keyboard report.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use crate::keycode::Keycode;

/// The eight modifier keys as the bits of a boot keyboard report's first byte:
/// bit 0 left Ctrl, 1 left Shift, 2 left Alt, 3 left Meta (GUI), 4 right Ctrl,
/// 5 right Shift, 6 right Alt (AltGr), 7 right Meta.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Modifiers(u8);

impl Modifiers {
    /// No modifier held.
    pub const NONE: Self = Self(0);
    /// Left Control.
    pub const LEFT_CTRL: Self = Self(0x01);
    /// Left Shift.
    pub const LEFT_SHIFT: Self = Self(0x02);
    /// Left Alt (Option on a Mac).
    pub const LEFT_ALT: Self = Self(0x04);
    /// Left Meta: the Windows, Command or Super key.
    pub const LEFT_META: Self = Self(0x08);
    /// Right Control.
    pub const RIGHT_CTRL: Self = Self(0x10);
    /// Right Shift.
    pub const RIGHT_SHIFT: Self = Self(0x20);
    /// Right Alt, which is AltGr on most non-US layouts.
    pub const RIGHT_ALT: Self = Self(0x40);
    /// Right Meta.
    pub const RIGHT_META: Self = Self(0x80);
    /// AltGr, the third-level shift of European layouts: the right Alt key.
    pub const ALT_GR: Self = Self::RIGHT_ALT;

    /// Wraps a raw modifier byte.
    #[must_use]
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw modifier byte.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether no modifier is set.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every modifier in `other` is set in `self`.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any modifier in `other` is set in `self`.
    #[must_use]
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// `self` with the bits of `other` added.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// `self` with the bits of `other` removed.
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Whether either Shift key is held.
    #[must_use]
    pub const fn shift(self) -> bool {
        self.intersects(Self(0x22))
    }

    /// Whether either Control key is held.
    #[must_use]
    pub const fn ctrl(self) -> bool {
        self.intersects(Self(0x11))
    }

    /// Whether either Meta key is held.
    #[must_use]
    pub const fn meta(self) -> bool {
        self.intersects(Self(0x88))
    }

    /// The modifier bit of a modifier key (`0xE0..=0xE7`), or `None` for other keys.
    #[must_use]
    pub const fn from_key(key: Keycode) -> Option<Self> {
        if key.is_modifier() {
            Some(Self(1 << (key.usage() - 0xE0)))
        } else {
            None
        }
    }

    /// The modifier keys set in `self`, in bit order.
    pub fn keys(self) -> impl Iterator<Item = Keycode> {
        (0..8u8)
            .filter(move |bit| self.0 & (1 << bit) != 0)
            .map(|bit| Keycode::from_usage(0xE0 + bit))
    }

    /// Parses a modifier name as used in chords: `ctrl`/`control`, `shift`, `alt`/`option`,
    /// `win`/`cmd`/`super`/`meta`/`gui`, `altgr`, with `l`/`r`/`left`/`right` variants and the
    /// standard key names (`ControlLeft`, ...). The side-less names mean the left key.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.trim().to_ascii_lowercase();
        let modifier = match lower.as_str() {
            "ctrl" | "control" | "ctl" | "strg" => Self::LEFT_CTRL,
            "shift" => Self::LEFT_SHIFT,
            "alt" | "option" | "opt" => Self::LEFT_ALT,
            "win" | "windows" | "cmd" | "command" | "super" | "meta" | "gui" | "os" => {
                Self::LEFT_META
            }
            _ => return Keycode::from_name(&lower).ok().and_then(Self::from_key),
        };
        Some(modifier)
    }
}

impl BitOr for Modifiers {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for Modifiers {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.union(rhs);
    }
}

impl fmt::Debug for Modifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Modifiers({self})")
    }
}

impl fmt::Display for Modifiers {
    /// Writes the held modifiers as key names joined by `+`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, key) in self.keys().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{key}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_follow_the_boot_report() {
        let table = [
            (Keycode::CONTROL_LEFT, 0x01),
            (Keycode::SHIFT_LEFT, 0x02),
            (Keycode::ALT_LEFT, 0x04),
            (Keycode::META_LEFT, 0x08),
            (Keycode::CONTROL_RIGHT, 0x10),
            (Keycode::SHIFT_RIGHT, 0x20),
            (Keycode::ALT_RIGHT, 0x40),
            (Keycode::META_RIGHT, 0x80),
        ];
        for (key, bits) in table {
            assert_eq!(Modifiers::from_key(key), Some(Modifiers::from_bits(bits)));
        }
        assert_eq!(Modifiers::from_key(Keycode::A), None);
    }

    #[test]
    fn names() {
        let table = [
            ("ctrl", 0x01),
            ("Control", 0x01),
            ("RCtrl", 0x10),
            ("shift", 0x02),
            ("rightshift", 0x20),
            ("alt", 0x04),
            ("option", 0x04),
            ("AltGr", 0x40),
            ("ralt", 0x40),
            ("win", 0x08),
            ("cmd", 0x08),
            ("super", 0x08),
            ("rwin", 0x80),
            ("MetaRight", 0x80),
            ("ControlLeft", 0x01),
        ];
        for (name, bits) in table {
            assert_eq!(
                Modifiers::from_name(name),
                Some(Modifiers::from_bits(bits)),
                "{name}"
            );
        }
        assert_eq!(Modifiers::from_name("a"), None);
        assert_eq!(Modifiers::from_name("hyper"), None);
    }

    #[test]
    fn display() {
        assert_eq!(Modifiers::NONE.to_string(), "none");
        assert_eq!(
            (Modifiers::LEFT_CTRL | Modifiers::ALT_GR).to_string(),
            "ControlLeft+AltRight"
        );
    }
}
