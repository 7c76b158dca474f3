//! Ledger entries as the store keeps them, and their canonical encoding.
//!
//! Every state change a store records (alert transitions, silences, rule
//! changes, point configuration, quarantine decisions, tasks) is appended to
//! the ledger in the same transaction as the change. The leaf of the Merkle
//! tree is the canonical encoding of the entry ([`LedgerEntry::leaf_data`]):
//! one line of JSON with sorted keys and no spaces. Its position in the tree
//! is its index, so the index itself is not part of the leaf data.

use std::borrow::Cow;
use std::fmt::Write as _;

use jiff::Timestamp;
use oversight_ledger::{Hash, Hasher};
use serde_json::{Map, Number, Value};

use crate::{StoreError, StoreResult};

mod payload;

pub use payload::{CanonicalJson, LedgerPayload, PayloadObject};

/// A state change to append to the ledger.
///
/// The kind and actor are often fixed text, such as `alert.acknowledged` or
/// `engine`, so they are held as [`Cow`] and a `&'static str` costs no
/// allocation to build or to drop.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLedgerEntry {
    /// The kind of change, as `domain.action`, such as `alert.acknowledged` or `rule.enabled`.
    pub kind: Cow<'static, str>,
    /// The record that changed, as `type:id`, such as `alert:17` or `point:MN0001`.
    pub subject: String,
    /// The cause of the change, as [`oversight_core::Actor`] writes it, such
    /// as `engine`, `user:NAME` or `system`.
    pub actor: Cow<'static, str>,
    /// The change itself. It must not contain secrets: the ledger is exported.
    pub payload: LedgerPayload,
}

impl NewLedgerEntry {
    /// Builds an entry from its parts.
    pub fn new(
        kind: impl Into<Cow<'static, str>>,
        subject: impl Into<String>,
        actor: impl Into<Cow<'static, str>>,
        payload: impl Into<LedgerPayload>,
    ) -> Self {
        Self {
            kind: kind.into(),
            subject: subject.into(),
            actor: actor.into(),
            payload: payload.into(),
        }
    }

    /// Appends the entry's leaf data to `out`, as [`write_leaf_data`] does.
    pub fn write_leaf_data(&self, out: &mut Vec<u8>, time: &LeafTime) {
        write_fields(
            out,
            [&self.kind, &self.subject, &self.actor],
            write_string,
            |out| self.payload.write_to(out),
            |out| out.extend_from_slice(time.json.as_bytes()),
        );
    }

    /// Checks the identifiers as [`Self::check_identifiers`] does, then
    /// appends the leaf data to `out` as [`Self::write_leaf_data`] does. On
    /// an error `out` is unchanged.
    ///
    /// Identifiers of printable ASCII without `"` and `\\` pass the check and
    /// need no escaping, so one scan of each serves both steps.
    pub fn write_checked_leaf_data(&self, out: &mut Vec<u8>, time: &LeafTime) -> StoreResult<()> {
        let identifiers = [&*self.kind, &self.subject, &*self.actor];
        if !identifiers
            .iter()
            .all(|identifier| is_plain_ascii(identifier.as_bytes()))
        {
            self.check_identifiers()?;
            self.write_leaf_data(out, time);
            return Ok(());
        }
        write_fields(
            out,
            identifiers,
            write_quoted,
            |out| self.payload.write_to(out),
            |out| out.extend_from_slice(time.json.as_bytes()),
        );
        Ok(())
    }
}

/// The time of ledger entries in the form of their leaf data: RFC 3339 in UTC
/// with at most six fractional digits, as a JSON string. A store appending
/// a batch builds it once for all the batch's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafTime {
    /// The time as a JSON string, quotes included. RFC 3339 text contains
    /// nothing that JSON escapes.
    json: String,
}

impl LeafTime {
    /// Truncates `time` to the microsecond, the precision the ledger keeps.
    pub fn new(time: Timestamp) -> Self {
        let time = Timestamp::from_microsecond(time.as_microsecond()).unwrap_or(time);
        Self {
            json: format!("\"{time}\""),
        }
    }
}

impl NewLedgerEntry {
    /// Checks that the kind, subject and actor show every character they
    /// contain. Control characters, whitespace other than the space U+0020
    /// and invisible characters are rejected with
    /// [`StoreError::InvalidArgument`], because they let two identifiers
    /// that read the same differ, or make one display in another order than
    /// it is stored. The payload is not checked: JSON viewers show it
    /// escaped, and it may quote user text as it was entered.
    pub fn check_identifiers(&self) -> StoreResult<()> {
        check_identifier("kind", &self.kind)?;
        check_identifier("subject", &self.subject)?;
        check_identifier("actor", &self.actor)
    }
}

fn check_identifier(field: &str, value: &str) -> StoreResult<()> {
    // Printable ASCII, nearly every identifier, needs no decoding.
    if is_printable_ascii(value.as_bytes()) {
        return Ok(());
    }
    let Some((position, character)) = value
        .chars()
        .enumerate()
        .find(|(_, character)| hidden_character(*character).is_some())
    else {
        return Ok(());
    };
    let kind = hidden_character(character).unwrap_or("an invisible character");
    Err(StoreError::InvalidArgument(format!(
        "invalid ledger entry {field} {value:?}: character {} is U+{:04X}, {kind}; \
         remove it, because ledger identifiers must show every character they contain",
        position + 1,
        u32::from(character),
    )))
}

/// Returns what kind of character `character` is when a ledger identifier
/// must not contain it.
fn hidden_character(character: char) -> Option<&'static str> {
    if character.is_control() {
        Some("a control character")
    } else if is_bidi_control(character) {
        Some("a bidirectional control character")
    } else if character.is_whitespace() && character != ' ' {
        Some("a whitespace character other than the space U+0020")
    } else if is_default_ignorable(character) {
        Some("an invisible character")
    } else {
        None
    }
}

/// Returns true for the characters that change the display order of text:
/// the Arabic letter mark, the left-to-right and right-to-left marks, and
/// the embedding, override and isolate characters.
fn is_bidi_control(character: char) -> bool {
    matches!(
        character,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Returns true for the code points with the Unicode property
/// Default_Ignorable_Code_Point (DerivedCoreProperties.txt, unchanged since
/// Unicode 14.0), which a renderer shows as nothing when it has no glyph for
/// them.
fn is_default_ignorable(character: char) -> bool {
    matches!(
        character,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Replaces each character that [`NewLedgerEntry::check_identifiers`]
/// rejects with its escape `\u{XXXX}`, for identifiers built from untrusted
/// input such as the login name of a failed login.
pub fn escape_hidden_characters(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|character| hidden_character(character).is_some())
    {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if hidden_character(character).is_some() {
            // Writing to a String cannot fail.
            let _ = write!(escaped, "\\u{{{:04X}}}", u32::from(character));
        } else {
            escaped.push(character);
        }
    }
    Cow::Owned(escaped)
}

/// A stored ledger entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// Position in the log, from 0.
    pub index: u64,
    /// When the store appended the entry, in microsecond precision.
    pub time: Timestamp,
    /// The kind of change, as `domain.action`.
    pub kind: String,
    /// The record that changed, as `type:id`.
    pub subject: String,
    /// The cause of the change, as [`oversight_core::Actor`] writes it;
    /// entries written before actors were typed may carry `unattributed`.
    pub actor: String,
    /// The change itself.
    pub payload: Value,
    /// The RFC 9162 leaf hash of [`LedgerEntry::leaf_data`], as stored.
    pub leaf_hash: Hash,
}

impl LedgerEntry {
    /// Returns the canonical encoding that the leaf hash covers.
    pub fn leaf_data(&self) -> Vec<u8> {
        leaf_data(
            self.time,
            &self.kind,
            &self.subject,
            &self.actor,
            &self.payload,
        )
    }

    /// Recomputes the leaf hash from the entry's fields.
    pub fn computed_leaf_hash(&self, hasher: Hasher) -> Hash {
        hasher.hash_leaf(&self.leaf_data())
    }
}

/// Encodes an entry's fields as the leaf data of the Merkle tree.
///
/// The encoding is a JSON object with the keys `actor`, `kind`, `payload`,
/// `subject` and `time` in that sorted order. Nested objects have sorted
/// keys too, and there is no whitespace and no trailing newline. `time` is
/// RFC 3339 in UTC.
pub fn leaf_data(
    time: Timestamp,
    kind: &str,
    subject: &str,
    actor: &str,
    payload: &Value,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(192);
    write_leaf_data(&mut out, &time.to_string(), kind, subject, actor, payload);
    out
}

/// Appends the encoding of [`leaf_data`] to `out`, with `time` already
/// formatted as RFC 3339 in UTC (the `Display` form of [`Timestamp`]).
pub fn write_leaf_data(
    out: &mut Vec<u8>,
    time: &str,
    kind: &str,
    subject: &str,
    actor: &str,
    payload: &Value,
) {
    write_fields(
        out,
        [kind, subject, actor],
        write_string,
        |out| write_canonical(out, payload),
        |out| write_string(out, time),
    );
}

/// Writes the leaf data object. `write_identifier` writes the kind, subject
/// and actor, given in that order, as JSON strings, and `write_time` the
/// time as a JSON string.
fn write_fields(
    out: &mut Vec<u8>,
    [kind, subject, actor]: [&str; 3],
    write_identifier: fn(&mut Vec<u8>, &str),
    write_payload: impl FnOnce(&mut Vec<u8>),
    write_time: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(b"{\"actor\":");
    write_identifier(out, actor);
    out.extend_from_slice(b",\"kind\":");
    write_identifier(out, kind);
    out.extend_from_slice(b",\"payload\":");
    write_payload(out);
    out.extend_from_slice(b",\"subject\":");
    write_identifier(out, subject);
    out.extend_from_slice(b",\"time\":");
    write_time(out);
    out.push(b'}');
}

/// Encodes a JSON value as text with every object's keys sorted by their
/// UTF-8 bytes and no whitespace. The stored payload text is this encoding,
/// so decoding and encoding it again yields the same bytes.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(64);
    write_canonical(&mut out, value);
    String::from_utf8(out).expect("JSON text written from strings is UTF-8")
}

/// Writes `value` with sorted object keys. Keys are sorted here rather than
/// by `serde_json::Map`, whose order depends on the `preserve_order` feature
/// that any crate in a build may enable.
fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => write_object(out, map),
        Value::Array(items) => {
            out.push(b'[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        Value::String(text) => write_string(out, text),
        Value::Number(number) => write_number(out, number),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Null => out.extend_from_slice(b"null"),
    }
}

/// Writes an object in one pass over a map that iterates in sorted order,
/// as the default `BTreeMap` does. At the first key out of order it drops
/// what it wrote and writes the object again from its sorted fields.
fn write_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    let start = out.len();
    out.push(b'{');
    let mut previous: Option<&str> = None;
    for (key, field) in map {
        if let Some(previous) = previous {
            // Keys of one map are distinct, so sorted means strictly increasing.
            if previous >= key.as_str() {
                out.truncate(start);
                write_sorted_object(out, map);
                return;
            }
            out.push(b',');
        }
        write_field(out, key, field);
        previous = Some(key);
    }
    out.push(b'}');
}

fn write_sorted_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    let mut fields: Vec<(&String, &Value)> = map.iter().collect();
    fields.sort_unstable_by(|left, right| left.0.cmp(right.0));
    out.push(b'{');
    for (position, (key, field)) in fields.into_iter().enumerate() {
        if position > 0 {
            out.push(b',');
        }
        write_field(out, key, field);
    }
    out.push(b'}');
}

fn write_field(out: &mut Vec<u8>, key: &str, field: &Value) {
    write_string(out, key);
    out.push(b':');
    write_canonical(out, field);
}

/// Writes a number exactly as `serde_json` does. Integers are formatted
/// with `itoa`, as `serde_json` formats them, without going through its
/// serializer. Floats are left to `serde_json`.
fn write_number(out: &mut Vec<u8>, number: &Number) {
    if let Some(value) = number.as_u64() {
        write_number_u64(out, value);
    } else if let Some(value) = number.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    } else {
        serde_json::to_writer(&mut *out, number).expect("writing JSON to a Vec cannot fail");
    }
}

fn write_number_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Writes `text` as a JSON string, exactly as `serde_json` does.
///
/// `serde_json` escapes only `"`, `\\` and the control characters below
/// U+0020, so text without them is copied between quotes as it is, and
/// any other text is left to `serde_json`.
fn write_string(out: &mut Vec<u8>, text: &str) {
    if needs_escape(text.as_bytes()) {
        serde_json::to_writer(&mut *out, text).expect("writing JSON to a Vec cannot fail");
        return;
    }
    write_quoted(out, text);
}

/// Writes `text` between quotes as it is, which is its JSON string only when
/// [`needs_escape`] is false for it.
fn write_quoted(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Returns true when `bytes` contains `"`, `\\` or a byte below 0x20.
fn needs_escape(bytes: &[u8]) -> bool {
    any_word(bytes, |word| {
        (bytes_below(word, 0x20) | quotes_or_backslashes(word)) & HIGH_BITS != 0
    })
}

/// Returns true when every byte of `bytes` is printable ASCII, from the
/// space 0x20 to `~` 0x7E.
fn is_printable_ascii(bytes: &[u8]) -> bool {
    !any_word(bytes, |word| unprintable(word) & HIGH_BITS != 0)
}

/// Returns true when every byte of `bytes` is printable ASCII other than
/// `"` and `\\`: text that [`check_identifier`] accepts and that
/// [`write_quoted`] writes as its JSON string.
fn is_plain_ascii(bytes: &[u8]) -> bool {
    !any_word(bytes, |word| {
        (unprintable(word) | quotes_or_backslashes(word)) & HIGH_BITS != 0
    })
}

/// Flags the bytes of `word` outside printable ASCII, as [`bytes_below`] does.
fn unprintable(word: u64) -> u64 {
    // Adding 1 carries into the next byte only from a byte with its high
    // bit set, which `word` flags already, so the sum flags 0x7F exactly.
    bytes_below(word, 0x20) | word | word.wrapping_add(ONES)
}

/// Flags the bytes of `word` that are `"` or `\\`, as [`bytes_below`] does.
fn quotes_or_backslashes(word: u64) -> u64 {
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    bytes_below(quote, 1) | bytes_below(backslash, 1)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Returns true when `test` is true for any of the 8-byte little-endian
/// words that cover `bytes`. The words may overlap, and spaces pad a text
/// shorter than 8 bytes, so `test` must be false for a word of spaces. No
/// byte is copied, which matters for the short texts that are most
/// identifiers and keys.
fn any_word(bytes: &[u8], test: impl Fn(u64) -> bool) -> bool {
    if bytes.len() < 8 {
        return test(short_word(bytes));
    }
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if test(word_at(chunk, 0)) {
            return true;
        }
    }
    // The last 8 bytes cover the remainder and some bytes tested already.
    !chunks.remainder().is_empty() && test(word_at(bytes, bytes.len() - 8))
}

fn word_at(bytes: &[u8], start: usize) -> u64 {
    u64::from_le_bytes(
        bytes[start..start + 8]
            .try_into()
            .expect("the range has 8 bytes"),
    )
}

/// Packs fewer than 8 bytes into a word, with two reads that may overlap
/// and spaces in the bytes left over.
fn short_word(bytes: &[u8]) -> u64 {
    const SPACES: u64 = ONES * 0x20;
    let length = bytes.len();
    if length >= 4 {
        let first = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        let last = u32::from_le_bytes(bytes[length - 4..].try_into().expect("4 bytes"));
        u64::from(first) | (u64::from(last) << 32)
    } else if length >= 2 {
        let first = u16::from_le_bytes(bytes[..2].try_into().expect("2 bytes"));
        let last = u16::from_le_bytes(bytes[length - 2..].try_into().expect("2 bytes"));
        u64::from(first) | (u64::from(last) << 16) | (SPACES << 32)
    } else if length == 1 {
        u64::from(bytes[0]) | (SPACES << 8)
    } else {
        SPACES
    }
}

/// Returns a word with a high bit under [`HIGH_BITS`] set when, and only
/// when, a byte of `word` is below `limit` (at most 0x80). Subtracting
/// `limit` sets the high bit of each byte below it, and `!word` clears the
/// bytes whose own high bit was set. A borrow may also set bits above the
/// lowest such byte, which does not change whether any is set.
fn bytes_below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(limit)) & !word
}

/// The size and root of the ledger after the latest committed append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerHead {
    /// Number of entries.
    pub size: u64,
    /// Root hash of the tree of all entries (the hash of the empty string when empty).
    pub root: Hash,
    /// The hash function of the tree.
    pub hasher: Hasher,
}

/// A signed checkpoint of the ledger, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size the checkpoint commits to.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// When it was signed.
    pub time: Timestamp,
    /// The C2SP signed note: the checkpoint body, a blank line, the log's
    /// signature line, and any witness cosignature lines added since.
    pub note: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_json_sorts_nested_keys() {
        let value = json!({"b": 1, "a": {"z": [true, null, {"y": 2.5, "x": "é\n"}], "c": -3}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":-3,"z":[true,null,{"x":"é\n","y":2.5}]},"b":1}"#
        );
    }

    #[test]
    fn canonical_json_round_trips() {
        let text = canonical_json(&json!({"value": 1.0, "big": u64::MAX, "s": "\u{1}"}));
        let parsed: Value = serde_json::from_str(&text).expect("canonical JSON parses");
        assert_eq!(canonical_json(&parsed), text);
    }

    #[test]
    fn write_string_matches_serde_json() {
        let cases = [
            "",
            "plain ascii",
            "中文 and émoji 🚀",
            "quote \" and backslash \\",
            "line\nbreak\ttab\r",
            "\u{0}\u{1}\u{1f} controls",
            "delete \u{7f} and slash /",
            "bidi \u{202e} and line separator \u{2028}",
        ];
        for text in cases {
            let mut out = Vec::new();
            write_string(&mut out, text);
            let expected = serde_json::to_string(text).expect("encode string");
            assert_eq!(String::from_utf8(out).expect("UTF-8"), expected, "{text:?}");
        }
    }

    /// Asserts that `check` returns `expected` for runs of 1 to 19 `a` bytes
    /// with `byte` at each position, so every lane of the word scan sees it.
    fn check_each_position(byte: u8, expected: bool, check: fn(&[u8]) -> bool) {
        for length in 1..20 {
            for position in 0..length {
                let mut bytes = vec![b'a'; length];
                bytes[position] = byte;
                assert_eq!(
                    check(&bytes),
                    expected,
                    "byte {byte:#04x} at {position} of {length}"
                );
            }
        }
    }

    #[test]
    fn needs_escape_finds_every_escaped_byte() {
        for byte in 0u8..0x80 {
            let expected = byte < 0x20 || byte == b'"' || byte == b'\\';
            check_each_position(byte, expected, needs_escape);
        }
        for text in [
            "",
            "中文 and émoji 🚀 over eight bytes",
            "\u{ff}\u{80}\u{10ffff}",
        ] {
            assert!(!needs_escape(text.as_bytes()), "{text:?}");
        }
    }

    #[test]
    fn printable_ascii_rejects_every_other_byte() {
        for byte in 0u8..=0xFF {
            let expected = (b' '..=b'~').contains(&byte);
            check_each_position(byte, expected, is_printable_ascii);
        }
        assert!(is_printable_ascii(b""));
        assert!(!is_printable_ascii("point:中文".as_bytes()));
    }

    #[test]
    fn numbers_match_serde_json() {
        let cases = [
            json!(0),
            json!(-0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!(1.0),
            json!(-2.5),
            json!(1e300),
            json!(f64::MIN_POSITIVE),
        ];
        for value in cases {
            let mut out = Vec::new();
            write_canonical(&mut out, &value);
            let expected = serde_json::to_string(&value).expect("encode number");
            assert_eq!(
                String::from_utf8(out).expect("UTF-8"),
                expected,
                "{value:?}"
            );
        }
    }

    #[test]
    fn unsorted_object_is_rewritten_sorted() {
        // NOTE: without serde_json's `preserve_order` feature, which no crate
        // of this workspace enables, the map sorts its keys itself, so this
        // input reaches the rewrite only in a build with that feature.
        let mut map = Map::new();
        map.insert("b".to_owned(), json!(1));
        map.insert("a".to_owned(), json!({"d": 2, "c": 3}));
        let mut out = b"[".to_vec();
        write_canonical(&mut out, &Value::Object(map));
        assert_eq!(out, br#"[{"a":{"c":3,"d":2},"b":1}"#);
    }

    #[test]
    fn write_leaf_data_appends_to_buffer() {
        let time: Timestamp = "2026-12-04T08:00:00.000001Z".parse().expect("valid time");
        let payload = json!({"z": [1, {"b": null, "a": "x\"y"}], "a": -2.5});
        let mut out = b"previous\n".to_vec();
        write_leaf_data(
            &mut out,
            &time.to_string(),
            "task.close",
            "task:T1",
            "cli:ops",
            &payload,
        );
        let expected = leaf_data(time, "task.close", "task:T1", "cli:ops", &payload);
        assert_eq!(&out[..9], b"previous\n");
        assert_eq!(&out[9..], expected.as_slice());
    }

    #[test]
    fn checked_leaf_data_matches_unchecked() {
        let time = LeafTime::new("2026-12-04T08:00:00.000001Z".parse().expect("valid time"));
        let cases = [
            ("alert.acknowledged", "alert:17", "user:inspector-li"),
            ("a", "", "engine"),
            ("rule.enabled", "rule:\"quoted\"", "user:back\\slash"),
            ("point.updated", "point:监测点", "user:李"),
            ("task.close", "task:T1", "cli:ops with spaces"),
        ];
        for (kind, subject, actor) in cases {
            let entry = entry(kind, subject, actor);
            let mut checked = b"previous\n".to_vec();
            let mut unchecked = checked.clone();
            entry
                .write_checked_leaf_data(&mut checked, &time)
                .expect("valid identifiers");
            entry.write_leaf_data(&mut unchecked, &time);
            assert_eq!(checked, unchecked, "{entry:?}");
            let mut reference = b"previous\n".to_vec();
            write_leaf_data(
                &mut reference,
                "2026-12-04T08:00:00.000001Z",
                kind,
                subject,
                actor,
                &entry.payload.to_value(),
            );
            assert_eq!(checked, reference, "{entry:?}");
        }
    }

    #[test]
    fn checked_leaf_data_rejects_hidden_character() {
        let entry = entry("alert.acknowledged", "alert:1\u{200B}", "engine");
        let mut out = b"previous\n".to_vec();
        let error = entry
            .write_checked_leaf_data(&mut out, &LeafTime::new(Timestamp::UNIX_EPOCH))
            .expect_err("invisible character");
        assert_eq!(
            error.to_string(),
            entry.check_identifiers().unwrap_err().to_string()
        );
        assert!(error.to_string().contains("subject"), "{error}");
        assert_eq!(out, b"previous\n");
    }

    fn entry(kind: &str, subject: &str, actor: &str) -> NewLedgerEntry {
        NewLedgerEntry::new(
            kind.to_owned(),
            subject,
            actor.to_owned(),
            json!({"reason": "text\u{202E}kept"}),
        )
    }

    #[test]
    fn identifiers_accept_visible_text() {
        for (kind, subject, actor) in [
            ("rule.enabled", "rule:pm25", "user:li"),
            (
                "auth.department_changed",
                "department:厦门市 生态环境局",
                "cli:ops",
            ),
            ("point.upserted", "point:MN0001", "user:王芳"),
        ] {
            let result = entry(kind, subject, actor).check_identifiers();
            assert!(result.is_ok(), "{subject}: {result:?}");
        }
    }

    #[test]
    fn identifiers_reject_hidden_characters() {
        let cases = [
            ('\u{202E}', "a bidirectional control character"),
            ('\u{2067}', "a bidirectional control character"),
            ('\u{200F}', "a bidirectional control character"),
            ('\u{061C}', "a bidirectional control character"),
            ('\u{200B}', "an invisible character"),
            ('\u{FEFF}', "an invisible character"),
            ('\u{00AD}', "an invisible character"),
            ('\u{3164}', "an invisible character"),
            ('\u{E0041}', "an invisible character"),
            ('\u{FE0F}', "an invisible character"),
            ('\n', "a control character"),
            ('\u{7F}', "a control character"),
            ('\u{85}', "a control character"),
            (
                '\u{A0}',
                "a whitespace character other than the space U+0020",
            ),
            (
                '\u{2028}',
                "a whitespace character other than the space U+0020",
            ),
            (
                '\u{3000}',
                "a whitespace character other than the space U+0020",
            ),
        ];
        for (character, kind) in cases {
            let subject = format!("task:1{character}2");
            let error = entry("task.create", &subject, "user:li")
                .check_identifiers()
                .expect_err("hidden character");
            let StoreError::InvalidArgument(message) = &error else {
                panic!("expected InvalidArgument, got {error:?}");
            };
            let code = format!("U+{:04X}", u32::from(character));
            assert!(
                message.starts_with("invalid ledger entry subject \"task:1"),
                "{message}"
            );
            assert!(
                message.contains(&format!("character 7 is {code}, {kind};")),
                "{message}"
            );
            assert!(message.contains("remove it"), "{message}");
        }
    }

    #[test]
    fn identifiers_name_the_field() {
        let kind = entry("task.\u{200B}create", "task:1", "user:li").check_identifiers();
        assert!(
            kind.expect_err("kind")
                .to_string()
                .contains("ledger entry kind \"task.\\u{200b}create\""),
        );
        let actor = entry("task.create", "task:1", "user:l\u{202E}i").check_identifiers();
        assert!(
            actor
                .expect_err("actor")
                .to_string()
                .contains("ledger entry actor \"user:l\\u{202e}i\""),
        );
    }

    #[test]
    fn escape_hidden_characters_escapes_only_them() {
        assert!(matches!(
            escape_hidden_characters("li.wang@example"),
            Cow::Borrowed("li.wang@example")
        ));
        assert_eq!(
            escape_hidden_characters("ad\u{202E}min 王\u{200B}"),
            "ad\\u{202E}min 王\\u{200B}"
        );
        let escaped = escape_hidden_characters("a\u{202E}\nb");
        let checked = entry(
            "auth.login_failed",
            &format!("user:{escaped}"),
            "unauthenticated",
        )
        .check_identifiers();
        assert!(checked.is_ok(), "{checked:?}");
    }

    #[test]
    fn leaf_data_has_fixed_layout() {
        let time: Timestamp = "2026-12-04T08:00:00.25Z".parse().expect("valid time");
        let data = leaf_data(
            time,
            "rule.enabled",
            "rule:pm25",
            "user:li",
            &json!({"b": 2, "a": 1}),
        );
        assert_eq!(
            String::from_utf8(data).expect("UTF-8"),
            r#"{"actor":"user:li","kind":"rule.enabled","payload":{"a":1,"b":2},"subject":"rule:pm25","time":"2026-12-04T08:00:00.25Z"}"#
        );
    }
}
