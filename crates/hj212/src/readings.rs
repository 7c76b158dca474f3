//! Conversion of upload packets (CN 2011, 2051, 2061, 2031) into readings.

use jiff::Timestamp;
use jiff::tz::Offset;
use oversight_core::{DataKind, FactorCode, Mn, Reading};

use crate::data::FieldError;
use crate::packet::{Packet, excerpt};

pub(crate) fn readings(
    packet: &Packet<'_>,
    received_at: Timestamp,
    offset: Offset,
) -> (Vec<Reading>, Vec<FieldError>) {
    let (kind, mn, data_time) = match upload_context(packet, offset) {
        Ok(context) => context,
        Err(error) => return (Vec::new(), vec![error]),
    };
    let mut readings: Vec<Reading> = Vec::new();
    let mut errors = Vec::new();
    for factor in packet.factors() {
        let factor = match factor {
            Ok(factor) => factor,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        if factor.values().is_empty() {
            continue;
        }
        let code = match FactorCode::parse(factor.code()) {
            Ok(code) => code,
            Err(error) => {
                errors.push(FieldError::InvalidFactorCode {
                    code: excerpt(factor.code()),
                    detail: error.rule.to_owned(),
                });
                continue;
            }
        };
        if readings.iter().any(|reading| reading.factor == code) {
            errors.push(FieldError::DuplicateFactor {
                code: code.to_string(),
            });
            continue;
        }
        readings.push(Reading {
            mn: mn.clone(),
            kind,
            factor: code,
            data_time,
            received_at,
            values: factor.values(),
            flag: factor.flag(),
        });
    }
    (readings, errors)
}

fn upload_context(
    packet: &Packet<'_>,
    offset: Offset,
) -> Result<(DataKind, Mn, Timestamp), FieldError> {
    let kind =
        DataKind::from_command(packet.cn()).ok_or(FieldError::NotAnUpload { cn: packet.cn() })?;
    let mn = Mn::parse(packet.mn()).map_err(|error| FieldError::InvalidMn {
        mn: excerpt(packet.mn()),
        detail: error.rule.to_owned(),
    })?;
    let data_time = packet
        .data_time(offset)?
        .ok_or(FieldError::MissingDataTime)?;
    Ok((kind, mn, data_time))
}
