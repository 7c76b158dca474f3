#!/usr/bin/env bash
# Runs the dashboard browser test against a built oversight binary:
#
#   cargo build -p oversight && OVERSIGHT_BIN=target/debug/oversight tests/browser/run.sh
#
# Installs what the test needs when it is missing: Debian's Chromium and a CJK
# font (so the zh-CN screenshot shows characters), playwright-core from
# package-lock.json, and the OpenID provider of ../oidc-provider (npm ci).
# Screenshots go to tests/browser/screenshots/.
set -euo pipefail

if [[ -z "${OVERSIGHT_BIN:-}" ]]; then
  echo "error: OVERSIGHT_BIN is not set; build the binary and set it, such as OVERSIGHT_BIN=target/debug/oversight" >&2
  exit 2
fi
OVERSIGHT_BIN="$(realpath "$OVERSIGHT_BIN")"
if [[ ! -x "$OVERSIGHT_BIN" ]]; then
  echo "error: OVERSIGHT_BIN=$OVERSIGHT_BIN is not an executable file; build it with cargo build -p oversight" >&2
  exit 2
fi
export OVERSIGHT_BIN

packages=()
[[ -x /usr/bin/chromium ]] || packages+=(chromium)
command -v fc-list >/dev/null && [[ -n "$(fc-list :lang=zh family)" ]] || packages+=(fonts-noto-cjk)
if (( ${#packages[@]} )); then
  echo "installing ${packages[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
npm ci --no-audit --no-fund --silent --prefix ../oidc-provider
node --test --test-reporter=spec dashboard.test.js
