//! HJ 212 codec: framing, CRC, data segment parsing and encoding, without I/O.
