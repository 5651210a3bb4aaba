#!/usr/bin/env bash
# The C library as a user gets it: `make install` into a temporary prefix (and DESTDIR staging,
# and `make uninstall`), then the example gateways (examples/c) built with nothing but
# `pkg-config` (shared, and static with `pkg-config --static`) and a CMake project using
# `find_package(runbeam)` (shared and static), and run: mesh_check on the example
# configurations as examples/demo.sh does, authorize and gateway against a runbeam-devcloud on
# loopback. With a release tarball as argument (make c-dist), the same from that tarball
# unpacked into another directory (its pkg-config and CMake files are relocatable).
#
#   bash tests/install/c.sh [dist/librunbeam-<version>-<triple>.tar.xz]     (make c-install-test)
#
# Every check prints what it checked; a failed one says what failed, and the run goes on to the
# end and exits 1. The last line is "N passed, N failed".
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARBALL=${1:-}
TRIPLE=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
DEVCLOUD=${DEVCLOUD:-$ROOT/target/$TRIPLE/debug/runbeam-devcloud}
MAKE=${MAKE:-make}
CC=${CC:-gcc}
CFLAGS_STRICT=(-std=c11 -Wall -Wextra -Werror -pedantic -O1)
BOB='2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f'   # seeded Sanctum token of bob, team ai-analytics
DICOM=runbeam.radiology-dept.ingress.name.dicomweb
EXAMPLES=(mesh_check authorize gateway)

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*" >&2; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: runs the command (output shown on failure only).
check() {
  local what=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$what"; else fail "$what"; printf '%s\n' "$out" | sed 's/^/    /' >&2; fi
}
# expect_exit CODE DESCRIPTION COMMAND...: runs a program, shows its output, checks its exit code.
expect_exit() {
  local expected=$1 what=$2; shift 2
  "$@" 2>&1 | sed 's/^/    | /'
  local got=${PIPESTATUS[0]}
  if [ "$got" -eq "$expected" ]; then ok "$what (exit $got)"; else fail "$what: exit $got, expected $expected: $*"; fi
}

VERSION=$(cargo pkgid --offline -p runbeam-ffi | sed 's/.*[#@]//')
NUM=${VERSION%%[-+]*}
MAJOR=${NUM%%.*}
REAL=librunbeam.so.$NUM
SONAME=librunbeam.so.$MAJOR
echo "== librunbeam $VERSION ($REAL, SONAME $SONAME)"

for tool in pkg-config cmake readelf nm "$CC"; do
  command -v "$tool" >/dev/null || { echo "c.sh: $tool is not installed (make setup)" >&2; exit 1; }
done
if [ ! -x "$DEVCLOUD" ]; then
  echo "c.sh: $DEVCLOUD is missing (make build)" >&2
  exit 1
fi

TMP=$(mktemp -d /tmp/runbeam-install-test.XXXXXX)
. "$ROOT/scripts/lib/devcloud.sh"
cleanup() {
  devcloud_stop
  rm -rf "$TMP"
}
trap cleanup EXIT

# --------------------------------------------------------------------------- the devcloud
devcloud_start "$TMP/devcloud.out" "$TMP/devcloud.err" || { echo "c.sh: no devcloud" >&2; exit 1; }
URL=$DEVCLOUD_URL
echo "== runbeam-devcloud at $URL"

# run_examples LABEL DIR: the programs in DIR, as examples/demo.sh runs them (from the repository
# root: gateway reads examples/config/*.toml), each with a fresh RUNBEAM_HOME.
run_examples() {
  local label=$1 dir=$2
  expect_exit 0 "$label mesh_check radiology-dept.toml" "$dir/mesh_check" examples/config/radiology-dept.toml dicomweb
  expect_exit 0 "$label mesh_check ai-analytics.toml" "$dir/mesh_check" examples/config/ai-analytics.toml "$DICOM" \
    runbeam.radiology-dept.ingress.name.pacs "runbeam.radiology-dept.Ingress.name.dicomweb" \
    runbeam.radiology-dept.widget.name.dicomweb
  expect_exit 1 "$label mesh_check broken-unknown-provider.toml" "$dir/mesh_check" examples/config/broken-unknown-provider.toml
  expect_exit 0 "$label authorize analytics-gw-1 as bob" "$dir/authorize" "$URL" "$BOB" analytics-gw-1
  expect_exit 1 "$label authorize radiology-gw-1 as bob (another team's gateway)" "$dir/authorize" "$URL" "$BOB" radiology-gw-1
  mkdir -p "$TMP/home/$label"
  expect_exit 0 "$label gateway (authorize, resolve, mesh token, verify)" \
    env RUNBEAM_HOME="$TMP/home/$label" RUNBEAM_SANCTUM_TOKEN="$BOB" "$dir/gateway" "$URL"
}

# check_size WHAT FILE BOUND: FILE is at most BOUND bytes (MB = 1,000,000 bytes: every package
# at most 8 MB, the stripped librunbeam.so at most 6 MB).
check_size() {
  local what=$1 file=$2 bound=$3 bytes
  bytes=$(stat -c %s "$file" 2>/dev/null || echo missing)
  if [ "$bytes" = missing ]; then
    fail "$what: $file is missing"
  elif [ "$bytes" -le "$bound" ]; then
    ok "$what: $bytes bytes <= $bound"
  else
    fail "$what: $bytes bytes, over the bound of $bound. Find what grew with" \
      "'bash scripts/footprint.sh --crates' (top crates), then drop the feature or dependency," \
      "or give the cold crate opt-level \"z\" in Cargo.toml [profile.release.package] (see" \
      "BENCHMARKS.md \"Footprint\"); raise the bound only with the reason in docs/distribution.md"
  fi
}

# needed FILE: the NEEDED entries of an ELF file, one a line.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p'; }
# (grep without -q after a pipe: -q would stop reading early and fail the pipe with SIGPIPE.)
needs_runbeam() { needed "$1" | grep -x "$SONAME" >/dev/null; }
needs_no_runbeam() { ! needed "$1" | grep '^librunbeam' >/dev/null; }
# The loader resolves librunbeam.so.MAJOR of FILE to DIR (not to the repository's build).
resolves_to() { ldd "$1" | grep -F "$SONAME => $2/$SONAME " >/dev/null; }
defines_runbeam() { nm "$1" | grep ' T runbeam_version$' >/dev/null; }
# sections FILE: the section names of an ELF file or of every member of an archive.
sections() { objdump -h "$1" | awk '$1 ~ /^[0-9]+$/ {print $2}'; }
export -f sections

# debuglink_matches LIBRARY DEBUGFILE: .gnu_debuglink = file name, NUL padding to 4, CRC-32 (LE).
debuglink_matches() {
  objcopy --dump-section .gnu_debuglink="$TMP/debuglink" "$1" "$TMP/debuglink-discard" || return 1
  python3 - "$TMP/debuglink" "$2" <<'PY'
import struct, sys, zlib, os
link = open(sys.argv[1], "rb").read()
name = link.split(b"\0", 1)[0].decode()
crc = struct.unpack("<I", link[-4:])[0]
actual = zlib.crc32(open(sys.argv[2], "rb").read())
print(f"debuglink {name} crc {crc:08x}, {os.path.basename(sys.argv[2])} crc {actual:08x}")
sys.exit(0 if name == os.path.basename(sys.argv[2]) and crc == actual else 1)
PY
}

# test_prefix LABEL PKGCONFIG_DIR CMAKE_PREFIX: builds and runs everything against an install.
test_prefix() {
  local label=$1 pcdir=$2 cmake_prefix=$3
  local bin=$TMP/bin/$label
  mkdir -p "$bin/shared" "$bin/static" "$bin/ldpath"
  export PKG_CONFIG_PATH=$pcdir
  echo "== $label: pkg-config (PKG_CONFIG_PATH=$pcdir)"
  echo "   --cflags --libs:          $(pkg-config --cflags --libs runbeam)"
  echo "   --static --cflags --libs: $(pkg-config --static --cflags --libs runbeam)"
  check "$label: pkg-config --modversion runbeam is $VERSION" test "$(pkg-config --modversion runbeam)" = "$VERSION"
  check "$label: pkg-config --exists 'runbeam >= $NUM'" pkg-config --exists "runbeam >= $NUM"
  local libdir includedir
  libdir=$(pkg-config --variable=libdir runbeam)
  includedir=$(pkg-config --variable=includedir runbeam)
  libdir=$(realpath "$libdir"); includedir=$(realpath "$includedir")
  check "$label: pkg-config's includedir has runbeam.h" test -f "$includedir/runbeam.h"
  check "$label: pkg-config's libdir has $REAL" test -f "$libdir/$REAL"
  check "$label: Libs.private is rustc's native-static-libs" \
    test "$(sed -n 's/^Libs.private: //p' "$pcdir/runbeam.pc")" = "$(cat build/c-dist/native-static-libs)"

  local shared_flags static_flags
  read -ra shared_flags <<<"$(pkg-config --cflags --libs runbeam)"
  static_flags=$(pkg-config --static --cflags --libs runbeam)
  # Both librunbeam.so and librunbeam.a are in libdir: -lrunbeam would take the .so.
  read -ra static_flags <<<"${static_flags/-lrunbeam/-l:librunbeam.a}"
  for ex in "${EXAMPLES[@]}"; do
    check "$label: $ex.c builds with pkg-config --cflags --libs (shared, rpath from --variable=libdir)" \
      "$CC" "${CFLAGS_STRICT[@]}" "examples/c/$ex.c" "${shared_flags[@]}" -Wl,-rpath,"$libdir" -o "$bin/shared/$ex"
    check "$label: shared $ex records NEEDED $SONAME" needs_runbeam "$bin/shared/$ex"
    check "$label: shared $ex loads $libdir/$SONAME" resolves_to "$bin/shared/$ex" "$libdir"
    check "$label: $ex.c builds with pkg-config --static --cflags --libs (librunbeam.a)" \
      "$CC" "${CFLAGS_STRICT[@]}" "examples/c/$ex.c" "${static_flags[@]}" -o "$bin/static/$ex"
    check "$label: static $ex needs no librunbeam.so" needs_no_runbeam "$bin/static/$ex"
    check "$label: static $ex contains runbeam_version" defines_runbeam "$bin/static/$ex"
  done
  # Without an rpath: the loader does not know the prefix (the honest failure), and
  # LD_LIBRARY_PATH is the other way to tell it.
  check "$label: mesh_check.c builds without an rpath" \
    "$CC" "${CFLAGS_STRICT[@]}" examples/c/mesh_check.c "${shared_flags[@]}" -o "$bin/ldpath/mesh_check"
  local err
  err=$("$bin/ldpath/mesh_check" examples/config/radiology-dept.toml 2>&1)
  if [ $? -eq 127 ] && grep -q "$SONAME" <<<"$err"; then
    ok "$label: without rpath or LD_LIBRARY_PATH the loader does not find $SONAME ($err)"
  else
    fail "$label: a program without rpath ran or failed otherwise: $err"
  fi
  expect_exit 0 "$label: LD_LIBRARY_PATH=$libdir mesh_check" \
    env LD_LIBRARY_PATH="$libdir" "$bin/ldpath/mesh_check" examples/config/radiology-dept.toml dicomweb

  echo "== $label: shared examples"
  run_examples "$label-shared" "$bin/shared"
  echo "== $label: static examples"
  run_examples "$label-static" "$bin/static"

  echo "== $label: CMake find_package(runbeam) (CMAKE_PREFIX_PATH=$cmake_prefix)"
  local proj=$TMP/cmake-src
  mkdir -p "$proj"
  cat >"$proj/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.14)
project(runbeam_consumer C)
find_package(runbeam \${RUNBEAM_REQUEST} REQUIRED)
message(STATUS "runbeam \${runbeam_VERSION}: \${runbeam_LIBRARY}, \${runbeam_INCLUDE_DIR}")
foreach(ex mesh_check authorize gateway)
  add_executable(\${ex} $ROOT/examples/c/\${ex}.c)
  target_link_libraries(\${ex} PRIVATE runbeam::runbeam)
endforeach()
add_executable(mesh_check_by_name $ROOT/examples/c/mesh_check.c)
target_link_libraries(mesh_check_by_name PRIVATE \${BY_NAME})
EOF
  local kind
  for kind in shared static; do
    local build=$TMP/cmake-$label-$kind static_opt=OFF
    [ "$kind" = static ] && static_opt=ON
    check "$label: cmake configure ($kind, find_package(runbeam $MAJOR.$(cut -d. -f2 <<<"$NUM")))" \
      cmake -S "$proj" -B "$build" -DCMAKE_PREFIX_PATH="$cmake_prefix" -DRUNBEAM_REQUEST="$MAJOR.$(cut -d. -f2 <<<"$NUM")" \
      -DRUNBEAM_USE_STATIC_LIBS=$static_opt -DBY_NAME="runbeam::runbeam_$kind" -DCMAKE_C_STANDARD=11
    check "$label: cmake --build ($kind)" cmake --build "$build"
    if [ "$kind" = shared ]; then
      check "$label: cmake shared mesh_check records NEEDED $SONAME" needs_runbeam "$build/mesh_check"
      check "$label: cmake shared mesh_check loads $libdir/$SONAME" resolves_to "$build/mesh_check" "$libdir"
      check "$label: runbeam::runbeam_shared by name records NEEDED $SONAME" needs_runbeam "$build/mesh_check_by_name"
    else
      check "$label: cmake static mesh_check needs no librunbeam.so" needs_no_runbeam "$build/mesh_check"
      check "$label: cmake static mesh_check contains runbeam_version" defines_runbeam "$build/mesh_check"
      check "$label: runbeam::runbeam_static by name needs no librunbeam.so" needs_no_runbeam "$build/mesh_check_by_name"
    fi
    expect_exit 0 "$label: cmake $kind mesh_check ai-analytics.toml" "$build/mesh_check" examples/config/ai-analytics.toml "$DICOM"
    expect_exit 0 "$label: cmake $kind authorize analytics-gw-1" "$build/authorize" "$URL" "$BOB" analytics-gw-1
    mkdir -p "$TMP/home/cmake-$label-$kind"
    expect_exit 0 "$label: cmake $kind gateway" \
      env RUNBEAM_HOME="$TMP/home/cmake-$label-$kind" RUNBEAM_SANCTUM_TOKEN="$BOB" "$build/gateway" "$URL"
  done
  # The version file: another minor of a 0.x (or another major) is not compatible.
  local incompatible
  for incompatible in "$MAJOR.$(( $(cut -d. -f2 <<<"$NUM") + 1 ))" "$((MAJOR + 1)).0"; do
    if cmake -S "$proj" -B "$TMP/cmake-$label-wrong" -DCMAKE_PREFIX_PATH="$cmake_prefix" \
        -DRUNBEAM_REQUEST="$incompatible" -DBY_NAME=runbeam::runbeam >"$TMP/wrong.log" 2>&1; then
      fail "$label: find_package(runbeam $incompatible) accepted version $VERSION"
    elif grep -q "$VERSION" "$TMP/wrong.log"; then
      ok "$label: find_package(runbeam $incompatible) refuses $VERSION"
    else
      fail "$label: find_package(runbeam $incompatible) failed for another reason:"; sed 's/^/    /' "$TMP/wrong.log" >&2
    fi
    rm -rf "$TMP/cmake-$label-wrong"
  done
  unset PKG_CONFIG_PATH
}

# --------------------------------------------------------------------------- make install
PREFIX=$TMP/prefix
echo "== make install PREFIX=$PREFIX"
if ! "$MAKE" --no-print-directory -C "$ROOT" install PREFIX="$PREFIX" >"$TMP/install.log" 2>&1; then
  cat "$TMP/install.log" >&2
  echo "c.sh: make install PREFIX=$PREFIX failed" >&2
  exit 1
fi
tail -n 1 "$TMP/install.log"
L=$PREFIX/lib
check "installed: include/runbeam.h is the repository's" cmp include/runbeam.h "$PREFIX/include/runbeam.h"
check "installed: lib/$REAL is a regular file" test -f "$L/$REAL" -a ! -L "$L/$REAL"
check "installed: lib/$SONAME -> $REAL" test "$(readlink "$L/$SONAME")" = "$REAL"
check "installed: lib/librunbeam.so -> $SONAME" test "$(readlink "$L/librunbeam.so")" = "$SONAME"
check "installed: lib/librunbeam.a" test -f "$L/librunbeam.a"
# Footprint bounds (BENCHMARKS.md "Footprint"; bash scripts/footprint.sh prints every size).
# A size is not a timing: these fail only when a change grows what users download and load.
# The shared library's bound is the 6 MB goal of BENCHMARKS.md "Footprint" (5.77 MB today).
check_size "installed: lib/$REAL (stripped)" "$L/$REAL" 6000000
check "installed: lib/pkgconfig/runbeam.pc" test -f "$L/pkgconfig/runbeam.pc"
check "installed: lib/cmake/runbeam/runbeam-config.cmake and -version.cmake" \
  test -f "$L/cmake/runbeam/runbeam-config.cmake" -a -f "$L/cmake/runbeam/runbeam-config-version.cmake"
check "installed: no .debug file (only the -debug tarball has it)" test -z "$(find "$PREFIX" -name '*.debug')"
check "installed: nothing else" test "$(cd "$PREFIX" && find . ! -type d | sort | tr '\n' ' ')" = \
  "./include/runbeam.h ./lib/cmake/runbeam/runbeam-config-version.cmake ./lib/cmake/runbeam/runbeam-config.cmake ./lib/librunbeam.a ./lib/librunbeam.so ./lib/$SONAME ./lib/$REAL ./lib/pkgconfig/runbeam.pc "
check "runbeam.pc: prefix=$PREFIX (absolute, as installed)" grep -qx "prefix=$PREFIX" "$L/pkgconfig/runbeam.pc"
check "runbeam.pc: libdir=\${prefix}/lib" grep -qx 'libdir=${prefix}/lib' "$L/pkgconfig/runbeam.pc"
check "$REAL: SONAME $SONAME" test "$(readelf -d "$L/$REAL" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" = "$SONAME"
check "$REAL: stripped (no .symtab, no .debug_* sections)" \
  bash -c "! sections '$L/$REAL' | grep -E '^(\.symtab|\.debug_)' >/dev/null"
check "$REAL: .gnu_debuglink names $REAL.debug" \
  bash -c "readelf --string-dump=.gnu_debuglink '$L/$REAL' | grep -F '$REAL.debug' >/dev/null"
check "librunbeam.a: no .debug_* sections" bash -c "! sections '$L/librunbeam.a' | grep '^\.debug_' >/dev/null"
check "librunbeam.a: no LLVM bitcode (.llvmbc)" bash -c "! sections '$L/librunbeam.a' | grep '^\.llvmbc' >/dev/null"
foreign=$(nm -D --defined-only "$L/$REAL" | awk '$3 !~ /^runbeam_/ {print $3}')
check "$REAL: exports only runbeam_* ($(nm -D --defined-only "$L/$REAL" | wc -l) symbols)" test -z "$foreign"
check "$REAL: does not export the test-only runbeam_fault_arm" bash -c "! nm -D --defined-only '$L/$REAL' | grep runbeam_fault_arm >/dev/null"

test_prefix install "$L/pkgconfig" "$PREFIX"

# --------------------------------------------------------------------------- DESTDIR, uninstall
STAGE=$TMP/stage
echo "== make install DESTDIR=$STAGE PREFIX=/opt/runbeam LIBDIR=/opt/runbeam/lib64, then make uninstall"
if "$MAKE" --no-print-directory -C "$ROOT" install DESTDIR="$STAGE" PREFIX=/opt/runbeam LIBDIR=/opt/runbeam/lib64 >"$TMP/stage.log" 2>&1; then
  ok "make install DESTDIR=... PREFIX=/opt/runbeam LIBDIR=/opt/runbeam/lib64"
  check "DESTDIR: files under \$DESTDIR/opt/runbeam/lib64" test -f "$STAGE/opt/runbeam/lib64/$REAL" -a -f "$STAGE/opt/runbeam/include/runbeam.h"
  check "DESTDIR: nothing outside \$DESTDIR/opt/runbeam" test "$(ls -A "$STAGE")" = opt
  check "DESTDIR: runbeam.pc names the final prefix, not the staging directory" \
    bash -c "grep -qx 'prefix=/opt/runbeam' '$STAGE/opt/runbeam/lib64/pkgconfig/runbeam.pc' && grep -qx 'libdir=\${prefix}/lib64' '$STAGE/opt/runbeam/lib64/pkgconfig/runbeam.pc' && ! grep -q '$STAGE' '$STAGE/opt/runbeam/lib64/pkgconfig/runbeam.pc'"
  check "DESTDIR: the CMake package finds include/ from lib64/cmake/runbeam" \
    grep -q 'CMAKE_CURRENT_LIST_DIR}/../../../include"' "$STAGE/opt/runbeam/lib64/cmake/runbeam/runbeam-config.cmake"
  if "$MAKE" --no-print-directory -C "$ROOT" uninstall DESTDIR="$STAGE" PREFIX=/opt/runbeam LIBDIR=/opt/runbeam/lib64 >"$TMP/uninstall.log" 2>&1; then
    left=$(find "$STAGE" ! -type d)
    check "make uninstall removes every installed file${left:+ (left: $left)}" test -z "$left"
  else
    fail "make uninstall DESTDIR=$STAGE"; cat "$TMP/uninstall.log" >&2
  fi
else
  fail "make install DESTDIR=$STAGE"; cat "$TMP/stage.log" >&2
fi

# --------------------------------------------------------------------------- the tarball
if [ -n "$TARBALL" ]; then
  echo "== release tarball $TARBALL, unpacked elsewhere"
  UNPACK=$TMP/unpacked/somewhere
  mkdir -p "$UNPACK"
  top=$(basename "$TARBALL" .tar.xz)
  if tar -C "$UNPACK" -xJf "$TARBALL"; then
    ok "tar -xJf $(basename "$TARBALL")"
    check_size "tarball: $(basename "$TARBALL")" "$TARBALL" 8000000
    T=$UNPACK/$top
    check "tarball: one top directory $top" test "$(ls -A "$UNPACK")" = "$top"
    check "tarball: README.md" test -f "$T/README.md"
    check "tarball: same files as make install" test "$(cd "$T" && find include lib ! -type d | sort | tr '\n' ' ')" = \
      "$(cd "$PREFIX" && find include lib ! -type d | sort | tr '\n' ' ')"
    check "tarball: $REAL identical to the installed one" cmp "$T/lib/$REAL" "$L/$REAL"
    check "tarball: runbeam.pc is relocatable (prefix=\${pcfiledir}/../..)" grep -qx 'prefix=${pcfiledir}/../..' "$T/lib/pkgconfig/runbeam.pc"
    debug_tarball=${TARBALL%.tar.xz}-debug.tar.xz
    if tar -C "$UNPACK" -xJf "$debug_tarball"; then
      check "debug tarball: lib/$REAL.debug beside the library" test -f "$T/lib/$REAL.debug"
      check "debug tarball: $REAL.debug has the line tables" bash -c "sections '$T/lib/$REAL.debug' | grep -x '\.debug_line' >/dev/null"
      check "debug tarball: the library's .gnu_debuglink CRC is the .debug file's (what gdb checks)" \
        debuglink_matches "$T/lib/$REAL" "$T/lib/$REAL.debug"
    else
      fail "tar -xJf $debug_tarball"
    fi
    test_prefix tarball "$T/lib/pkgconfig" "$T"
  else
    fail "tar -xJf $TARBALL"
  fi
fi

echo
echo "c-install-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
