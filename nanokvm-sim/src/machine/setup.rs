//! The target's firmware setup screen: tabs, items, and the boot order.
//!
//! Left and Right choose a tab, Up and Down an item. On the `Boot` tab the items are
//! the boot devices in order; `+` or F6 moves the selected one up, `-` or F5 down. F10
//! saves and resets, Esc leaves without saving (and the machine boots on). On the
//! `Exit` tab Enter runs the selected item. The pointer is relative only here: a left
//! click on a tab's name chooses it, on a boot device selects it.

use crate::config::BootDevice;

/// The tabs, left to right.
pub(super) const TABS: [&str; 4] = ["Main", "Advanced", "Boot", "Exit"];
const BOOT_TAB: usize = 2;
const EXIT_TAB: usize = 3;
const EXIT_ITEMS: [&str; 2] = ["Save Changes and Reset", "Discard Changes and Exit"];

/// What a key or click asked the firmware to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Unchanged,
    Changed,
    /// Save this boot order and reset.
    Save([BootDevice; 3]),
    /// Leave without saving.
    Leave,
}

/// A key the setup screen reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Key {
    Left,
    Right,
    Up,
    Down,
    Raise,
    Lower,
    Enter,
    Save,
    Escape,
}

/// The setup screen's state: the chosen tab and item, and the boot order being edited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Setup {
    pub tab: usize,
    pub item: usize,
    pub order: [BootDevice; 3],
}

impl Setup {
    pub(super) fn new(order: [BootDevice; 3]) -> Self {
        Self {
            tab: 0,
            item: 0,
            order,
        }
    }

    fn items(&self) -> usize {
        match self.tab {
            BOOT_TAB => self.order.len(),
            EXIT_TAB => EXIT_ITEMS.len(),
            _ => 0,
        }
    }

    pub(super) fn key(&mut self, key: Key) -> Outcome {
        let before = self.clone();
        match key {
            Key::Left => {
                self.tab = (self.tab + TABS.len() - 1) % TABS.len();
                self.item = 0;
            }
            Key::Right => {
                self.tab = (self.tab + 1) % TABS.len();
                self.item = 0;
            }
            Key::Up => self.item = self.item.saturating_sub(1),
            Key::Down => self.item = (self.item + 1).min(self.items().saturating_sub(1)),
            Key::Raise if self.tab == BOOT_TAB && self.item > 0 => {
                self.order.swap(self.item, self.item - 1);
                self.item -= 1;
            }
            Key::Lower if self.tab == BOOT_TAB && self.item + 1 < self.order.len() => {
                self.order.swap(self.item, self.item + 1);
                self.item += 1;
            }
            Key::Enter if self.tab == EXIT_TAB => {
                return if self.item == 0 {
                    Outcome::Save(self.order)
                } else {
                    Outcome::Leave
                };
            }
            Key::Save => return Outcome::Save(self.order),
            Key::Escape => return Outcome::Leave,
            Key::Raise | Key::Lower | Key::Enter => {}
        }
        if *self == before {
            Outcome::Unchanged
        } else {
            Outcome::Changed
        }
    }

    /// A left click on the text cell (`col`, `row`) of the screen [`Setup::lines`] drew.
    pub(super) fn click(&mut self, col: usize, row: usize) -> Outcome {
        let before = self.clone();
        if row == TAB_ROW {
            let mut start = 1;
            for (i, name) in TABS.iter().enumerate() {
                let width = name.len() + 2;
                if (start..start + width).contains(&col) {
                    self.tab = i;
                    self.item = 0;
                }
                start += width + 2;
            }
        } else if let Some(i) = row.checked_sub(FIRST_ITEM_ROW)
            && i < self.items()
        {
            self.item = i;
        }
        if *self == before {
            Outcome::Unchanged
        } else {
            Outcome::Changed
        }
    }

    /// The screen, one string per text row.
    pub(super) fn lines(&self, bios: &str) -> Vec<String> {
        let mut tabs = String::from(" ");
        for (i, name) in TABS.iter().enumerate() {
            if i == self.tab {
                tabs.push_str(&format!("[{name}]  "));
            } else {
                tabs.push_str(&format!(" {name}   "));
            }
        }
        let rule = "-".repeat(64);
        let mut out = vec![
            format!(" Firmware Setup Utility - {bios}"),
            tabs.trim_end().to_owned(),
            rule.clone(),
        ];
        let mark = |i: usize| if i == self.item { "> " } else { "  " };
        match self.tab {
            0 => out.extend([
                format!("  Firmware version      {bios}"),
                "  Processor             Simulated x86-64 CPU @ 2.00GHz".to_owned(),
                "  Memory                8192 MB".to_owned(),
            ]),
            1 => out.extend([
                "  Virtualization        Enabled".to_owned(),
                "  USB legacy support    Enabled".to_owned(),
                "  Secure Boot           Disabled".to_owned(),
            ]),
            BOOT_TAB => {
                out.extend(
                    self.order
                        .iter()
                        .enumerate()
                        .map(|(i, d)| format!("{}Boot Option #{}   {}", mark(i), i + 1, d.label())),
                );
            }
            _ => out.extend(
                EXIT_ITEMS
                    .iter()
                    .enumerate()
                    .map(|(i, item)| format!("{}{item}", mark(i))),
            ),
        }
        out.push(String::new());
        out.push(rule);
        out.push(" Left/Right: tab  Up/Down: item  +/F6: move up  -/F5: move down".to_owned());
        out.push(" Enter: select  F10: save and reset  Esc: exit without saving".to_owned());
        out
    }
}

/// The row of the tab names in [`Setup::lines`].
const TAB_ROW: usize = 1;
/// The row of a tab's first item.
const FIRST_ITEM_ROW: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use BootDevice::{CdRom, HardDisk, Network};

    #[test]
    fn the_boot_order_moves_with_plus_and_minus_and_is_saved_with_f10() {
        let mut s = Setup::new([HardDisk, CdRom, Network]);
        assert_eq!(s.key(Key::Raise), Outcome::Unchanged, "not on the Boot tab");
        s.key(Key::Right);
        s.key(Key::Right);
        assert!(s.lines("x")[1].contains("[Boot]"));
        assert_eq!(
            s.key(Key::Raise),
            Outcome::Unchanged,
            "the first cannot rise"
        );
        s.key(Key::Down);
        assert_eq!(s.key(Key::Raise), Outcome::Changed);
        assert_eq!(s.order, [CdRom, HardDisk, Network]);
        assert_eq!(s.item, 0, "the selection follows the entry");
        s.key(Key::Down);
        s.key(Key::Down);
        assert_eq!(
            s.key(Key::Lower),
            Outcome::Unchanged,
            "the last cannot sink"
        );
        assert_eq!(s.key(Key::Save), Outcome::Save([CdRom, HardDisk, Network]));
        assert_eq!(s.key(Key::Escape), Outcome::Leave);
        assert!(
            s.lines("x")
                .iter()
                .any(|l| l == "> Boot Option #3   Network (PXE)")
        );
    }

    #[test]
    fn tabs_wrap_and_clicks_choose_tabs_and_items() {
        let mut s = Setup::new([HardDisk, CdRom, Network]);
        s.key(Key::Left);
        assert_eq!(s.tab, 3);
        let lines = s.lines("x");
        let col = lines[TAB_ROW].find("Boot").unwrap();
        assert_eq!(s.click(col, TAB_ROW), Outcome::Changed);
        assert_eq!(s.tab, BOOT_TAB);
        assert_eq!(s.click(3, FIRST_ITEM_ROW + 2), Outcome::Changed);
        assert_eq!(s.item, 2);
        assert_eq!(s.click(3, FIRST_ITEM_ROW + 3), Outcome::Unchanged);
        s.click(lines[TAB_ROW].find("Exit").unwrap(), TAB_ROW);
        s.key(Key::Down);
        assert_eq!(s.key(Key::Enter), Outcome::Leave);
    }
}
