//! The Linux tables against the system's own XKB and Compose files.
//!
//! Each Linux table must type, on every key and level, what XKB's symbols for the layout
//! say (`pc+<layout>+inet(evdev)`, what the evdev rules give a keyboard), and its dead keys
//! must compose as libX11's `en_US.UTF-8` Compose table says. The files are read and
//! resolved here, independently of the tables: `files.rs` follows XKB's includes, merge
//! modes and key types, `keysyms.rs` reads `keysymdef.h` and the Compose table. The
//! library is only asked from the outside, by decoding key presses.
//!
//! The files come from the Debian packages `xkb-data`, `libx11-data` and `x11proto-dev`,
//! which `.ci/run` installs. Without them the tests say why and pass, unless
//! `NANOKVM_REQUIRE_XKB` is set, as `.ci/run` does.

#![allow(clippy::print_stderr)] // A skipped test says why.

mod files;
mod keysyms;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use nanokvm_hid::{Decoded, Decoder, Keycode, Keymap, Layout, Modifiers, Stroke, TargetOs, decode};

use files::{Keys, Xkb, automatic_type};
use keysyms::{Compose, Keysyms, Node};

const XKB_DIR: &str = "/usr/share/X11/xkb";
const COMPOSE_FILE: &str = "/usr/share/X11/locale/en_US.UTF-8/Compose";
const KEYSYMDEF: &str = "/usr/include/X11/keysymdef.h";

/// The XKB symbols each layout's Linux table follows: the file, and the section when it is
/// not the file's default one. The default is named too, so that a change of default in
/// XKB shows up here.
const SOURCES: [(Layout, &str, Option<&str>, &str); 19] = [
    (Layout::Us, "us", None, "basic"),
    (Layout::Gb, "gb", None, "basic"),
    (Layout::De, "de", None, "basic"),
    (Layout::DeCh, "ch", None, "basic"),
    (Layout::Fr, "fr", None, "basic"),
    (Layout::FrCh, "ch", Some("fr"), "basic"),
    (Layout::Be, "be", None, "basic"),
    (Layout::Es, "es", None, "basic"),
    (Layout::It, "it", None, "basic"),
    (Layout::Pt, "pt", None, "basic"),
    (Layout::Br, "br", None, "abnt2"),
    (Layout::Se, "se", None, "basic"),
    (Layout::No, "no", None, "basic"),
    (Layout::Dk, "dk", None, "basic"),
    (Layout::Fi, "fi", None, "kotoistus"),
    (Layout::Pl, "pl", None, "basic"),
    (Layout::Cz, "cz", None, "basic"),
    (Layout::Hu, "hu", None, "basic"),
    (Layout::Jp, "jp", None, "106"),
];

/// The keys of the main block by XKB name, with the HID usages that reach them on Linux
/// (the kernel's HID map and the evdev keycodes): both the ANSI backslash key and the ISO
/// key left of Enter arrive as `<BKSL>`.
const KEYS: [(&str, &[u8]); 50] = [
    ("TLDE", &[0x35]),
    ("AE01", &[0x1E]),
    ("AE02", &[0x1F]),
    ("AE03", &[0x20]),
    ("AE04", &[0x21]),
    ("AE05", &[0x22]),
    ("AE06", &[0x23]),
    ("AE07", &[0x24]),
    ("AE08", &[0x25]),
    ("AE09", &[0x26]),
    ("AE10", &[0x27]),
    ("AE11", &[0x2D]),
    ("AE12", &[0x2E]),
    ("AE13", &[0x89]),
    ("AD01", &[0x14]),
    ("AD02", &[0x1A]),
    ("AD03", &[0x08]),
    ("AD04", &[0x15]),
    ("AD05", &[0x17]),
    ("AD06", &[0x1C]),
    ("AD07", &[0x18]),
    ("AD08", &[0x0C]),
    ("AD09", &[0x12]),
    ("AD10", &[0x13]),
    ("AD11", &[0x2F]),
    ("AD12", &[0x30]),
    ("AC01", &[0x04]),
    ("AC02", &[0x16]),
    ("AC03", &[0x07]),
    ("AC04", &[0x09]),
    ("AC05", &[0x0A]),
    ("AC06", &[0x0B]),
    ("AC07", &[0x0D]),
    ("AC08", &[0x0E]),
    ("AC09", &[0x0F]),
    ("AC10", &[0x33]),
    ("AC11", &[0x34]),
    ("BKSL", &[0x31, 0x32]),
    ("LSGT", &[0x64]),
    ("AB01", &[0x1D]),
    ("AB02", &[0x1B]),
    ("AB03", &[0x06]),
    ("AB04", &[0x19]),
    ("AB05", &[0x05]),
    ("AB06", &[0x11]),
    ("AB07", &[0x10]),
    ("AB08", &[0x36]),
    ("AB09", &[0x37]),
    ("AB10", &[0x38]),
    ("AB11", &[0x87]),
];

/// The name the tables give each dead keysym: its spacing accent, or its combining mark
/// where it has none.
const DEAD_KEYS: [(&str, char); 21] = [
    ("dead_grave", '`'),
    ("dead_acute", '´'),
    ("dead_circumflex", '^'),
    ("dead_tilde", '~'),
    ("dead_diaeresis", '¨'),
    ("dead_abovering", '°'),
    ("dead_caron", 'ˇ'),
    ("dead_breve", '˘'),
    ("dead_cedilla", '¸'),
    ("dead_ogonek", '˛'),
    ("dead_doubleacute", '˝'),
    ("dead_abovedot", '˙'),
    ("dead_macron", '¯'),
    ("dead_belowdot", '\u{323}'),
    ("dead_hook", '\u{309}'),
    ("dead_horn", '\u{31B}'),
    ("dead_stroke", '\u{338}'),
    ("dead_greek", 'µ'),
    ("dead_currency", '¤'),
    ("dead_belowcomma", '\u{326}'),
    ("dead_belowmacron", '\u{331}'),
];

/// The modifiers of the four levels: plain, Shift, AltGr, Shift+AltGr.
const LEVELS: [Modifiers; 4] = [
    Modifiers::NONE,
    Modifiers::LEFT_SHIFT,
    Modifiers::ALT_GR,
    Modifiers::LEFT_SHIFT.union(Modifiers::ALT_GR),
];

/// The system files, read once.
struct System {
    xkb: Xkb,
    keysyms: Keysyms,
    compose: Compose,
}

fn system() -> Option<&'static System> {
    static SYSTEM: OnceLock<Option<System>> = OnceLock::new();
    SYSTEM
        .get_or_init(|| {
            let missing: Vec<&str> = [XKB_DIR, COMPOSE_FILE, KEYSYMDEF]
                .into_iter()
                .filter(|path| !Path::new(path).exists())
                .collect();
            if !missing.is_empty() {
                let reason = format!(
                    "cannot compare with XKB: {} missing (Debian packages xkb-data, \
                     libx11-data and x11proto-dev; .ci/run installs them)",
                    missing.join(", ")
                );
                assert!(
                    std::env::var_os("NANOKVM_REQUIRE_XKB").is_none(),
                    "{reason}"
                );
                eprintln!("skipped: {reason}");
                return None;
            }
            let keysyms = Keysyms::load(Path::new(KEYSYMDEF));
            let compose = Compose::load(Path::new(COMPOSE_FILE), &keysyms);
            Some(System {
                xkb: Xkb::new(Path::new(XKB_DIR)),
                keysyms,
                compose,
            })
        })
        .as_ref()
}

/// One key at one level of a layout, as XKB defines it.
struct Position {
    usage: u8,
    level: usize,
    /// The keysym name; `None` for nothing.
    keysym: Option<String>,
}

impl Position {
    fn stroke(&self) -> Stroke {
        Stroke::new(LEVELS[self.level], Keycode::from_usage(self.usage))
    }
}

/// Every key and level of a layout's main block as XKB resolves it, in level order then
/// key order; the AltGr levels only when right Alt is XKB's level 3 shift.
fn positions(system: &System, layout: Layout) -> Vec<Position> {
    let (file, section, default) = SOURCES
        .iter()
        .find(|s| s.0 == layout)
        .map(|&(_, file, section, default)| (file, section, default))
        .unwrap_or_else(|| panic!("no XKB source for {layout}"));
    assert_eq!(
        system.xkb.default_section(file),
        default,
        "the default variant of symbols/{file}"
    );
    let reference = section.map_or_else(|| file.to_owned(), |s| format!("{file}({s})"));
    let keys: Keys = system.xkb.symbols(&format!("pc+{reference}+inet(evdev)"));
    let types = system.xkb.types();
    let level3 = keys
        .get("RALT")
        .and_then(|k| k.levels.first().cloned().flatten())
        .is_some_and(|sym| sym == "ISO_Level3_Shift");
    let pressed: [&[&str]; 4] = [&[], &["Shift"], &["LevelThree"], &["Shift", "LevelThree"]];
    let mut out = Vec::new();
    for (level, pressed) in pressed.iter().enumerate() {
        for (name, usages) in KEYS {
            let keysym = keys.get(name).and_then(|key| {
                if level >= 2 && !level3 {
                    return None;
                }
                let kind = key
                    .kind
                    .clone()
                    .unwrap_or_else(|| automatic_type(&key.levels, &system.keysyms).to_owned());
                let kind = types
                    .get(&kind)
                    .unwrap_or_else(|| panic!("{layout}: <{name}> has unknown type {kind}"));
                key.levels.get(kind.level(pressed)).cloned().flatten()
            });
            for &usage in usages {
                out.push(Position {
                    usage,
                    level,
                    keysym: keysym.clone(),
                });
            }
        }
    }
    // Space comes from pc(pc105) and the layouts, like the other keys.
    let space = keys.get("SPCE").expect("every layout has <SPCE>");
    for (level, pressed) in pressed.iter().enumerate() {
        if level >= 2 && !level3 {
            continue;
        }
        let kind = space
            .kind
            .clone()
            .unwrap_or_else(|| automatic_type(&space.levels, &system.keysyms).to_owned());
        out.push(Position {
            usage: Keycode::SPACE.usage(),
            level,
            keysym: space
                .levels
                .get(types[&kind].level(pressed))
                .cloned()
                .flatten(),
        });
    }
    out.sort_by_key(|p| p.level);
    out
}

/// What the library decodes for one stroke on a fresh decoder: the text, and the dead key
/// left pending.
fn press(keymap: Keymap, strokes: &[Stroke]) -> (Vec<Decoded>, Option<char>) {
    let mut decoder = Decoder::new(keymap);
    let mut events = Vec::new();
    for stroke in strokes {
        events.extend(decoder.feed_stroke(stroke));
    }
    (events, decoder.pending_dead_key())
}

fn dead_name(keysym: &str) -> Option<char> {
    DEAD_KEYS
        .iter()
        .find(|(name, _)| *name == keysym)
        .map(|&(_, c)| c)
}

#[test]
fn linux_tables_match_xkb_key_for_key() {
    let Some(system) = system() else { return };
    for &layout in Layout::ALL {
        let keymap = layout.on(TargetOs::Linux);
        let positions = positions(system, layout);
        for p in &positions {
            let what = format!(
                "{keymap}: usage {:#04x} at level {} ({:?})",
                p.usage, p.level, p.keysym
            );
            let (events, pending) = press(keymap, &[p.stroke()]);
            let keysym = p.keysym.as_deref();
            match keysym.and_then(|k| system.keysyms.char_of(k)) {
                Some(c) => assert_eq!((events, pending), (vec![Decoded::Text(c)], None), "{what}"),
                None => match keysym.filter(|k| k.starts_with("dead_")) {
                    Some(dead) => {
                        let name =
                            dead_name(dead).unwrap_or_else(|| panic!("{what}: new dead key"));
                        assert_eq!((events, pending), (vec![], Some(name)), "{what}");
                    }
                    None => assert!(
                        matches!(events[..], [Decoded::Key(_)]) && pending.is_none(),
                        "{what}: expected nothing typed, got {events:?}"
                    ),
                },
            }
        }
        // And the table uses no other keys.
        let compared: BTreeSet<u8> = positions.iter().map(|p| p.usage).collect();
        for (c, strokes) in keymap.chars() {
            for stroke in strokes {
                let usage = stroke.key.usage();
                let implicit = [Keycode::ENTER, Keycode::TAB, Keycode::NUMPAD_ENTER];
                assert!(
                    compared.contains(&usage) || implicit.contains(&stroke.key),
                    "{keymap}: {c:?} uses usage {usage:#04x}, which XKB's main block lacks"
                );
            }
        }
    }
}

#[test]
fn linux_dead_keys_compose_as_compose_says() {
    let Some(system) = system() else { return };
    let value = |p: &Position| p.keysym.as_deref().and_then(|k| system.keysyms.value(k));
    for &layout in Layout::ALL {
        let keymap = layout.on(TargetOs::Linux);
        let positions = positions(system, layout);
        let mut dead_keys: Vec<&Position> = Vec::new();
        for p in &positions {
            let dead = p.keysym.as_deref().is_some_and(|k| k.starts_with("dead_"));
            if dead && !dead_keys.iter().any(|d| d.keysym == p.keysym) {
                dead_keys.push(p);
            }
        }
        let first_at = |v: u32| positions.iter().find(|p| value(p) == Some(v));
        // A dead key, then every key at every level.
        for dead in &dead_keys {
            let dead_value = value(dead).expect("dead keysyms are in keysymdef.h");
            for p in positions.iter().filter(|p| p.keysym.is_some()) {
                let strokes = [dead.stroke(), p.stroke()];
                let typed = decode(&strokes, keymap);
                let what = format!(
                    "{keymap}: {:?} then {:?} at level {}",
                    dead.keysym, p.keysym, p.level
                );
                let node = value(p).and_then(|v| system.compose.nodes.get(&vec![dead_value, v]));
                match node {
                    Some(Node::Done(result)) => {
                        assert_eq!(&typed, result, "{what}");
                        let mut chars = result.chars();
                        let same_dead = p.keysym == dead.keysym;
                        let space = p.keysym.as_deref() == Some("space");
                        if let (Some(c), None) = (chars.next(), chars.next()) {
                            if p.level < 2 || same_dead || space {
                                let strokes = keymap.strokes(c);
                                assert!(strokes.is_some(), "{what}: cannot type {c:?}");
                                assert_eq!(
                                    decode(strokes.unwrap_or_default(), keymap),
                                    result.as_str()
                                );
                            }
                        }
                    }
                    // The start of a longer sequence, or no sequence: nothing yet, or
                    // nothing at all (libX11 drops a sequence that cannot be completed).
                    Some(Node::More) | None => assert_eq!(typed, "", "{what}"),
                }
            }
        }
        // Longer sequences, with the first key that types each keysym.
        for (keys, result) in &system.compose.sequences {
            if keys.len() < 3 || !dead_keys.iter().any(|d| value(d) == Some(keys[0])) {
                continue;
            }
            let Some(strokes) = keys
                .iter()
                .map(|&v| first_at(v).map(Position::stroke))
                .collect::<Option<Vec<Stroke>>>()
            else {
                continue;
            };
            assert_eq!(&decode(&strokes, keymap), result, "{keymap}: {keys:x?}");
        }
    }
}

#[test]
fn the_reader_follows_includes_and_merge_modes() {
    let Some(system) = system() else { return };
    // cz(basic) leaves AltGr+R to "latin", which it includes first.
    let keys = system.xkb.symbols("pc+cz(basic)");
    let r = &keys["AD04"].levels;
    assert_eq!(r[2].as_deref(), Some("paragraph"));
    // pc(pc105) gives every layout the ISO key; us(basic) does not change it.
    let keys = system.xkb.symbols("pc+us");
    assert_eq!(keys["LSGT"].levels[0].as_deref(), Some("less"));
    assert_eq!(keys["RALT"].levels[0].as_deref(), Some("Alt_R"));
    // de(basic) gives ß an explicit type with a Caps Lock level.
    let keys = system.xkb.symbols("pc+de");
    assert_eq!(keys["AE11"].kind.as_deref(), Some("FOUR_LEVEL_PLUS_LOCK"));
    assert_eq!(system.keysyms.char_of("U1E9E"), Some('ẞ'));
    assert_eq!(system.keysyms.char_of("ecaron"), Some('ě'));
    let acute = system.keysyms.value("dead_acute").unwrap_or_default();
    let space = system.keysyms.value("space").unwrap_or_default();
    assert_eq!(
        system.compose.nodes.get(&vec![acute, space]),
        Some(&Node::Done("'".to_owned()))
    );
}
