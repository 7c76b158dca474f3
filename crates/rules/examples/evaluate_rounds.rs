//! Runs rounds of the engine benchmark's workload (1,000 rules, 100,000
//! points, one reading of every point per round) for instruction counts.
//!
//! Usage: `evaluate_rounds VARIANT ROUNDS`, where VARIANT is `threshold` or
//! `window`. Under `valgrind --tool=callgrind`, the instructions of two
//! runs with different ROUNDS, divided by the difference in readings, give
//! the instructions per reading without the setup.

#[path = "../benches/workload/mod.rs"]
mod workload;

use workload::{POINTS, WINDOW, Workload};

#[expect(
    clippy::print_stderr,
    reason = "an example run by hand prints its summary to standard error"
)]
fn main() {
    let mut arguments = std::env::args().skip(1);
    let variant = arguments.next().unwrap_or_else(|| "threshold".to_owned());
    let rounds: u64 = match arguments.next() {
        Some(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("invalid ROUNDS {text:?}; expected a whole number")),
        None => 1,
    };
    let extra = match variant.as_str() {
        "threshold" => "",
        "window" => WINDOW,
        other => panic!("unknown VARIANT {other:?}; expected threshold or window"),
    };
    let mut workload = Workload::new(extra);
    let mut updates = 0;
    for _ in 0..rounds {
        updates += workload.round();
    }
    eprintln!("{variant}: {rounds} rounds of {POINTS} readings, {updates} alert updates");
}
