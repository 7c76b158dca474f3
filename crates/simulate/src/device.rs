//! One simulated datalogger: the packets it sends and when it is silent.
//!
//! `DataTime` is the wall clock truncated to the second. A device that sends
//! more than once a second moves it one second ahead per upload instead,
//! because the store keeps one reading per (MN, kind, factor, DataTime) and
//! a benchmark must store every reading it sends. QN is the wall clock in
//! milliseconds, likewise kept strictly increasing per device, so each
//! acknowledgement matches one upload.

use std::fmt::Write as _;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oversight_core::{DataFlag, FactorValues};
use oversight_hj212::{CHINA_STANDARD_TIME, Flag, SegmentBuilder, Version, crc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::profile::FactorModel;
use crate::{DeviceIdentity, Profile, SimulateConfig};

/// One packet ready to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Upload {
    /// The whole frame, `##` to CR LF.
    pub(crate) frame: String,
    /// The QN as a number, for matching the acknowledgement; `None` for a
    /// malformed packet, which the server rejects without acknowledging.
    pub(crate) qn: Option<u64>,
    /// How many readings the packet carries when it is well-formed.
    pub(crate) readings: usize,
}

/// A period of silence in every cycle of twice its length.
#[derive(Debug, Clone, Copy)]
struct Dropout {
    offset: Duration,
    length: Duration,
}

impl Dropout {
    fn is_silent(self, elapsed: Duration) -> bool {
        let cycle = self.length.as_secs_f64() * 2.0;
        let position = elapsed.as_secs_f64() % cycle;
        let start = self.offset.as_secs_f64();
        position >= start && position < start + self.length.as_secs_f64()
    }
}

/// The kind of damage a malformed packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Malformation {
    Crc,
    Length,
}

/// A simulated datalogger.
#[derive(Debug)]
pub(crate) struct Device {
    identity: DeviceIdentity,
    profile: Profile,
    rng: SmallRng,
    exceedance_share: f64,
    malformed_share: f64,
    aggregate_period: Option<SignedDuration>,
    /// The values a flatlining device repeats, set by its first upload.
    flatline: Option<Vec<f64>>,
    is_flatline: bool,
    dropout: Option<Dropout>,
    last_data_time: Option<Timestamp>,
    last_qn_ms: i64,
    next_malformation: Malformation,
}

impl Device {
    /// Creates device `index` of a run.
    pub(crate) fn new(config: &SimulateConfig, index: usize) -> Self {
        let seed = config
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(index as u64);
        let mut rng = SmallRng::seed_from_u64(seed);
        let is_flatline = rng.random_bool(config.flatline_share);
        let dropout = rng.random_bool(config.dropout_share).then(|| Dropout {
            offset: Duration::from_secs_f64(rng.random_range(0.0..config.dropout_secs)),
            length: Duration::from_secs_f64(config.dropout_secs),
        });
        let aggregate_period = config
            .aggregates
            .then(|| SignedDuration::from_mins(i64::from(config.minute_interval_mins)));
        Self {
            identity: config.device(index),
            profile: config.profile,
            rng,
            exceedance_share: config.exceedance_share,
            malformed_share: config.malformed_share,
            aggregate_period,
            flatline: None,
            is_flatline,
            dropout,
            last_data_time: None,
            last_qn_ms: 0,
            next_malformation: Malformation::Crc,
        }
    }

    /// Returns the device's MN.
    pub(crate) fn mn(&self) -> &str {
        &self.identity.mn
    }

    /// Returns true while the device is in a dropout, `elapsed` after the run started.
    pub(crate) fn is_silent(&self, elapsed: Duration) -> bool {
        self.dropout
            .is_some_and(|dropout| dropout.is_silent(elapsed))
    }

    /// Appends the packets due at `now`: a real-time upload, and the minute
    /// and hourly aggregates of periods that ended since the previous upload.
    pub(crate) fn next_uploads(&mut self, now: Timestamp, out: &mut Vec<Upload>) {
        let data_time = self.next_data_time(now);
        let previous = self.last_data_time.replace(data_time);
        if let (Some(period), Some(previous)) = (self.aggregate_period, previous) {
            let hour = SignedDuration::from_hours(1);
            for (cn, length) in [(2051, period), (2061, hour)] {
                if let Some(start) = ended_period(previous, data_time, length) {
                    let upload = self.aggregate(cn, start, length, now);
                    out.push(upload);
                }
            }
        }
        let upload = self.realtime(data_time, now);
        out.push(upload);
    }

    fn next_data_time(&self, now: Timestamp) -> Timestamp {
        let second = Timestamp::from_second(now.as_second()).unwrap_or(now);
        match self.last_data_time {
            Some(last) if second <= last => last
                .checked_add(SignedDuration::from_secs(1))
                .unwrap_or(second),
            _ => second,
        }
    }

    fn next_qn(&mut self, now: Timestamp) -> (String, u64) {
        let millis = now.as_millisecond().max(self.last_qn_ms + 1);
        self.last_qn_ms = millis;
        let time = Timestamp::from_millisecond(millis).unwrap_or(now);
        let text = CHINA_STANDARD_TIME
            .to_datetime(time)
            .strftime("%Y%m%d%H%M%S%3f")
            .to_string();
        let number = text.parse().unwrap_or_default();
        (text, number)
    }

    fn value(&mut self, model: &FactorModel, time: Timestamp) -> f64 {
        if self.exceedance_share > 0.0
            && self.rng.random_bool(self.exceedance_share)
            && let Some(value) = model.exceeding(&mut self.rng)
        {
            return value;
        }
        model.sample(time, &mut self.rng)
    }

    fn realtime(&mut self, data_time: Timestamp, now: Timestamp) -> Upload {
        let factors = self.profile.factors();
        let values: Vec<f64> = match (&self.flatline, self.is_flatline) {
            (Some(values), true) => values.clone(),
            _ => factors
                .iter()
                .map(|model| self.value(model, data_time))
                .collect(),
        };
        if self.is_flatline && self.flatline.is_none() {
            self.flatline = Some(values.clone());
        }
        let (qn, qn_number) = self.next_qn(now);
        let mut builder = self
            .builder(2011, &qn)
            .data_time(data_time, CHINA_STANDARD_TIME);
        for (model, value) in factors.iter().zip(&values) {
            let values = FactorValues {
                rtd: Some(*value),
                ..FactorValues::default()
            };
            builder = builder.factor(model.code, &values, Some(DataFlag::NORMAL));
        }
        self.finish(builder, qn_number, factors.len())
    }

    fn aggregate(
        &mut self,
        cn: u16,
        start: Timestamp,
        length: SignedDuration,
        now: Timestamp,
    ) -> Upload {
        let factors = self.profile.factors();
        let middle = start.checked_add(length / 2).unwrap_or(start);
        let (qn, qn_number) = self.next_qn(now);
        let mut builder = self.builder(cn, &qn).data_time(start, CHINA_STANDARD_TIME);
        for model in factors {
            let avg = self.value(model, middle);
            let spread = self.rng.random_range(0.02..0.15);
            let values = FactorValues {
                avg: Some(avg),
                min: Some(round(avg * (1.0 - spread))),
                max: Some(round(avg * (1.0 + spread))),
                cou: flow_total(model.code, avg, length),
                ..FactorValues::default()
            };
            builder = builder.factor(model.code, &values, Some(DataFlag::NORMAL));
        }
        self.finish(builder, qn_number, factors.len())
    }

    fn builder(&self, cn: u16, qn: &str) -> SegmentBuilder {
        let flag = Flag::new(Version::V2017, false, true);
        SegmentBuilder::new(
            self.profile.system_code(),
            cn,
            &self.identity.password,
            &self.identity.mn,
        )
        .qn(qn)
        .flag(flag)
    }

    fn finish(&mut self, builder: SegmentBuilder, qn: u64, readings: usize) -> Upload {
        // The identity and values come from validated settings and finite
        // model values, so only a too-long MN or password can fail here.
        let segment = match builder.build() {
            Ok(segment) => segment,
            Err(error) => {
                tracing::error!(mn = %self.identity.mn, error = %error, "failed to encode upload");
                return Upload {
                    frame: String::new(),
                    qn: None,
                    readings: 0,
                };
            }
        };
        if self.malformed_share > 0.0 && self.rng.random_bool(self.malformed_share) {
            let malformation = self.next_malformation;
            self.next_malformation = match malformation {
                Malformation::Crc => Malformation::Length,
                Malformation::Length => Malformation::Crc,
            };
            return Upload {
                frame: malformed_frame(&segment, malformation),
                qn: None,
                readings: 0,
            };
        }
        let mut frame = String::with_capacity(segment.len() + 12);
        let crc = crc::hj212(segment.as_bytes());
        let _ = write!(frame, "##{:04}{segment}{crc:04X}\r\n", segment.len());
        Upload {
            frame,
            qn: Some(qn),
            readings,
        }
    }
}

/// Returns the start of the period of `length` that ended between
/// `previous` (exclusive) and `current` (inclusive), if one did.
fn ended_period(
    previous: Timestamp,
    current: Timestamp,
    length: SignedDuration,
) -> Option<Timestamp> {
    let length = length.as_secs();
    let previous_index = previous.as_second().div_euclid(length);
    let current_index = current.as_second().div_euclid(length);
    if current_index <= previous_index {
        return None;
    }
    Timestamp::from_second((current_index - 1) * length).ok()
}

/// Returns the volume that flowed in the period, in m³, for the flow factors.
fn flow_total(code: &str, average: f64, length: SignedDuration) -> Option<f64> {
    let seconds = length.as_secs_f64();
    match code {
        // Wastewater flow is in L/s.
        "w00000" => Some(round(average * seconds / 1000.0)),
        // Flue-gas flow is in m³/s.
        "a00000" => Some(round(average * seconds)),
        _ => None,
    }
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Frames `segment` with one defect that the server must reject.
fn malformed_frame(segment: &str, malformation: Malformation) -> String {
    let crc = crc::hj212(segment.as_bytes());
    match malformation {
        // Every HJ 212 CRC has a low byte of 00, 01, 40, 41, 80, 81, C0 or C1,
        // so flipping bit 1 never yields the right value.
        Malformation::Crc => format!("##{:04}{segment}{:04X}\r\n", segment.len(), crc ^ 0x0002),
        // The declared length is one byte short, so CR LF is not where it points.
        Malformation::Length => format!("##{:04}{segment}{crc:04X}\r\n", segment.len() - 1),
    }
}

#[cfg(test)]
mod tests {
    use oversight_hj212::{Framer, Packet};

    use super::*;

    fn now() -> Timestamp {
        "2026-03-01T02:00:00.250Z".parse().unwrap()
    }

    fn decode_all(uploads: &[Upload]) -> Vec<Result<String, String>> {
        let mut framer = Framer::new();
        let mut results = Vec::new();
        for upload in uploads {
            let taken = framer.push(upload.frame.as_bytes());
            assert_eq!(taken, upload.frame.len());
            while let Some(result) = framer.next_frame() {
                results.push(
                    result
                        .map(|frame| String::from_utf8_lossy(frame.segment()).into_owned())
                        .map_err(|error| error.reason().to_owned()),
                );
            }
        }
        results
    }

    #[test]
    fn realtime_upload_decodes() {
        let config = SimulateConfig::default();
        let mut device = Device::new(&config, 0);
        let mut uploads = Vec::new();
        device.next_uploads(now(), &mut uploads);
        assert_eq!(uploads.len(), 1);
        assert_eq!(uploads[0].readings, 10);
        let segments = decode_all(&uploads);
        let segment = segments[0].as_ref().unwrap();
        let packet = Packet::parse(segment).unwrap();
        assert_eq!(packet.cn(), 2011);
        assert_eq!(packet.mn(), "SIM000000000000000000000");
        assert!(packet.ack_requested());
        assert_eq!(packet.qn(), Some("20260301100000250"));
        assert_eq!(uploads[0].qn, Some(20260301100000250));
        let (readings, errors) = packet.readings(now(), CHINA_STANDARD_TIME);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(readings.len(), 10);
        assert_eq!(
            readings[0].data_time,
            "2026-03-01T02:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn fast_device_keeps_times_distinct() {
        let config = SimulateConfig::default();
        let mut device = Device::new(&config, 0);
        let mut uploads = Vec::new();
        for _ in 0..3 {
            device.next_uploads(now(), &mut uploads);
        }
        let qns: Vec<u64> = uploads.iter().map(|upload| upload.qn.unwrap()).collect();
        assert_eq!(
            qns,
            [20260301100000250, 20260301100000251, 20260301100000252]
        );
        assert_eq!(
            device.last_data_time,
            Some("2026-03-01T02:00:02Z".parse().unwrap())
        );
    }

    #[test]
    fn aggregates_follow_period_end() {
        let config = SimulateConfig {
            aggregates: true,
            ..SimulateConfig::default()
        };
        let mut device = Device::new(&config, 0);
        let mut uploads = Vec::new();
        device.next_uploads("2026-03-01T01:59:50Z".parse().unwrap(), &mut uploads);
        assert_eq!(uploads.len(), 1);
        device.next_uploads("2026-03-01T02:00:10Z".parse().unwrap(), &mut uploads);
        let segments = decode_all(&uploads);
        let cns: Vec<u16> = segments
            .iter()
            .map(|segment| Packet::parse(segment.as_ref().unwrap()).unwrap().cn())
            .collect();
        assert_eq!(cns, [2011, 2051, 2061, 2011]);
        let hour = Packet::parse(segments[2].as_ref().unwrap()).unwrap();
        let (readings, _) = hour.readings(now(), CHINA_STANDARD_TIME);
        assert_eq!(
            readings[0].data_time,
            "2026-03-01T01:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(readings[0].values.cou.is_some(), "flow total missing");
    }

    #[test]
    fn malformed_uploads_are_rejected() {
        let config = SimulateConfig {
            malformed_share: 1.0,
            ..SimulateConfig::default()
        };
        let mut device = Device::new(&config, 0);
        let mut uploads = Vec::new();
        device.next_uploads(now(), &mut uploads);
        device.next_uploads(now(), &mut uploads);
        assert!(uploads.iter().all(|upload| upload.qn.is_none()));
        // A good packet after them shows the framer resynchronises.
        let mut good = Device::new(&SimulateConfig::default(), 1);
        good.next_uploads(now(), &mut uploads);
        let results = decode_all(&uploads);
        assert_eq!(results.len(), 3, "{results:?}");
        assert_eq!(results[0], Err("crc_mismatch".to_owned()));
        assert!(results[1].is_err(), "{results:?}");
        assert!(results[2].is_ok(), "{results:?}");
    }

    #[test]
    fn flatline_repeats_values() {
        let config = SimulateConfig {
            flatline_share: 1.0,
            ..SimulateConfig::default()
        };
        let mut device = Device::new(&config, 0);
        let mut uploads = Vec::new();
        device.next_uploads(now(), &mut uploads);
        device.next_uploads(
            now().checked_add(SignedDuration::from_mins(90)).unwrap(),
            &mut uploads,
        );
        let segments = decode_all(&uploads);
        let values = |segment: &str| {
            let packet = Packet::parse(segment).unwrap();
            let (readings, _) = packet.readings(now(), CHINA_STANDARD_TIME);
            readings
                .iter()
                .map(|reading| reading.values.rtd)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            values(segments[0].as_ref().unwrap()),
            values(segments[1].as_ref().unwrap())
        );
    }

    #[test]
    fn dropout_cycles() {
        let dropout = Dropout {
            offset: Duration::from_secs(10),
            length: Duration::from_secs(60),
        };
        assert!(!dropout.is_silent(Duration::from_secs(5)));
        assert!(dropout.is_silent(Duration::from_secs(10)));
        assert!(dropout.is_silent(Duration::from_secs(69)));
        assert!(!dropout.is_silent(Duration::from_secs(70)));
        assert!(dropout.is_silent(Duration::from_secs(130)));
    }

    #[test]
    fn exceedances_exceed_upper_limits() {
        let config = SimulateConfig {
            exceedance_share: 1.0,
            ..SimulateConfig::default()
        };
        let mut device = Device::new(&config, 0);
        let mut uploads = Vec::new();
        device.next_uploads(now(), &mut uploads);
        let segments = decode_all(&uploads);
        let packet = Packet::parse(segments[0].as_ref().unwrap()).unwrap();
        let (readings, _) = packet.readings(now(), CHINA_STANDARD_TIME);
        for (reading, model) in readings.iter().zip(Profile::Wastewater.factors()) {
            if let Some(upper) = model.upper {
                assert!(
                    reading.values.rtd.unwrap() > upper,
                    "{} not above {upper}",
                    model.code
                );
            }
        }
    }
}
