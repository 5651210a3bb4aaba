#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test librunbeam (README.md, "Setup").
# Idempotent: each step is skipped when already satisfied.
#
#   - cbindgen 0.29.4 (generates include/runbeam.h; the drift check needs this exact version):
#     `cargo install --locked` into ~/.cargo/bin
#   - with apt-get, only those missing: valgrind, gcc, g++, make (the C suite), pkg-config and
#     cmake (the C install tests), gnome-keyring and dbus (dbus-run-session, dbus-send,
#     dbus-daemon: a real Secret Service for the keyring tests, see with-keyring.sh), curl (the
#     demo and the C gateway test drive requests with it), and the development packages of
#     libmicrohttpd and libcurl (libmicrohttpd-dev, libcurl4-openssl-dev: the C example gateway
#     examples/c/mesh_gateway.c; checked with pkg-config).
#     This is the one step that needs root: apt-get is run as is, without sudo.
#   - .venv with bindings/python/requirements-dev.txt (pinned: maturin, pytest, mypy for
#     stubtest, PyJWT + cryptography for the JWT benchmark)
#   - the Node binding's npm packages (bindings/node/package.json devDependencies, exact pins:
#     @napi-rs/cli, typescript, @types/node, jose and fast-jwt for the JWT benchmark)
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
TOOLS=(valgrind gcc g++ make pkg-config cmake gnome-keyring-daemon dbus-run-session dbus-send dbus-daemon curl)
# C libraries found with pkg-config, as `<pkg-config name>:<Debian package>`.
C_LIBS=(libmicrohttpd:libmicrohttpd-dev libcurl:libcurl4-openssl-dev)

# The Debian packages of C_LIBS that pkg-config does not find (all of them without pkg-config).
missing_c_libs() {
  local entry
  for entry in "${C_LIBS[@]}"; do
    pkg-config --exists "${entry%%:*}" 2>/dev/null || echo "${entry#*:}"
  done
}

# `setup.sh --cross`: what `make cross-check` needs besides the rest (not needed by `make test`):
# the Windows and macOS Rust targets (rustup), the mingw-w64 C compiler (apt, root) and zig
# (the ziglang package, into .venv) that compile aws-lc-sys's C sources for those targets.
if [ "${1:-}" = --cross ]; then
  rustup target add x86_64-pc-windows-gnu x86_64-apple-darwin aarch64-apple-darwin
  if ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    log "installing gcc-mingw-w64-x86-64 with apt-get (needs root)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64
  fi
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m ziglang version >/dev/null 2>&1 ||
    .venv/bin/pip install --quiet --disable-pip-version-check ziglang==0.15.2
  log "ok: cross-check prerequisites"
  exit 0
fi

if [ "${1:-}" = --check ]; then
  lacking=()
  cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION" ||
    lacking+=("cbindgen $CBINDGEN_VERSION")
  for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || lacking+=("$tool")
  done
  for pkg in $(missing_c_libs); do lacking+=("$pkg"); done
  { [ -x .venv/bin/python ] && [ -f "$STAMP" ] && cmp -s "$REQ" "$STAMP"; } ||
    lacking+=(".venv with $REQ")
  { [ -f "$NODE_STAMP" ] && cmp -s "$NODE_DIR/package.json" "$NODE_STAMP"; } ||
    lacking+=("npm packages of $NODE_DIR")
  if [ ${#lacking[@]} -gt 0 ]; then
    for item in "${lacking[@]}"; do log "missing: $item"; done
    log "run 'make setup' to install them (the apt-get packages need root)"
    exit 1
  fi
  exit 0
fi

if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
  log "installing cbindgen $CBINDGEN_VERSION (cargo install into ~/.cargo/bin, ~2 min)"
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi

missing=()
for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
for pkg in $(missing_c_libs); do missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} with apt-get (needs root)"
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
  log "creating .venv (python3 -m venv)"
  python3 -m venv .venv
fi
if [ ! -f "$STAMP" ] || ! cmp -s "$REQ" "$STAMP"; then
  log "installing $REQ into .venv (pip)"
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$STAMP"
fi

if [ ! -f "$NODE_STAMP" ] || ! cmp -s "$NODE_DIR/package.json" "$NODE_STAMP"; then
  log "installing the devDependencies of $NODE_DIR/package.json (npm install)"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error)
  cp "$NODE_DIR/package.json" "$NODE_STAMP"
fi
log "ok ($ROOT)"
