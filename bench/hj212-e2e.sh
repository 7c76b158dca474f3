#!/usr/bin/env bash
# End-to-end HJ 212 ingestion benchmark.
#
# Builds the release binary, starts `oversight serve` on a fresh data
# directory, registers the simulator's points, runs `oversight simulate
# hj212` against it and prints readings stored per second and the p99
# acknowledgement latency. Everything listens on 127.0.0.1.
#
# Settings (environment variables):
#   CONNECTIONS  simulated dataloggers, one TCP connection each (default 1000)
#   RATE         real-time uploads per second per connection, 10 readings
#                each; 0 sends as fast as MAX_IN_FLIGHT allows (default 20)
#   MAX_IN_FLIGHT uploads a connection may send before waiting for their
#                acknowledgements (default 16)
#   DURATION     seconds the simulator runs (default 30)
#   EXCEEDANCE_SHARE share of values, 0 to 1, sent above their upper limit
#                (default 0). Above 0 the run also reports the detection
#                latency: the time from a reading's receipt until its alert is
#                stored and handed to notification delivery.
#   HJ212_PORT, HTTP_PORT  ports on 127.0.0.1 (default: free ports)
#   KEEP_DATA=1  keep the data directory and logs after the run
#
# Output: the simulator's final report as text and JSON, the server's
# readings-stored counter, and a summary line.

set -euo pipefail

CONNECTIONS=${CONNECTIONS:-1000}
RATE=${RATE:-20}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-16}
DURATION=${DURATION:-30}
EXCEEDANCE_SHARE=${EXCEEDANCE_SHARE:-0}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
HJ212_PORT=${HJ212_PORT:-$(free_port)}
HTTP_PORT=${HTTP_PORT:-$(free_port)}
AREA=350203

root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d "${TMPDIR:-/tmp}/oversight-hj212-e2e.XXXXXX")
server_pid=""

cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" || true
    fi
    if [[ "${KEEP_DATA:-0}" != 1 ]]; then
        rm -rf "$work"
    else
        echo "data and logs kept in $work" >&2
    fi
}
trap cleanup EXIT

# 1,000 client and 1,000 server sockets need more than the common soft
# limit of 1,024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "building the release binary" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p oversight
oversight="$target_dir/release/oversight"

data="$work/data"
echo "registering areas and $CONNECTIONS simulated points in $data" >&2
"$oversight" --log-level warn import --data-dir "$data" areas --builtin --province 35 >/dev/null
"$oversight" --log-level warn simulate hj212 --connections "$CONNECTIONS" --rate "$RATE" \
    --write-points "$work/points.csv" --area "$AREA"
"$oversight" --log-level warn import --data-dir "$data" points "$work/points.csv" >/dev/null

echo "starting the server" >&2
# Every simulated datalogger connects from 127.0.0.1, so the per-address
# connection cap is raised to let all of them in.
OVERSIGHT_HJ212__MAX_CONNECTIONS_PER_ADDRESS=$((CONNECTIONS + 100)) "$oversight" --log-level warn serve --data-dir "$data" \
    --http "127.0.0.1:$HTTP_PORT" --hj212 "127.0.0.1:$HJ212_PORT" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$HJ212_PORT") 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "server exited; its log:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    sleep 0.1
done

stored_counter() {
    curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" |
        awk '$1 == "oversight_hj212_readings_stored_total" { print $2 }'
}
stored_before=$(stored_counter)
stored_before=${stored_before:-0}

# CPU seconds (user + system) the server has used, from /proc.
server_cpu() {
    awk -v ticks="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / ticks }' "/proc/$server_pid/stat"
}
cpu_before=$(server_cpu)

echo "simulating $CONNECTIONS dataloggers at $RATE uploads/s each for ${DURATION}s" >&2
/usr/bin/time -o "$work/simulate.time" -f "%U %S" \
    "$oversight" --log-level warn simulate hj212 --target "127.0.0.1:$HJ212_PORT" \
    --connections "$CONNECTIONS" --rate "$RATE" --max-in-flight "$MAX_IN_FLIGHT" \
    --exceedance-share "$EXCEEDANCE_SHARE" \
    --duration "$DURATION" --report-interval 5 --json >"$work/reports.jsonl"

# The server keeps latency quantiles over its last minute, so they are read
# before it stops.
curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" |
    awk '$1 ~ /^oversight_detection_latency_seconds/' >"$work/detection.txt"

stored_after=$(stored_counter)
stored_after=${stored_after:-0}
cpu_after=$(server_cpu)
tail -n 1 "$work/reports.jsonl"

python3 - "$work/reports.jsonl" "$stored_before" "$stored_after" "$cpu_before" "$cpu_after" \
    "$work/simulate.time" "$work/detection.txt" <<'PY'
import json
import sys

lines = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
final = lines[-1]
stored = float(sys.argv[3]) - float(sys.argv[2])
span = final["span_secs"]
latency = final["latency_ms"]
print(
    f"connections open at end {final['connections_open']}, "
    f"uploads {final['uploads_sent']}, acks {final['acks']}, "
    f"ack timeouts {final['ack_timeouts']}, unacknowledged at end {final['unacknowledged_at_end']}, "
    f"connection errors {final['connection_errors']}"
)
print(f"readings sent/s {final['readings_per_sec']:.0f}")
print(f"readings stored/s {stored / span:.0f} (server counter, {stored:.0f} readings in {span:.1f} s)")
print(
    f"ack latency ms p50 {latency['p50']:.2f} p90 {latency['p90']:.2f} "
    f"p99 {latency['p99']:.2f} max {latency['max']:.2f}"
)
# CPU time is less distorted than wall time when other processes share the machine.
server_cpu = float(sys.argv[5]) - float(sys.argv[4])
user, system = (float(value) for value in open(sys.argv[6]).read().split()[-2:])
if stored > 0:
    print(
        f"server CPU {server_cpu:.1f} s, {server_cpu / stored * 1e6:.2f} us per stored reading; "
        f"simulator CPU {user + system:.1f} s"
    )
detection = {}
for line in open(sys.argv[7]):
    name, value = line.split()
    detection[name] = float(value)
count = detection.get("oversight_detection_latency_seconds_count", 0)
if count:
    key = 'oversight_detection_latency_seconds{quantile="%s"}'
    quantiles = " ".join(
        f"{label} {detection[key % q] * 1e3:.1f}"
        for label, q in (("p50", "0.5"), ("p90", "0.9"), ("p99", "0.99"), ("max", "1"))
    )
    print(f"detection latency ms (last minute) {quantiles}; {count:.0f} triggering uploads in all")
PY
