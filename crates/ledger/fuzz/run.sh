#!/usr/bin/env bash
# Runs every fuzz target of the ledger crate for SECONDS seconds each.
# Usage: crates/ledger/fuzz/run.sh SECONDS
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
# Seeds are written below; crashes land in crates/ledger/fuzz/artifacts/.
set -euo pipefail

seconds="${1:?usage: crates/ledger/fuzz/run.sh SECONDS}"
cd "$(dirname "$0")"

mkdir -p corpus/signed_note corpus/keys corpus/proofs
# A checkpoint signed with Go's golang.org/x/mod/sumdb/note (transparency-dev test data).
printf 'example.com/log/testdata\n100270\nGRV1O0dCqmjjPvYi7CtOT79zb/fPwLNsMFWsynwU8Ac=\n\n\xe2\x80\x94 example.com/log/testdata M9e0lkcvy5bAe7rrC8tCyAP+my+CLzswA91zOpBNWVU7qCojkUOHnfdQzDImoYeYH8G8PJSwOqsx0RkSa261OmKVwwM=\n' \
    > corpus/signed_note/go-checkpoint
printf 'fuzz.example/ledger\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ntime 1764806400\n\n\xe2\x80\x94 fuzz.example/ledger AAAAAAAA\n' \
    > corpus/signed_note/time-extension
# A tlog-proof bundle around the same checkpoint (the path is not a real one).
printf 'c2sp.org/tlog-proof@v1\nextra AA==\nindex 3\nGRV1O0dCqmjjPvYi7CtOT79zb/fPwLNsMFWsynwU8Ac=\n\n' > corpus/signed_note/bundle
cat corpus/signed_note/go-checkpoint >> corpus/signed_note/bundle
printf 'example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx' > corpus/keys/go-verifier
printf 'PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg' \
    > corpus/keys/go-signer
head -c 200 /dev/zero > corpus/proofs/zeros

for target in signed_note keys proofs; do
    cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=4096
done
