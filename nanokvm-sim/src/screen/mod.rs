//! The target's screen: an RGB framebuffer rendered from [`MachineState`] and encoded to
//! JPEG, the way the NanoKVM's HDMI capture would see it.
//!
//! Rendering is driven by [`MachineState::screen_version`]: the framebuffer is redrawn and
//! re-encoded only when that counter or the JPEG quality changed since the last frame, so a
//! static screen costs nothing however many viewers it has. The latest JPEG is kept as
//! [`Bytes`], which every MJPEG client and every [`Screenshot`] share without copying.
//!
//! The picture is a text console: the machine's lines in a bitmap font ([`font`]), wrapped
//! at the screen's width and scrolled so that the last line is visible, a cursor under the
//! input line's cursor position while the machine runs, and the mouse pointer on top. A machine that is
//! off shows a black screen (the capture itself then has no signal; see `video`).

mod font;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

use crate::machine::{MachineState, Panel};
use crate::state::lock;

/// The console's text colour (light grey, as a VGA console).
const INK: [u8; 3] = [0xD8, 0xD8, 0xD8];
/// The pointer's outline and fill.
const POINTER_EDGE: [u8; 3] = [0x00, 0x00, 0x00];
const POINTER_FILL: [u8; 3] = [0xFF, 0xFF, 0xFF];

/// The classic arrow pointer, hotspot at the top-left corner: `X` outline, `o` fill.
const POINTER: [&str; 19] = [
    "X...........",
    "XX..........",
    "XoX.........",
    "XooX........",
    "XoooX.......",
    "XooooX......",
    "XoooooX.....",
    "XooooooX....",
    "XoooooooX...",
    "XooooooooX..",
    "XoooooooooX.",
    "XooooooXXXXX",
    "XoooXooX....",
    "XooX.XooX...",
    "XoX..XooX...",
    "XX....XooX..",
    "X.....XooX..",
    ".......XooX.",
    ".......XXX..",
];

/// JPEG qualities the capture library accepts; anything else is played as 80, as the
/// firmware's `CheckScreen` does when a stream starts.
const QUALITIES: [u32; 4] = [100, 80, 60, 50];

/// The JPEG quality a stored screen setting implies.
pub(crate) fn jpeg_quality(setting: u32) -> u8 {
    if QUALITIES.contains(&setting) {
        u8::try_from(setting).unwrap_or(80)
    } else {
        80
    }
}

/// One encoded picture of the target's screen.
///
/// Cloning is cheap: the JPEG bytes are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screenshot {
    jpeg: Bytes,
    width: u32,
    height: u32,
    screen_version: u64,
    quality: u8,
}

impl Screenshot {
    /// The JPEG file.
    #[must_use]
    pub fn jpeg(&self) -> &[u8] {
        &self.jpeg
    }

    /// Width in pixels.
    #[must_use]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    #[must_use]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The [`MachineState::screen_version`] this picture shows.
    #[must_use]
    pub fn screen_version(&self) -> u64 {
        self.screen_version
    }

    /// The JPEG quality it was encoded with.
    #[must_use]
    pub fn quality(&self) -> u8 {
        self.quality
    }

    /// The shared bytes, for the stream.
    pub(crate) fn bytes(&self) -> &Bytes {
        &self.jpeg
    }
}

/// Where text goes on a screen of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Device pixels per font pixel.
    pub scale: u32,
    pub cell_w: u32,
    pub cell_h: u32,
    pub margin: u32,
    pub cols: usize,
    pub rows: usize,
}

impl Layout {
    pub(crate) fn new(width: u32, height: u32) -> Self {
        // Three device pixels per font pixel at 1080p gives 18x33 cells: about 100
        // columns by 30 rows, as legible as a 16x32 console font.
        let scale = (height / 360).clamp(1, 8);
        let cell_w = (font::WIDTH + 1) * scale;
        let cell_h = (font::HEIGHT + 2) * scale;
        let margin = cell_w;
        let usable = |size: u32, cell: u32| {
            usize::try_from(size.saturating_sub(2 * margin) / cell)
                .unwrap_or(1)
                .max(1)
        };
        Self {
            scale,
            cell_w,
            cell_h,
            margin,
            cols: usable(width, cell_w),
            rows: usable(height, cell_h),
        }
    }

    /// The top-left pixel of a character cell.
    pub(crate) fn cell(&self, col: usize, row: usize) -> (u32, u32) {
        let c = u32::try_from(col).unwrap_or(u32::MAX);
        let r = u32::try_from(row).unwrap_or(u32::MAX);
        (
            self.margin.saturating_add(c.saturating_mul(self.cell_w)),
            self.margin.saturating_add(r.saturating_mul(self.cell_h)),
        )
    }
}

/// What the renderer needs from a machine state, copied out so that the machine's
/// channel is not held while drawing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct View {
    pub version: u64,
    pub powered: bool,
    /// The visible rows, top to bottom, already wrapped.
    pub rows: Vec<Vec<char>>,
    /// The text cursor's cell, while a prompt waits for input.
    pub cursor: Option<(usize, usize)>,
    pub pointer: (u32, u32),
    /// Filled cell rectangles under the text (the desktop's), back to front.
    pub panels: Vec<Panel>,
}

impl View {
    pub(crate) fn of(machine: &MachineState, layout: &Layout) -> Self {
        let powered = machine.power().is_powered();
        let mut rows: Vec<Vec<char>> = Vec::new();
        // Wrap from the end backwards: only the last screenful is ever drawn, and a long
        // scroll-back must not make every frame slower.
        for (i, line) in machine.lines().iter().rev().enumerate() {
            let chars: Vec<char> = line.chars().collect();
            let mut pieces: Vec<Vec<char>> =
                chars.chunks(layout.cols).map(<[char]>::to_vec).collect();
            // An empty line still takes a row, and a last line that exactly fills its
            // row leaves the cursor at the start of the next one.
            if pieces.is_empty() || (i == 0 && chars.len() % layout.cols == 0) {
                pieces.push(Vec::new());
            }
            for piece in pieces.into_iter().rev() {
                rows.push(piece);
            }
            if rows.len() >= layout.rows {
                break;
            }
        }
        rows.truncate(layout.rows);
        rows.reverse();
        // The last line takes `len / cols + 1` rows (see above), and the cursor's char index
        // into it picks one of them, counted from the line's first row.
        let cursor = match machine.cursor_column() {
            Some(column) if !rows.is_empty() => {
                let len = machine.lines().last().map_or(0, |l| l.chars().count());
                let at = column.min(len);
                (rows.len() - 1)
                    .checked_sub(len / layout.cols - at / layout.cols)
                    .map(|row| (at % layout.cols, row))
            }
            _ => None,
        };
        Self {
            version: machine.screen_version(),
            powered,
            rows,
            cursor,
            pointer: machine.pointer(),
            panels: machine.panels(),
        }
    }
}

/// An RGB framebuffer with the drawing primitives the console needs.
pub(crate) struct Framebuffer {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Framebuffer {
    pub(crate) fn new(width: u32, height: u32) -> Self {
        let len = usize::try_from(u64::from(width) * u64::from(height) * 3).unwrap_or(0);
        Self {
            width,
            height,
            pixels: vec![0; len],
        }
    }

    /// The pixels, row by row, three bytes (R, G, B) each.
    pub(crate) fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The colour at `(x, y)`.
    #[cfg(test)]
    pub(crate) fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = self.index(x, y);
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    fn index(&self, x: u32, y: u32) -> usize {
        (y as usize * self.width as usize + x as usize) * 3
    }

    fn clear(&mut self) {
        self.pixels.fill(0);
    }

    /// Fills a rectangle, clipped to the screen.
    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, colour: [u8; 3]) {
        let x1 = x.saturating_add(w).min(self.width);
        let y1 = y.saturating_add(h).min(self.height);
        if x >= x1 {
            return;
        }
        for row in y..y1 {
            let start = self.index(x, row);
            let end = self.index(x1, row);
            for px in self.pixels[start..end].chunks_exact_mut(3) {
                px.copy_from_slice(&colour);
            }
        }
    }

    fn glyph(&mut self, c: char, x: u32, y: u32, scale: u32) {
        let glyph = font::glyph(c);
        for (r, bits) in (0..).zip(glyph.iter()) {
            for col in 0..font::WIDTH {
                if bits & (1 << (font::WIDTH - 1 - col)) != 0 {
                    self.fill(x + col * scale, y + r * scale, scale, scale, INK);
                }
            }
        }
    }

    fn pointer(&mut self, (px, py): (u32, u32), scale: u32) {
        for (dy, row) in (0..).zip(POINTER.iter()) {
            for (dx, b) in (0..).zip(row.bytes()) {
                let colour = match b {
                    b'X' => POINTER_EDGE,
                    b'o' => POINTER_FILL,
                    _ => continue,
                };
                self.fill(
                    px.saturating_add(dx * scale),
                    py.saturating_add(dy * scale),
                    scale,
                    scale,
                    colour,
                );
            }
        }
    }

    /// Draws a whole screen.
    pub(crate) fn render(&mut self, view: &View, layout: &Layout) {
        self.clear();
        if !view.powered {
            return;
        }
        for panel in &view.panels {
            let (x, y) = layout.cell(panel.col, panel.row);
            let cells =
                |n: usize, size: u32| u32::try_from(n).unwrap_or(u32::MAX).saturating_mul(size);
            // A panel that reaches the grid's edge reaches the screen's: the margin
            // around the grid takes its colour too.
            let (x, w) = if panel.col == 0 {
                (0, x + cells(panel.cols, layout.cell_w))
            } else {
                (x, cells(panel.cols, layout.cell_w))
            };
            let (y, h) = if panel.row == 0 {
                (0, y + cells(panel.rows, layout.cell_h))
            } else {
                (y, cells(panel.rows, layout.cell_h))
            };
            let w = if panel.col + panel.cols >= layout.cols {
                self.width
            } else {
                w
            };
            let h = if panel.row + panel.rows >= layout.rows {
                self.height
            } else {
                h
            };
            self.fill(x, y, w, h, panel.colour);
        }
        for (r, row) in view.rows.iter().enumerate() {
            for (c, ch) in row.iter().enumerate() {
                if *ch != ' ' {
                    let (x, y) = layout.cell(c, r);
                    self.glyph(*ch, x, y, layout.scale);
                }
            }
        }
        if let Some((c, r)) = view.cursor {
            let (x, y) = layout.cell(c, r);
            let s = layout.scale;
            self.fill(x, y + 7 * s, font::WIDTH * s, s, INK);
        }
        self.pointer(view.pointer, (self.height / 1080).max(1));
    }
}

/// What the cached frame was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    version: u64,
    quality: u8,
    size: (u32, u32),
}

/// The capture sizes the firmware's `resolution` setting can pick, by height (its
/// `ResolutionMap`); 0 is the input's native size.
pub(crate) const RESOLUTIONS: [(u32, u32); 4] = [(1920, 1080), (1280, 720), (800, 600), (640, 480)];

/// Scales a framebuffer to `width` x `height`: each output pixel averages the source
/// pixels it covers, so thin console strokes stay visible when the capture shrinks.
fn resample(src: &Framebuffer, width: u32, height: u32) -> Framebuffer {
    let mut out = Framebuffer::new(width, height);
    let (sw, sh) = (u64::from(src.width), u64::from(src.height));
    let (w, h) = (u64::from(width), u64::from(height));
    let span = |d: u64, s: u64, n: u64| {
        let lo = d * s / n;
        let hi = ((d + 1) * s / n).max(lo + 1).min(s);
        (lo, hi)
    };
    let mut o = 0;
    for dy in 0..h {
        let (y0, y1) = span(dy, sh, h);
        for dx in 0..w {
            let (x0, x1) = span(dx, sw, w);
            let mut sum = [0u64; 3];
            for y in y0..y1 {
                let row = usize::try_from(y * sw).unwrap_or(0);
                for x in x0..x1 {
                    let i = (row + usize::try_from(x).unwrap_or(0)) * 3;
                    for (acc, v) in sum.iter_mut().zip(&src.pixels[i..i + 3]) {
                        *acc += u64::from(*v);
                    }
                }
            }
            let n = (y1 - y0) * (x1 - x0);
            for acc in sum {
                out.pixels[o] = u8::try_from(acc / n.max(1)).unwrap_or(u8::MAX);
                o += 1;
            }
        }
    }
    out
}

struct Cache {
    framebuffer: Framebuffer,
    key: Option<Key>,
    latest: Option<Screenshot>,
}

/// The screen of one simulator: its framebuffer and the latest JPEG.
pub(crate) struct Screen {
    width: u32,
    height: u32,
    layout: Layout,
    cache: Mutex<Cache>,
    encodes: AtomicU64,
}

impl Screen {
    pub(crate) fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            layout: Layout::new(width, height),
            // The framebuffer is allocated on the first frame: a simulator nobody looks
            // at never pays for it.
            cache: Mutex::new(Cache {
                framebuffer: Framebuffer::new(0, 0),
                key: None,
                latest: None,
            }),
            encodes: AtomicU64::new(0),
        }
    }

    /// The size frames are captured at for the `resolution` setting (a height from the
    /// firmware's table, or 0 for the input's native size).
    pub(crate) fn output_size(&self, resolution: u32) -> (u32, u32) {
        RESOLUTIONS
            .iter()
            .find(|(_, h)| *h == resolution)
            .copied()
            .unwrap_or((self.width, self.height))
    }

    /// How many times a frame has been rendered and encoded.
    pub(crate) fn encodes(&self) -> u64 {
        self.encodes.load(Ordering::Relaxed)
    }

    /// The latest frame if it still shows `machine` at `quality` and `size`; no work is
    /// done.
    pub(crate) fn cached(
        &self,
        machine: &MachineState,
        quality: u8,
        size: (u32, u32),
    ) -> Option<Screenshot> {
        // A frame being encoded elsewhere holds the lock; the caller then takes the slow
        // path on a blocking thread instead of stalling the async runtime.
        let cache = match self.cache.try_lock() {
            Ok(c) => c,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        let key = Key {
            version: machine.screen_version(),
            quality,
            size,
        };
        (cache.key == Some(key))
            .then(|| cache.latest.clone())
            .flatten()
    }

    /// The picture of `machine` at `quality` and `size` (the capture's output size),
    /// rendered and encoded only if it changed. This can take tens of milliseconds at
    /// 1080p: async callers run it on a blocking thread.
    pub(crate) fn frame(
        &self,
        machine: &tokio::sync::watch::Sender<MachineState>,
        quality: u8,
        size: (u32, u32),
    ) -> Screenshot {
        let mut cache = lock(&self.cache);
        let view = {
            let m = machine.borrow();
            let key = Key {
                version: m.screen_version(),
                quality,
                size,
            };
            if cache.key == Some(key)
                && let Some(latest) = &cache.latest
            {
                return latest.clone();
            }
            View::of(&m, &self.layout)
        };
        if cache.framebuffer.pixels.is_empty() {
            cache.framebuffer = Framebuffer::new(self.width, self.height);
        }
        cache.framebuffer.render(&view, &self.layout);
        let jpeg = if size == (self.width, self.height) {
            encode(&cache.framebuffer, quality)
        } else {
            encode(&resample(&cache.framebuffer, size.0, size.1), quality)
        };
        self.encodes.fetch_add(1, Ordering::Relaxed);
        let shot = Screenshot {
            jpeg,
            width: size.0,
            height: size.1,
            screen_version: view.version,
            quality,
        };
        cache.key = Some(Key {
            version: view.version,
            quality,
            size,
        });
        cache.latest = Some(shot.clone());
        shot
    }
}

/// Encodes a framebuffer as a baseline JPEG with 4:2:0 chroma, as capture hardware does.
fn encode(fb: &Framebuffer, quality: u8) -> Bytes {
    // A flat console compresses to a few percent of the raw size.
    let mut out = Vec::with_capacity(fb.pixels.len() / 16);
    let mut encoder = Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(SamplingFactor::R_4_2_0);
    let (w, h) = (
        u16::try_from(fb.width).unwrap_or(u16::MAX),
        u16::try_from(fb.height).unwrap_or(u16::MAX),
    );
    // The encoder only fails on zero or inconsistent dimensions, which the builder rules
    // out; an empty frame would still be better than a panic in the capture.
    if encoder.encode(fb.pixels(), w, h, ColorType::Rgb).is_err() {
        return Bytes::new();
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanokvm_hid::{KeyboardReport, Keycode, Modifiers};

    fn machine(powered: bool) -> MachineState {
        MachineState::new(&crate::MachineConfig::new(), 320, 200, powered)
    }

    fn type_a(m: &mut MachineState) {
        m.keyboard(&KeyboardReport::single(
            Modifiers::NONE,
            Some(Keycode::from_usage(0x04)),
        ));
        m.keyboard(&KeyboardReport::RELEASE);
    }

    fn ink_in(fb: &Framebuffer, x: u32, y: u32, w: u32, h: u32) -> usize {
        (y..y + h)
            .flat_map(|yy| (x..x + w).map(move |xx| (xx, yy)))
            .filter(|&(xx, yy)| fb.pixel(xx, yy) == INK)
            .count()
    }

    #[test]
    fn layout_fits_a_console_on_common_resolutions() {
        let l = Layout::new(1920, 1080);
        assert_eq!((l.scale, l.cell_w, l.cell_h), (3, 18, 33));
        assert_eq!((l.cols, l.rows), (104, 31));
        let l = Layout::new(320, 200);
        assert_eq!((l.scale, l.cols, l.rows), (1, 51, 17));
    }

    #[test]
    fn the_view_wraps_long_lines_and_keeps_the_last_screenful() {
        let layout = Layout::new(320, 200);
        let mut m = machine(true);
        for _ in 0..60 {
            type_a(&mut m);
        }
        let view = View::of(&m, &layout);
        // Four console lines, the last one wrapped once.
        assert_eq!(view.rows.len(), 5);
        // "target login: " (14) + 60 letters = 74 = 51 + 23.
        assert_eq!(view.rows[4].len(), 23);
        assert_eq!(view.cursor, Some((23, 4)));
        for _ in 0..20 {
            m.keyboard(&KeyboardReport::single(
                Modifiers::NONE,
                Some(Keycode::from_usage(0x28)),
            ));
            m.keyboard(&KeyboardReport::RELEASE);
        }
        // A login attempt, then empty logins, each at a fresh prompt.
        let view = View::of(&m, &layout);
        assert_eq!(view.rows.len(), layout.rows);
        assert_eq!(view.cursor, Some((14, layout.rows - 1)));
    }

    #[test]
    fn the_cursor_follows_the_input_cursor_across_wrapped_rows() {
        let layout = Layout::new(320, 200);
        let mut m = machine(true);
        for _ in 0..60 {
            type_a(&mut m);
        }
        let press = |m: &mut MachineState, usage: u8| {
            m.keyboard(&KeyboardReport::single(
                Modifiers::NONE,
                Some(Keycode::from_usage(usage)),
            ));
            m.keyboard(&KeyboardReport::RELEASE);
        };
        // Home: the start of the input, after the 14-character prompt on the first row.
        press(&mut m, 0x4A);
        assert_eq!(View::of(&m, &layout).cursor, Some((14, 3)));
        // Right 40 times: char 54 of the line, on the second row.
        for _ in 0..40 {
            press(&mut m, 0x4F);
        }
        assert_eq!(View::of(&m, &layout).cursor, Some((3, 4)));
    }

    #[test]
    fn typed_text_puts_ink_in_its_cell_and_off_is_black() {
        let layout = Layout::new(320, 200);
        let mut m = machine(true);
        let mut fb = Framebuffer::new(320, 200);
        let view = View::of(&m, &layout);
        let (col, row) = view.cursor.unwrap();
        let (x, y) = layout.cell(col, row);
        fb.render(&view, &layout);
        // Before typing, only the cursor bar is in the cell.
        let before = ink_in(&fb, x, y, layout.cell_w, 7 * layout.scale);
        type_a(&mut m);
        fb.render(&View::of(&m, &layout), &layout);
        let after = ink_in(&fb, x, y, layout.cell_w, 7 * layout.scale);
        assert_eq!(before, 0);
        assert_eq!(after, 14, "the pixels of 'a'");
        let off = machine(false);
        fb.render(&View::of(&off, &layout), &layout);
        assert!(fb.pixels().iter().all(|&b| b == 0));
    }

    #[test]
    fn the_pointer_is_drawn_at_its_position() {
        let layout = Layout::new(320, 200);
        let m = machine(true);
        let mut fb = Framebuffer::new(320, 200);
        fb.render(&View::of(&m, &layout), &layout);
        let (px, py) = m.pointer();
        assert_eq!(fb.pixel(px, py), POINTER_EDGE);
        assert_eq!(fb.pixel(px + 1, py + 3), POINTER_FILL);
    }

    #[test]
    fn frames_are_encoded_once_per_change_and_quality() {
        let screen = Screen::new(320, 200);
        let tx = tokio::sync::watch::Sender::new(machine(true));
        let native = (320, 200);
        let a = screen.frame(&tx, 80, native);
        let b = screen.frame(&tx, 80, native);
        assert_eq!(screen.encodes(), 1);
        assert!(a.jpeg().starts_with(&[0xFF, 0xD8]) && a.jpeg().ends_with(&[0xFF, 0xD9]));
        assert_eq!(a, b);
        assert!(screen.cached(&tx.borrow(), 80, native).is_some());
        assert!(screen.cached(&tx.borrow(), 60, native).is_none());
        screen.frame(&tx, 60, native);
        tx.send_modify(type_a);
        assert!(screen.cached(&tx.borrow(), 60, native).is_none());
        let c = screen.frame(&tx, 60, native);
        assert_eq!(screen.encodes(), 3);
        assert_ne!(a.jpeg(), c.jpeg());
        let small = screen.frame(&tx, 60, (640, 480));
        assert_eq!(
            (small.width(), small.height(), screen.encodes()),
            (640, 480, 4)
        );
    }

    #[test]
    fn the_resolution_setting_picks_a_size_from_the_firmware_table() {
        let screen = Screen::new(1024, 768);
        assert_eq!(screen.output_size(0), (1024, 768));
        assert_eq!(screen.output_size(720), (1280, 720));
        assert_eq!(screen.output_size(480), (640, 480));
        assert_eq!(screen.output_size(333), (1024, 768));
    }

    #[test]
    fn resampling_averages_what_each_pixel_covers() {
        let mut fb = Framebuffer::new(4, 2);
        fb.fill(0, 0, 2, 2, [200, 100, 0]);
        let half = resample(&fb, 2, 1);
        assert_eq!(half.pixel(0, 0), [200, 100, 0]);
        assert_eq!(half.pixel(1, 0), [0, 0, 0]);
        let quarter = resample(&fb, 1, 1);
        assert_eq!(quarter.pixel(0, 0), [100, 50, 0]);
        let double = resample(&fb, 8, 4);
        assert_eq!(
            (double.pixel(3, 3), double.pixel(4, 0)),
            ([200, 100, 0], [0, 0, 0])
        );
    }

    #[test]
    fn qualities_outside_the_firmware_set_fall_back_to_80() {
        assert_eq!(jpeg_quality(100), 100);
        assert_eq!(jpeg_quality(50), 50);
        assert_eq!(jpeg_quality(70), 80);
        assert_eq!(jpeg_quality(0), 80);
    }
}
