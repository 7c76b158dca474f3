#!/usr/bin/env python3
"""Independent check of the ledger crate's output.

Reads the JSON that tests/crosscheck.rs writes and checks it with code that shares
nothing with the crate. Hashes come from Python's hashlib (OpenSSL, SHA-256 and SM3).
Roots and proofs come from the RFC 9162 recursions, and verification follows the RFC 9162
step lists literally. Ed25519 note signatures are checked with the `cryptography` package,
and SM2 signatures with the `openssl` command (OpenSSL 3).

Usage: crosscheck.py FILE.json. Prints one line per check group and
"N passed, N failed" at the end, and exits non-zero on any failure.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def hash_function(name):
    return lambda data: hashlib.new(name, data).digest()


def split(n):
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth(leaves, h):
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = split(len(leaves))
    return h(b"\x01" + mth(leaves[:k], h) + mth(leaves[k:], h))


def path(m, leaves, h):
    if len(leaves) <= 1:
        return []
    k = split(len(leaves))
    if m < k:
        return path(m, leaves[:k], h) + [mth(leaves[k:], h)]
    return path(m - k, leaves[k:], h) + [mth(leaves[:k], h)]


def subproof(m, leaves, complete, h):
    if m == len(leaves):
        return [] if complete else [mth(leaves, h)]
    k = split(len(leaves))
    if m <= k:
        return subproof(m, leaves[:k], complete, h) + [mth(leaves[k:], h)]
    return subproof(m - k, leaves[k:], False, h) + [mth(leaves[:k], h)]


def node(h, left, right):
    return h(b"\x01" + left + right)


def verify_inclusion(h, index, size, leaf_hash, proof, root):
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(h, p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(h, r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(h, first, second, first_hash, second_hash, proof):
    """RFC 9162 section 2.1.4.2, step by step, rejecting a first size of 0."""
    if first == 0 or first > second:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(h, c, fr)
            sr = node(h, c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(h, sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, description):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAILED: {description}")


def check_log(log, tally):
    name = log["hasher"]
    h = hash_function(name)
    leaves = [bytes.fromhex(leaf) for leaf in log["leaves"]]
    hexes = lambda hashes: [bytes.fromhex(x) for x in hashes]
    roots = [mth(leaves[:size], h) for size in range(len(leaves) + 1)]
    for size, root in enumerate(log["roots"]):
        tally.check(bytes.fromhex(root) == roots[size], f"{name} root of size {size}")
    for proof in log["inclusion"]:
        index, size, ours = proof["index"], proof["size"], hexes(proof["path"])
        leaf_hash = h(b"\x00" + leaves[index])
        tally.check(ours == path(index, leaves[:size], h), f"{name} inclusion {index}/{size} differs")
        ok = verify_inclusion(h, index, size, leaf_hash, ours, roots[size])
        tally.check(ok, f"{name} inclusion {index}/{size} rejected")
    for proof in log["consistency"]:
        first, second, ours = proof["first"], proof["second"], hexes(proof["path"])
        expected = subproof(first, leaves[:second], True, h)
        tally.check(ours == expected, f"{name} consistency {first}->{second} differs")
        ok = verify_consistency(h, first, second, roots[first], roots[second], ours)
        tally.check(ok, f"{name} consistency {first}->{second} rejected")
    print(f"{name}: {len(log['inclusion'])} inclusion and {len(log['consistency'])} consistency proofs compared")


def key_id(name, signature_type, public_key):
    digest = hashlib.sha256(name.encode() + b"\n" + signature_type + public_key).digest()
    return digest[:4]


def parse_vkey(vkey):
    name, key_hash, material = vkey.split("+", 2)
    material = base64.b64decode(material)
    return name, bytes.fromhex(key_hash), material[:1], material[1:]


def check_note(note, tally):
    """Verifies every Ed25519 (0x01) and cosignature/v1 (0x04) line of a signed note."""
    text, signatures = note["note"].rsplit("\n\n", 1)
    text += "\n"
    keys = [parse_vkey(vkey) for vkey in note["ed25519_keys"]]
    verified = 0
    for line in signatures.splitlines():
        dash, name, encoded = line.split(" ")
        tally.check(dash == "\u2014", f"signature line starts with an em dash: {line!r}")
        raw = base64.b64decode(encoded)
        for key_name, key_hash, signature_type, public_key in keys:
            if key_name != name or raw[:4] != key_hash:
                continue
            tally.check(key_id(name, signature_type, public_key) == key_hash, f"key ID of {name}")
            signature, message = raw[4:], text.encode()
            if signature_type == b"\x04":
                timestamp = int.from_bytes(signature[:8], "big")
                message = f"cosignature/v1\ntime {timestamp}\n".encode() + message
                signature = signature[8:]
            try:
                Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
                verified += 1
            except InvalidSignature:
                tally.check(False, f"signature by {name} does not verify")
    tally.check(verified == len(keys), f"{verified} of {len(keys)} Ed25519 signatures verified")
    print(f"note: {verified} Ed25519 signatures verified")


SM2_TYPE = b"\xffSM2-with-SM3"
SM2_DISTINGUISHING_ID = "1234567812345678"


def der_integer(value):
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value
    return b"\x02" + bytes([len(value)]) + value


def der_signature(raw):
    """Encodes a 64-byte r || s signature as the DER SEQUENCE OpenSSL expects."""
    body = der_integer(raw[:32]) + der_integer(raw[32:])
    return b"\x30" + bytes([len(body)]) + body


def compressed_point(public_key_pem):
    """Returns the 33-byte compressed SEC1 point of an SM2 SubjectPublicKeyInfo."""
    lines = [line for line in public_key_pem.splitlines() if not line.startswith("-----")]
    point = base64.b64decode("".join(lines))[-65:]
    assert point[0] == 4, "the SubjectPublicKeyInfo ends with an uncompressed point"
    return bytes([2 + (point[64] & 1)]) + point[1:33]


def openssl_sm2_verify(public_key_pem, message, raw_signature):
    with tempfile.TemporaryDirectory() as directory:
        paths = {name: os.path.join(directory, name) for name in ("key.pem", "message", "sig.der")}
        with open(paths["key.pem"], "w", encoding="ascii") as file:
            file.write(public_key_pem)
        with open(paths["message"], "wb") as file:
            file.write(message)
        with open(paths["sig.der"], "wb") as file:
            file.write(der_signature(raw_signature))
        command = [
            "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths["key.pem"], "-rawin",
            "-in", paths["message"], "-sigfile", paths["sig.der"], "-digest", "sm3",
            "-pkeyopt", f"distid:{SM2_DISTINGUISHING_ID}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        return result.returncode == 0 and "Verified Successfully" in result.stdout


def check_sm2_note(note, tally):
    """Checks the key ID scheme and verifies the SM2 line of a signed note with OpenSSL."""
    text, signatures = note["note"].rsplit("\n\n", 1)
    text = (text + "\n").encode()
    point = compressed_point(note["public_key_pem"])
    expected_id = key_id(note["name"], SM2_TYPE, point)
    verified = 0
    for line in signatures.splitlines():
        _, name, encoded = line.split(" ")
        raw = base64.b64decode(encoded)
        if name != note["name"]:
            continue
        tally.check(raw[:4] == expected_id, f"SM2 key ID of {name}")
        tally.check(len(raw) == 4 + 64, f"SM2 signature of {name} is 64 bytes")
        ok = openssl_sm2_verify(note["public_key_pem"], text, raw[4:])
        tally.check(ok, f"OpenSSL verifies the SM2 signature by {name}")
        tampered = openssl_sm2_verify(note["public_key_pem"], text + b"x", raw[4:])
        tally.check(not tampered, "OpenSSL rejects the SM2 signature over altered text")
        verified += ok
    tally.check(verified == 1, f"{verified} SM2 signatures verified, expected 1")
    print(f"sm2 note: {verified} signature verified by OpenSSL")


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        data = json.load(file)
    tally = Tally()
    for log in data["logs"]:
        check_log(log, tally)
    for note in data["notes"]:
        check_note(note, tally)
    for note in data["sm2_notes"]:
        check_sm2_note(note, tally)
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
