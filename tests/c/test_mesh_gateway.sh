#!/usr/bin/env bash
# The C example gateway (examples/c/mesh_gateway.c) over real HTTP, as a client and a partner
# see it: runbeam-devcloud, radiology-dept's ingress gateway registered as the URL of its
# ingress `dicomweb`, ai-analytics' egress gateway forwarding to it, curl as the client.
# Checks the studies through the mesh, every refusal with its status, headers and body (401 +
# WWW-Authenticate, 403, 400, 404, 405, 503 + Retry-After from the SDK; 502 from the gateway
# when the partner is down), the mesh guard straight at the ingress (another mesh, another
# destination, a user JWT), a change published in the Cloud reaching a watching gateway, one
# line per request and no token in any output, and a clean exit on SIGTERM (with the
# ASan/UBSan build, leaks and memory errors fail the exit status).
#
# Usage: test_mesh_gateway.sh <runbeam-devcloud> <mesh_gateway>   (from the repository root)
set -uo pipefail

DEVCLOUD=${1:?usage: $0 <runbeam-devcloud> <mesh_gateway>}
GATEWAY=${2:?usage: $0 <runbeam-devcloud> <mesh_gateway>}
ALICE='1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7'
BOB='2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'
DICOMWEB_INGRESS_ID=01JDW14DR9GPQY77ZXYYK596NG
# The mesh id in the tokens the Cloud issues: the configuration's mesh `id`, else its name
# (radiology-dept.toml sets none).
MESH_ID=imaging-integration
INVALID_TOKEN='WWW-Authenticate: Bearer error="invalid_token"'
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
  failed=$((failed + 1))
  echo "FAIL: $*" >&2
}

work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME SANCTUM ARGS...: a gateway with its own home; sets URL and PID.
start() {
  local name=$1 sanctum=$2
  shift 2
  mkdir -p "$work/$name"
  RUNBEAM_HOME="$work/$name" RUNBEAM_SANCTUM_TOKEN="$sanctum" "$GATEWAY" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  URL=
  for _ in $(seq 1 300); do
    URL=$(sed -n 's|^listening \(http://127\.0\.0\.1:[0-9]*\)$|\1|p' "$work/$name.out")
    [ -n "$URL" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  bad "$name did not start"
  cat "$work/$name.out" "$work/$name.err" >&2
  exit 1
}

# stop NAME PID: SIGTERM; the exit status must be 0 (no leak, no sanitizer report).
stop() {
  kill -TERM "$2"
  wait "$2"
  local rc=$?
  if [ "$rc" = 0 ]; then ok; else
    bad "$1 exited with $rc after SIGTERM"
    cat "$work/$1.err" >&2
  fi
}

mint() {
  curl -sf -m 10 -X POST -H 'content-type: application/json' -d "$1" "$CLOUD/_dev/jwt" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}

# expect STATUS WHAT CURL-ARGS...: one request; the status, and on a refusal the headers a
# client relies on. The answer is left in $work/head and $work/body.
expect() {
  local want=$1 what=$2
  shift 2
  local got
  got=$(curl -s -m 30 -D "$work/head" -o "$work/body" -w '%{http_code}' "$@")
  if [ "$got" != "$want" ]; then
    bad "$what: expected $want, got $got: $(head -c 300 "$work/body")"
    return
  fi
  ok
  case $want in
    401) grep -qiF "$INVALID_TOKEN" "$work/head" && grep -qxF '{"error":"invalid_token"}' "$work/body" ||
      bad "$what: 401 without the WWW-Authenticate header or body" ;;
    503) grep -qi '^Retry-After: [1-9]' "$work/head" && grep -qxF '{"error":"unavailable"}' "$work/body" ||
      bad "$what: 503 without Retry-After or body" ;;
    *) ! grep -qi '^WWW-Authenticate' "$work/head" || bad "$what: WWW-Authenticate on a $want" ;;
  esac
}

body_has() {
  if grep -qF -- "$1" "$work/body"; then ok; else bad "$2: the body lacks $1: $(head -c 300 "$work/body")"; fi
}

# ------------------------------------------------------------------------------ start-up
"$DEVCLOUD" --listen 127.0.0.1:0 >"$work/devcloud.out" 2>"$work/devcloud.err" &
pids+=($!)
for _ in $(seq 1 100); do
  CLOUD=$(head -n 1 "$work/devcloud.out")
  [ -n "$CLOUD" ] && break
  sleep 0.05
done
[ -n "$CLOUD" ] || { echo "devcloud did not start" >&2; exit 1; }

start radiology "$ALICE" ingress examples/config/radiology-dept.toml "$CLOUD"
RAD=$URL RAD_PID=$PID
curl -sf -m 10 -X PATCH -H "Authorization: Bearer $ALICE" -H 'content-type: application/json' \
  -d "{\"urls\": [\"$RAD\"], \"protocol\": \"http\"}" "$CLOUD/api/ingresses/$DICOMWEB_INGRESS_ID" >/dev/null &&
  ok || bad "PATCH of the ingress URL"
start analytics "$BOB" egress examples/config/ai-analytics.toml "$CLOUD"
AI=$URL AI_PID=$PID

JWT=$(mint '{"email": "bob@analytics.example.com"}')
EXPIRED=$(mint '{"email": "bob@analytics.example.com", "ttl_secs": -3600}')
UNTRUSTED=$(mint '{"email": "bob@analytics.example.com", "claims": {"iss": "https://evil.example.com/api"}}')
[ -n "$JWT" ] && [ -n "$EXPIRED" ] && [ -n "$UNTRUSTED" ] && ok || bad "minting user JWTs"

# ------------------------------------------------------------- through the egress gateway
expect 200 "healthz" "$AI/healthz"
body_has '{"status":"ok"}' "healthz"
expect 200 "studies through the mesh" -H "Authorization: Bearer $JWT" "$AI/imaging/studies"
grep -qi '^Content-Type: application/dicom+json' "$work/head" && ok || bad "studies: the content type"
[ "$(grep -o '"0020000D"' "$work/body" | wc -l)" = 3 ] && ok || bad "studies: 3 expected"
UID1=$(sed -n 's/^\[{"0020000D":{"vr":"UI","Value":\["\([0-9.]*\)".*/\1/p' "$work/body")
expect 200 "one study, with a query" -H "Authorization: Bearer $JWT" "$AI/imaging/studies/$UID1?includefield=all"
body_has "\"$UID1\"" "one study"
expect 404 "an unknown study (the partner's 404 relayed)" -H "Authorization: Bearer $JWT" "$AI/imaging/studies/9.9.9"
body_has '{"error":"not_found"}' "unknown study"
expect 401 "no token" "$AI/imaging/studies"
expect 401 "an expired token" -H "Authorization: Bearer $EXPIRED" "$AI/imaging/studies"
expect 401 "not a JWT" -H "Authorization: Bearer not.a.jwt" "$AI/imaging/studies"
expect 401 "another scheme" -H "Authorization: Basic Ym9iOnNlY3JldA==" "$AI/imaging/studies"
expect 401 "an untrusted issuer" -H "Authorization: Bearer $UNTRUSTED" "$AI/imaging/studies"
expect 403 "pacs is outside the mesh" -H "Authorization: Bearer $JWT" "$AI/pacs/studies"
body_has '{"error":"not_in_mesh"}' "pacs"
expect 400 "a path that would leave the resource" -H "Authorization: Bearer $JWT" \
  "$AI/imaging/a%2f..%2f..%2fadmin"
body_has '{"error":"invalid_request"}' "escaping path"
expect 404 "an unknown route" -H "Authorization: Bearer $JWT" "$AI/imagingx"
expect 405 "POST" -X POST -H "Authorization: Bearer $JWT" "$AI/imaging/studies"

# ----------------------------------------------------- straight at the ingress gateway
mesh_claims() { # DEST MESH
  echo "{\"email\": \"bob@analytics.example.com\", \"claims\": {\"aud\": \"mesh:$2\", \"mesh_id\": \"$2\", \"dest_url\": \"$1\"}}"
}
GENUINE=$(mint "$(mesh_claims "$RAD" "$MESH_ID")")
OTHER_MESH=$(mint "$(mesh_claims "$RAD" 01JDWZZZZZZZZZZZZZZZZZZZZZ)")
OTHER_DEST=$(mint "$(mesh_claims https://elsewhere.example.com "$MESH_ID")")
expect 200 "a mesh token for this mesh and address" -H "Authorization: Bearer $GENUINE" "$RAD/studies"
expect 401 "no mesh token" "$RAD/studies"
expect 401 "a user JWT as a mesh token" -H "Authorization: Bearer $JWT" "$RAD/studies"
expect 401 "a mesh token for another mesh" -H "Authorization: Bearer $OTHER_MESH" "$RAD/studies"
expect 401 "a mesh token for another destination" -H "Authorization: Bearer $OTHER_DEST" "$RAD/studies"
expect 404 "an unknown path, authenticated" -H "Authorization: Bearer $GENUINE" "$RAD/nothing"
expect 200 "healthz without a token" "$RAD/healthz"

# ----------------------------------- the Cloud failing, a change, the partner going away
# A watching gateway whose first request meets a failing Cloud: nothing cached, so 503 with
# Retry-After; then a change published in the Cloud takes dicomweb out of the mesh (403) and
# puts it back (200).
start watching "$BOB" egress examples/config/ai-analytics.toml "$CLOUD" --watch
W=$URL W_PID=$PID
curl -sf -m 10 -X POST -H 'content-type: application/json' \
  -d '{"path": "/api/harmony/resources/resolve", "count": 20, "status": 503}' "$CLOUD/_dev/faults" >/dev/null &&
  ok || bad "fault"
expect 503 "the Cloud failing, nothing cached" -H "Authorization: Bearer $JWT" "$W/imaging/studies"
curl -sf -m 10 -X DELETE "$CLOUD/_dev/faults" >/dev/null || bad "faults removed"
expect 200 "the Cloud back" -H "Authorization: Bearer $JWT" "$W/imaging/studies"

publish() {
  local body
  body=$(printf '{"gateway_code": "analytics-gw-1", "type": "mesh", "action": "updated", "config": "%s"}' "$1")
  curl -sf -m 10 -X POST -H 'content-type: application/json' -d "$body" "$CLOUD/_dev/changes" >/dev/null &&
    ok || bad "publishing a change"
}
until_status() { # STATUS WHAT
  local got=
  for _ in $(seq 1 80); do
    got=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $JWT" "$W/imaging/studies")
    [ "$got" = "$1" ] && { ok; return; }
    sleep 0.25
  done
  bad "$2: never $1 (last: $got)"
}
MESH_HEAD='[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n'
publish "$MESH_HEAD"'egress = [\"imaging-out\"]\n'
until_status 403 "dicomweb removed from the mesh"
publish "$MESH_HEAD"'egress = [\"imaging-out\", \"runbeam.radiology-dept.ingress.name.dicomweb\"]\n'
until_status 200 "dicomweb back in the mesh"
grep -q '^\[C\] watcher: applied change ' "$work/watching.out" && ok || bad "no watcher line"

stop radiology "$RAD_PID"
expect 502 "the partner gateway down" -H "Authorization: Bearer $JWT" "$AI/imaging/studies"
body_has '{"error":"bad_gateway"}' "partner down"
stop analytics "$AI_PID"
stop watching "$W_PID"

# ----------------------------------------------------------------------------- the output
for name in radiology analytics watching; do
  [ "$(grep -c '^listening http://127\.0\.0\.1:[0-9]*$' "$work/$name.out")" = 1 ] && ok ||
    bad "$name: not exactly one listening line"
  if grep -l -e 'eyJ' -e "$JWT" "$work/$name.out" "$work/$name.err" >/dev/null; then
    bad "$name printed a token"
  else ok; fi
done
grep -qxF '[C] GET /imaging/studies -> 200' "$work/analytics.out" && ok || bad "request line"
grep -qxF '[C] GET /imaging/studies -> 401 (JwtExpired)' "$work/analytics.out" && ok || bad "refusal line"
grep -qxF '[C] GET /pacs/studies -> 403 (NotInMesh)' "$work/analytics.out" && ok || bad "403 line"
grep -q '^\[C\] GET /studies -> 200 (from gateway:[0-9A-Z]*, team ai-analytics)$' "$work/radiology.out" && ok ||
  bad "the ingress names its partner"
# One line per request: 14 requests reached the egress gateway (13 above and the 502).
[ "$(grep -c '^\[C\] [A-Z]* /' "$work/analytics.out")" = 14 ] && ok ||
  bad "analytics: $(grep -c '^\[C\] [A-Z]* /' "$work/analytics.out") request lines, 14 expected"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
