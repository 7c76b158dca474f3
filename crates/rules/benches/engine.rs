//! Readings per second through the engine with 1,000 active rules and
//! 100,000 points; `workload/mod.rs` describes the rules and readings.
//!
//! Times are CPU time of the benchmark's thread, not wall time, so that
//! other processes on the machine distort them less.
//!
//! Run: `cargo bench -p oversight-rules --bench engine`.

mod workload;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use workload::{POINTS, WINDOW, Workload};

fn bench_rules(c: &mut Criterion, name: &str, extra: &str) {
    let mut workload = Workload::new(extra);
    let mut group = c.benchmark_group("evaluate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            let started = thread_cpu_time();
            for _ in 0..iterations {
                black_box(workload.round());
            }
            thread_cpu_time().saturating_sub(started)
        });
    });
    group.finish();
}

/// Returns the CPU time the calling thread has used so far.
fn thread_cpu_time() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(time.tv_sec).expect("CPU time is not negative"),
        u32::try_from(time.tv_nsec).expect("nanoseconds fit"),
    )
}

fn threshold(c: &mut Criterion) {
    bench_rules(c, "threshold_1000_rules_100k_points", "");
}

fn window(c: &mut Criterion) {
    bench_rules(c, "window_avg_10m_1000_rules_100k_points", WINDOW);
}

criterion_group!(benches, threshold, window);
criterion_main!(benches);
