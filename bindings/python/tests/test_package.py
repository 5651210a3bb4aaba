"""Package metadata: version, typing marker, module layout."""

from __future__ import annotations

import importlib
import re
from importlib import metadata
from pathlib import Path

import runbeam
from runbeam import _native

CARGO_TOML = Path(__file__).resolve().parents[3] / "Cargo.toml"


def test_version_is_the_core_version():
    assert runbeam.__version__ == _native.__version__
    workspace = CARGO_TOML.read_text()
    match = re.search(r'^\[workspace\.package\][^\[]*?^version = "([^"]+)"', workspace, re.M | re.S)
    assert match, "no [workspace.package] version in Cargo.toml"
    assert runbeam.__version__ == match.group(1)
    assert metadata.version("runbeam") == runbeam.__version__


def test_package_is_typed():
    package = Path(runbeam.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_native.pyi").is_file()
    assert (package / "resources.pyi").is_file()


def test_native_module_is_abi3():
    assert Path(_native.__file__).name == "_native.abi3.so"


def test_all_names_exist():
    for name in runbeam.__all__:
        assert hasattr(runbeam, name), name
    # Submodules are attributes of the package once imported (runbeam.asgi only on demand: it
    # is not imported by `import runbeam`), not names of `__all__`.
    submodules = {"errors", "resources", "asgi", "annotations"}
    public = {n for n in vars(runbeam) if not n.startswith("_") and n not in submodules}
    assert public <= set(runbeam.__all__), public - set(runbeam.__all__)
    asgi = importlib.import_module("runbeam.asgi")
    for name in asgi.__all__:
        assert hasattr(asgi, name), name
