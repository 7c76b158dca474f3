//! One datalogger connection: frames in, readings stored, 9014 out.
//!
//! Frames are handled one at a time in arrival order. An upload is
//! acknowledged only after the store returned `Ok`, so a device whose data
//! was not stored sends it again. A bad frame is logged (the first few per
//! connection), counted and dropped, and the next frame is handled as usual.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Arc;

use oversight_core::{DataKind, Mn, MonitoringPoint, Reading};
use oversight_hj212::{
    CrcVariant, Frame, FrameError, Framer, FramerConfig, Packet, UnverifiedFrame, ack_9014_with,
};
use oversight_store::{QuarantinedUpload, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use crate::listener::Shared;
use crate::metrics;

/// The 2025 heartbeat command.
const HEARTBEAT: u16 = 9015;

/// The connection can no longer be written to.
#[derive(Debug)]
struct Closed;

/// Logs the first rejected frames of a connection and counts the rest.
#[derive(Debug)]
struct RejectionLog {
    limit: u32,
    logged: u32,
    suppressed: u64,
}

/// The state of one connection.
struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    writer: OwnedWriteHalf,
    framer: Framer,
    rejections: RejectionLog,
    /// The MN of the latest parsed frame, for log lines about the connection.
    mn: String,
    /// MNs whose quarantined uploads were already logged on this connection.
    quarantine_logged: Vec<String>,
}

/// Serves one accepted connection until the device closes it, it idles out,
/// a write fails, or `cancel` fires.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let framer = Framer::with_config(FramerConfig {
        max_segment_len: shared.settings.max_segment_len,
        ..FramerConfig::default()
    });
    let limit = shared.settings.logged_rejections;
    let mut buffer = vec![0_u8; shared.settings.read_buffer_bytes];
    let idle_timeout = shared.settings.idle_timeout;
    let mut connection = Connection {
        shared,
        peer,
        writer,
        framer,
        rejections: RejectionLog {
            limit,
            logged: 0,
            suppressed: 0,
        },
        mn: String::new(),
        quarantine_logged: Vec::new(),
    };
    debug!(peer = %peer, "hj212 connection opened");
    loop {
        let read = tokio::select! {
            () = cancel.cancelled() => break,
            read = tokio::time::timeout(idle_timeout, reader.read(&mut buffer)) => read,
        };
        let count = match read {
            Err(_) => {
                ::metrics::counter!(metrics::IDLE_TIMEOUTS).increment(1);
                debug!(peer = %peer, mn = %connection.mn, "hj212 connection idle, closing");
                break;
            }
            Ok(Ok(0)) => break,
            Ok(Ok(count)) => count,
            Ok(Err(error)) => {
                debug!(peer = %peer, mn = %connection.mn, error = %error, "hj212 read failed");
                break;
            }
        };
        if connection.receive(&buffer[..count]).await.is_err() {
            break;
        }
    }
    connection.close();
}

impl Connection {
    /// Frames `bytes` and handles every complete frame.
    async fn receive(&mut self, mut bytes: &[u8]) -> Result<(), Closed> {
        loop {
            let taken = self.framer.push(bytes);
            bytes = &bytes[taken..];
            while let Some(result) = self.framer.next_frame() {
                match result {
                    Ok(frame) => self.handle_frame(frame).await?,
                    Err(error) => self.handle_frame_error(error).await?,
                }
            }
            if bytes.is_empty() {
                return Ok(());
            }
        }
    }

    async fn handle_frame_error(&mut self, error: FrameError) -> Result<(), Closed> {
        if let FrameError::CrcMismatch { frame, .. } = &error
            && let Some(frame) = self.verify_with_device_variant(frame)
        {
            return self.handle_frame(frame).await;
        }
        self.reject(error.reason(), &error);
        Ok(())
    }

    /// Rechecks a frame that failed its CRC under the variant configured for
    /// its MN, and makes that variant the connection's default when it passes.
    fn verify_with_device_variant(&mut self, frame: &UnverifiedFrame) -> Option<Frame> {
        let text = String::from_utf8_lossy(frame.segment());
        let mn = mn_field(&text)?;
        let variant = self
            .shared
            .settings
            .crc_overrides
            .get(mn)
            .copied()
            .unwrap_or(CrcVariant::Hj212);
        if variant == self.framer.crc_variant() {
            return None;
        }
        let verified = frame.verify(variant).ok()?;
        self.framer.set_crc_variant(variant);
        Some(verified)
    }

    async fn handle_frame(&mut self, frame: Frame) -> Result<(), Closed> {
        ::metrics::counter!(metrics::FRAMES_RECEIVED).increment(1);
        let text = frame.text();
        let packet = match Packet::parse_with(&text, &self.shared.parse_options) {
            Ok(packet) => packet,
            Err(error) => {
                self.reject(error.reason(), &error);
                return Ok(());
            }
        };
        if self.mn != packet.mn() {
            packet.mn().clone_into(&mut self.mn);
        }
        let cn = packet.cn();
        if DataKind::from_command(cn).is_some() {
            return self.handle_upload(&frame, &packet).await;
        }
        if cn == HEARTBEAT {
            ::metrics::counter!(metrics::OTHER_COMMANDS, "kind" => "heartbeat").increment(1);
            // A heartbeat carries no data, so it is acknowledged without a
            // password check when the device requests it.
            if packet.ack_requested() {
                self.acknowledge(&frame, &packet).await?;
            }
            return Ok(());
        }
        let kind = if (9011..=9014).contains(&cn) {
            "reply"
        } else {
            "other"
        };
        ::metrics::counter!(metrics::OTHER_COMMANDS, "kind" => kind).increment(1);
        debug!(peer = %self.peer, mn = packet.mn(), cn, "hj212 command without readings ignored");
        Ok(())
    }

    async fn handle_upload(&mut self, frame: &Frame, packet: &Packet<'_>) -> Result<(), Closed> {
        let received_at = self.shared.clock.now();
        let point = match Mn::parse(packet.mn()) {
            Ok(mn) => match self.shared.cache.point(&mn).await {
                Ok(point) => point,
                Err(error) => {
                    ::metrics::counter!(metrics::STORE_FAILURES).increment(1);
                    error!(mn = %mn, error = %error, "failed to look up hj212 point, upload not acknowledged");
                    return Ok(());
                }
            },
            Err(_) => None,
        };
        let Some(point) = point else {
            return self.quarantine(frame, packet, received_at).await;
        };
        if packet.pw() != point.password.expose() {
            let detail = format!(
                "wrong password (PW) for MN {}; the upload was not stored",
                point.mn
            );
            self.reject("wrong_password", &detail);
            return Ok(());
        }
        let (readings, errors) = packet.readings(received_at, self.shared.settings.offset);
        for error in &errors {
            ::metrics::counter!(metrics::FIELDS_REJECTED, "reason" => error.reason()).increment(1);
            self.log_rejection(error.reason(), error);
        }
        if readings.is_empty()
            && let Some(error) = errors.first()
        {
            // Nothing readable: acknowledging would tell the device its data arrived.
            ::metrics::counter!(metrics::FRAMES_REJECTED, "reason" => error.reason()).increment(1);
            return Ok(());
        }
        self.store(frame, packet, point, readings).await
    }

    async fn store(
        &mut self,
        frame: &Frame,
        packet: &Packet<'_>,
        point: Arc<MonitoringPoint>,
        readings: Vec<Reading>,
    ) -> Result<(), Closed> {
        if !readings.is_empty() {
            match self.shared.store.insert_readings(&readings).await {
                Ok(_) => {}
                Err(StoreError::NotFound { .. }) => {
                    // The point was deleted since it was cached.
                    self.shared.cache.invalidate(&point.mn);
                    return self
                        .quarantine(frame, packet, readings[0].received_at)
                        .await;
                }
                Err(error) => {
                    ::metrics::counter!(metrics::STORE_FAILURES).increment(1);
                    error!(mn = %point.mn, error = %error, "failed to store hj212 readings, upload not acknowledged");
                    return Ok(());
                }
            }
            ::metrics::counter!(metrics::READINGS_STORED).increment(readings.len() as u64);
        }
        if packet.ack_requested() {
            self.acknowledge(frame, packet).await?;
        }
        if let Some(sink) = &self.shared.sink
            && !readings.is_empty()
        {
            sink.readings_stored(point, readings).await;
        }
        Ok(())
    }

    /// Stores an upload of an unregistered MN in quarantine and acknowledges it.
    async fn quarantine(
        &mut self,
        frame: &Frame,
        packet: &Packet<'_>,
        received_at: jiff::Timestamp,
    ) -> Result<(), Closed> {
        // Readings need a valid MN; the raw packet is kept either way.
        let (readings, _) = packet.readings(received_at, self.shared.settings.offset);
        let raw = String::from_utf8_lossy(frame.as_bytes());
        let upload = QuarantinedUpload {
            mn: packet.mn().to_owned(),
            peer: Some(self.peer.to_string()),
            received_at,
            raw: raw.trim_end_matches(['\r', '\n']).to_owned(),
            readings,
        };
        if let Err(error) = self
            .shared
            .store
            .quarantine(std::slice::from_ref(&upload))
            .await
        {
            ::metrics::counter!(metrics::STORE_FAILURES).increment(1);
            error!(mn = packet.mn(), error = %error, "failed to quarantine hj212 upload, upload not acknowledged");
            return Ok(());
        }
        ::metrics::counter!(metrics::QUARANTINED).increment(1);
        if !self.quarantine_logged.iter().any(|mn| mn == packet.mn())
            && self.quarantine_logged.len() < 16
        {
            self.quarantine_logged.push(packet.mn().to_owned());
            warn!(peer = %self.peer, mn = packet.mn(), "upload from unregistered mn quarantined; register the point to release it");
        }
        if packet.ack_requested() {
            self.acknowledge(frame, packet).await?;
        }
        Ok(())
    }

    /// Writes the 9014 acknowledgement of `packet` with the frame's CRC variant.
    async fn acknowledge(&mut self, frame: &Frame, packet: &Packet<'_>) -> Result<(), Closed> {
        let ack = ack_9014_with(packet, frame.crc_variant());
        let write = self.writer.write_all(ack.as_bytes());
        match tokio::time::timeout(self.shared.settings.write_timeout, write).await {
            Ok(Ok(())) => {
                ::metrics::counter!(metrics::ACKNOWLEDGED).increment(1);
                Ok(())
            }
            Ok(Err(error)) => {
                debug!(peer = %self.peer, mn = packet.mn(), error = %error, "hj212 acknowledgement write failed");
                Err(Closed)
            }
            Err(_) => {
                warn!(peer = %self.peer, mn = packet.mn(), "hj212 device does not read acknowledgements, closing");
                Err(Closed)
            }
        }
    }

    /// Counts a dropped frame under `reason` and logs it unless the
    /// connection already logged its share.
    fn reject(&mut self, reason: &'static str, detail: &dyn Display) {
        ::metrics::counter!(metrics::FRAMES_REJECTED, "reason" => reason).increment(1);
        self.log_rejection(reason, detail);
    }

    fn log_rejection(&mut self, reason: &'static str, detail: &dyn Display) {
        let log = &mut self.rejections;
        if log.logged < log.limit {
            log.logged += 1;
            warn!(peer = %self.peer, mn = %self.mn, reason, error = %detail, "hj212 input rejected");
        } else {
            log.suppressed += 1;
        }
    }

    fn close(self) {
        if self.rejections.suppressed > 0 {
            warn!(
                peer = %self.peer,
                mn = %self.mn,
                not_logged = self.rejections.suppressed,
                "hj212 connection closed after more rejected input than was logged"
            );
        }
        debug!(peer = %self.peer, mn = %self.mn, "hj212 connection closed");
    }
}

/// Returns the value of the `MN=` field of a data segment.
fn mn_field(segment: &str) -> Option<&str> {
    let header = segment.split("CP=").next()?;
    header
        .split([';', ','])
        .find_map(|field| field.trim().strip_prefix("MN="))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mn_field_reads_header_only() {
        assert_eq!(
            mn_field("QN=1;ST=32;CN=2011;PW=1;MN=ABC;Flag=5;CP=&&MN=XYZ&&"),
            Some("ABC")
        );
        assert_eq!(mn_field("QN=1,ST=32;MN= ABC ;CP=&&&&"), Some("ABC"));
        assert_eq!(mn_field("ST=32;CN=2011;CP=&&MN=XYZ&&"), None);
    }
}
