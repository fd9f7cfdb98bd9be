//! The virtual target machine behind the KVM: power, a text console, keyboard LEDs and a
//! mouse pointer.
//!
//! The machine only ever changes through [`MachineState`] values published on a
//! `tokio::sync::watch` channel, so tests can await a condition ("the console shows
//! `hello`", "the power is off") instead of sleeping.
//!
//! # The console's input line
//!
//! The last console line is a shell prompt followed by the input being typed, and the
//! input is edited the way GNU readline does with its default (emacs) key bindings on a
//! Linux text console, so the simulator can tell what a real shell would have read. The
//! input has a cursor, a character index into it, which starts at 0 on every new line.
//!
//! - A typed character (anything the layout decodes to text other than Enter's newline,
//!   Tab included) is inserted at the cursor, and the cursor moves past it.
//! - Enter, keypad Enter, Ctrl+M and Ctrl+J accept the line: a new, empty line starts.
//! - Ctrl+C abandons the line: `^C` is appended to what the line shows, then a new line
//!   starts, as after Enter.
//! - Backspace and Ctrl+H delete the character before the cursor; the prompt is never
//!   erased. Delete and Ctrl+D delete the character under the cursor, and do nothing at
//!   the end of the input (a real shell would log out on Ctrl+D at an empty prompt; this
//!   console ignores it).
//! - Left and Ctrl+B move the cursor one character back, Right and Ctrl+F one character
//!   forward; Home and Ctrl+A move it to the start of the input, End and Ctrl+E to its end.
//! - Ctrl+U (`unix-line-discard`) deletes from the start of the input to the cursor and
//!   keeps the text after it. Ctrl+K (`kill-line`) deletes from the cursor to the end.
//!   Ctrl+W (`unix-word-rubout`) deletes the spaces and tabs just before the cursor, then
//!   the run of other characters before those.
//!
//! A Ctrl+letter shortcut is one key pressed with Ctrl (left or right), with or without
//! Shift, since a Linux console sends the same control character for both. With Alt,
//! AltGr or Meta also held it is not a control character and changes nothing. The letter
//! is the one the key types on its own in the target's layout, lower-cased, so Ctrl+A on a
//! French AZERTY target is the key labelled A, at the position of QWERTY's Q. The arrow,
//! Home, End and Delete keys only act when no modifier is held. Every other key (Up, Down,
//! Escape, function keys, other shortcuts) leaves the line as it is; readline's kill ring
//! (Ctrl+Y), undo, transposition and Meta bindings are not simulated.

use std::time::{Duration, SystemTime};

use nanokvm_hid::{
    AbsoluteReport, Chord, Decoded, Decoder, KeyboardReport, Keycode, Layout, Modifiers,
    MouseButtons, RelativeReport,
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
    /// The input cursor: a char index into the last line after `floor`.
    cursor: usize,
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
            cursor: 0,
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

    /// The input typed after the prompt on the last console line, as a shell would read
    /// it if Enter were pressed now; empty unless the machine is on.
    #[must_use]
    pub fn input_line(&self) -> String {
        if self.power != PowerState::On {
            return String::new();
        }
        self.lines
            .last()
            .map(|line| line.chars().skip(self.floor).collect())
            .unwrap_or_default()
    }

    /// The input cursor: a char index into [`MachineState::input_line`], from 0 (before
    /// the first character) to its length (after the last); 0 unless the machine is on.
    #[must_use]
    pub fn cursor(&self) -> usize {
        if self.power == PowerState::On {
            self.cursor
        } else {
            0
        }
    }

    /// The cursor as a char index into the last console line (prompt included).
    pub(crate) fn cursor_column(&self) -> usize {
        self.floor + self.cursor()
    }

    /// What the machine booted from, if it booted from mounted media.
    #[must_use]
    pub fn boot_media(&self) -> Option<&str> {
        self.boot_media.as_deref()
    }

    /// Whether the target's disk is busy, which lights its HDD LED.
    #[must_use]
    pub fn disk_active(&self) -> bool {
        self.power == PowerState::Booting && self.boot_media.is_none()
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
        self.cursor = 0;
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
        self.cursor = 0;
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
        self.cursor = 0;
        self.touch();
    }

    pub(crate) fn power_off(&mut self) {
        self.generation += 1;
        self.power = PowerState::Off;
        self.lines.clear();
        self.floor = 0;
        self.cursor = 0;
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
            if let Some(edit) = Edit::of(event, self.decoder.layout()) {
                changed |= self.edit(edit);
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

    /// Applies one edit to the input line; `true` when the line or the cursor changed.
    fn edit(&mut self, edit: Edit) -> bool {
        if self.lines.is_empty() {
            self.lines.push(String::new());
            self.floor = 0;
            self.cursor = 0;
        }
        let last = self.lines.len() - 1;
        let line = &mut self.lines[last];
        let mut input: Vec<char> = line.chars().collect();
        let prompt: String = input.drain(..self.floor.min(input.len())).collect();
        let before = (input.clone(), self.cursor);
        let mut cursor = self.cursor.min(input.len());
        match edit {
            Edit::Insert(c) => {
                input.insert(cursor, c);
                cursor += 1;
            }
            Edit::Accept | Edit::Interrupt => {
                if edit == Edit::Interrupt {
                    line.push_str("^C");
                }
                self.lines.push(String::new());
                self.floor = 0;
                self.cursor = 0;
                return true;
            }
            Edit::DeleteBackward => {
                if cursor > 0 {
                    cursor -= 1;
                    input.remove(cursor);
                }
            }
            Edit::DeleteForward => {
                if cursor < input.len() {
                    input.remove(cursor);
                }
            }
            Edit::Left => cursor = cursor.saturating_sub(1),
            Edit::Right => cursor = (cursor + 1).min(input.len()),
            Edit::Home => cursor = 0,
            Edit::End => cursor = input.len(),
            Edit::KillToStart => {
                input.drain(..cursor);
                cursor = 0;
            }
            Edit::KillToEnd => input.truncate(cursor),
            Edit::KillWordBackward => {
                // readline's `whitespace()`: space and tab only.
                let blank = |c: char| c == ' ' || c == '\t';
                let mut start = cursor;
                while start > 0 && blank(input[start - 1]) {
                    start -= 1;
                }
                while start > 0 && !blank(input[start - 1]) {
                    start -= 1;
                }
                input.drain(start..cursor);
                cursor = start;
            }
        }
        if input == before.0 && cursor == before.1 {
            return false;
        }
        *line = prompt;
        line.extend(input);
        self.cursor = cursor;
        true
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

/// What one decoded key press does to the input line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Edit {
    /// Insert a character at the cursor.
    Insert(char),
    /// Enter: start a new line.
    Accept,
    /// Ctrl+C: show `^C`, then start a new line.
    Interrupt,
    /// Delete the character before the cursor.
    DeleteBackward,
    /// Delete the character at the cursor.
    DeleteForward,
    Left,
    Right,
    Home,
    End,
    /// Delete from the start of the input to the cursor.
    KillToStart,
    /// Delete from the cursor to the end of the input.
    KillToEnd,
    /// Delete the blanks before the cursor, then the word before them.
    KillWordBackward,
}

impl Edit {
    /// The edit a decoded key press makes on a target using `layout`, if any.
    fn of(event: Decoded, layout: Layout) -> Option<Self> {
        match event {
            Decoded::Text('\n') => Some(Self::Accept),
            Decoded::Text(c) => Some(Self::Insert(c)),
            Decoded::Backspace => Some(Self::DeleteBackward),
            Decoded::Key(chord) => Self::of_chord(&chord, layout),
        }
    }

    fn of_chord(chord: &Chord, layout: Layout) -> Option<Self> {
        let [key] = chord.keys()[..] else {
            return None;
        };
        let modifiers = chord.modifiers();
        if modifiers.is_empty() {
            return match key {
                Keycode::ARROW_LEFT => Some(Self::Left),
                Keycode::ARROW_RIGHT => Some(Self::Right),
                Keycode::HOME => Some(Self::Home),
                Keycode::END => Some(Self::End),
                Keycode::DELETE => Some(Self::DeleteForward),
                _ => None,
            };
        }
        let not_control = Modifiers::LEFT_ALT
            | Modifiers::RIGHT_ALT
            | Modifiers::LEFT_META
            | Modifiers::RIGHT_META;
        if !modifiers.ctrl() || modifiers.intersects(not_control) {
            return None;
        }
        match control_letter(key, layout)? {
            'a' => Some(Self::Home),
            'b' => Some(Self::Left),
            'c' => Some(Self::Interrupt),
            'd' => Some(Self::DeleteForward),
            'e' => Some(Self::End),
            'f' => Some(Self::Right),
            'h' => Some(Self::DeleteBackward),
            'j' | 'm' => Some(Self::Accept),
            'k' => Some(Self::KillToEnd),
            'u' => Some(Self::KillToStart),
            'w' => Some(Self::KillWordBackward),
            _ => None,
        }
    }
}

/// The lower-cased character `key` types on its own in `layout`, if it types exactly one
/// (a dead key or a non-character key types none).
fn control_letter(key: Keycode, layout: Layout) -> Option<char> {
    let events = Decoder::new(layout).feed(&KeyboardReport::single(Modifiers::NONE, Some(key)));
    let [Decoded::Text(c)] = events[..] else {
        return None;
    };
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => Some(l),
        _ => None,
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

    /// One step of an editing script.
    #[derive(Clone, Copy)]
    enum Step {
        /// Type this text (encoded for the machine's layout).
        Type(&'static str),
        /// Tap these chords, written as for `KeySequence::parse`.
        Keys(&'static str),
    }
    use Step::{Keys, Type};

    /// Feeds `steps` to `m` as the device would send them: each stroke or chord pressed,
    /// then released.
    fn run(m: &mut MachineState, steps: &[Step]) {
        let layout = m.decoder.layout();
        for step in steps {
            let reports = match *step {
                Type(text) => nanokvm_hid::reports(&nanokvm_hid::encode(text, layout).unwrap()),
                Keys(keys) => nanokvm_hid::KeySequence::parse(keys).unwrap().reports(),
            };
            for report in reports {
                m.keyboard(&report);
            }
        }
    }

    const PROMPT: &str = "target login: ";

    #[test]
    fn editing_keys_follow_readline_emacs_defaults() {
        // (what, script, input line after it, cursor after it)
        let cases: &[(&str, &[Step], &str, usize)] = &[
            ("typing appends", &[Type("hello")], "hello", 5),
            (
                "text is inserted at the cursor",
                &[Type("ac"), Keys("left"), Type("b")],
                "abc",
                2,
            ),
            ("tab is inserted as text", &[Type("a\tb")], "a\tb", 3),
            ("backspace", &[Type("abc"), Keys("left backspace")], "ac", 1),
            (
                "ctrl+h is backspace",
                &[Type("abc"), Keys("ctrl+h")],
                "ab",
                2,
            ),
            (
                "backspace at the start",
                &[Type("ab"), Keys("home backspace")],
                "ab",
                0,
            ),
            ("delete", &[Type("abc"), Keys("home delete")], "bc", 0),
            (
                "ctrl+d deletes at the cursor",
                &[Type("abc"), Keys("ctrl+b ctrl+d")],
                "ab",
                2,
            ),
            (
                "delete at the end",
                &[Type("abc"), Keys("delete")],
                "abc",
                3,
            ),
            ("ctrl+d on an empty input", &[Keys("ctrl+d")], "", 0),
            (
                "left and right",
                &[Type("abc"), Keys("left left right")],
                "abc",
                2,
            ),
            (
                "left stops at the start",
                &[Type("ab"), Keys("left left left")],
                "ab",
                0,
            ),
            (
                "right stops at the end",
                &[Type("ab"), Keys("right")],
                "ab",
                2,
            ),
            (
                "ctrl+b and ctrl+f",
                &[Type("abc"), Keys("ctrl+b ctrl+b ctrl+f")],
                "abc",
                2,
            ),
            (
                "home and end",
                &[Type("abc"), Keys("home"), Type("x"), Keys("end"), Type("y")],
                "xabcy",
                5,
            ),
            (
                "ctrl+a and ctrl+e",
                &[
                    Type("abc"),
                    Keys("ctrl+a"),
                    Type("x"),
                    Keys("ctrl+e"),
                    Type("y"),
                ],
                "xabcy",
                5,
            ),
            ("ctrl+u at the end", &[Type("ls -l"), Keys("ctrl+u")], "", 0),
            (
                "ctrl+u in the middle keeps the tail",
                &[Type("echo hi"), Keys("left left ctrl+u")],
                "hi",
                0,
            ),
            (
                "ctrl+shift+u is ctrl+u",
                &[Type("echo hi"), Keys("left left ctrl+shift+u")],
                "hi",
                0,
            ),
            (
                "right ctrl+u is ctrl+u",
                &[Type("echo hi"), Keys("rctrl+u")],
                "",
                0,
            ),
            (
                "ctrl+alt+u does nothing",
                &[Type("echo hi"), Keys("ctrl+alt+u")],
                "echo hi",
                7,
            ),
            (
                "ctrl+meta+u does nothing",
                &[Type("echo hi"), Keys("ctrl+win+u")],
                "echo hi",
                7,
            ),
            (
                "ctrl+k",
                &[Type("echo hi"), Keys("ctrl+a right ctrl+k")],
                "e",
                1,
            ),
            (
                "ctrl+w deletes the last word",
                &[Type("echo foo bar"), Keys("ctrl+w")],
                "echo foo ",
                9,
            ),
            (
                "ctrl+w deletes blanks then a word",
                &[Type("echo foo  \t "), Keys("ctrl+w")],
                "echo ",
                5,
            ),
            (
                "ctrl+w keeps the tail",
                &[Type("cp a/b-c d"), Keys("left left ctrl+w")],
                "cp  d",
                3,
            ),
            (
                "ctrl+w at the start",
                &[Type("abc"), Keys("home ctrl+w")],
                "abc",
                0,
            ),
            (
                "ctrl+w treats punctuation as part of a word",
                &[Type("rm -rf /tmp/x"), Keys("ctrl+w ctrl+w")],
                "rm ",
                3,
            ),
            (
                "enter starts a new line",
                &[Type("ab"), Keys("left enter")],
                "",
                0,
            ),
            ("keypad enter", &[Type("ab"), Keys("numpadenter")], "", 0),
            (
                "ctrl+m is enter",
                &[Type("ab"), Keys("ctrl+m"), Type("c")],
                "c",
                1,
            ),
            ("ctrl+j is enter", &[Type("ab"), Keys("ctrl+j")], "", 0),
            (
                "ctrl+c abandons the line",
                &[Type("ab"), Keys("left ctrl+c")],
                "",
                0,
            ),
            (
                "up and down do nothing",
                &[Type("ab"), Keys("left up down")],
                "ab",
                1,
            ),
            (
                "modified arrows do nothing",
                &[
                    Type("ab"),
                    Keys("ctrl+left shift+home alt+end shift+delete"),
                ],
                "ab",
                2,
            ),
            (
                "function keys and escape do nothing",
                &[Type("ab"), Keys("f1 escape pageup insert")],
                "ab",
                2,
            ),
            (
                "other ctrl+letters do nothing",
                &[Type("ab"), Keys("ctrl+l ctrl+y ctrl+t ctrl+q")],
                "ab",
                2,
            ),
            (
                "ctrl+enter does nothing",
                &[Type("ab"), Keys("ctrl+enter")],
                "ab",
                2,
            ),
        ];
        for (what, script, input, cursor) in cases {
            let mut m = MachineState::new(Layout::Us, 640, 480, true);
            run(&mut m, script);
            assert_eq!(
                (m.input_line().as_str(), m.cursor()),
                (*input, *cursor),
                "{what}"
            );
            let last = m.lines().last().unwrap();
            assert!(last.ends_with(input), "{what}: the screen shows {last:?}");
        }
    }

    #[test]
    fn enter_and_ctrl_c_leave_the_line_on_screen() {
        let mut m = MachineState::new(Layout::Us, 640, 480, true);
        run(&mut m, &[Type("root"), Keys("home enter")]);
        run(&mut m, &[Type("rm -rf /"), Keys("ctrl+a ctrl+c")]);
        run(&mut m, &[Type("ls"), Keys("ctrl+a")]);
        let tail = &m.lines()[m.lines().len() - 3..];
        assert_eq!(
            tail,
            [
                format!("{PROMPT}root"),
                "rm -rf /^C".to_owned(),
                "ls".to_owned()
            ]
        );
        assert_eq!((m.input_line(), m.cursor()), ("ls".to_owned(), 0));
    }

    #[test]
    fn backspace_never_eats_the_prompt() {
        let mut m = MachineState::new(Layout::Us, 640, 480, true);
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
        let version = m.screen_version();
        run(&mut m, &[Keys("backspace ctrl+h ctrl+w ctrl+u left home")]);
        assert_eq!(m.lines().last().unwrap(), PROMPT);
        assert_eq!(
            m.screen_version(),
            version,
            "nothing changed, nothing redrawn"
        );
        run(
            &mut m,
            &[Type("ab"), Keys("home ctrl+w backspace end ctrl+w")],
        );
        assert_eq!(m.lines().last().unwrap(), PROMPT);
        run(
            &mut m,
            &[Type("xy"), Keys("backspace backspace backspace backspace")],
        );
        assert_eq!(m.lines().last().unwrap(), PROMPT);
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
    }

    #[test]
    fn ctrl_letters_follow_the_target_layout() {
        let mut m = MachineState::new(Layout::Fr, 640, 480, true);
        // On AZERTY, usage 0x14 (QWERTY's Q) is the A key: Ctrl+A goes to the start.
        run(&mut m, &[Type("abc"), Keys("ctrl+0x14")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc", 0));
        // Usage 0x04 (QWERTY's A) types q there: Ctrl+Q is not bound.
        run(&mut m, &[Keys("end ctrl+0x04")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc", 3));
        // Usage 0x1A (QWERTY's W) is Z on AZERTY; W is usage 0x1D.
        run(&mut m, &[Type(" de"), Keys("ctrl+0x1a")]);
        assert_eq!(m.input_line(), "abc de");
        run(&mut m, &[Keys("ctrl+0x1d")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc ", 4));
        // A dead key types no letter, so Ctrl with it does nothing.
        run(&mut m, &[Keys("ctrl+0x2f")]);
        assert_eq!(m.input_line(), "abc ");
        // Editing counts characters, not bytes.
        run(&mut m, &[Type("éàx"), Keys("left backspace")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc éx", 5));
    }

    #[test]
    fn a_machine_that_is_not_on_has_no_input_line() {
        let mut m = MachineState::new(Layout::Us, 640, 480, true);
        run(&mut m, &[Type("abc"), Keys("left")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc", 2));
        m.start_shutdown();
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
        m.power_off();
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
        m.start_boot(None);
        run(&mut m, &[Type("abc")]);
        assert_eq!(m.input_line(), "");
        m.finish_boot();
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
        run(&mut m, &[Type("x")]);
        assert_eq!(m.lines().last().unwrap(), &format!("{PROMPT}x"));
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
