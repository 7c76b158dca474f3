//! Hash values and the RFC 9162 tree hashing rules, with SHA-256 or SM3.
//!
//! Both algorithms produce 32 bytes, so one [`Hash`] type serves either. Leaf and
//! interior hashes are domain-separated (`0x00` and `0x01` prefixes) so that an interior
//! node can never be passed off as a leaf.

use std::fmt;
use std::str::FromStr;

/// Length in bytes of every hash in the log (SHA-256 and SM3 both produce 32 bytes).
pub const HASH_LEN: usize = 32;

/// Prefix of a leaf hash input, RFC 9162 §2.1.1.
const LEAF_PREFIX: u8 = 0x00;

/// Prefix of an interior node hash input, RFC 9162 §2.1.1.
const NODE_PREFIX: u8 = 0x01;

/// A 32-byte hash: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash([u8; HASH_LEN]);

impl Hash {
    /// Wraps raw hash bytes.
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }

    /// Returns the raw bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Parses a hash from a byte slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        let array: [u8; HASH_LEN] = bytes.try_into().map_err(|_| HashParseError::Length {
            actual: bytes.len(),
        })?;
        Ok(Self(array))
    }

    /// Parses 64 hexadecimal digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        if text.len() != 2 * HASH_LEN {
            return Err(HashParseError::HexLength { actual: text.len() });
        }
        let mut bytes = [0u8; HASH_LEN];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let high = hex_value(pair[0]).ok_or(HashParseError::HexDigit { text: text.into() })?;
            let low = hex_value(pair[1]).ok_or(HashParseError::HexDigit { text: text.into() })?;
            *byte = (high << 4) | low;
        }
        Ok(Self(bytes))
    }

    /// Formats the hash as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Errors from parsing a [`Hash`] or a [`Hasher`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// The byte slice is not 32 bytes long.
    #[error("invalid hash length: {actual} bytes, expected 32")]
    Length {
        /// Length of the rejected slice.
        actual: usize,
    },
    /// The hexadecimal text is not 64 characters long.
    #[error("invalid hexadecimal hash length: {actual} characters, expected 64")]
    HexLength {
        /// Length of the rejected text.
        actual: usize,
    },
    /// The text contains a character that is not a hexadecimal digit.
    #[error("invalid hexadecimal hash {text:?}: only 0-9, a-f and A-F are allowed")]
    HexDigit {
        /// The rejected text.
        text: String,
    },
    /// The hash algorithm name is not one this crate implements.
    #[error("unknown hash algorithm {name:?}: expected \"sha256\" or \"sm3\"")]
    UnknownAlgorithm {
        /// The rejected name.
        name: String,
    },
}

/// The hash function of a log, chosen by configuration.
///
/// Every hash in one log uses the same algorithm, so the choice is fixed when the log is
/// created. Only SHA-256 is registered for RFC 9162, so an SM3 log has the RFC 9162 tree
/// structure but does not interoperate with RFC 9162 clients.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Hasher {
    /// SHA-256 (FIPS 180-4), the RFC 9162 default.
    #[default]
    Sha256,
    /// SM3 (GB/T 32905-2016).
    Sm3,
}

impl Hasher {
    /// Returns the configuration name: `"sha256"` or `"sm3"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sm3 => "sm3",
        }
    }

    /// Hashes `data` with no prefix.
    pub fn digest(self, data: &[u8]) -> Hash {
        self.hash_parts(&[data])
    }

    /// Computes the leaf hash `HASH(0x00 || data)`.
    pub fn hash_leaf(self, data: &[u8]) -> Hash {
        self.hash_parts(&[&[LEAF_PREFIX], data])
    }

    /// Computes the interior node hash `HASH(0x01 || left || right)`.
    pub fn hash_children(self, left: &Hash, right: &Hash) -> Hash {
        self.hash_parts(&[&[NODE_PREFIX], &left.0, &right.0])
    }

    /// Returns the root of the empty tree, `HASH("")`.
    pub fn empty_root(self) -> Hash {
        self.digest(&[])
    }

    fn hash_parts(self, parts: &[&[u8]]) -> Hash {
        match self {
            Self::Sha256 => hash_with::<sha2::Sha256>(parts),
            Self::Sm3 => hash_with::<sm3::Sm3>(parts),
        }
    }
}

fn hash_with<D: sha2::Digest>(parts: &[&[u8]]) -> Hash
where
    [u8; HASH_LEN]: From<sha2::digest::Output<D>>,
{
    let mut state = D::new();
    for part in parts {
        state.update(part);
    }
    Hash(state.finalize().into())
}

impl FromStr for Hasher {
    type Err = HashParseError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "sha256" | "sha-256" => Ok(Self::Sha256),
            "sm3" => Ok(Self::Sm3),
            _ => Err(HashParseError::UnknownAlgorithm { name: name.into() }),
        }
    }
}

impl fmt::Display for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_matches_standard_example() {
        // GB/T 32905-2016 Annex A.1: SM3("abc").
        let expected = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";
        assert_eq!(Hasher::Sm3.digest(b"abc").to_hex(), expected);
    }

    #[test]
    fn sha256_matches_standard_example() {
        // FIPS 180-4 example: SHA-256("abc").
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(Hasher::Sha256.digest(b"abc").to_hex(), expected);
    }

    #[test]
    fn empty_root_is_hash_of_empty_string() {
        let expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(Hasher::Sha256.empty_root().to_hex(), expected);
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        let hasher = Hasher::Sha256;
        let left = hasher.hash_leaf(b"a");
        let right = hasher.hash_leaf(b"b");
        let mut concatenated = Vec::new();
        concatenated.extend_from_slice(left.as_bytes());
        concatenated.extend_from_slice(right.as_bytes());
        assert_ne!(
            hasher.hash_children(&left, &right),
            hasher.hash_leaf(&concatenated)
        );
    }

    #[test]
    fn hex_round_trip() {
        let hash = Hasher::Sm3.hash_leaf(b"x");
        assert_eq!(Hash::from_hex(&hash.to_hex()), Ok(hash));
        assert_eq!(Hash::from_hex(&hash.to_hex().to_uppercase()), Ok(hash));
    }

    #[test]
    fn hex_rejects_bad_input() {
        assert_eq!(
            Hash::from_hex("00"),
            Err(HashParseError::HexLength { actual: 2 })
        );
        let bad = "g".repeat(64);
        assert!(matches!(
            Hash::from_hex(&bad),
            Err(HashParseError::HexDigit { .. })
        ));
        assert_eq!(
            Hash::from_slice(&[0; 31]),
            Err(HashParseError::Length { actual: 31 })
        );
    }

    #[test]
    fn hasher_deserializes_from_configuration_name() {
        let parsed: Hasher = serde_json::from_str("\"sm3\"").expect("known name");
        assert_eq!(parsed, Hasher::Sm3);
        assert_eq!(
            serde_json::to_string(&Hasher::Sha256).expect("serializes"),
            "\"sha256\""
        );
        assert!(serde_json::from_str::<Hasher>("\"md5\"").is_err());
    }

    #[test]
    fn hasher_names_parse() {
        assert_eq!("sha256".parse(), Ok(Hasher::Sha256));
        assert_eq!("SM3".parse(), Ok(Hasher::Sm3));
        let error = "md5".parse::<Hasher>().expect_err("md5 is not supported");
        assert!(error.to_string().contains("md5"));
    }
}
