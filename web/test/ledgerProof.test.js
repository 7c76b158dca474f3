// Tests of the browser's RFC 9162 inclusion proof check against a reference
// Merkle tree built here with the definitions of RFC 9162 section 2.1.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import { leafHash, parseCheckpoint, rootFromInclusionProof } from '../src/lib/ledgerProof.js';

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
