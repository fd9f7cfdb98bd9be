//! The input line of every text prompt on the target (login, password, shell), edited
//! as GNU readline does with its default (emacs) bindings on a Linux text console.
//!
//! The rules are listed in the parent module's documentation; this file is the one
//! place that implements them, for every prompt alike.

use nanokvm_hid::{Chord, Decoded, Decoder, KeyboardReport, Keycode, Layout, Modifiers};

/// What one decoded key press does to the input line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Edit {
    /// Insert a character at the cursor.
    Insert(char),
    /// Enter: the line is submitted.
    Accept,
    /// Ctrl+C: the line is abandoned.
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
    pub(super) fn of(event: Decoded, layout: Layout) -> Option<Self> {
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

/// The text being typed at a prompt and its cursor (a char index into it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Line {
    pub input: Vec<char>,
    pub cursor: usize,
}

/// What an edit did to a [`Line`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Applied {
    Unchanged,
    Changed,
    /// Enter: the caller takes the input.
    Accept,
    /// Ctrl+C: the caller abandons the input.
    Interrupt,
}

impl Line {
    /// The input as a string.
    pub(super) fn text(&self) -> String {
        self.input.iter().collect()
    }

    /// Applies one edit.
    pub(super) fn apply(&mut self, edit: Edit) -> Applied {
        let before = (self.input.clone(), self.cursor);
        let input = &mut self.input;
        let mut cursor = self.cursor.min(input.len());
        match edit {
            Edit::Accept => return Applied::Accept,
            Edit::Interrupt => return Applied::Interrupt,
            Edit::Insert(c) => {
                input.insert(cursor, c);
                cursor += 1;
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
        self.cursor = cursor;
        if (self.input.clone(), self.cursor) == before {
            Applied::Unchanged
        } else {
            Applied::Changed
        }
    }
}
