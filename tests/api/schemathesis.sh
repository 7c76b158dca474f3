#!/usr/bin/env bash
# Fuzzes the HTTP API with schemathesis against a real `oversight serve`:
#
#   cargo build -p oversight && OVERSIGHT_BIN=target/debug/oversight tests/api/schemathesis.sh
#
# Schemathesis reads the OpenAPI document at /api/v1/openapi.json, sends
# generated requests to every operation and fails on a 5xx, a response that
# breaks its documented schema, status code or content type. The server runs
# on a fresh data directory with Fujian's areas and demo points imported, on
# free ports on 127.0.0.1. Every request carries the API token of a system
# administrator, so each operation runs with rights instead of stopping at
# 401. Before the run, seed.py creates one record of each kind: readings,
# alerts, quarantined uploads, a task with evidence, a silence, a department,
# an account and a spare API token. It writes a schemathesis configuration
# that fixes the path parameters of the operations on records to those ids,
# so they reach their handlers instead of stopping at 404. ST_MAX_EXAMPLES
# (default 25) bounds the requests per operation; the seed is fixed so a
# failure can be replayed. With ST_REPORT_DIR set, each run also writes a HAR
# file of its requests and responses there.
set -euo pipefail

if [[ -z "${OVERSIGHT_BIN:-}" ]]; then
  echo "error: OVERSIGHT_BIN is not set; build the binary and set it, such as OVERSIGHT_BIN=target/debug/oversight" >&2
  exit 2
fi
OVERSIGHT_BIN="$(realpath "$OVERSIGHT_BIN")"
if ! command -v curl >/dev/null; then
  echo "error: curl is missing; install it (apt-get install curl) to log in and create the API token" >&2
  exit 2
fi

# Pinned so that CI runs the same checks on every machine.
schemathesis_version=4.32.5
if ! command -v st >/dev/null || [[ "$(st --version)" != *"$schemathesis_version"* ]]; then
  echo "installing schemathesis $schemathesis_version with pip" >&2
  python3 -m pip install --quiet "schemathesis==$schemathesis_version"
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$OVERSIGHT_BIN" import --data-dir "$work/data" areas --builtin --province 35 >/dev/null
cat >"$work/points.csv" <<'CSV'
mn,name,area,st,password,interval_secs,limits
ST000000000001,outlet 1,350203001,32,123456,60,w01018::100:mg/L|w01001:6:9:
CSV
"$OVERSIGHT_BIN" import --data-dir "$work/data" points "$work/points.csv" >/dev/null

admin=schemathesis-admin
password="schemathesis password $RANDOM$RANDOM"
printf '%s\n' "$password" | "$OVERSIGHT_BIN" user add --admin "$admin" --data-dir "$work/data" >/dev/null

"$OVERSIGHT_BIN" serve --data-dir "$work/data" --http 127.0.0.1:0 --hj212 127.0.0.1:0 \
  --log-format json >"$work/server.log" 2>&1 &
server_pid=$!

# Prints the address that the server logged for the listener named by $1
# ("http" or "hj212"), or nothing while it has not logged it.
listening_address() {
  grep -o "\"message\":\"$1 listening\"[^}]*\"addr\":\"[^\"]*\"\|\"addr\":\"[^\"]*\"[^}]*\"message\":\"$1 listening\"" \
    "$work/server.log" | grep -o '"addr":"[^"]*"' | head -1 | cut -d'"' -f4 || true
}
address=
hj212_address=
for _ in $(seq 1 100); do
  address=$(listening_address http)
  hj212_address=$(listening_address hj212)
  [[ -n "$address" && -n "$hj212_address" ]] && break
  sleep 0.1
done
if [[ -z "$address" || -z "$hj212_address" ]]; then
  echo "error: oversight serve did not report its HTTP and HJ 212 addresses; its log:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

base="http://$address"

# Logs in as the administrator and creates an API token with all of its
# actions. The session's CSRF token goes with the token request.
login=$(python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' \
  "$admin" "$password")
csrf=$(curl --silent --show-error --fail-with-body --cookie-jar "$work/cookies" \
  --header 'Content-Type: application/json' --data "$login" "$base/api/v1/auth/login" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["csrf_token"])')
token=$(curl --silent --show-error --fail-with-body --cookie "$work/cookies" \
  --header 'Content-Type: application/json' --header "X-CSRF-Token: $csrf" \
  --data '{"name": "schemathesis", "expires_in_days": 1, "actions": []}' \
  "$base/api/v1/auth/tokens" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

python3 "$(dirname "$0")/seed.py" "$base" "$token" "$hj212_address" "$OVERSIGHT_BIN" "$work" \
  "$work/schemathesis.toml"

# The seeded configuration points the token revocation at the spare token.
# That operation still runs alone, after all the others, so that a change
# that lets it reach the run's own token cannot turn the rest into 401s.
revoke='DELETE /api/v1/auth/tokens/{id}'
# Runs schemathesis with the remaining arguments. When ST_REPORT_DIR is set,
# it also writes a HAR file of every request and response there, named by
# the first argument.
fuzz() {
  local report=()
  if [[ -n "${ST_REPORT_DIR:-}" ]]; then
    report=(--report har --report-har-path "$ST_REPORT_DIR/$1.har")
  fi
  shift
  st --config-file "$work/schemathesis.toml" run "$base/api/v1/openapi.json" \
    --url "$base" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "${ST_MAX_EXAMPLES:-25}" \
    --seed 20261204 \
    --no-color \
    "${report[@]}" \
    "$@"
}
status=0
fuzz operations --exclude-name "$revoke" || status=$?
fuzz revoke --include-name "$revoke" || status=$?
exit "$status"
