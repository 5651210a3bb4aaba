#!/usr/bin/env bash
# The scenario of ../shared/seeds/resource-references.txt, run by the example gateway of each
# language: team radiology-dept offers its DICOMweb ingress through the mesh
# `imaging-integration`; team ai-analytics reaches it through the same mesh. Then a deliberately
# broken configuration (no [provider.runbeam], a mistyped reference) shows what a gateway
# engineer sees at start-up. Called by `make demo` after the builds; fails if any example
# behaves unexpectedly.
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

if [ "$failures" -ne 0 ]; then
  echo "demo: $failures unexpected result(s)" >&2
  exit 1
fi
echo "demo: C, Python and Node gateways agree on the scenario"
