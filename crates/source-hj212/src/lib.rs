//! HJ 212 TCP source: accepts datalogger connections, stores readings and
//! acknowledges them.
//!
//! [`Hj212Source::bind`] takes the [`Hj212Config`], an `Arc<dyn Store>`, a
//! clock for receive times and an optional [`ReadingSink`] that gets the
//! readings once stored. Each connection runs in its own task with the
//! codec's bounded `Framer`. For each frame it:
//!
//! 1. checks length and CRC (the HJ 212 CRC, or the variant configured for
//!    the frame's MN) and parses the data segment;
//! 2. for uploads (CN 2011, 2051, 2061, 2031) looks up the point by MN and
//!    checks PW against the point's password: a wrong password is rejected,
//!    nothing is stored and nothing is acknowledged;
//! 3. stores the readings, with event time from `DataTime` in the
//!    configured UTC offset and receive time from the clock, or stores the
//!    upload in quarantine when the MN is not registered;
//! 4. writes the 9014 acknowledgement when `Flag` requests one, only after
//!    the store returned `Ok`, so a device whose data was not stored sends
//!    it again;
//! 5. hands the stored readings to the sink.
//!
//! Parts of a split upload (PNUM, PNO) are each stored and acknowledged on
//! their own. A 9015 heartbeat keeps the connection open and is
//! acknowledged when asked. Other commands are counted and logged at DEBUG.
//! A heartbeat or other command without readings, sent with a registered
//! point's password, records contact: the point is online, though it sent
//! no data.
//! A malformed frame is counted by reason, logged for the first few per
//! connection, and dropped, and the connection goes on with the next frame.

mod address;
mod cache;
mod config;
mod connection;
mod contact;
mod error;
mod listener;
mod metrics;
mod sink;

pub use config::{CrcSetting, Hj212Config, Hj212Settings};
pub use error::SourceError;
pub use listener::Hj212Source;
pub use sink::ReadingSink;
