//! The virtual target machine behind the KVM: power, a text console, keyboard LEDs and a
//! mouse pointer.
//!
//! The machine only ever changes through [`MachineState`] values published on a
//! `tokio::sync::watch` channel, so tests can await a condition ("the console shows
//! `hello`", "the power is off") instead of sleeping.

use std::time::{Duration, SystemTime};

use nanokvm_hid::{
    AbsoluteReport, Decoded, Decoder, KeyboardReport, Keycode, Layout, MouseButtons, RelativeReport,
};

/// How long a target takes from power-on to its login prompt (firmware time, scaled).
pub(crate) const BOOT_TIME: Duration = Duration::from_secs(2);
/// How long a running target takes to shut down after a short power press.
pub(crate) const SHUTDOWN_TIME: Duration = Duration::from_millis(1500);
/// Presses at least this long force the machine off, as ATX power supplies do.
pub(crate) const LONG_PRESS: Duration = Duration::from_secs(4);
/// Console lines kept; older ones scroll away.
const MAX_LINES: usize = 500;

/// The target machine's power state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PowerState {
    /// Powered off: no HDMI signal, power LED off.
    Off,
    /// Powered on, showing its boot sequence.
    Booting,
    /// Running, at its console.
    On,
    /// Asked to shut down by a short power press; turns off after a delay.
    ShuttingDown,
}

impl PowerState {
    /// Whether the power LED is lit (any state but [`PowerState::Off`]).
    #[must_use]
    pub fn is_powered(self) -> bool {
        self != Self::Off
    }
}

/// The keyboard LEDs as the target host last reported them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Leds {
    /// Num Lock.
    pub num_lock: bool,
    /// Caps Lock.
    pub caps_lock: bool,
    /// Scroll Lock.
    pub scroll_lock: bool,
    /// Whether the host has sent any LED output report yet.
    pub known: bool,
    /// When the host last sent one.
    pub updated_at: Option<SystemTime>,
}

impl Leds {
    /// Whether two states differ in what the firmware pushes on (the lock bits and
    /// `known`, not the timestamp).
    #[must_use]
    pub(crate) fn same_flags(&self, other: &Self) -> bool {
        self.num_lock == other.num_lock
            && self.caps_lock == other.caps_lock
            && self.scroll_lock == other.scroll_lock
            && self.known == other.known
    }
}

/// A mouse button press seen by the target, with where the pointer was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Click {
    /// The buttons that went down in this report.
    pub buttons: MouseButtons,
    /// Pointer column in pixels.
    pub x: u32,
    /// Pointer row in pixels.
    pub y: u32,
}

/// A snapshot of the virtual target machine.
#[derive(Clone, Debug)]
pub struct MachineState {
    power: PowerState,
    lines: Vec<String>,
    /// Characters at the start of the last line that Backspace cannot erase (a prompt).
    floor: usize,
    leds: Leds,
    pointer: (u32, u32),
    buttons: MouseButtons,
    clicks: Vec<Click>,
    version: u64,
    pub(crate) generation: u64,
    decoder: Decoder,
    previous_keys: KeyboardReport,
    width: u32,
    height: u32,
    boot_media: Option<String>,
}

impl MachineState {
    pub(crate) fn new(layout: Layout, width: u32, height: u32, powered: bool) -> Self {
        let mut state = Self {
            power: PowerState::Off,
            lines: Vec::new(),
            floor: 0,
            leds: Leds::default(),
            pointer: (width / 2, height / 2),
            buttons: MouseButtons::default(),
            clicks: Vec::new(),
            version: 0,
            generation: 0,
            decoder: Decoder::new(layout),
            previous_keys: KeyboardReport::RELEASE,
            width,
            height,
            boot_media: None,
        };
        if powered {
            state.start_boot(None);
            state.finish_boot();
        }
        state
    }

    /// The power state.
    #[must_use]
    pub fn power(&self) -> PowerState {
        self.power
    }

    /// The text on the screen, lines joined with `\n`; empty while powered off.
    #[must_use]
    pub fn screen_text(&self) -> String {
        self.lines.join("\n")
    }

    /// The console lines.
    #[must_use]
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The keyboard LEDs as the host reported them.
    #[must_use]
    pub fn leds(&self) -> Leds {
        self.leds
    }

    /// The pointer position in pixels.
    #[must_use]
    pub fn pointer(&self) -> (u32, u32) {
        self.pointer
    }

    /// The mouse buttons currently held.
    #[must_use]
    pub fn buttons(&self) -> MouseButtons {
        self.buttons
    }

    /// Every button press seen, oldest first.
    #[must_use]
    pub fn clicks(&self) -> &[Click] {
        &self.clicks
    }

    /// A counter bumped whenever anything visible on the screen changes.
    #[must_use]
    pub fn screen_version(&self) -> u64 {
        self.version
    }

    /// What the machine booted from, if it booted from mounted media.
    #[must_use]
    pub fn boot_media(&self) -> Option<&str> {
        self.boot_media.as_deref()
    }

    fn touch(&mut self) {
        self.version += 1;
    }

    /// Powers on and shows the boot sequence; `cdrom` names a mounted CD-ROM image.
    pub(crate) fn start_boot(&mut self, cdrom: Option<&str>) {
        self.generation += 1;
        self.power = PowerState::Booting;
        self.lines = vec![
            "NanoKVM-sim virtual machine".to_owned(),
            "BIOS 1.0 - nanokvm-rs".to_owned(),
            String::new(),
        ];
        match cdrom {
            Some(image) => self.lines.push(format!("Booting from CD-ROM: {image}")),
            None => self.lines.push("Booting from Hard Disk...".to_owned()),
        }
        self.boot_media = cdrom.map(str::to_owned);
        self.floor = 0;
        self.decoder.reset();
        self.previous_keys = KeyboardReport::RELEASE;
        self.touch();
    }

    /// Ends the boot: the login prompt appears and the host initialises its keyboard,
    /// which sends an LED output report with every lock off.
    pub(crate) fn finish_boot(&mut self) {
        self.power = PowerState::On;
        self.lines.push(String::new());
        let prompt = "target login: ".to_owned();
        self.floor = prompt.chars().count();
        self.lines.push(prompt);
        self.decoder.set_caps_lock(false);
        self.set_leds(false, false, false);
        self.touch();
    }

    pub(crate) fn start_shutdown(&mut self) {
        self.generation += 1;
        self.power = PowerState::ShuttingDown;
        self.lines.push(String::new());
        self.lines
            .push("System is going down for power-off.".to_owned());
        self.floor = 0;
        self.touch();
    }

    pub(crate) fn power_off(&mut self) {
        self.generation += 1;
        self.power = PowerState::Off;
        self.lines.clear();
        self.floor = 0;
        self.boot_media = None;
        self.decoder.reset();
        self.previous_keys = KeyboardReport::RELEASE;
        self.touch();
    }

    fn set_leds(&mut self, num: bool, caps: bool, scroll: bool) {
        self.leds = Leds {
            num_lock: num,
            caps_lock: caps,
            scroll_lock: scroll,
            known: true,
            updated_at: Some(SystemTime::now()),
        };
    }

    /// A keyboard report reached the target.
    pub(crate) fn keyboard(&mut self, report: &KeyboardReport) {
        if self.power != PowerState::On {
            self.previous_keys = *report;
            return;
        }
        let newly: Vec<Keycode> = report
            .keys()
            .filter(|k| !self.previous_keys.is_pressed(*k))
            .collect();
        self.previous_keys = *report;
        let events = self.decoder.feed(report);
        let mut changed = false;
        for event in events {
            match event {
                Decoded::Text('\n') => {
                    self.lines.push(String::new());
                    self.floor = 0;
                    changed = true;
                }
                Decoded::Text(c) => {
                    if let Some(line) = self.lines.last_mut() {
                        line.push(c);
                    } else {
                        self.lines.push(c.to_string());
                    }
                    changed = true;
                }
                Decoded::Backspace => {
                    if let Some(line) = self.lines.last_mut()
                        && line.chars().count() > self.floor
                    {
                        line.pop();
                        changed = true;
                    }
                }
                Decoded::Key(_) => {}
            }
        }
        if self.lines.len() > MAX_LINES {
            let excess = self.lines.len() - MAX_LINES;
            self.lines.drain(..excess);
        }
        // The host answers lock keys with an LED output report.
        let mut leds = self.leds;
        let mut lock_changed = false;
        for key in newly {
            if key == Keycode::CAPS_LOCK {
                leds.caps_lock = self.decoder.caps_lock();
                lock_changed = true;
            } else if key.usage() == 0x53 {
                leds.num_lock = !leds.num_lock;
                lock_changed = true;
            } else if key.usage() == 0x47 {
                leds.scroll_lock = !leds.scroll_lock;
                lock_changed = true;
            }
        }
        if lock_changed {
            self.set_leds(leds.num_lock, leds.caps_lock, leds.scroll_lock);
        }
        if changed {
            self.touch();
        }
    }

    fn buttons_changed(&mut self, buttons: MouseButtons) {
        let before = self.buttons.bits();
        let pressed = buttons.bits() & !before;
        if pressed != 0 && self.power == PowerState::On {
            self.clicks.push(Click {
                buttons: MouseButtons::from_bits(pressed),
                x: self.pointer.0,
                y: self.pointer.1,
            });
        }
        self.buttons = buttons;
    }

    /// A relative mouse report reached the target.
    pub(crate) fn relative(&mut self, report: &RelativeReport) {
        let clamp = |v: i64, max: u32| {
            u32::try_from(v.clamp(0, i64::from(max.saturating_sub(1)))).unwrap_or(0)
        };
        let x = clamp(i64::from(self.pointer.0) + i64::from(report.dx), self.width);
        let y = clamp(
            i64::from(self.pointer.1) + i64::from(report.dy),
            self.height,
        );
        if (x, y) != self.pointer {
            self.pointer = (x, y);
            self.touch();
        }
        self.buttons_changed(report.buttons);
    }

    /// An absolute pointer report reached the target.
    pub(crate) fn absolute(&mut self, report: &AbsoluteReport) {
        let scale = |v: u16, size: u32| {
            let max = u64::from(size.saturating_sub(1));
            u32::try_from(u64::from(v) * max / u64::from(nanokvm_hid::AbsolutePosition::MAX))
                .unwrap_or(0)
        };
        let pos = (
            scale(report.position.x(), self.width),
            scale(report.position.y(), self.height),
        );
        if pos != self.pointer {
            self.pointer = pos;
            self.touch();
        }
        self.buttons_changed(report.buttons);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanokvm_hid::Modifiers;

    fn key(k: u8, m: Modifiers) -> KeyboardReport {
        KeyboardReport::single(m, Some(Keycode::from_usage(k)))
    }

    #[test]
    fn typing_edits_the_last_line_without_erasing_the_prompt() {
        let mut m = MachineState::new(Layout::Us, 640, 480, true);
        for r in [
            key(0x0B, Modifiers::LEFT_SHIFT),
            KeyboardReport::RELEASE,
            key(0x0C, Modifiers::NONE),
            KeyboardReport::RELEASE,
        ] {
            m.keyboard(&r);
        }
        assert!(m.screen_text().ends_with("target login: Hi"));
        for _ in 0..5 {
            m.keyboard(&key(0x2A, Modifiers::NONE));
            m.keyboard(&KeyboardReport::RELEASE);
        }
        assert!(m.screen_text().ends_with("target login: "));
        m.keyboard(&key(0x28, Modifiers::NONE));
        assert!(m.screen_text().ends_with("login: \n"));
    }

    #[test]
    fn caps_lock_sets_the_led_and_shifts_letters() {
        let mut m = MachineState::new(Layout::Us, 640, 480, true);
        assert!(m.leds().known && !m.leds().caps_lock);
        m.keyboard(&key(0x39, Modifiers::NONE));
        m.keyboard(&KeyboardReport::RELEASE);
        assert!(m.leds().caps_lock);
        m.keyboard(&key(0x04, Modifiers::NONE));
        assert!(m.screen_text().ends_with('A'));
    }

    #[test]
    fn a_machine_that_is_off_sees_nothing() {
        let mut m = MachineState::new(Layout::Us, 640, 480, false);
        m.keyboard(&key(0x04, Modifiers::NONE));
        assert_eq!(m.screen_text(), "");
        assert!(!m.leds().known);
    }

    #[test]
    fn pointer_follows_absolute_and_relative_reports_and_records_clicks() {
        let mut m = MachineState::new(Layout::Us, 1001, 501, true);
        let bytes = [1, 0xFF, 0x7F, 0, 0, 0];
        m.absolute(&AbsoluteReport::from_bytes(&bytes).unwrap());
        assert_eq!(m.pointer(), (1000, 0));
        assert_eq!(m.clicks().len(), 1);
        m.relative(&RelativeReport::from_bytes(&[0, 0x80, 10, 0]).unwrap());
        assert_eq!(m.pointer(), (872, 10));
        assert_eq!(m.buttons(), MouseButtons::default());
    }
}
