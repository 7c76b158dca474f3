//! Stream framing: `##`, a 4-digit data segment length, the segment, 4 hex CRC
//! digits and CR LF.
//!
//! A [`Framer`] buffers the bytes of one connection. It finds frames in any split
//! of the stream, skips garbage up to the next `##` followed by four digits, and
//! never buffers more than [`Framer::max_buffered`] bytes: the longest frame it
//! accepts plus nothing else. The declared length counts bytes, and a frame is
//! accepted only when its trailer sits where that length puts it and its CRC
//! verifies under the connection's [`CrcVariant`]. The trailer may be CR LF,
//! LF alone, or missing when the next packet's `##` follows the CRC directly.
//! So a lying length field or a corrupted frame costs only that frame, never
//! the frames after it.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use crate::crc::CrcVariant;
use crate::packet::{Packet, ParseError, ParseOptions};

/// The data segment length the framer accepts unless configured otherwise.
///
/// HJ 212-2017 limits the segment to 1024 bytes, but live devices send 1025 and
/// 1623 bytes, and other maintained receivers raised their limit to 4096.
pub const DEFAULT_MAX_SEGMENT_LEN: usize = 4096;

/// The largest length the 4-digit length field can declare.
pub const MAX_SEGMENT_LEN: usize = 9999;

/// `##` plus four length digits.
const HEADER_LEN: usize = 6;

/// Four hex CRC digits.
const CRC_LEN: usize = 4;

/// How many bytes of skipped input an error message quotes.
const PREVIEW_LEN: usize = 24;

/// The line ending that closed a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trailer {
    /// CR LF, as the standard requires.
    CrLf,
    /// LF alone, which some devices send; accepted because length and CRC verify.
    Lf,
    /// No line ending: the next packet's `##` follows the CRC directly, or the
    /// input of [`decode_frame`] ends there. Accepted because length and CRC
    /// verify.
    ///
    /// NOTE: in a stream, such a frame is only returned once the next
    /// packet's `##` arrives, because until then the framer cannot tell it
    /// from a frame whose CR LF is still on the way.
    Missing,
}

/// Settings of a [`Framer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// The maximum data segment length accepted, in bytes. Values above
    /// [`MAX_SEGMENT_LEN`] act as [`MAX_SEGMENT_LEN`].
    pub max_segment_len: usize,
    /// The check-value algorithm frames must pass.
    pub crc: CrcVariant,
}

impl Default for FramerConfig {
    fn default() -> Self {
        Self {
            max_segment_len: DEFAULT_MAX_SEGMENT_LEN,
            crc: CrcVariant::Hj212,
        }
    }
}

/// A frame whose length, trailer and CRC verified.
///
/// `B` is the storage of its bytes: reference-counted [`Bytes`] for the
/// frames of [`Framer::next_frame`] and [`decode_frame`], or `&[u8]` for
/// the frames that [`Framer::next_frame_in`] borrows from the caller's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<B = Bytes> {
    bytes: B,
    segment_len: usize,
    trailer: Trailer,
    crc: u16,
    variant: CrcVariant,
}

impl Frame {
    /// Returns the whole frame as received, without copying.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

impl Frame<&[u8]> {
    /// Copies the frame into one that owns its bytes.
    pub fn to_owned_frame(&self) -> Frame {
        Frame {
            bytes: Bytes::copy_from_slice(self.bytes),
            segment_len: self.segment_len,
            trailer: self.trailer,
            crc: self.crc,
            variant: self.variant,
        }
    }
}

impl<B: AsRef<[u8]>> Frame<B> {
    /// Returns the data segment, the bytes the length and CRC cover.
    pub fn segment(&self) -> &[u8] {
        &self.bytes.as_ref()[HEADER_LEN..HEADER_LEN + self.segment_len]
    }

    /// Returns the whole frame as received, from `##` to the trailer.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// Returns the check value the frame carried (and that verified).
    pub fn crc(&self) -> u16 {
        self.crc
    }

    /// Returns the check-value algorithm the frame verified under.
    pub fn crc_variant(&self) -> CrcVariant {
        self.variant
    }

    /// Returns the line ending that closed the frame.
    pub fn trailer(&self) -> Trailer {
        self.trailer
    }

    /// Decodes the data segment as text: UTF-8 when it is valid UTF-8 (borrowed,
    /// no copy), else GBK, which some devices use for Chinese text.
    pub fn text(&self) -> Cow<'_, str> {
        decode_text(self.segment())
    }

    /// Parses the data segment with the default [`ParseOptions`].
    ///
    /// Fails with [`ParseError::NotUtf8`] when the segment is not UTF-8; parse
    /// [`Frame::text`] with [`Packet::parse`] to read such a segment as GBK.
    pub fn parse(&self) -> Result<Packet<'_>, ParseError> {
        self.parse_with(&ParseOptions::default())
    }

    /// Parses the data segment with the given options.
    pub fn parse_with(&self, options: &ParseOptions) -> Result<Packet<'_>, ParseError> {
        // simdutf8 checks 64 bytes at a time, several times as fast as the
        // standard library on segments of a few hundred ASCII bytes. Its
        // `basic` error carries no position, so the standard library finds it.
        let segment = simdutf8::basic::from_utf8(self.segment())
            .map_err(|_| not_utf8_error(self.segment()))?;
        Packet::parse_with(segment, options)
    }
}

/// Returns the error for a segment that is not UTF-8, with the position of
/// the first invalid byte.
#[cold]
fn not_utf8_error(segment: &[u8]) -> ParseError {
    let valid_up_to = match std::str::from_utf8(segment) {
        Ok(_) => segment.len(),
        Err(error) => error.valid_up_to(),
    };
    ParseError::NotUtf8 { valid_up_to }
}

/// A frame whose length and trailer verified but whose CRC did not match.
///
/// It cannot be parsed. Its bytes are there for logging, and [`verify`] checks
/// it again under another variant once the caller knows which one the device
/// uses (for example after reading the MN from the segment).
///
/// [`verify`]: UnverifiedFrame::verify
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedFrame {
    bytes: Bytes,
    segment_len: usize,
    trailer: Trailer,
    crc: u16,
}

impl UnverifiedFrame {
    /// Returns the data segment as received, not verified.
    pub fn segment(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..HEADER_LEN + self.segment_len]
    }

    /// Returns the whole frame as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the frame's CRC under `variant`.
    pub fn verify(&self, variant: CrcVariant) -> Result<Frame, FrameError> {
        let expected = variant.compute(self.segment());
        if expected != self.crc {
            return Err(FrameError::CrcMismatch {
                variant,
                expected,
                received: self.crc,
                frame: self.clone(),
            });
        }
        Ok(Frame {
            bytes: self.bytes.clone(),
            segment_len: self.segment_len,
            trailer: self.trailer,
            crc: self.crc,
            variant,
        })
    }
}

/// An error for bytes of the stream that did not become a [`Frame`].
///
/// Every error consumed the bytes it describes, so the stream goes on with the
/// bytes after them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Bytes before the next packet header were skipped.
    #[error("skipped {skipped} bytes without a packet header ('##' and 4 digits): {preview}")]
    Garbage {
        /// How many bytes were skipped.
        skipped: usize,
        /// The first skipped bytes, escaped.
        preview: String,
    },
    /// `##` was not followed by four decimal digits; the bytes up to the next
    /// packet header were skipped.
    #[error("skipped {skipped} bytes after '##' without a 4-digit length: {preview}")]
    BadHeader {
        /// How many bytes were skipped.
        skipped: usize,
        /// The first skipped bytes, escaped.
        preview: String,
    },
    /// The declared segment length exceeds the configured maximum; only the
    /// 6-byte header was consumed and the framer resynchronises after it.
    #[error(
        "declared data segment length {declared} exceeds the maximum of {max} bytes; \
         raise max_segment_len if the device is known to send longer packets"
    )]
    TooLong {
        /// The length the header declared.
        declared: usize,
        /// The configured maximum.
        max: usize,
    },
    /// No CR LF or LF follows the CRC where the declared length puts it.
    #[error(
        "declared data segment length {declared} does not match the packet ({}); \
         skipped {skipped} bytes",
        describe_actual(*.actual)
    )]
    LengthMismatch {
        /// The length the header declared.
        declared: usize,
        /// The segment length implied by the first line ending after the
        /// header, if one was buffered.
        actual: Option<usize>,
        /// How many bytes were skipped to the next packet header.
        skipped: usize,
    },
    /// The four bytes before the trailer are not hex digits.
    #[error("invalid CRC field {digits:?}: expected 4 hex digits before CR LF")]
    InvalidCrcDigits {
        /// The four bytes, escaped.
        digits: String,
    },
    /// The CRC does not match the data segment.
    #[error(
        "CRC mismatch under {variant}: received {received:04X}, computed {expected:04X}; \
         the packet is corrupted, or the device uses another CRC variant"
    )]
    CrcMismatch {
        /// The variant the frame was checked under.
        variant: CrcVariant,
        /// The value computed over the segment.
        expected: u16,
        /// The value the frame carried.
        received: u16,
        /// The frame, for logging and for checking under another variant.
        frame: UnverifiedFrame,
    },
}

impl FrameError {
    /// Returns a short stable name of the error kind, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Garbage { .. } => "garbage",
            Self::BadHeader { .. } => "bad_header",
            Self::TooLong { .. } => "too_long",
            Self::LengthMismatch { .. } => "length_mismatch",
            Self::InvalidCrcDigits { .. } => "bad_crc_digits",
            Self::CrcMismatch { .. } => "crc_mismatch",
        }
    }
}

fn describe_actual(actual: Option<usize>) -> String {
    match actual {
        Some(actual) => format!("the first line ending implies {actual} bytes"),
        None => "no line ending where the length points".to_owned(),
    }
}

/// A stream framer for one connection.
///
/// Feed it with [`push`](Framer::push), which takes only as many bytes as fit
/// in its bounded buffer, and drain it with [`next_frame`](Framer::next_frame):
///
/// ```
/// use oversight_hj212::Framer;
///
/// let mut framer = Framer::new();
/// let mut input: &[u8] = b"junk##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;\
/// MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
/// let mut frames = Vec::new();
/// let mut errors = Vec::new();
/// while !input.is_empty() {
///     let taken = framer.push(input);
///     input = &input[taken..];
///     while let Some(result) = framer.next_frame() {
///         match result {
///             Ok(frame) => frames.push(frame),
///             Err(error) => errors.push(error.reason()),
///         }
///     }
/// }
/// assert_eq!(frames.len(), 1);
/// assert_eq!(errors, ["garbage"]);
/// ```
#[derive(Debug)]
pub struct Framer {
    buffer: BytesMut,
    max_segment_len: usize,
    crc: CrcVariant,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// Creates a framer with the default configuration.
    pub fn new() -> Self {
        Self::with_config(FramerConfig::default())
    }

    /// Creates a framer with the given configuration.
    pub fn with_config(config: FramerConfig) -> Self {
        let max_segment_len = config.max_segment_len.min(MAX_SEGMENT_LEN);
        Self {
            buffer: BytesMut::new(),
            max_segment_len,
            crc: config.crc,
        }
    }

    /// Sets the CRC variant that frames from now on must pass.
    pub fn set_crc_variant(&mut self, variant: CrcVariant) {
        self.crc = variant;
    }

    /// Returns the CRC variant frames must pass.
    pub fn crc_variant(&self) -> CrcVariant {
        self.crc
    }

    /// Returns the longest data segment accepted, in bytes.
    pub fn max_segment_len(&self) -> usize {
        self.max_segment_len
    }

    /// Returns the most bytes the framer ever buffers: one frame of the
    /// maximum segment length with its header, CRC and CR LF.
    pub fn max_buffered(&self) -> usize {
        HEADER_LEN + self.max_segment_len + CRC_LEN + 2
    }

    /// Returns how many bytes are buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Appends as many bytes as fit in the buffer and returns how many it took.
    ///
    /// It takes fewer than `bytes.len()` only when the buffer is full. Call
    /// [`next_frame`](Self::next_frame) until it returns `None` and push the
    /// rest: after that at least one byte always fits.
    #[must_use = "bytes beyond the returned count were not taken and must be pushed again"]
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let room = self.max_buffered().saturating_sub(self.buffer.len());
        let taken = bytes.len().min(room);
        self.buffer.extend_from_slice(&bytes[..taken]);
        taken
    }

    /// Returns the next frame or error, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        if self.buffer.is_empty() {
            return None;
        }
        let full = self.buffer.len() >= self.max_buffered();
        let decision = examine(&self.buffer, self.max_segment_len, full, self.crc);
        match decision {
            Examined::NeedMore => None,
            Examined::Skip(length) => {
                let skipped = self.buffer.split_to(length);
                Some(Err(skip_error(&skipped)))
            }
            Examined::TooLong { declared } => {
                let _header = self.buffer.split_to(HEADER_LEN);
                Some(Err(FrameError::TooLong {
                    declared,
                    max: self.max_segment_len,
                }))
            }
            Examined::LengthMismatch {
                declared,
                actual,
                skip,
            } => {
                let _skipped = self.buffer.split_to(skip);
                Some(Err(FrameError::LengthMismatch {
                    declared,
                    actual,
                    skipped: skip,
                }))
            }
            Examined::Complete {
                segment_len,
                trailer,
            } => {
                let frame_len = HEADER_LEN + segment_len + CRC_LEN + trailer_len(trailer);
                let bytes = self.buffer.split_to(frame_len).freeze();
                Some(check_crc(bytes, segment_len, trailer, self.crc))
            }
        }
    }
}

impl Framer {
    /// Returns the next frame or error at the front of `input` without
    /// copying it, and moves `input` past the bytes it consumed.
    ///
    /// Returns `None` when bytes are buffered, or when `input` is empty or
    /// ends inside a frame: then [`push`](Self::push) the rest of `input`
    /// and drain [`next_frame`](Self::next_frame). A frame comes from
    /// `input` itself, so the bytes of a read are copied into the buffer
    /// only when a frame spans two reads. The frames and errors are those
    /// that `push` and `next_frame` give for the same stream.
    ///
    /// ```
    /// use oversight_hj212::Framer;
    ///
    /// let mut framer = Framer::new();
    /// let stream: &[u8] = b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;\
    /// MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n##01";
    /// let mut input = stream;
    /// let frame = framer.next_frame_in(&mut input).expect("a whole frame");
    /// assert!(frame.is_ok());
    /// assert!(framer.next_frame_in(&mut input).is_none());
    /// assert_eq!(input, b"##01");
    /// assert_eq!(framer.push(input), 4);
    /// ```
    pub fn next_frame_in<'a>(
        &mut self,
        input: &mut &'a [u8],
    ) -> Option<Result<Frame<&'a [u8]>, FrameError>> {
        if !self.buffer.is_empty() || input.is_empty() {
            return None;
        }
        // `push` would buffer this much of the input, so deciding on it
        // gives the same frames and errors.
        let available: &'a [u8] = input;
        let window = &available[..available.len().min(self.max_buffered())];
        let full = window.len() >= self.max_buffered();
        let (consumed, result) = match examine(window, self.max_segment_len, full, self.crc) {
            Examined::NeedMore => return None,
            Examined::Skip(length) => (length, Err(skip_error(&window[..length]))),
            Examined::TooLong { declared } => (
                HEADER_LEN,
                Err(FrameError::TooLong {
                    declared,
                    max: self.max_segment_len,
                }),
            ),
            Examined::LengthMismatch {
                declared,
                actual,
                skip,
            } => (
                skip,
                Err(FrameError::LengthMismatch {
                    declared,
                    actual,
                    skipped: skip,
                }),
            ),
            Examined::Complete {
                segment_len,
                trailer,
            } => {
                let frame_len = HEADER_LEN + segment_len + CRC_LEN + trailer_len(trailer);
                let bytes = &available[..frame_len];
                (frame_len, check_crc(bytes, segment_len, trailer, self.crc))
            }
        };
        *input = &available[consumed..];
        Some(result)
    }
}

/// Decodes one complete frame, such as a line of a capture file with its
/// trailer. Bytes after the trailer are an error.
pub fn decode_frame(input: &[u8], variant: CrcVariant) -> Result<Frame, FrameError> {
    match examine(input, MAX_SEGMENT_LEN, true, variant) {
        Examined::Complete {
            segment_len,
            trailer,
        } => {
            let frame_len = HEADER_LEN + segment_len + CRC_LEN + trailer_len(trailer);
            if frame_len != input.len() {
                return Err(FrameError::LengthMismatch {
                    declared: segment_len,
                    actual: None,
                    skipped: input.len(),
                });
            }
            check_crc(Bytes::copy_from_slice(input), segment_len, trailer, variant)
        }
        // With the input complete, `examine` never returns `NeedMore`.
        Examined::Skip(_) | Examined::NeedMore => Err(skip_error(input)),
        Examined::TooLong { declared } => Err(FrameError::TooLong {
            declared,
            max: MAX_SEGMENT_LEN,
        }),
        Examined::LengthMismatch {
            declared, actual, ..
        } => Err(FrameError::LengthMismatch {
            declared,
            actual,
            skipped: input.len(),
        }),
    }
}

/// The classification of the bytes at the front of a buffer.
#[derive(Debug, PartialEq, Eq)]
enum Examined {
    /// The buffer ends inside a header or frame.
    NeedMore,
    /// The first `n` bytes are not the start of a frame.
    Skip(usize),
    /// A header declaring more than the maximum segment length.
    TooLong { declared: usize },
    /// A header whose frame does not end where its length declares. Skip
    /// `skip` bytes to the next header.
    LengthMismatch {
        declared: usize,
        actual: Option<usize>,
        skip: usize,
    },
    /// A frame whose trailer sits where its length declares.
    Complete {
        segment_len: usize,
        trailer: Trailer,
    },
}

/// Decides what the bytes at the front of `buffer` are. `full` means no more
/// bytes can arrive before a decision, because the buffer is full or the
/// input is complete.
///
/// Skipped bytes always run up to the next header, so the errors a stream
/// produces do not depend on how it was split into reads, unless more than a
/// full buffer of bytes passes without a header.
fn examine(buffer: &[u8], max_segment_len: usize, full: bool, crc: CrcVariant) -> Examined {
    // A buffer nearly always starts with a header, which needs no search.
    let declared = match parse_header(buffer) {
        Some(declared) => declared,
        None => match find_header(buffer, 0) {
            HeaderSearch::Found(0) => {
                parse_header(buffer).expect("find_header returned a complete header at 0")
            }
            HeaderSearch::Found(start) => return Examined::Skip(start),
            HeaderSearch::Partial(start) if full => return Examined::Skip(start.max(1)),
            HeaderSearch::None if full => return Examined::Skip(buffer.len()),
            HeaderSearch::Partial(_) | HeaderSearch::None => return Examined::NeedMore,
        },
    };
    if declared > max_segment_len {
        return Examined::TooLong { declared };
    }
    let trailer_at = HEADER_LEN + declared + CRC_LEN;
    match buffer.get(trailer_at..trailer_at + 2) {
        None if buffer.len() <= trailer_at && !full => Examined::NeedMore,
        None if buffer.len() == trailer_at && crc_verifies(buffer, declared, crc) => {
            Examined::Complete {
                segment_len: declared,
                trailer: Trailer::Missing,
            }
        }
        None if buffer.len() <= trailer_at => length_mismatch(buffer, declared, full),
        Some([b'\r', b'\n']) => Examined::Complete {
            segment_len: declared,
            trailer: Trailer::CrLf,
        },
        Some([b'\n', _]) => Examined::Complete {
            segment_len: declared,
            trailer: Trailer::Lf,
        },
        None if buffer[trailer_at] == b'\n' => Examined::Complete {
            segment_len: declared,
            trailer: Trailer::Lf,
        },
        None if matches!(buffer[trailer_at], b'\r' | b'#') && !full => Examined::NeedMore,
        Some([b'#', b'#']) if crc_verifies(buffer, declared, crc) => Examined::Complete {
            segment_len: declared,
            trailer: Trailer::Missing,
        },
        _ => length_mismatch(buffer, declared, full),
    }
}

/// Decides how far to skip after a header whose frame does not end where its
/// length declares. The skip runs up to the next header, which may need more bytes.
fn length_mismatch(buffer: &[u8], declared: usize, full: bool) -> Examined {
    let skip = match find_header(buffer, 2) {
        HeaderSearch::Found(start) => start,
        HeaderSearch::Partial(start) if full => start,
        HeaderSearch::None if full => buffer.len(),
        HeaderSearch::Partial(_) | HeaderSearch::None => return Examined::NeedMore,
    };
    let actual = memchr::memchr(b'\n', &buffer[HEADER_LEN..skip]).and_then(|newline| {
        let line_end = HEADER_LEN + newline;
        let trailer_start = if buffer[line_end - 1] == b'\r' {
            line_end - 1
        } else {
            line_end
        };
        trailer_start.checked_sub(HEADER_LEN + CRC_LEN)
    });
    Examined::LengthMismatch {
        declared,
        actual,
        skip,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum HeaderSearch {
    /// A complete header (`##` and four digits) starts here.
    Found(usize),
    /// The buffer ends inside what may be a header starting here.
    Partial(usize),
    /// No header and no header prefix.
    None,
}

/// Finds the first `##dddd` at or after `from`.
fn find_header(buffer: &[u8], from: usize) -> HeaderSearch {
    let mut position = from;
    while let Some(offset) = buffer
        .get(position..)
        .and_then(|rest| memchr::memchr(b'#', rest))
    {
        let start = position + offset;
        let candidate = &buffer[start..buffer.len().min(start + HEADER_LEN)];
        let plausible = candidate.get(1).is_none_or(|&byte| byte == b'#')
            && candidate.iter().skip(2).all(u8::is_ascii_digit);
        if plausible {
            return if candidate.len() == HEADER_LEN {
                HeaderSearch::Found(start)
            } else {
                HeaderSearch::Partial(start)
            };
        }
        position = start + 1;
    }
    HeaderSearch::None
}

/// Returns the declared length if `buffer` starts with `##dddd`.
#[inline]
fn parse_header(buffer: &[u8]) -> Option<usize> {
    let header = buffer.get(..HEADER_LEN)?;
    if &header[..2] != b"##" {
        return None;
    }
    header[2..].iter().try_fold(0usize, |length, &byte| {
        byte.is_ascii_digit()
            .then(|| length * 10 + usize::from(byte - b'0'))
    })
}

fn trailer_len(trailer: Trailer) -> usize {
    match trailer {
        Trailer::CrLf => 2,
        Trailer::Lf => 1,
        Trailer::Missing => 0,
    }
}

fn check_crc<B: AsRef<[u8]>>(
    bytes: B,
    segment_len: usize,
    trailer: Trailer,
    variant: CrcVariant,
) -> Result<Frame<B>, FrameError> {
    let frame = bytes.as_ref();
    let digits = &frame[HEADER_LEN + segment_len..HEADER_LEN + segment_len + CRC_LEN];
    let Some(crc) = parse_hex4(digits) else {
        return Err(FrameError::InvalidCrcDigits {
            digits: escape(digits),
        });
    };
    // Checked here rather than through `UnverifiedFrame::verify`, which
    // clones the reference-counted bytes.
    let expected = variant.compute(&frame[HEADER_LEN..HEADER_LEN + segment_len]);
    if expected != crc {
        return Err(crc_mismatch(
            frame,
            segment_len,
            trailer,
            variant,
            expected,
            crc,
        ));
    }
    Ok(Frame {
        bytes,
        segment_len,
        trailer,
        crc,
        variant,
    })
}

/// Returns the error for a frame whose CRC does not verify, with a copy of
/// its bytes.
#[cold]
fn crc_mismatch(
    frame: &[u8],
    segment_len: usize,
    trailer: Trailer,
    variant: CrcVariant,
    expected: u16,
    received: u16,
) -> FrameError {
    FrameError::CrcMismatch {
        variant,
        expected,
        received,
        frame: UnverifiedFrame {
            bytes: Bytes::copy_from_slice(frame),
            segment_len,
            trailer,
            crc: received,
        },
    }
}

/// Returns true if the frame starting at the front of `buffer`, with a
/// segment of `segment_len` bytes, carries a CRC that verifies under `variant`.
fn crc_verifies(buffer: &[u8], segment_len: usize, variant: CrcVariant) -> bool {
    let segment = &buffer[HEADER_LEN..HEADER_LEN + segment_len];
    let digits = &buffer[HEADER_LEN + segment_len..HEADER_LEN + segment_len + CRC_LEN];
    parse_hex4(digits).is_some_and(|received| received == variant.compute(segment))
}

/// Parses four hex digits of either case.
#[inline]
fn parse_hex4(digits: &[u8]) -> Option<u16> {
    let digits: &[u8; CRC_LEN] = digits.try_into().ok()?;
    let mut value = 0u16;
    let mut invalid = 0u8;
    for &byte in digits {
        let digit = HEX_DIGITS[usize::from(byte)];
        invalid |= digit;
        value = value << 4 | u16::from(digit & 0x0F);
    }
    // Invalid bytes map to 0xFF, whose high bits no digit has.
    (invalid & 0xF0 == 0).then_some(value)
}

/// The value of each hex digit byte of either case, and 0xFF for every
/// other byte.
static HEX_DIGITS: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut index = 0;
    while index < 16 {
        table[b"0123456789ABCDEF"[index] as usize] = index as u8;
        table[b"0123456789abcdef"[index] as usize] = index as u8;
        index += 1;
    }
    table
};

fn skip_error(skipped: &[u8]) -> FrameError {
    let preview = escape(&skipped[..skipped.len().min(PREVIEW_LEN)]);
    if skipped.starts_with(b"##") {
        FrameError::BadHeader {
            skipped: skipped.len(),
            preview,
        }
    } else {
        FrameError::Garbage {
            skipped: skipped.len(),
            preview,
        }
    }
}

fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Decodes segment bytes as UTF-8, or as GBK when they are not valid UTF-8.
pub(crate) fn decode_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => encoding_rs::GBK.decode_without_bom_handling(bytes).0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::encode_frame;

    const SEGMENT: &str = "QN=20160801085857223;ST=32;CN=1062;PW=100000;\
MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&";

    fn packet() -> Vec<u8> {
        encode_frame(SEGMENT).expect("short segment").into_bytes()
    }

    fn drain(framer: &mut Framer) -> Vec<Result<Frame, FrameError>> {
        std::iter::from_fn(|| framer.next_frame()).collect()
    }

    fn push_all(framer: &mut Framer, bytes: &[u8]) -> Vec<Result<Frame, FrameError>> {
        let mut results = Vec::new();
        let mut input = bytes;
        while !input.is_empty() {
            let taken = framer.push(input);
            input = &input[taken..];
            results.extend(drain(framer));
        }
        results
    }

    #[test]
    fn packet_split_across_reads() {
        let bytes = packet();
        let mut framer = Framer::new();
        for chunk in bytes.chunks(7) {
            assert_eq!(framer.push(chunk), chunk.len());
            let results = drain(&mut framer);
            if framer.buffered() > 0 {
                assert!(results.is_empty());
            } else {
                assert_eq!(results.len(), 1);
                assert_eq!(
                    results[0].as_ref().expect("verifies").segment(),
                    SEGMENT.as_bytes()
                );
            }
        }
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn several_packets_in_one_read() {
        let mut bytes = packet();
        bytes.extend(packet());
        bytes.extend(packet());
        let results = push_all(&mut Framer::new(), &bytes);
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(Result::is_ok));
    }

    #[test]
    fn garbage_between_packets_resyncs() {
        let mut bytes = b"\x00\xffnoise#".to_vec();
        bytes.extend(packet());
        bytes.extend(b"##xx##12");
        bytes.extend(packet());
        let results = push_all(&mut Framer::new(), &bytes);
        let reasons: Vec<&str> = results
            .iter()
            .map(|r| r.as_ref().map_or_else(FrameError::reason, |_| "ok"))
            .collect();
        assert_eq!(reasons, ["garbage", "ok", "bad_header", "ok"]);
        let Err(FrameError::Garbage { skipped, preview }) = &results[0] else {
            panic!("expected garbage first: {results:?}");
        };
        assert_eq!(*skipped, 8);
        assert_eq!(preview, "\\x00\\xffnoise#");
        let Err(FrameError::BadHeader { skipped, .. }) = &results[2] else {
            panic!("expected a bad header: {results:?}");
        };
        assert_eq!(*skipped, 8);
    }

    #[test]
    fn lf_only_trailer_accepted() {
        let mut bytes = packet();
        bytes.remove(bytes.len() - 2);
        let mut followed = bytes.clone();
        followed.extend(packet());
        let results = push_all(&mut Framer::new(), &followed);
        assert_eq!(results.len(), 2);
        let frame = results[0].as_ref().expect("LF-only frame verifies");
        assert_eq!(frame.trailer(), Trailer::Lf);
        assert_eq!(frame.as_bytes(), &bytes[..]);
        assert_eq!(
            results[1].as_ref().expect("next frame verifies").trailer(),
            Trailer::CrLf
        );
    }

    #[test]
    fn missing_trailer_accepted_before_next_header() {
        let mut bytes = packet();
        bytes.truncate(bytes.len() - 2);
        let bare = bytes.clone();
        bytes.extend(packet());
        let mut framer = Framer::new();
        let results = push_all(&mut framer, &bytes);
        assert_eq!(results.len(), 2);
        let frame = results[0].as_ref().expect("frame without trailer verifies");
        assert_eq!(frame.trailer(), Trailer::Missing);
        assert_eq!(frame.as_bytes(), &bare[..]);
        assert!(results[1].is_ok());
        let alone = decode_frame(&bare, CrcVariant::Hj212).expect("complete input verifies");
        assert_eq!(alone.trailer(), Trailer::Missing);
    }

    #[test]
    fn missing_trailer_with_bad_crc_is_mismatch() {
        let mut bytes = format!("##0101{SEGMENT}1C81").into_bytes();
        bytes.extend(packet());
        let results = push_all(&mut Framer::new(), &bytes);
        assert_eq!(
            results[0]
                .as_ref()
                .expect_err("no trailer, bad CRC")
                .reason(),
            "length_mismatch"
        );
        assert!(results[1].is_ok());
    }

    #[test]
    fn lowercase_crc_accepted() {
        let frame = format!("##0101{SEGMENT}1c80\r\n");
        let decoded = decode_frame(frame.as_bytes(), CrcVariant::Hj212).expect("verifies");
        assert_eq!(decoded.crc(), 0x1C80);
    }

    #[test]
    fn crc_mismatch_names_both_values() {
        let frame = format!("##0101{SEGMENT}1C81\r\n");
        let error = decode_frame(frame.as_bytes(), CrcVariant::Hj212).expect_err("bad CRC");
        assert_eq!(error.reason(), "crc_mismatch");
        let message = error.to_string();
        assert!(message.contains("received 1C81"), "{message}");
        assert!(message.contains("computed 1C80"), "{message}");
    }

    #[test]
    fn invalid_crc_digits_rejected() {
        let frame = format!("##0101{SEGMENT}1CG0\r\n");
        let error = decode_frame(frame.as_bytes(), CrcVariant::Hj212).expect_err("bad digits");
        assert_eq!(error.reason(), "bad_crc_digits");
        assert!(error.to_string().contains("1CG0"), "{error}");
    }

    #[test]
    fn hex_digits_match_std_for_every_byte() {
        for byte in 0..=u8::MAX {
            let digits = [b'1', byte, b'0', byte];
            let expected = byte
                .is_ascii_hexdigit()
                .then(|| u16::from_str_radix(&String::from_utf8_lossy(&digits), 16).ok())
                .flatten();
            assert_eq!(parse_hex4(&digits), expected, "byte {byte:#04x}");
        }
        assert_eq!(parse_hex4(b"1C8"), None);
    }

    #[test]
    fn length_mismatch_reports_actual() {
        let frame = format!("##0099{SEGMENT}1C80\r\n");
        let mut bytes = frame.into_bytes();
        bytes.extend(packet());
        let results = push_all(&mut Framer::new(), &bytes);
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[0],
            Err(FrameError::LengthMismatch {
                declared: 99,
                actual: Some(101),
                skipped: 113
            })
        );
        assert!(results[1].is_ok());
    }

    #[test]
    fn length_counts_bytes_not_characters() {
        let segment = "ST=32;CN=3020;PW=123456;MN=A1;CP=&&i11001-Info=//清洗管路//&&";
        let frame = encode_frame(segment).expect("short segment");
        assert!(frame.starts_with(&format!("##{:04}", segment.len())));
        assert_ne!(segment.len(), segment.chars().count());
        let decoded = decode_frame(frame.as_bytes(), CrcVariant::Hj212).expect("verifies");
        assert_eq!(decoded.text(), segment);
        let packet = decoded.parse().expect("UTF-8 with Chinese text parses");
        assert_eq!(packet.get("i11001-Info"), Some("//清洗管路//"));
    }

    #[test]
    fn gbk_segment_decoded_as_text() {
        let (gbk, _, _) =
            encoding_rs::GBK.encode("ST=32;CN=3020;PW=1;MN=A1;CP=&&i11001-Info=//清洗//&&");
        let mut frame = format!("##{:04}", gbk.len()).into_bytes();
        frame.extend_from_slice(&gbk);
        frame.extend(format!("{:04X}\r\n", crate::crc::hj212(&gbk)).bytes());
        let decoded = decode_frame(&frame, CrcVariant::Hj212).expect("verifies over GBK bytes");
        let error = decoded.parse().expect_err("not UTF-8");
        assert_eq!(error.reason(), "not_utf8");
        // The first GBK byte follows the ASCII text up to `//`.
        let valid_up_to = "ST=32;CN=3020;PW=1;MN=A1;CP=&&i11001-Info=//".len();
        assert_eq!(error, ParseError::NotUtf8 { valid_up_to });
        let text = decoded.text();
        let packet = Packet::parse(&text).expect("GBK text parses");
        assert_eq!(packet.get("i11001-Info"), Some("//清洗//"));
    }

    #[test]
    fn too_long_rejected_without_buffering() {
        let config = FramerConfig {
            max_segment_len: 200,
            ..FramerConfig::default()
        };
        let mut framer = Framer::with_config(config);
        let mut bytes = b"##9000".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 9000));
        bytes.extend(packet());
        let results = push_all(&mut framer, &bytes);
        assert_eq!(
            results[0],
            Err(FrameError::TooLong {
                declared: 9000,
                max: 200
            })
        );
        assert!(
            results[1..results.len() - 1]
                .iter()
                .all(|r| r.as_ref().is_err_and(|e| e.reason() == "garbage"))
        );
        assert!(results.last().expect("a frame").is_ok());
        assert_eq!(framer.max_buffered(), 212);
    }

    #[test]
    fn buffer_bounded_under_flood() {
        let mut framer = Framer::new();
        let flood = vec![b'#'; 100_000];
        let mut input = &flood[..];
        while !input.is_empty() {
            let taken = framer.push(input);
            assert!(taken > 0, "a drained framer always takes bytes");
            input = &input[taken..];
            assert!(framer.buffered() <= framer.max_buffered());
            drain(&mut framer);
        }
        assert!(framer.buffered() <= framer.max_buffered());
    }

    #[test]
    fn push_stops_at_capacity() {
        let mut framer = Framer::with_config(FramerConfig {
            max_segment_len: 10,
            ..Default::default()
        });
        assert_eq!(framer.push(&[b'a'; 100]), 22);
        assert_eq!(framer.buffered(), 22);
    }

    #[test]
    fn crc_variant_switches_per_connection() {
        let segment = SEGMENT.as_bytes();
        let crc = CrcVariant::ModbusLowByteFirst.compute(segment);
        let frame = format!("##0101{SEGMENT}{crc:04X}\r\n");
        let mut framer = Framer::new();
        let first = push_all(&mut framer, frame.as_bytes());
        assert_eq!(
            first[0].as_ref().expect_err("HJ 212 CRC fails").reason(),
            "crc_mismatch"
        );
        framer.set_crc_variant(CrcVariant::ModbusLowByteFirst);
        let second = push_all(&mut framer, frame.as_bytes());
        let verified = second[0].as_ref().expect("Modbus CRC verifies");
        assert_eq!(verified.crc_variant(), CrcVariant::ModbusLowByteFirst);
    }

    #[test]
    fn partial_header_waits_for_more() {
        let mut framer = Framer::new();
        assert_eq!(framer.push(b"##01"), 4);
        assert!(framer.next_frame().is_none());
        let rest = &packet()[4..];
        let results = push_all(&mut framer, rest);
        assert_eq!(results.len(), 1);
        assert!(results[0].is_ok());
    }
}
