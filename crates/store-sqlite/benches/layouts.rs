//! Compares table layouts for readings with plain SQL, outside the store.
//!
//! Rows arrive as monitoring data does: every step, each of `POINTS` points
//! sends one minute value of each of `FACTORS` factors, and each step is
//! one transaction of `POINTS * FACTORS` rows (10,000 by default). Every
//! layout also updates the hourly per-point counter that the store keeps.
//! The run prints rows per second overall and over the last quarter of the
//! steps (when the tables are largest), and the mean time of a query of one
//! point's factor over 60 steps.
//!
//! Run: `cargo bench -p oversight-store-sqlite --bench layouts`
//! Environment: `STEPS` (default 300), `CACHE_MIB` (default 64),
//! `SYNCHRONOUS` (`NORMAL` by default, or `FULL`), `PAGE_SIZE` (bytes,
//! default 4096), `WAL_AUTOCHECKPOINT` (pages, default 1000), `LAYOUTS`
//! (comma-separated names, default all), `BENCH_DIR` (default the system's
//! temporary directory).

#![expect(
    clippy::print_stdout,
    reason = "the benchmark prints its results table"
)]

use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, params};

const POINTS: i64 = 1_000;
const FACTORS: i64 = 10;
const MINUTE_MICROS: i64 = 60_000_000;
const START_MICROS: i64 = 1_714_521_600_000_000;
const KIND_MINUTE: i64 = 2051;

/// A way to store readings.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// Rows clustered by the query key (point, factor, kind, data time).
    ClusteredByPointFactor,
    /// Appended rows, unique index (point, factor, kind, data time).
    AppendIndexPointFactor,
    /// Appended rows, unique index (point, data time, kind, factor).
    AppendIndexPointTime,
    /// Appended rows without any index: no retransmission rule, no queries.
    AppendNoIndex,
    /// One appended row per upload with the factors packed in a blob,
    /// unique index (point, data time, kind), as the store keeps readings.
    PackedUpload,
    /// A table per 60 steps (one hour of minute data), each like
    /// `AppendIndexPointFactor`.
    HourlyPartitions,
    /// One row per upload like `PackedUpload`, but in a `WITHOUT ROWID`
    /// table clustered by (point, data time, kind).
    PackedClustered,
    /// Like `PackedUpload`, but new uploads go to a table `recent` with a
    /// time-major unique index (data time, point, kind), and every
    /// `MOVE_EVERY` transactions one transaction moves them into `readings`
    /// in key order. Inserts check `readings` for the key first.
    PackedRecentBuffer,
}

/// Transactions between two moves of `PackedRecentBuffer`; at 20,000
/// uploads/s in commits of 1,000 uploads this is about one move per second.
const MOVE_EVERY: i64 = 20;

impl Layout {
    const ALL: [Layout; 8] = [
        Layout::ClusteredByPointFactor,
        Layout::AppendIndexPointFactor,
        Layout::AppendIndexPointTime,
        Layout::AppendNoIndex,
        Layout::PackedUpload,
        Layout::HourlyPartitions,
        Layout::PackedClustered,
        Layout::PackedRecentBuffer,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::ClusteredByPointFactor => "clustered_point_factor",
            Self::AppendIndexPointFactor => "append_index_point_factor",
            Self::AppendIndexPointTime => "append_index_point_time",
            Self::AppendNoIndex => "append_no_index",
            Self::PackedUpload => "packed_upload",
            Self::HourlyPartitions => "hourly_partitions",
            Self::PackedClustered => "packed_clustered",
            Self::PackedRecentBuffer => "packed_recent_buffer",
        }
    }

    fn table_sql(self, table: &str) -> String {
        let columns = "point_id INTEGER NOT NULL, data_time INTEGER NOT NULL, \
                       kind INTEGER NOT NULL, factor_id INTEGER NOT NULL, \
                       received_at INTEGER NOT NULL, rtd REAL, avg REAL, min REAL, max REAL, \
                       cou REAL, flag TEXT";
        match self {
            Self::ClusteredByPointFactor => format!(
                "CREATE TABLE {table} ({columns}, \
                 PRIMARY KEY (point_id, factor_id, kind, data_time)) WITHOUT ROWID"
            ),
            Self::AppendIndexPointFactor | Self::HourlyPartitions => format!(
                "CREATE TABLE {table} ({columns}); CREATE UNIQUE INDEX {table}_key \
                 ON {table} (point_id, factor_id, kind, data_time)"
            ),
            Self::AppendIndexPointTime => format!(
                "CREATE TABLE {table} ({columns}); CREATE UNIQUE INDEX {table}_key \
                 ON {table} (point_id, data_time, kind, factor_id)"
            ),
            Self::AppendNoIndex => format!("CREATE TABLE {table} ({columns})"),
            Self::PackedClustered => format!(
                "CREATE TABLE {table} (point_id INTEGER NOT NULL, data_time INTEGER NOT NULL, \
                 kind INTEGER NOT NULL, received_at INTEGER NOT NULL, factors BLOB NOT NULL, \
                 PRIMARY KEY (point_id, data_time, kind)) WITHOUT ROWID"
            ),
            Self::PackedRecentBuffer => format!(
                "CREATE TABLE {table} (point_id INTEGER NOT NULL, data_time INTEGER NOT NULL, \
                 kind INTEGER NOT NULL, received_at INTEGER NOT NULL, factors BLOB NOT NULL); \
                 CREATE UNIQUE INDEX {table}_key ON {table} (point_id, data_time, kind); \
                 CREATE TABLE recent (point_id INTEGER NOT NULL, data_time INTEGER NOT NULL, \
                 kind INTEGER NOT NULL, received_at INTEGER NOT NULL, factors BLOB NOT NULL); \
                 CREATE UNIQUE INDEX recent_key ON recent (data_time, point_id, kind)"
            ),
            Self::PackedUpload => format!(
                "CREATE TABLE {table} (point_id INTEGER NOT NULL, data_time INTEGER NOT NULL, \
                 kind INTEGER NOT NULL, received_at INTEGER NOT NULL, factors BLOB NOT NULL); \
                 CREATE UNIQUE INDEX {table}_key ON {table} (point_id, data_time, kind)"
            ),
        }
    }

    fn table_for_step(self, step: i64) -> String {
        match self {
            Self::HourlyPartitions => format!("readings_{}", step / 60),
            _ => "readings".to_owned(),
        }
    }
}

struct Settings {
    steps: i64,
    cache_mib: i64,
    synchronous: String,
    page_size: i64,
    wal_autocheckpoint: i64,
    dir: std::path::PathBuf,
}

fn settings() -> Settings {
    let number = |name: &str, default: i64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    Settings {
        steps: number("STEPS", 300),
        cache_mib: number("CACHE_MIB", 64),
        synchronous: std::env::var("SYNCHRONOUS").unwrap_or_else(|_| "NORMAL".to_owned()),
        page_size: number("PAGE_SIZE", 4096),
        wal_autocheckpoint: number("WAL_AUTOCHECKPOINT", 1000),
        dir: std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, Into::into),
    }
}

fn open(path: &std::path::Path, settings: &Settings) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "page_size", settings.page_size)?;
    conn.pragma_update(None, "wal_autocheckpoint", settings.wal_autocheckpoint)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.pragma_update(None, "synchronous", &settings.synchronous)?;
    conn.pragma_update(None, "cache_size", -settings.cache_mib * 1024)?;
    conn.execute_batch(
        "CREATE TABLE reading_counts (hour INTEGER NOT NULL, point_id INTEGER NOT NULL, \
         readings INTEGER NOT NULL, PRIMARY KEY (hour, point_id)) WITHOUT ROWID",
    )?;
    Ok(conn)
}

/// Packs the values of every factor of one upload: per factor its id and avg.
fn pack(step: i64, point: i64) -> Vec<u8> {
    let mut blob = Vec::with_capacity(usize::try_from(FACTORS * 12).unwrap_or(0));
    for factor in 0..FACTORS {
        blob.extend_from_slice(&i32::try_from(factor).unwrap_or(0).to_le_bytes());
        blob.extend_from_slice(&value(step, point, factor).to_le_bytes());
    }
    blob
}

fn value(step: i64, point: i64, factor: i64) -> f64 {
    ((step * 7 + point * 3 + factor) % 1000) as f64 / 10.0
}

fn insert_step(tx: &Transaction<'_>, layout: Layout, step: i64) -> rusqlite::Result<()> {
    let table = layout.table_for_step(step);
    if matches!(layout, Layout::HourlyPartitions) && step % 60 == 0 {
        tx.execute_batch(&layout.table_sql(&table))?;
    }
    let data_time = START_MICROS + step * MINUTE_MICROS;
    let received_at = data_time + MINUTE_MICROS;
    if matches!(layout, Layout::PackedRecentBuffer) {
        insert_recent(tx, step, data_time, received_at)?;
    } else if matches!(layout, Layout::PackedUpload | Layout::PackedClustered) {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {table} (point_id, data_time, kind, received_at, factors) \
             VALUES (?1, ?2, ?3, ?4, ?5)"
        ))?;
        for point in 0..POINTS {
            insert.execute(params![
                point,
                data_time,
                KIND_MINUTE,
                received_at,
                pack(step, point)
            ])?;
        }
    } else {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {table} (point_id, data_time, kind, factor_id, received_at, \
             avg, min, max, flag) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, 'N')"
        ))?;
        for point in 0..POINTS {
            for factor in 0..FACTORS {
                let row = params![
                    point,
                    data_time,
                    KIND_MINUTE,
                    factor,
                    received_at,
                    value(step, point, factor)
                ];
                insert.execute(row)?;
            }
        }
    }
    let mut count = tx.prepare_cached(
        "INSERT INTO reading_counts (hour, point_id, readings) VALUES (?1, ?2, ?3) \
         ON CONFLICT (hour, point_id) DO UPDATE SET readings = readings + excluded.readings",
    )?;
    let hour = received_at.div_euclid(3_600_000_000);
    for point in 0..POINTS {
        count.execute(params![hour, point, FACTORS])?;
    }
    Ok(())
}

/// Inserts one step into `recent`, after checking `readings` for each key,
/// and moves `recent` into `readings` every `MOVE_EVERY` steps.
fn insert_recent(
    tx: &Transaction<'_>,
    step: i64,
    data_time: i64,
    received_at: i64,
) -> rusqlite::Result<()> {
    let mut stored = tx.prepare_cached(
        "SELECT 1 FROM readings WHERE point_id = ?1 AND data_time = ?2 AND kind = ?3",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO recent (point_id, data_time, kind, received_at, factors) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for point in 0..POINTS {
        // A stored key would be merged into `readings`; in this benchmark none is.
        if stored.exists(params![point, data_time, KIND_MINUTE])? {
            continue;
        }
        insert.execute(params![
            point,
            data_time,
            KIND_MINUTE,
            received_at,
            pack(step, point)
        ])?;
    }
    if (step + 1) % MOVE_EVERY == 0 {
        tx.execute_batch(
            "INSERT INTO readings (point_id, data_time, kind, received_at, factors) \
             SELECT point_id, data_time, kind, received_at, factors FROM recent \
             ORDER BY point_id, data_time, kind; \
             DELETE FROM recent;",
        )?;
    }
    Ok(())
}

/// Returns the mean time of queries of one point's factor over 60 steps.
fn query_time(conn: &Connection, layout: Layout, steps: i64) -> rusqlite::Result<Option<Duration>> {
    const QUERIES: i64 = 200;
    let sql = match layout {
        Layout::AppendNoIndex => return Ok(None),
        Layout::PackedRecentBuffer => {
            "SELECT data_time, factors FROM readings \
             WHERE point_id = ?1 AND kind = 2051 AND data_time >= ?3 AND data_time < ?4 \
             UNION ALL SELECT data_time, factors FROM recent \
             WHERE point_id = ?1 AND kind = 2051 AND data_time >= ?3 AND data_time < ?4 \
             ORDER BY data_time"
        }
        Layout::PackedUpload | Layout::PackedClustered => {
            "SELECT data_time, factors FROM readings \
             WHERE point_id = ?1 AND kind = 2051 AND data_time >= ?3 AND data_time < ?4 \
             ORDER BY data_time"
        }
        Layout::HourlyPartitions => {
            "SELECT data_time, avg FROM readings_0 \
             WHERE point_id = ?1 AND factor_id = ?2 AND kind = 2051 \
             AND data_time >= ?3 AND data_time < ?4 ORDER BY data_time"
        }
        _ => {
            "SELECT data_time, avg FROM readings \
             WHERE point_id = ?1 AND factor_id = ?2 AND kind = 2051 \
             AND data_time >= ?3 AND data_time < ?4 ORDER BY data_time"
        }
    };
    let mut statement = conn.prepare(sql)?;
    let started = Instant::now();
    let mut rows = 0;
    for query in 0..QUERIES {
        let point = (query * 397) % POINTS;
        let factor = query % FACTORS;
        let first_step = match layout {
            Layout::HourlyPartitions => 0,
            _ => (query * 31) % (steps - 60).max(1),
        };
        let from = START_MICROS + first_step * MINUTE_MICROS;
        let to = from + 60 * MINUTE_MICROS;
        let mut result = statement.query(params![point, factor, from, to])?;
        while let Some(row) = result.next()? {
            if matches!(
                layout,
                Layout::PackedUpload | Layout::PackedClustered | Layout::PackedRecentBuffer
            ) {
                // Unpacking one factor is part of the query's cost.
                let blob: Vec<u8> = row.get(1)?;
                let start = usize::try_from(factor * 12 + 4).unwrap_or(0);
                let bytes: [u8; 8] = blob[start..start + 8].try_into().unwrap_or([0; 8]);
                std::hint::black_box(f64::from_le_bytes(bytes));
            }
            rows += 1;
        }
    }
    std::hint::black_box(rows);
    Ok(Some(
        started.elapsed() / u32::try_from(QUERIES).unwrap_or(1),
    ))
}

fn run(layout: Layout, settings: &Settings) -> rusqlite::Result<()> {
    let dir = tempfile::tempdir_in(&settings.dir).map_err(|error| {
        rusqlite::Error::InvalidParameterName(format!("create benchmark directory: {error}"))
    })?;
    let mut conn = open(&dir.path().join("layout.db"), settings)?;
    if !matches!(layout, Layout::HourlyPartitions) {
        conn.execute_batch(&layout.table_sql("readings"))?;
    }
    let last_quarter = settings.steps - settings.steps / 4;
    let started = Instant::now();
    let mut last_quarter_started = started;
    for step in 0..settings.steps {
        if step == last_quarter {
            last_quarter_started = Instant::now();
        }
        let tx = conn.transaction()?;
        insert_step(&tx, layout, step)?;
        tx.commit()?;
    }
    let rows = (settings.steps * POINTS * FACTORS) as f64;
    let total = started.elapsed().as_secs_f64();
    let tail_rows = ((settings.steps - last_quarter) * POINTS * FACTORS) as f64;
    let tail = last_quarter_started.elapsed().as_secs_f64();
    let query = query_time(&conn, layout, settings.steps)?;
    let size: i64 = conn.query_row(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        [],
        |row| row.get(0),
    )?;
    let query = query.map_or_else(|| "-".to_owned(), |time| format!("{:.0}", time.as_micros()));
    println!(
        "| {} | {:.0} | {:.0} | {} | {:.0} |",
        layout.name(),
        rows / total,
        tail_rows / tail,
        query,
        size as f64 / rows
    );
    Ok(())
}

fn main() -> rusqlite::Result<()> {
    let settings = settings();
    let wanted = std::env::var("LAYOUTS").ok();
    println!(
        "steps {}, {} rows per transaction, cache {} MiB, synchronous {}, page size {}, \
         wal_autocheckpoint {}",
        settings.steps,
        POINTS * FACTORS,
        settings.cache_mib,
        settings.synchronous,
        settings.page_size,
        settings.wal_autocheckpoint
    );
    println!("| layout | rows/s overall | rows/s last quarter | query µs | bytes/row |");
    println!("|---|---|---|---|---|");
    for layout in Layout::ALL {
        let selected = wanted
            .as_deref()
            .is_none_or(|names| names.split(',').any(|name| name == layout.name()));
        if selected {
            run(layout, &settings)?;
        }
    }
    Ok(())
}
