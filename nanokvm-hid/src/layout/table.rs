//! The layout table format, and the lookup tables compiled from it.
//!
//! Each layout is a small text file in `tables/` (Windows) and `tables/linux/` (Linux),
//! one line per key:
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
//! character (`dead^`, `deadU+00B4`) for a dead key. Missing trailing cells mean nothing.
//! Enter and Tab are the same on every layout and are added here, not in the files; Space
//! is added with its plain level only, and a table that puts something on its other
//! levels gives a `Space` line (whose plain level is a space).
//!
//! A Windows dead key is named by the spacing character it types when followed by Space.
//! `compose` lines add or override what a dead key followed by a base character produces,
//! for layouts whose dead keys do more than the generic accent tables in `dead.rs`. An
//! `accents` line limits a dead key to the generic compositions of the listed base letters
//! (`accents ^ aeiouAEIOU`), for layouts whose dead keys do less than the generic tables;
//! without one, every generic composition of that accent applies.
//!
//! A Linux dead key is named by its spacing accent (`dead´` is XKB's `dead_acute`), or by
//! its combining mark where there is none (`deadU+0323` is `dead_belowdot`). Linux tables
//! have no `compose` or `accents` lines: their dead keys compose as libX11's Compose table
//! says, for every layout alike (`compose.rs`).
//!
//! A key line that starts with `extra` (`extra IntlBackslash < >`) is for a key that not
//! every keyboard of the layout has, such as the ISO key on a US keyboard: it decodes like
//! any other, but types only characters that no other key types.
//!
//! Compiling a table picks one way to type every character: the lowest level first
//! (plain, Shift, AltGr, Shift+AltGr), then the first key in file order, `extra` keys
//! last; an accented
//! character comes from a dead key and one more key, only when no key types it directly
//! (on Windows, a dead key's own character comes from the dead key and Space). It does so
//! twice, once for Caps Lock off and once for Caps Lock on.
//!
//! Caps Lock follows each system. On Windows it shifts the plain and Shift levels of a key
//! whose two levels are a letter in lower and upper case. On Linux it follows the XKB key
//! types that `xkbcomp` gives such keys: a key whose plain and Shift levels are a lower and
//! an upper case letter swaps those two levels (and its AltGr levels too when they are such
//! a pair as well); on every other level Caps Lock turns a lower case letter into its
//! capital.

use std::collections::HashMap;

use super::compose::{self, Compose};
use super::dead;
use super::keymap::TargetOs;
use crate::encode::Stroke;
use crate::keycode::Keycode;
use crate::modifiers::Modifiers;

/// What one key types at one level.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
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

/// How to type every character, for one Caps Lock state.
struct CharMap {
    ascii: [Entry; 128],
    others: HashMap<char, Entry>,
}

impl CharMap {
    fn new() -> Self {
        Self {
            ascii: [Entry::default(); 128],
            others: HashMap::new(),
        }
    }

    #[inline]
    fn get(&self, c: char) -> Option<&Entry> {
        let code = c as u32;
        let entry = if code < 128 {
            &self.ascii[code as usize]
        } else {
            self.others.get(&c)?
        };
        (entry.len > 0).then_some(entry)
    }

    /// Adds `entry` for `c` unless `c` already has one.
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

/// How a table's dead keys compose.
enum DeadKeys {
    /// Windows: a dead key and one more key, from the generic accents and the table's own
    /// lines.
    Windows(HashMap<(char, char), char>),
    /// Linux: sequences of the Compose table.
    Linux(&'static Compose),
}

/// A layout compiled for encoding and decoding.
pub(crate) struct KeyTable {
    os: TargetOs,
    /// What each usage types at each level, indexed by usage then level.
    symbols: Box<[[Option<Symbol>; 4]; 256]>,
    /// How to type each character with Caps Lock off, then on.
    chars: [CharMap; 2],
    dead: DeadKeys,
    has_altgr: bool,
}

impl KeyTable {
    /// How to type `c` with Caps Lock in state `caps`, if the layout can.
    #[inline]
    pub(crate) fn entry(&self, c: char, caps: bool) -> Option<&Entry> {
        self.chars[usize::from(caps)].get(c)
    }

    /// What `key` types with the given modifiers and Caps Lock state.
    pub(crate) fn typed(
        &self,
        key: Keycode,
        shift: bool,
        altgr: bool,
        caps: bool,
    ) -> Option<Symbol> {
        typed(
            self.os,
            &self.symbols[usize::from(key.usage())],
            shift,
            altgr,
            caps,
        )
    }

    /// What the Windows dead key `dead` followed by `base` produces.
    pub(crate) fn compose(&self, dead: char, base: char) -> Option<char> {
        match &self.dead {
            DeadKeys::Windows(pairs) => pairs.get(&(dead, base)).copied(),
            DeadKeys::Linux(_) => None,
        }
    }

    /// The Compose sequences, for a Linux table.
    pub(crate) fn sequences(&self) -> Option<&'static Compose> {
        match self.dead {
            DeadKeys::Windows(_) => None,
            DeadKeys::Linux(compose) => Some(compose),
        }
    }

    /// Whether the layout has an AltGr level at all.
    pub(crate) fn has_altgr(&self) -> bool {
        self.has_altgr
    }

    /// Every typeable character with its strokes (Caps Lock off), in code point order.
    pub(crate) fn chars(&self) -> Vec<(char, &[Stroke])> {
        let map = &self.chars[0];
        let mut all: Vec<(char, &[Stroke])> = (0u8..128)
            .filter_map(|b| {
                let c = char::from(b);
                map.get(c).map(|e| (c, e.strokes()))
            })
            .chain(map.others.iter().map(|(&c, e)| (c, e.strokes())))
            .collect();
        all.sort_unstable_by_key(|&(c, _)| c);
        all
    }
}

/// What a key with `levels` types, following `os`'s rules for Caps Lock.
fn typed(
    os: TargetOs,
    levels: &[Option<Symbol>; 4],
    shift: bool,
    altgr: bool,
    caps: bool,
) -> Option<Symbol> {
    let level = usize::from(shift) + 2 * usize::from(altgr);
    if !caps {
        return levels[level];
    }
    let char_at = |level: usize| match levels[level] {
        Some(Symbol::Char(c)) => Some(c),
        _ => None,
    };
    match os {
        TargetOs::Windows => {
            let shifts = match (char_at(0), char_at(1)) {
                (Some(lower), Some(upper)) => {
                    lower.is_lowercase() && lower.to_uppercase().eq(std::iter::once(upper))
                }
                _ => false,
            };
            levels[if shifts && !altgr { level ^ 1 } else { level }]
        }
        TargetOs::Linux => {
            // xkbcomp gives a key whose plain and Shift levels are a lower and an upper
            // case letter an ALPHABETIC type, and one whose AltGr levels are such a pair
            // too a FOUR_LEVEL_ALPHABETIC type; those types map Caps Lock to the other
            // level. Every other type leaves Caps Lock to the keysym's case conversion.
            let pair = |at: usize| {
                char_at(at).is_some_and(|c| upper(c) != c)
                    && char_at(at + 1).is_some_and(|c| lower(c) != c)
            };
            let swaps = pair(0) && (!altgr || pair(2));
            if swaps {
                levels[level ^ 1]
            } else {
                match levels[level] {
                    Some(Symbol::Char(c)) => Some(Symbol::Char(upper(c))),
                    other => other,
                }
            }
        }
    }
}

/// The capital of a lower case letter, when it is one character whose lower case is `c`
/// again (so `ß`, `µ` and `ı` stay as they are); any other character unchanged.
fn upper(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if u != c && u.to_lowercase().eq(std::iter::once(c)) => u,
        _ => c,
    }
}

/// The lower case of a capital letter, under the same rule as [`upper`].
fn lower(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) if l != c && upper(l) == c => l,
        _ => c,
    }
}

/// The keys every table has, with what they type on the plain level.
const IMPLICIT: [(Keycode, char); 4] = [
    (Keycode::SPACE, ' '),
    (Keycode::ENTER, '\n'),
    (Keycode::TAB, '\t'),
    (Keycode::NUMPAD_ENTER, '\n'),
];

/// Parses and compiles a layout table for `os`.
pub(crate) fn compile(source: &str, os: TargetOs) -> Result<KeyTable, String> {
    let mut symbols: Box<[[Option<Symbol>; 4]; 256]> = Box::new([[None; 4]; 256]);
    let mut order: Vec<Keycode> = Vec::new();
    let mut extras: Vec<Keycode> = Vec::new();
    let mut given: Vec<Keycode> = Vec::new();
    let mut extra_compose: Vec<(char, char, char)> = Vec::new();
    let mut accents: HashMap<char, Vec<char>> = HashMap::new();

    for (key, c) in IMPLICIT {
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
        if (head == "compose" || head == "accents") && os != TargetOs::Windows {
            return Err(at(format!(
                "{head} lines are for Windows tables; Linux dead keys compose as compose.txt says"
            )));
        }
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
        let extra = head == "extra";
        let head = if extra {
            tokens.next().unwrap_or_default()
        } else {
            head
        };
        let key = Keycode::from_name(head).map_err(|e| at(e.to_string()))?;
        let implicit = key == Keycode::SPACE && !given.contains(&key);
        if (order.contains(&key) && !implicit) || given.contains(&key) {
            return Err(at(format!("key {key} is defined twice or is implicit")));
        }
        if key.is_modifier() {
            return Err(at(format!("modifier key {key} cannot type characters")));
        }
        let cells: Vec<&str> = tokens.collect();
        if cells.len() > 4 {
            return Err(at(format!("{} cells, at most 4", cells.len())));
        }
        let levels = &mut symbols[usize::from(key.usage())];
        *levels = [None; 4];
        for (level, cell) in cells.iter().enumerate() {
            levels[level] = parse_cell(cell).map_err(at)?;
        }
        if key == Keycode::SPACE && levels[0] != Some(Symbol::Char(' ')) {
            return Err(at("Space types a space on its plain level".to_owned()));
        }
        given.push(key);
        if extra {
            extras.push(key);
        } else if !implicit {
            order.push(key);
        }
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

    let dead = match os {
        TargetOs::Windows => DeadKeys::Windows(HashMap::new()),
        TargetOs::Linux => DeadKeys::Linux(compose::linux()),
    };
    let mut table = KeyTable {
        os,
        symbols,
        chars: [CharMap::new(), CharMap::new()],
        dead,
        has_altgr,
    };
    let generic = |dead: char| {
        let allowed = accents.get(&dead);
        dead::generic_pairs(dead).filter(move |(base, _)| allowed.is_none_or(|a| a.contains(base)))
    };
    for caps in [false, true] {
        let dead_keys = direct(&mut table, [&order, &extras], caps);
        match &mut table.dead {
            DeadKeys::Windows(pairs) => {
                if !caps {
                    *pairs = windows_compositions(&dead_keys, &accents, &extra_compose, generic)?;
                }
                let map = &mut table.chars[usize::from(caps)];
                windows_dead_entries(map, &dead_keys, pairs, &extra_compose, generic);
            }
            DeadKeys::Linux(compose) => {
                let compose: &'static Compose = compose;
                for &(dead, _) in &dead_keys {
                    if !compose.starts_with(dead) {
                        return Err(format!("dead key {dead} starts no Compose sequence"));
                    }
                }
                linux_dead_entries(&mut table.chars[usize::from(caps)], &dead_keys, compose);
            }
        }
    }
    Ok(table)
}

/// Adds an entry for every character a key types directly with Caps Lock in state `caps`,
/// and returns the dead keys with the strokes that type them, in preference order.
fn direct(table: &mut KeyTable, keys: [&[Keycode]; 2], caps: bool) -> Vec<(char, Stroke)> {
    let mut dead_keys = Vec::new();
    let map = &mut table.chars[usize::from(caps)];
    let passes = keys.into_iter().flat_map(|keys| {
        LEVELS
            .into_iter()
            .enumerate()
            .map(move |level| (keys, level))
    });
    for (keys, (level, modifiers)) in passes {
        for &key in keys {
            let levels = &table.symbols[usize::from(key.usage())];
            let (shift, altgr) = (level % 2 == 1, level >= 2);
            match typed(table.os, levels, shift, altgr, caps) {
                Some(Symbol::Char(c)) => map.insert(c, Entry::one(Stroke::new(modifiers, key))),
                Some(Symbol::Dead(d)) => dead_keys.push((d, Stroke::new(modifiers, key))),
                None => {}
            }
        }
    }
    dead_keys
}

/// Every Windows composition: the generic ones of each dead key, limited by `accents`
/// lines, then the table's `compose` lines.
fn windows_compositions<G, I>(
    dead_keys: &[(char, Stroke)],
    accents: &HashMap<char, Vec<char>>,
    extra_compose: &[(char, char, char)],
    generic: G,
) -> Result<HashMap<(char, char), char>, String>
where
    G: Fn(char) -> I,
    I: Iterator<Item = (char, char)>,
{
    let mut pairs = HashMap::new();
    for dead in accents.keys() {
        if !dead_keys.iter().any(|&(d, _)| d == *dead) {
            return Err(format!("accents {dead}: no dead key {dead}"));
        }
    }
    for &(dead, _) in dead_keys {
        for (base, composed) in generic(dead) {
            pairs.insert((dead, base), composed);
        }
    }
    for &(dead, base, result) in extra_compose {
        if !dead_keys.iter().any(|&(d, _)| d == dead) {
            return Err(format!(
                "compose {dead} {base} {result}: no dead key {dead}"
            ));
        }
        pairs.insert((dead, base), result);
    }
    for &(dead, _) in dead_keys {
        if !dead::is_known_accent(dead) && !pairs.keys().any(|&(d, _)| d == dead) {
            return Err(format!("dead key {dead} composes nothing"));
        }
    }
    Ok(pairs)
}

/// Adds the Windows dead-key entries: each dead key's own character (dead key, Space),
/// then the compositions, with the table's own lines first.
fn windows_dead_entries<G, I>(
    map: &mut CharMap,
    dead_keys: &[(char, Stroke)],
    pairs: &HashMap<(char, char), char>,
    extra_compose: &[(char, char, char)],
    generic: G,
) where
    G: Fn(char) -> I,
    I: Iterator<Item = (char, char)>,
{
    let space = Stroke::new(Modifiers::NONE, Keycode::SPACE);
    for &(dead, stroke) in dead_keys {
        map.insert(dead, Entry::two(stroke, space));
    }
    let mut compositions: Vec<(char, char, char)> = extra_compose.to_vec();
    for &(dead, _) in dead_keys {
        compositions.extend(generic(dead).map(|(b, r)| (dead, b, r)));
    }
    for (dead, base, result) in compositions {
        if pairs.get(&(dead, base)) != Some(&result) {
            // A layout line overrode this generic pair.
            continue;
        }
        let stroke = dead_keys.iter().find(|&&(d, _)| d == dead).map(|&(_, s)| s);
        let base_entry = map.get(base).copied();
        if let (Some(stroke), Some(base_entry)) = (stroke, base_entry) {
            if base_entry.len == 1 {
                map.insert(result, Entry::two(stroke, base_entry.strokes[0]));
            }
        }
    }
}

/// Adds the Linux dead-key entries: every two-key Compose sequence whose keys the table
/// has, in the Compose file's order.
fn linux_dead_entries(map: &mut CharMap, dead_keys: &[(char, Stroke)], compose: &Compose) {
    let dead_stroke = |dead: char| dead_keys.iter().find(|&&(d, _)| d == dead).map(|&(_, s)| s);
    for &(dead, second, result) in compose.pairs() {
        let Some(first) = dead_stroke(dead) else {
            continue;
        };
        let second = match second {
            Symbol::Dead(d) => dead_stroke(d),
            Symbol::Char(c) => map.get(c).filter(|e| e.len == 1).map(|e| e.strokes[0]),
        };
        if let Some(second) = second {
            map.insert(result, Entry::two(first, second));
        }
    }
}

/// Parses one cell: `--`, a character, `U+XXXX`, or `dead` and a character.
pub(crate) fn parse_cell(cell: &str) -> Result<Option<Symbol>, String> {
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
            ("compose ^ a", "three characters"),
            ("compose ^ a â", "no dead key"),
            ("KeyA dead§", "composes nothing"),
            ("KeyA U+D800", "not a code point"),
            ("KeyA dead^\naccents ^ aq", "no generic composition for q"),
            ("KeyA a\naccents ^ a", "no dead key"),
            ("Space x", "plain level"),
            ("Space U+0020\nSpace U+0020", "twice"),
            ("Enter x", "twice or is implicit"),
            ("KeyA a\nextra KeyA b", "twice"),
            ("extra KeyNope a", "unknown key name"),
        ];
        for (source, message) in table {
            let error = compile(source, TargetOs::Windows).err().unwrap_or_default();
            assert!(error.contains(message), "{source:?}: {error}");
        }
    }

    #[test]
    fn prefers_direct_keys_and_low_levels() {
        let table = compile(
            "KeyA a A æ\nKeyB æ\nKeyC dead^ dead¨\nKeyE e E\nKeyF ê\nKeyO o O\ncompose ¨ a q\naccents ^ eE",
            TargetOs::Windows,
        )
        .unwrap();
        let keys = |c| {
            table.entry(c, false).map(|e| {
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
        let extra = compile("extra KeyA < >\nKeyB b <", TargetOs::Windows).unwrap();
        let first = |c| extra.entry(c, false).map(|e| e.strokes()[0].key);
        assert_eq!(first('<'), Some(Keycode::B));
        assert_eq!(first('>'), Some(Keycode::A));
        assert_eq!(table.compose('^', 'e'), Some('ê'));
        assert_eq!(keys('ô'), None);
        assert_eq!(table.compose('^', 'o'), None);
    }

    #[test]
    fn linux_tables_compose_as_compose_says() {
        let table = compile(
            "KeyA a A\nKeyE e E\nEqual dead´ deadˇ\nSpace U+0020 U+0020 U+00A0",
            TargetOs::Linux,
        )
        .unwrap();
        let keys = |c| {
            table.entry(c, false).map(|e| {
                e.strokes()
                    .iter()
                    .map(|s| (s.modifiers.bits(), s.key.usage()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(keys('é'), Some(vec![(0, 0x2E), (0, 0x08)]));
        assert_eq!(keys('ě'), Some(vec![(2, 0x2E), (0, 0x08)]));
        // Compose: dead acute then Space is an apostrophe, twice is the accent itself.
        assert_eq!(keys('\''), Some(vec![(0, 0x2E), (0, 0x2C)]));
        assert_eq!(keys('´'), Some(vec![(0, 0x2E), (0, 0x2E)]));
        assert_eq!(keys('\u{a0}'), Some(vec![(0x40, 0x2C)]));
        assert!(table.compose('´', 'e').is_none());
        let error = compile("KeyA a\ncompose ´ a á", TargetOs::Linux)
            .err()
            .unwrap_or_default();
        assert!(error.contains("for Windows tables"), "{error}");
        let error = compile("KeyA deadU+0300", TargetOs::Linux)
            .err()
            .unwrap_or_default();
        assert!(error.contains("starts no Compose sequence"), "{error}");
    }

    #[test]
    fn caps_lock_follows_each_system() {
        let source = "Digit2 ě 2 @\nKeyA a A æ Æ\nKeyQ q Q @ Ω\nKeyM µ M";
        let windows = compile(source, TargetOs::Windows).unwrap();
        let linux = compile(source, TargetOs::Linux).unwrap();
        let with_caps = |table: &KeyTable, key, shift, altgr| table.typed(key, shift, altgr, true);
        let c = |c| Some(Symbol::Char(c));
        // Windows shifts letter pairs on the first two levels only.
        assert_eq!(with_caps(&windows, Keycode::DIGIT2, false, false), c('ě'));
        assert_eq!(with_caps(&windows, Keycode::A, false, false), c('A'));
        assert_eq!(with_caps(&windows, Keycode::A, true, false), c('a'));
        assert_eq!(with_caps(&windows, Keycode::A, false, true), c('æ'));
        // Linux: ALPHABETIC and FOUR_LEVEL_ALPHABETIC keys swap levels, the others
        // convert the letter's case.
        assert_eq!(with_caps(&linux, Keycode::DIGIT2, false, false), c('Ě'));
        assert_eq!(with_caps(&linux, Keycode::A, true, false), c('a'));
        assert_eq!(with_caps(&linux, Keycode::A, false, true), c('Æ'));
        assert_eq!(with_caps(&linux, Keycode::A, true, true), c('æ'));
        assert_eq!(with_caps(&linux, Keycode::Q, false, true), c('@'));
        assert_eq!(with_caps(&linux, Keycode::M, false, false), c('µ'));
        assert_eq!(linux.entry('ě', true).map(|e| e.strokes().len()), None);
        assert_eq!(
            linux.entry('Ě', true).map(|e| e.strokes()[0].key),
            Some(Keycode::DIGIT2)
        );
    }
}
