//! Durable decision latency and audit append throughput (being written).
#![allow(clippy::print_stdout)]

fn main() {
    println!("durable benchmark: not written yet");
}
