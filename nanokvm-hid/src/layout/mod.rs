//! Keyboard layouts of the target machine: which keys type which characters.
//!
//! The NanoKVM sends key positions (HID usages), and the target machine turns them into
//! characters with whatever layout its operating system is set to. To type text, the
//! sender has to know that layout, and the system reading it: [`Layout`] names the 19
//! layouts this crate knows, [`TargetOs`] the systems, and a [`Keymap`] is the pair.
//!
//! Each layout has two tables in `src/layout/tables/` (format in `table.rs`):
//!
//! - `tables/<layout>.txt` follows the layout as Windows defines it, which matches the
//!   national keycaps. Its dead keys compose as Windows composes them (`dead.rs` and the
//!   table's own `accents` and `compose` lines).
//! - `tables/linux/<layout>.txt` follows XKB, as X11 and Wayland read it: the default
//!   variant of the layout's symbols file on a `pc105` keyboard, all four levels. Its dead
//!   keys compose as libX11's `en_US.UTF-8` Compose table says (`compose.rs`, with the
//!   sequences in `tables/linux/compose.txt`). The test `xkb` checks both against the
//!   system's own XKB and Compose files.
//!
//! Each table's header says where the two systems differ on that layout.

pub(crate) mod compose;
mod dead;
mod keymap;
pub(crate) mod table;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::encode::Stroke;
use crate::error::Error;
use crate::suggest::closest;
pub use keymap::{Keymap, TargetOs};
use table::KeyTable;

macro_rules! layouts {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $file:literal, $description:literal, [$($alias:literal),*]; )*) => {
        /// A keyboard layout of the target machine.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Layout {
            $( $(#[$doc])* $variant, )*
        }

        impl Layout {
            /// Every layout, in the order of [`Layout::name`]s listed by `--list`.
            pub const ALL: &'static [Layout] = &[$(Layout::$variant),*];

            /// The layout's short name: `us`, `de-ch`, `jp`, ...
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $(Layout::$variant => $name,)* }
            }

            /// A human-readable description.
            #[must_use]
            pub const fn description(self) -> &'static str {
                match self { $(Layout::$variant => $description,)* }
            }

            fn aliases(self) -> &'static [&'static str] {
                match self { $(Layout::$variant => &[$($alias),*],)* }
            }

            /// The layout's name with the system, for messages about its Linux keymap.
            const fn linux_label(self) -> &'static str {
                match self { $(Layout::$variant => concat!($name, " (linux)"),)* }
            }

            /// The text of the layout's table for `os`.
            fn source(self, os: TargetOs) -> &'static str {
                match os {
                    TargetOs::Windows => match self {
                        $(Layout::$variant => include_str!(concat!("tables/", $file)),)*
                    },
                    TargetOs::Linux => match self {
                        $(Layout::$variant => include_str!(concat!("tables/linux/", $file)),)*
                    },
                }
            }
        }
    };
}

layouts! {
    /// English (US), ANSI QWERTY.
    Us = "us", "us.txt", "English (US), QWERTY", ["en", "en-us", "us-qwerty", "ansi"];
    /// English (UK), ISO QWERTY.
    Gb = "gb", "gb.txt", "English (UK), QWERTY", ["uk", "en-gb"];
    /// German (Germany and Austria), QWERTZ.
    De = "de", "de.txt", "German, QWERTZ", ["de-de", "de-at", "at"];
    /// Swiss German, QWERTZ.
    DeCh = "de-ch", "de_ch.txt", "Swiss German, QWERTZ", ["ch", "ch-de", "sg"];
    /// French (France), AZERTY.
    Fr = "fr", "fr.txt", "French, AZERTY", ["fr-fr", "azerty"];
    /// Swiss French, QWERTZ.
    FrCh = "fr-ch", "fr_ch.txt", "Swiss French, QWERTZ", ["ch-fr", "sf"];
    /// Belgian (French and Dutch), AZERTY.
    Be = "be", "be.txt", "Belgian, AZERTY", ["be-fr", "be-nl"];
    /// Spanish (Spain), QWERTY.
    Es = "es", "es.txt", "Spanish, QWERTY", ["es-es"];
    /// Italian, QWERTY.
    It = "it", "it.txt", "Italian, QWERTY", ["it-it"];
    /// Portuguese (Portugal), QWERTY.
    Pt = "pt", "pt.txt", "Portuguese, QWERTY", ["pt-pt"];
    /// Portuguese (Brazil), ABNT2.
    Br = "br", "br.txt", "Portuguese (Brazil), ABNT2", ["pt-br", "abnt2", "abnt"];
    /// Swedish, QWERTY.
    Se = "se", "se.txt", "Swedish, QWERTY", ["sv", "sv-se"];
    /// Norwegian, QWERTY.
    No = "no", "no.txt", "Norwegian, QWERTY", ["nb", "nn", "nb-no"];
    /// Danish, QWERTY.
    Dk = "dk", "dk.txt", "Danish, QWERTY", ["da", "da-dk"];
    /// Finnish, QWERTY.
    Fi = "fi", "fi.txt", "Finnish, QWERTY", ["fi-fi"];
    /// Polish (programmers), QWERTY.
    Pl = "pl", "pl.txt", "Polish (programmers), QWERTY", ["pl-pl"];
    /// Czech, QWERTZ.
    Cz = "cz", "cz.txt", "Czech, QWERTZ", ["cs", "cs-cz"];
    /// Hungarian, QWERTZ.
    Hu = "hu", "hu.txt", "Hungarian, QWERTZ", ["hu-hu"];
    /// Japanese, JIS 106/109 keys (Latin input).
    Jp = "jp", "jp.txt", "Japanese (JIS 106/109), QWERTY", ["ja", "ja-jp", "jp106", "jis"];
}

impl Layout {
    /// Finds a layout by its name or a common alias (`uk`, `pt-br`, `ja`, ...),
    /// case-insensitively; `_` and `-` are interchangeable.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownLayout`] with the closest name when nothing matches.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .iter()
            .copied()
            .find(|l| l.name() == wanted || l.aliases().contains(&wanted.as_str()))
            .ok_or_else(|| Error::UnknownLayout {
                name: name.trim().to_owned(),
                suggestion: closest(&wanted, Self::ALL.iter().map(|l| l.name())).map(str::to_owned),
            })
    }

    /// This layout as `os` reads it.
    #[must_use]
    pub const fn on(self, os: TargetOs) -> Keymap {
        Keymap::new(self, os)
    }

    /// Whether a single character can be typed on this layout as Windows reads it
    /// ([`Keymap::can_type`] for another system).
    #[must_use]
    pub fn can_type(self, c: char) -> bool {
        Keymap::from(self).can_type(c)
    }

    /// The strokes that type `c` on this layout as Windows reads it: one, or a dead key
    /// and a base key ([`Keymap::strokes`] for another system).
    #[must_use]
    pub fn strokes(self, c: char) -> Option<&'static [Stroke]> {
        Keymap::from(self).strokes(c)
    }

    /// Every character this layout can type as Windows reads it, with its strokes, in
    /// code point order ([`Keymap::chars`] for another system).
    #[must_use]
    pub fn chars(self) -> Vec<(char, &'static [Stroke])> {
        Keymap::from(self).chars()
    }

    /// The compiled table for `os`, built on first use.
    fn table_on(self, os: TargetOs) -> &'static KeyTable {
        const LAYOUTS: usize = Layout::ALL.len();
        const SYSTEMS: usize = TargetOs::ALL.len();
        static TABLES: [[OnceLock<KeyTable>; LAYOUTS]; SYSTEMS] =
            [const { [const { OnceLock::new() }; LAYOUTS] }; SYSTEMS];
        TABLES[os as usize][self as usize].get_or_init(|| {
            table::compile(self.source(os), os).unwrap_or_else(|e| {
                // The tables are fixed at compile time and every one is compiled by the
                // test suite, so this cannot happen in a released build.
                panic!(
                    "built-in layout table {} ({os}) is malformed: {e}",
                    self.name()
                )
            })
        })
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_compiles() {
        assert_eq!(Layout::ALL.len(), 19);
        for &layout in Layout::ALL {
            for &os in TargetOs::ALL {
                if let Err(e) = table::compile(layout.source(os), os) {
                    panic!("{layout} ({os}): {e}");
                }
            }
        }
    }

    #[test]
    fn names_and_aliases() {
        assert_eq!(Layout::from_name("DE_CH").unwrap(), Layout::DeCh);
        assert_eq!(Layout::from_name("uk").unwrap(), Layout::Gb);
        assert_eq!(Layout::from_name("pt-BR").unwrap(), Layout::Br);
        let error = Layout::from_name("frr").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown keyboard layout `frr`; did you mean `fr`?"
        );
        for &layout in Layout::ALL {
            assert_eq!(Layout::from_name(layout.name()).unwrap(), layout);
        }
    }
}
