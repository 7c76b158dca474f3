// Checks task history steps against the ledger in the browser. Each step's
// ledger entry must hash to a leaf whose inclusion proof leads to the root of
// the latest checkpoint. That checkpoint must carry a valid signature of the
// ledger's verifier key.
//
// Hashing follows RFC 9162: leaf hash = H(0x00 || entry), node hash =
// H(0x01 || left || right), and the inclusion proof is checked with the
// algorithm of RFC 9162 section 2.1.3.2. H is SHA-256 from WebCrypto or SM3
// (GB/T 32905) from sm-crypto, as the ledger is configured. Checkpoints are
// C2SP signed notes, signed with Ed25519 (checked with WebCrypto) or SM2 with
// SM3 and the distinguishing ID 1234567812345678 (checked with sm-crypto).
// The verifier key comes from the same server, so a mark shows that the step
// is in a tree whose root that key signed. A witness's copy of the key and
// `oversight ledger verify` check more.
import smCrypto from 'sm-crypto';

import { api } from './api.js';

// sm-crypto is a CommonJS module, so its functions come from its default export.
const { sm2, sm3 } = smCrypto;

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

function concat(parts) {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const data = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.length;
  }
  return data;
}

async function sha256(...parts) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', concat(parts)));
}

function sm3Digest(...parts) {
  return hexToBytes(sm3(Array.from(concat(parts))));
}

// The ledger's hash functions by the name GET /ledger/key reports.
const HASHES = { sha256, sm3: sm3Digest };

// Returns the hash function named `name`, or throws for one the browser lacks.
export function hashFunction(name) {
  const hash = Object.hasOwn(HASHES, name) ? HASHES[name] : undefined;
  if (!hash) {
    throw new Error(`unknown ledger hash ${JSON.stringify(name)}: expected sha256 or sm3`);
  }
  return hash;
}

const LEAF_PREFIX = Uint8Array.of(0);
const NODE_PREFIX = Uint8Array.of(1);

// Returns the RFC 9162 leaf hash of a ledger entry's canonical encoding.
export async function leafHash(leafText, hash = sha256) {
  return hash(LEAF_PREFIX, encoder.encode(leafText));
}

// Returns the root that an inclusion proof of leaf `index` in a tree of
// `size` leaves leads to, or throws when the proof has the wrong length.
// Indexes stay below 2^53, so plain numbers and division suffice.
export async function rootFromInclusionProof(index, size, leaf, path, hash = sha256) {
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
      root = await hash(NODE_PREFIX, sibling, root);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      root = await hash(NODE_PREFIX, root, sibling);
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

const ED25519_TYPE = Uint8Array.of(0x01);
const SM2_TYPE = concat([Uint8Array.of(0xff), encoder.encode('SM2-with-SM3')]);
const SM2_DISTINGUISHING_ID = '1234567812345678';

function startsWith(bytes, prefix) {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}

// Parses a C2SP verifier key, name+keyid+base64(type || public key), into
// its name, 4-byte key ID, algorithm and public key.
// The base64 part may itself contain '+', so only the first two separate.
export function parseVerifierKey(text) {
  const match = typeof text === 'string' ? /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(text) : null;
  if (!match) {
    throw new Error(`invalid verifier key ${JSON.stringify(text)}: expected name+keyid+base64`);
  }
  const [, name, keyId, material] = match;
  const bytes = base64ToBytes(material);
  if (startsWith(bytes, ED25519_TYPE) && bytes.length === 33) {
    return { name, keyId: hexToBytes(keyId), algorithm: 'ed25519', publicKey: bytes.slice(1) };
  }
  if (startsWith(bytes, SM2_TYPE) && bytes.length === SM2_TYPE.length + 33) {
    return { name, keyId: hexToBytes(keyId), algorithm: 'sm2', publicKey: bytes.slice(SM2_TYPE.length) };
  }
  throw new Error(`verifier key ${name} has a signature type the browser cannot check`);
}

function bytesToHex(bytes) {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

async function signatureValid(key, text, signature) {
  if (key.algorithm === 'ed25519') {
    const publicKey = await crypto.subtle.importKey('raw', key.publicKey, { name: 'Ed25519' }, false, [
      'verify',
    ]);
    return crypto.subtle.verify({ name: 'Ed25519' }, publicKey, signature, text);
  }
  return sm2.doVerifySignature(Array.from(text), bytesToHex(signature), bytesToHex(key.publicKey), {
    hash: true,
    userId: SM2_DISTINGUISHING_ID,
  });
}

// Returns the checkpoint a signed note signs, once a signature line of `key`
// (as parseVerifierKey returns it) verifies. Throws when none does.
export async function verifyCheckpoint(note, key) {
  const split = note.indexOf('\n\n');
  if (split < 0) {
    throw new Error('the checkpoint has no signature lines');
  }
  const text = encoder.encode(note.slice(0, split + 1));
  const lines = note.slice(split + 2).split('\n').filter((line) => line !== '');
  for (const line of lines) {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match || match[1] !== key.name) {
      continue;
    }
    const signed = base64ToBytes(match[2]);
    if (signed.length < 5 || !equalBytes(signed.slice(0, 4), key.keyId)) {
      continue;
    }
    if (await signatureValid(key, text, signed.slice(4))) {
      return parseCheckpoint(note);
    }
    throw new Error(`the checkpoint's signature by ${key.name} does not verify`);
  }
  throw new Error(`the checkpoint carries no signature by ${key.name}`);
}

// Returns the ledger's latest checkpoint, once its signature verifies, and
// the hash function of its tree. When they cannot be read or checked, returns
// the state every step gets instead.
export async function ledgerAnchor() {
  const [key, note] = await Promise.all([api.ledgerKey(), api.ledgerCheckpoint()]);
  if (note === null) {
    return { status: 'pending' };
  }
  if (!Object.hasOwn(HASHES, key.hash)) {
    return { status: 'unsupported', reason: key.hash };
  }
  try {
    const checkpoint = await verifyCheckpoint(note, parseVerifierKey(key.verifier_key));
    return { status: 'ready', checkpoint, hash: hashFunction(key.hash) };
  } catch (error) {
    return { status: 'failed', reason: error.message };
  }
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
  const { checkpoint, hash } = anchor;
  if (step.ledger_index >= checkpoint.size) {
    return { status: 'pending' };
  }
  try {
    checkLeafMatchesStep(taskId, step);
    const proof = await api.ledgerInclusion(step.ledger_index, checkpoint.size);
    const leaf = await leafHash(step.ledger_leaf, hash);
    if (!equalBytes(leaf, hexToBytes(proof.leaf_hash))) {
      throw new Error('the entry does not hash to the leaf the ledger stores');
    }
    const root = await rootFromInclusionProof(
      step.ledger_index,
      checkpoint.size,
      leaf,
      proof.path.map(hexToBytes),
      hash,
    );
    if (!equalBytes(root, checkpoint.root)) {
      throw new Error(`the inclusion proof does not lead to the root of checkpoint ${checkpoint.size}`);
    }
    return { status: 'verified', size: checkpoint.size };
  } catch (error) {
    return { status: 'failed', reason: error.message };
  }
}
