//! The target's graphical screen (`startx`): a desktop with one dialog whose buttons
//! react to absolute clicks, so a client can check that a click at a pixel lands where
//! the screenshot shows the button.
//!
//! Everything is placed on the console's character grid (`screen::Layout`), so the
//! screen text, the picture and the hit test agree by construction: a button is a run
//! of cells, drawn as a filled panel under its label.

/// A filled rectangle of character cells drawn under the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Panel {
    pub col: usize,
    pub row: usize,
    pub cols: usize,
    pub rows: usize,
    pub colour: [u8; 3],
}

/// The desktop's background, title bar, dialog and button colours.
const BACKGROUND: [u8; 3] = [0x1E, 0x3A, 0x5F];
const TITLE_BAR: [u8; 3] = [0x10, 0x10, 0x18];
const DIALOG: [u8; 3] = [0x30, 0x34, 0x3C];
const BUTTON: [u8; 3] = [0x4A, 0x6A, 0xA0];

/// The dialog's buttons, left to right.
pub(crate) const BUTTONS: [&str; 3] = ["OK", "Cancel", "Log out"];

const DIALOG_COLS: usize = 46;
const DIALOG_ROWS: usize = 9;

/// The desktop: the message the dialog shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Desktop {
    pub message: String,
}

impl Default for Desktop {
    fn default() -> Self {
        Self {
            message: "Click a button.".to_owned(),
        }
    }
}

/// Where things go on a grid of `cols` x `rows` cells.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    left: usize,
    top: usize,
    width: usize,
}

impl Geometry {
    fn new(cols: usize, rows: usize) -> Self {
        let width = DIALOG_COLS.min(cols);
        Self {
            left: (cols - width) / 2,
            top: rows.saturating_sub(DIALOG_ROWS) / 2,
            width,
        }
    }

    /// Each button's first column, width and label, on the button row.
    fn buttons(self) -> Vec<(usize, usize, &'static str)> {
        let mut col = self.left + 3;
        BUTTONS
            .iter()
            .map(|label| {
                let width = label.len() + 4;
                let at = col;
                col += width + 3;
                (at, width, *label)
            })
            .collect()
    }

    fn button_row(self) -> usize {
        self.top + 6
    }
}

impl Desktop {
    /// The text rows of a `cols` x `rows` screen.
    pub(super) fn lines(&self, user: &str, cols: usize, rows: usize) -> Vec<String> {
        let g = Geometry::new(cols, rows);
        let mut grid: Vec<Vec<char>> = vec![vec![' '; cols]; rows.max(g.button_row() + 2)];
        let mut put = |row: usize, col: usize, text: &str| {
            for (i, c) in text.chars().enumerate() {
                if let Some(cell) = grid.get_mut(row).and_then(|r| r.get_mut(col + i)) {
                    *cell = c;
                }
            }
        };
        put(
            0,
            1,
            &format!("Activities    nanokvm-sim desktop    {user}"),
        );
        put(g.top + 1, g.left + 3, "Confirm");
        put(g.top + 3, g.left + 3, &self.message);
        for (col, width, label) in g.buttons() {
            let pad = (width - label.len()) / 2;
            put(g.button_row(), col + pad, label);
        }
        grid.iter()
            .map(|r| r.iter().collect::<String>().trim_end().to_owned())
            .collect()
    }

    /// The panels under the text, back to front.
    pub(super) fn panels(cols: usize, rows: usize) -> Vec<Panel> {
        let g = Geometry::new(cols, rows);
        let mut out = vec![
            Panel {
                col: 0,
                row: 0,
                cols,
                rows,
                colour: BACKGROUND,
            },
            Panel {
                col: 0,
                row: 0,
                cols,
                rows: 1,
                colour: TITLE_BAR,
            },
            Panel {
                col: g.left,
                row: g.top,
                cols: g.width,
                rows: DIALOG_ROWS,
                colour: DIALOG,
            },
        ];
        out.extend(g.buttons().into_iter().map(|(col, width, _)| Panel {
            col,
            row: g.button_row(),
            cols: width,
            rows: 1,
            colour: BUTTON,
        }));
        out
    }

    /// The button label at a cell, if any.
    pub(super) fn button_at(
        cols: usize,
        rows: usize,
        col: usize,
        row: usize,
    ) -> Option<&'static str> {
        let g = Geometry::new(cols, rows);
        if row != g.button_row() {
            return None;
        }
        g.buttons()
            .into_iter()
            .find(|(c, w, _)| (*c..*c + *w).contains(&col))
            .map(|(_, _, label)| label)
    }

    /// The cells a button covers: first column, row and width.
    pub(super) fn button_cells(
        cols: usize,
        rows: usize,
        label: &str,
    ) -> Option<(usize, usize, usize)> {
        let g = Geometry::new(cols, rows);
        g.buttons()
            .into_iter()
            .find(|(_, _, l)| *l == label)
            .map(|(c, w, _)| (c, g.button_row(), w))
    }
}
