//! Reassembly of split uploads (Flag bit D, `PNUM`/`PNO`).
//!
//! In HJ 212-2017 (C.47–C.50) each part is a complete packet with its own QN
//! and a self-contained data area that starts with the same `DataTime` and
//! carries a subset of the factors. Parts therefore belong together by
//! (MN, CN, DataTime), not by QN and not by arrival order, and reassembly
//! merges data areas instead of concatenating bytes.
//!
//! The [`Reassembler`] reads no clock: the caller passes the time with every
//! part and calls [`Reassembler::expire`] to collect sets that stayed
//! incomplete for too long. Its memory is bounded by
//! [`ReassemblerConfig::max_bytes`] and [`ReassemblerConfig::max_sets`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::encode::EncodeError;
use crate::packet::{Flag, Packet};
use crate::{SegmentBuilder, Version};

/// The identity shared by the parts of one split upload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartKey {
    /// The device identifier.
    pub mn: String,
    /// The command code.
    pub cn: u16,
    /// The raw `DataTime` of the data area, if it has one.
    pub data_time: Option<String>,
}

/// One received part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// This part's number, from 1.
    pub pno: u16,
    /// This part's request code.
    pub qn: Option<String>,
    /// This part's data area.
    pub data_area: String,
}

/// The parts of one split upload: complete, or incomplete after a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// The identity the parts share.
    pub key: PartKey,
    /// The system code of the first part received.
    pub st: String,
    /// The access password of the first part received.
    pub pw: String,
    /// The flag of the first part received.
    pub flag: Option<Flag>,
    /// The total number of parts the device announced.
    pub pnum: u16,
    /// The parts received, in `PNO` order.
    pub parts: Vec<Part>,
}

impl Reassembled {
    /// Returns true if every part from 1 to `pnum` arrived.
    pub fn is_complete(&self) -> bool {
        self.parts.len() == usize::from(self.pnum)
    }

    /// Returns the numbers of the parts that did not arrive.
    pub fn missing(&self) -> Vec<u16> {
        (1..=self.pnum)
            .filter(|pno| !self.parts.iter().any(|part| part.pno == *pno))
            .collect()
    }

    /// Merges the data areas: the first part's items, then the items of each
    /// later part except its `DataTime`, joined by `;`.
    pub fn merged_data_area(&self) -> String {
        let mut merged = String::new();
        for (index, part) in self.parts.iter().enumerate() {
            for piece in data_area_pieces(&part.data_area) {
                if index > 0 && piece_key(piece) == Some("DataTime") {
                    continue;
                }
                if !merged.is_empty() {
                    merged.push(';');
                }
                merged.push_str(piece);
            }
        }
        merged
    }

    /// Builds one data segment from the merged parts, with the first part's
    /// QN and a flag without bits A and D, ready for [`Packet::parse`].
    pub fn segment(&self) -> Result<String, EncodeError> {
        let version = self.flag.map_or(Version::V2017, Flag::version);
        let mut builder = SegmentBuilder::new(&self.st, self.key.cn, &self.pw, &self.key.mn)
            .flag(Flag::new(version, false, false));
        if let Some(qn) = self.parts.first().and_then(|part| part.qn.as_deref()) {
            builder = builder.qn(qn);
        }
        let segment = builder.build()?;
        // The builder checked the header; the data area is inserted as received.
        let merged = self.merged_data_area();
        Ok(segment.replacen("CP=&&&&", &format!("CP=&&{merged}&&"), 1))
    }
}

/// Splits a data area into its raw items at top-level `;`, keeping `,` groups
/// of one factor together.
fn data_area_pieces(data_area: &str) -> impl Iterator<Item = &str> {
    data_area
        .split(';')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
}

fn piece_key(piece: &str) -> Option<&str> {
    piece.split_once('=').map(|(key, _)| key.trim())
}

/// Limits of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblerConfig {
    /// The maximum number of incomplete sets kept at once.
    pub max_sets: usize,
    /// The maximum number of data area bytes kept over all incomplete sets.
    pub max_bytes: usize,
}

impl Default for ReassemblerConfig {
    fn default() -> Self {
        Self {
            max_sets: 64,
            max_bytes: 1 << 20,
        }
    }
}

/// An error that rejects a part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// The packet has no `PNUM` or `PNO`.
    #[error("packet has no PNUM and PNO, so it is not a part of a split upload")]
    NotAPart,
    /// The part announces another total than earlier parts of its set.
    #[error("part announces PNUM={pnum} but earlier parts of the same upload announced {expected}")]
    PnumMismatch {
        /// The total that earlier parts announced.
        expected: u16,
        /// The total that this part announces.
        pnum: u16,
    },
    /// Keeping the part would exceed the configured limits.
    #[error(
        "keeping this part would exceed the reassembly limits ({max_sets} sets, {max_bytes} \
         bytes); expire incomplete sets more often or raise the limits"
    )]
    LimitExceeded {
        /// The configured maximum number of sets.
        max_sets: usize,
        /// The configured maximum number of bytes.
        max_bytes: usize,
    },
}

impl SplitError {
    /// Returns a short stable name of the error kind, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotAPart => "not_a_part",
            Self::PnumMismatch { .. } => "pnum_mismatch",
            Self::LimitExceeded { .. } => "reassembly_limit",
        }
    }
}

/// The result of [`Reassembler::insert`] for one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The part completed its set, which is returned and forgotten.
    Complete(Reassembled),
    /// The part was kept; its set still lacks parts.
    Pending {
        /// How many distinct parts of the set arrived.
        received: u16,
        /// How many parts the set has.
        pnum: u16,
    },
    /// A part with the same number was already kept; this copy was dropped.
    Duplicate {
        /// The part number.
        pno: u16,
    },
}

#[derive(Debug)]
struct PendingSet {
    first_seen: Instant,
    assembled: Reassembled,
    bytes: usize,
}

/// Collects the parts of split uploads until each set is complete.
#[derive(Debug, Default)]
pub struct Reassembler {
    config: ReassemblerConfig,
    sets: HashMap<PartKey, PendingSet>,
    bytes: usize,
}

impl Reassembler {
    /// Creates a reassembler with the given limits.
    pub fn new(config: ReassemblerConfig) -> Self {
        Self {
            config,
            sets: HashMap::new(),
            bytes: 0,
        }
    }

    /// Returns how many sets are incomplete.
    pub fn pending_sets(&self) -> usize {
        self.sets.len()
    }

    /// Adds a part received at `now`.
    pub fn insert(&mut self, packet: &Packet<'_>, now: Instant) -> Result<Inserted, SplitError> {
        let (Some(pnum), Some(pno)) = (packet.pnum(), packet.pno()) else {
            return Err(SplitError::NotAPart);
        };
        let key = PartKey {
            mn: packet.mn().to_owned(),
            cn: packet.cn(),
            data_time: packet.get("DataTime").map(str::to_owned),
        };
        let part = Part {
            pno,
            qn: packet.qn().map(str::to_owned),
            data_area: packet.cp().as_str().to_owned(),
        };
        let part_bytes = part.data_area.len();

        if let Some(set) = self.sets.get(&key) {
            if set.assembled.pnum != pnum {
                return Err(SplitError::PnumMismatch {
                    expected: set.assembled.pnum,
                    pnum,
                });
            }
            if set.assembled.parts.iter().any(|kept| kept.pno == pno) {
                return Ok(Inserted::Duplicate { pno });
            }
        } else if pnum > 1 && self.sets.len() >= self.config.max_sets {
            return Err(self.limit_exceeded());
        }
        if pnum > 1 && self.bytes + part_bytes > self.config.max_bytes {
            return Err(self.limit_exceeded());
        }

        let set = self.sets.entry(key.clone()).or_insert_with(|| PendingSet {
            first_seen: now,
            assembled: Reassembled {
                key: key.clone(),
                st: packet.st().to_owned(),
                pw: packet.pw().to_owned(),
                flag: packet.flag(),
                pnum,
                parts: Vec::new(),
            },
            bytes: 0,
        });
        let position = set.assembled.parts.partition_point(|kept| kept.pno < pno);
        set.assembled.parts.insert(position, part);
        set.bytes += part_bytes;
        self.bytes += part_bytes;

        if !set.assembled.is_complete() {
            let received = set.assembled.parts.len() as u16;
            return Ok(Inserted::Pending { received, pnum });
        }
        let set = self.sets.remove(&key).expect("the set was inserted above");
        self.bytes -= set.bytes;
        Ok(Inserted::Complete(set.assembled))
    }

    /// Removes and returns the sets whose first part arrived more than
    /// `timeout` before `now`; they are incomplete.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<Reassembled> {
        let expired: Vec<PartKey> = self
            .sets
            .iter()
            .filter(|(_, set)| now.saturating_duration_since(set.first_seen) > timeout)
            .map(|(key, _)| key.clone())
            .collect();
        let mut incomplete = Vec::with_capacity(expired.len());
        for key in expired {
            if let Some(set) = self.sets.remove(&key) {
                self.bytes -= set.bytes;
                incomplete.push(set.assembled);
            }
        }
        incomplete
    }

    fn limit_exceeded(&self) -> SplitError {
        SplitError::LimitExceeded {
            max_sets: self.config.max_sets,
            max_bytes: self.config.max_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(qn: &str, pno: u16, data_area: &str) -> String {
        format!(
            "QN={qn};ST=32;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=7;PNUM=3;PNO={pno};\
CP=&&{data_area}&&"
        )
    }

    fn parts() -> [String; 3] {
        [
            part(
                "20160801085857534",
                1,
                "DataTime=20160801084000;w00000-Avg=1,w00000-Flag=N",
            ),
            part(
                "20160801085857535",
                2,
                "DataTime=20160801084000;w01001-Avg=7.1",
            ),
            part(
                "20160801085857536",
                3,
                "DataTime=20160801084000;w01018-Avg=20,w01018-Flag=N",
            ),
        ]
    }

    #[test]
    fn parts_merge_in_any_order() {
        let parts = parts();
        let now = Instant::now();
        let mut reassembler = Reassembler::default();
        for index in [2, 0] {
            let packet = Packet::parse(&parts[index]).expect("parses");
            let inserted = reassembler.insert(&packet, now).expect("taken");
            assert!(
                matches!(inserted, Inserted::Pending { pnum: 3, .. }),
                "{inserted:?}"
            );
        }
        let duplicate = Packet::parse(&parts[0]).expect("parses");
        assert_eq!(
            reassembler.insert(&duplicate, now),
            Ok(Inserted::Duplicate { pno: 1 })
        );
        let last = Packet::parse(&parts[1]).expect("parses");
        let Ok(Inserted::Complete(set)) = reassembler.insert(&last, now) else {
            panic!("the third part completes the set");
        };
        assert!(set.is_complete());
        assert_eq!(set.missing(), Vec::<u16>::new());
        assert_eq!(
            set.merged_data_area(),
            "DataTime=20160801084000;w00000-Avg=1,w00000-Flag=N;w01001-Avg=7.1;\
w01018-Avg=20,w01018-Flag=N"
        );
        let segment = set.segment().expect("valid");
        let merged = Packet::parse(&segment).expect("merged segment parses");
        assert_eq!(merged.qn(), Some("20160801085857534"));
        assert_eq!(merged.flag(), Some(Flag::from_bits(4)));
        assert_eq!(merged.pnum(), None);
        assert_eq!(merged.factors().count(), 3);
        assert_eq!(reassembler.pending_sets(), 0);
    }

    #[test]
    fn incomplete_set_expires() {
        let parts = parts();
        let start = Instant::now();
        let mut reassembler = Reassembler::default();
        let first = Packet::parse(&parts[0]).expect("parses");
        reassembler.insert(&first, start).expect("taken");
        assert!(
            reassembler
                .expire(start + Duration::from_secs(5), Duration::from_secs(30))
                .is_empty()
        );
        let expired = reassembler.expire(start + Duration::from_secs(31), Duration::from_secs(30));
        assert_eq!(expired.len(), 1);
        assert!(!expired[0].is_complete());
        assert_eq!(expired[0].missing(), [2, 3]);
        assert_eq!(reassembler.pending_sets(), 0);
    }

    #[test]
    fn sets_keyed_by_data_time() {
        let mut reassembler = Reassembler::default();
        let now = Instant::now();
        let early = part("1", 1, "DataTime=20160801084000;w01001-Avg=7.1");
        let late = part("2", 2, "DataTime=20160801085000;w01001-Avg=7.2");
        for segment in [&early, &late] {
            let packet = Packet::parse(segment).expect("parses");
            reassembler.insert(&packet, now).expect("taken");
        }
        assert_eq!(reassembler.pending_sets(), 2);
    }

    #[test]
    fn pnum_mismatch_rejected() {
        let mut reassembler = Reassembler::default();
        let now = Instant::now();
        let parts = parts();
        let first = Packet::parse(&parts[0]).expect("parses");
        reassembler.insert(&first, now).expect("taken");
        let other =
            part("2", 2, "DataTime=20160801084000;w01001-Avg=7.1").replace("PNUM=3", "PNUM=4");
        let packet = Packet::parse(&other).expect("parses");
        let error = reassembler.insert(&packet, now).expect_err("PNUM differs");
        assert_eq!(
            error,
            SplitError::PnumMismatch {
                expected: 3,
                pnum: 4
            }
        );
    }

    #[test]
    fn limits_bound_memory() {
        let config = ReassemblerConfig {
            max_sets: 1,
            max_bytes: 1 << 20,
        };
        let mut reassembler = Reassembler::new(config);
        let now = Instant::now();
        let first = part("1", 1, "DataTime=20160801084000;w01001-Avg=7.1");
        let second = part("2", 1, "DataTime=20160801085000;w01001-Avg=7.1");
        reassembler
            .insert(&Packet::parse(&first).expect("parses"), now)
            .expect("taken");
        let error = reassembler.insert(&Packet::parse(&second).expect("parses"), now);
        assert_eq!(
            error.expect_err("over the limit").reason(),
            "reassembly_limit"
        );
    }

    #[test]
    fn non_part_rejected() {
        let packet = Packet::parse("ST=32;CN=2011;PW=1;MN=A;CP=&&&&").expect("parses");
        let error = Reassembler::default()
            .insert(&packet, Instant::now())
            .expect_err("no PNUM");
        assert_eq!(error, SplitError::NotAPart);
    }
}
