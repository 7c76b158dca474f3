//! Device simulators used by the demo, the tests and the benchmarks.
//!
//! The HJ 212 simulator ([`run`]) opens one TCP connection per datalogger,
//! each with its own MN and password. It sends real-time uploads (CN 2011)
//! of ten factors of a wastewater outlet (ST 32), an air pollution source
//! (ST 31) or an ambient air station (ST 22). It can also send minute and
//! hourly aggregates (CN 2051, 2061). Every well-formed upload asks for
//! an acknowledgement (`Flag=5`), so the simulator measures the time from
//! writing an upload to reading its 9014 acknowledgement. It can inject
//! exceedances, flatlines, dropouts and malformed packets.
//!
//! Values follow a daily cycle with noise ([`FactorModel::sample`]), and
//! [`points`] returns the monitoring points to register first, with the
//! limits the exceedances are measured against.

mod config;
mod connection;
mod device;
mod error;
mod points;
mod profile;
mod run;
mod stats;

pub use config::{DeviceIdentity, SimulateConfig, generated_mn};
pub use error::SimulateError;
pub use points::{points, write_points_csv};
pub use profile::{FactorModel, Profile};
pub use run::run;
pub use stats::{Counters, Latency, Report, ReportKind};
