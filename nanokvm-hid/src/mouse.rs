//! Mouse reports: the relative boot mouse `[buttons, dx, dy, wheel]` and the absolute
//! pointer `[buttons, x lo, x hi, y lo, y hi, wheel]`.
//!
//! The NanoKVM's absolute pointer descriptor declares a logical range of `0..=0x7FFF` on
//! both axes. The firmware's web UI computes `floor(0x7FFF × fraction) + 1`, which can
//! overshoot the range by one at the far edge; this module maps `0.0` to `0` and `1.0` to
//! `0x7FFF` and clamps everything into the declared range instead.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use crate::error::Error;

/// Mouse buttons as report bits: left, right, middle, back, forward.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct MouseButtons(u8);

impl MouseButtons {
    /// No button held.
    pub const NONE: Self = Self(0);
    /// The left (primary) button, bit 0.
    pub const LEFT: Self = Self(0x01);
    /// The right (secondary) button, bit 1.
    pub const RIGHT: Self = Self(0x02);
    /// The middle button, bit 2.
    pub const MIDDLE: Self = Self(0x04);
    /// The back (fourth) button, bit 3. Only the absolute pointer declares it.
    pub const BACK: Self = Self(0x08);
    /// The forward (fifth) button, bit 4. Only the absolute pointer declares it.
    pub const FORWARD: Self = Self(0x10);

    /// Wraps a raw button byte.
    #[must_use]
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw button byte.
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every button in `other` is held.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Parses `left`, `right`, `middle`, `back` or `forward` (case-insensitive; `primary`,
    /// `secondary`, `wheel`, `4`/`x1` and `5`/`x2` are accepted too).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "left" | "primary" | "1" => Self::LEFT,
            "right" | "secondary" | "2" => Self::RIGHT,
            "middle" | "wheel" | "3" => Self::MIDDLE,
            "back" | "x1" | "4" => Self::BACK,
            "forward" | "x2" | "5" => Self::FORWARD,
            _ => return None,
        })
    }
}

impl BitOr for MouseButtons {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for MouseButtons {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for MouseButtons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 5] = ["left", "right", "middle", "back", "forward"];
        let held: Vec<&str> = (0..5)
            .filter(|bit| self.0 & (1 << bit) != 0)
            .map(|bit| NAMES[bit])
            .collect();
        write!(f, "MouseButtons({})", held.join("|"))
    }
}

/// One relative (boot protocol) mouse report, as written to `/dev/hidg1`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct RelativeReport {
    /// Held buttons. The relative gadget declares only left, right and middle.
    pub buttons: MouseButtons,
    /// Horizontal motion, positive to the right.
    pub dx: i8,
    /// Vertical motion, positive downwards.
    pub dy: i8,
    /// Wheel motion, positive scrolls up.
    pub wheel: i8,
}

impl RelativeReport {
    /// The report length in bytes.
    pub const LEN: usize = 4;

    /// The 4 bytes as written to the HID gadget.
    #[must_use]
    pub const fn to_bytes(&self) -> [u8; 4] {
        [
            self.buttons.0,
            self.dx.to_le_bytes()[0],
            self.dy.to_le_bytes()[0],
            self.wheel.to_le_bytes()[0],
        ]
    }

    /// Reads a report from its 4 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::ReportLength`] unless `bytes` is exactly 4 long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let [buttons, dx, dy, wheel]: [u8; 4] =
            bytes.try_into().map_err(|_| Error::ReportLength {
                kind: "relative mouse",
                expected: Self::LEN,
                actual: bytes.len(),
            })?;
        Ok(Self {
            buttons: MouseButtons(buttons),
            dx: i8::from_le_bytes([dx]),
            dy: i8::from_le_bytes([dy]),
            wheel: i8::from_le_bytes([wheel]),
        })
    }

    /// The reports for a move of any size: steps of at most 127 per axis, spread so that
    /// both axes finish together, with `buttons` held throughout (a drag when a button is
    /// held). A zero move gives one report, so buttons still reach the host.
    #[must_use]
    pub fn moves(buttons: MouseButtons, dx: i32, dy: i32) -> Vec<Self> {
        let steps = dx
            .unsigned_abs()
            .max(dy.unsigned_abs())
            .div_ceil(127)
            .max(1);
        split(dx, steps)
            .zip(split(dy, steps))
            .map(|(dx, dy)| Self {
                buttons,
                dx,
                dy,
                wheel: 0,
            })
            .collect()
    }

    /// The reports for scrolling `amount` wheel steps (positive scrolls up), at most 127
    /// per report.
    #[must_use]
    pub fn scroll(buttons: MouseButtons, amount: i32) -> Vec<Self> {
        let steps = amount.unsigned_abs().div_ceil(127).max(1);
        split(amount, steps)
            .map(|wheel| Self {
                buttons,
                dx: 0,
                dy: 0,
                wheel,
            })
            .collect()
    }
}

/// Splits `total` into `steps` parts that differ by at most one and each fit in an `i8`
/// (the caller picks `steps` so that `|total| <= 127 * steps`).
fn split(total: i32, steps: u32) -> impl Iterator<Item = i8> {
    let total = i64::from(total);
    let steps = i64::from(steps);
    (0..steps).map(move |i| {
        let before = total * i / steps;
        let after = total * (i + 1) / steps;
        // |after - before| <= ceil(|total| / steps) <= 127.
        i8::try_from(after - before).unwrap_or(if total < 0 { i8::MIN + 1 } else { i8::MAX })
    })
}

/// A position in the absolute pointer's logical range, `0..=0x7FFF` on each axis.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct AbsolutePosition {
    x: u16,
    y: u16,
}

impl AbsolutePosition {
    /// The largest logical coordinate the firmware's descriptor declares.
    pub const MAX: u16 = 0x7FFF;

    /// A position from raw logical coordinates, clamped to `0..=0x7FFF`.
    #[must_use]
    pub const fn new(x: u16, y: u16) -> Self {
        Self {
            x: if x > Self::MAX { Self::MAX } else { x },
            y: if y > Self::MAX { Self::MAX } else { y },
        }
    }

    /// A position from fractions of the screen, `0.0` (left or top) to `1.0` (right or
    /// bottom). Values outside that range are clamped to the edge.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCoordinate`] for a NaN or infinite value.
    ///
    /// # Example
    ///
    /// ```
    /// use nanokvm_hid::{AbsolutePosition, AbsoluteReport, MouseButtons};
    ///
    /// let centre = AbsolutePosition::from_normalized(0.5, 0.5)?;
    /// let click = AbsoluteReport { buttons: MouseButtons::LEFT, position: centre, wheel: 0 };
    /// assert_eq!(click.to_bytes(), [1, 0x00, 0x40, 0x00, 0x40, 0]);
    /// # Ok::<(), nanokvm_hid::Error>(())
    /// ```
    pub fn from_normalized(x: f64, y: f64) -> Result<Self, Error> {
        Ok(Self {
            x: scale(x, "x")?,
            y: scale(y, "y")?,
        })
    }

    /// A position from pixel coordinates on a screen of `width` × `height` pixels: pixel
    /// `0` maps to `0` and the last pixel (`width - 1`) to `0x7FFF`. Pixels past the edge
    /// are clamped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCoordinate`] for a zero width or height.
    pub fn from_pixels(x: u32, y: u32, width: u32, height: u32) -> Result<Self, Error> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidCoordinate {
                reason: format!("screen size {width}x{height} has no pixels"),
            });
        }
        let fraction = |p: u32, size: u32| {
            if size == 1 {
                0.0
            } else {
                f64::from(p) / f64::from(size - 1)
            }
        };
        Self::from_normalized(fraction(x, width), fraction(y, height))
    }

    /// The logical x coordinate.
    #[must_use]
    pub const fn x(self) -> u16 {
        self.x
    }

    /// The logical y coordinate.
    #[must_use]
    pub const fn y(self) -> u16 {
        self.y
    }

    /// The position as fractions of the screen.
    #[must_use]
    pub fn normalized(self) -> (f64, f64) {
        let max = f64::from(Self::MAX);
        (f64::from(self.x) / max, f64::from(self.y) / max)
    }
}

fn scale(value: f64, axis: &str) -> Result<u16, Error> {
    if !value.is_finite() {
        return Err(Error::InvalidCoordinate {
            reason: format!("{axis} = {value} is not a finite number"),
        });
    }
    let scaled = (value.clamp(0.0, 1.0) * f64::from(AbsolutePosition::MAX)).round();
    // The clamp keeps `scaled` within 0..=0x7FFF, so the conversion is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(scaled as u16)
}

/// One absolute pointer report, as written to `/dev/hidg2`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct AbsoluteReport {
    /// Held buttons (all five are declared in the normal HID mode).
    pub buttons: MouseButtons,
    /// Where the pointer is.
    pub position: AbsolutePosition,
    /// Wheel motion, positive scrolls up.
    pub wheel: i8,
}

impl AbsoluteReport {
    /// The report length in bytes.
    pub const LEN: usize = 6;

    /// The 6 bytes as written to the HID gadget: x and y little-endian.
    #[must_use]
    pub const fn to_bytes(&self) -> [u8; 6] {
        let [x_lo, x_hi] = self.position.x.to_le_bytes();
        let [y_lo, y_hi] = self.position.y.to_le_bytes();
        [
            self.buttons.0,
            x_lo,
            x_hi,
            y_lo,
            y_hi,
            self.wheel.to_le_bytes()[0],
        ]
    }

    /// Reads a report from its 6 bytes. Coordinates above `0x7FFF` (which the web UI can
    /// send) are clamped into the declared range.
    ///
    /// # Errors
    ///
    /// [`Error::ReportLength`] unless `bytes` is exactly 6 long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let [buttons, x_lo, x_hi, y_lo, y_hi, wheel]: [u8; 6] =
            bytes.try_into().map_err(|_| Error::ReportLength {
                kind: "absolute pointer",
                expected: Self::LEN,
                actual: bytes.len(),
            })?;
        Ok(Self {
            buttons: MouseButtons(buttons),
            position: AbsolutePosition::new(
                u16::from_le_bytes([x_lo, x_hi]),
                u16::from_le_bytes([y_lo, y_hi]),
            ),
            wheel: i8::from_le_bytes([wheel]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_bytes_are_twos_complement() {
        let report = RelativeReport {
            buttons: MouseButtons::LEFT,
            dx: -1,
            dy: 127,
            wheel: -127,
        };
        assert_eq!(report.to_bytes(), [1, 0xFF, 0x7F, 0x81]);
        assert_eq!(
            RelativeReport::from_bytes(&report.to_bytes()).unwrap(),
            report
        );
        assert!(RelativeReport::from_bytes(&[0; 5]).is_err());
    }

    #[test]
    fn large_moves_are_split() {
        let table: [(i32, i32, usize); 5] = [
            (0, 0, 1),
            (127, -127, 1),
            (128, 0, 2),
            (-300, 20, 3),
            (1000, 1000, 8),
        ];
        for (dx, dy, count) in table {
            let moves = RelativeReport::moves(MouseButtons::NONE, dx, dy);
            assert_eq!(moves.len(), count, "{dx},{dy}");
            let sum_x: i32 = moves.iter().map(|m| i32::from(m.dx)).sum();
            let sum_y: i32 = moves.iter().map(|m| i32::from(m.dy)).sum();
            assert_eq!((sum_x, sum_y), (dx, dy));
            assert!(moves.iter().all(|m| m.dx != i8::MIN && m.dy != i8::MIN));
        }
    }

    #[test]
    fn absolute_coordinates() {
        let corner = AbsolutePosition::from_normalized(1.0, 0.0).unwrap();
        assert_eq!((corner.x(), corner.y()), (0x7FFF, 0));
        let clamped = AbsolutePosition::from_normalized(7.5, -2.0).unwrap();
        assert_eq!((clamped.x(), clamped.y()), (0x7FFF, 0));
        let centre = AbsolutePosition::from_normalized(0.5, 0.5).unwrap();
        assert_eq!((centre.x(), centre.y()), (16384, 16384));
        assert!(AbsolutePosition::from_normalized(f64::NAN, 0.0).is_err());
        let last = AbsolutePosition::from_pixels(1919, 1079, 1920, 1080).unwrap();
        assert_eq!((last.x(), last.y()), (0x7FFF, 0x7FFF));
        let past = AbsolutePosition::from_pixels(5000, 0, 1920, 1080).unwrap();
        assert_eq!(past.x(), 0x7FFF);
        assert!(AbsolutePosition::from_pixels(0, 0, 0, 1080).is_err());
        let report = AbsoluteReport {
            buttons: MouseButtons::LEFT | MouseButtons::FORWARD,
            position: AbsolutePosition::new(0x1234, 0x7FFF),
            wheel: 1,
        };
        assert_eq!(report.to_bytes(), [0x11, 0x34, 0x12, 0xFF, 0x7F, 1]);
        assert_eq!(
            AbsoluteReport::from_bytes(&report.to_bytes()).unwrap(),
            report
        );
        let overshoot = AbsoluteReport::from_bytes(&[0, 0, 0x80, 0, 0x80, 0]).unwrap();
        assert_eq!(overshoot.position, AbsolutePosition::new(0x7FFF, 0x7FFF));
    }
}
