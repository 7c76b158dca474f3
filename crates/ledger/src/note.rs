//! Signed notes (C2SP signed-note): a text followed by a blank line and signature lines
//! `— <key name> base64(key ID || signature)`.
//!
//! Parsing enforces the format: valid UTF-8 without control characters other than
//! newline, a text ending in a newline, at least one signature line, and at most
//! [`MAX_SIGNATURES`] signatures. Verification follows the spec's rules: signatures from
//! unknown keys are ignored, and one failing signature from a known key rejects the note.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::keys::{SignerKey, VerifierKey};

/// Maximum number of signature lines accepted in one note. C2SP signed-note requires at
/// least 16, and a log with a few witnesses needs far fewer.
pub const MAX_SIGNATURES: usize = 100;

/// Maximum size of a note in bytes, to bound parsing work on hostile input.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// Start of every signature line: an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Errors from parsing or verifying a signed note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_LEN`].
    #[error("invalid signed note: {len} bytes exceeds the maximum of {max}")]
    TooLong {
        /// Size of the rejected note.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The note contains a control character other than newline.
    #[error("invalid signed note: control character U+{code:04X} at byte {offset}")]
    ControlCharacter {
        /// Code point of the character.
        code: u32,
        /// Byte offset of the character.
        offset: usize,
    },
    /// No blank line separates the text from signature lines.
    #[error("invalid signed note: no blank line before the signature lines")]
    MissingSeparator,
    /// The note has no signature lines.
    #[error("invalid signed note: no signature lines after the blank line")]
    NoSignatures,
    /// The note has more signature lines than [`MAX_SIGNATURES`].
    #[error("invalid signed note: {count} signatures exceeds the maximum of {max}")]
    TooManySignatures {
        /// Signature lines found.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// A signature line is malformed.
    #[error("invalid signature line {line:?}: {reason}")]
    MalformedSignature {
        /// The rejected line.
        line: String,
        /// The defect found.
        reason: &'static str,
    },
    /// A signature from a known key does not verify.
    #[error(
        "signature by {name} (key ID {key_id:08x}) does not verify: the note was altered or signed by another key"
    )]
    InvalidSignature {
        /// Key name on the line.
        name: String,
        /// Key ID on the line.
        key_id: u32,
    },
    /// No signature from any of the given keys is present.
    #[error("signed note has no signature from any trusted key ({expected})")]
    NoTrustedSignature {
        /// Names and key IDs of the trusted keys.
        expected: String,
    },
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key ID, the first four bytes of the decoded signature.
    pub key_id: u32,
    /// Signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Formats the signature line without its final newline.
    pub fn to_line(&self) -> String {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}", self.name, BASE64.encode(bytes))
    }

    fn parse_line(line: &str) -> Result<Self, NoteError> {
        let malformed = |reason| NoteError::MalformedSignature {
            line: line.into(),
            reason,
        };
        let Some(rest) = line.strip_prefix(SIGNATURE_PREFIX) else {
            return Err(malformed(
                "a signature line starts with an em dash and a space",
            ));
        };
        let Some((name, encoded)) = rest.split_once(' ') else {
            return Err(malformed(
                "expected a key name, a space and a base64 signature",
            ));
        };
        if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
            return Err(malformed(
                "the key name must be non-empty, without spaces or '+'",
            ));
        }
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| malformed("the signature is not valid standard base64"))?;
        let Some((key_id, signature)) = bytes.split_first_chunk::<4>() else {
            return Err(malformed("the signature is shorter than its 4-byte key ID"));
        };
        if signature.is_empty() {
            return Err(malformed(
                "the signature has a key ID but no signature bytes",
            ));
        }
        Ok(Self {
            name: name.into(),
            key_id: u32::from_be_bytes(*key_id),
            signature: signature.to_vec(),
        })
    }
}

/// A parsed signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// A signature that verified against a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// Cosignature timestamp in POSIX seconds, for cosignature keys.
    pub timestamp: Option<u64>,
}

impl Note {
    /// Creates an unsigned note. `text` must end with a newline.
    pub(crate) fn unsigned(text: String) -> Self {
        debug_assert!(text.ends_with('\n'));
        Self {
            text,
            signatures: Vec::new(),
        }
    }

    /// Parses a signed note.
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLong {
                len: note.len(),
                max: MAX_NOTE_LEN,
            });
        }
        if let Some((offset, c)) = note
            .char_indices()
            .find(|&(_, c)| c.is_control() && c != '\n')
        {
            return Err(NoteError::ControlCharacter {
                code: u32::from(c),
                offset,
            });
        }

        // The text ends at the last blank line, and signature lines follow it.
        let Some(separator) = note.rfind("\n\n") else {
            return Err(NoteError::MissingSeparator);
        };
        let text = &note[..=separator];
        let block = &note[separator + 2..];
        if block.is_empty() {
            return Err(NoteError::NoSignatures);
        }

        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::MalformedSignature {
                line: block.lines().last().unwrap_or_default().into(),
                reason: "the last signature line must end with a newline",
            });
        };

        let count = block.split('\n').count();
        if count > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                count,
                max: MAX_SIGNATURES,
            });
        }
        let signatures = block
            .split('\n')
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            text: text.into(),
            signatures,
        })
    }

    /// Returns the note text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Returns the signature lines in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature by `signer` over the text. `timestamp` (POSIX seconds) is used by
    /// cosignature keys only.
    pub fn sign(&mut self, signer: &SignerKey, timestamp: u64) {
        let signature = signer.sign_note(&self.text, timestamp);
        self.signatures.push(NoteSignature {
            name: signer.name().into(),
            key_id: signer.key_id(),
            signature,
        });
    }

    /// Verifies every signature from a key in `trusted` and returns one entry per trusted
    /// key that signed, in the order of `trusted`.
    ///
    /// Signatures from unknown keys are ignored. A known key's failing signature rejects
    /// the note, and so does a note without any trusted signature.
    pub fn verify(&self, trusted: &[&VerifierKey]) -> Result<Vec<VerifiedSignature>, NoteError> {
        let mut verified: Vec<Option<VerifiedSignature>> = vec![None; trusted.len()];
        for line in &self.signatures {
            let known = trusted
                .iter()
                .position(|key| key.name() == line.name && key.key_id() == line.key_id);
            let Some(position) = known else {
                continue;
            };
            let invalid = || NoteError::InvalidSignature {
                name: line.name.clone(),
                key_id: line.key_id,
            };
            let timestamp = trusted[position]
                .verify_note(&self.text, &line.signature)
                .map_err(|()| invalid())?;
            verified[position] = Some(VerifiedSignature {
                name: line.name.clone(),
                key_id: line.key_id,
                timestamp,
            });
        }
        let verified: Vec<VerifiedSignature> = verified.into_iter().flatten().collect();
        if verified.is_empty() {
            let expected = trusted
                .iter()
                .map(|key| format!("{} {:08x}", key.name(), key.key_id()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(NoteError::NoTrustedSignature { expected });
        }
        Ok(verified)
    }
}

impl fmt::Display for Note {
    /// Formats the note as text, a blank line and one line per signature.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for signature in &self.signatures {
            writeln!(f, "{}", signature.to_line())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SignatureAlgorithm;

    /// The signed-note example of C2SP signed-note (a poem by Salvatore Quasimodo).
    const SPEC_EXAMPLE: &str = "Ognuno sta solo sul cuor della terra\n\
        trafitto da un raggio di sole:\n\
        \n\
        ed è subito sera.\n\
        \n\
        \u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

    fn signer(name: &str, algorithm: SignatureAlgorithm) -> SignerKey {
        SignerKey::generate(name, algorithm).expect("random")
    }

    #[test]
    fn spec_example_parses_with_blank_line_in_text() {
        let note = Note::parse(SPEC_EXAMPLE).expect("spec example is valid");
        assert!(note.text().ends_with("ed è subito sera.\n"));
        assert!(note.text().contains("sole:\n\ned"));
        assert_eq!(note.signatures().len(), 1);
        assert_eq!(note.signatures()[0].name, "quasimodo.example/salvatore");
        assert_eq!(note.to_string(), SPEC_EXAMPLE);
    }

    #[test]
    fn signed_note_round_trips() {
        let log = signer("log.example/a", SignatureAlgorithm::Ed25519);
        let mut note = Note::unsigned("hello\n".into());
        note.sign(&log, 0);
        let parsed = Note::parse(&note.to_string()).expect("own output parses");
        let verified = parsed
            .verify(&[log.verifier_key()])
            .expect("signature verifies");
        assert_eq!(verified.len(), 1);
        assert_eq!(verified[0].name, "log.example/a");
    }

    #[test]
    fn unknown_signatures_are_ignored() {
        let log = signer("log.example/a", SignatureAlgorithm::Sm2);
        let stranger = signer("other.example/b", SignatureAlgorithm::Ed25519);
        let mut note = Note::unsigned("hello\n".into());
        note.sign(&stranger, 0);
        note.sign(&log, 0);
        let verified = note
            .verify(&[log.verifier_key()])
            .expect("log signature verifies");
        assert_eq!(verified.len(), 1);
    }

    #[test]
    fn altered_text_is_rejected() {
        let log = signer("log.example/a", SignatureAlgorithm::Ed25519);
        let mut note = Note::unsigned("hello\n".into());
        note.sign(&log, 0);
        let altered = note.to_string().replace("hello", "hullo");
        let parsed = Note::parse(&altered).expect("still well-formed");
        let error = parsed
            .verify(&[log.verifier_key()])
            .expect_err("text changed");
        assert!(matches!(error, NoteError::InvalidSignature { .. }));
    }

    #[test]
    fn missing_trusted_signature_is_rejected() {
        let log = signer("log.example/a", SignatureAlgorithm::Ed25519);
        let stranger = signer("log.example/a", SignatureAlgorithm::Ed25519);
        let mut note = Note::unsigned("hello\n".into());
        note.sign(&stranger, 0);
        // Same name, different key ID: ignored, so nothing trusted remains.
        let error = note
            .verify(&[log.verifier_key()])
            .expect_err("no trusted signature");
        assert!(matches!(error, NoteError::NoTrustedSignature { .. }));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        assert_eq!(Note::parse("text only\n"), Err(NoteError::MissingSeparator));
        assert_eq!(Note::parse("text\n\n"), Err(NoteError::NoSignatures));
        let no_newline = Note::parse("text\n\n\u{2014} a AAAAAAA=");
        assert!(matches!(
            no_newline,
            Err(NoteError::MalformedSignature { .. })
        ));
        let hyphen = Note::parse("text\n\n- a AAAAAAA=\n");
        assert!(matches!(hyphen, Err(NoteError::MalformedSignature { .. })));
        let short = Note::parse("text\n\n\u{2014} a AAAA\n");
        assert!(matches!(short, Err(NoteError::MalformedSignature { .. })));
        let control = Note::parse("te\rxt\n\n\u{2014} a AAAAAAA=\n");
        assert_eq!(
            control,
            Err(NoteError::ControlCharacter {
                code: 0x0d,
                offset: 2
            })
        );
    }

    #[test]
    fn too_many_signatures_are_rejected() {
        let line = "\u{2014} a AAAAAAA=\n";
        let note = format!("text\n\n{}", line.repeat(MAX_SIGNATURES + 1));
        let error = Note::parse(&note).expect_err("over the limit");
        assert_eq!(
            error,
            NoteError::TooManySignatures {
                count: 101,
                max: MAX_SIGNATURES
            }
        );
        let note = format!("text\n\n{}", line.repeat(MAX_SIGNATURES));
        assert!(Note::parse(&note).is_ok());
    }
}
