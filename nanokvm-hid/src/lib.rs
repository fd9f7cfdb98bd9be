//! USB HID keyboard and mouse encoding for the Sipeed NanoKVM, with the keyboard layout
//! of the target machine taken into account.
//!
//! The NanoKVM acts as a USB keyboard and mouse towards the machine it controls. This
//! crate builds the reports it sends, with no I/O of its own:
//!
//! - [`Keycode`]: every HID keyboard usage, with standard names and a forgiving name
//!   parser (`"enter"`, `"ArrowUp"`, `"pgdn"`, `"F12"`), and [`Modifiers`].
//! - [`Chord`] and [`KeySequence`]: `ctrl+alt+delete`, `win+r`, `ctrl+a ctrl+c`, and the
//!   press/release reports they expand to.
//! - [`KeyboardReport`], [`RelativeReport`] and [`AbsoluteReport`]: the exact bytes the
//!   firmware writes to its HID gadgets, with [`AbsolutePosition`] for pointer coordinates.
//! - [`Layout`]: 19 keyboard layouts of the target machine, each as Windows and as Linux
//!   (XKB) read it: a [`Keymap`] is a layout and a [`TargetOs`]; a bare layout means
//!   Windows.
//! - [`encode`] turns text into [`Stroke`]s for a keymap (dead keys and AltGr included)
//!   or refuses with every character it cannot type; [`Encoder`] adds skipping and
//!   [`UnicodeFallback`]s.
//! - [`decode`] and [`Decoder`]: reports back to text, as the target would see it.
//!
//! # Example
//!
//! ```
//! use nanokvm_hid::{decode, encode, Chord, Layout, TargetOs};
//!
//! // Typing on a French (AZERTY) machine: `a` is where US keyboards have `q`.
//! let strokes = encode("âne", Layout::Fr)?;
//! let reports = nanokvm_hid::reports(&strokes);
//! assert_eq!(reports[0].to_bytes(), [0, 0, 0x2F, 0, 0, 0, 0, 0]); // dead ^
//! assert_eq!(reports[2].to_bytes(), [0, 0, 0x14, 0, 0, 0, 0, 0]); // a
//! assert_eq!(decode(&strokes, Layout::Fr), "âne");
//!
//! // The same layout on a Linux target, whose AltGr+7 types ` at once (Windows: a dead
//! // key, then Space).
//! let linux = Layout::Fr.on(TargetOs::Linux);
//! assert_eq!(encode("`", linux)?.len(), 1);
//! assert_eq!(encode("`", Layout::Fr)?.len(), 2);
//!
//! // A chord, pressed one key at a time and released in reverse.
//! let chord: Chord = "ctrl+alt+delete".parse()?;
//! let bytes: Vec<[u8; 8]> = chord.reports().iter().map(|r| r.to_bytes()).collect();
//! assert_eq!(bytes[2], [0x05, 0, 0x4C, 0, 0, 0, 0, 0]);
//! assert_eq!(bytes.last(), Some(&[0; 8]));
//! # Ok::<(), nanokvm_hid::Error>(())
//! ```

mod chord;
mod decode;
mod encode;
mod error;
mod keyboard;
mod keycode;
mod layout;
mod modifiers;
mod mouse;
mod suggest;

pub use chord::{Chord, KeySequence};
pub use decode::{Decoded, Decoder, apply, decode, decode_reports};
pub use encode::{Encoded, Encoder, Stroke, UnicodeFallback, encode, reports};
pub use error::{Error, Unencodable};
pub use keyboard::KeyboardReport;
pub use keycode::Keycode;
pub use layout::{Keymap, Layout, TargetOs};
pub use modifiers::Modifiers;
pub use mouse::{AbsolutePosition, AbsoluteReport, MouseButtons, RelativeReport};

/// Compiles and runs the code in the crate's README, so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
