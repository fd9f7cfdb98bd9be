//! Dead-key sequences on Linux: what libX11's Compose table makes of a dead key and the
//! keys after it.
//!
//! On X11 and Wayland a dead key does nothing by itself; the input method collects keys
//! until they form a sequence of the Compose table and then types its result. A sequence
//! that cannot be completed any more is dropped, with the key that broke it. The
//! sequences live in `tables/linux/compose.txt`, taken from the `en_US.UTF-8` Compose
//! table of libX11: every sequence that starts with a dead key and whose keys all occur in
//! one of the Linux layout tables. One line per sequence:
//!
//! ```text
//! deadˇ e : ě
//! dead¨ dead´ u : ǘ
//! dead´ U+0020 : '
//! ```
//!
//! Keys and results are written as cells of the layout tables (`table.rs`): a character,
//! `U+0020`, or `dead` and the name of a dead key. A result may be several characters.
//! Every key of a sequence but the last is a dead key, so what is pending between keys is
//! always a short run of dead keys.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::table::{Symbol, parse_cell};

/// The longest sequence, in keys.
pub(crate) const MAX_KEYS: usize = 4;

/// Where a run of keys stands in the Compose table.
#[derive(Debug)]
pub(crate) enum Step {
    /// A whole sequence: these characters are typed.
    Done(Box<str>),
    /// The start of longer sequences: the input method waits for the next key.
    More,
}

/// The Compose sequences that start with a dead key.
#[derive(Debug)]
pub(crate) struct Compose {
    steps: HashMap<Box<[Symbol]>, Step>,
    /// Two-key sequences with a one-character result, in file order: the ways to type a
    /// character with a dead key and one more key.
    pairs: Vec<(char, Symbol, char)>,
}

impl Compose {
    /// What the keys `keys` make, if they are a sequence or the start of one.
    pub(crate) fn step(&self, keys: &[Symbol]) -> Option<&Step> {
        self.steps.get(keys)
    }

    /// Whether some sequence starts with the dead key `dead`.
    pub(crate) fn starts_with(&self, dead: char) -> bool {
        matches!(self.step(&[Symbol::Dead(dead)]), Some(Step::More))
    }

    /// Every two-key sequence with a one-character result, as `(dead key, second key,
    /// result)`, in file order.
    pub(crate) fn pairs(&self) -> &[(char, Symbol, char)] {
        &self.pairs
    }
}

/// The sequences of `tables/linux/compose.txt`, parsed on first use.
pub(crate) fn linux() -> &'static Compose {
    static COMPOSE: OnceLock<Compose> = OnceLock::new();
    COMPOSE.get_or_init(|| {
        parse(include_str!("tables/linux/compose.txt")).unwrap_or_else(|e| {
            // The file is fixed at compile time and parsed by the test suite.
            panic!("built-in Compose sequences are malformed: {e}")
        })
    })
}

/// Parses a sequence file.
pub(crate) fn parse(source: &str) -> Result<Compose, String> {
    let mut steps: HashMap<Box<[Symbol]>, Step> = HashMap::new();
    let mut pairs = Vec::new();
    for (number, raw) in source.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |msg: String| format!("line {}: {msg}", number + 1);
        let Some((keys, result)) = line.split_once(" : ") else {
            return Err(at(format!("expected `KEYS : RESULT`, got `{line}`")));
        };
        let keys = keys
            .split_whitespace()
            .map(|cell| parse_cell(cell)?.ok_or_else(|| format!("`{cell}` is no key")))
            .collect::<Result<Vec<Symbol>, String>>()
            .map_err(at)?;
        let text = result
            .split_whitespace()
            .map(|cell| match parse_cell(cell)? {
                Some(Symbol::Char(c)) => Ok(c),
                _ => Err(format!("`{cell}` is not a character")),
            })
            .collect::<Result<String, String>>()
            .map_err(at)?;
        if text.is_empty() {
            return Err(at("empty result".to_owned()));
        }
        if !(2..=MAX_KEYS).contains(&keys.len()) {
            return Err(at(format!("a sequence has 2 to {MAX_KEYS} keys")));
        }
        if keys[..keys.len() - 1]
            .iter()
            .any(|k| !matches!(k, Symbol::Dead(_)))
        {
            return Err(at("every key but the last must be a dead key".to_owned()));
        }
        for end in 1..keys.len() {
            let prefix: Box<[Symbol]> = keys[..end].into();
            if let Some(Step::Done(_)) = steps.insert(prefix, Step::More) {
                return Err(at("a shorter sequence is a prefix of this one".to_owned()));
            }
        }
        if let [Symbol::Dead(dead), second] = keys[..] {
            let mut chars = text.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                pairs.push((dead, second, c));
            }
        }
        if steps.insert(keys.into(), Step::Done(text.into())).is_some() {
            return Err(at("sequence given twice, or a prefix of another".to_owned()));
        }
    }
    Ok(Compose { steps, pairs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_rejected() {
        let table = [
            ("dead´ a á", "KEYS : RESULT"),
            ("dead´ : á", "2 to 4 keys"),
            ("a dead´ : á", "but the last"),
            ("dead´ a : ", "KEYS : RESULT"),
            ("dead´ a : deadˇ", "not a character"),
            ("dead´ a : á\ndead´ a : à", "twice"),
            ("dead´ dead´ : ´\ndead´ dead´ a : á", "prefix of this one"),
            ("dead´ dead¨ u : ǘ\ndead´ dead¨ : ¨", "twice"),
            ("dead´ -- : x", "no key"),
        ];
        for (source, message) in table {
            let error = parse(source).err().unwrap_or_default();
            assert!(error.contains(message), "{source:?}: {error}");
        }
    }

    #[test]
    fn sequences_and_prefixes() {
        let compose = parse("dead´ U+0020 : '\ndead´ dead¨ u : ǘ\ndead´ j : j U+0301").unwrap();
        let dead = |c| Symbol::Dead(c);
        assert!(compose.starts_with('´'));
        assert!(!compose.starts_with('¨'));
        assert!(matches!(
            compose.step(&[dead('´'), dead('¨')]),
            Some(Step::More)
        ));
        assert!(
            matches!(compose.step(&[dead('´'), dead('¨'), Symbol::Char('u')]), Some(Step::Done(s)) if &**s == "ǘ")
        );
        assert!(
            matches!(compose.step(&[dead('´'), Symbol::Char('j')]), Some(Step::Done(s)) if &**s == "j\u{301}")
        );
        assert!(compose.step(&[dead('´'), Symbol::Char('x')]).is_none());
        assert_eq!(compose.pairs(), [('´', Symbol::Char(' '), '\'')]);
    }

    #[test]
    fn the_built_in_file_parses() {
        let compose = linux();
        assert!(compose.starts_with('´'));
        assert!(compose.pairs().len() > 500);
    }
}
