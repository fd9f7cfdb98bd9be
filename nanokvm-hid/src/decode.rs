//! Keyboard reports back to text: what the target machine would see.
//!
//! A [`Decoder`] follows a stream of reports the way the target's operating system does
//! for one layout: it notices newly pressed keys, applies Shift, AltGr and Caps Lock,
//! composes dead keys, and tells text apart from shortcuts and editing keys. The
//! simulator uses it to draw what is typed, and the policy gate to rebuild the line being
//! typed.
//!
//! Dead keys follow the target's system:
//!
//! - Windows: a dead key then Space types the accent itself; a dead key then a letter it
//!   does not compose with types both; two dead keys type both accents; Backspace cancels
//!   a pending dead key.
//! - Linux: keys are collected as libX11's input method collects them, until they form a
//!   sequence of its Compose table, whose result is typed (a dead key then Space may type
//!   something else than the accent: dead ´ then Space is `'`). A key that does not
//!   continue any sequence ends it and is dropped with it, whether it types a character or
//!   not (Backspace, Enter, an arrow key). Modifiers, Caps Lock and Num Lock do not end a
//!   sequence.
//!
//! On both systems a shortcut (a key with Ctrl, Alt or the Windows key held) cancels a
//! pending dead key and is reported as a key.

use crate::chord::Chord;
use crate::encode::Stroke;
use crate::keyboard::KeyboardReport;
use crate::keycode::Keycode;
use crate::layout::compose::{Compose, MAX_KEYS, Step};
use crate::layout::table::{KeyTable, Symbol};
use crate::layout::{Keymap, Layout};
use crate::modifiers::Modifiers;

/// One thing the target machine sees when a key goes down.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decoded {
    /// A character typed, including `'\n'` for Enter and `'\t'` for Tab.
    Text(char),
    /// Backspace: the previous character is deleted.
    Backspace,
    /// Any other key press: a shortcut (`Ctrl+C`), a navigation or function key, or a
    /// key that types nothing at the current level. Carries the modifiers held.
    Key(Chord),
}

/// Turns keyboard reports into [`Decoded`] events for one keymap.
#[derive(Clone, Debug)]
pub struct Decoder {
    keymap: Keymap,
    previous: KeyboardReport,
    pending: Pending,
    caps_lock: bool,
}

/// The dead keys pressed so far that wait for the keys completing them.
#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    dead: [char; MAX_KEYS - 1],
    len: usize,
}

impl Pending {
    fn first(&self) -> Option<char> {
        (self.len > 0).then_some(self.dead[0])
    }

    fn start(dead: char) -> Self {
        Self {
            dead: [dead; MAX_KEYS - 1],
            len: 1,
        }
    }

    fn take(&mut self) -> Option<char> {
        let first = self.first();
        self.len = 0;
        first
    }

    /// The pending keys followed by `next`, as a Compose sequence.
    fn then(&self, next: Symbol) -> ([Symbol; MAX_KEYS], usize) {
        let mut keys = [next; MAX_KEYS];
        for (key, &dead) in keys.iter_mut().zip(&self.dead[..self.len]) {
            *key = Symbol::Dead(dead);
        }
        keys[self.len] = next;
        (keys, self.len + 1)
    }
}

impl Decoder {
    /// A decoder for a keymap, with no key held, no dead key pending and Caps Lock off.
    ///
    /// A bare [`Layout`] is the layout as Windows reads it; [`Layout::on`] names another
    /// system.
    #[must_use]
    pub fn new(keymap: impl Into<Keymap>) -> Self {
        Self {
            keymap: keymap.into(),
            previous: KeyboardReport::RELEASE,
            pending: Pending::default(),
            caps_lock: false,
        }
    }

    /// The layout decoded for.
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.keymap.layout
    }

    /// The keymap decoded for: the layout and the target's system.
    #[must_use]
    pub fn keymap(&self) -> Keymap {
        self.keymap
    }

    /// Whether Caps Lock is on, as toggled by Caps Lock presses seen so far.
    #[must_use]
    pub fn caps_lock(&self) -> bool {
        self.caps_lock
    }

    /// Sets the Caps Lock state, for example from the host's LED report.
    pub fn set_caps_lock(&mut self, on: bool) {
        self.caps_lock = on;
    }

    /// The dead key waiting for its next key, if any (the first one, when several wait
    /// for the end of a longer Linux sequence).
    #[must_use]
    pub fn pending_dead_key(&self) -> Option<char> {
        self.pending.first()
    }

    /// Forgets held keys and any pending dead key (for example after the connection to
    /// the device dropped and the firmware released everything).
    pub fn reset(&mut self) {
        self.previous = KeyboardReport::RELEASE;
        self.pending = Pending::default();
    }

    /// Feeds one report and returns what the newly pressed keys produce.
    pub fn feed(&mut self, report: &KeyboardReport) -> Vec<Decoded> {
        let mut events = Vec::new();
        self.feed_into(report, &mut events);
        events
    }

    /// Feeds one report and appends what the newly pressed keys produce to `events`, so a
    /// caller decoding a long stream can reuse one buffer.
    pub fn feed_into(&mut self, report: &KeyboardReport, events: &mut Vec<Decoded>) {
        let table = self.keymap.table();
        for key in report.keys() {
            if !self.previous.is_pressed(key) {
                self.press(table, report.modifiers(), key, events);
            }
        }
        self.previous = *report;
    }

    /// Feeds a stroke's press and release reports.
    pub fn feed_stroke(&mut self, stroke: &Stroke) -> Vec<Decoded> {
        let mut events = Vec::new();
        for report in stroke.reports() {
            self.feed_into(&report, &mut events);
        }
        events
    }

    fn press(
        &mut self,
        table: &KeyTable,
        modifiers: Modifiers,
        key: Keycode,
        out: &mut Vec<Decoded>,
    ) {
        let altgr = table.has_altgr() && modifiers.contains(Modifiers::ALT_GR);
        let shortcut = modifiers.ctrl()
            || modifiers.meta()
            || modifiers.contains(Modifiers::LEFT_ALT)
            || (modifiers.contains(Modifiers::RIGHT_ALT) && !altgr);
        if key == Keycode::CAPS_LOCK {
            self.caps_lock = !self.caps_lock;
        }
        if shortcut {
            self.pending.take();
            out.push(Decoded::Key(chord(modifiers, key)));
            return;
        }
        let symbol = table.typed(key, modifiers.shift(), altgr, self.caps_lock);
        match table.sequences() {
            None => self.press_windows(table, (modifiers, key), symbol, out),
            Some(compose) => self.press_linux(compose, (modifiers, key), symbol, out),
        }
    }

    fn press_windows(
        &mut self,
        table: &KeyTable,
        (modifiers, key): (Modifiers, Keycode),
        symbol: Option<Symbol>,
        out: &mut Vec<Decoded>,
    ) {
        if key == Keycode::BACKSPACE {
            if self.pending.take().is_none() {
                out.push(Decoded::Backspace);
            }
            return;
        }
        match symbol {
            Some(Symbol::Char(c)) => match self.pending.take() {
                None => out.push(Decoded::Text(c)),
                Some(dead) if key == Keycode::SPACE => out.push(Decoded::Text(dead)),
                Some(dead) => match table.compose(dead, c) {
                    Some(composed) => out.push(Decoded::Text(composed)),
                    None => out.extend([Decoded::Text(dead), Decoded::Text(c)]),
                },
            },
            Some(Symbol::Dead(dead)) => match self.pending.take() {
                None => self.pending = Pending::start(dead),
                Some(first) => out.extend([Decoded::Text(first), Decoded::Text(dead)]),
            },
            None => {
                self.pending.take();
                out.push(Decoded::Key(chord(modifiers, key)));
            }
        }
    }

    fn press_linux(
        &mut self,
        compose: &Compose,
        (modifiers, key): (Modifiers, Keycode),
        symbol: Option<Symbol>,
        out: &mut Vec<Decoded>,
    ) {
        // The input method lets modifiers and lock keys through without ending a sequence.
        let passes = key.is_modifier() || key == Keycode::CAPS_LOCK || key == Keycode::NUM_LOCK;
        if self.pending.len == 0 || passes {
            match symbol {
                Some(Symbol::Char(c)) => out.push(Decoded::Text(c)),
                Some(Symbol::Dead(dead)) => {
                    // A dead key that starts no sequence does nothing at all.
                    if compose.starts_with(dead) {
                        self.pending = Pending::start(dead);
                    }
                }
                None if key == Keycode::BACKSPACE => out.push(Decoded::Backspace),
                None => out.push(Decoded::Key(chord(modifiers, key))),
            }
            return;
        }
        let step = symbol.and_then(|symbol| {
            let (keys, len) = self.pending.then(symbol);
            compose.step(&keys[..len]).map(|step| (symbol, step))
        });
        match step {
            Some((_, Step::Done(text))) => {
                self.pending.take();
                out.extend(text.chars().map(Decoded::Text));
            }
            Some((Symbol::Dead(dead), Step::More)) if self.pending.len < MAX_KEYS - 1 => {
                self.pending.dead[self.pending.len] = dead;
                self.pending.len += 1;
            }
            // The sequence cannot be completed any more: it is dropped, with this key.
            _ => {
                self.pending.take();
            }
        }
    }
}

fn chord(modifiers: Modifiers, key: Keycode) -> Chord {
    // One non-modifier key always fits in a chord.
    Chord::new(modifiers, &[key]).unwrap_or_else(|_| Chord::key(key))
}

/// Applies decoded events to a text: characters are appended, Backspace deletes the last
/// character, other keys change nothing.
pub fn apply(text: &mut String, events: impl IntoIterator<Item = Decoded>) {
    for event in events {
        match event {
            Decoded::Text(c) => text.push(c),
            Decoded::Backspace => {
                text.pop();
            }
            Decoded::Key(_) => {}
        }
    }
}

/// The text that `strokes` type on a target using a keymap (a bare [`Layout`] is the
/// layout as Windows reads it).
///
/// # Example
///
/// ```
/// use nanokvm_hid::{decode, encode, Layout, TargetOs};
///
/// let strokes = encode("Grüße, Zoé!", Layout::De).unwrap();
/// assert_eq!(decode(&strokes, Layout::De), "Grüße, Zoé!");
/// // The same key positions read as US English:
/// assert_eq!(decode(&strokes, Layout::Us), "Gr[-e, Yo=e!");
/// // Czech Windows has a dead ^ on AltGr+3, where Linux types #:
/// let hash = encode("#", Layout::Cz.on(TargetOs::Linux)).unwrap();
/// assert_eq!(decode(&hash, Layout::Cz.on(TargetOs::Linux)), "#");
/// assert_eq!(decode(&hash, Layout::Cz), "");
/// ```
#[must_use]
pub fn decode(strokes: &[Stroke], keymap: impl Into<Keymap>) -> String {
    let mut decoder = Decoder::new(keymap);
    let mut text = String::with_capacity(strokes.len());
    let mut events = Vec::new();
    for report in strokes.iter().flat_map(Stroke::reports) {
        decoder.feed_into(&report, &mut events);
        apply(&mut text, events.drain(..));
    }
    text
}

/// The text that a report stream types on a target using a keymap (a bare [`Layout`] is
/// the layout as Windows reads it).
#[must_use]
pub fn decode_reports(reports: &[KeyboardReport], keymap: impl Into<Keymap>) -> String {
    let mut decoder = Decoder::new(keymap);
    let mut text = String::new();
    let mut events = Vec::new();
    for report in reports {
        decoder.feed_into(report, &mut events);
        apply(&mut text, events.drain(..));
    }
    text
}
