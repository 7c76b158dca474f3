//! Hash values and the RFC 9162 tree hashing rules, with SHA-256 or SM3.
//!
//! Both algorithms produce 32 bytes, so one [`Hash`] type serves either. Leaf and
//! interior hashes are domain-separated (`0x00` and `0x01` prefixes) so that an interior
//! node can never be passed off as a leaf.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Length in bytes of every hash in the log (SHA-256 and SM3 both produce 32 bytes).
pub const HASH_LEN: usize = 32;

/// Prefix of a leaf hash input, RFC 9162 §2.1.1.
const LEAF_PREFIX: u8 = 0x00;

/// Prefix of an interior node hash input, RFC 9162 §2.1.1.
const NODE_PREFIX: u8 = 0x01;

/// Messages per `tape-sha256` call in the batch functions. The digests of a call go to a
/// stack buffer of this many hashes before they are copied out. In `tape-sha256` 0.2.2, 64
/// messages are four passes of a 16-lane kernel or two of its 32-message AVX-512 kernel.
const BATCH_CHUNK: usize = 64;

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

    /// Computes the leaf hash of every entry: `leaves[i] = hash_leaf(entries[i])`.
    ///
    /// SHA-256 runs through `tape-sha256`, which hashes several entries at once, one per
    /// SIMD lane. SM3 hashes one entry after another. The single-hash functions use
    /// `sha2`, so proof verification does not depend on this code path. Before its first
    /// use, the batch code is checked against `sha2` on the kernel it picked for this CPU
    /// (see [`batch_sha256_agrees`]). If they differ, SHA-256 also hashes one entry after
    /// another with `sha2`.
    ///
    /// # Panics
    ///
    /// Panics if `entries` and `leaves` differ in length.
    pub fn hash_leaves(self, entries: &[&[u8]], leaves: &mut [Hash]) {
        assert_eq!(
            entries.len(),
            leaves.len(),
            "hash_leaves needs one output hash per entry"
        );
        match self {
            Self::Sha256 => sha256_leaves(entries, leaves),
            Self::Sm3 => {
                for (leaf, entry) in leaves.iter_mut().zip(entries) {
                    *leaf = self.hash_leaf(entry);
                }
            }
        }
    }

    /// Computes the parent of each adjacent pair of nodes:
    /// `parents[i] = hash_children(children[2 * i], children[2 * i + 1])`.
    ///
    /// SHA-256 runs through `tape-sha256` as in [`Hasher::hash_leaves`], and SM3 hashes one
    /// pair after another.
    ///
    /// # Panics
    ///
    /// Panics unless `children` contains exactly two hashes per parent.
    pub fn hash_parents(self, children: &[Hash], parents: &mut [Hash]) {
        assert_eq!(
            children.len(),
            2 * parents.len(),
            "hash_parents needs two children per output hash"
        );
        match self {
            Self::Sha256 => sha256_parents(children, parents),
            Self::Sm3 => {
                for (parent, pair) in parents.iter_mut().zip(children.chunks_exact(2)) {
                    *parent = self.hash_children(&pair[0], &pair[1]);
                }
            }
        }
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

/// Returns whether `tape-sha256`, with the kernel it picked for this CPU, gives the same
/// leaf and node hashes as `sha2`. It is checked once per process, on entries of every
/// length from 0 to 200 bytes, which cross the block and padding boundaries, in one batch
/// larger than [`BATCH_CHUNK`], and on the nodes above them.
///
/// The batch code runs hand-written SIMD kernels chosen at run time, most of which a test
/// machine never runs. A wrong leaf hash would be stored and signed, and only an audit,
/// which hashes with `sha2`, would find it, so a kernel that fails this check is not used.
fn batch_sha256_agrees() -> bool {
    static AGREES: OnceLock<bool> = OnceLock::new();
    *AGREES.get_or_init(|| {
        let data: Vec<u8> = (0..=200_u8).map(|byte| byte.wrapping_mul(37)).collect();
        let entries: Vec<&[u8]> = (0..=200).map(|length| &data[..length]).collect();
        let expected: Vec<Hash> = entries
            .iter()
            .map(|entry| Hasher::Sha256.hash_leaf(entry))
            .collect();
        let mut leaves = vec![Hash::default(); entries.len()];
        tape_leaves(&entries, &mut leaves);
        let pairs = &expected[..expected.len() / 2 * 2];
        let expected_parents: Vec<Hash> = pairs
            .chunks_exact(2)
            .map(|pair| Hasher::Sha256.hash_children(&pair[0], &pair[1]))
            .collect();
        let mut parents = vec![Hash::default(); expected_parents.len()];
        tape_parents(pairs, &mut parents);
        leaves == expected && parents == expected_parents
    })
}

fn sha256_leaves(entries: &[&[u8]], leaves: &mut [Hash]) {
    if !batch_sha256_agrees() {
        for (leaf, entry) in leaves.iter_mut().zip(entries) {
            *leaf = Hasher::Sha256.hash_leaf(entry);
        }
        return;
    }
    tape_leaves(entries, leaves);
}

fn sha256_parents(children: &[Hash], parents: &mut [Hash]) {
    if !batch_sha256_agrees() {
        for (parent, pair) in parents.iter_mut().zip(children.chunks_exact(2)) {
            *parent = Hasher::Sha256.hash_children(&pair[0], &pair[1]);
        }
        return;
    }
    tape_parents(children, parents);
}

fn tape_leaves(entries: &[&[u8]], leaves: &mut [Hash]) {
    let mut digests = [[0u8; HASH_LEN]; BATCH_CHUNK];
    for (entries, leaves) in entries
        .chunks(BATCH_CHUNK)
        .zip(leaves.chunks_mut(BATCH_CHUNK))
    {
        let digests = &mut digests[..entries.len()];
        tape_sha256::hash_many_prefixed(&[LEAF_PREFIX], entries, digests);
        for (leaf, digest) in leaves.iter_mut().zip(digests.iter()) {
            *leaf = Hash(*digest);
        }
    }
}

fn tape_parents(children: &[Hash], parents: &mut [Hash]) {
    let mut lefts: [&[u8]; BATCH_CHUNK] = [&[]; BATCH_CHUNK];
    let mut rights: [&[u8]; BATCH_CHUNK] = [&[]; BATCH_CHUNK];
    let mut digests = [[0u8; HASH_LEN]; BATCH_CHUNK];
    for (children, parents) in children
        .chunks(2 * BATCH_CHUNK)
        .zip(parents.chunks_mut(BATCH_CHUNK))
    {
        let count = parents.len();
        for (slot, pair) in children.chunks_exact(2).enumerate() {
            lefts[slot] = &pair[0].0;
            rights[slot] = &pair[1].0;
        }
        let digests = &mut digests[..count];
        tape_sha256::hash_pairs(&[NODE_PREFIX], &lefts[..count], &rights[..count], digests);
        for (parent, digest) in parents.iter_mut().zip(digests.iter()) {
            *parent = Hash(*digest);
        }
    }
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
    fn batch_kernel_of_this_machine_passes_its_check() {
        assert!(
            batch_sha256_agrees(),
            "tape-sha256 kernel {} differs from sha2",
            tape_sha256::backend()
        );
    }

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

    /// `count` entries of `len` bytes each, with contents that differ between entries.
    fn entries(len: usize, count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|entry| {
                (0..len)
                    .map(|byte| (byte * 31 + entry * 7 + len) as u8)
                    .collect()
            })
            .collect()
    }

    fn assert_leaves_match(hasher: Hasher, entries: &[Vec<u8>]) {
        let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let mut leaves = vec![Hash::default(); entries.len()];
        hasher.hash_leaves(&entries, &mut leaves);
        for (index, (entry, leaf)) in entries.iter().zip(&leaves).enumerate() {
            assert_eq!(
                *leaf,
                hasher.hash_leaf(entry),
                "{hasher}: entry {index} of {}, {} bytes",
                entries.len(),
                entry.len()
            );
        }
    }

    #[test]
    fn hash_leaves_matches_hash_leaf_per_length() {
        for hasher in [Hasher::Sha256, Hasher::Sm3] {
            for len in 0..300 {
                // 17 entries of one length: a full pass of a 16-lane kernel, then one more.
                assert_leaves_match(hasher, &entries(len, 17));
            }
        }
    }

    #[test]
    fn hash_leaves_matches_hash_leaf_mixed_lengths() {
        for hasher in [Hasher::Sha256, Hasher::Sm3] {
            // Lanes of one pass end after different numbers of blocks.
            let mixed: Vec<Vec<u8>> = (0..300).flat_map(|len| entries(len, 1)).collect();
            assert_leaves_match(hasher, &mixed);
            let reversed: Vec<Vec<u8>> = mixed.into_iter().rev().collect();
            assert_leaves_match(hasher, &reversed);
        }
    }

    #[test]
    fn hash_leaves_matches_hash_leaf_per_batch_length() {
        for hasher in [Hasher::Sha256, Hasher::Sm3] {
            // Crosses the 64-entry chunks and every remainder of 4, 8, 16 and 32 lanes.
            for count in 0..=140 {
                assert_leaves_match(hasher, &entries(183, count));
            }
        }
    }

    #[test]
    fn hash_parents_matches_hash_children() {
        for hasher in [Hasher::Sha256, Hasher::Sm3] {
            for count in 0..=140usize {
                let children: Vec<Hash> = (0..2 * count)
                    .map(|index| hasher.hash_leaf(&index.to_le_bytes()))
                    .collect();
                let mut parents = vec![Hash::default(); count];
                hasher.hash_parents(&children, &mut parents);
                for (index, parent) in parents.iter().enumerate() {
                    let expected =
                        hasher.hash_children(&children[2 * index], &children[2 * index + 1]);
                    assert_eq!(*parent, expected, "{hasher}: parent {index} of {count}");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "one output hash per entry")]
    fn hash_leaves_rejects_length_mismatch() {
        Hasher::Sm3.hash_leaves(&[b"a".as_slice(), b"b".as_slice()], &mut [Hash::default()]);
    }

    #[test]
    #[should_panic(expected = "two children per output hash")]
    fn hash_parents_rejects_odd_child_count() {
        Hasher::Sha256.hash_parents(&[Hash::default(); 3], &mut [Hash::default()]);
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
