//! The binary encoding of one upload's factors, stored in `uploads.factors`.
//!
//! Layout: a version byte (1), then one entry per factor in ascending
//! factor id. An entry starts with the factor id (u32), the receive time in
//! microseconds (i64) and a presence mask (u8). Mask bits 0 to 4 mark rtd,
//! avg, min, max and cou, and bit 5 the flag. Each present value follows as
//! f64 in that order, then the flag as one ASCII byte. Integers and floats
//! are little-endian.

use oversight_core::{DataFlag, FactorValues};

use crate::error::{SqliteError, corrupt};

const VERSION: u8 = 1;
const FLAG_BIT: u8 = 1 << 5;

/// One factor's stored values within an upload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FactorEntry {
    pub(crate) factor_id: u32,
    pub(crate) received_at: i64,
    pub(crate) values: FactorValues,
    pub(crate) flag: Option<DataFlag>,
}

fn value_slots(values: &FactorValues) -> [Option<f64>; 5] {
    [values.rtd, values.avg, values.min, values.max, values.cou]
}

/// Encodes entries, which must be sorted by factor id without repeats.
pub(crate) fn encode(entries: &[FactorEntry]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(1 + entries.len() * 40);
    blob.push(VERSION);
    for entry in entries {
        blob.extend_from_slice(&entry.factor_id.to_le_bytes());
        blob.extend_from_slice(&entry.received_at.to_le_bytes());
        let slots = value_slots(&entry.values);
        let mut mask = 0u8;
        for (bit, slot) in slots.iter().enumerate() {
            if slot.is_some() {
                mask |= 1 << bit;
            }
        }
        // A flag outside ASCII cannot come from DataFlag::parse, so it is dropped.
        let flag = entry
            .flag
            .map(DataFlag::as_char)
            .and_then(|flag| u8::try_from(flag).ok());
        if flag.is_some() {
            mask |= FLAG_BIT;
        }
        blob.push(mask);
        for value in slots.into_iter().flatten() {
            blob.extend_from_slice(&value.to_le_bytes());
        }
        if let Some(flag) = flag {
            blob.push(flag);
        }
    }
    blob
}

/// Reads fixed-size fields off the front of a blob.
struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], SqliteError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(corrupt(
                "packed factors",
                &self.rest.len(),
                &"blob ends inside an entry",
            ));
        };
        self.rest = rest;
        Ok(*head)
    }

    fn value(&mut self, mask: u8, bit: u8) -> Result<Option<f64>, SqliteError> {
        if mask & (1 << bit) == 0 {
            return Ok(None);
        }
        Ok(Some(f64::from_le_bytes(self.take()?)))
    }
}

/// Decodes a blob written by [`encode`].
pub(crate) fn decode(blob: &[u8]) -> Result<Vec<FactorEntry>, SqliteError> {
    let Some((&version, rest)) = blob.split_first() else {
        return Err(corrupt("packed factors", &0, &"blob is empty"));
    };
    if version != VERSION {
        return Err(corrupt("packed factors version", &version, &"expected 1"));
    }
    let mut reader = Reader { rest };
    let mut entries = Vec::new();
    while !reader.rest.is_empty() {
        let factor_id = u32::from_le_bytes(reader.take()?);
        let received_at = i64::from_le_bytes(reader.take()?);
        let [mask] = reader.take()?;
        let values = FactorValues {
            rtd: reader.value(mask, 0)?,
            avg: reader.value(mask, 1)?,
            min: reader.value(mask, 2)?,
            max: reader.value(mask, 3)?,
            cou: reader.value(mask, 4)?,
        };
        let flag = if mask & FLAG_BIT == 0 {
            None
        } else {
            let [byte] = reader.take()?;
            let text = char::from(byte).to_string();
            Some(DataFlag::parse(&text).map_err(|error| corrupt("data flag", &text, &error))?)
        };
        entries.push(FactorEntry {
            factor_id,
            received_at,
            values,
            flag,
        });
    }
    Ok(entries)
}

impl FactorEntry {
    /// Returns true if both entries carry the same values and flag, so one
    /// is an identical resend of the other whatever their receive times.
    fn same_content(&self, other: &Self) -> bool {
        self.values == other.values && self.flag == other.flag
    }
}

/// The outcome of merging new entries into an upload.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Merged {
    /// Factor ids and receive times of the entries whose factor was not
    /// stored before.
    pub(crate) added: Vec<(u32, i64)>,
    /// Later entries of a stored factor whose values or flag differ from the
    /// stored ones, in arrival order. The stored entry is kept and these are
    /// kept as revisions.
    pub(crate) revisions: Vec<FactorEntry>,
}

/// Sorts entries by factor id and keeps the first entry of each factor,
/// because the first value a device sent for a data time wins. Later entries
/// of a factor that differ from the first are returned as revisions, and
/// identical ones are dropped.
pub(crate) fn sort_keep_first(entries: Vec<FactorEntry>) -> (Vec<FactorEntry>, Vec<FactorEntry>) {
    let mut indexed: Vec<(usize, FactorEntry)> = entries.into_iter().enumerate().collect();
    indexed.sort_by_key(|(position, entry)| (entry.factor_id, *position));
    let mut kept: Vec<FactorEntry> = Vec::with_capacity(indexed.len());
    let mut revisions = Vec::new();
    for (position, entry) in indexed {
        match kept.last() {
            Some(first) if first.factor_id == entry.factor_id => {
                if !first.same_content(&entry) {
                    revisions.push((position, entry));
                }
            }
            _ => kept.push(entry),
        }
    }
    revisions.sort_by_key(|(position, _)| *position);
    let revisions = revisions.into_iter().map(|(_, entry)| entry).collect();
    (kept, revisions)
}

/// Merges `new` entries into `stored`, keeping the stored entry of a factor
/// that is already there. Both must be sorted by factor id.
pub(crate) fn merge(stored: &mut Vec<FactorEntry>, new: Vec<FactorEntry>) -> Merged {
    let mut merged = Merged::default();
    for entry in new {
        match stored.binary_search_by_key(&entry.factor_id, |stored| stored.factor_id) {
            Ok(index) => {
                if !stored[index].same_content(&entry) {
                    merged.revisions.push(entry);
                }
            }
            Err(index) => {
                merged.added.push((entry.factor_id, entry.received_at));
                stored.insert(index, entry);
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(factor_id: u32, avg: Option<f64>, flag: Option<char>) -> FactorEntry {
        FactorEntry {
            factor_id,
            received_at: 1_714_521_600_000_000 + i64::from(factor_id),
            values: FactorValues {
                rtd: None,
                avg,
                min: Some(-1.5),
                max: None,
                cou: Some(0.0),
            },
            flag: flag.map(|flag| DataFlag::parse(&flag.to_string()).expect("valid flag")),
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let entries = vec![
            entry(1, Some(7.25), Some('N')),
            entry(2, None, None),
            entry(9, Some(f64::MAX), Some('D')),
        ];
        let decoded = decode(&encode(&entries)).expect("decode encoded blob");
        assert_eq!(decoded, entries);
    }

    #[test]
    fn decode_rejects_truncated_blob() {
        let blob = encode(&[entry(1, Some(7.25), Some('N'))]);
        let error = decode(&blob[..blob.len() - 1]).expect_err("truncated");
        assert!(
            error.to_string().contains("ends inside an entry"),
            "{error}"
        );
    }

    #[test]
    fn decode_rejects_unknown_version() {
        let error = decode(&[2]).expect_err("version 2");
        assert!(error.to_string().contains("version"), "{error}");
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn sort_keep_first_keeps_first_of_factor() {
        let entries = vec![
            entry(5, Some(1.0), None),
            entry(2, Some(2.0), None),
            entry(5, Some(3.0), None),
            entry(5, Some(1.0), None),
        ];
        let (kept, revisions) = sort_keep_first(entries);
        let ids: Vec<u32> = kept.iter().map(|entry| entry.factor_id).collect();
        assert_eq!(ids, [2, 5]);
        assert_eq!(kept[1].values.avg, Some(1.0));
        assert_eq!(revisions.len(), 1, "the identical resend is dropped");
        assert_eq!(revisions[0].values.avg, Some(3.0));
    }

    #[test]
    fn merge_keeps_stored_and_collects_revisions() {
        let mut stored = vec![entry(1, Some(1.0), None), entry(5, Some(5.0), None)];
        let merged = merge(
            &mut stored,
            vec![
                entry(1, Some(1.0), None),
                entry(3, Some(3.0), None),
                entry(5, Some(50.0), None),
            ],
        );
        assert_eq!(merged.added, [(3, entry(3, None, None).received_at)]);
        let ids: Vec<u32> = stored.iter().map(|entry| entry.factor_id).collect();
        assert_eq!(ids, [1, 3, 5]);
        assert_eq!(stored[2].values.avg, Some(5.0), "the first value wins");
        assert_eq!(
            merged.revisions.len(),
            1,
            "identical factor 1 is no revision"
        );
        assert_eq!(merged.revisions[0].values.avg, Some(50.0));
    }

    #[test]
    fn merge_treats_flag_change_as_revision() {
        let mut stored = vec![entry(1, Some(1.0), Some('N'))];
        let merged = merge(&mut stored, vec![entry(1, Some(1.0), Some('D'))]);
        assert!(merged.added.is_empty());
        assert_eq!(merged.revisions.len(), 1);
        assert_eq!(stored[0].flag.map(DataFlag::as_char), Some('N'));
    }
}
