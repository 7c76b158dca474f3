#!/usr/bin/env bash
# Builds the dashboard into web/dist, which the server embeds. The output is
# committed, so building needs npm only when the sources change.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
