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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CHINA_STANDARD_TIME;

    fn received_at() -> Timestamp {
        Timestamp::from_second(1_700_000_000).expect("in range")
    }

    #[test]
    fn realtime_upload_readings() {
        let packet = Packet::parse(
            "QN=1;ST=32;CN=2011;PW=1;MN=M1;Flag=5;CP=&&DataTime=20160801085857;\
w01018-Rtd=2.2,w01018-Flag=N;w01001-Rtd=x;i12001-Info=1;w00000-Flag=N&&",
        )
        .expect("parses");
        let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
        assert_eq!(readings.len(), 1);
        let reading = &readings[0];
        assert_eq!(reading.mn.as_str(), "M1");
        assert_eq!(reading.kind, DataKind::Realtime);
        assert_eq!(reading.factor.as_str(), "w01018");
        assert_eq!(reading.values.rtd, Some(2.2));
        assert_eq!(reading.flag, Some(oversight_core::DataFlag::NORMAL));
        assert_eq!(reading.data_time.to_string(), "2016-08-01T00:58:57Z");
        assert_eq!(reading.received_at, received_at());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].reason(), "invalid_number");
    }

    #[test]
    fn upload_kinds_by_command() {
        for (cn, kind) in [
            (2011, DataKind::Realtime),
            (2051, DataKind::Minute),
            (2061, DataKind::Hour),
            (2031, DataKind::Day),
        ] {
            let segment =
                format!("ST=32;CN={cn};PW=1;MN=M1;CP=&&DataTime=20160801000000;w01018-Avg=1&&");
            let packet = Packet::parse(&segment).expect("parses");
            let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
            assert!(errors.is_empty(), "{cn}: {errors:?}");
            assert_eq!(readings[0].kind, kind, "{cn}");
        }
    }

    #[test]
    fn non_upload_gives_one_error() {
        let packet =
            Packet::parse("ST=32;CN=1062;PW=1;MN=M1;CP=&&RtdInterval=30&&").expect("parses");
        let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
        assert!(readings.is_empty());
        assert_eq!(errors, [FieldError::NotAnUpload { cn: 1062 }]);
    }

    #[test]
    fn missing_or_bad_data_time() {
        let missing =
            Packet::parse("ST=32;CN=2011;PW=1;MN=M1;CP=&&w01018-Rtd=1&&").expect("parses");
        let (_, errors) = missing.readings(received_at(), CHINA_STANDARD_TIME);
        assert_eq!(errors, [FieldError::MissingDataTime]);
        let bad = Packet::parse("ST=32;CN=2011;PW=1;MN=M1;CP=&&DataTime=2016;w01018-Rtd=1&&")
            .expect("parses");
        let (readings, errors) = bad.readings(received_at(), CHINA_STANDARD_TIME);
        assert!(readings.is_empty());
        assert_eq!(errors[0].reason(), "invalid_time");
    }

    #[test]
    fn repeated_factor_keeps_first() {
        let packet = Packet::parse(
            "ST=32;CN=2011;PW=1;MN=M1;CP=&&DataTime=20160801000000;a21-Rtd=1;a22-Rtd=2;a21-Rtd=3&&",
        )
        .expect("parses");
        let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
        assert_eq!(readings.len(), 2);
        assert_eq!(readings[0].values.rtd, Some(1.0));
        assert_eq!(errors, [FieldError::DuplicateFactor { code: "a21".into() }]);
    }

    #[test]
    fn invalid_factor_code_named() {
        let packet = Packet::parse(
            "ST=32;CN=2011;PW=1;MN=M1;CP=&&DataTime=20160801000000;-Rtd=1;w01018-Rtd=2&&",
        )
        .expect("parses");
        let (readings, errors) = packet.readings(received_at(), CHINA_STANDARD_TIME);
        assert_eq!(readings.len(), 1);
        assert_eq!(errors[0].reason(), "invalid_factor_code");
    }
}
