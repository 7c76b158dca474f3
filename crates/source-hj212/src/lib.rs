//! HJ 212 TCP source: accepts datalogger connections, stores readings, acknowledges.
