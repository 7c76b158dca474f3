//! One simulated datalogger's TCP connection: sends uploads at the
//! configured rate, matches 9014 acknowledgements by QN and reconnects
//! after errors.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use oversight_hj212::Framer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::device::{Device, Upload};
use crate::stats::SharedStats;

/// How often a connection checks for acknowledgement timeouts and merges its
/// latencies into the shared histogram.
const HOUSEKEEPING: Duration = Duration::from_millis(250);

/// How long to wait before reconnecting after an error; doubles up to the max.
const RECONNECT_MIN: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// The settings and state of one connection task.
#[derive(Debug)]
pub(crate) struct ConnectionTask {
    pub(crate) device: Device,
    pub(crate) target: SocketAddr,
    /// Time between uploads; `None` sends whenever the window allows.
    pub(crate) period: Option<Duration>,
    /// Delay before the first upload, so connections do not send in step.
    pub(crate) first_delay: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) ack_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) started: Instant,
    pub(crate) stats: Arc<SharedStats>,
}

/// Uploads waiting for their acknowledgement, oldest first.
#[derive(Debug, Default)]
struct InFlight {
    entries: VecDeque<(u64, Instant)>,
}

impl InFlight {
    /// Removes the upload with `qn` and returns when it was sent.
    fn acknowledge(&mut self, qn: u64) -> Option<Instant> {
        let index = self
            .entries
            .iter()
            .position(|(sent_qn, _)| *sent_qn == qn)?;
        self.entries.remove(index).map(|(_, sent)| sent)
    }

    /// Removes the uploads sent before `deadline` and returns how many.
    fn expire(&mut self, deadline: Instant) -> u64 {
        let mut expired = 0;
        while self
            .entries
            .front()
            .is_some_and(|(_, sent)| *sent < deadline)
        {
            self.entries.pop_front();
            expired += 1;
        }
        expired
    }
}

/// The reason a connection ended.
enum Ended {
    Cancelled,
    Failed,
}

impl ConnectionTask {
    /// Runs until `cancel` fires, reconnecting after errors.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let mut backoff = RECONNECT_MIN;
        let mut first = true;
        loop {
            if cancel.is_cancelled() {
                return;
            }
            let connect =
                tokio::time::timeout(self.connect_timeout, TcpStream::connect(self.target));
            let stream = tokio::select! {
                () = cancel.cancelled() => return,
                result = connect => result,
            };
            match stream {
                Ok(Ok(stream)) => {
                    backoff = RECONNECT_MIN;
                    self.stats.connections_open.fetch_add(1, Ordering::Relaxed);
                    let delay = if first {
                        self.first_delay
                    } else {
                        Duration::ZERO
                    };
                    first = false;
                    let ended = self.serve(stream, delay, &cancel).await;
                    self.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
                    if let Ended::Cancelled = ended {
                        return;
                    }
                }
                Ok(Err(error)) => {
                    debug!(mn = self.device.mn(), error = %error, "connect failed");
                    self.stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    debug!(mn = self.device.mn(), "connect timed out");
                    self.stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RECONNECT_MAX);
        }
    }

    /// Sends and receives on one connection until it fails or `cancel` fires.
    async fn serve(
        &mut self,
        stream: TcpStream,
        delay: Duration,
        cancel: &CancellationToken,
    ) -> Ended {
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let mut framer = Framer::new();
        let mut in_flight = InFlight::default();
        let mut latency = Vec::new();
        let mut read_buffer = vec![0_u8; 4096];
        let mut uploads = Vec::new();
        let mut frames = String::new();

        let start = Instant::now() + delay;
        let mut send_tick = self.period.map(|period| {
            let mut interval = tokio::time::interval_at(start, period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        });
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        let ended = loop {
            let window_open = in_flight.entries.len() < self.max_in_flight;
            let unpaced_ready = send_tick.is_none() && window_open && Instant::now() >= start;
            tokio::select! {
                biased;
                () = cancel.cancelled() => break Ended::Cancelled,
                read = reader.read(&mut read_buffer) => match read {
                    Ok(0) | Err(_) => break Ended::Failed,
                    Ok(count) => self.receive(&read_buffer[..count], &mut framer, &mut in_flight, &mut latency),
                },
                _ = housekeeping.tick() => {
                    let expired = in_flight.expire(Instant::now() - self.ack_timeout);
                    self.stats.ack_timeouts.fetch_add(expired, Ordering::Relaxed);
                    self.stats.merge_latency(&mut latency);
                },
                _ = tick(&mut send_tick), if send_tick.is_some() && window_open => {
                    if !self.send(&mut writer, &mut uploads, &mut frames, &mut in_flight).await {
                        break Ended::Failed;
                    }
                },
                () = std::future::ready(()), if unpaced_ready => {
                    if !self.send(&mut writer, &mut uploads, &mut frames, &mut in_flight).await {
                        break Ended::Failed;
                    }
                },
            }
        };
        let unacknowledged = in_flight.entries.len() as u64;
        self.stats.merge_latency(&mut latency);
        match ended {
            Ended::Cancelled => {
                let pending = &self.stats.unacknowledged_at_end;
                pending.fetch_add(unacknowledged, Ordering::Relaxed);
            }
            Ended::Failed => {
                debug!(mn = self.device.mn(), unacknowledged, "connection closed");
                self.stats
                    .ack_timeouts
                    .fetch_add(unacknowledged, Ordering::Relaxed);
                self.stats.connection_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        ended
    }

    /// Writes the uploads due now; returns false when the write failed.
    async fn send(
        &mut self,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        uploads: &mut Vec<Upload>,
        frames: &mut String,
        in_flight: &mut InFlight,
    ) -> bool {
        if self.device.is_silent(self.started.elapsed()) {
            if self.period.is_none() {
                // Unpaced devices would spin while silent.
                tokio::time::sleep(HOUSEKEEPING).await;
            }
            return true;
        }
        uploads.clear();
        frames.clear();
        self.device.next_uploads(Timestamp::now(), uploads);
        for upload in uploads.iter() {
            frames.push_str(&upload.frame);
        }
        if writer.write_all(frames.as_bytes()).await.is_err() {
            return false;
        }
        let sent = Instant::now();
        for upload in uploads.iter() {
            match upload.qn {
                Some(qn) => {
                    in_flight.entries.push_back((qn, sent));
                    self.stats.uploads_sent.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .readings_sent
                        .fetch_add(upload.readings as u64, Ordering::Relaxed);
                }
                None => {
                    self.stats.malformed_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        true
    }

    /// Matches the acknowledgements in `bytes` to uploads in flight.
    fn receive(
        &self,
        mut bytes: &[u8],
        framer: &mut Framer,
        in_flight: &mut InFlight,
        latency: &mut Vec<u64>,
    ) {
        let received = Instant::now();
        let mut stalled = false;
        while !bytes.is_empty() {
            let taken = framer.push(bytes);
            bytes = &bytes[taken..];
            while let Some(frame) = framer.next_frame() {
                let Ok(frame) = frame else { continue };
                let Ok(packet) = frame.parse() else { continue };
                if packet.cn() != 9014 {
                    continue;
                }
                let qn = packet.qn().and_then(|qn| qn.parse::<u64>().ok());
                let Some(sent) = qn.and_then(|qn| in_flight.acknowledge(qn)) else {
                    continue;
                };
                let micros = received.duration_since(sent).as_micros().max(1);
                latency.push(u64::try_from(micros).unwrap_or(u64::MAX));
                self.stats.acks.fetch_add(1, Ordering::Relaxed);
            }
            // A full framer takes nothing, but draining it always makes
            // room, so a second push without progress means a framer bug.
            if taken == 0 && std::mem::replace(&mut stalled, true) {
                break;
            }
            if taken > 0 {
                stalled = false;
            }
        }
    }
}

/// Waits for the next tick of `interval`; pending forever without one.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_matches_and_expires() {
        let start = Instant::now();
        let mut in_flight = InFlight::default();
        for (index, qn) in [10_u64, 11, 12, 13].into_iter().enumerate() {
            in_flight
                .entries
                .push_back((qn, start + Duration::from_millis(index as u64)));
        }
        assert_eq!(
            in_flight.acknowledge(12),
            Some(start + Duration::from_millis(2))
        );
        assert_eq!(in_flight.acknowledge(12), None);
        assert_eq!(in_flight.expire(start + Duration::from_millis(2)), 2);
        assert_eq!(in_flight.entries.len(), 1);
        assert_eq!(
            in_flight.acknowledge(13),
            Some(start + Duration::from_millis(3))
        );
    }
}
