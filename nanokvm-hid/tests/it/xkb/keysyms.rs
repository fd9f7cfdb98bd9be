//! Keysym names and values from `keysymdef.h`, their characters, and libX11's Compose
//! table.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// Keysym names, values and characters.
pub struct Keysyms {
    values: HashMap<String, u32>,
    /// The characters `keysymdef.h` gives legacy keysyms in its comments.
    chars: HashMap<u32, char>,
}

impl Keysyms {
    /// Reads `keysymdef.h`: `#define XK_aacute 0x00e1  /* U+00E1 LATIN SMALL ... */`. A
    /// code point in parentheses marks a mapping that is not one to one; it is the one
    /// libX11 and libxkbcommon use all the same.
    pub fn load(path: &Path) -> Self {
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut values = HashMap::new();
        let mut chars = HashMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("#define XK_") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let Some(value) = value
                .strip_prefix("0x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            else {
                continue;
            };
            values.insert(name.to_owned(), value);
            let comment = rest.split_once("/*").map_or("", |(_, c)| c);
            if let Some(code) = comment
                .trim_start()
                .trim_start_matches('(')
                .strip_prefix("U+")
                .and_then(|c| c.get(..c.find(|ch: char| !ch.is_ascii_hexdigit())?))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .and_then(char::from_u32)
            {
                chars.entry(value).or_insert(code);
            }
        }
        Self { values, chars }
    }

    /// The value of a keysym written as XKB and Compose files write them: a name, `U20AC`
    /// or a number (`0x1001E9E`).
    pub fn value(&self, name: &str) -> Option<u32> {
        if let Some(hex) = name.strip_prefix("0x") {
            return u32::from_str_radix(hex, 16).ok();
        }
        if name.len() > 1 && name.bytes().all(|b| b.is_ascii_digit()) {
            return name.parse().ok();
        }
        if let Some(code) = name
            .strip_prefix('U')
            .filter(|hex| hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        {
            // Unicode keysyms in the Latin-1 range are the Latin-1 keysyms themselves.
            let latin1 = (0x20..=0x7E).contains(&code) || (0xA0..=0xFF).contains(&code);
            return Some(if latin1 { code } else { 0x0100_0000 | code });
        }
        self.values.get(name).copied()
    }

    /// The character a keysym types, if it types one.
    pub fn char(&self, value: u32) -> Option<char> {
        match value {
            0x20..=0x7E | 0xA0..=0xFF => char::from_u32(value),
            0x0100_0100..=0x0110_FFFF => char::from_u32(value - 0x0100_0000),
            _ => self.chars.get(&value).copied(),
        }
    }

    /// The character of a keysym name.
    pub fn char_of(&self, name: &str) -> Option<char> {
        self.value(name).and_then(|v| self.char(v))
    }

    /// Whether the keysym is a lower case letter with a capital (libxkbcommon's
    /// `XkbKSIsLower`, by the Unicode case of its character).
    pub fn is_lower(&self, name: &str) -> bool {
        self.char_of(name).is_some_and(|c| {
            let mut upper = c.to_uppercase();
            matches!((upper.next(), upper.next()), (Some(u), None) if u != c)
        })
    }

    /// Whether the keysym is a capital letter with a lower case.
    pub fn is_upper(&self, name: &str) -> bool {
        self.char_of(name).is_some_and(|c| {
            let mut lower = c.to_lowercase();
            matches!((lower.next(), lower.next()), (Some(l), None) if l != c)
        })
    }
}

/// What a run of keysyms is in the Compose table.
#[derive(Debug, PartialEq)]
pub enum Node {
    /// A whole sequence, with its result.
    Done(String),
    /// The start of longer sequences.
    More,
}

/// libX11's Compose table, by keysym values.
pub struct Compose {
    pub nodes: HashMap<Vec<u32>, Node>,
    /// Every whole sequence, in file order.
    pub sequences: Vec<(Vec<u32>, String)>,
}

impl Compose {
    /// Reads a Compose file: `<dead_acute> <a> : "á" aacute # comment`. Sequences with a
    /// keysym that `keysymdef.h` does not know are left out; the first definition of a
    /// sequence counts.
    pub fn load(path: &Path, keysyms: &Keysyms) -> Self {
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut nodes = HashMap::new();
        let mut sequences = Vec::new();
        for line in text.lines() {
            let line = line.trim_start();
            if !line.starts_with('<') {
                continue;
            }
            let Some((keys, rest)) = line.split_once(':') else {
                continue;
            };
            let Some(keys) = keys
                .split_whitespace()
                .map(|k| keysyms.value(k.trim_start_matches('<').trim_end_matches('>')))
                .collect::<Option<Vec<u32>>>()
            else {
                continue;
            };
            let Some(result) = quoted(rest) else {
                continue;
            };
            if nodes.contains_key(&keys) {
                continue;
            }
            for end in 1..keys.len() {
                nodes.entry(keys[..end].to_vec()).or_insert(Node::More);
            }
            nodes.insert(keys.clone(), Node::Done(result.clone()));
            sequences.push((keys, result));
        }
        Self { nodes, sequences }
    }
}

/// The string between the first pair of double quotes, with its escapes resolved.
fn quoted(text: &str) -> Option<String> {
    let mut chars = text.split_once('"')?.1.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'x' | 'X' => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                digit @ '0'..='7' => {
                    let mut code = digit.to_digit(8)?;
                    for _ in 0..2 {
                        let next = chars.clone().next().and_then(|c| c.to_digit(8));
                        let Some(d) = next else { break };
                        code = code * 8 + d;
                        chars.next();
                    }
                    out.push(char::from_u32(code)?);
                }
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
}
