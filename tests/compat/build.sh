#!/usr/bin/env bash
# Builds tests/compat/sdk-0.11 (the published runbeam-sdk 0.11 behind a small command line) in
# its own target directory and prints the path of the program. It is a separate Cargo
# workspace: it depends on the published SDK, not on librunbeam.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${RUNBEAM_COMPAT_TARGET:-$root/target/compat}
env -u CARGO_BUILD_TARGET cargo build --quiet --locked \
  --manifest-path "$root/tests/compat/sdk-0.11/Cargo.toml" --target-dir "$target" >&2
echo "$target/debug/runbeam-sdk-0-11-cli"
