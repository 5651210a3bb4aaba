"""Checks the release artefacts that `make python-dist` wrote to dist/: the wheel and the sdist.

The wheel: an abi3 wheel for CPython >= 3.10 whose platform tag is the manylinux tag asked for
(maturin's own audit passed when it was built; this checks the result independently with
readelf: no GLIBC symbol version newer than the tag allows, only libraries the manylinux policy
lists, stripped, no fault-injection hook), with the typing files, and that it installs into a
fresh virtual environment and works there (scripts/check_wheel.py).

The sdist: the binding, the core crate runbeam-core, Cargo.lock and the workspace manifest
(every member it names present), the Python package with its typing files, and none of the
repository's development files. That it really builds with no repository around it is
tests/install/python.sh's job (`make python-install-test`).

    python bindings/python/scripts/check_dist.py dist [--platform manylinux_2_17]
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_wheel  # noqa: E402

# The manylinux policy's libraries (PEP 600 / auditwheel's policy.json) that a Rust extension
# may need; anything else would have to be vendored into the wheel.
ALLOWED_LIBS = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libgcc_s.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}
# What building the extension needs from the sdist (relative to its top directory).
SDIST_REQUIRED = (
    "PKG-INFO",
    "pyproject.toml",
    "Cargo.toml",
    "Cargo.lock",
    "bindings/python/Cargo.toml",
    "bindings/python/src/lib.rs",
    "runbeam-core/Cargo.toml",
    "runbeam-core/src/lib.rs",
    "python/runbeam/__init__.py",
    "python/runbeam/py.typed",
    "python/runbeam/_native.pyi",
    "python/runbeam/resources.pyi",
)
# Development files of the repository that the sdist must not carry.
SDIST_FORBIDDEN = re.compile(
    r"^(bindings/python/(tests|bench|scripts)/|bindings/python/(python\.mk|requirements-dev\.txt"
    r"|gen_stub_docs\.py|stubtest-allowlist\.txt)$|runbeam-ffi/|runbeam-devcloud/|bindings/node/"
    r"|target/|\.git/)"
)


class Failures:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.messages.append(message)


def readelf(*args: str) -> str:
    if shutil.which("readelf") is None:
        raise SystemExit("check_dist.py: readelf (binutils) is not installed")
    return subprocess.run(
        ["readelf", "-W", *args], check=True, capture_output=True, text=True
    ).stdout


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def check_wheel_file(wheel: Path, platform: str, failures: Failures) -> None:
    name = wheel.name
    failures.check("-cp310-abi3-" in name, f"{name}: not an abi3 wheel for CPython >= 3.10")
    tags = name.removesuffix(".whl").split("-")[-1].split(".")
    failures.check(
        any(t.startswith(platform + "_") for t in tags),
        f"{name}: platform tags {tags} do not include {platform}_<arch>",
    )
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)", platform)
    max_glibc = (int(match.group(1)), int(match.group(2))) if match else None
    with zipfile.ZipFile(wheel) as zf, tempfile.TemporaryDirectory() as tmp:
        libs = [n for n in zf.namelist() if n.startswith("runbeam/_native") and n.endswith(".so")]
        failures.check(len(libs) == 1, f"{name}: expected one runbeam/_native*.so, found {libs}")
        vendored = [n for n in zf.namelist() if ".libs/" in n]
        failures.check(not vendored, f"{name}: vendors libraries {vendored}")
        if len(libs) != 1:
            return
        so = Path(zf.extract(libs[0], tmp))
        data = so.read_bytes()
        failures.check(
            b"_fault_arm" not in data, f"{name}: the extension has the fault-injection hook"
        )
        sections = set(re.findall(r"\]\s+(\.\S+)", readelf("-S", str(so))))
        debug = sorted(s for s in sections if s == ".symtab" or s.startswith(".debug"))
        failures.check(not debug, f"{name}: the extension is not stripped ({debug})")
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", readelf("-d", str(so))))
        failures.check(
            needed <= ALLOWED_LIBS,
            f"{name}: links libraries outside the manylinux policy: {sorted(needed - ALLOWED_LIBS)}",
        )
        glibc = {
            version_tuple(v) for v in re.findall(r"@GLIBC_([\d.]+)", readelf("--dyn-syms", str(so)))
        }
        newest = max(glibc) if glibc else (0, 0)
        if max_glibc is not None:
            failures.check(
                newest[:2] <= max_glibc,
                f"{name}: needs GLIBC_{'.'.join(map(str, newest))}, newer than {platform} allows",
            )
        print(
            f"{name}: {wheel.stat().st_size / 1e6:.2f} MB "
            f"(extension {len(data) / 1e6:.2f} MB, stripped), "
            f"newest symbol GLIBC_{'.'.join(map(str, newest))}, needs {', '.join(sorted(needed))}"
        )


def check_sdist_file(sdist: Path, version: str, failures: Failures) -> None:
    top = f"runbeam-{version}/"
    with tarfile.open(sdist) as tf:
        members = {m.name: m for m in tf.getmembers()}
        outside = [n for n in members if not n.startswith(top) or ".." in n.split("/")]
        failures.check(not outside, f"{sdist.name}: members outside {top}: {outside[:5]}")
        files = {n[len(top) :] for n, m in members.items() if m.isfile() and n.startswith(top)}
        missing = [n for n in SDIST_REQUIRED if n not in files]
        failures.check(not missing, f"{sdist.name}: lacks {missing}")
        extra = sorted(n for n in files if SDIST_FORBIDDEN.match(n))
        failures.check(not extra, f"{sdist.name}: carries development files {extra[:10]}")
        if "Cargo.toml" in files:
            raw = tf.extractfile(members[top + "Cargo.toml"])
            assert raw is not None
            workspace = tomllib.load(io.BytesIO(raw.read())).get("workspace", {})
            for member in workspace.get("members", []):
                failures.check(
                    f"{member}/Cargo.toml" in files,
                    f"{sdist.name}: workspace member {member} is not in the sdist",
                )
        print(f"{sdist.name}: {sdist.stat().st_size / 1e3:.0f} kB, {len(files)} files")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", type=Path)
    parser.add_argument("--platform", default="manylinux_2_17")
    args = parser.parse_args()
    wheels = sorted(args.dist.glob("runbeam-[0-9]*.whl"))
    sdists = sorted(args.dist.glob("runbeam-[0-9]*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(
            f"expected one runbeam wheel and one runbeam sdist in {args.dist}, found "
            f"{[w.name for w in wheels]} and {[s.name for s in sdists]} (make python-dist)",
            file=sys.stderr,
        )
        return 1
    version = wheels[0].name.split("-")[1]
    failures = Failures()
    failures.check(
        sdists[0].name == f"runbeam-{version}.tar.gz",
        f"the sdist {sdists[0].name} and the wheel {wheels[0].name} have different versions",
    )
    check_wheel_file(wheels[0], args.platform, failures)
    check_sdist_file(sdists[0], version, failures)
    if failures.messages:
        for message in failures.messages:
            print(f"check_dist: {message}", file=sys.stderr)
        return 1
    # The typing files, and a smoke test in a fresh venv.
    return check_wheel.main(str(args.dist))


if __name__ == "__main__":
    sys.exit(main())
