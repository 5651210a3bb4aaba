#!/usr/bin/env bash
# Compiles runbeam-core and the C ABI for the platforms this machine cannot run — Windows
# (x86_64-pc-windows-gnu) and macOS (x86_64 and aarch64) — with `cargo clippy -D warnings`, so
# that Unix-only code outside `cfg(unix)` or a warning on another platform is caught here, not
# by the release workflow (.github/workflows/release.yml builds and smoke-tests them for real).
# Nothing is linked or run: aws-lc-sys's C sources are compiled (by mingw-w64 for Windows, by
# zig's clang for macOS, which ships the macOS headers), Rust is type- and borrow-checked.
#
#   make cross-check          (needs `bash scripts/setup.sh --cross`: the rustup targets,
#                              gcc-mingw-w64-x86-64 from apt, ziglang in .venv)
#
# Not part of `make test`: the three dependency graphs take ~10 minutes on 2 cores the first
# time. Artefacts go to target/cross/ (kept apart from the shared target/<triple>/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ZIG_PY=$ROOT/.venv/bin/python
WRAP=$ROOT/build/cross-cc

log() { printf '[cross-check] %s\n' "$*"; }

command -v x86_64-w64-mingw32-gcc >/dev/null ||
  { log "x86_64-w64-mingw32-gcc is missing: run 'bash scripts/setup.sh --cross'"; exit 1; }
"$ZIG_PY" -m ziglang version >/dev/null 2>&1 ||
  { log "zig (the ziglang package in .venv) is missing: run 'bash scripts/setup.sh --cross'"; exit 1; }

# zig's cc takes its own -target; the cc crate adds a clang --target=<apple triple> that zig
# does not know, so the wrapper drops it.
mkdir -p "$WRAP"
for arch in x86_64 aarch64; do
  cat > "$WRAP/cc-$arch-macos" <<EOF
#!/usr/bin/env bash
args=()
for a in "\$@"; do case \$a in --target=*) ;; *) args+=("\$a") ;; esac; done
exec "$ZIG_PY" -m ziglang cc -target $arch-macos "\${args[@]}"
EOF
done
printf '#!/bin/sh\nexec "%s" -m ziglang ar "$@"\n' "$ZIG_PY" > "$WRAP/ar"
chmod +x "$WRAP"/*

check() {
  local target=$1; shift
  log "$target"
  env -u CARGO_BUILD_TARGET "$@" cargo clippy --quiet --target "$target" --target-dir target/cross \
    -p runbeam-core -p runbeam-ffi -p runbeam-ffi-cold -- -D warnings
}

check x86_64-pc-windows-gnu
check x86_64-apple-darwin CC_x86_64_apple_darwin="$WRAP/cc-x86_64-macos" AR_x86_64_apple_darwin="$WRAP/ar"
check aarch64-apple-darwin CC_aarch64_apple_darwin="$WRAP/cc-aarch64-macos" AR_aarch64_apple_darwin="$WRAP/ar"
log "ok: runbeam-core, runbeam-ffi and runbeam-ffi-cold compile without warnings for Windows and macOS"
