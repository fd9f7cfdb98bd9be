//! The target's operating system, and [`Keymap`]: a layout as one operating system reads it.
//!
//! The same layout name means slightly different key maps on different systems. Czech on
//! Windows has a dead `^` on AltGr+3 where Linux types `#`; UK English types `á` on
//! AltGr+A on Windows and `æ` on Linux. So the layout alone does not say which keys type
//! which characters: the sender needs the layout and the target's system together, which is
//! what a [`Keymap`] holds. A bare [`Layout`] converts into the Windows keymap, so code that
//! names only a layout keeps its meaning.

use std::fmt;
use std::str::FromStr;

use super::Layout;
use crate::encode::Stroke;
use crate::error::Error;
use crate::suggest::closest;

/// The operating system of the target machine, which decides how it reads a layout.
///
/// The default is [`TargetOs::Windows`], the system whose layouts match the national
/// keycaps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TargetOs {
    /// Windows: each layout as Windows defines it (`KBDFR`, `KBDCZ`, ...), with its dead
    /// keys.
    #[default]
    Windows,
    /// Linux and other systems with XKB (X11 and Wayland): each layout as the default
    /// variant of its XKB symbols file on a `pc105` keyboard, with dead keys composed as
    /// libX11's `en_US.UTF-8` Compose table says.
    Linux,
}

impl TargetOs {
    /// Every system, in the order of [`TargetOs::name`]s.
    pub const ALL: &'static [TargetOs] = &[TargetOs::Windows, TargetOs::Linux];

    /// The system's short name: `windows` or `linux`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            TargetOs::Windows => "windows",
            TargetOs::Linux => "linux",
        }
    }

    const fn aliases(self) -> &'static [&'static str] {
        match self {
            TargetOs::Windows => &["win"],
            TargetOs::Linux => &["xkb"],
        }
    }

    /// Finds a system by its name or an alias (`win`, `xkb`), case-insensitively.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTargetOs`] with the closest name when nothing matches.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        let wanted = name.trim().to_ascii_lowercase();
        Self::ALL
            .iter()
            .copied()
            .find(|os| os.name() == wanted || os.aliases().contains(&wanted.as_str()))
            .ok_or_else(|| Error::UnknownTargetOs {
                name: name.trim().to_owned(),
                suggestion: closest(&wanted, Self::ALL.iter().map(|os| os.name()))
                    .map(str::to_owned),
            })
    }
}

impl fmt::Display for TargetOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TargetOs {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

/// A keyboard layout as the target's operating system reads it: which keys type which
/// characters, and how its dead keys compose.
///
/// Everything that encodes or decodes takes `impl Into<Keymap>`, so a bare [`Layout`]
/// still works and means Windows; [`Layout::on`] names the system explicitly.
///
/// ```
/// use nanokvm_hid::{Keymap, Layout, TargetOs};
///
/// let linux = Layout::Cz.on(TargetOs::Linux);
/// assert_eq!(linux, Keymap::new(Layout::Cz, TargetOs::Linux));
/// assert_eq!(Keymap::from(Layout::Cz).os, TargetOs::Windows);
/// // `#` is AltGr+3 on Czech Linux; Windows has a dead `^` there.
/// assert_eq!(linux.strokes('#').map(<[_]>::len), Some(1));
/// assert_eq!(linux.to_string(), "cz (linux)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Keymap {
    /// The layout.
    pub layout: Layout,
    /// The system that reads it.
    pub os: TargetOs,
}

impl Keymap {
    /// The keymap of `layout` on `os`.
    #[must_use]
    pub const fn new(layout: Layout, os: TargetOs) -> Self {
        Self { layout, os }
    }

    /// The name used in messages: the layout's name for Windows (`fr`), and the layout's
    /// name with the system for the others (`fr (linux)`).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self.os {
            TargetOs::Windows => self.layout.name(),
            TargetOs::Linux => self.layout.linux_label(),
        }
    }

    /// Whether a single character can be typed.
    #[must_use]
    pub fn can_type(self, c: char) -> bool {
        self.layout.table_on(self.os).entry(c, false).is_some()
    }

    /// The strokes that type `c`: one, or a dead key and a base key.
    #[must_use]
    pub fn strokes(self, c: char) -> Option<&'static [Stroke]> {
        self.layout
            .table_on(self.os)
            .entry(c, false)
            .map(super::table::Entry::strokes)
    }

    /// Every character this keymap can type, with its strokes, in code point order.
    #[must_use]
    pub fn chars(self) -> Vec<(char, &'static [Stroke])> {
        self.layout.table_on(self.os).chars()
    }

    pub(crate) fn table(self) -> &'static super::table::KeyTable {
        self.layout.table_on(self.os)
    }
}

impl From<Layout> for Keymap {
    /// The layout as Windows reads it, the default system.
    fn from(layout: Layout) -> Self {
        Self::new(layout, TargetOs::Windows)
    }
}

impl fmt::Display for Keymap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
