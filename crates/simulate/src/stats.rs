//! Counters and acknowledgement latency of a simulation run, and the reports
//! made from them.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency the histograms record, in microseconds (1 hour).
const MAX_LATENCY_MICROS: u64 = 3_600_000_000;

/// Creates a latency histogram in microseconds with 3 significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_MICROS, 3)
        .expect("bounds 1 to 1 hour with 3 significant digits are valid")
}

/// Counters shared by every connection task.
#[derive(Debug)]
pub(crate) struct SharedStats {
    pub(crate) connections_open: AtomicU64,
    pub(crate) uploads_sent: AtomicU64,
    pub(crate) readings_sent: AtomicU64,
    pub(crate) malformed_sent: AtomicU64,
    pub(crate) acks: AtomicU64,
    pub(crate) ack_timeouts: AtomicU64,
    pub(crate) unacknowledged_at_end: AtomicU64,
    pub(crate) connection_errors: AtomicU64,
    /// Latencies since the last report, merged in by the connections.
    latency: Mutex<Histogram<u64>>,
}

impl SharedStats {
    pub(crate) fn new() -> Self {
        Self {
            connections_open: AtomicU64::new(0),
            uploads_sent: AtomicU64::new(0),
            readings_sent: AtomicU64::new(0),
            malformed_sent: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            ack_timeouts: AtomicU64::new(0),
            unacknowledged_at_end: AtomicU64::new(0),
            connection_errors: AtomicU64::new(0),
            latency: Mutex::new(new_histogram()),
        }
    }

    /// Records a connection's latency samples, in microseconds, and clears them.
    ///
    /// Connections keep plain samples rather than histograms, because adding
    /// a whole histogram costs a pass over all its buckets.
    pub(crate) fn merge_latency(&self, samples: &mut Vec<u64>) {
        if samples.is_empty() {
            return;
        }
        let mut shared = self
            .latency
            .lock()
            .expect("latency mutex is never poisoned");
        for micros in samples.drain(..) {
            shared.saturating_record(micros);
        }
    }

    /// Takes the latencies merged since the previous call.
    fn take_latency(&self) -> Histogram<u64> {
        let mut shared = self
            .latency
            .lock()
            .expect("latency mutex is never poisoned");
        std::mem::replace(&mut *shared, new_histogram())
    }

    fn counters(&self) -> Counters {
        Counters {
            uploads_sent: self.uploads_sent.load(Ordering::Relaxed),
            readings_sent: self.readings_sent.load(Ordering::Relaxed),
            malformed_sent: self.malformed_sent.load(Ordering::Relaxed),
            acks: self.acks.load(Ordering::Relaxed),
            ack_timeouts: self.ack_timeouts.load(Ordering::Relaxed),
            unacknowledged_at_end: self.unacknowledged_at_end.load(Ordering::Relaxed),
            connection_errors: self.connection_errors.load(Ordering::Relaxed),
        }
    }
}

/// Event counts, cumulative or over one report interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Well-formed uploads written to the socket.
    pub uploads_sent: u64,
    /// Readings in those uploads.
    pub readings_sent: u64,
    /// Malformed uploads written, which expect no acknowledgement.
    pub malformed_sent: u64,
    /// 9014 acknowledgements matched to an upload.
    pub acks: u64,
    /// Uploads without an acknowledgement within the timeout, including
    /// those outstanding when their connection failed.
    pub ack_timeouts: u64,
    /// Uploads still waiting for their acknowledgement when the run ended.
    pub unacknowledged_at_end: u64,
    /// Failed connects and connections closed by the server or the network.
    pub connection_errors: u64,
}

impl Counters {
    fn since(self, earlier: Self) -> Self {
        Self {
            uploads_sent: self.uploads_sent - earlier.uploads_sent,
            readings_sent: self.readings_sent - earlier.readings_sent,
            malformed_sent: self.malformed_sent - earlier.malformed_sent,
            acks: self.acks - earlier.acks,
            ack_timeouts: self.ack_timeouts - earlier.ack_timeouts,
            unacknowledged_at_end: self.unacknowledged_at_end - earlier.unacknowledged_at_end,
            connection_errors: self.connection_errors - earlier.connection_errors,
        }
    }
}

/// Percentiles of the time from writing an upload to reading its 9014
/// acknowledgement, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// How many acknowledgements were measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl Latency {
    fn from_histogram(histogram: &Histogram<u64>) -> Self {
        let millis = |micros: u64| micros as f64 / 1000.0;
        Self {
            count: histogram.len(),
            p50: millis(histogram.value_at_quantile(0.50)),
            p90: millis(histogram.value_at_quantile(0.90)),
            p99: millis(histogram.value_at_quantile(0.99)),
            max: millis(histogram.max()),
        }
    }
}

/// Whether a report covers one interval or the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// The events since the previous report.
    Interval,
    /// The whole run.
    Final,
}

/// Progress of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Interval or whole run.
    pub kind: ReportKind,
    /// Seconds since the run started.
    pub elapsed_secs: f64,
    /// Seconds the report covers.
    pub span_secs: f64,
    /// Connections open when the report was made.
    pub connections_open: u64,
    /// Event counts over the span.
    #[serde(flatten)]
    pub counters: Counters,
    /// Readings sent per second over the span.
    pub readings_per_sec: f64,
    /// Acknowledgements per second over the span.
    pub acks_per_sec: f64,
    /// Acknowledgement latency over the span.
    pub latency_ms: Latency,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counters = &self.counters;
        let latency = &self.latency_ms;
        write!(
            f,
            "{kind} {elapsed:.1}s: {open} connections, {readings_rate:.0} readings/s, \
             {acks_rate:.0} acks/s, {uploads} uploads, {acks} acks, {timeouts} ack timeouts, \
             {pending} unacknowledged at end, {errors} connection errors, \
             {malformed} malformed sent; \
             ack latency ms p50 {p50:.2} p90 {p90:.2} p99 {p99:.2} max {max:.2}",
            kind = match self.kind {
                ReportKind::Interval => "interval",
                ReportKind::Final => "total",
            },
            elapsed = self.elapsed_secs,
            open = self.connections_open,
            readings_rate = self.readings_per_sec,
            acks_rate = self.acks_per_sec,
            uploads = counters.uploads_sent,
            acks = counters.acks,
            timeouts = counters.ack_timeouts,
            pending = counters.unacknowledged_at_end,
            errors = counters.connection_errors,
            malformed = counters.malformed_sent,
            p50 = latency.p50,
            p90 = latency.p90,
            p99 = latency.p99,
            max = latency.max,
        )
    }
}

/// Builds interval and final reports from the shared counters.
#[derive(Debug)]
pub(crate) struct Reporter {
    previous: Counters,
    previous_elapsed: Duration,
    total_latency: Histogram<u64>,
}

impl Reporter {
    pub(crate) fn new() -> Self {
        Self {
            previous: Counters::default(),
            previous_elapsed: Duration::ZERO,
            total_latency: new_histogram(),
        }
    }

    /// Reports the events since the previous call.
    pub(crate) fn interval(&mut self, stats: &SharedStats, elapsed: Duration) -> Report {
        let counters = stats.counters();
        let latency = stats.take_latency();
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.total_latency.add(&latency);
        let span = elapsed.saturating_sub(self.previous_elapsed);
        let delta = counters.since(self.previous);
        self.previous = counters;
        self.previous_elapsed = elapsed;
        report(ReportKind::Interval, stats, elapsed, span, delta, &latency)
    }

    /// Reports the whole run.
    pub(crate) fn finish(mut self, stats: &SharedStats, elapsed: Duration) -> Report {
        let latency = stats.take_latency();
        let _ = self.total_latency.add(&latency);
        let counters = stats.counters();
        report(
            ReportKind::Final,
            stats,
            elapsed,
            elapsed,
            counters,
            &self.total_latency,
        )
    }
}

fn report(
    kind: ReportKind,
    stats: &SharedStats,
    elapsed: Duration,
    span: Duration,
    counters: Counters,
    latency: &Histogram<u64>,
) -> Report {
    let seconds = span.as_secs_f64();
    let rate = |count: u64| {
        if seconds > 0.0 {
            count as f64 / seconds
        } else {
            0.0
        }
    };
    Report {
        kind,
        elapsed_secs: elapsed.as_secs_f64(),
        span_secs: seconds,
        connections_open: stats.connections_open.load(Ordering::Relaxed),
        counters,
        readings_per_sec: rate(counters.readings_sent),
        acks_per_sec: rate(counters.acks),
        latency_ms: Latency::from_histogram(latency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_split_into_intervals() {
        let stats = SharedStats::new();
        let mut reporter = Reporter::new();
        stats.readings_sent.fetch_add(1000, Ordering::Relaxed);
        stats.acks.fetch_add(100, Ordering::Relaxed);
        let mut samples: Vec<u64> = (1..=1000).map(|micros| micros * 10).collect();
        stats.merge_latency(&mut samples);
        assert!(samples.is_empty());

        let first = reporter.interval(&stats, Duration::from_secs(2));
        assert_eq!(first.counters.readings_sent, 1000);
        assert!((first.readings_per_sec - 500.0).abs() < 1e-9);
        assert_eq!(first.latency_ms.count, 1000);
        assert!(
            (first.latency_ms.p50 - 5.0).abs() < 0.01,
            "{:?}",
            first.latency_ms
        );
        assert!(
            (first.latency_ms.max - 10.0).abs() < 0.01,
            "{:?}",
            first.latency_ms
        );

        stats.readings_sent.fetch_add(500, Ordering::Relaxed);
        let second = reporter.interval(&stats, Duration::from_secs(3));
        assert_eq!(second.counters.readings_sent, 500);
        assert_eq!(second.latency_ms.count, 0);

        let total = reporter.finish(&stats, Duration::from_secs(3));
        assert_eq!(total.kind, ReportKind::Final);
        assert_eq!(total.counters.readings_sent, 1500);
        assert_eq!(total.latency_ms.count, 1000);
        let json = serde_json::to_value(&total).unwrap();
        assert_eq!(json["kind"], "final");
        assert_eq!(json["readings_sent"], 1500);
        assert!(json["latency_ms"]["p99"].is_number());
    }
}
