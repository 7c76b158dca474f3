#!/usr/bin/env bash
# Runs every fuzz target of the HJ 212 codec for SECONDS seconds each.
# Usage: fuzz/run.sh SECONDS
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
# Seeds come from data/hj212/samples-public.txt; crashes land in fuzz/artifacts/.
set -euo pipefail

seconds="${1:?usage: fuzz/run.sh SECONDS}"
cd "$(dirname "$0")"

seed_corpus() {
    local target="$1"
    local corpus="corpus/$target"
    mkdir -p "$corpus"
    local number=0
    while IFS= read -r line; do
        case "$line" in
            '# '* | '') continue ;;
        esac
        number=$((number + 1))
        if [ "$target" = framer ]; then
            # The control byte: 1 = 4096-byte maximum, HJ 212 CRC, 1-byte chunks.
            printf '\001%s\r\n' "$line" > "$corpus/sample-$number"
        else
            printf '%s' "${line#\#\#????}" > "$corpus/sample-$number"
        fi
    done < ../data/hj212/samples-public.txt
}

for target in framer segment; do
    seed_corpus "$target"
    cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=8192
done
