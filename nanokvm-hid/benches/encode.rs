//! Encode throughput: prints characters per second for a 1 MiB text per layout, on each
//! target system.
//!
//! Run with `cargo bench -p nanokvm-hid --bench encode`. For each keymap the text mixes
//! ASCII words with every non-ASCII character the layout can type (accents from dead keys
//! included), about one in eight characters non-ASCII. A second figure encodes a text that
//! also holds Cyrillic, Greek and CJK characters with skipping on, the path that collects
//! what cannot be typed. The decode figure turns the strokes back into text.
//! Target: at least 20 million characters per second for encoding.

#![allow(clippy::print_stdout)] // A benchmark reports its figures on stdout.

use std::hint::black_box;
use std::time::{Duration, Instant};

use nanokvm_hid::{Encoder, Keymap, Layout, TargetOs, decode, encode};

const TEXT_BYTES: usize = 1 << 20;
const ROUNDS: usize = 7;

/// A small deterministic generator, so every run measures the same text.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // The top bits are the best mixed; `bound` is small.
        usize::try_from(self.0 >> 33).unwrap_or(0) % bound
    }
}

fn mixed_text(keymap: Keymap, foreign: &[char]) -> String {
    const WORDS: &[&str] = &[
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "sudo",
        "systemctl",
        "restart",
        "nginx",
        "Admin",
        "Passw0rd!",
        "C:\\Windows",
        "/etc/fstab",
        "x=1;",
        "(a+b)*c",
    ];
    let special: Vec<char> = keymap
        .chars()
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| !c.is_ascii())
        .collect();
    let mut rng = Lcg(0x5EED ^ keymap.layout as u64);
    let mut text = String::with_capacity(TEXT_BYTES + 64);
    while text.len() < TEXT_BYTES {
        text.push_str(WORDS[rng.next(WORDS.len())]);
        if !special.is_empty() {
            text.push(special[rng.next(special.len())]);
        }
        if !foreign.is_empty() && rng.next(4) == 0 {
            text.push(foreign[rng.next(foreign.len())]);
        }
        text.push(if rng.next(12) == 0 { '\n' } else { ' ' });
    }
    text
}

/// The fastest of several rounds, the figure least disturbed by other work.
fn fastest(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn rate(chars: usize, time: Duration) -> f64 {
    chars as f64 / time.as_secs_f64() / 1e6
}

fn main() {
    let foreign: Vec<char> = "ЖщΩλ漢字かな→€".chars().collect();
    println!(
        "{:<7} {:<8} {:>10} {:>14} {:>18} {:>14}",
        "layout", "os", "chars", "encode Mch/s", "skip-mixed Mch/s", "decode Mch/s"
    );
    let mut slowest = f64::INFINITY;
    let keymaps = TargetOs::ALL
        .iter()
        .flat_map(|&os| Layout::ALL.iter().map(move |&layout| layout.on(os)));
    for keymap in keymaps {
        let text = mixed_text(keymap, &[]);
        let chars = text.chars().count();
        let strokes = match encode(&text, keymap) {
            Ok(strokes) => strokes,
            Err(e) => {
                // The message lists the first few characters only.
                println!("{keymap} cannot encode its own characters: {e}");
                continue;
            }
        };
        let encode_time = fastest(|| {
            black_box(encode(black_box(&text), keymap).ok());
        });
        let mixed = mixed_text(keymap, &foreign);
        let mixed_chars = mixed.chars().count();
        let skipper = Encoder::new(keymap).skip_unencodable(true);
        let skip_time = fastest(|| {
            black_box(skipper.encode(black_box(&mixed)).ok());
        });
        let decode_time = fastest(|| {
            black_box(decode(black_box(&strokes), keymap));
        });
        let encode_rate = rate(chars, encode_time);
        slowest = slowest.min(encode_rate);
        println!(
            "{:<7} {:<8} {:>10} {:>14.1} {:>18.1} {:>14.1}",
            keymap.layout.name(),
            keymap.os.name(),
            chars,
            encode_rate,
            rate(mixed_chars, skip_time),
            rate(chars, decode_time),
        );
    }
    println!("slowest encode: {slowest:.1} million characters per second (target: 20)");
}
