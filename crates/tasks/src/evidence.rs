//! Evidence attached to a task: file records, notes and on-site checks.
//!
//! The crate records and validates evidence; storing the bytes of an
//! attachment is the server's job. An attachment is identified by the
//! SHA-256 or SM3 digest of its content, so the server can check the stored
//! bytes against the record and the ledger can commit to them.

use jiff::Timestamp;
use oversight_core::GeoPoint;
use oversight_core::personal::Text;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::TaskError;
use crate::model::{MAX_NAME_CHARS, MAX_TEXT_CHARS, PersonId, validate_text};

/// Maximum attachment size the crate records: 1 GiB.
pub const MAX_ATTACHMENT_BYTES: u64 = 1 << 30;

/// A content hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgorithm {
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SM3 (GB/T 32905-2016).
    Sm3,
}

/// A content digest: algorithm and 32-byte value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContentDigest {
    /// The algorithm.
    pub algorithm: HashAlgorithm,
    /// The digest in lowercase hex, 64 characters.
    pub hex: String,
}

impl ContentDigest {
    /// Parses a hex digest, accepting either case and storing lowercase.
    pub fn parse(algorithm: HashAlgorithm, hex_text: &str) -> Result<Self, TaskError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_text, &mut bytes).map_err(|_| {
            TaskError::invalid(
                "content digest",
                hex_text,
                "expected 64 hexadecimal characters (a 32-byte SHA-256 or SM3 digest)",
            )
        })?;
        Ok(Self {
            algorithm,
            hex: hex::encode(bytes),
        })
    }

    /// Computes the digest of `content`.
    pub fn compute(algorithm: HashAlgorithm, content: &[u8]) -> Self {
        let hex = match algorithm {
            HashAlgorithm::Sha256 => hex::encode(sha2::Sha256::digest(content)),
            HashAlgorithm::Sm3 => hex::encode(sm3::Sm3::digest(content)),
        };
        Self { algorithm, hex }
    }

    /// Returns true if `content` has this digest.
    pub fn matches(&self, content: &[u8]) -> bool {
        Self::compute(self.algorithm, content) == *self
    }
}

/// A record of an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The digest of the file's content.
    pub digest: ContentDigest,
    /// The media type, such as `image/jpeg`.
    pub media_type: String,
    /// The size in bytes.
    pub size: u64,
    /// The file name as uploaded, without any directory part.
    pub original_name: String,
}

impl Attachment {
    /// Validates an attachment record.
    pub fn new(
        digest: ContentDigest,
        media_type: &str,
        size: u64,
        original_name: &str,
    ) -> Result<Self, TaskError> {
        let media_type = validate_media_type(media_type)?;
        if size == 0 || size > MAX_ATTACHMENT_BYTES {
            return Err(TaskError::invalid(
                "attachment size",
                &size.to_string(),
                "must be between 1 byte and 1 GiB",
            ));
        }
        validate_file_name(original_name)?;
        Ok(Self {
            digest,
            media_type,
            size,
            original_name: original_name.to_owned(),
        })
    }
}

/// A record of an on-site check (现场检查).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteCheck {
    /// The place of the check, as an address or site description.
    pub location: String,
    /// The WGS 84 position, when the inspector's device recorded one.
    pub position: Option<GeoPoint>,
    /// When the check took place.
    pub checked_at: Timestamp,
    /// The inspectors present; law-enforcement checks need at least two.
    pub inspectors: Vec<PersonId>,
    /// The findings, in which phone and ID numbers are masked when shown.
    pub findings: Text,
}

impl SiteCheck {
    /// Validates an on-site check record; `now` bounds the check time.
    pub fn validate(&self, now: Timestamp) -> Result<(), TaskError> {
        validate_text("site check location", &self.location, MAX_NAME_CHARS)?;
        validate_text("site check findings", &self.findings, MAX_TEXT_CHARS)?;
        if self.inspectors.is_empty() {
            return Err(TaskError::invalid(
                "site check inspectors",
                "",
                "name at least one inspector",
            ));
        }
        if let Some(p) = self.position {
            GeoPoint::new(p.longitude, p.latitude)
                .map_err(|e| TaskError::invalid("site check position", &e.value, e.rule))?;
        }
        if self.checked_at > now {
            return Err(TaskError::invalid(
                "site check time",
                &self.checked_at.to_string(),
                "must not be in the future",
            ));
        }
        Ok(())
    }
}

/// The kind and content of a piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A file: photo, video, document.
    Attachment(Attachment),
    /// A written note.
    Note {
        /// The note's text.
        text: Text,
    },
    /// An on-site check.
    SiteCheck(SiteCheck),
}

/// A piece of evidence with who added it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The evidence itself.
    pub kind: EvidenceKind,
    /// The person who added it.
    pub added_by: PersonId,
    /// When it was added.
    pub added_at: Timestamp,
}

impl EvidenceKind {
    /// Validates the evidence; `now` bounds on-site check times.
    pub fn validate(&self, now: Timestamp) -> Result<(), TaskError> {
        match self {
            EvidenceKind::Attachment(a) => {
                Attachment::new(a.digest.clone(), &a.media_type, a.size, &a.original_name).map(drop)
            }
            EvidenceKind::Note { text } => validate_text("note", text, MAX_TEXT_CHARS),
            EvidenceKind::SiteCheck(check) => check.validate(now),
        }
    }
}

/// Checks a `type/subtype` media type (RFC 6838 names, parameters allowed) and lowercases it.
fn validate_media_type(input: &str) -> Result<String, TaskError> {
    let essence = input.split(';').next().unwrap_or_default().trim();
    let valid_name = |name: &str| {
        !name.is_empty()
            && name.len() <= 127
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let valid = match essence.split_once('/') {
        Some((kind, subtype)) => valid_name(kind) && valid_name(subtype),
        None => false,
    };
    if !valid || input.chars().any(char::is_control) {
        return Err(TaskError::invalid(
            "media type",
            input,
            "expected type/subtype, such as image/jpeg or application/pdf",
        ));
    }
    Ok(input.trim().to_ascii_lowercase())
}

fn validate_file_name(name: &str) -> Result<(), TaskError> {
    validate_text("file name", name, 255)?;
    let rule = if name.contains(['/', '\\']) {
        "must not contain a directory part (/ or \\)"
    } else if name == "." || name == ".." {
        "must name a file"
    } else if name.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(TaskError::invalid("file name", name, rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    // GB/T 32905-2016 appendix A, example 1.
    const SM3_ABC: &str = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";

    #[test]
    fn digest_computes_standard_vectors() {
        let sha = ContentDigest::compute(HashAlgorithm::Sha256, b"abc");
        assert_eq!(sha.hex, SHA256_ABC);
        let sm3 = ContentDigest::compute(HashAlgorithm::Sm3, b"abc");
        assert_eq!(sm3.hex, SM3_ABC);
        assert!(sm3.matches(b"abc"));
        assert!(!sm3.matches(b"abd"));
    }

    #[test]
    fn digest_parse_lowercases_and_checks_length() {
        let upper = SHA256_ABC.to_ascii_uppercase();
        let parsed = ContentDigest::parse(HashAlgorithm::Sha256, &upper).unwrap();
        assert_eq!(parsed.hex, SHA256_ABC);
        let err = ContentDigest::parse(HashAlgorithm::Sm3, &SM3_ABC[..62]).unwrap_err();
        assert!(err.to_string().contains("64 hexadecimal"), "{err}");
        let err = ContentDigest::parse(HashAlgorithm::Sm3, &"zz".repeat(32)).unwrap_err();
        assert!(err.to_string().contains("64 hexadecimal"), "{err}");
    }

    fn digest() -> ContentDigest {
        ContentDigest::parse(HashAlgorithm::Sha256, SHA256_ABC).unwrap()
    }

    #[test]
    fn attachment_accepts_a_photo() {
        let a = Attachment::new(digest(), "Image/JPEG", 2048, "现场照片 1.jpg").unwrap();
        assert_eq!(a.media_type, "image/jpeg");
    }

    #[test]
    fn attachment_rejects_bad_media_type() {
        for bad in ["jpeg", "image/", "/jpeg", "image/jp eg", ""] {
            let err = Attachment::new(digest(), bad, 1, "a.jpg").unwrap_err();
            assert!(err.to_string().contains("type/subtype"), "{bad:?}: {err}");
        }
        assert!(Attachment::new(digest(), "text/plain; charset=utf-8", 1, "a.txt").is_ok());
    }

    #[test]
    fn attachment_rejects_bad_size_and_name() {
        let err = Attachment::new(digest(), "image/png", 0, "a.png").unwrap_err();
        assert!(err.to_string().contains("between 1 byte"), "{err}");
        let err =
            Attachment::new(digest(), "image/png", MAX_ATTACHMENT_BYTES + 1, "a.png").unwrap_err();
        assert!(err.to_string().contains("1 GiB"), "{err}");
        for bad in ["../etc/passwd", "C:\\x.png", "..", " ", "a\u{0}b"] {
            let err = Attachment::new(digest(), "image/png", 1, bad).unwrap_err();
            assert!(err.to_string().contains("file name"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn site_check_requires_inspector_and_past_time() {
        let now = Timestamp::from_second(1_750_000_000).unwrap();
        let mut check = SiteCheck {
            location: "思明区 某污水处理厂 排放口".into(),
            position: None,
            checked_at: now,
            inspectors: vec![PersonId::parse("inspector-1").unwrap()],
            findings: "排放口 COD 在线数据与现场采样一致".into(),
        };
        assert!(check.validate(now).is_ok());
        check.checked_at = Timestamp::from_second(1_750_000_001).unwrap();
        let err = check.validate(now).unwrap_err();
        assert!(err.to_string().contains("future"), "{err}");
        check.checked_at = now;
        check.inspectors.clear();
        let err = check.validate(now).unwrap_err();
        assert!(err.to_string().contains("at least one inspector"), "{err}");
    }

    #[test]
    fn note_must_not_be_blank() {
        let now = Timestamp::UNIX_EPOCH;
        let err = EvidenceKind::Note { text: " ".into() }
            .validate(now)
            .unwrap_err();
        assert!(err.to_string().contains("blank"), "{err}");
    }
}
