//! Rebuilding the line being typed on each device, for keystroke filters.
//!
//! An agent can split `rm -rf /` over many typing calls; the command only runs when Enter
//! is pressed. So the engine keeps, per device, the line as the target's shell would hold
//! it, and checks the `keystrokes.deny` patterns whenever a commit key would be sent.
//!
//! Key events are decoded with [`nanokvm_hid::Decoder`] for the device's layout, so Shift,
//! Caps Lock, AltGr and dead keys give the characters the target sees. The line editing
//! follows readline's defaults: printable characters insert at the cursor; Backspace
//! (and Ctrl-H) deletes before it; Delete (and Ctrl-D) at it; Left, Right, Home, End,
//! Ctrl-A, Ctrl-E, Ctrl-B and Ctrl-F move it; Ctrl-U, Ctrl-C clear the line; Ctrl-K
//! deletes to the end and Ctrl-W the word before the cursor; Ctrl-M and Ctrl-J are Enter.
//! Keys whose effect on the line cannot be known (history, completion) leave it as is.
//!
//! A call is simulated on a copy of the state; the copy replaces the device's state only
//! when the call goes ahead, so a refused call types nothing.

use nanokvm_hid::{Chord, Decoded, Decoder, Keycode, Layout, Modifiers, Stroke};
use serde_json::Value;

use crate::policy::Keystrokes;

/// How a typing tool gives its input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Typing {
    /// `{"text": "..."}`: every character typed, `\n` is Enter.
    Text,
    /// `{"key": "...", "ctrl", "shift", "alt", "meta"}`: one key, possibly a chord.
    Key,
}

/// The typing tools the engine knows, by action name.
pub(crate) fn typing(tool: &str) -> Option<Typing> {
    match tool {
        "nanokvm_send_text" | "nanokvm_type_text" => Some(Typing::Text),
        "nanokvm_send_key" => Some(Typing::Key),
        _ => None,
    }
}

/// The line being typed on one device, and the decoder state behind it.
#[derive(Clone, Debug)]
pub(crate) struct LineState {
    chars: Vec<char>,
    cursor: usize,
    decoder: Decoder,
}

impl LineState {
    pub(crate) fn new(layout: Layout) -> Self {
        Self {
            chars: Vec::new(),
            cursor: 0,
            decoder: Decoder::new(layout),
        }
    }

    /// The current line.
    pub(crate) fn line(&self) -> String {
        self.chars.iter().collect()
    }

    pub(crate) fn layout(&self) -> Layout {
        self.decoder.layout()
    }

    fn clear(&mut self) {
        self.chars.clear();
        self.cursor = 0;
    }

    fn insert(&mut self, c: char) {
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
    }

    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    fn delete_word(&mut self) {
        while self.cursor > 0 && self.chars[self.cursor - 1].is_whitespace() {
            self.backspace();
        }
        while self.cursor > 0 && !self.chars[self.cursor - 1].is_whitespace() {
            self.backspace();
        }
    }
}

/// The result of simulating one call on a device's line.
#[derive(Debug)]
pub(crate) struct Simulation {
    /// The state after the call, if it goes ahead.
    pub(crate) state: LineState,
    /// The first deny pattern that matched at a commit, by index.
    pub(crate) denied_by: Option<usize>,
}

/// Simulates a typing call on a copy of `state`.
pub(crate) fn simulate(
    filter: &Keystrokes,
    state: &LineState,
    kind: Typing,
    args: &Value,
) -> Simulation {
    let mut sim = Simulator {
        filter,
        state: state.clone(),
        denied_by: None,
    };
    match kind {
        Typing::Text => {
            if let Some(text) = args.get("text").and_then(Value::as_str) {
                sim.text(text);
            }
        }
        Typing::Key => sim.key(args),
    }
    Simulation {
        state: sim.state,
        denied_by: sim.denied_by,
    }
}

struct Simulator<'a> {
    filter: &'a Keystrokes,
    state: LineState,
    denied_by: Option<usize>,
}

impl Simulator<'_> {
    /// Checks the line as a commit key is pressed, then clears it as the shell consumes
    /// it. On a match the caller refuses the whole call and drops this simulated state,
    /// so the device's line stays as it was; in shadow mode the call goes ahead and the
    /// cleared line is the truth.
    fn commit(&mut self) {
        let line = self.state.line();
        if let Some(i) = self.filter.deny.iter().position(|re| re.is_match(&line)) {
            self.denied_by.get_or_insert(i);
        }
        self.state.clear();
    }

    fn is_commit(&self, chord: &Chord) -> bool {
        let enter = self.filter.commit_keys.contains(&Keycode::ENTER);
        chord
            .keys()
            .iter()
            .any(|k| self.filter.commit_keys.contains(k) || (enter && *k == Keycode::NUMPAD_ENTER))
            || (enter
                && chord.modifiers().ctrl()
                && matches!(self.ctrl_letter(chord), Some('m' | 'j')))
    }

    /// The letter a Ctrl chord's key types on its own in this layout, lowercased.
    fn ctrl_letter(&self, chord: &Chord) -> Option<char> {
        let keys = chord.keys();
        let [key] = keys.as_slice() else {
            return None;
        };
        nanokvm_hid::decode(&[Stroke::new(Modifiers::NONE, *key)], self.state.layout())
            .chars()
            .next()
            .map(|c| c.to_ascii_lowercase())
    }

    /// Presses a chord: either a commit, or its decoded events edit the line.
    fn chord(&mut self, chord: &Chord) {
        let commit = self.is_commit(chord);
        let mut events = Vec::new();
        for report in chord.reports() {
            self.state.decoder.feed_into(&report, &mut events);
        }
        if commit {
            self.commit();
            return;
        }
        for event in events {
            self.event(event);
        }
    }

    fn event(&mut self, event: Decoded) {
        match event {
            Decoded::Text(c) => self.state.insert(c),
            Decoded::Backspace => self.state.backspace(),
            Decoded::Key(chord) => self.edit(&chord),
        }
    }

    /// Line-editing keys that type nothing.
    fn edit(&mut self, chord: &Chord) {
        let keys = chord.keys();
        let [key] = keys.as_slice() else {
            return;
        };
        if chord.modifiers().ctrl() {
            let letter = self.ctrl_letter(chord);
            match letter {
                Some('u' | 'c') => self.state.clear(),
                Some('a') => self.state.cursor = 0,
                Some('e') => self.state.cursor = self.state.chars.len(),
                Some('b') => self.state.cursor = self.state.cursor.saturating_sub(1),
                Some('f') => {
                    self.state.cursor = (self.state.cursor + 1).min(self.state.chars.len());
                }
                Some('h') => self.state.backspace(),
                Some('d') => self.state.delete(),
                Some('k') => self.state.chars.truncate(self.state.cursor),
                Some('w') => self.state.delete_word(),
                _ => {}
            }
            return;
        }
        let state = &mut self.state;
        match *key {
            Keycode::HOME => state.cursor = 0,
            Keycode::END => state.cursor = state.chars.len(),
            Keycode::ARROW_LEFT => state.cursor = state.cursor.saturating_sub(1),
            Keycode::ARROW_RIGHT => state.cursor = (state.cursor + 1).min(state.chars.len()),
            Keycode::DELETE => state.delete(),
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        let layout = self.state.layout();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\r' && chars.peek() == Some(&'\n') {
                continue;
            }
            if c == '\n' || c == '\r' {
                self.chord(&Chord::key(Keycode::ENTER));
                continue;
            }
            match layout.strokes(c) {
                Some(strokes) => {
                    for stroke in strokes {
                        let chord = Chord::new(stroke.modifiers, &[stroke.key])
                            .unwrap_or_else(|_| Chord::key(stroke.key));
                        self.chord(&chord);
                    }
                }
                // The layout cannot type it; count it as typed all the same, so that a
                // pattern sees at least as much as the target could.
                None => self.state.insert(c),
            }
        }
    }

    fn key(&mut self, args: &Value) {
        let Some(name) = args.get("key").and_then(Value::as_str) else {
            return;
        };
        let flag = |f: &str| args.get(f).and_then(Value::as_bool).unwrap_or(false);
        let flags = [flag("ctrl"), flag("shift"), flag("alt"), flag("meta")];
        let chord = key_chord(name, flags, self.state.layout());
        match chord {
            Some(chord) => self.chord(&chord),
            // A key the engine cannot interpret might be a commit on the far side: check
            // the line as for a commit, but leave it as it is.
            None => {
                let line = self.state.line();
                if let Some(i) = self.filter.deny.iter().position(|re| re.is_match(&line)) {
                    self.denied_by.get_or_insert(i);
                }
            }
        }
    }
}

/// The chord a `nanokvm_send_key` call presses: `name` as a key name or chord
/// (`enter`, `ctrl+c`), or else a single character typed by its key in `layout`, with
/// the `[ctrl, shift, alt, meta]` flags added. `None` when nothing fits. The gate runs
/// exactly this chord, so what the filter checks is what is typed.
pub(crate) fn key_chord(name: &str, flags: [bool; 4], layout: Layout) -> Option<Chord> {
    let mut modifiers = Modifiers::NONE;
    for (on, bit) in flags.into_iter().zip([
        Modifiers::LEFT_CTRL,
        Modifiers::LEFT_SHIFT,
        Modifiers::LEFT_ALT,
        Modifiers::LEFT_META,
    ]) {
        if on {
            modifiers |= bit;
        }
    }
    let parsed = Chord::parse(name).ok().or_else(|| {
        // A single character the key table does not name (`/`, `é`): the key that types
        // it in this layout.
        let mut chars = name.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return None;
        };
        let stroke = layout.strokes(c)?.last()?;
        Chord::new(stroke.modifiers, &[stroke.key]).ok()
    });
    parsed.and_then(|chord| Chord::new(chord.modifiers() | modifiers, &chord.keys()).ok())
}
