//! Runs a simulation: one task per connection, periodic reports, and a
//! final report when the duration ends or the run is cancelled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::connection::ConnectionTask;
use crate::device::Device;
use crate::stats::{Reporter, SharedStats};
use crate::{Report, SimulateConfig, SimulateError};

/// Runs the simulation until its duration ends or `cancel` fires, calls
/// `on_report` with each interval report, and returns the final report.
pub async fn run(
    config: &SimulateConfig,
    cancel: CancellationToken,
    mut on_report: impl FnMut(&Report) + Send,
) -> Result<Report, SimulateError> {
    config.validate()?;
    let target = resolve(&config.target).await?;
    let stats = Arc::new(SharedStats::new());
    let started = Instant::now();
    let stop = cancel.child_token();
    let mut tasks = spawn_connections(config, target, started, &stats, &stop);
    info!(target = %target, connections = config.connections, rate = config.rate, "simulation started");

    let deadline = config.duration().map(|duration| started + duration);
    let mut reporter = Reporter::new();
    let mut report_tick = config.report_interval().map(|period| {
        let mut interval = tokio::time::interval_at(started + period, period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval
    });
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = sleep_until(deadline) => break,
            () = tick(&mut report_tick) => on_report(&reporter.interval(&stats, started.elapsed())),
        }
    }
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    let report = reporter.finish(&stats, started.elapsed());
    info!(
        readings_per_sec = report.readings_per_sec,
        acks = report.counters.acks,
        ack_timeouts = report.counters.ack_timeouts,
        "simulation stopped"
    );
    Ok(report)
}

async fn resolve(target: &str) -> Result<SocketAddr, SimulateError> {
    let invalid = |source| SimulateError::InvalidTarget {
        target: target.to_owned(),
        source,
    };
    let mut addresses = tokio::net::lookup_host(target).await.map_err(invalid)?;
    addresses.next().ok_or_else(|| {
        invalid(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no address found",
        ))
    })
}

fn spawn_connections(
    config: &SimulateConfig,
    target: SocketAddr,
    started: Instant,
    stats: &Arc<SharedStats>,
    stop: &CancellationToken,
) -> JoinSet<()> {
    let period = (config.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / config.rate));
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut tasks = JoinSet::new();
    for index in 0..config.connections {
        // Spread the first uploads over one period so that connections do
        // not send in step.
        let first_delay =
            period.map_or(Duration::ZERO, |period| period.mul_f64(rng.random::<f64>()));
        let task = ConnectionTask {
            device: Device::new(config, index),
            target,
            period,
            first_delay,
            max_in_flight: config.max_in_flight,
            ack_timeout: Duration::from_secs_f64(config.ack_timeout_secs),
            connect_timeout: Duration::from_secs_f64(config.connect_timeout_secs),
            started,
            stats: stats.clone(),
        };
        tasks.spawn(task.run(stop.clone()));
    }
    tasks
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
