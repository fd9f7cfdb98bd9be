//! Keyboard and mouse reports as `/api/ws` frames, for both protocol generations (pure).
//!
//! Binary (2.3.2 and later): `[0]` heartbeat, `[1, 8-byte keyboard report]`,
//! `[2, 4-byte relative report]`, `[2, 6-byte absolute report]`. The firmware silently
//! drops anything else, so lengths are exact.
//!
//! JSON arrays (up to 2.3.1): `[1, key, ctrl, shift, alt, meta]` with one key at a time,
//! and `[2, event, button, x, y]` with events 0 up, 1 down, 2 absolute move, 3 relative
//! move, 4 scroll. That protocol is stateful (button down/up are events, not a bitmap),
//! so [`LegacyEncoder`] remembers the buttons it reported.

use nanokvm_hid::{AbsoluteReport, KeyboardReport, MouseButtons, RelativeReport};

/// One report for the device.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Report {
    Keyboard(KeyboardReport),
    Relative(RelativeReport),
    Absolute(AbsoluteReport),
}

/// A frame to put on the socket.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Frame {
    Binary(Vec<u8>),
    Text(String),
}

/// The binary heartbeat.
pub(crate) fn heartbeat() -> Frame {
    Frame::Binary(vec![0])
}

/// A report as one binary frame.
pub(crate) fn binary(report: &Report) -> Frame {
    let mut out = Vec::with_capacity(9);
    match report {
        Report::Keyboard(r) => {
            out.push(1);
            out.extend_from_slice(&r.to_bytes());
        }
        Report::Relative(r) => {
            out.push(2);
            out.extend_from_slice(&r.to_bytes());
        }
        Report::Absolute(r) => {
            out.push(2);
            out.extend_from_slice(&r.to_bytes());
        }
    }
    Frame::Binary(out)
}

/// Encodes reports as the JSON arrays of firmware up to 2.3.1.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LegacyEncoder {
    buttons: MouseButtons,
    /// Firmware up to 2.3.0 turned a positive scroll value into wheel −1.
    pub(crate) invert_scroll: bool,
}

impl LegacyEncoder {
    pub(crate) fn new(invert_scroll: bool) -> Self {
        Self {
            buttons: MouseButtons::NONE,
            invert_scroll,
        }
    }

    /// The frames for one report (possibly none: a modifier-only keyboard report cannot
    /// be expressed, and the next key report carries the modifiers anyway).
    pub(crate) fn encode(&mut self, report: &Report) -> Vec<Frame> {
        let text = |values: [i64; 5]| -> Frame {
            Frame::Text(format!("[{}]", values.map(|v| v.to_string()).join(",")))
        };
        match report {
            Report::Keyboard(r) => {
                let bits = i64::from(r.modifiers().bits());
                let key = r.keys().next().map_or(0, |k| i64::from(k.usage()));
                if key == 0 && bits != 0 {
                    return Vec::new();
                }
                let frame = format!(
                    "[1,{key},{},{},{},{}]",
                    bits & 0x11,
                    bits & 0x22,
                    bits & 0x44,
                    bits & 0x88
                );
                vec![Frame::Text(frame)]
            }
            Report::Relative(r) => {
                let mut frames = self.buttons_to(r.buttons, text);
                if r.dx != 0 || r.dy != 0 {
                    frames.push(text([
                        2,
                        3,
                        i64::from(r.buttons.bits()),
                        i64::from(r.dx),
                        i64::from(r.dy),
                    ]));
                }
                // Only the sign of the scroll value counts; one event is one wheel step.
                let steps = i64::from(r.wheel).abs();
                let sign = if (r.wheel > 0) != self.invert_scroll {
                    1
                } else {
                    -1
                };
                for _ in 0..steps {
                    frames.push(text([2, 4, 0, 0, sign]));
                }
                frames
            }
            Report::Absolute(r) => {
                let mut frames = vec![text([
                    2,
                    2,
                    0,
                    i64::from(r.position.x()),
                    i64::from(r.position.y()),
                ])];
                // Buttons went to the relative device on this protocol.
                frames.extend(self.buttons_to(r.buttons, text));
                frames
            }
        }
    }

    fn buttons_to(&mut self, target: MouseButtons, text: impl Fn([i64; 5]) -> Frame) -> Vec<Frame> {
        let mut frames = Vec::new();
        if target == self.buttons {
            return frames;
        }
        if target == MouseButtons::NONE {
            frames.push(text([2, 0, 0, 0, 0]));
        } else {
            for bit in [
                MouseButtons::LEFT,
                MouseButtons::RIGHT,
                MouseButtons::MIDDLE,
            ] {
                if target.contains(bit) && !self.buttons.contains(bit) {
                    frames.push(text([2, 1, i64::from(bit.bits()), 0, 0]));
                }
            }
        }
        self.buttons = target;
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanokvm_hid::{AbsolutePosition, Keycode, Modifiers};

    #[test]
    fn binary_frames_have_exact_lengths() {
        let kb = KeyboardReport::new(Modifiers::LEFT_CTRL, &[Keycode::A]).unwrap();
        assert_eq!(
            binary(&Report::Keyboard(kb)),
            Frame::Binary(vec![1, 1, 0, 4, 0, 0, 0, 0, 0])
        );
        let rel = RelativeReport {
            buttons: MouseButtons::LEFT,
            dx: -1,
            dy: 2,
            wheel: 0,
        };
        assert_eq!(
            binary(&Report::Relative(rel)),
            Frame::Binary(vec![2, 1, 0xFF, 2, 0])
        );
        let abs = AbsoluteReport {
            buttons: MouseButtons::NONE,
            position: AbsolutePosition::new(0x1234, 0x10),
            wheel: 0,
        };
        assert_eq!(
            binary(&Report::Absolute(abs)),
            Frame::Binary(vec![2, 0, 0x34, 0x12, 0x10, 0, 0])
        );
        assert_eq!(heartbeat(), Frame::Binary(vec![0]));
    }

    #[test]
    fn legacy_frames_follow_the_old_numbering() {
        let mut enc = LegacyEncoder::new(false);
        let text = |f: &Frame| match f {
            Frame::Text(t) => t.clone(),
            Frame::Binary(_) => panic!("binary"),
        };
        let kb = KeyboardReport::new(Modifiers::LEFT_SHIFT | Modifiers::RIGHT_ALT, &[Keycode::A])
            .unwrap();
        assert_eq!(
            text(&enc.encode(&Report::Keyboard(kb))[0]),
            "[1,4,0,2,64,0]"
        );
        assert!(
            enc.encode(&Report::Keyboard(
                KeyboardReport::new(Modifiers::LEFT_CTRL, &[]).unwrap()
            ))
            .is_empty()
        );
        assert_eq!(
            text(&enc.encode(&Report::Keyboard(KeyboardReport::RELEASE))[0]),
            "[1,0,0,0,0,0]"
        );
        let down = RelativeReport {
            buttons: MouseButtons::RIGHT,
            dx: 0,
            dy: 0,
            wheel: 0,
        };
        assert_eq!(
            enc.encode(&Report::Relative(down))
                .iter()
                .map(text)
                .collect::<Vec<_>>(),
            ["[2,1,2,0,0]"]
        );
        let up = RelativeReport::default();
        assert_eq!(
            enc.encode(&Report::Relative(up))
                .iter()
                .map(text)
                .collect::<Vec<_>>(),
            ["[2,0,0,0,0]"]
        );
        let mv = RelativeReport {
            buttons: MouseButtons::NONE,
            dx: 5,
            dy: -3,
            wheel: -2,
        };
        assert_eq!(
            enc.encode(&Report::Relative(mv))
                .iter()
                .map(text)
                .collect::<Vec<_>>(),
            ["[2,3,0,5,-3]", "[2,4,0,0,-1]", "[2,4,0,0,-1]"]
        );
        let abs = AbsoluteReport {
            buttons: MouseButtons::NONE,
            position: AbsolutePosition::new(100, 200),
            wheel: 0,
        };
        assert_eq!(
            enc.encode(&Report::Absolute(abs))
                .iter()
                .map(text)
                .collect::<Vec<_>>(),
            ["[2,2,0,100,200]"]
        );
        let mut old = LegacyEncoder::new(true);
        let up_one = RelativeReport {
            wheel: 1,
            ..RelativeReport::default()
        };
        assert_eq!(
            old.encode(&Report::Relative(up_one))
                .iter()
                .map(text)
                .collect::<Vec<_>>(),
            ["[2,4,0,0,-1]"]
        );
    }
}
