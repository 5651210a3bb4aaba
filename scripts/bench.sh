#!/usr/bin/env bash
# Reproduces every figure of BENCHMARKS.md (release builds). Takes a few minutes.
#   bash scripts/bench.sh            # all
#   bash scripts/bench.sh rust|client|jwt|storage|resolver|logging|edge|soak|c|python|node
# `soak` is the Rust and C soak (1,000,000 mixed hot-path calls: RSS and unexpected answers);
# the Python and Node soaks run with their language's benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
what=${1:-all}
REL=target/$CARGO_BUILD_TARGET/release

if [[ $what == all || $what == rust ]]; then
  echo "== Rust (criterion): cargo bench -p runbeam-core --bench reference"
  cargo bench -p runbeam-core --bench reference -- --noplot 2>&1 | grep -E "^reference/|time:"
fi
if [[ $what == all || $what == client ]]; then
  echo "== Rust client vs bare reqwest against runbeam-devcloud: cargo bench -p runbeam-e2e --bench client_overhead"
  cargo bench -p runbeam-e2e --bench client_overhead -- --noplot 2>&1 | grep -E "^client/|time:"
fi
if [[ $what == all || $what == jwt ]]; then
  echo "== Rust JWT validation vs the RSA-2048 floor and jsonwebtoken: cargo bench -p runbeam-e2e --bench jwt"
  cargo bench -p runbeam-e2e --bench jwt 2>&1 | sed -n '/^jwt\/rust/,$p'
fi
if [[ $what == all || $what == storage ]]; then
  echo "== Token storage round trips: dbus-run-session -- bash scripts/with-keyring.sh cargo bench -p runbeam-e2e --bench storage"
  dbus-run-session -- bash scripts/with-keyring.sh cargo bench -p runbeam-e2e --bench storage 2>&1 \
    | sed -n '/^storage\/rust/,$p'
fi
if [[ $what == all || $what == resolver ]]; then
  echo "== Rust resolver: cache hit vs a HashMap, cold resolve vs bare reqwest, Cloud requests per 10k: cargo bench -p runbeam-e2e --bench resolver"
  cargo bench -p runbeam-e2e --bench resolver -- --noplot 2>&1 | grep -E "^resolver/|time:"
fi
if [[ $what == all || $what == logging ]]; then
  echo "== Host logging on the hot path (off / sink at warn / sink at debug): cargo bench -p runbeam-e2e --bench logging"
  cargo bench -p runbeam-e2e --bench logging -- --noplot 2>&1 | grep -E "^logging/|time:"
fi
if [[ $what == all || $what == edge ]]; then
  echo "== The HTTP edge per request on the cached path: cargo bench -p runbeam-e2e --bench edge"
  cargo bench -p runbeam-e2e --bench edge -- --noplot 2>&1 | grep -E "^edge/|time:"
fi
if [[ $what == all || $what == soak ]]; then
  echo "== Soak, Rust: cargo bench -p runbeam-e2e --bench soak"
  cargo bench -p runbeam-e2e --bench soak 2>&1 | grep '^soak/'
  echo "== Soak, C: make c-soak (benches/c/soak.c against the release librunbeam.a)"
  make --no-print-directory c-soak
fi
if [[ $what == all || $what == c ]]; then
  echo "== C: benches/c/bench_reference.c, bench_client.c, bench_jwt.c, bench_resolver.c and bench_edge.c against the release librunbeam.a"
  cargo build --release -p runbeam-ffi -p runbeam-devcloud --quiet
  mkdir -p build/bench
  gcc -std=c11 -O2 -Iinclude benches/c/bench_reference.c "$REL/librunbeam.a" -lpthread -ldl -lm \
    -o build/bench/bench_reference
  build/bench/bench_reference
  # The client benchmark starts a release runbeam-devcloud subprocess (tests/c/devcloud.h).
  gcc -std=c11 -O2 -Iinclude -Itests/c benches/c/bench_client.c "$REL/librunbeam.a" \
    -lpthread -ldl -lm -o build/bench/bench_client
  build/bench/bench_client "$REL/runbeam-devcloud"
  # JWT validation through the C ABI: 10,000 distinct tokens vs one repeated token.
  gcc -std=c11 -O2 -Iinclude -Itests/c benches/c/bench_jwt.c "$REL/librunbeam.a" \
    -lpthread -ldl -lm -o build/bench/bench_jwt
  build/bench/bench_jwt "$REL/runbeam-devcloud"
  # Resolver cache hits through the C ABI vs a hand-written C hash table lookup.
  gcc -std=c11 -O2 -Iinclude -Itests/c benches/c/bench_resolver.c "$REL/librunbeam.a" \
    -lpthread -ldl -lm -o build/bench/bench_resolver
  build/bench/bench_resolver "$REL/runbeam-devcloud"
  # The HTTP edge: authenticate + outbound per request, in process and in a libmicrohttpd
  # handler over loopback HTTP vs the bare handler.
  gcc -std=c11 -O2 -Iinclude -Itests/c $(pkg-config --cflags libmicrohttpd libcurl) benches/c/bench_edge.c \
    "$REL/librunbeam.a" $(pkg-config --libs libmicrohttpd libcurl) -lpthread -ldl -lm -o build/bench/bench_edge
  build/bench/bench_edge "$REL/runbeam-devcloud"
fi
if [[ $what == all || $what == python ]]; then
  echo "== Python: bench_reference.py, bench_client.py, jwt.py (Validator vs PyJWT), bench_resolver.py (Resolver cache hits vs dict.get)"
  make --no-print-directory python-bench
fi
if [[ $what == all || $what == node ]]; then
  echo "== Node: reference.mjs, client.mjs, jwt.mjs (Validator vs jose and fast-jwt), resolver.mjs (cache hits vs Map.get)"
  make --no-print-directory node-bench
  RUNBEAM_DEVCLOUD=$PWD/target/$CARGO_BUILD_TARGET/debug/runbeam-devcloud node bindings/node/bench/resolver.mjs
fi
