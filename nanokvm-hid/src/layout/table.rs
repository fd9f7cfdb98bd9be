//! The layout table format, and the lookup tables compiled from it.
//!
//! Each layout is a small text file in `tables/`, one line per key:
//!
//! ```text
//! # comment
//! KeyName   base  shift  altgr  shift+altgr
//! compose   DEAD  BASE   RESULT
//! accents   DEAD  BASES
//! ```
//!
//! `KeyName` is a standard key name (`KeyQ`, `Digit1`, `IntlBackslash`, `IntlHash` for the
//! key left of Enter on ISO keyboards, ...). Each cell is one character, `--` for nothing
//! at that level, `U+20AC` for a character by code point, or `dead` followed by a
//! character (`dead^`, `deadU+00B4`) for a dead key, named by the spacing character it
//! types when followed by Space. Missing trailing cells mean nothing. Space, Enter and Tab
//! are the same on every layout and are added here, not in the files. `compose` lines add
//! or override what a dead key followed by a base character produces, for layouts whose
//! dead keys do more than the generic accent tables in `dead.rs`. An `accents` line limits
//! a dead key to the generic compositions of the listed base letters (`accents ^
//! aeiouAEIOU`), for layouts whose dead keys do less than the generic tables; without one,
//! every generic composition of that accent applies.
//!
//! Compiling a table picks one way to type every character: the lowest level first
//! (plain, Shift, AltGr, Shift+AltGr), then the first key in file order; a dead key's own
//! character comes from the dead key and Space; an accented character comes from a dead
//! key and a base key, only when no key types it directly.

use std::collections::HashMap;

use super::dead;
use crate::encode::Stroke;
use crate::keycode::Keycode;
use crate::modifiers::Modifiers;

/// What one key types at one level.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Symbol {
    /// A character, typed at once.
    Char(char),
    /// A dead key, named by its spacing character.
    Dead(char),
}

/// The four shift levels, in preference order.
pub(crate) const LEVELS: [Modifiers; 4] = [
    Modifiers::NONE,
    Modifiers::LEFT_SHIFT,
    Modifiers::ALT_GR,
    Modifiers::LEFT_SHIFT.union(Modifiers::ALT_GR),
];

/// How to type one character: one stroke, or a dead key and a base key.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Entry {
    strokes: [Stroke; 2],
    len: u8,
}

impl Entry {
    fn one(stroke: Stroke) -> Self {
        Self {
            strokes: [stroke, Stroke::default()],
            len: 1,
        }
    }

    fn two(first: Stroke, second: Stroke) -> Self {
        Self {
            strokes: [first, second],
            len: 2,
        }
    }

    pub(crate) fn strokes(&self) -> &[Stroke] {
        &self.strokes[..usize::from(self.len)]
    }
}

/// A layout compiled for encoding and decoding.
pub(crate) struct KeyTable {
    /// What each usage types at each level, indexed by usage then level.
    symbols: Box<[[Option<Symbol>; 4]; 256]>,
    ascii: [Entry; 128],
    others: HashMap<char, Entry>,
    compose: HashMap<(char, char), char>,
    has_altgr: bool,
}

impl KeyTable {
    /// How to type `c`, if the layout can.
    #[inline]
    pub(crate) fn entry(&self, c: char) -> Option<&Entry> {
        let code = c as u32;
        let entry = if code < 128 {
            &self.ascii[code as usize]
        } else {
            self.others.get(&c)?
        };
        (entry.len > 0).then_some(entry)
    }

    /// What `key` types at `level` (0 plain, 1 Shift, 2 AltGr, 3 Shift+AltGr).
    pub(crate) fn symbol(&self, key: Keycode, level: usize) -> Option<Symbol> {
        self.symbols[usize::from(key.usage())][level]
    }

    /// What the dead key `dead` followed by `base` produces.
    pub(crate) fn compose(&self, dead: char, base: char) -> Option<char> {
        self.compose.get(&(dead, base)).copied()
    }

    /// Whether Caps Lock shifts `key`: its plain level is a letter and its Shift level the
    /// same letter in upper case.
    pub(crate) fn caps_affects(&self, key: Keycode) -> bool {
        match (self.symbol(key, 0), self.symbol(key, 1)) {
            (Some(Symbol::Char(lower)), Some(Symbol::Char(upper))) => {
                lower.is_lowercase() && lower.to_uppercase().eq(std::iter::once(upper))
            }
            _ => false,
        }
    }

    /// Whether the layout has an AltGr level at all.
    pub(crate) fn has_altgr(&self) -> bool {
        self.has_altgr
    }

    /// Every typeable character with its strokes, in code point order.
    pub(crate) fn chars(&self) -> Vec<(char, &[Stroke])> {
        let mut all: Vec<(char, &[Stroke])> = (0u8..128)
            .filter_map(|b| {
                let c = char::from(b);
                self.entry(c).map(|e| (c, e.strokes()))
            })
            .chain(self.others.iter().map(|(&c, e)| (c, e.strokes())))
            .collect();
        all.sort_unstable_by_key(|&(c, _)| c);
        all
    }

    fn insert(&mut self, c: char, entry: Entry) {
        let code = c as u32;
        if code < 128 {
            let slot = &mut self.ascii[code as usize];
            if slot.len == 0 {
                *slot = entry;
            }
        } else {
            self.others.entry(c).or_insert(entry);
        }
    }
}

/// Parses and compiles a layout table.
pub(crate) fn compile(source: &str) -> Result<KeyTable, String> {
    let mut symbols: Box<[[Option<Symbol>; 4]; 256]> = Box::new([[None; 4]; 256]);
    let mut order: Vec<Keycode> = Vec::new();
    let mut extra_compose: Vec<(char, char, char)> = Vec::new();
    let mut accents: HashMap<char, Vec<char>> = HashMap::new();

    for key in [
        Keycode::SPACE,
        Keycode::ENTER,
        Keycode::TAB,
        Keycode::NUMPAD_ENTER,
    ] {
        let c = match key {
            Keycode::SPACE => ' ',
            Keycode::TAB => '\t',
            _ => '\n',
        };
        symbols[usize::from(key.usage())][0] = Some(Symbol::Char(c));
        order.push(key);
    }

    for (number, raw) in source.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |msg: String| format!("line {}: {msg}", number + 1);
        let mut tokens = line.split_whitespace();
        let head = tokens.next().unwrap_or_default();
        if head == "compose" {
            let parts: Vec<&str> = tokens.collect();
            let [dead, base, result] = parts[..] else {
                return Err(at(format!("compose takes three characters, got `{line}`")));
            };
            extra_compose.push((
                parse_char(dead).map_err(at)?,
                parse_char(base).map_err(at)?,
                parse_char(result).map_err(at)?,
            ));
            continue;
        }
        if head == "accents" {
            let parts: Vec<&str> = tokens.collect();
            let [dead, bases] = parts[..] else {
                return Err(at(format!(
                    "accents takes a dead key and base letters, got `{line}`"
                )));
            };
            let dead = parse_char(dead).map_err(at)?;
            let bases: Vec<char> = bases.chars().collect();
            if let Some(missing) = bases
                .iter()
                .find(|&&b| !dead::generic_pairs(dead).any(|(g, _)| g == b))
            {
                return Err(at(format!(
                    "accents {dead}: no generic composition for {missing}"
                )));
            }
            if accents.insert(dead, bases).is_some() {
                return Err(at(format!("accents {dead} given twice")));
            }
            continue;
        }
        let key = Keycode::from_name(head).map_err(|e| at(e.to_string()))?;
        if order.contains(&key) {
            return Err(at(format!("key {key} is defined twice or is implicit")));
        }
        if key.is_modifier() {
            return Err(at(format!("modifier key {key} cannot type characters")));
        }
        let cells: Vec<&str> = tokens.collect();
        if cells.len() > 4 {
            return Err(at(format!("{} cells, at most 4", cells.len())));
        }
        for (level, cell) in cells.iter().enumerate() {
            symbols[usize::from(key.usage())][level] = parse_cell(cell).map_err(at)?;
        }
        order.push(key);
    }

    // Hosts treat the ANSI backslash key (0x31) and the ISO key left of Enter (0x32)
    // alike, so a report with either decodes the same on every layout.
    let (ansi, iso) = (
        usize::from(Keycode::BACKSLASH.usage()),
        usize::from(Keycode::NON_US_HASH.usage()),
    );
    if symbols[ansi] == [None; 4] {
        symbols[ansi] = symbols[iso];
    } else if symbols[iso] == [None; 4] {
        symbols[iso] = symbols[ansi];
    }

    let has_altgr = symbols
        .iter()
        .any(|levels| levels[2].is_some() || levels[3].is_some());
    let mut table = KeyTable {
        symbols,
        ascii: [Entry::default(); 128],
        others: HashMap::new(),
        compose: HashMap::new(),
        has_altgr,
    };

    let mut dead_keys: Vec<(char, Stroke)> = Vec::new();
    for (level, modifiers) in LEVELS.into_iter().enumerate() {
        for &key in &order {
            match table.symbols[usize::from(key.usage())][level] {
                Some(Symbol::Char(c)) => table.insert(c, Entry::one(Stroke::new(modifiers, key))),
                Some(Symbol::Dead(d)) => dead_keys.push((d, Stroke::new(modifiers, key))),
                None => {}
            }
        }
    }

    let space = Stroke::new(Modifiers::NONE, Keycode::SPACE);
    for &(dead, stroke) in &dead_keys {
        table.insert(dead, Entry::two(stroke, space));
    }

    let generic = |dead: char| {
        let allowed = accents.get(&dead);
        dead::generic_pairs(dead).filter(move |(base, _)| allowed.is_none_or(|a| a.contains(base)))
    };
    for dead in accents.keys() {
        if !dead_keys.iter().any(|&(d, _)| d == *dead) {
            return Err(format!("accents {dead}: no dead key {dead}"));
        }
    }
    for &(dead, _) in &dead_keys {
        for (base, composed) in generic(dead) {
            table.compose.insert((dead, base), composed);
        }
    }
    for &(dead, base, result) in &extra_compose {
        if !dead_keys.iter().any(|&(d, _)| d == dead) {
            return Err(format!(
                "compose {dead} {base} {result}: no dead key {dead}"
            ));
        }
        table.compose.insert((dead, base), result);
    }
    let mut compositions: Vec<(char, char, char)> = extra_compose;
    for &(dead, _) in &dead_keys {
        compositions.extend(generic(dead).map(|(b, r)| (dead, b, r)));
    }
    for (dead, base, result) in compositions {
        if table.compose(dead, base) != Some(result) {
            // A layout line overrode this generic pair.
            continue;
        }
        let stroke = dead_keys.iter().find(|&&(d, _)| d == dead).map(|&(_, s)| s);
        let base_entry = table.entry(base).copied();
        if let (Some(stroke), Some(base_entry)) = (stroke, base_entry) {
            if base_entry.len == 1 {
                table.insert(result, Entry::two(stroke, base_entry.strokes[0]));
            }
        }
    }

    for &(dead, _) in &dead_keys {
        if !dead::is_known_accent(dead) && !table.compose.keys().any(|&(d, _)| d == dead) {
            return Err(format!("dead key {dead} composes nothing"));
        }
    }
    Ok(table)
}

fn parse_cell(cell: &str) -> Result<Option<Symbol>, String> {
    if cell == "--" {
        return Ok(None);
    }
    if let Some(rest) = cell.strip_prefix("dead") {
        if !rest.is_empty() {
            return parse_char(rest).map(|c| Some(Symbol::Dead(c)));
        }
    }
    parse_char(cell).map(|c| Some(Symbol::Char(c)))
}

fn parse_char(token: &str) -> Result<char, String> {
    if let Some(hex) = token.strip_prefix("U+") {
        return u32::from_str_radix(hex, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("`{token}` is not a code point"));
    }
    let mut chars = token.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_control() => Ok(c),
        _ => Err(format!("`{token}` is not one character")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_tables_are_rejected() {
        let table = [
            ("KeyNope a A", "unknown key name"),
            ("KeyA a A\nKeyA b B", "twice"),
            ("KeyA ab", "not one character"),
            ("KeyA a A b B c", "at most 4"),
            ("ShiftLeft a", "modifier"),
            ("Space x", "twice or is implicit"),
            ("compose ^ a", "three characters"),
            ("compose ^ a â", "no dead key"),
            ("KeyA dead§", "composes nothing"),
            ("KeyA U+D800", "not a code point"),
            ("KeyA dead^\naccents ^ aq", "no generic composition for q"),
            ("KeyA a\naccents ^ a", "no dead key"),
        ];
        for (source, message) in table {
            let error = compile(source).err().unwrap_or_default();
            assert!(error.contains(message), "{source:?}: {error}");
        }
    }

    #[test]
    fn prefers_direct_keys_and_low_levels() {
        let table = compile(
            "KeyA a A æ\nKeyB æ\nKeyC dead^ dead¨\nKeyE e E\nKeyF ê\nKeyO o O\ncompose ¨ a q\naccents ^ eE",
        )
        .unwrap();
        let keys = |c| {
            table.entry(c).map(|e| {
                e.strokes()
                    .iter()
                    .map(|s| (s.modifiers.bits(), s.key.usage()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(keys('æ'), Some(vec![(0, 0x05)]));
        assert_eq!(keys('ê'), Some(vec![(0, 0x09)]));
        assert_eq!(keys('Ê'), Some(vec![(0, 0x06), (2, 0x08)]));
        assert_eq!(keys('^'), Some(vec![(0, 0x06), (0, 0x2C)]));
        assert_eq!(keys('q'), Some(vec![(2, 0x06), (0, 0x04)]));
        assert_eq!(keys('ä'), None);
        assert_eq!(table.compose('¨', 'a'), Some('q'));
        assert_eq!(table.compose('^', 'e'), Some('ê'));
        assert_eq!(keys('ô'), None);
        assert_eq!(table.compose('^', 'o'), None);
    }
}
