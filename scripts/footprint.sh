#!/usr/bin/env bash
# The footprint of every shipped artefact: the stripped librunbeam.so and librunbeam.a the C
# tarball installs, the stripped Node addon and Python module, and the packages themselves
# (C release tarball, wheel, sdist, npm tarballs), each against its bound; with --crates, the
# crates that dominate the shipped code.
#
#   bash scripts/footprint.sh            sizes of what `make dist` last wrote (dist/, build/c-dist/)
#   bash scripts/footprint.sh --build    `make dist` first (rebuilds every release artefact)
#   bash scripts/footprint.sh --crates   also what the code of the release librunbeam.so is, by
#                                        crate (its unstripped symbols, as `cargo bloat --crates`
#                                        counts them), and by the crate that compiled it (its
#                                        DWARF compile units, which is what opt-levels act on;
#                                        FOOTPRINT_SO=<file> for another object).
#                                        cargo bloat itself cannot measure it: it builds with
#                                        `cargo build`, and cargo runs no LTO for runbeam-ffi
#                                        then (its crate-type includes rlib, see c-dist.mk).
#
# The bounds (docs/distribution.md, BENCHMARKS.md "Footprint"): every package at most 8 MB, the
# stripped librunbeam.so at most 6 MB (MB = 1,000,000 bytes). The install tests
# (tests/install/*.sh) check the same bounds on what they install. Exit status 1 when an
# artefact that exists is over its bound; a missing one is reported, not an error.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$PWD
TRIPLE=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export CARGO_BUILD_TARGET=$TRIPLE
SO_BOUND=6000000
PACKAGE_BOUND=8000000

build=0
crates=0
for arg in "$@"; do
  case "$arg" in
    --build) build=1 ;;
    --crates) crates=1 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "footprint.sh: unknown argument '$arg' (--build, --crates)" >&2; exit 2 ;;
  esac
done

if [ "$build" = 1 ]; then
  make dist
fi

VERSION=$(cargo pkgid --offline -p runbeam-ffi | sed 's/.*[#@]//')
NUM=${VERSION%%[-+]*}
PLATFORM=linux-x64-gnu
STAGE=$ROOT/build/c-dist/objects
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

over=0
# mb_of BYTES: BYTES in MB, as short as exact (8 for 8,000,000, 8.5 for 8,500,000).
mb_of() { awk -v b="$1" 'BEGIN { printf "%g", b / 1000000 }'; }
# row NAME FILE BOUND WHAT: one line of the table; BOUND "-" for none.
row() {
  local name=$1 file=$2 bound=$3 what=$4 bytes verdict
  if [ ! -f "$file" ]; then
    printf '%-44s %12s %9s %10s  %s\n' "$name" - - - "missing: $what"
    return
  fi
  bytes=$(stat -c %s "$file")
  if [ "$bound" = - ]; then
    verdict=""
  elif [ "$bytes" -le "$bound" ]; then
    verdict="<= $(mb_of "$bound") MB"
  else
    verdict="OVER $(mb_of "$bound") MB"
    over=1
  fi
  printf '%-44s %12s %9s %10s  %s\n' "$name" "$bytes" \
    "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1000000 }')" "$verdict" "$what"
}

# The Python module inside the wheel (the wheel is a zip: its member, not the wheel).
wheel=$(ls "$ROOT"/dist/runbeam-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)
py_module=$tmp/_native.abi3.so
if [ -n "$wheel" ]; then
  python3 - "$wheel" "$py_module" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if n.endswith(".so")]
    if names:
        with open(sys.argv[2], "wb") as f:
            f.write(z.read(names[0]))
EOF
fi

printf '%-44s %12s %9s %10s  %s\n' artefact bytes MB bound "what it is"
row "librunbeam.so.$NUM (stripped)" "$STAGE/librunbeam.so.$NUM" $SO_BOUND \
  "make c-dist's shipped shared library"
row "librunbeam.a (shipped)" "$STAGE/librunbeam.a" - "make c-dist's static library (inside the C tarball)"
row "runbeam.$PLATFORM.node (stripped)" "$ROOT/bindings/node/npm/$PLATFORM/runbeam.$PLATFORM.node" - \
  "the Node addon of the platform package"
row "runbeam/_native.abi3.so (stripped)" "$py_module" - "the Python module inside the wheel"
row "librunbeam-$VERSION-$TRIPLE.tar.xz" "$ROOT/dist/librunbeam-$VERSION-$TRIPLE.tar.xz" $PACKAGE_BOUND \
  "C release tarball (.so, .a, header, pkg-config, CMake)"
row "librunbeam-$VERSION-$TRIPLE-debug.tar.xz" "$ROOT/dist/librunbeam-$VERSION-$TRIPLE-debug.tar.xz" - \
  "split line tables (not installed)"
row "$(basename "${wheel:-runbeam-$VERSION-*.whl}")" "${wheel:-/nonexistent}" $PACKAGE_BOUND "abi3 wheel"
row "runbeam-$VERSION.tar.gz" "$ROOT/dist/runbeam-$VERSION.tar.gz" $PACKAGE_BOUND "Python sdist"
row "runbeam-sdk-$VERSION.tgz" "$ROOT/dist/runbeam-sdk-$VERSION.tgz" $PACKAGE_BOUND "npm main package"
row "runbeam-sdk-$PLATFORM-$VERSION.tgz" "$ROOT/dist/runbeam-sdk-$PLATFORM-$VERSION.tgz" $PACKAGE_BOUND \
  "npm platform package (the addon)"

if [ "$crates" = 1 ]; then
  so=${FOOTPRINT_SO:-$ROOT/target/$TRIPLE/release/librunbeam.so}
  if ! readelf -S "$so" 2>/dev/null | grep -q '\.symtab'; then
    echo "footprint.sh: --crates needs the unstripped release $so (make c-release)" >&2
    exit 2
  fi
  echo
  echo "== what the code of $(basename "$so") is (function symbols by crate, as cargo bloat --crates counts)"
  python3 - "$so" 20 <<'EOF_PY'
import re, subprocess, sys
from collections import defaultdict
path, top = sys.argv[1], int(sys.argv[2])
text = 0
for line in subprocess.run(["size", "-A", path], capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if f and f[0] == ".text":
        text = int(f[1])
# std's crates together; C symbols are aws-lc's (the only C code) but for runbeam_* (runbeam-ffi).
STD = {"std", "core", "alloc", "panic_unwind", "unwind", "std_detect", "rustc_demangle",
       "addr2line", "gimli", "miniz_oxide", "object", "adler2", "hashbrown", "compiler_builtins"}
nm = subprocess.run(["nm", "-S", "-C", "--defined-only", path], capture_output=True, text=True, check=True)
sizes, seen = defaultdict(int), set()
for line in nm.stdout.splitlines():
    f = line.split(None, 3)
    if len(f) < 4 or f[2] not in "tTwW" or f[0] in seen:
        continue
    seen.add(f[0])
    name = f[3]
    if "::" not in name:
        crate = "runbeam" if name.startswith("runbeam_") else "aws-lc-sys (C)"
    else:
        n = name.lstrip("<&*").replace("dyn ", "").replace("mut ", "")
        m = re.match(r"core::ptr::drop_in_place<&?\(?<?([A-Za-z_][A-Za-z0-9_]*)::", n)
        crate = m.group(1) if m else re.split(r"::|<| ", n, maxsplit=1)[0]
        crate = "std" if crate in STD else crate
    sizes[crate] += int(f[1], 16)
print(f"{'crate':<36} {'bytes':>10} {'.text':>7}")
for crate, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:top]:
    print(f"{crate:<36} {size:>10} {100 * size / max(text, 1):>6.1f}%")
print(f"{'all functions':<36} {sum(sizes.values()):>10} {100 * sum(sizes.values()) / max(text, 1):>6.1f}%  (.text {text} bytes)")
EOF_PY
  echo
  echo "== which crate compiled that code (its DWARF compile units: code LTO inlined counts for the"
  echo "   caller's crate, generic code for the crate that instantiated it; opt-levels are per crate)"
  python3 - "$so" 14 <<'EOF_PY'
import re, subprocess, sys
from collections import defaultdict
path, top = sys.argv[1], int(sys.argv[2])
def readelf(what):
    return subprocess.run(["readelf", f"--debug-dump={what}", "--dwarf-depth=1", path],
                          capture_output=True, text=True, check=True).stdout
names, unit = {}, None
for line in readelf("info").splitlines():
    m = re.match(r"\s*Compilation Unit @ offset (0x[0-9a-f]+|\d+):", line)
    if m:
        unit = int(m.group(1), 0)
        continue
    m = re.search(r"DW_AT_name\s*:.*?([^ :]+)$", line)
    if m and unit is not None and unit not in names:
        crate = re.search(r"/@/([A-Za-z0-9_]+)\.", m.group(1))
        names[unit] = crate.group(1) if crate else "aws-lc-sys (C)"
sizes, unit = defaultdict(int), None
for line in readelf("aranges").splitlines():
    m = re.search(r"Offset into .debug_info:\s+(0x[0-9a-f]+|\d+)", line)
    if m:
        unit = int(m.group(1), 0)
        continue
    m = re.match(r"\s+([0-9a-f]{16}) ([0-9a-f]{16})", line)
    if m and unit is not None:
        sizes[names.get(unit, "?")] += int(m.group(2), 16)
print(f"{'compiled in':<36} {'bytes':>10}")
for crate, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:top]:
    print(f"{crate:<36} {size:>10}")
print(f"{'every unit':<36} {sum(sizes.values()):>10}")
EOF_PY
fi

if [ "$over" = 1 ]; then
  echo "footprint.sh: an artefact is over its bound: see BENCHMARKS.md \"Footprint\" for what" \
    "dominates and the reductions already taken (Cargo.toml [profile.release])" >&2
  exit 1
fi
