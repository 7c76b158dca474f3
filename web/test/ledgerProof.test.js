// Tests of the browser's RFC 9162 inclusion proof check against a reference
// Merkle tree built here with the definitions of RFC 9162 section 2.1.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import {
  hashFunction,
  leafHash,
  parseCheckpoint,
  parseVerifierKey,
  rootFromInclusionProof,
  verifyCheckpoint,
} from '../src/lib/ledgerProof.js';

function sha256(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(part);
  }
  return new Uint8Array(hash.digest());
}

const leafOf = (text) => sha256(Uint8Array.of(0), Buffer.from(text, 'utf8'));
const nodeOf = (left, right) => sha256(Uint8Array.of(1), left, right);

// The largest power of two smaller than n (n > 1).
function split(n) {
  let k = 1;
  while (k * 2 < n) {
    k *= 2;
  }
  return k;
}

// MTH(D[n]) over leaf hashes.
function rootOf(leaves) {
  if (leaves.length === 1) {
    return leaves[0];
  }
  const k = split(leaves.length);
  return nodeOf(rootOf(leaves.slice(0, k)), rootOf(leaves.slice(k)));
}

// PATH(m, D[n]) over leaf hashes.
function pathOf(m, leaves) {
  if (leaves.length === 1) {
    return [];
  }
  const k = split(leaves.length);
  if (m < k) {
    return [...pathOf(m, leaves.slice(0, k)), rootOf(leaves.slice(k))];
  }
  return [...pathOf(m - k, leaves.slice(k)), rootOf(leaves.slice(0, k))];
}

const texts = Array.from({ length: 13 }, (_, i) => `{"n":${i}}`);
const leaves = texts.map(leafOf);

test('leaf hash uses the 0x00 prefix', async () => {
  assert.deepEqual(await leafHash(texts[3]), leaves[3]);
});

test('every inclusion proof leads to the root', async () => {
  for (let size = 1; size <= leaves.length; size += 1) {
    const tree = leaves.slice(0, size);
    const root = rootOf(tree);
    for (let index = 0; index < size; index += 1) {
      const computed = await rootFromInclusionProof(index, size, tree[index], pathOf(index, tree));
      assert.deepEqual(computed, root, `index ${index} of size ${size}`);
    }
  }
});

test('altered proof leads elsewhere', async () => {
  const tree = leaves.slice(0, 11);
  const path = pathOf(6, tree);
  path[1] = sha256(Buffer.from('forged'));
  const computed = await rootFromInclusionProof(6, 11, tree[6], path);
  assert.notDeepEqual(computed, rootOf(tree));
  const wrongLeaf = await rootFromInclusionProof(6, 11, tree[5], pathOf(6, tree));
  assert.notDeepEqual(wrongLeaf, rootOf(tree));
});

test('proof of wrong length is rejected', async () => {
  const tree = leaves.slice(0, 8);
  const path = pathOf(2, tree);
  await assert.rejects(rootFromInclusionProof(2, 8, tree[2], path.slice(1)), /shorter/);
  await assert.rejects(rootFromInclusionProof(2, 8, tree[2], [...path, tree[0]]), /longer/);
  await assert.rejects(rootFromInclusionProof(8, 8, tree[0], path), /not below the tree size/);
  await assert.rejects(rootFromInclusionProof(0, 0, tree[0], []), /not below the tree size/);
});

test('checkpoint body parses', () => {
  const root = Buffer.alloc(32, 7);
  const note = `example.org/ledger\n20\n${root.toString('base64')}\ntime 1764835200\n\n— example.org/ledger abc\n`;
  const checkpoint = parseCheckpoint(note);
  assert.equal(checkpoint.origin, 'example.org/ledger');
  assert.equal(checkpoint.size, 20);
  assert.deepEqual(checkpoint.root, new Uint8Array(root));
  assert.throws(() => parseCheckpoint('origin\nnot a number\nAAAA\n'), /signed note/);
});

// Values served by `oversight serve` with `[ledger] hash = "sm3"` and
// `signature = "sm2"`: the verifier key, a checkpoint of three entries, the
// canonical encoding of entry 0 and its inclusion proof.
const SM2_KEY = 'oversight.local/ledger+d9ee362c+/1NNMi13aXRoLVNNMwPvYDeOdapT3OozQZlEIo/4XSaccDDcbWmAyYKT1cTj8A==';
const SM2_CHECKPOINT = `oversight.local/ledger
3
Tiz1yncpAkLxk34DaPbFnQuBLttaL2RUUFytRYkZhJ8=
time 1796440504

— oversight.local/ledger 2e42LOAeM+r4vKHYW3LJQkUq80tlriCxF/0zVx2rMHzuqfpbu0Ss0a0IX3uNCczMGNSBL6LKVEYeszgCBjuiBVfoHYA=
`;
const SM3_LEAF =
  '{"actor":"user:cli","kind":"auth.user_created","payload":{"detail":"system_admin","target":"admin"},"subject":"user:admin","time":"2026-12-05T03:14:51.061332Z"}';
const SM3_LEAF_HASH = '06c75a56940fbed3ffe8d23dc3bc079e564c50941ae8f7854d6fbc0edc87e963';
const SM3_PATH = [
  '65a827a30be9e7eb0894bbc859875d2d5db56343cb8c010fe08c9f949f81a451',
  '524346ec9e065ce2cf5d294fc494648c5aa531f69dc8f4b80d9ff8f0157f0056',
];

// The same from a server with the defaults, SHA-256 and Ed25519.
const ED25519_KEY = 'oversight.local/ledger+53869ccf+ASb11W3y2hA2qoaKqJAZKk35QNk9irZsPj2RkmvtCZfl';
const ED25519_CHECKPOINT = `oversight.local/ledger
3
a9IHao1zNEfxPc5aoy1T6T0olcFhFYpPpJo6QRugEIs=
time 1796440528

— oversight.local/ledger U4acz3jE1L3YY/0WGpDUDhOMjUwkCfeMuj/sWKdEwy4M6W5pTWueIFRwfhgtIVQfeEjmMotZ0YCn2vMsXFF4ZSVYZAM=
`;

const fromHex = (hex) => new Uint8Array(Buffer.from(hex, 'hex'));

test('sm3 leaf hash matches the server', async () => {
  const leaf = await leafHash(SM3_LEAF, hashFunction('sm3'));
  assert.deepEqual(leaf, fromHex(SM3_LEAF_HASH));
});

test('sm3 inclusion proof leads to the signed root', async () => {
  const sm3 = hashFunction('sm3');
  const checkpoint = await verifyCheckpoint(SM2_CHECKPOINT, parseVerifierKey(SM2_KEY));
  assert.equal(checkpoint.size, 3);
  const leaf = await leafHash(SM3_LEAF, sm3);
  const root = await rootFromInclusionProof(0, 3, leaf, SM3_PATH.map(fromHex), sm3);
  assert.deepEqual(root, checkpoint.root);
});

test('ed25519 checkpoint signature verifies', async () => {
  const checkpoint = await verifyCheckpoint(ED25519_CHECKPOINT, parseVerifierKey(ED25519_KEY));
  assert.equal(checkpoint.origin, 'oversight.local/ledger');
  assert.equal(checkpoint.size, 3);
});

test('altered checkpoint fails its signature', async () => {
  const cases = [
    [ED25519_CHECKPOINT, ED25519_KEY],
    [SM2_CHECKPOINT, SM2_KEY],
  ];
  for (const [note, key] of cases) {
    const altered = note.replace('\n3\n', '\n4\n');
    await assert.rejects(verifyCheckpoint(altered, parseVerifierKey(key)), /does not verify/);
  }
});

test('checkpoint without the key signature is rejected', async () => {
  await assert.rejects(
    verifyCheckpoint(ED25519_CHECKPOINT, parseVerifierKey(SM2_KEY)),
    /no signature by oversight.local\/ledger/,
  );
  const unsigned = ED25519_CHECKPOINT.slice(0, ED25519_CHECKPOINT.indexOf('\n\n') + 2);
  await assert.rejects(verifyCheckpoint(unsigned, parseVerifierKey(ED25519_KEY)), /no signature/);
  await assert.rejects(verifyCheckpoint('origin\n3\n', parseVerifierKey(ED25519_KEY)), /no signature lines/);
});

test('verifier key with + in its base64 parses', () => {
  const publicKey = Buffer.alloc(32, 0xfb);
  const material = Buffer.concat([Buffer.of(1), publicKey]).toString('base64');
  assert.match(material, /\+/);
  const key = parseVerifierKey(`oversight.local/ledger+6432aef3+${material}`);
  assert.equal(key.name, 'oversight.local/ledger');
  assert.equal(key.algorithm, 'ed25519');
  assert.deepEqual(key.keyId, Uint8Array.of(0x64, 0x32, 0xae, 0xf3));
  assert.deepEqual(key.publicKey, new Uint8Array(publicKey));
});

test('bad verifier keys and hashes are rejected', () => {
  assert.throws(() => parseVerifierKey('name+zz+AAAA'), /invalid verifier key/);
  assert.throws(() => parseVerifierKey('name+01020304+BAAA'), /cannot check/);
  assert.throws(() => hashFunction('md5'), /unknown ledger hash "md5"/);
  assert.throws(() => hashFunction('toString'), /unknown ledger hash/);
});
