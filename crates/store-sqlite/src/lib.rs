//! Embedded SQLite storage backend for Oversight.
