#!/usr/bin/env bash
# Runs the partner example end to end against a fresh `haven up`: a temporary data directory, a port the
# system picks, a partner client registered with the CLI, three children a caseworker registers and
# refers to the partner's agency with their consent (over REST, with a token from `haven token`), then
# partner_client.py, whose exit status is this script's. While the client waits for webhooks, the
# caseworker updates a referred child, so one is delivered. Everything it started is stopped and removed.
#
#   bash examples/partner/run.sh            # HAVEN_BIN=path/to/haven to use a built binary
#
# The example's packages come from PyPI at the versions in requirements.txt, into a venv outside the
# repository (${HAVEN_CACHE:-~/.cache/haven}/partner-venv), made again when the pins change.
set -euo pipefail
cd "$(dirname "$0")"
EXAMPLE_DIR="$(pwd)"
REPO="$(cd ../.. && pwd)"

log() { printf 'partner example: %s\n' "$*"; }

HAVEN_BIN="${HAVEN_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/debug/haven}"
if [ ! -x "$HAVEN_BIN" ]; then
  log "building the haven binary"
  (cd "$REPO" && cargo build --quiet -p haven-cli --bin haven)
fi

VENV="${HAVEN_CACHE:-$HOME/.cache/haven}/partner-venv"
STAMP="$VENV/.haven-pins"
PINS="$(grep -v '^#' requirements.txt | tr '\n' ' ')"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$PINS" ]; then
  log "preparing $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  printf '%s' "$PINS" >"$STAMP"
fi
PYTHON="$VENV/bin/python"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/haven-partner-example.XXXXXX")"
HAVEN_PID=""
CLIENT_PID=""
cleanup() {
  if [ -n "$CLIENT_PID" ]; then
    kill "$CLIENT_PID" 2>/dev/null || true
  fi
  if [ -n "$HAVEN_PID" ]; then
    kill "$HAVEN_PID" 2>/dev/null || true
    wait "$HAVEN_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The example runs on the embedded default whatever the caller's environment says.
unset HAVEN_REDIS_URL HAVEN_IDENTITY__DATABASE_URL HAVEN_FAMILY_TRACING__DATABASE_URL \
  HAVEN_LEARNING__DATABASE_URL HAVEN_AUTH__JWKS_PATH HAVEN_JWKS_PATH 2>/dev/null || true

log "registering the partner client ngo-app (agency ngo-1)"
CLIENTS="$WORK/clients.toml"
SECRET="$("$HAVEN_BIN" client add --id ngo-app --agency ngo-1 --role partner --clients "$CLIENTS" 2>/dev/null)"

log "starting haven up in $WORK/data"
HAVEN_AUTH__CLIENTS_PATH="$CLIENTS" "$HAVEN_BIN" up --data-dir "$WORK/data" --listen 127.0.0.1:0 \
  >"$WORK/haven.log" 2>&1 &
HAVEN_PID=$!
ADDR=""
for _ in $(seq 1 600); do
  ADDR="$(sed -n 's/^haven: gateway listening on //p' "$WORK/haven.log" | head -1)"
  [ -n "$ADDR" ] && break
  kill -0 "$HAVEN_PID" 2>/dev/null || { cat "$WORK/haven.log" >&2; exit 1; }
  sleep 0.1
done
if [ -z "$ADDR" ]; then
  log "haven up did not start"; cat "$WORK/haven.log" >&2; exit 1
fi
BASE="http://$ADDR"
log "gateway at $BASE"

CASEWORKER="$("$HAVEN_BIN" token --data-dir "$WORK/data" --role caseworker --sub cw-example \
  --agency agency-a --ttl 10m 2>/dev/null | tail -1)"

# POST a JSON body as the caseworker; prints the answer, fails on any HTTP error.
post() {
  curl -sS --fail-with-body -X POST "$BASE$1" -H "Authorization: Bearer $CASEWORKER" \
    -H "Content-Type: application/json" -H "Idempotency-Key: $2" -d "$3"
}
json_field() { "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)'"$1"')'; }

log "a caseworker registers three generated children and refers each to ngo-1 with consent"
for n in 1 2 3; do
  child="$(post /v1/children "example-child-$n" '{"child": {
    "identity": {"givenName": "Example'"$n"'", "familyName": "Generated"},
    "protection": {"riskLevel": "RISK_LEVEL_MEDIUM",
                   "consent": {"consentForServices": true, "disclosureToOtherOrgs": true}}}}')"
  child_id="$(printf '%s' "$child" | json_field '["child"]["meta"]["id"]')"
  post /v1/referrals "example-referral-$n" '{"childId": "'"$child_id"'", "toAgency": "ngo-1",
    "service": "psychosocial support", "kind": "REFERRAL_KIND_SERVICE",
    "sharedClasses": ["DATA_CLASS_IDENTITY", "DATA_CLASS_PROTECTION"]}' >/dev/null
done

log "running partner_client.py (pages of two, so pagination is followed; then webhooks)"
# oauthlib refuses plain http, rightly; `haven up` on loopback has no TLS, so this run (and only this
# run) allows it. Against a deployment, leave OAUTHLIB_INSECURE_TRANSPORT unset.
OAUTHLIB_INSECURE_TRANSPORT=1 HAVEN_URL="$BASE" HAVEN_CLIENT_ID=ngo-app HAVEN_CLIENT_SECRET="$SECRET" \
  "$PYTHON" -u "$EXAMPLE_DIR/partner_client.py" --page-size 2 --expect-cases 3 \
  --wait-for-webhooks 60 >"$WORK/client.log" 2>&1 &
CLIENT_PID=$!
for _ in $(seq 1 600); do
  grep -q '^waiting for webhooks' "$WORK/client.log" && break
  kill -0 "$CLIENT_PID" 2>/dev/null || break
  sleep 0.1
done

log "the caseworker updates the last referred child, with the ETag it read as If-Match"
etag="$(curl -sS --fail-with-body -D - -o /dev/null "$BASE/v1/children/$child_id" \
  -H "Authorization: Bearer $CASEWORKER" | tr -d '\r' | sed -n 's/^etag: //Ip')"
curl -sS --fail-with-body -o /dev/null -X PATCH "$BASE/v1/children/$child_id" \
  -H "Authorization: Bearer $CASEWORKER" -H "Content-Type: application/json" -H "If-Match: $etag" \
  -d '{"child": {"protection": {"riskLevel": "RISK_LEVEL_HIGH"}}, "updateMask": "protection.riskLevel"}'

status=0
wait "$CLIENT_PID" || status=$?
cat "$WORK/client.log"
if [ "$status" != 0 ]; then
  log "failed (exit $status)"
  exit "$status"
fi
log "passed"
