#!/usr/bin/env bash
# Authenticated GetChild through the gateway versus straight to the identity service, on SQLite, with
# gateway, identity and load generator as separate processes on this machine. Prints haven-load's report
# for each run; BENCHMARKS.md quotes them.
#
#   tests/bench/gateway_overhead.sh [seconds] [concurrency] [rounds]
#
# With BASELINE_HAVEN=/path/to/an/older/haven, a second gateway from that binary serves the same identity
# service on port 50152, and each round measures the new gateway, the baseline gateway and the direct path
# back to back, so the comparison shares one machine state (A/B, alternating).
#
# With REST=1, each round also sends the same GetChild as REST (`GET /v1/children/{id}`, HTTP/1.1 with
# kept-alive connections, one per concurrent caller) through the same gateway, between the gRPC run and
# the direct one: the gateway's CPU per request over REST beside over gRPC.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN="${1:-20}"
CONCURRENCY="${2:-64}"
ROUNDS="${3:-1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/haven/target}"
# HAVEN and HAVEN_LOAD name prebuilt binaries (tests/bench/build_cost.sh keeps release builds); without
# them the script builds both in release.
if [ -z "${HAVEN:-}" ] || [ -z "${HAVEN_LOAD:-}" ]; then
  cargo build --release -q -p haven-cli -p haven-tests --bin haven --bin haven-load
fi
HAVEN="${HAVEN:-$CARGO_TARGET_DIR/release/haven}"
HAVEN_LOAD="${HAVEN_LOAD:-$CARGO_TARGET_DIR/release/haven-load}"

DATA="$(mktemp -d)"
cleanup() {
  kill "${GATEWAY_PID:-}" "${BASELINE_PID:-}" "${IDENTITY_PID:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$DATA" 2>/dev/null || true
}
trap cleanup EXIT

export HAVEN_DATA_DIR="$DATA" HAVEN_LOG=warn
export HAVEN_IDENTITY_LISTEN=127.0.0.1:50161 HAVEN_GATEWAY_LISTEN=127.0.0.1:50151
export HAVEN_IDENTITY_URL=http://127.0.0.1:50161
export HAVEN_RATE_LIMIT_PER_SECOND=10000000 HAVEN_RATE_LIMIT_BURST=10000000
"$HAVEN" keygen --out "$DATA/master.key" >/dev/null
export HAVEN_MASTER_KEY_PATH="$DATA/master.key"
TOKEN="$("$HAVEN" token --role caseworker --sub bench-cw --agency bench-agency --ttl 1h 2>/dev/null | tail -1)"

"$HAVEN" serve identity >/dev/null & IDENTITY_PID=$!
"$HAVEN" serve gateway >/dev/null & GATEWAY_PID=$!
PIDS=(--pid gateway="$GATEWAY_PID" --pid identity="$IDENTITY_PID")
if [ -n "${BASELINE_HAVEN:-}" ]; then
  HAVEN_GATEWAY_LISTEN=127.0.0.1:50152 "$BASELINE_HAVEN" serve gateway >/dev/null & BASELINE_PID=$!
  PIDS+=(--pid baseline-gateway="$BASELINE_PID")
fi
sleep 1

ID="$("$HAVEN_LOAD" register --target http://127.0.0.1:50151 --token "$TOKEN")"
echo "# child $ID; $(nproc) cores; $(date -u +%FT%TZ); $ROUNDS round(s) of ${SECONDS_PER_RUN}s"

load() {
  "$HAVEN_LOAD" "${2:-get}" --target "$1" --token "$TOKEN" --id "$ID" \
    --seconds "$SECONDS_PER_RUN" --concurrency "$CONCURRENCY" "${PIDS[@]}"
}

for round in $(seq 1 "$ROUNDS"); do
  echo "## round $round: through the gateway"
  load http://127.0.0.1:50151
  if [ -n "${BASELINE_HAVEN:-}" ]; then
    echo "## round $round: through the baseline gateway ($BASELINE_HAVEN)"
    load http://127.0.0.1:50152
  fi
  if [ -n "${REST:-}" ]; then
    echo "## round $round: through the gateway over REST (HTTP/1.1)"
    load http://127.0.0.1:50151 rest-get
  fi
  echo "## round $round: straight to the identity service"
  load http://127.0.0.1:50161
done
