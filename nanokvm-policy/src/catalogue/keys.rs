//! What a typing action sends to the target's keyboard, worked out before it runs.
//!
//! The keystroke filter must see what the target will see, so it does not read the
//! text of a call: it decodes the keyboard reports the call will produce, with the
//! target's layout. Those reports come from here, and the gate sends exactly these (for
//! a paste, the firmware writes the same reports from the same map).

use std::time::Duration;

use nanokvm_client::api::hid::SkippedChar;
use nanokvm_hid::{Chord, Encoder, KeySequence, KeyboardReport, Keymap, Layout, Modifiers, Stroke};

use super::DeviceAction;
use super::values::PasteLanguage;
use crate::error::Error;

/// What one typing call sends to the target's keyboard.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TypedKeys {
    /// The firmware's paste: it types each character its map has, skipping the rest.
    Paste {
        /// The firmware's map.
        language: PasteLanguage,
        /// The characters the firmware will skip (only when the caller allowed it, or a
        /// `\r` before `\n`).
        skipped: Vec<SkippedChar>,
        /// The reports the firmware writes.
        reports: Vec<KeyboardReport>,
    },
    /// Key strokes sent over the WebSocket, each pressed and released, with a final
    /// release.
    Strokes {
        /// The strokes.
        strokes: Vec<Stroke>,
        /// The pause after each stroke.
        delay: Duration,
        /// The layout they were encoded for.
        layout: Layout,
        /// Their reports, in order.
        reports: Vec<KeyboardReport>,
    },
    /// Chords tapped one after the other, each pressed one key at a time and released in
    /// reverse.
    Chords {
        /// The chords, in order.
        chords: KeySequence,
        /// Their reports, in order.
        reports: Vec<KeyboardReport>,
    },
}

impl TypedKeys {
    /// The keyboard reports the target receives, in order.
    #[must_use]
    pub fn reports(&self) -> &[KeyboardReport] {
        match self {
            Self::Paste { reports, .. }
            | Self::Strokes { reports, .. }
            | Self::Chords { reports, .. } => reports,
        }
    }
}

pub(super) fn typed_keys(
    action: &DeviceAction,
    keymap: Keymap,
) -> Result<Option<TypedKeys>, Error> {
    let layout = keymap.layout;
    let tool = action.tool();
    let invalid = |argument: &str, message: String| Error::InvalidArguments {
        tool: tool.to_owned(),
        argument: argument.to_owned(),
        message,
    };
    Ok(Some(match action {
        DeviceAction::SendText(a) => {
            let language = a.language.unwrap_or(PasteLanguage::for_layout(layout));
            let text = a.text.as_str();
            let (reports, skipped) = language.paste_layout().reports(text);
            let chars: Vec<char> = text.chars().collect();
            // A `\r` before `\n` is the usual line ending: the firmware drops it and the
            // `\n` types Enter, which is what the caller meant.
            let lost: Vec<&SkippedChar> = skipped
                .iter()
                .filter(|s| !(s.ch == '\r' && chars.get(s.index + 1) == Some(&'\n')))
                .collect();
            if !lost.is_empty() && !a.skip_unsupported {
                let list: Vec<String> = lost
                    .iter()
                    .take(10)
                    .map(|s| format!("{:?} at character {}", s.ch, s.index))
                    .collect();
                let more = if lost.len() > 10 { ", ..." } else { "" };
                return Err(invalid(
                    "text",
                    format!(
                        "the firmware's `{}` paste map cannot type {} character(s): {}{more}; \
                         use nanokvm_type_text, or set skip_unsupported to type the rest",
                        language.as_str(),
                        lost.len(),
                        list.join(", ")
                    ),
                ));
            }
            TypedKeys::Paste {
                language,
                skipped,
                reports,
            }
        }
        DeviceAction::TypeText(a) => {
            let typing = Keymap::new(a.layout.map_or(layout, |l| l.0), keymap.os);
            let encoded = Encoder::new(typing)
                .encode(a.text.as_str())
                .map_err(|e| invalid("text", e.to_string()))?;
            let mut reports: Vec<KeyboardReport> =
                encoded.strokes.iter().flat_map(Stroke::reports).collect();
            reports.push(KeyboardReport::RELEASE);
            TypedKeys::Strokes {
                strokes: encoded.strokes,
                delay: Duration::from_millis(a.delay_ms.get().unsigned_abs()),
                layout: typing.layout,
                reports,
            }
        }
        DeviceAction::SendKey(a) => {
            let flags = [a.ctrl, a.shift, a.alt, a.meta];
            let chords = key_chords(a.key.as_str(), flags, keymap).ok_or_else(|| {
                invalid(
                    "key",
                    format!(
                        "is not a key name, a chord, a sequence of at most {MAX_CHORDS} chords, \
                         or a character one key types on the `{}` layout (use \
                         nanokvm_type_text for text)",
                        keymap.label()
                    ),
                )
            })?;
            let reports = chords.reports();
            TypedKeys::Chords { chords, reports }
        }
        DeviceAction::SendKeys(a) => {
            let chords = key_chords(a.keys.as_str(), [false; 4], keymap).ok_or_else(|| {
                invalid(
                    "keys",
                    format!(
                        "is not a sequence of at most {MAX_CHORDS} key names or chords \
                         (ctrl+alt+delete, ctrl+a ctrl+c, win+r)"
                    ),
                )
            })?;
            let reports = chords.reports();
            TypedKeys::Chords { chords, reports }
        }
        _ => return Ok(None),
    }))
}

/// The most chords one `nanokvm_send_key` call taps.
pub const MAX_CHORDS: usize = 64;

/// The chords a `nanokvm_send_key` call taps: `name` as a key name or chord (`enter`,
/// `ctrl+c`), a single character typed by one key in `layout`, or chords separated by
/// whitespace (`ctrl+a ctrl+k`); the `[ctrl, shift, alt, meta]` flags are added to each.
/// `None` when nothing fits (a character that needs a dead key and a second stroke is
/// not one key).
fn key_chords(name: &str, flags: [bool; 4], keymap: Keymap) -> Option<KeySequence> {
    if let Some(chord) = key_chord(name, flags, keymap) {
        return Some(KeySequence::from(vec![chord]));
    }
    let sequence = KeySequence::parse(name).ok()?;
    if sequence.chords().len() > MAX_CHORDS {
        return None;
    }
    sequence
        .chords()
        .iter()
        .map(|c| key_chord(&c.to_string(), flags, keymap))
        .collect::<Option<Vec<Chord>>>()
        .map(KeySequence::from)
}

/// One chord: `name` as a key name or chord, or a single character typed by one key in
/// `layout`, with the flags added.
fn key_chord(name: &str, flags: [bool; 4], keymap: Keymap) -> Option<Chord> {
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
        let mut chars = name.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return None;
        };
        let [stroke] = keymap.strokes(c)? else {
            return None;
        };
        Chord::new(stroke.modifiers, &[stroke.key]).ok()
    });
    parsed.and_then(|chord| Chord::new(chord.modifiers() | modifiers, &chord.keys()).ok())
}
