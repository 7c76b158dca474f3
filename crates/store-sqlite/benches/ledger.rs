//! Measures ledger appends stored in SQLite through `SqliteStore::append_ledger`.
//!
//! Each iteration appends one batch of `BATCH` entries with a payload of
//! about 120 bytes in one write request, so one transaction. Per entry the
//! store inserts the entry row, the leaf node and on average one interior
//! node, and per batch it reads and writes the append state once. The
//! ledger grows across iterations, as a running server's does.
//!
//! Run: `cargo bench -p oversight-store-sqlite --bench ledger`

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oversight_ledger::Hasher;
use oversight_store::{NewLedgerEntry, Store};
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
    for hasher in [Hasher::Sha256, Hasher::Sm3] {
        for synchronous in [Synchronous::Full, Synchronous::Normal] {
            let dir = tempfile::tempdir().expect("temporary directory");
            let options = SqliteOptions {
                ledger_hash: hasher,
                synchronous,
                ..SqliteOptions::default()
            };
            let store = Arc::new(SqliteStore::open(dir.path(), options).expect("open store"));
            let mut next = 0;
            let mode = match synchronous {
                Synchronous::Full => "full",
                Synchronous::Normal => "normal",
            };
            let name = format!("{hasher}/{mode}/batch_{BATCH}");
            group.bench_function(name, |b| {
                b.iter(|| {
                    let batch = entries(next);
                    next += BATCH;
                    runtime
                        .block_on(store.append_ledger(&batch))
                        .expect("append batch");
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_stored_append);
criterion_main!(benches);
