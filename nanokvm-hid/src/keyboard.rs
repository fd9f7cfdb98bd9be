//! The boot keyboard report: `[modifiers, 0, k1, k2, k3, k4, k5, k6]`.

use std::fmt;

use crate::error::Error;
use crate::keycode::Keycode;
use crate::modifiers::Modifiers;

/// One boot-protocol keyboard input report: the modifier byte, a reserved zero byte and
/// up to six pressed keys. This is what the firmware writes to `/dev/hidg0`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyboardReport {
    modifiers: Modifiers,
    keys: [u8; 6],
}

impl KeyboardReport {
    /// The report length in bytes.
    pub const LEN: usize = 8;

    /// The all-zero report: nothing held.
    pub const RELEASE: Self = Self {
        modifiers: Modifiers::NONE,
        keys: [0; 6],
    };

    /// A report holding `modifiers` and the given keys.
    ///
    /// Modifier keys among `keys` (`ControlLeft`, ...) are moved into the modifier byte,
    /// as a real keyboard reports them.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyKeys`] when more than six non-modifier keys are given.
    pub fn new(modifiers: Modifiers, keys: &[Keycode]) -> Result<Self, Error> {
        let mut report = Self {
            modifiers,
            keys: [0; 6],
        };
        let mut slot = 0;
        for &key in keys {
            if let Some(bit) = Modifiers::from_key(key) {
                report.modifiers |= bit;
                continue;
            }
            if report.keys.contains(&key.usage()) {
                continue;
            }
            if slot == report.keys.len() {
                let count = keys.iter().filter(|k| !k.is_modifier()).count();
                return Err(Error::TooManyKeys {
                    chord: keys
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("+"),
                    count,
                });
            }
            report.keys[slot] = key.usage();
            slot += 1;
        }
        Ok(report)
    }

    /// A report holding `modifiers` and at most one key.
    #[must_use]
    pub const fn single(modifiers: Modifiers, key: Option<Keycode>) -> Self {
        let mut keys = [0; 6];
        if let Some(key) = key {
            keys[0] = key.usage();
        }
        Self { modifiers, keys }
    }

    /// The modifier byte.
    #[must_use]
    pub const fn modifiers(&self) -> Modifiers {
        self.modifiers
    }

    /// The pressed non-modifier keys, in slot order, skipping empty slots.
    pub fn keys(&self) -> impl Iterator<Item = Keycode> + '_ {
        self.keys
            .iter()
            .filter(|&&k| k != 0)
            .map(|&k| Keycode::from_usage(k))
    }

    /// Whether `key` is held, either in a key slot or as a modifier bit.
    #[must_use]
    pub fn is_pressed(&self, key: Keycode) -> bool {
        match Modifiers::from_key(key) {
            Some(bit) => self.modifiers.contains(bit),
            None => key.usage() != 0 && self.keys.contains(&key.usage()),
        }
    }

    /// Whether nothing is held.
    #[must_use]
    pub fn is_release(&self) -> bool {
        *self == Self::RELEASE
    }

    /// The 8 bytes as written to the HID gadget.
    #[must_use]
    pub const fn to_bytes(&self) -> [u8; 8] {
        let k = self.keys;
        [self.modifiers.bits(), 0, k[0], k[1], k[2], k[3], k[4], k[5]]
    }

    /// Reads a report from its 8 bytes. The reserved byte is ignored, as hosts do.
    ///
    /// # Errors
    ///
    /// [`Error::ReportLength`] unless `bytes` is exactly 8 long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let bytes: &[u8; 8] = bytes.try_into().map_err(|_| Error::ReportLength {
            kind: "keyboard",
            expected: Self::LEN,
            actual: bytes.len(),
        })?;
        let mut keys = [0; 6];
        keys.copy_from_slice(&bytes[2..]);
        Ok(Self {
            modifiers: Modifiers::from_bits(bytes[0]),
            keys,
        })
    }
}

impl fmt::Debug for KeyboardReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyboardReport")
            .field("modifiers", &self.modifiers)
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes_bytes() {
        let report = KeyboardReport::new(
            Modifiers::LEFT_CTRL | Modifiers::LEFT_ALT,
            &[Keycode::DELETE],
        )
        .unwrap();
        let bytes = report.to_bytes();
        assert_eq!(bytes, [0x05, 0, 0x4C, 0, 0, 0, 0, 0]);
        assert_eq!(KeyboardReport::from_bytes(&bytes).unwrap(), report);
        assert!(KeyboardReport::from_bytes(&bytes[..7]).is_err());
        assert!(KeyboardReport::from_bytes(&[0; 9]).is_err());
    }

    #[test]
    fn modifier_keys_go_to_the_modifier_byte() {
        let report =
            KeyboardReport::new(Modifiers::NONE, &[Keycode::SHIFT_RIGHT, Keycode::A]).unwrap();
        assert_eq!(report.to_bytes(), [0x20, 0, 0x04, 0, 0, 0, 0, 0]);
        assert!(report.is_pressed(Keycode::SHIFT_RIGHT));
        assert!(report.is_pressed(Keycode::A));
        assert!(!report.is_pressed(Keycode::B));
    }

    #[test]
    fn seven_keys_do_not_fit() {
        let keys = [
            Keycode::A,
            Keycode::B,
            Keycode::C,
            Keycode::D,
            Keycode::E,
            Keycode::F,
        ];
        assert!(KeyboardReport::new(Modifiers::NONE, &keys).is_ok());
        let seven = [&keys[..], &[Keycode::G]].concat();
        assert!(matches!(
            KeyboardReport::new(Modifiers::NONE, &seven),
            Err(Error::TooManyKeys { count: 7, .. })
        ));
    }
}
