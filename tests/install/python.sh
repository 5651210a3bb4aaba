#!/usr/bin/env bash
# The Python package as a user gets it, from the release artefacts of `make python-dist`:
#   (a) the wheel, `pip install --no-index` into a fresh venv;
#   (b) the sdist, copied out of the repository and `pip install`ed into another fresh venv:
#       pip builds it from scratch (maturin from PyPI in an isolated build environment, the
#       crates from crates.io, the release profile with fat LTO), from the unpacked sdist's
#       sources alone.
# In each venv: the installed package's checks (bindings/python/scripts/installed_check.py:
# site-packages, py.typed and the .pyi stubs, the version, no fault-injection hook, RS256 and
# ES256 JWTs of the devcloud verified through aws-lc and a tampered one refused), then the
# example gateways (examples/python) as examples/demo.sh runs them: mesh_check.py on
# examples/config/*.toml, authorize.py and gateway.py against a runbeam-devcloud on loopback.
# The examples and configurations are copied to a scratch directory and run from there, so
# that nothing of the repository is on the path.
#
#   bash tests/install/python.sh [WHEEL SDIST]             (make python-install-test)
#
# Defaults: the one runbeam wheel and sdist in dist/. Environment:
#   PY_SDIST_CACHE=1 (default) the sdist build's target dir starts as a copy of the
#                    workspace's release outputs (target/release and target/<triple>/release,
#                    as the gcc-linked release builds of the C library and the Node addon leave
#                    them) without any runbeam crate: the crates.io dependencies built with the
#                    same features are reused, runbeam-core and the binding are compiled from
#                    the unpacked sdist (checked in the build log). 0: an empty target dir (the
#                    full from-scratch build a user's machine does).
#   INSTALL_PYTHON   the interpreter the venvs are made from (default python3).
#
# Every check prints what it checked; a failed one says what failed, and the run goes on to the
# end and exits 1. The last line is "N passed, N failed".
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
ROOT=$PWD
TRIPLE=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export CARGO_BUILD_TARGET=$TRIPLE
DEVCLOUD=${DEVCLOUD:-$ROOT/target/$TRIPLE/debug/runbeam-devcloud}
INSTALL_PYTHON=${INSTALL_PYTHON:-python3}
PY_SDIST_CACHE=${PY_SDIST_CACHE:-1}
BOB='2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'   # seeded Sanctum token of bob, team ai-analytics
DICOM=runbeam.radiology-dept.ingress.name.dicomweb

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*" >&2; failed=$((failed + 1)); }
# expect_exit CODE DESCRIPTION COMMAND...: runs a program, shows its output, checks its exit code.
expect_exit() {
  local expected=$1 what=$2; shift 2
  "$@" 2>&1 | sed 's/^/    | /'
  local got=${PIPESTATUS[0]}
  if [ "$got" -eq "$expected" ]; then ok "$what (exit $got)"; else fail "$what: exit $got, expected $expected: $*"; fi
}

if [ $# -eq 2 ]; then
  WHEEL=$(realpath "$1")
  SDIST=$(realpath "$2")
elif [ $# -eq 0 ]; then
  shopt -s nullglob
  wheels=(dist/runbeam-[0-9]*.whl)
  sdists=(dist/runbeam-[0-9]*.tar.gz)
  shopt -u nullglob
  if [ ${#wheels[@]} -ne 1 ] || [ ${#sdists[@]} -ne 1 ]; then
    echo "python.sh: expected one runbeam wheel and one sdist in dist/ (make python-dist)," \
      "found: ${wheels[*]:-no wheel} ${sdists[*]:-no sdist}" >&2
    exit 1
  fi
  WHEEL=$ROOT/${wheels[0]}
  SDIST=$ROOT/${sdists[0]}
else
  echo "usage: bash tests/install/python.sh [WHEEL SDIST]" >&2
  exit 2
fi
for f in "$WHEEL" "$SDIST"; do
  [ -f "$f" ] || { echo "python.sh: $f does not exist (make python-dist)" >&2; exit 1; }
done
VERSION=$(basename "$WHEEL" | cut -d- -f2)
if [ ! -x "$DEVCLOUD" ]; then
  echo "python.sh: $DEVCLOUD is missing (make build)" >&2
  exit 1
fi
if ! "$INSTALL_PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))'; then
  echo "python.sh: $INSTALL_PYTHON is not CPython >= 3.10 with the venv module" >&2
  exit 1
fi
echo "== runbeam $VERSION: $(basename "$WHEEL") and $(basename "$SDIST"), with $("$INSTALL_PYTHON" -V)"

TMP=$(mktemp -d /tmp/runbeam-py-install-test.XXXXXX)
. "$ROOT/scripts/lib/devcloud.sh"
cleanup() {
  devcloud_stop
  rm -rf "$TMP"
}
trap cleanup EXIT

# --------------------------------------------------------------------------- the devcloud
devcloud_start "$TMP/devcloud.out" "$TMP/devcloud.err" || { echo "python.sh: no devcloud" >&2; exit 1; }
URL=$DEVCLOUD_URL
echo "== runbeam-devcloud at $URL"

# The sdist build's log stays for inspection.
LOGS=$ROOT/build/python-install-test
mkdir -p "$LOGS"

# The examples as a user has them: a directory of their own with examples/python and
# examples/config (gateway.py reads examples/config/*.toml relative to the working directory).
WORK=$TMP/work
mkdir -p "$WORK/examples"
cp -r examples/python examples/config "$WORK/examples/"
cp bindings/python/scripts/installed_check.py "$WORK/"

# run_examples LABEL VENV: the installed package's checks and the example gateways.
run_examples() {
  local label=$1 venv=$2
  local py=$venv/bin/python
  expect_exit 0 "$label: installed package (typing files, release build, JWT verification)" \
    env -C "$WORK" "$py" -I installed_check.py "$URL" "$VERSION"
  expect_exit 0 "$label: mesh_check radiology-dept.toml (offers its DICOMweb ingress)" \
    env -C "$WORK" "$py" examples/python/mesh_check.py examples/config/radiology-dept.toml dicomweb
  expect_exit 0 "$label: mesh_check ai-analytics.toml (reaches radiology-dept's ingress)" \
    env -C "$WORK" "$py" examples/python/mesh_check.py examples/config/ai-analytics.toml "$DICOM" \
    runbeam.radiology-dept.ingress.name.pacs "runbeam.radiology-dept.Ingress.name.dicomweb" \
    runbeam.radiology-dept.widget.name.dicomweb
  expect_exit 1 "$label: mesh_check broken-unknown-provider.toml (refused at start-up)" \
    env -C "$WORK" "$py" examples/python/mesh_check.py examples/config/broken-unknown-provider.toml
  expect_exit 0 "$label: authorize.py analytics-gw-1 as bob" \
    env -C "$WORK" "$py" examples/python/authorize.py "$URL" "$BOB" analytics-gw-1
  expect_exit 1 "$label: authorize.py radiology-gw-1 as bob (another team's gateway)" \
    env -C "$WORK" "$py" examples/python/authorize.py "$URL" "$BOB" radiology-gw-1
  mkdir -p "$TMP/home/$label"
  expect_exit 0 "$label: gateway.py (authorize, resolve, mesh token, verify)" \
    env -C "$WORK" RUNBEAM_HOME="$TMP/home/$label" RUNBEAM_SANCTUM_TOKEN="$BOB" \
    "$py" examples/python/gateway.py "$URL"
}

# new_venv DIR: a fresh venv (no system site-packages), or a failed check.
new_venv() {
  if "$INSTALL_PYTHON" -m venv "$1" >"$TMP/venv.log" 2>&1; then return 0; fi
  fail "python -m venv $1"; sed 's/^/    /' "$TMP/venv.log" >&2; return 1
}

# check_size WHAT FILE: FILE is at most 8 MB (1,000,000 bytes each), the footprint bound of every
# package (BENCHMARKS.md "Footprint"; bash scripts/footprint.sh prints every size). A size is
# not a timing: this fails only when a change grows what users download.
check_size() {
  local what=$1 file=$2 bound=8000000 bytes
  bytes=$(stat -c %s "$file")
  if [ "$bytes" -le "$bound" ]; then
    ok "$what: $bytes bytes <= $bound"
  else
    fail "$what: $bytes bytes, over the bound of $bound. Find what grew with" \
      "'bash scripts/footprint.sh --crates' (top crates), then drop the feature or dependency," \
      "or give the cold crate opt-level \"z\" in Cargo.toml [profile.release.package] (see" \
      "BENCHMARKS.md \"Footprint\"); raise the bound only with the reason in docs/distribution.md"
  fi
}
check_size "wheel: $(basename "$WHEEL")" "$WHEEL"
check_size "sdist: $(basename "$SDIST")" "$SDIST"

# --------------------------------------------------------------------------- (a) the wheel
echo "== (a) the wheel: $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) kB)"
if new_venv "$TMP/venv-wheel"; then
  if "$TMP/venv-wheel/bin/pip" install --quiet --no-index --disable-pip-version-check "$WHEEL" \
      >"$TMP/pip-wheel.log" 2>&1; then
    ok "wheel: pip install --no-index"
    run_examples wheel "$TMP/venv-wheel"
  else
    fail "wheel: pip install --no-index $WHEEL"; sed 's/^/    /' "$TMP/pip-wheel.log" >&2
  fi
fi

# --------------------------------------------------------------------------- (b) the sdist
# A copy of the sdist in a directory of its own, outside the repository; pip unpacks it into
# its own temporary directory and builds it there (PEP 517, maturin from PyPI).
mkdir -p "$TMP/sdist"
cp "$SDIST" "$TMP/sdist/"
sdist_target=$TMP/sdist/target
mkdir -p "$sdist_target"
if [ "$PY_SDIST_CACHE" = 1 ]; then
  # A copy (never the directory itself) of the workspace's gcc-linked release outputs, less
  # every runbeam crate: the third-party crates built with the same features are reused, the
  # core and the binding are compiled from the unpacked sdist. (maturin dates every file of an
  # sdist 2006, and cargo keys path crates by their path relative to the workspace root, so in
  # the shared directory itself cargo would take the workspace's own runbeam-core as up to date
  # instead of compiling the sdist's, and would leave the sdist's build there as the
  # workspace's.)
  seeded=0
  seed_start=$(date +%s)
  for dir in release "$TRIPLE/release"; do
    entries=()
    for entry in deps build .fingerprint; do
      [ -d "$ROOT/target/$dir/$entry" ] && entries+=("$entry")
    done
    [ ${#entries[@]} -eq 3 ] || continue
    mkdir -p "$sdist_target/$dir"
    tar -C "$ROOT/target/$dir" -cf - --exclude='*runbeam*' "${entries[@]}" |
      tar -C "$sdist_target/$dir" -xf -
    seeded=1
  done
  if [ "$seeded" = 1 ]; then
    cache_note="a copy of the workspace's release outputs (its runbeam crates left out;"
    cache_note+=" $(du -sh "$sdist_target" | cut -f1), copied in $(( $(date +%s) - seed_start )) s) as compile cache"
  else
    cache_note="an empty target dir (the workspace has no release build to reuse)"
  fi
else
  cache_note="an empty target dir"
fi
echo "== (b) the sdist: $(basename "$SDIST") ($(du -k "$SDIST" | cut -f1) kB), built by pip with $cache_note"
if new_venv "$TMP/venv-sdist"; then
  start=$(date +%s)
  # Only the sdist, PyPI and crates.io are reachable for this build: no VIRTUAL_ENV of the
  # caller, no maturin or cargo configuration of the repository (the build runs in pip's own
  # temporary directory).
  if env -u VIRTUAL_ENV -u CARGO_TARGET_DIR -u MATURIN_PEP517_ARGS -C "$TMP/sdist" \
      CARGO_TARGET_DIR="$sdist_target" CARGO_TERM_COLOR=never \
      "$TMP/venv-sdist/bin/pip" install --verbose --disable-pip-version-check --no-cache-dir \
      --no-binary runbeam "$TMP/sdist/$(basename "$SDIST")" >"$LOGS/pip-sdist.log" 2>&1; then
    ok "sdist: pip install built it in $(( $(date +%s) - start )) s (log: $LOGS/pip-sdist.log)"
    # The crates compiled from the sdist are the unpacked sdist's, not the repository's.
    if grep -E 'Compiling runbeam-(core|python) ' "$LOGS/pip-sdist.log" | grep -q "$ROOT/"; then
      fail "sdist: the build compiled a crate from the repository"
      grep -E 'Compiling runbeam-(core|python) ' "$LOGS/pip-sdist.log" | sed 's/^/    /' >&2
    elif [ "$(grep -cE 'Compiling runbeam-(core|python) v' "$LOGS/pip-sdist.log")" -eq 2 ]; then
      ok "sdist: runbeam-core and the binding compiled from the unpacked sdist"
      grep -E 'Compiling runbeam-(core|python) ' "$LOGS/pip-sdist.log" | sed 's/^ */    /'
    else
      fail "sdist: the build log does not show runbeam-core and the binding compiled"
    fi
    echo "    cargo: $(grep -c ' Compiling ' "$LOGS/pip-sdist.log") crates compiled;" \
      "$(grep -E 'Finished .release' "$LOGS/pip-sdist.log" | sed 's/^ *//')"
    # aws-lc's build script reruns when AWS_LC_SYS_SMALL changes: reusing the release build's
    # aws-lc means the sdist built it with the repository's setting (pyproject.toml's
    # [tool.maturin] config; the sdist does not carry .cargo/config.toml).
    if [ "${seeded:-0}" = 1 ]; then
      if grep -qE 'Compiling aws-lc-sys ' "$LOGS/pip-sdist.log"; then
        fail "sdist: aws-lc was compiled again: the sdist builds it with other settings than the repository"
      else
        ok "sdist: aws-lc reused from the release build (the same AWS_LC_SYS_SMALL setting)"
      fi
    fi
    run_examples sdist "$TMP/venv-sdist"
  else
    fail "sdist: pip install $(basename "$SDIST") (log below)"
    tail -n 60 "$LOGS/pip-sdist.log" | sed 's/^/    /' >&2
  fi
fi

echo
echo "python-install-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
