"""Checks the abi3 wheel that `maturin build` produced: its tag, that it ships the typing files,
and that it installs into a fresh virtual environment and works there (no source tree on the
path).

    python bindings/python/scripts/check_wheel.py build/wheels
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REQUIRED = (
    "runbeam/__init__.py",
    "runbeam/errors.py",
    "runbeam/_logging.py",
    "runbeam/asgi.py",
    "runbeam/resources.py",
    "runbeam/_native.pyi",
    "runbeam/resources.pyi",
    "runbeam/py.typed",
)
SMOKE = (
    "import runbeam; r = runbeam.Reference.parse('runbeam.acme.Ingress.name.api'); "
    "assert str(r) == 'runbeam.acme.ingress.name.api', r; "
    "from runbeam.resources import Service; "
    "assert Service(name='s').to_dict() == {'name': 's'}; "
    "assert runbeam.__file__.find('site-packages') > 0, runbeam.__file__; "
    # The middleware imports without any web framework installed (the fresh venv has none).
    "import runbeam.asgi, importlib.util; "
    "assert importlib.util.find_spec('starlette') is None; "
    "assert runbeam.join_path('http://h/a', '/b') == 'http://h/a/b'; "
    "print('wheel ok:', runbeam.__version__, runbeam.__file__)"
)


def main(wheel_dir: str) -> int:
    wheels = sorted(Path(wheel_dir).glob("runbeam-*.whl"))
    if len(wheels) != 1:
        print(f"expected one runbeam wheel in {wheel_dir}, found {wheels}", file=sys.stderr)
        return 1
    wheel = wheels[0]
    if "-cp310-abi3-" not in wheel.name:
        print(f"{wheel.name}: not an abi3 wheel for CPython >= 3.10", file=sys.stderr)
        return 1
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in REQUIRED if n not in names]
    if not any(n.startswith("runbeam/_native") and n.endswith(".so") for n in names):
        missing.append("runbeam/_native*.so")
    if missing:
        print(f"{wheel.name} lacks {missing}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--no-index"]
        subprocess.run([*pip, "--disable-pip-version-check", str(wheel)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-c", SMOKE], check=True, cwd=tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/wheels"))
