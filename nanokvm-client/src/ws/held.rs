//! What the session's task last sent that is still held, so that it can be released
//! when an operation fails or is dropped, and when the session is dropped.

use nanokvm_hid::{AbsoluteReport, KeyboardReport, MouseButtons, RelativeReport};

use super::frame::Report;

/// What the task last sent that is still held.
#[derive(Default)]
pub(super) struct Held {
    keyboard: KeyboardReport,
    relative: MouseButtons,
    absolute: Option<AbsoluteReport>,
}

impl Held {
    pub(super) fn track(&mut self, report: &Report) {
        match report {
            Report::Keyboard(r) => self.keyboard = *r,
            Report::Relative(r) => self.relative = r.buttons,
            Report::Absolute(r) => self.absolute = Some(*r),
        }
    }

    pub(super) fn releases(&self) -> Vec<Report> {
        let mut out = Vec::new();
        if self.keyboard != KeyboardReport::RELEASE {
            out.push(Report::Keyboard(KeyboardReport::RELEASE));
        }
        if self.relative != MouseButtons::NONE {
            out.push(Report::Relative(RelativeReport::default()));
        }
        if let Some(abs) = self.absolute {
            if abs.buttons != MouseButtons::NONE {
                out.push(Report::Absolute(AbsoluteReport {
                    buttons: MouseButtons::NONE,
                    position: abs.position,
                    wheel: 0,
                }));
            }
        }
        out
    }
}
