//! Measures ledger appends stored in SQLite through `SqliteStore::append_ledger`.
//!
//! Each iteration appends one batch of `BATCH` entries with a payload of
//! about 120 bytes in one write request, so one transaction. The store
//! encodes and hashes each entry, then appends the batch to the last entry
//! bundle and hash tiles, a few rows per batch, and reads and writes the
//! append state once. The ledger grows across iterations, as a running
//! server's does. Building the batch is not measured. Freeing it is: the
//! store hands the batch back with the result, and the caller frees it.
//!
//! `stored_append_cpu` measures the same appends, with SHA-256 and SM3 and
//! `synchronous` NORMAL, in CPU time of the whole process rather than wall
//! time (see [`bench_stored_append_cpu`]). The `_canonical` cases of both
//! groups build the payload with `PayloadObject` instead of
//! `serde_json::json!`. The `_varied` cases build it with `PayloadObject`
//! too, with fields that vary from entry to entry as alert transitions do,
//! so that full bundles compress less (see [`varied_entries`]).
//!
//! `entry_by_index` reads single entries of a ledger of 100,000 entries
//! through `SqliteStore::ledger_entry`, which decodes the entry from its
//! bundle of 256.
//!
//! Run: `cargo bench -p oversight-store-sqlite --bench ledger`

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use oversight_ledger::Hasher;
use oversight_store::{NewLedgerEntry, PayloadObject, Store};
use oversight_store_sqlite::{SqliteOptions, SqliteStore, Synchronous};
use serde_json::json;

/// Entries per `append_ledger` call.
const BATCH: u64 = 1_000;

fn entries(start: u64) -> Vec<NewLedgerEntry> {
    (start..start + BATCH)
        .map(|number| {
            NewLedgerEntry::new(
                "alert.acknowledged",
                format!("alert:{number}"),
                "user:inspector-li",
                json!({"transition": "acknowledged", "reason": "on site", "count": number}),
            )
        })
        .collect()
}

/// A function that builds the batch of `BATCH` entries from a first number.
type BuildBatch = fn(u64) -> Vec<NewLedgerEntry>;

/// Builds the same entries as [`entries`], with the payload built as its
/// canonical encoding by `PayloadObject` instead of as a `serde_json::Value`.
fn canonical_entries(start: u64) -> Vec<NewLedgerEntry> {
    (start..start + BATCH)
        .map(|number| {
            NewLedgerEntry::new(
                "alert.acknowledged",
                format!("alert:{number}"),
                "user:inspector-li",
                PayloadObject::new()
                    .unsigned("count", number)
                    .string("reason", "on site")
                    .string("transition", "acknowledged"),
            )
        })
        .collect()
}

/// Factors of the varied payloads, HJ 212 codes.
const FACTORS: [&str; 8] = [
    "w01018", "w21003", "w01001", "a34004", "a21026", "a21002", "w21011", "w01019",
];

/// Spreads the bits of `number`, so that the hexadecimal fingerprints of
/// [`varied_entries`] look random, as hashes do.
fn scramble(number: u64) -> u64 {
    let mixed = (number ^ (number >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    mixed ^ (mixed >> 29)
}

/// Builds entries whose payloads vary as alert transitions do: three kinds
/// and two actors, a 64-digit hexadecimal fingerprint, a monitoring point,
/// a factor, a measured value and its limit. Full bundles of them compress
/// less than those of [`canonical_entries`].
fn varied_entries(start: u64) -> Vec<NewLedgerEntry> {
    (start..start + BATCH)
        .map(|number| {
            let (kind, actor) = match number % 3 {
                0 => ("alert.opened", "engine"),
                1 => ("alert.acknowledged", "user:inspector-li"),
                _ => ("alert.resolved", "engine"),
            };
            let fingerprint: String = (0..4)
                .map(|part| format!("{:016x}", scramble(number * 4 + part)))
                .collect();
            let value = (scramble(number) % 100_000) as f64 / 100.0;
            NewLedgerEntry::new(
                kind,
                format!("alert:{number}"),
                actor,
                PayloadObject::new()
                    .string("factor", FACTORS[(number % 8) as usize])
                    .string("fingerprint", &fingerprint)
                    .value("limit", &json!(100.0 + (number % 7) as f64 * 50.0))
                    .string(
                        "mn",
                        &format!("MN3502{:08}", scramble(number) % 100_000_000),
                    )
                    .value("value", &json!(value)),
            )
        })
        .collect()
}

fn bench_stored_append(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut group = c.benchmark_group("stored_append");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    let mut cases: Vec<(Hasher, Synchronous, &str, BuildBatch)> = Vec::new();
    for hasher in [Hasher::Sha256, Hasher::Sm3] {
        for synchronous in [Synchronous::Full, Synchronous::Normal] {
            cases.push((hasher, synchronous, "", entries));
        }
    }
    cases.push((
        Hasher::Sha256,
        Synchronous::Normal,
        "_canonical",
        canonical_entries,
    ));
    cases.push((
        Hasher::Sha256,
        Synchronous::Normal,
        "_varied",
        varied_entries,
    ));
    for (hasher, synchronous, suffix, build) in cases {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = SqliteOptions {
            ledger_hash: Some(hasher),
            synchronous,
            ..SqliteOptions::default()
        };
        let store = Arc::new(SqliteStore::open(dir.path(), options).expect("open store"));
        let mut next = 0;
        let mode = match synchronous {
            Synchronous::Full => "full",
            Synchronous::Normal => "normal",
        };
        let name = format!("{hasher}/{mode}/batch_{BATCH}{suffix}");
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let batch = build(next);
                    next += BATCH;
                    batch
                },
                |batch| {
                    runtime
                        .block_on(store.append_ledger(batch))
                        .expect("append batch");
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

/// Returns the CPU time the whole process has used: the benchmark thread,
/// the runtime's worker and the store's writer and checkpointer threads.
fn process_cpu_time() -> Duration {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let seconds = u64::try_from(time.tv_sec).expect("CPU time is not negative");
    let nanos = u32::try_from(time.tv_nsec).expect("nanoseconds are below 10^9");
    Duration::new(seconds, nanos)
}

/// Measures CPU time instead of wall time. On a machine that other
/// processes load, wall time includes the time the threads wait for a core,
/// and CPU time does not. It also leaves out the time spent waiting for
/// fsync.
///
/// The store's checkpointer thread copies the WAL into the database file
/// every 100 ms, after the appends that wrote it returned, so no window
/// around one append contains its whole cost. Each measurement therefore
/// covers whole loops: `build_batch` builds and drops batches, and `sha256`
/// and `sm3` build, append and drop them. The cost of an append is the
/// difference.
fn bench_stored_append_cpu(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut group = c.benchmark_group("stored_append_cpu");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    let mut next = 0;
    group.bench_function(format!("build_batch_{BATCH}"), |b| {
        b.iter_custom(|iterations| {
            let before = process_cpu_time();
            for _ in 0..iterations {
                let batch = entries(next);
                next += BATCH;
                drop(std::hint::black_box(batch));
            }
            process_cpu_time().saturating_sub(before)
        });
    });
    group.bench_function(format!("build_batch_{BATCH}_canonical"), |b| {
        b.iter_custom(|iterations| {
            let before = process_cpu_time();
            for _ in 0..iterations {
                let batch = canonical_entries(next);
                next += BATCH;
                drop(std::hint::black_box(batch));
            }
            process_cpu_time().saturating_sub(before)
        });
    });
    group.bench_function(format!("build_batch_{BATCH}_varied"), |b| {
        b.iter_custom(|iterations| {
            let before = process_cpu_time();
            for _ in 0..iterations {
                let batch = varied_entries(next);
                next += BATCH;
                drop(std::hint::black_box(batch));
            }
            process_cpu_time().saturating_sub(before)
        });
    });
    let cases: [(Hasher, &str, BuildBatch); 4] = [
        (Hasher::Sha256, "", entries),
        (Hasher::Sm3, "", entries),
        (Hasher::Sha256, "_canonical", canonical_entries),
        (Hasher::Sha256, "_varied", varied_entries),
    ];
    for (hasher, suffix, build) in cases {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = SqliteOptions {
            ledger_hash: Some(hasher),
            synchronous: Synchronous::Normal,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(dir.path(), options).expect("open store");
        let mut next = 0;
        group.bench_function(format!("{hasher}/normal/batch_{BATCH}{suffix}"), |b| {
            b.iter_custom(|iterations| {
                let before = process_cpu_time();
                for _ in 0..iterations {
                    let batch = build(next);
                    next += BATCH;
                    runtime
                        .block_on(store.append_ledger(batch))
                        .expect("append batch");
                }
                process_cpu_time().saturating_sub(before)
            });
        });
    }
    group.finish();
}

fn bench_entry_by_index(c: &mut Criterion) {
    const SIZE: u64 = 100_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut group = c.benchmark_group("stored_read");
    group.throughput(Throughput::Elements(1));
    // Criterion calls the routine once per sample, and not at all when a
    // filter skips it, so the ledger is filled on the first call only.
    let mut filled: Option<(tempfile::TempDir, SqliteStore)> = None;
    let mut index = 0;
    group.bench_function("entry_by_index", |b| {
        let (_, store) = filled.get_or_insert_with(|| {
            let dir = tempfile::tempdir().expect("temporary directory");
            let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
            for start in (0..SIZE).step_by(usize::try_from(BATCH).expect("batch fits usize")) {
                runtime
                    .block_on(store.append_ledger(entries(start)))
                    .expect("append batch");
            }
            (dir, store)
        });
        b.iter(|| {
            // A stride of 257 visits every position within a bundle.
            index = (index + 257) % SIZE;
            runtime
                .block_on(store.ledger_entry(index))
                .expect("read entry")
                .expect("entry exists")
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_stored_append,
    bench_stored_append_cpu,
    bench_entry_by_index
);
criterion_main!(benches);
