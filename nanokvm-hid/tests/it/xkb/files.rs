//! A reader for the parts of XKB's text format that a layout's main keys depend on: symbols
//! sections with their `include` statements and merge modes, and key types.
//!
//! It follows libxkbcommon's rules. A `key` statement or an `include` overrides what came
//! before it level by level, where an empty (`NoSymbol`) level keeps the old one; `augment`
//! only fills empty levels, `replace` replaces the whole key. Inside an include string,
//! `a+b` merges `b` over `a` and `a|b` merges it under. A key without an explicit type gets
//! the type `xkbcomp` picks from its keysyms, or the section's `key.type` default.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use super::keysyms::Keysyms;

#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// A name, keysym or number.
    Ident(String),
    /// A key name, `<AE01>`.
    Key(String),
    Str(String),
    Punct(char),
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                chars.find(|&c| c == '\n');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
            }
            '#' => {
                chars.find(|&c| c == '\n');
            }
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => s.extend(chars.next()),
                        c => s.push(c),
                    }
                }
                tokens.push(Token::Str(s));
            }
            '<' => {
                let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                tokens.push(Token::Key(name));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut s = String::from(c);
                while let Some(&c) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                tokens.push(Token::Ident(s));
            }
            c => tokens.push(Token::Punct(c)),
        }
    }
    tokens
}

/// One `xkb_symbols` or `xkb_types` section of a file.
struct Section {
    name: String,
    default: bool,
    body: Vec<Token>,
}

fn sections(tokens: &[Token]) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut flags: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Ident(word) if word.starts_with("xkb_") => {
                let Some(Token::Str(name)) = tokens.get(i + 1) else {
                    panic!("section without a name after {word}");
                };
                let (body, next) = block(tokens, i + 2);
                sections.push(Section {
                    name: name.clone(),
                    default: flags.contains(&"default"),
                    body: body.to_vec(),
                });
                flags.clear();
                i = next;
            }
            Token::Ident(flag) => {
                flags.push(flag);
                i += 1;
            }
            _ => i += 1,
        }
    }
    sections
}

/// The tokens inside the brace block that opens at `start`, and the index after it.
fn block(tokens: &[Token], start: usize) -> (&[Token], usize) {
    assert_eq!(
        tokens.get(start),
        Some(&Token::Punct('{')),
        "expected a block"
    );
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Token::Punct('{' | '[' | '(') => depth += 1,
            Token::Punct('}' | ']' | ')') => {
                depth -= 1;
                if depth == 0 {
                    return (&tokens[start + 1..i], i + 1);
                }
            }
            _ => {}
        }
    }
    panic!("unclosed block");
}

/// Splits `tokens` at the top-level occurrences of `separator`.
fn split(tokens: &[Token], separator: char) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct('{' | '[' | '(') => depth += 1,
            Token::Punct('}' | ']' | ')') => depth -= 1,
            Token::Punct(c) if *c == separator && depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tokens[start..]);
    parts
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Merge {
    Override,
    Augment,
    Replace,
}

/// One key of a keymap, group 1 only.
#[derive(Clone, Debug, Default)]
pub struct KeyDef {
    /// The keysym names of each level; `None` for `NoSymbol` or a level with several
    /// keysyms.
    pub levels: Vec<Option<String>>,
    /// The explicit type, if any.
    pub kind: Option<String>,
}

/// The keys of a keymap, by XKB key name.
pub type Keys = BTreeMap<String, KeyDef>;

fn merge_key(keys: &mut Keys, name: &str, from: KeyDef, mode: Merge) {
    let Some(into) = keys.get_mut(name) else {
        keys.insert(name.to_owned(), from);
        return;
    };
    if mode == Merge::Replace {
        *into = from;
        return;
    }
    let width = into.levels.len().max(from.levels.len());
    into.levels.resize(width, None);
    for (i, level) in from.levels.into_iter().enumerate() {
        if level.is_some() && (mode == Merge::Override || into.levels[i].is_none()) {
            into.levels[i] = level;
        }
    }
    if from.kind.is_some() && (mode == Merge::Override || into.kind.is_none()) {
        into.kind = from.kind;
    }
}

/// A key type: which levels its modifiers select.
#[derive(Debug, Default)]
pub struct KeyType {
    modifiers: BTreeSet<String>,
    map: Vec<(BTreeSet<String>, usize)>,
}

impl KeyType {
    /// The level (from 0) that the modifiers `pressed` select.
    pub fn level(&self, pressed: &[&str]) -> usize {
        let active: BTreeSet<String> = pressed
            .iter()
            .filter(|m| self.modifiers.contains(**m))
            .map(|m| (*m).to_owned())
            .collect();
        self.map
            .iter()
            .find(|(mods, _)| *mods == active)
            .map_or(0, |&(_, level)| level - 1)
    }
}

fn modifier_set(tokens: &[Token]) -> BTreeSet<String> {
    tokens
        .iter()
        .filter_map(|t| match t {
            // Mod5 is the real modifier behind LevelThree in every XKB keymap.
            Token::Ident(m) if m == "Mod5" => Some("LevelThree".to_owned()),
            Token::Ident(m) if m != "None" => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// The XKB data folder.
pub struct Xkb {
    root: PathBuf,
    /// Other names of keys (`<AC12>` for `<BKSL>`), from the evdev keycodes.
    aliases: HashMap<String, String>,
}

impl Xkb {
    pub fn new(root: &Path) -> Self {
        let mut xkb = Self {
            root: root.to_owned(),
            aliases: HashMap::new(),
        };
        let evdev = xkb.section("keycodes", "evdev");
        for statement in split(&evdev.body, ';') {
            if let [
                Token::Ident(word),
                Token::Key(alias),
                Token::Punct('='),
                Token::Key(key),
            ] = statement
            {
                if word == "alias" {
                    xkb.aliases.insert(alias.clone(), key.clone());
                }
            }
        }
        xkb
    }

    /// A key's own name, for a name that may be an alias.
    fn canonical<'a>(&'a self, name: &'a str) -> &'a str {
        self.aliases.get(name).map_or(name, String::as_str)
    }

    fn read(&self, kind: &str, file: &str) -> Vec<Section> {
        let path = self.root.join(kind).join(file);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        sections(&tokenize(&text))
    }

    /// The name of the default section of `symbols/<file>`.
    pub fn default_section(&self, file: &str) -> String {
        let sections = self.read("symbols", file);
        let section = sections.iter().find(|s| s.default).unwrap_or(&sections[0]);
        section.name.clone()
    }

    fn section(&self, kind: &str, reference: &str) -> Section {
        let (file, name) = match reference.split_once('(') {
            Some((file, rest)) => (file, Some(rest.trim_end_matches(')'))),
            None => (reference, None),
        };
        let mut sections = self.read(kind, file);
        let index = match name {
            Some(name) => sections.iter().position(|s| s.name == name),
            None => sections.iter().position(|s| s.default).or(Some(0)),
        };
        let index = index.unwrap_or_else(|| panic!("no section {reference} in {kind}"));
        sections.swap_remove(index)
    }

    /// The keys of an include string such as `pc+cz(basic)+inet(evdev)`, group 1 only.
    pub fn symbols(&self, include: &str) -> Keys {
        let mut keys = Keys::new();
        let mut mode = Merge::Override;
        let mut part = String::new();
        for c in include.chars().chain(std::iter::once('+')) {
            if c == '+' || c == '|' {
                // `file(section):2` puts the section's group 1 into group 2.
                let group1 = part.split_once(':').is_none_or(|(_, group)| group == "1");
                let reference = part.split(':').next().unwrap_or_default();
                if !reference.is_empty() && group1 {
                    for (name, key) in self.section_symbols(reference) {
                        merge_key(&mut keys, &name, key, mode);
                    }
                }
                part.clear();
                mode = if c == '+' {
                    Merge::Override
                } else {
                    Merge::Augment
                };
            } else {
                part.push(c);
            }
        }
        keys
    }

    fn section_symbols(&self, reference: &str) -> Keys {
        let section = self.section("symbols", reference);
        let mut keys = Keys::new();
        let mut default_type: Option<String> = None;
        let tokens = &section.body;
        let mut i = 0;
        while i < tokens.len() {
            let mode = match &tokens[i] {
                Token::Ident(word) if word == "augment" => Some(Merge::Augment),
                Token::Ident(word) if word == "override" => Some(Merge::Override),
                Token::Ident(word) if word == "replace" => Some(Merge::Replace),
                Token::Ident(word) if word == "include" => Some(Merge::Override),
                _ => None,
            };
            if let (Some(mode), Some(Token::Str(included))) = (mode, tokens.get(i + 1)) {
                for (name, key) in self.symbols(included) {
                    merge_key(&mut keys, &name, key, mode);
                }
                i += 2;
                continue;
            }
            let start = i + usize::from(mode.is_some());
            let mode = mode.unwrap_or(Merge::Override);
            match (&tokens.get(start), &tokens.get(start + 1)) {
                (Some(Token::Ident(word)), Some(Token::Key(name))) if word == "key" => {
                    let (body, next) = block(tokens, start + 2);
                    let mut key = key_def(body);
                    if key.kind.is_none() {
                        key.kind.clone_from(&default_type);
                    }
                    merge_key(&mut keys, self.canonical(name), key, mode);
                    i = next;
                }
                (Some(Token::Ident(word)), Some(Token::Punct('.'))) if word == "key" => {
                    let end = statement_end(tokens, start);
                    let statement = &tokens[start..end];
                    if statement.get(2) == Some(&Token::Ident("type".to_owned())) {
                        if let Some(Token::Str(kind)) = statement.last() {
                            default_type = Some(kind.clone());
                        }
                    }
                    i = end;
                }
                _ => i = statement_end(tokens, start),
            }
        }
        keys
    }

    /// Every key type of `types/complete`, the types of the evdev rules.
    pub fn types(&self) -> HashMap<String, KeyType> {
        let mut types = HashMap::new();
        self.section_types("complete", &mut types);
        types
    }

    fn section_types(&self, reference: &str, types: &mut HashMap<String, KeyType>) {
        let section = self.section("types", reference);
        let tokens = &section.body;
        let mut i = 0;
        while i < tokens.len() {
            match (&tokens[i], tokens.get(i + 1)) {
                (Token::Ident(word), Some(Token::Str(included))) if word == "include" => {
                    for part in included.split(['+', '|']) {
                        self.section_types(part, types);
                    }
                    i += 2;
                }
                (Token::Ident(word), Some(Token::Str(name))) if word == "type" => {
                    let (body, next) = block(tokens, i + 2);
                    types.insert(name.clone(), key_type(body));
                    i = next;
                }
                _ => i = statement_end(tokens, i),
            }
        }
    }
}

/// The index after the `;` that ends the statement starting at `start`.
fn statement_end(tokens: &[Token], start: usize) -> usize {
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Token::Punct('{' | '[' | '(') => depth += 1,
            Token::Punct('}' | ']' | ')') => depth -= 1,
            Token::Punct(';') if depth == 0 => return i + 1,
            _ => {}
        }
    }
    tokens.len()
}

fn key_def(body: &[Token]) -> KeyDef {
    let mut key = KeyDef::default();
    let mut bare_groups = 0;
    for item in split(body, ',') {
        match item {
            [Token::Punct('['), .., Token::Punct(']')] => {
                bare_groups += 1;
                if bare_groups == 1 {
                    key.levels = levels(&item[1..item.len() - 1]);
                }
            }
            [Token::Ident(word), rest @ ..] if word == "type" => {
                let group1 = !rest.contains(&Token::Punct('['))
                    || rest.contains(&Token::Ident("Group1".to_owned()));
                if let (true, Some(Token::Str(kind))) = (group1, rest.last()) {
                    key.kind = Some(kind.clone());
                }
            }
            [
                Token::Ident(word),
                Token::Punct('['),
                Token::Ident(group),
                Token::Punct(']'),
                Token::Punct('='),
                Token::Punct('['),
                list @ ..,
                Token::Punct(']'),
            ] if word == "symbols" && group == "Group1" => {
                key.levels = levels(list);
            }
            _ => {}
        }
    }
    key
}

fn levels(list: &[Token]) -> Vec<Option<String>> {
    split(list, ',')
        .into_iter()
        .map(|level| match level {
            [Token::Ident(name)]
                if !name.eq_ignore_ascii_case("NoSymbol") && !name.eq_ignore_ascii_case("any") =>
            {
                Some(name.clone())
            }
            _ => None,
        })
        .collect()
}

fn key_type(body: &[Token]) -> KeyType {
    let mut kind = KeyType::default();
    for statement in split(body, ';') {
        match statement {
            [Token::Ident(word), Token::Punct('='), mods @ ..] if word == "modifiers" => {
                kind.modifiers = modifier_set(mods);
            }
            [Token::Ident(word), Token::Punct('['), rest @ ..] if word == "map" => {
                let close = rest
                    .iter()
                    .position(|t| *t == Token::Punct(']'))
                    .unwrap_or(rest.len());
                let level = match rest.last() {
                    Some(Token::Ident(level)) => level
                        .trim_start_matches("Level")
                        .parse::<usize>()
                        .unwrap_or_else(|_| panic!("bad level {level}")),
                    other => panic!("bad map entry ending in {other:?}"),
                };
                kind.map.push((modifier_set(&rest[..close]), level));
            }
            _ => {}
        }
    }
    kind
}

/// The type `xkbcomp` gives a key that names none, from its keysyms (libxkbcommon's
/// `FindAutomaticType`).
pub fn automatic_type(levels: &[Option<String>], keysyms: &Keysyms) -> &'static str {
    let sym = |i: usize| levels.get(i).cloned().flatten();
    let lower = |i| sym(i).is_some_and(|s| keysyms.is_lower(&s));
    let upper = |i| sym(i).is_some_and(|s| keysyms.is_upper(&s));
    let keypad = |i| sym(i).is_some_and(|s| s.starts_with("KP_"));
    match levels.len() {
        0 | 1 => "ONE_LEVEL",
        2 if lower(0) && upper(1) => "ALPHABETIC",
        2 if keypad(0) || keypad(1) => "KEYPAD",
        2 => "TWO_LEVEL",
        3 | 4 if lower(0) && upper(1) => {
            if levels.len() == 4 && lower(2) && upper(3) {
                "FOUR_LEVEL_ALPHABETIC"
            } else {
                "FOUR_LEVEL_SEMIALPHABETIC"
            }
        }
        3 | 4 if keypad(0) || keypad(1) => "FOUR_LEVEL_KEYPAD",
        3 | 4 => "FOUR_LEVEL",
        _ if lower(0) && upper(1) => {
            if lower(2) && upper(3) {
                "EIGHT_LEVEL_ALPHABETIC"
            } else {
                "EIGHT_LEVEL_SEMIALPHABETIC"
            }
        }
        _ => "EIGHT_LEVEL",
    }
}
