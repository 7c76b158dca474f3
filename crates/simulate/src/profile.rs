//! Factor tables per system code, and the value model of a simulated
//! datalogger: a daily cycle with noise.
//!
//! Limits are those a regulator typically sets for the kind of site, so
//! the simulated points can be registered with them and exceedances show
//! up as alerts:
//!
//! - wastewater (ST 32): GB 8978-1996 first-grade limits for COD (100 mg/L),
//!   NH₃-N (15 mg/L), SS (70 mg/L) and pH (6 to 9); GB 18918-2002 grade 1A
//!   for TP (0.5 mg/L) and TN (15 mg/L);
//! - air pollution source (ST 31): ultra-low emission limits for coal-fired
//!   power units, SO₂ 35, NOx 50 and particulate 10 mg/m³;
//! - ambient air (ST 22): GB 3095-2012 grade 2 daily limits, PM2.5 75,
//!   PM10 150, SO₂ 150, NO₂ 80 µg/m³, CO 4 mg/m³, and the 8-hour O₃ limit 160;
//! - acoustic environment (ST 23): GB 3096-2008 class 2 daytime limit for the
//!   A-weighted level LA, 60 dB(A).

use std::f64::consts::TAU;

use jiff::Timestamp;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// One simulated factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorModel {
    /// The HJ 212-2017 factor code.
    pub code: &'static str,
    /// The unit of the values, such as `mg/L`.
    pub unit: &'static str,
    /// The daily mean.
    pub base: f64,
    /// The daily cycle's amplitude as a share of `base`.
    pub amplitude: f64,
    /// The standard deviation of the noise as a share of `base`.
    pub noise: f64,
    /// The lower limit a regulator would set, if any.
    pub lower: Option<f64>,
    /// The upper limit a regulator would set, if any.
    pub upper: Option<f64>,
}

impl FactorModel {
    /// Returns the range a value of the factor can physically take: pH 0 to
    /// 14, a percentage 0 to 100, a temperature above absolute zero, and any
    /// other quantity (concentration, flow, pressure, level) from 0 up.
    pub fn physical_range(&self) -> (f64, f64) {
        match (self.code, self.unit) {
            ("w01001", _) => (0.0, 14.0),
            (_, "%") => (0.0, 100.0),
            (_, "°C") => (-273.15, f64::INFINITY),
            _ => (0.0, f64::INFINITY),
        }
    }

    /// Returns the model value at `time`: the daily mean, a cycle that peaks
    /// at 14:00 China Standard Time, and normal noise, kept within the
    /// physical range.
    pub fn sample(&self, time: Timestamp, rng: &mut impl Rng) -> f64 {
        let seconds_of_day = (time.as_second() + 8 * 3600).rem_euclid(86_400) as f64;
        let phase = TAU * (seconds_of_day - 8.0 * 3600.0) / 86_400.0;
        let cycle = self.base * (1.0 + self.amplitude * phase.sin());
        let noise = match Normal::new(0.0, self.noise * self.base.abs()) {
            Ok(normal) => normal.sample(rng),
            Err(_) => 0.0,
        };
        let (low, high) = self.physical_range();
        round((cycle + noise).clamp(low, high))
    }

    /// Returns a value above the upper limit, 1.05 to 2.5 times it but
    /// within the physical range, or `None` when the factor has no upper
    /// limit.
    pub fn exceeding(&self, rng: &mut impl Rng) -> Option<f64> {
        let upper = self.upper?;
        let (_, high) = self.physical_range();
        Some(round(f64::min(upper * rng.random_range(1.05..2.5), high)))
    }
}

/// Rounds to three decimals, as instruments report.
fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The kind of site a simulated datalogger monitors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// A wastewater outlet, ST 32.
    #[default]
    Wastewater,
    /// An air pollution source (stack, CEMS), ST 31.
    AirSource,
    /// An ambient air quality station, ST 22.
    AmbientAir,
    /// An acoustic environment (noise) station, ST 23.
    Noise,
}

impl Profile {
    /// Returns the HJ 212 system code (ST) the profile's devices send.
    pub fn system_code(self) -> &'static str {
        match self {
            Self::Wastewater => "32",
            Self::AirSource => "31",
            Self::AmbientAir => "22",
            Self::Noise => "23",
        }
    }

    /// Returns the profile's name as used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wastewater => "wastewater",
            Self::AirSource => "air_source",
            Self::AmbientAir => "ambient_air",
            Self::Noise => "noise",
        }
    }

    /// Returns the factors the profile's devices measure.
    pub fn factors(self) -> &'static [FactorModel] {
        match self {
            Self::Wastewater => WASTEWATER,
            Self::AirSource => AIR_SOURCE,
            Self::AmbientAir => AMBIENT_AIR,
            Self::Noise => NOISE,
        }
    }
}

const fn factor(
    code: &'static str,
    unit: &'static str,
    base: f64,
    amplitude: f64,
    noise: f64,
    lower: Option<f64>,
    upper: Option<f64>,
) -> FactorModel {
    FactorModel {
        code,
        unit,
        base,
        amplitude,
        noise,
        lower,
        upper,
    }
}

const WASTEWATER: &[FactorModel] = &[
    factor("w00000", "L/s", 20.0, 0.4, 0.05, None, None),
    factor("w01001", "", 7.2, 0.03, 0.01, Some(6.0), Some(9.0)),
    factor("w01018", "mg/L", 45.0, 0.3, 0.05, None, Some(100.0)),
    factor("w21003", "mg/L", 5.0, 0.3, 0.05, None, Some(15.0)),
    factor("w21011", "mg/L", 0.25, 0.2, 0.05, None, Some(0.5)),
    factor("w21001", "mg/L", 9.0, 0.2, 0.05, None, Some(15.0)),
    factor("w01012", "mg/L", 25.0, 0.2, 0.05, None, Some(70.0)),
    factor("w01010", "°C", 20.0, 0.1, 0.01, None, None),
    factor("w01014", "µS/cm", 800.0, 0.1, 0.02, None, None),
    factor("w01009", "mg/L", 6.0, 0.1, 0.03, None, None),
];

const AIR_SOURCE: &[FactorModel] = &[
    factor("a00000", "m³/s", 50.0, 0.3, 0.03, None, None),
    factor("a21026", "mg/m³", 18.0, 0.25, 0.05, None, Some(35.0)),
    factor("a21002", "mg/m³", 28.0, 0.25, 0.05, None, Some(50.0)),
    factor("a34013", "mg/m³", 3.0, 0.3, 0.08, None, Some(10.0)),
    factor("a19001", "%", 8.0, 0.05, 0.02, None, None),
    factor("a01012", "°C", 60.0, 0.1, 0.02, None, None),
    factor("a01013", "kPa", 0.3, 0.1, 0.05, None, None),
    factor("a01011", "m/s", 12.0, 0.2, 0.03, None, None),
    factor("a01014", "%", 10.0, 0.1, 0.03, None, None),
    factor("a21005", "mg/m³", 40.0, 0.2, 0.05, None, None),
];

const AMBIENT_AIR: &[FactorModel] = &[
    factor("a34004", "µg/m³", 35.0, 0.3, 0.08, None, Some(75.0)),
    factor("a34002", "µg/m³", 65.0, 0.3, 0.08, None, Some(150.0)),
    factor("a21026", "µg/m³", 10.0, 0.2, 0.08, None, Some(150.0)),
    factor("a21004", "µg/m³", 30.0, 0.3, 0.08, None, Some(80.0)),
    factor("a05024", "µg/m³", 80.0, 0.5, 0.08, None, Some(160.0)),
    factor("a21005", "mg/m³", 0.8, 0.2, 0.08, None, Some(4.0)),
    factor("a01001", "°C", 20.0, 0.2, 0.02, None, None),
    factor("a01002", "%", 60.0, 0.2, 0.03, None, None),
    factor("a01006", "kPa", 101.3, 0.002, 0.001, None, None),
    factor("a01007", "m/s", 2.5, 0.4, 0.1, None, None),
];

/// Real-time noise data carries the A-weighted level only (HJ 212-2017 C.25).
const NOISE: &[FactorModel] = &[factor("LA", "dB(A)", 52.0, 0.1, 0.03, None, Some(60.0))];

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    use super::*;

    #[test]
    fn profiles_have_ten_factors() {
        for profile in [Profile::Wastewater, Profile::AirSource, Profile::AmbientAir] {
            assert_eq!(profile.factors().len(), 10, "{profile:?}");
        }
    }

    #[test]
    fn noise_profile_sends_la() {
        assert_eq!(Profile::Noise.system_code(), "23");
        assert_eq!(Profile::Noise.factors()[0].code, "LA");
        assert_eq!(Profile::Noise.factors()[0].upper, Some(60.0));
    }

    #[test]
    fn daily_cycle_peaks_in_afternoon() {
        let cod = WASTEWATER[2];
        let quiet = FactorModel { noise: 0.0, ..cod };
        let mut rng = SmallRng::seed_from_u64(1);
        // 14:00 and 02:00 China Standard Time.
        let afternoon: Timestamp = "2026-03-01T06:00:00Z".parse().unwrap();
        let night: Timestamp = "2026-03-01T18:00:00Z".parse().unwrap();
        let high = quiet.sample(afternoon, &mut rng);
        let low = quiet.sample(night, &mut rng);
        assert!((high - 45.0 * 1.3).abs() < 0.01, "afternoon value {high}");
        assert!((low - 45.0 * 0.7).abs() < 0.01, "night value {low}");
    }

    #[test]
    fn samples_stay_within_limits_normally() {
        let mut rng = SmallRng::seed_from_u64(7);
        let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        for model in Profile::Wastewater.factors() {
            for minute in 0..1440 {
                let time = start
                    .checked_add(jiff::SignedDuration::from_mins(minute))
                    .unwrap();
                let value = model.sample(time, &mut rng);
                assert!(value >= 0.0, "{} {value}", model.code);
                if let Some(upper) = model.upper {
                    assert!(value <= upper, "{} {value} above {upper}", model.code);
                }
                if let Some(lower) = model.lower {
                    assert!(value >= lower, "{} {value} below {lower}", model.code);
                }
            }
        }
    }

    #[test]
    fn values_stay_within_physical_range() {
        let mut rng = SmallRng::seed_from_u64(11);
        let start: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let profiles = [
            Profile::Wastewater,
            Profile::AirSource,
            Profile::AmbientAir,
            Profile::Noise,
        ];
        for profile in profiles {
            for model in profile.factors() {
                let (low, high) = model.physical_range();
                // Ten times the noise reaches the range's edges.
                let noisy = FactorModel {
                    noise: model.noise * 10.0,
                    ..*model
                };
                for minute in (0..1440).step_by(7) {
                    let time = start
                        .checked_add(jiff::SignedDuration::from_mins(minute))
                        .unwrap();
                    let value = noisy.sample(time, &mut rng);
                    assert!(value >= low, "{} {value} below {low}", model.code);
                    assert!(value <= high, "{} {value} above {high}", model.code);
                }
                for _ in 0..100 {
                    if let Some(value) = model.exceeding(&mut rng) {
                        assert!(value <= high, "{} {value} above {high}", model.code);
                        assert!(value > model.upper.unwrap(), "{} {value}", model.code);
                    }
                }
            }
        }
        let ph = WASTEWATER[1];
        assert_eq!(ph.physical_range(), (0.0, 14.0));
    }

    #[test]
    fn exceeding_values_are_above_upper() {
        let mut rng = SmallRng::seed_from_u64(3);
        let cod = WASTEWATER[2];
        for _ in 0..100 {
            let value = cod.exceeding(&mut rng).unwrap();
            assert!(value > 100.0, "{value}");
        }
        assert_eq!(WASTEWATER[0].exceeding(&mut rng), None);
    }
}
