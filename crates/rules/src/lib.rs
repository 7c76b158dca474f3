//! Early-warning evaluation: limit checks and data-missing detection over readings.
