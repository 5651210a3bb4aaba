#!/usr/bin/env bash
# The two-team scenario of docs/spec.md §1-§2, run by the example gateway of each language:
# team radiology-dept offers its DICOMweb ingress through the mesh
# `imaging-integration`; team ai-analytics reaches it through the same mesh. Then a deliberately
# broken configuration (no [provider.runbeam], a mistyped reference) shows what a gateway
# engineer sees at start-up. Part two starts runbeam-devcloud (a local Runbeam Cloud seeded with
# the same two teams) on loopback; each language's example gateway (examples/*/gateway.*)
# validates both teams' configurations, authorizes itself and stores its machine token
# encrypted on disk, resolves the partner's ingress through the cache, obtains a mesh token for
# it and verifies that token as the receiving gateway would. Called by `make demo` after the builds; fails if
# any example behaves unexpectedly, and always stops the server.
set -uo pipefail
cd "$(dirname "$0")/.."

C_GATEWAY=build/c/mesh_check
PY_GATEWAY=(.venv/bin/python examples/python/mesh_check.py)
NODE_GATEWAY=(node examples/node/mesh_check.mjs)

DICOM=runbeam.radiology-dept.ingress.name.dicomweb
failures=0

# run EXPECTED_EXIT COMMAND...
run() {
  local expected=$1; shift
  "$@"
  local got=$?
  if [ "$got" -ne "$expected" ]; then
    echo "!! expected exit $expected, got $got: $*" >&2
    failures=$((failures + 1))
  fi
  echo
}

scenario() {
  local lang=$1; shift
  echo "=================================================================== $lang"
  echo "--- team radiology-dept: offers its DICOMweb ingress to the mesh"
  run 0 "$@" examples/config/radiology-dept.toml dicomweb
  echo "--- team ai-analytics: reaches radiology-dept's ingress through the mesh"
  run 0 "$@" examples/config/ai-analytics.toml "$DICOM" \
    runbeam.radiology-dept.ingress.name.pacs "runbeam.radiology-dept.Ingress.name.dicomweb" \
    runbeam.radiology-dept.widget.name.dicomweb
  echo "--- broken: ai-analytics' mesh without [provider.runbeam], one reference mistyped"
  run 1 "$@" examples/config/broken-unknown-provider.toml
}

scenario C "$C_GATEWAY"
scenario Python "${PY_GATEWAY[@]}"
scenario Node "${NODE_GATEWAY[@]}"

# ---------------------------------------------------------------- part two: Runbeam Cloud
DEVCLOUD=${DEVCLOUD:-target/${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}/debug/runbeam-devcloud}
BOB='2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'   # seeded Sanctum token of bob, team ai-analytics
. scripts/lib/devcloud.sh
. examples/traffic.sh
out=$(mktemp)
trap 'devcloud_stop; rm -f "$out" "$out.err"' EXIT
devcloud_start "$out" "$out.err" || { echo "demo: runbeam-devcloud did not start" >&2; exit 1; }
url=$DEVCLOUD_URL
echo "=================================================================== Runbeam Cloud: $url"
homes=$(mktemp -d)
trap 'traffic_stop; devcloud_stop; rm -rf "$out" "$out.err" "$homes"' EXIT
# gateway LANG COMMAND...: the whole flow, with the machine token in the file backend under a
# fresh RUNBEAM_HOME (0700 directories, 0600 age-encrypted files).
gateway() {
  local lang=$1; shift
  echo "--- $lang gateway of team ai-analytics: authorize, resolve, mesh token, verify"
  mkdir -p "$homes/$lang"
  RUNBEAM_HOME="$homes/$lang" RUNBEAM_SANCTUM_TOKEN="$BOB" run 0 "$@" "$url"
}
gateway C build/c/gateway
gateway Python .venv/bin/python examples/python/gateway.py
gateway Node node examples/node/gateway.mjs
echo "--- bob (ai-analytics) may not authorize radiology-dept's gateway"
run 1 build/c/authorize "$url" "$BOB" radiology-gw-1

# ------------------------------------------------------- part three: real traffic over the mesh
# radiology-dept's C gateway (libmicrohttpd) serves /studies behind mesh-token verification;
# its address becomes the ingress URL in Runbeam Cloud. ai-analytics runs three gateways —
# Python (Starlette + uvicorn), Node (Express), C (libmicrohttpd + libcurl) — that check the
# user's JWT, resolve the reference, attach a mesh token and forward. curl plays the client.
traffic "$url" "$homes"

if [ "$failures" -ne 0 ]; then
  echo "demo: $failures unexpected result(s)" >&2
  exit 1
fi
echo "demo: C, Python and Node gateways agree on the scenario, ran the whole flow with Runbeam Cloud and carried real requests across the mesh, refusals and a live configuration change included"
