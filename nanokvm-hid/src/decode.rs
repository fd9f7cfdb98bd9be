//! Keyboard reports back to text: what the target machine would see.
//!
//! A [`Decoder`] follows a stream of reports the way the target's operating system does
//! for one layout: it notices newly pressed keys, applies Shift, AltGr and Caps Lock,
//! composes dead keys, and tells text apart from shortcuts and editing keys. The
//! simulator uses it to draw what is typed, and the policy gate to rebuild the line being
//! typed.
//!
//! Dead keys follow Windows: a dead key then Space types the accent itself; a dead key
//! then a letter it does not compose with types both; two dead keys type both accents;
//! Backspace cancels a pending dead key.

use crate::chord::Chord;
use crate::encode::Stroke;
use crate::keyboard::KeyboardReport;
use crate::keycode::Keycode;
use crate::layout::Layout;
use crate::layout::table::{KeyTable, Symbol};
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

/// Turns keyboard reports into [`Decoded`] events for one layout.
#[derive(Clone, Debug)]
pub struct Decoder {
    layout: Layout,
    previous: KeyboardReport,
    pending_dead: Option<char>,
    caps_lock: bool,
}

impl Decoder {
    /// A decoder for `layout`, with no key held, no dead key pending and Caps Lock off.
    #[must_use]
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            previous: KeyboardReport::RELEASE,
            pending_dead: None,
            caps_lock: false,
        }
    }

    /// The layout decoded for.
    #[must_use]
    pub fn layout(&self) -> Layout {
        self.layout
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

    /// The dead key waiting for its next key, if any.
    #[must_use]
    pub fn pending_dead_key(&self) -> Option<char> {
        self.pending_dead
    }

    /// Forgets held keys and any pending dead key (for example after the connection to
    /// the device dropped and the firmware released everything).
    pub fn reset(&mut self) {
        self.previous = KeyboardReport::RELEASE;
        self.pending_dead = None;
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
        let table = self.layout.table();
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
            self.pending_dead = None;
            out.push(Decoded::Key(chord(modifiers, key)));
            return;
        }
        if key == Keycode::BACKSPACE {
            if self.pending_dead.take().is_none() {
                out.push(Decoded::Backspace);
            }
            return;
        }
        let mut shift = modifiers.shift();
        if self.caps_lock && !altgr && table.caps_affects(key) {
            shift = !shift;
        }
        let level = usize::from(shift) + 2 * usize::from(altgr);
        match table.symbol(key, level) {
            Some(Symbol::Char(c)) => match self.pending_dead.take() {
                None => out.push(Decoded::Text(c)),
                Some(dead) if key == Keycode::SPACE => out.push(Decoded::Text(dead)),
                Some(dead) => match table.compose(dead, c) {
                    Some(composed) => out.push(Decoded::Text(composed)),
                    None => out.extend([Decoded::Text(dead), Decoded::Text(c)]),
                },
            },
            Some(Symbol::Dead(dead)) => match self.pending_dead.take() {
                None => self.pending_dead = Some(dead),
                Some(first) => out.extend([Decoded::Text(first), Decoded::Text(dead)]),
            },
            None => {
                self.pending_dead = None;
                out.push(Decoded::Key(chord(modifiers, key)));
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

/// The text that `strokes` type on a target using `layout`.
///
/// # Example
///
/// ```
/// use nanokvm_hid::{decode, encode, Layout};
///
/// let strokes = encode("Grüße, Zoé!", Layout::De).unwrap();
/// assert_eq!(decode(&strokes, Layout::De), "Grüße, Zoé!");
/// // The same key positions read as US English:
/// assert_eq!(decode(&strokes, Layout::Us), "Gr[-e, Yo=e!");
/// ```
#[must_use]
pub fn decode(strokes: &[Stroke], layout: Layout) -> String {
    let mut decoder = Decoder::new(layout);
    let mut text = String::with_capacity(strokes.len());
    let mut events = Vec::new();
    for report in strokes.iter().flat_map(Stroke::reports) {
        decoder.feed_into(&report, &mut events);
        apply(&mut text, events.drain(..));
    }
    text
}

/// The text that a report stream types on a target using `layout`.
#[must_use]
pub fn decode_reports(reports: &[KeyboardReport], layout: Layout) -> String {
    let mut decoder = Decoder::new(layout);
    let mut text = String::new();
    let mut events = Vec::new();
    for report in reports {
        decoder.feed_into(report, &mut events);
        apply(&mut text, events.drain(..));
    }
    text
}
