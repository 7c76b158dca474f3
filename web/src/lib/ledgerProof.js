// Checks task history steps against the ledger in the browser: each step's
// ledger entry must hash to a leaf whose inclusion proof leads to the root of
// the latest signed checkpoint.
//
// Hashing follows RFC 9162: leaf hash = H(0x00 || entry), node hash =
// H(0x01 || left || right), and the inclusion proof is checked with the
// algorithm of RFC 9162 section 2.1.3.2. H is SHA-256 from WebCrypto.
// NOTE: a ledger configured with SM3 is reported as unverifiable, because
// browsers have no SM3. The checkpoint's signature is not checked here either;
// `oversight ledger verify` checks signatures offline.
import { api } from './api.js';

const encoder = new TextEncoder();

function hexToBytes(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) {
    throw new Error(`invalid hex hash ${JSON.stringify(hex)}`);
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) {
    bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

function base64ToBytes(text) {
  const binary = atob(text);
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function equalBytes(left, right) {
  return left.length === right.length && left.every((byte, i) => byte === right[i]);
}

async function sha256(...parts) {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const data = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

const LEAF_PREFIX = Uint8Array.of(0);
const NODE_PREFIX = Uint8Array.of(1);

// Returns the RFC 9162 leaf hash of a ledger entry's canonical encoding.
export function leafHash(leafText) {
  return sha256(LEAF_PREFIX, encoder.encode(leafText));
}

// Returns the root that an inclusion proof of leaf `index` in a tree of
// `size` leaves leads to, or throws when the proof has the wrong length.
// Indexes stay below 2^53, so plain numbers and division suffice.
export async function rootFromInclusionProof(index, size, leaf, path) {
  if (!(index < size)) {
    throw new Error(`index ${index} is not below the tree size ${size}`);
  }
  let fn = index;
  let sn = size - 1;
  let root = leaf;
  for (const sibling of path) {
    if (sn === 0) {
      throw new Error('the inclusion proof is longer than the tree allows');
    }
    if (fn % 2 === 1 || fn === sn) {
      root = await sha256(NODE_PREFIX, sibling, root);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      root = await sha256(NODE_PREFIX, root, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) {
    throw new Error('the inclusion proof is shorter than the tree needs');
  }
  return root;
}

// Parses the body of a C2SP signed note checkpoint: origin, size and root.
export function parseCheckpoint(note) {
  const [origin, sizeLine, rootLine] = note.split('\n');
  const size = Number(sizeLine);
  if (!origin || !Number.isSafeInteger(size) || !rootLine) {
    throw new Error('the checkpoint is not a signed note with origin, size and root');
  }
  return { origin, size, root: base64ToBytes(rootLine) };
}

// Returns the ledger's latest checkpoint and hash function, or the state
// every step gets when they cannot be read.
export async function ledgerAnchor() {
  const [key, note] = await Promise.all([api.ledgerKey(), api.ledgerCheckpoint()]);
  if (note === null) {
    return { status: 'pending' };
  }
  if (key.hash !== 'sha256') {
    return { status: 'unsupported', reason: key.hash };
  }
  return { status: 'ready', checkpoint: parseCheckpoint(note) };
}

// Checks that a ledger entry records this history step of task `taskId`.
function checkLeafMatchesStep(taskId, step) {
  const entry = JSON.parse(step.ledger_leaf);
  const record = entry.payload ?? {};
  if (entry.subject !== `task:${taskId}` || entry.kind !== `task.${step.action}`) {
    throw new Error(`the ledger entry records ${entry.kind} of ${entry.subject}, not this step`);
  }
  if (record.version !== step.version || record.action !== step.action || record.to !== step.to) {
    throw new Error('the ledger entry differs from the step shown');
  }
}

// Returns the verification of one history step: { status, reason? } with
// status verified, failed, pending (not yet in a signed checkpoint),
// unsupported or none (the step is older than the ledger).
export async function verifyStep(taskId, step, anchor) {
  if (step.ledger_index === null || step.ledger_index === undefined || !step.ledger_leaf) {
    return { status: 'none' };
  }
  if (anchor.status !== 'ready') {
    return anchor;
  }
  const { checkpoint } = anchor;
  if (step.ledger_index >= checkpoint.size) {
    return { status: 'pending' };
  }
  try {
    checkLeafMatchesStep(taskId, step);
    const proof = await api.ledgerInclusion(step.ledger_index, checkpoint.size);
    const leaf = await leafHash(step.ledger_leaf);
    if (!equalBytes(leaf, hexToBytes(proof.leaf_hash))) {
      throw new Error('the entry does not hash to the leaf the ledger stores');
    }
    const root = await rootFromInclusionProof(
      step.ledger_index,
      checkpoint.size,
      leaf,
      proof.path.map(hexToBytes),
    );
    if (!equalBytes(root, checkpoint.root)) {
      throw new Error(`the inclusion proof does not lead to the root of checkpoint ${checkpoint.size}`);
    }
    return { status: 'verified', size: checkpoint.size };
  } catch (error) {
    return { status: 'failed', reason: error.message };
  }
}
