//! One datalogger connection: frames in, readings stored, 9014 out.
//!
//! Frames are handled in arrival order. An upload is acknowledged only
//! after the store returned `Ok`, so a device whose data was not stored
//! sends it again. The uploads framed from one read of the socket are
//! stored in one store call and acknowledged in one write, which saves a
//! store round trip and a system call per upload when a device sends
//! faster than the server acknowledges. A bad frame is logged (the first few per
//! connection), counted and dropped, and the next frame is handled as usual.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Arc;

use oversight_core::{DataKind, Mn, MonitoringPoint, PasswordMatch, Reading};
use oversight_hj212::{
    CrcVariant, Frame, FrameError, Framer, FramerConfig, Packet, UnverifiedFrame, ack_9014_with,
};
use oversight_store::{QuarantineReason, QuarantinedUpload, StoreError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::listener::Shared;
use crate::metrics;

/// The 2025 heartbeat command.
const HEARTBEAT: u16 = 9015;

/// Uploads stored together at most, so one read of many small uploads does
/// not delay the first acknowledgement for long.
const MAX_PENDING_UPLOADS: usize = 64;

/// An upload of a registered point, checked and waiting to be stored with
/// the other uploads framed from the same read.
struct PendingUpload {
    frame: Frame,
    point: Arc<MonitoringPoint>,
    readings: Vec<Reading>,
    /// The 9014 to write once the readings are stored, if requested.
    ack: Option<String>,
}

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

/// The receiving half of a connection, plain TCP or TLS.
pub(crate) type Reader = Box<dyn AsyncRead + Send + Sync + Unpin>;

/// The sending half of a connection, plain TCP or TLS.
pub(crate) type Writer = Box<dyn AsyncWrite + Send + Sync + Unpin>;

/// The state of one connection.
struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    writer: Writer,
    framer: Framer,
    rejections: RejectionLog,
    /// The MN of the latest parsed frame, for log lines about the connection.
    mn: String,
    /// MNs whose quarantined uploads were already logged on this connection.
    quarantine_logged: Vec<String>,
    /// Uploads framed from the current read, not yet stored.
    pending: Vec<PendingUpload>,
    /// Frames taken from the framer so far, valid or not.
    frames: u64,
}

/// Serves one accepted connection until the device closes it, it idles out,
/// a write fails, or `cancel` fires.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    (mut reader, writer): (Reader, Writer),
    peer: SocketAddr,
    cancel: CancellationToken,
) {
    let framer = Framer::with_config(FramerConfig {
        max_segment_len: shared.settings.max_segment_len,
        ..FramerConfig::default()
    });
    let limit = shared.settings.logged_rejections;
    let mut buffer = vec![0_u8; shared.settings.read_buffer_bytes];
    let idle_timeout = shared.settings.idle_timeout;
    let frame_timeout = shared.settings.frame_timeout;
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
        pending: Vec::new(),
        frames: 0,
    };
    debug!(peer = %peer, "hj212 connection opened");
    // The first frame is due `frame_timeout` after the connect; later ones
    // after the read that left a partial frame in the framer.
    let mut frame_deadline = Some(Instant::now() + frame_timeout);
    loop {
        let wait = match frame_deadline {
            Some(deadline) => idle_timeout.min(deadline.saturating_duration_since(Instant::now())),
            None => idle_timeout,
        };
        let read = tokio::select! {
            () = cancel.cancelled() => break,
            read = tokio::time::timeout(wait, reader.read(&mut buffer)) => read,
        };
        let count = match read {
            Err(_) if frame_deadline.is_some_and(|deadline| Instant::now() >= deadline) => {
                ::metrics::counter!(metrics::FRAME_TIMEOUTS).increment(1);
                debug!(peer = %peer, mn = %connection.mn, "hj212 frame not complete in time, closing");
                break;
            }
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
        let frames_before = connection.frames;
        if connection.receive(&buffer[..count]).await.is_err() {
            break;
        }
        if connection.framer.buffered() == 0 {
            frame_deadline = None;
        } else if frame_deadline.is_none() || connection.frames != frames_before {
            frame_deadline = Some(Instant::now() + frame_timeout);
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
                self.frames += 1;
                match result {
                    Ok(frame) => self.handle_frame(frame).await?,
                    Err(error) => self.handle_frame_error(error).await?,
                }
            }
            if bytes.is_empty() {
                return self.flush().await;
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
                self.flush().await?;
                let ack = ack_9014_with(&packet, frame.crc_variant());
                self.write_acks(&ack, 1).await?;
            }
            self.record_contact(&packet).await;
            return Ok(());
        }
        let kind = if (9011..=9014).contains(&cn) {
            "reply"
        } else {
            "other"
        };
        ::metrics::counter!(metrics::OTHER_COMMANDS, "kind" => kind).increment(1);
        debug!(peer = %self.peer, mn = packet.mn(), cn, "hj212 command without readings ignored");
        self.record_contact(&packet).await;
        Ok(())
    }

    /// Records contact from a command without readings, when its MN is
    /// registered and its password valid, so that the point counts as online.
    async fn record_contact(&self, packet: &Packet<'_>) {
        let Ok(mn) = Mn::parse(packet.mn()) else {
            return;
        };
        let point = match self.shared.cache.point(&mn).await {
            Ok(Some(point)) => point,
            Ok(None) => return,
            Err(error) => {
                debug!(mn = %mn, error = %error, "failed to look up hj212 point of a heartbeat");
                return;
            }
        };
        let now = self.shared.clock.now();
        if self.check_password(point, packet.pw(), now).await.is_some() {
            self.shared.contacts.record(mn, now);
        }
    }

    async fn handle_upload(&mut self, frame: &Frame, packet: &Packet<'_>) -> Result<(), Closed> {
        let received_at = self.shared.clock.now();
        // An invalid MN can never be registered, so quarantine could never
        // release its uploads. Without an acknowledgement the device keeps
        // the upload.
        let mn = match Mn::parse(packet.mn()) {
            Ok(mn) => mn,
            Err(error) => {
                let detail =
                    format!("{error}; the upload was not stored, set a valid MN on the datalogger");
                self.reject("invalid_mn", &detail);
                return Ok(());
            }
        };
        let point = match self.shared.cache.point(&mn).await {
            Ok(point) => point,
            Err(error) => {
                ::metrics::counter!(metrics::STORE_FAILURES).increment(1);
                error!(mn = %mn, error = %error, "failed to look up hj212 point, upload not acknowledged");
                return Ok(());
            }
        };
        let Some(point) = point else {
            // Earlier uploads are acknowledged first, in the order they arrived.
            self.flush().await?;
            return self
                .quarantine(frame, packet, received_at, QuarantineReason::Unregistered)
                .await;
        };
        let point = match self.check_password(point, packet.pw(), received_at).await {
            Some(point) => point,
            None => return self.reject_password(packet.mn()),
        };
        let (readings, errors) = packet.readings(received_at, self.shared.settings.offset);
        let latest_allowed = received_at.saturating_add(self.shared.settings.future_tolerance);
        if let Ok(latest_allowed) = latest_allowed
            && readings
                .iter()
                .any(|reading| reading.data_time > latest_allowed)
        {
            self.flush().await?;
            return self
                .quarantine(frame, packet, received_at, QuarantineReason::FutureDataTime)
                .await;
        }
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
        let ack = packet
            .ack_requested()
            .then(|| ack_9014_with(packet, frame.crc_variant()));
        let upload = PendingUpload {
            frame: frame.clone(),
            point,
            readings,
            ack,
        };
        self.pending.push(upload);
        if self.pending.len() >= MAX_PENDING_UPLOADS {
            self.flush().await?;
        }
        Ok(())
    }

    /// Stores the pending uploads in one store call, then writes their
    /// acknowledgements in one write and hands their readings to the sink.
    async fn flush(&mut self) -> Result<(), Closed> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut uploads = std::mem::take(&mut self.pending);
        let lengths: Vec<usize> = uploads.iter().map(|upload| upload.readings.len()).collect();
        let mut readings = Vec::with_capacity(lengths.iter().sum());
        for upload in &mut uploads {
            readings.append(&mut upload.readings);
        }
        let result = match readings.is_empty() {
            true => Ok(Vec::new()),
            false => {
                let store = &self.shared.store;
                store
                    .insert_readings_new_mask(&readings, Some(self.peer))
                    .await
            }
        };
        split_readings(&mut uploads, readings, &lengths);
        match result {
            Ok(new) => keep_new(&mut uploads, &new),
            Err(StoreError::NotFound { .. }) => {
                // A point was deleted since it was cached; store each upload
                // alone so only that point's uploads go to quarantine.
                return self.store_each(uploads).await;
            }
            Err(error) => {
                ::metrics::counter!(metrics::STORE_FAILURES).increment(uploads.len() as u64);
                error!(
                    mn = %uploads[0].point.mn,
                    uploads = uploads.len(),
                    error = %error,
                    "failed to store hj212 readings, uploads not acknowledged"
                );
                return Ok(());
            }
        }
        let stored: usize = lengths.iter().sum();
        ::metrics::counter!(metrics::READINGS_STORED).increment(stored as u64);
        let acks: String = uploads
            .iter()
            .filter_map(|upload| upload.ack.as_deref())
            .collect();
        let count = uploads.iter().filter(|upload| upload.ack.is_some()).count();
        self.write_acks(&acks, count).await?;
        self.hand_over(uploads).await;
        Ok(())
    }

    /// Stores uploads one at a time, quarantining those whose point is gone.
    async fn store_each(&mut self, uploads: Vec<PendingUpload>) -> Result<(), Closed> {
        for upload in uploads {
            let mut upload = upload;
            let stored = self
                .shared
                .store
                .insert_readings_new_mask(&upload.readings, Some(self.peer))
                .await;
            match stored {
                Ok(new) => {
                    let count = upload.readings.len() as u64;
                    ::metrics::counter!(metrics::READINGS_STORED).increment(count);
                    if let Some(ack) = &upload.ack {
                        self.write_acks(ack, 1).await?;
                    }
                    keep_new(std::slice::from_mut(&mut upload), &new);
                    self.hand_over(vec![upload]).await;
                }
                Err(StoreError::NotFound { .. }) => {
                    self.shared.cache.invalidate(&upload.point.mn);
                    let text = upload.frame.text();
                    // The frame parsed before it was queued, so parsing it again succeeds.
                    let Ok(packet) = Packet::parse_with(&text, &self.shared.parse_options) else {
                        continue;
                    };
                    let received_at = match upload.readings.first() {
                        Some(reading) => reading.received_at,
                        None => self.shared.clock.now(),
                    };
                    let reason = QuarantineReason::Unregistered;
                    self.quarantine(&upload.frame, &packet, received_at, reason)
                        .await?;
                }
                Err(error) => {
                    ::metrics::counter!(metrics::STORE_FAILURES).increment(1);
                    error!(mn = %upload.point.mn, error = %error, "failed to store hj212 readings, upload not acknowledged");
                }
            }
        }
        Ok(())
    }

    /// Passes the new readings to the sink, one call per upload. Resends
    /// were removed by [`keep_new`], so the sink receives only what the store
    /// kept, the first value of each reading.
    async fn hand_over(&self, uploads: Vec<PendingUpload>) {
        let Some(sink) = &self.shared.sink else {
            return;
        };
        for upload in uploads {
            if !upload.readings.is_empty() {
                sink.readings_stored(upload.point, upload.readings).await;
            }
        }
    }

    /// Returns the point if `sent` is its current password, or its previous
    /// one while that is valid. A wrong password is checked once more
    /// against the store, because the cached point may predate a password
    /// change. The first upload with the current password ends the validity
    /// of the previous one.
    async fn check_password(
        &self,
        point: Arc<MonitoringPoint>,
        sent: &str,
        now: jiff::Timestamp,
    ) -> Option<Arc<MonitoringPoint>> {
        let mut point = point;
        let mut matched = point.check_password(sent, now);
        if matched == PasswordMatch::Wrong {
            self.shared.cache.invalidate(&point.mn);
            match self.shared.cache.point(&point.mn).await {
                Ok(Some(fresh)) => {
                    matched = fresh.check_password(sent, now);
                    point = fresh;
                }
                Ok(None) => return None,
                Err(error) => {
                    warn!(mn = %point.mn, error = %error, "failed to reload hj212 point after a wrong password");
                    return None;
                }
            }
        }
        match matched {
            PasswordMatch::Wrong => None,
            PasswordMatch::Previous => Some(point),
            PasswordMatch::Current => {
                if point.previous_password.is_some() {
                    self.retire_previous_password(&point.mn).await;
                }
                Some(point)
            }
        }
    }

    /// Ends the validity of a point's previous password after its device
    /// sent the current one. A failure is logged and retried on the next
    /// upload, because the previous password expires on its own anyway.
    async fn retire_previous_password(&self, mn: &Mn) {
        match self.shared.store.retire_previous_password(mn).await {
            Ok(retired) => {
                if retired {
                    info!(mn = %mn, peer = %self.peer, "hj212 device sent its new password, previous password retired");
                }
                self.shared.cache.invalidate(mn);
            }
            Err(error) => {
                warn!(mn = %mn, error = %error, "failed to retire previous hj212 password");
            }
        }
    }

    /// Rejects an upload with a wrong password, counts the failure against
    /// the peer's address, and closes the connection when that blocks the
    /// address.
    fn reject_password(&mut self, mn: &str) -> Result<(), Closed> {
        let detail = format!("wrong password (PW) for MN {mn}; the upload was not stored");
        self.reject("wrong_password", &detail);
        if !self.shared.addresses.record_failure(self.peer.ip()) {
            return Ok(());
        }
        ::metrics::counter!(metrics::ADDRESSES_BLOCKED).increment(1);
        warn!(
            peer = %self.peer,
            mn = %mn,
            block_secs = self.shared.settings.auth_block.as_secs(),
            "hj212 address blocked after repeated wrong passwords, connection closed"
        );
        Err(Closed)
    }

    /// Stores an upload in quarantine for `reason` and acknowledges it. An
    /// upload past the quarantine's caps is counted and not acknowledged,
    /// so the device keeps it.
    async fn quarantine(
        &mut self,
        frame: &Frame,
        packet: &Packet<'_>,
        received_at: jiff::Timestamp,
        reason: QuarantineReason,
    ) -> Result<(), Closed> {
        // Readings need a valid MN; the raw packet is kept either way.
        let (readings, _) = packet.readings(received_at, self.shared.settings.offset);
        let raw = String::from_utf8_lossy(frame.as_bytes());
        let upload = QuarantinedUpload {
            mn: packet.mn().to_owned(),
            reason,
            peer: Some(self.peer.to_string()),
            received_at,
            raw: raw.trim_end_matches(['\r', '\n']).to_owned(),
            readings,
        };
        let limits = &self.shared.settings.quarantine_limits;
        let outcome = match self
            .shared
            .store
            .quarantine(std::slice::from_ref(&upload), limits)
            .await
        {
            Ok(outcome) => outcome,
            Err(error) => {
                ::metrics::counter!(metrics::STORE_FAILURES).increment(1);
                error!(mn = packet.mn(), error = %error, "failed to quarantine hj212 upload, upload not acknowledged");
                return Ok(());
            }
        };
        if outcome.stored == 0 {
            let (label, detail) = match outcome.over_mn_limit {
                0 => (
                    "quarantine_full",
                    "the quarantine holds its maximum of uploads",
                ),
                _ => (
                    "per_mn_limit",
                    "the quarantine holds the maximum of uploads for this MN",
                ),
            };
            ::metrics::counter!(metrics::QUARANTINE_REJECTED, "reason" => label).increment(1);
            let detail = format!(
                "{detail}; the upload was not acknowledged. Register or discard held MNs \
                 (GET /api/v1/quarantine), or raise hj212.quarantine_max_uploads"
            );
            self.reject("quarantine_full", &detail);
            return Ok(());
        }
        ::metrics::counter!(metrics::QUARANTINED, "reason" => reason.as_str()).increment(1);
        self.log_quarantined(packet.mn(), reason);
        if packet.ack_requested() {
            let ack = ack_9014_with(packet, frame.crc_variant());
            self.write_acks(&ack, 1).await?;
        }
        Ok(())
    }

    /// Logs the first quarantined upload of each of the first 16 MNs of the connection.
    fn log_quarantined(&mut self, mn: &str, reason: QuarantineReason) {
        if self.quarantine_logged.iter().any(|logged| logged == mn)
            || self.quarantine_logged.len() >= 16
        {
            return;
        }
        self.quarantine_logged.push(mn.to_owned());
        match reason {
            QuarantineReason::Unregistered => warn!(
                peer = %self.peer,
                mn,
                "upload from unregistered mn quarantined; register the point to release it"
            ),
            QuarantineReason::FutureDataTime => warn!(
                peer = %self.peer,
                mn,
                tolerance_secs = self.shared.settings.future_tolerance.as_secs(),
                "upload with DataTime in the future quarantined; check the datalogger clock"
            ),
        }
    }

    /// Writes `count` concatenated 9014 acknowledgements in one write.
    async fn write_acks(&mut self, acks: &str, count: usize) -> Result<(), Closed> {
        if count == 0 {
            return Ok(());
        }
        // TLS keeps written bytes in its record buffer until flushed. TCP sends them at once.
        let write = async {
            self.writer.write_all(acks.as_bytes()).await?;
            self.writer.flush().await
        };
        match tokio::time::timeout(self.shared.settings.write_timeout, write).await {
            Ok(Ok(())) => {
                ::metrics::counter!(metrics::ACKNOWLEDGED).increment(count as u64);
                Ok(())
            }
            Ok(Err(error)) => {
                debug!(peer = %self.peer, mn = %self.mn, error = %error, "hj212 acknowledgement write failed");
                Err(Closed)
            }
            Err(_) => {
                warn!(peer = %self.peer, mn = %self.mn, "hj212 device does not read acknowledgements, closing");
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

/// Moves `readings`, the concatenation of the uploads' readings in order,
/// back into the uploads, `lengths[i]` readings to upload `i`.
fn split_readings(uploads: &mut [PendingUpload], mut readings: Vec<Reading>, lengths: &[usize]) {
    for (upload, &length) in uploads.iter_mut().zip(lengths).rev() {
        upload.readings = readings.split_off(readings.len() - length);
    }
}

/// Removes from each upload the readings that `new` (one entry per reading,
/// in upload order, as the store returned it) marks as not new: identical
/// resends and revisions, whose values the store did not keep.
fn keep_new(uploads: &mut [PendingUpload], new: &[bool]) {
    let mut marks = new.iter();
    for upload in uploads {
        upload
            .readings
            .retain(|_| marks.next().copied().unwrap_or(false));
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
    use oversight_core::{AreaCode, DataKind, FactorCode, FactorValues, Secret, SystemCode};
    use oversight_hj212::decode_frame;

    use super::*;

    fn reading(factor: &str) -> Reading {
        Reading {
            mn: Mn::parse("MN1").unwrap(),
            kind: DataKind::Realtime,
            factor: FactorCode::parse(factor).unwrap(),
            data_time: jiff::Timestamp::UNIX_EPOCH,
            received_at: jiff::Timestamp::UNIX_EPOCH,
            values: FactorValues::default(),
            flag: None,
        }
    }

    #[test]
    fn split_and_keep_new_readings() {
        let frame = decode_frame(
            b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;\
Flag=5;CP=&&RtdInterval=30&&1C80\r\n",
            CrcVariant::Hj212,
        )
        .unwrap();
        let point = Arc::new(MonitoringPoint {
            mn: Mn::parse("MN1").unwrap(),
            name: "point".to_owned(),
            area: AreaCode::parse("35").unwrap(),
            system_code: SystemCode::parse("32").unwrap(),
            password: Secret::new("123456".to_owned()),
            previous_password: None,
            location: None,
            limits: Vec::new(),
            interval_secs: 60,
            attributes: Default::default(),
        });
        let mut uploads: Vec<PendingUpload> = (0..3)
            .map(|_| PendingUpload {
                frame: frame.clone(),
                point: Arc::clone(&point),
                readings: Vec::new(),
                ack: None,
            })
            .collect();
        let all = vec![
            reading("a1"),
            reading("a2"),
            reading("b1"),
            reading("c1"),
            reading("c2"),
        ];
        split_readings(&mut uploads, all, &[2, 1, 2]);
        assert_eq!(
            factors_of(&uploads),
            [vec!["a1", "a2"], vec!["b1"], vec!["c1", "c2"]]
        );

        // The store kept a1, c1 and c2, and a2 and b1 were resends.
        keep_new(&mut uploads, &[true, false, false, true, true]);
        assert_eq!(
            factors_of(&uploads),
            [vec!["a1"], Vec::<&str>::new(), vec!["c1", "c2"]]
        );
    }

    fn factors_of(uploads: &[PendingUpload]) -> Vec<Vec<String>> {
        uploads
            .iter()
            .map(|upload| {
                upload
                    .readings
                    .iter()
                    .map(|r| r.factor.to_string())
                    .collect()
            })
            .collect()
    }

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
