#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for FUZZ_SECONDS each (default 600), one after the
# other, each from its checked-in seeds (fuzz/seeds/<target>, and the test fixtures for the
# reference and configuration targets) plus the corpus earlier runs left in fuzz/corpus/.
#
#   make fuzz                                   # every target, 10 minutes each
#   FUZZ_SECONDS=60 FUZZ_TARGETS="jwks bearer" make fuzz
#
# Needs the nightly toolchain (libFuzzer's sanitizer flags) and cargo-fuzz, installed here if
# missing. Prints one summary line per target (runs, corpus size, crashes) and exits non-zero if
# any target found a crash; crash inputs stay in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_EACH=${FUZZ_SECONDS:-600}
ALL="jwt_validate jwt_scan jwks bearer api_response token_file reference_parse config_load ffi_reference change_apply edge_request dbus_message"
TARGETS=${FUZZ_TARGETS:-$ALL}
# cargo-fuzz picks its own --target; the project's shared-target setting does not apply here.
unset CARGO_BUILD_TARGET

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
  exit 1
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
# The targets build the crate versions that ship: the workspace's lock file (cargo adds only the
# fuzzing crates to it), as `make lint` checks them.
cp Cargo.lock fuzz/Cargo.lock

seed() { # $1 target, $2 corpus dir
  local target=$1 corpus=$2
  [ -d "fuzz/seeds/$target" ] && cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  case $target in
    reference_parse | ffi_reference)
      cut -f1 tests/fixtures/references.tsv | grep -v '^#' | while IFS= read -r line; do
        printf '%s' "$line" >"$corpus/ref-$(printf '%s' "$line" | sha1sum | cut -c1-12)"
      done ;;
    config_load)
      for f in tests/fixtures/configs/*.toml examples/config/*.toml; do cp -n "$f" "$corpus/"; done ;;
  esac
}

mkdir -p fuzz/logs
failed=0
for target in $TARGETS; do
  corpus=fuzz/corpus/$target
  mkdir -p "$corpus"
  seed "$target" "$corpus"
  extra=()
  [ "$target" = config_load ] && extra=(-max_len=4096 -dict=config.dict)
  log=fuzz/logs/$target.log
  echo "fuzz: $target for ${SECONDS_EACH}s (log: $log)"
  if ! (cd fuzz && cargo +nightly fuzz build "$target") >"$log" 2>&1; then
    printf 'fuzz: %-16s build failed (see %s)\n' "$target" "$log" | tee -a fuzz/logs/summary.txt
    failed=1
    continue
  fi
  if (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -print_final_stats=1 "${extra[@]}") >"$log" 2>&1; then
    result="0 crashes"
  else
    result="CRASH (see $log and fuzz/artifacts/$target/)"
    failed=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  size=$(find "$corpus" -type f | wc -l)
  printf 'fuzz: %-16s %6ss  runs %-10s corpus %-6s %s\n' "$target" "$SECONDS_EACH" "$runs" "$size" "$result" \
    | tee -a fuzz/logs/summary.txt
done
exit $failed
