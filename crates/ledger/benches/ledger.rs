//! Ledger benchmarks: batched appends, and inclusion and consistency proofs generated and
//! verified on a log of 100 million entries.
//!
//! Run with `cargo bench -p oversight-ledger --bench ledger`. The 100-million-entry log is
//! a [`SyntheticLog`]. Its leaf hashes are a deterministic function of the index, standing
//! in for hashes a store reads. The hashes of its complete subtrees of 16 leaves and more
//! are computed once and kept in memory (about 400 MB). Proof generation therefore
//! hashes sibling subtrees of fewer than 16 leaves from their leaves and reads the larger
//! ones, so it measures proof work rather than RAM. Building the log takes about 100
//! million node hashes. The `_at_size` variants generate proofs through
//! [`MerkleTree::at_size`], which hashes the right edge of the tree once per size.
//!
//! The `_many` variants hash many entries or nodes per call. `hash/*_many` call
//! [`Hasher::hash_leaves`] and [`Hasher::hash_parents`], and `append/*_many` appends through
//! [`CompactRange::append_entries_with`], which uses both.

use std::hint::black_box;
use std::ops::Range;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use oversight_ledger::{
    CompactRange, ConsistencyProof, Hash, Hasher, InclusionProof, MerkleTree, NodeId, NodeSource,
};

/// Entries per batch in the append benchmark.
const BATCH: usize = 10_000;

/// Size in bytes of each appended entry, about a serialised ledger record.
const ENTRY_LEN: usize = 128;

/// Hashes per call in the `hash` group's `_many` benchmarks.
const HASH_BATCH: usize = 1024;

/// Size of the log the proof benchmarks use.
const LOG_SIZE: u64 = 100_000_000;

/// Lowest level of complete subtrees the synthetic log keeps (2^4 = 16 leaves).
const CACHED_LEVEL: u8 = 4;

/// Proofs prepared for the verification benchmarks.
const PREPARED: usize = 1024;

/// A log whose leaf hashes are computed from the index, with the hashes of complete
/// subtrees at and above [`CACHED_LEVEL`] kept in memory.
struct SyntheticLog {
    /// `levels[l - CACHED_LEVEL][i]` is the hash of node `(l, i)`.
    levels: Vec<Vec<Hash>>,
}

impl SyntheticLog {
    fn build(hasher: Hasher, size: u64) -> Self {
        let chunk = 1u64 << CACHED_LEVEL;
        let base: Vec<Hash> = (0..size / chunk)
            .map(|index| {
                fold(
                    hasher,
                    (index * chunk..(index + 1) * chunk).map(synthetic_leaf),
                )
            })
            .collect();
        let mut levels = vec![base];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let below = levels.last().expect("levels is never empty");
            let above = below
                .chunks_exact(2)
                .map(|pair| hasher.hash_children(&pair[0], &pair[1]))
                .collect();
            levels.push(above);
        }
        Self { levels }
    }
}

/// Returns the leaf hash of entry `index`: 32 bytes from a SplitMix64 sequence.
fn synthetic_leaf(index: u64) -> Hash {
    let mut state = index.wrapping_mul(4);
    let mut bytes = [0u8; 32];
    for word in bytes.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        word.copy_from_slice(&(mixed ^ (mixed >> 31)).to_le_bytes());
    }
    Hash::from_bytes(bytes)
}

/// Hashes a power-of-two run of leaf hashes up to its subtree root.
fn fold(hasher: Hasher, leaves: impl Iterator<Item = Hash>) -> Hash {
    let mut hashes: Vec<Hash> = leaves.collect();
    while hashes.len() > 1 {
        hashes = hashes
            .chunks_exact(2)
            .map(|pair| hasher.hash_children(&pair[0], &pair[1]))
            .collect();
    }
    hashes[0]
}

impl NodeSource for SyntheticLog {
    type Error = std::convert::Infallible;

    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error> {
        Ok(synthetic_leaf(index))
    }

    fn leaf_hashes(&self, range: Range<u64>, out: &mut Vec<Hash>) -> Result<(), Self::Error> {
        out.extend(range.map(synthetic_leaf));
        Ok(())
    }

    fn complete_subtree_hash(&self, node: NodeId) -> Result<Option<Hash>, Self::Error> {
        let level = usize::from(node.level - CACHED_LEVEL);
        let hash = self
            .levels
            .get(level)
            .and_then(|nodes| nodes.get(node.index as usize));
        Ok(hash.copied())
    }

    fn min_cached_level(&self) -> u8 {
        CACHED_LEVEL
    }
}

/// Deterministic pseudo-random indexes in `1..bound`.
fn indexes(count: usize, bound: u64) -> Vec<u64> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            1 + (state >> 11) % (bound - 1)
        })
        .collect()
}

fn bench_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("hash");
    group.throughput(Throughput::Elements(1));
    let entry = [7u8; ENTRY_LEN];
    let (left, right) = (synthetic_leaf(1), synthetic_leaf(2));
    for hasher in [Hasher::Sha256, Hasher::Sm3] {
        group.bench_function(format!("{hasher}/children"), |b| {
            b.iter(|| black_box(hasher.hash_children(black_box(&left), black_box(&right))));
        });
        group.bench_function(format!("{hasher}/leaf_{ENTRY_LEN}B"), |b| {
            b.iter(|| black_box(hasher.hash_leaf(black_box(&entry))));
        });
    }

    group.throughput(Throughput::Elements(HASH_BATCH as u64));
    let entries: Vec<[u8; ENTRY_LEN]> = (0..HASH_BATCH)
        .map(|index| {
            let mut entry = [7u8; ENTRY_LEN];
            entry[..8].copy_from_slice(&(index as u64).to_le_bytes());
            entry
        })
        .collect();
    let entries: Vec<&[u8]> = entries.iter().map(|entry| entry.as_slice()).collect();
    let children: Vec<Hash> = (0..2 * HASH_BATCH as u64).map(synthetic_leaf).collect();
    let mut out = vec![Hash::default(); HASH_BATCH];
    for hasher in [Hasher::Sha256, Hasher::Sm3] {
        group.bench_function(format!("{hasher}/children_many"), |b| {
            b.iter(|| hasher.hash_parents(black_box(&children), black_box(&mut out)));
        });
        group.bench_function(format!("{hasher}/leaf_{ENTRY_LEN}B_many"), |b| {
            b.iter(|| hasher.hash_leaves(black_box(&entries), black_box(&mut out)));
        });
    }
    group.finish();
}

fn bench_append(c: &mut Criterion) {
    let entries: Vec<Vec<u8>> = (0..BATCH)
        .map(|index| {
            let mut entry = vec![0u8; ENTRY_LEN];
            entry[..8].copy_from_slice(&(index as u64).to_le_bytes());
            entry
        })
        .collect();
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(BATCH as u64));
    for hasher in [Hasher::Sha256, Hasher::Sm3] {
        group.bench_function(format!("{hasher}/batch_{BATCH}x{ENTRY_LEN}B"), |b| {
            b.iter_batched_ref(
                || CompactRange::new(hasher),
                |range| black_box(range.append_batch(&entries)),
                BatchSize::SmallInput,
            );
        });
        let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        group.bench_function(format!("{hasher}/batch_{BATCH}x{ENTRY_LEN}B_many"), |b| {
            b.iter_batched_ref(
                || CompactRange::new(hasher),
                |range| {
                    range.append_entries_with(&entries, |_, _| {});
                    black_box(range.root())
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn bench_proofs(c: &mut Criterion) {
    for hasher in [Hasher::Sha256, Hasher::Sm3] {
        let tree = MerkleTree::new(hasher, SyntheticLog::build(hasher, LOG_SIZE));
        let root = tree.root(LOG_SIZE).expect("synthetic log is infallible");
        let picks = indexes(PREPARED, LOG_SIZE);
        let mut group = c.benchmark_group(format!("proofs_100M/{hasher}"));
        group.throughput(Throughput::Elements(1));

        let mut next = picks.iter().cycle();
        group.bench_function("inclusion_generate", |b| {
            b.iter(|| {
                let index = *next.next().expect("cycle is endless");
                black_box(tree.inclusion_proof(index, LOG_SIZE).expect("in range"))
            });
        });

        let at_size = tree.at_size(LOG_SIZE).expect("synthetic log is infallible");
        let mut next = picks.iter().cycle();
        group.bench_function("inclusion_generate_at_size", |b| {
            b.iter(|| {
                let index = *next.next().expect("cycle is endless");
                black_box(at_size.inclusion_proof(index).expect("in range"))
            });
        });

        let inclusion: Vec<(InclusionProof, Hash)> = picks
            .iter()
            .map(|&index| {
                let proof = tree.inclusion_proof(index, LOG_SIZE).expect("in range");
                (proof, synthetic_leaf(index))
            })
            .collect();
        let mut next = inclusion.iter().cycle();
        group.bench_function("inclusion_verify", |b| {
            b.iter(|| {
                let (proof, leaf) = next.next().expect("cycle is endless");
                proof
                    .verify(hasher, leaf, &root)
                    .expect("generated proofs verify");
            });
        });

        let mut next = picks.iter().cycle();
        group.bench_function("consistency_generate", |b| {
            b.iter(|| {
                let first = *next.next().expect("cycle is endless");
                black_box(tree.consistency_proof(first, LOG_SIZE).expect("in range"))
            });
        });

        let mut next = picks.iter().cycle();
        group.bench_function("consistency_generate_at_size", |b| {
            b.iter(|| {
                let first = *next.next().expect("cycle is endless");
                black_box(at_size.consistency_proof(first).expect("in range"))
            });
        });

        let consistency: Vec<(ConsistencyProof, Hash)> = picks
            .iter()
            .map(|&first| {
                let proof = tree.consistency_proof(first, LOG_SIZE).expect("in range");
                (
                    proof,
                    tree.root(first).expect("synthetic log is infallible"),
                )
            })
            .collect();
        let mut next = consistency.iter().cycle();
        group.bench_function("consistency_verify", |b| {
            b.iter(|| {
                let (proof, first_root) = next.next().expect("cycle is endless");
                proof
                    .verify(hasher, first_root, &root)
                    .expect("generated proofs verify");
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench_hash, bench_append, bench_proofs);
criterion_main!(benches);
