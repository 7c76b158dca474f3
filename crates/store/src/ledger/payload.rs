//! The payload of a new ledger entry, as a JSON value or as its canonical
//! encoding built without one.

use serde_json::Value;

use super::{canonical_json, write_canonical, write_number_u64, write_string};

/// The payload of a [`super::NewLedgerEntry`].
///
/// A [`Value`] is encoded when the entry is appended. A payload built with
/// [`PayloadObject`] is its canonical encoding already, in one allocation,
/// so appending it copies the bytes and dropping it frees one buffer. Both
/// forms of the same JSON give the same leaf data and hash, but `==`
/// compares the forms as they are, so a value never equals a canonical text.
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerPayload {
    /// A JSON value, encoded when the entry is appended.
    Value(Value),
    /// The canonical encoding of a JSON value (see [`canonical_json`]).
    Canonical(CanonicalJson),
}

/// The canonical encoding of a JSON value. Only [`PayloadObject::finish`]
/// and [`LedgerPayload::to_canonical`] build one, so the text is always
/// canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalJson(String);

impl CanonicalJson {
    /// Returns the encoded text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl LedgerPayload {
    /// Returns the payload as a JSON value, decoding the canonical form.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Value(value) => value.clone(),
            Self::Canonical(text) => {
                serde_json::from_str(text.as_str()).expect("canonical payload text is JSON")
            }
        }
    }

    /// Returns the payload in its canonical form, encoding a value.
    pub fn to_canonical(&self) -> CanonicalJson {
        match self {
            Self::Value(value) => CanonicalJson(canonical_json(value)),
            Self::Canonical(text) => text.clone(),
        }
    }

    /// Appends the canonical encoding to `out`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Self::Value(value) => write_canonical(out, value),
            Self::Canonical(text) => out.extend_from_slice(text.as_str().as_bytes()),
        }
    }
}

impl From<Value> for LedgerPayload {
    fn from(value: Value) -> Self {
        Self::Value(value)
    }
}

impl From<PayloadObject> for LedgerPayload {
    fn from(object: PayloadObject) -> Self {
        Self::Canonical(object.finish())
    }
}

/// Builds a payload object as its canonical encoding, with no
/// [`Value`] in between.
///
/// The fields must be added in the sorted order of their keys (by UTF-8
/// bytes), which the canonical encoding requires. A key out of order is a
/// programming error and panics, naming both keys.
///
/// ```
/// use oversight_store::{LedgerPayload, PayloadObject, canonical_json};
/// use serde_json::json;
///
/// let payload = PayloadObject::new()
///     .unsigned("count", 3)
///     .string("reason", "on site")
///     .finish();
/// assert_eq!(payload.as_str(), canonical_json(&json!({"reason": "on site", "count": 3})));
/// ```
#[derive(Debug)]
pub struct PayloadObject {
    text: Vec<u8>,
    previous_key: Option<&'static str>,
}

impl Default for PayloadObject {
    fn default() -> Self {
        Self::new()
    }
}

impl PayloadObject {
    /// Starts an empty object.
    pub fn new() -> Self {
        let mut text = Vec::with_capacity(128);
        text.push(b'{');
        Self {
            text,
            previous_key: None,
        }
    }

    /// Adds a string field.
    #[must_use]
    pub fn string(mut self, key: &'static str, value: &str) -> Self {
        self.key(key);
        write_string(&mut self.text, value);
        self
    }

    /// Adds an unsigned integer field.
    #[must_use]
    pub fn unsigned(mut self, key: &'static str, value: u64) -> Self {
        self.key(key);
        write_number_u64(&mut self.text, value);
        self
    }

    /// Adds a field of any JSON value, encoded canonically.
    #[must_use]
    pub fn value(mut self, key: &'static str, value: &Value) -> Self {
        self.key(key);
        write_canonical(&mut self.text, value);
        self
    }

    /// Closes the object and returns its canonical encoding.
    pub fn finish(mut self) -> CanonicalJson {
        self.text.push(b'}');
        CanonicalJson(
            String::from_utf8(self.text).expect("JSON text written from strings is UTF-8"),
        )
    }

    fn key(&mut self, key: &'static str) {
        if let Some(previous) = self.previous_key {
            assert!(
                previous < key,
                "ledger payload key {key:?} is added after {previous:?}: add the keys in \
                 sorted order, each once"
            );
            self.text.push(b',');
        }
        write_string(&mut self.text, key);
        self.text.push(b':');
        self.previous_key = Some(key);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn object_matches_canonical_json() {
        let built = PayloadObject::new()
            .value("alert", &json!({"z": 1, "a": [true, null]}))
            .unsigned("count", u64::MAX)
            .string("reason", "on \"site\"\n")
            .string("transition", "acknowledged")
            .finish();
        let expected = canonical_json(&json!({
            "transition": "acknowledged",
            "reason": "on \"site\"\n",
            "count": u64::MAX,
            "alert": {"z": 1, "a": [true, null]},
        }));
        assert_eq!(built.as_str(), expected);
    }

    #[test]
    fn empty_object_is_braces() {
        assert_eq!(PayloadObject::new().finish().as_str(), "{}");
    }

    #[test]
    #[should_panic(expected = "ledger payload key \"a\" is added after \"b\"")]
    fn object_rejects_unsorted_keys() {
        let _ = PayloadObject::new().unsigned("b", 1).unsigned("a", 2);
    }

    #[test]
    #[should_panic(expected = "ledger payload key \"a\" is added after \"a\"")]
    fn object_rejects_repeated_key() {
        let _ = PayloadObject::new().unsigned("a", 1).unsigned("a", 2);
    }

    #[test]
    fn both_forms_convert() {
        let value = json!({"b": [1, 2], "a": "文本"});
        let payload = LedgerPayload::from(value.clone());
        let canonical = LedgerPayload::Canonical(payload.to_canonical());
        assert_eq!(canonical.to_value(), value);
        assert_eq!(payload.to_value(), value);
        let mut from_value = Vec::new();
        payload.write_to(&mut from_value);
        let mut from_text = Vec::new();
        canonical.write_to(&mut from_text);
        assert_eq!(from_value, from_text);
    }
}
