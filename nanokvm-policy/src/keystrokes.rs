//! Rebuilding the line being typed on each device, for keystroke filters.
//!
//! An agent can split `rm -rf /` over many typing calls; the command only runs when Enter
//! is pressed. So the engine keeps, per device, the line as the target's shell holds it,
//! and checks the `keystrokes.deny` patterns whenever a commit key is pressed.
//!
//! The line is rebuilt from the keyboard reports the call will send (the
//! [`TypedKeys`](crate::catalogue::TypedKeys) of the action), never from its text: the
//! firmware's paste skips characters its map lacks, and a text encoded for one layout
//! types something else on a target with another, so only the reports decoded with the
//! target's layout show what the target sees. They are decoded with
//! [`nanokvm_hid::Decoder`], so Shift, Caps Lock, AltGr and dead keys give the characters
//! the target sees.
//!
//! Line editing follows GNU readline's default (emacs) bindings on a Linux console:
//! printable characters insert at the cursor; Backspace and Ctrl-H delete before it,
//! Delete and Ctrl-D at it; Left, Right, Home, End (without modifiers), Ctrl-B, Ctrl-F,
//! Ctrl-A and Ctrl-E move it; Ctrl-U deletes from the start of the line to the cursor,
//! Ctrl-K from the cursor to the end, Ctrl-W the word before the cursor; Ctrl-C
//! abandons the line; Enter, Ctrl-M and Ctrl-J end it. A Ctrl chord counts as a control
//! character with Shift held too (the console sends the same byte), but not with Alt,
//! AltGr or Meta. The letter of a Ctrl chord is the one its key types in the target's
//! layout. Keys whose effect on the line cannot be known (history, completion) leave it
//! as it is: the filter is a guard against commands typed in the clear, not a shell.
//!
//! A call is simulated on a copy of the state; the engine keeps the copy only when the
//! device accepted the call (see [`Engine::commit`](crate::Engine::commit)). When a
//! typing call may have run in part (a timeout, a lost connection), the line becomes
//! unknown, and a commit key on an unknown line is refused until Ctrl-C starts a fresh
//! one: after a partial call the target may hold any prefix of it, and refusing one
//! Enter is cheaper than guessing.

use nanokvm_hid::{Chord, Decoded, Decoder, KeyboardReport, Keycode, Keymap, Modifiers, Stroke};

use crate::policy::Keystrokes;

/// The line being typed on one device, and the decoder state behind it.
#[derive(Clone, Debug)]
pub(crate) struct LineState {
    chars: Vec<char>,
    cursor: usize,
    decoder: Decoder,
    previous: KeyboardReport,
    unknown: bool,
}

/// Why a simulated call is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineDenial {
    /// A deny pattern, by index, matched the line at a commit.
    Pattern(usize),
    /// A commit on a line that is not known.
    Unknown,
}

impl LineState {
    pub(crate) fn new(keymap: Keymap) -> Self {
        Self {
            chars: Vec::new(),
            cursor: 0,
            decoder: Decoder::new(keymap),
            previous: KeyboardReport::RELEASE,
            unknown: false,
        }
    }

    /// The current line.
    pub(crate) fn line(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor, in characters from the start of the line.
    pub(crate) fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether the line is known.
    pub(crate) fn is_known(&self) -> bool {
        !self.unknown
    }

    /// Marks the line unknown: a call may have typed any part of what it was to type.
    pub(crate) fn mark_unknown(&mut self) {
        self.unknown = true;
        // The firmware releases every key when a connection drops.
        self.previous = KeyboardReport::RELEASE;
        self.decoder.reset();
    }

    fn keymap(&self) -> Keymap {
        self.decoder.keymap()
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

    /// Readline's `unix-word-rubout`: blanks (space and tab, as readline counts them)
    /// before the cursor, then the run of other characters before those.
    fn delete_word(&mut self) {
        let blank = |c: char| c == ' ' || c == '\t';
        while self.cursor > 0 && blank(self.chars[self.cursor - 1]) {
            self.backspace();
        }
        while self.cursor > 0 && !blank(self.chars[self.cursor - 1]) {
            self.backspace();
        }
    }
}

/// The result of simulating one call on a device's line.
#[derive(Debug)]
pub(crate) struct Simulation {
    /// The state after the call, if it goes ahead.
    pub(crate) state: LineState,
    /// Why the call is refused, for the first commit that refused it.
    pub(crate) denied_by: Option<LineDenial>,
}

/// Simulates the keyboard `reports` of one call on a copy of `state`.
pub(crate) fn simulate(
    filter: &Keystrokes,
    state: &LineState,
    reports: &[KeyboardReport],
) -> Simulation {
    let mut sim = Simulator {
        filter,
        state: state.clone(),
        denied_by: None,
        events: Vec::new(),
    };
    for report in reports {
        sim.report(report);
    }
    Simulation {
        state: sim.state,
        denied_by: sim.denied_by,
    }
}

struct Simulator<'a> {
    filter: &'a Keystrokes,
    state: LineState,
    denied_by: Option<LineDenial>,
    events: Vec<Decoded>,
}

impl Simulator<'_> {
    fn enter_commits(&self) -> bool {
        self.filter.commit_keys.contains(&Keycode::ENTER)
    }

    fn report(&mut self, report: &KeyboardReport) {
        let previous = self.state.previous;
        self.state.previous = *report;
        let enter = self.enter_commits();
        let commit = report
            .keys()
            .filter(|k| !previous.is_pressed(*k))
            .any(|k| self.filter.commit_keys.contains(&k) || (enter && k == Keycode::NUMPAD_ENTER));
        let pending = self.state.decoder.pending_dead_key();
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        self.state.decoder.feed_into(report, &mut events);
        if commit {
            // A dead key waiting for the commit key is typed before it.
            if let (Some(dead), [Decoded::Text(first), _, ..]) = (pending, events.as_slice())
                && *first == dead
            {
                self.state.insert(dead);
            }
            self.end_line(true);
        } else {
            for event in &events {
                self.event(*event);
            }
        }
        self.events = events;
    }

    /// The line ends: checked against the deny patterns when `check`, then consumed by
    /// the shell. On a match the caller refuses the whole call and drops this simulated
    /// state, so the device's line stays as it was; in shadow mode the call goes ahead
    /// and the cleared line is the truth.
    fn end_line(&mut self, check: bool) {
        if check {
            let denial = if self.state.unknown {
                Some(LineDenial::Unknown)
            } else {
                let line = self.state.line();
                self.filter
                    .deny
                    .iter()
                    .position(|re| re.is_match(&line))
                    .map(LineDenial::Pattern)
            };
            if let Some(denial) = denial {
                self.denied_by.get_or_insert(denial);
            }
        }
        self.state.clear();
        // An unchecked line end leaves the next line as unknown as this one was.
        if check {
            self.state.unknown = false;
        }
    }

    fn event(&mut self, event: Decoded) {
        match event {
            Decoded::Text('\n') => self.end_line(false),
            Decoded::Text(c) => self.state.insert(c),
            Decoded::Backspace => self.state.backspace(),
            Decoded::Key(chord) => self.edit(&chord),
        }
    }

    /// The letter a Ctrl chord's key types on its own in this layout, lowercased.
    fn ctrl_letter(&self, key: Keycode) -> Option<char> {
        nanokvm_hid::decode(&[Stroke::new(Modifiers::NONE, key)], self.state.keymap())
            .chars()
            .next()
            .map(|c| c.to_ascii_lowercase())
    }

    /// Line-editing keys that type nothing.
    fn edit(&mut self, chord: &Chord) {
        let keys = chord.keys();
        let [key] = keys.as_slice() else {
            return;
        };
        let modifiers = chord.modifiers();
        let control_and_shift = Modifiers::LEFT_CTRL
            | Modifiers::RIGHT_CTRL
            | Modifiers::LEFT_SHIFT
            | Modifiers::RIGHT_SHIFT;
        if modifiers.ctrl() && modifiers.difference(control_and_shift).is_empty() {
            self.control(*key);
            return;
        }
        if !modifiers.is_empty() {
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

    /// A control character, by the letter of its key.
    fn control(&mut self, key: Keycode) {
        let letter = self.ctrl_letter(key);
        if matches!(letter, Some('m' | 'j')) {
            self.end_line(self.enter_commits());
            return;
        }
        let state = &mut self.state;
        match letter {
            Some('c') => {
                state.clear();
                state.unknown = false;
            }
            Some('u') => {
                state.chars.drain(..state.cursor);
                state.cursor = 0;
            }
            Some('a') => state.cursor = 0,
            Some('e') => state.cursor = state.chars.len(),
            Some('b') => state.cursor = state.cursor.saturating_sub(1),
            Some('f') => state.cursor = (state.cursor + 1).min(state.chars.len()),
            Some('h') => state.backspace(),
            Some('d') => state.delete(),
            Some('k') => state.chars.truncate(state.cursor),
            Some('w') => state.delete_word(),
            _ => {}
        }
    }
}
