#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test librunbeam. Idempotent: each step is
# skipped when already satisfied.
#
#   - cbindgen 0.29.4 (generates include/runbeam.h; the drift check needs this exact version)
#   - valgrind, gcc/g++ (C suite; usually present)
#   - gnome-keyring + dbus (a real Secret Service for the keyring tests, see with-keyring.sh)
#   - .venv with the pinned Python dev requirements (maturin, pytest, mypy for stubtest)
#   - the Node binding's npm packages (@napi-rs/cli, pinned)
#
# `setup.sh --check` installs nothing: it lists what is missing and exits 1 when anything is.
# `make test` and `make demo` run the check first (see the Makefile's `prerequisites`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

log() { printf '[setup] %s\n' "$*"; }

CBINDGEN_VERSION=0.29.4
REQ=bindings/python/requirements-dev.txt
STAMP=.venv/.requirements.stamp
NODE_DIR=bindings/node
NODE_STAMP=$NODE_DIR/node_modules/.setup.stamp
TOOLS=(valgrind gcc g++ make pkg-config cmake gnome-keyring-daemon dbus-run-session dbus-send dbus-daemon)

if [ "${1:-}" = --check ]; then
  lacking=()
  cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION" ||
    lacking+=("cbindgen $CBINDGEN_VERSION")
  for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || lacking+=("$tool")
  done
  { [ -x .venv/bin/python ] && [ -f "$STAMP" ] && cmp -s "$REQ" "$STAMP"; } ||
    lacking+=(".venv with $REQ")
  { [ -f "$NODE_STAMP" ] && cmp -s "$NODE_DIR/package.json" "$NODE_STAMP"; } ||
    lacking+=("npm packages of $NODE_DIR")
  if [ ${#lacking[@]} -gt 0 ]; then
    for item in "${lacking[@]}"; do log "missing: $item"; done
    log "run 'make setup' to install them"
    exit 1
  fi
  exit 0
fi

if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
  log "installing cbindgen $CBINDGEN_VERSION (cargo install, ~2 min)"
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi

missing=()
for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} with apt-get"
  pkgs=()
  for tool in "${missing[@]}"; do
    case $tool in
      gnome-keyring-daemon) pkgs+=(gnome-keyring) ;;
      dbus-run-session | dbus-send) pkgs+=(dbus-bin) ;;
      *) pkgs+=("$tool") ;;
    esac
  done
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
if [ ! -f "$STAMP" ] || ! cmp -s "$REQ" "$STAMP"; then
  log "installing Python dev requirements into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$STAMP"
fi

if [ ! -f "$NODE_STAMP" ] || ! cmp -s "$NODE_DIR/package.json" "$NODE_STAMP"; then
  log "installing npm packages in $NODE_DIR"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error)
  cp "$NODE_DIR/package.json" "$NODE_STAMP"
fi
log "ok ($ROOT)"
