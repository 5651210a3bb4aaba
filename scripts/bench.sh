#!/usr/bin/env bash
# Reproduces every figure of BENCHMARKS.md (release builds). Takes a few minutes.
#   bash scripts/bench.sh            # all
#   bash scripts/bench.sh rust|client|jwt|throughput|storage|resolver|logging|edge|soak|c|python|node|startup|aws-lc
#   bash scripts/bench.sh c-ab A.so B.so
# `soak` is the Rust and C soak (1,000,000 mixed hot-path calls: RSS and unexpected answers);
# the Python and Node soaks run with their language's benchmarks.
# `startup` (cold start and memory of the four surfaces, benches/startup/) is run only when named:
# it installs the release wheel with PyJWT and joserfc into a private venv ($STARTUP_VENV,
# default build/startup/venv, created when missing) and never touches .venv.
# `aws-lc` (what aws-lc's size-optimised build costs, benches/aws-lc/) is run only when named: it
# builds aws-lc twice, with the repository's AWS_LC_SYS_SMALL=1 and with 0 (~1 min each).
# `c-ab A.so B.so` (two builds of librunbeam.so, e.g. before and after a profile change: copy
# target/$TRIPLE/release/librunbeam.so aside after each `make c-release`) links the C reference,
# JWT and client benches once and runs them against A and B alternately, $AB_RUNS times each
# (default 8), as BENCHMARKS.md "Footprint" compares builds; it needs the debug devcloud
# (`cargo build -p runbeam-devcloud`).
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
if [[ $what == all || $what == throughput ]]; then
  echo "== Rust distinct-token validation on both cores (tokio 2 workers, 2 std threads) vs one at a time, with the RSA floor at 1 vs 2 threads: cargo bench -p runbeam-e2e --bench throughput"
  cargo bench -p runbeam-e2e --bench throughput 2>&1 | sed -n '/^throughput\/rust/,$p'
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
if [[ $what == aws-lc ]]; then
  echo "== aws-lc as shipped (AWS_LC_SYS_SMALL=1, .cargo/config.toml) and without it, 3 runs each in turns: benches/aws-lc"
  cp Cargo.lock benches/aws-lc/Cargo.lock
  for small in 1 0; do
    AWS_LC_SYS_SMALL=$small CARGO_TARGET_DIR=target/aws-lc-bench/small-$small \
      cargo build --release --quiet --manifest-path benches/aws-lc/Cargo.toml
  done
  for _ in 1 2 3; do
    for small in 1 0; do
      "target/aws-lc-bench/small-$small/$CARGO_BUILD_TARGET/release/runbeam-aws-lc-bench"
    done
  done
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
  # make c-release: the LTO build of the C library that ships (cargo runs no LTO for runbeam-ffi
  # built with its rlib crate type).
  make --no-print-directory c-release > /dev/null
  cargo build --release -p runbeam-devcloud --quiet
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
  # Throughput on both cores: distinct tokens on one shared validator, 1 vs 2 pthreads.
  gcc -std=c11 -O2 -Iinclude -Itests/c benches/c/bench_threads.c "$REL/librunbeam.a" \
    -lpthread -ldl -lm -o build/bench/bench_threads
  build/bench/bench_threads "$REL/runbeam-devcloud"
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
if [[ $what == startup ]]; then
  echo "== Cold start (exec -> first validated token / first resolved reference) and RSS per 10,000 cached"
  echo "   tokens / resolutions, Rust, C, Python, Node, against runbeam-devcloud: benches/startup/run.py"
  # Release builds, one at a time: librunbeam.so (make c-release), the devcloud, the Rust program
  # (bench profile), the abi3 wheel (maturin build --release), the Node addon (make node-release
  # only when target/.../napi/release has none: it also replaces the in-tree addon).
  make --no-print-directory c-release >/dev/null
  cargo build --release -p runbeam-devcloud --quiet
  # The C program finds the release librunbeam.so by its SONAME in build/startup/lib (rpath).
  mkdir -p build/startup/lib
  soname=$(readelf -d "$REL/librunbeam.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
  ln -sfn "$PWD/$REL/librunbeam.so" "build/startup/lib/$soname"
  gcc -std=c11 -O2 -Iinclude benches/startup/startup.c -L"$REL" -lrunbeam \
    -Wl,-rpath,"$PWD/build/startup/lib" -o build/startup/startup_c
  rust_bin=$(cargo bench -p runbeam-e2e --bench startup --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "startup" and m.get("executable"):
        print(m["executable"])')
  rm -rf build/startup/wheels
  .venv/bin/maturin build --release -m bindings/python/Cargo.toml --out build/startup/wheels --quiet
  venv=${STARTUP_VENV:-build/startup/venv}
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "pyjwt[crypto]==2.15.1" "cryptography==50.0.2" "joserfc==1.8.0"
  "$venv/bin/pip" install --quiet --force-reinstall --no-deps build/startup/wheels/runbeam-*.whl
  addon=target/$CARGO_BUILD_TARGET/napi/release/runbeam.linux-x64-gnu.node
  [[ -f $addon ]] || make --no-print-directory node-release
  # @runbeam/sdk as npm installs it (package.json "files") with the release addon; jose beside it.
  sdk=build/startup/node/node_modules/@runbeam/sdk
  rm -rf "$sdk" && mkdir -p "$sdk"
  (cd bindings/node && cp package.json $(node -p "require('./package.json').files.filter(f => !f.includes('*')).join(' ')") "$OLDPWD/$sdk/")
  cp "$addon" "$sdk/"
  ln -sfn "$PWD/bindings/node/node_modules/jose" build/startup/node/node_modules/jose
  python3 benches/startup/run.py --devcloud "$REL/runbeam-devcloud" --python "$venv/bin/python" \
    --node-path "$PWD/build/startup/node/node_modules" --c build/startup/startup_c --rust "$rust_bin" \
    ${STARTUP_ARGS:-}
fi

if [[ $what == c-ab ]]; then
  a=${2:?usage: bash scripts/bench.sh c-ab A.so B.so}
  b=${3:?usage: bash scripts/bench.sh c-ab A.so B.so}
  devcloud=$PWD/target/$CARGO_BUILD_TARGET/debug/runbeam-devcloud
  [[ -x $devcloud ]] || { echo "c-ab: build the devcloud first: cargo build -p runbeam-devcloud" >&2; exit 1; }
  work=build/bench/ab
  rm -rf "$work" && mkdir -p "$work/A" "$work/B" "$work/bin"
  # Each library under the SONAME the benches look for, in a directory of its own.
  for side in A B; do
    if [[ $side == A ]]; then lib=$a; else lib=$b; fi
    cp "$lib" "$work/$side/librunbeam.so"
    soname=$(readelf -d "$work/$side/librunbeam.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
    ln -sfn librunbeam.so "$work/$side/$soname"
  done
  for bench in bench_reference bench_jwt bench_client; do
    gcc -std=c11 -O2 -Iinclude -Itests/c "benches/c/$bench.c" -L"$work/A" -lrunbeam \
      -lpthread -ldl -lm -o "$work/bin/$bench"
  done
  echo "== c-ab: A = $a, B = $b, ${AB_RUNS:-8} alternating runs each"
  for ((run = 1; run <= ${AB_RUNS:-8}; run++)); do
    for side in A B; do
      export LD_LIBRARY_PATH=$PWD/$work/$side
      ref=$("$work/bin/bench_reference" | sed -n 's/.*ratio runbeam\/naive *//p')
      jwt=$("$work/bin/bench_jwt" "$devcloud" | awk '/distinct tokens|repeated token/ {printf "%s ", $(NF-1)}')
      client=$("$work/bin/bench_client" "$devcloud" | sed -n 's/.*(ratio \([0-9.]*\)).*/\1/p' | tr '\n' ' ')
      echo "$side run $run: reference/naive $ref | JWT distinct, repeated (us) $jwt| client ratios (resolve, resolve_async, jwks) $client"
      unset LD_LIBRARY_PATH
    done
  done
fi
