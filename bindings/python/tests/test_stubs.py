"""What ``mypy.stubtest`` does not check in the type stubs (``runbeam/_native.pyi``, and
``runbeam/resources.pyi`` for the model classes of the native module that ``runbeam.resources``
re-exports), and that the stubs' overloads give a type checker the return types.

``make python-stubtest`` (run by ``make python-test``) compares the stub with the built module:
names, parameter names, kinds and defaults, properties against methods, static methods, ``@final``.
It deliberately skips some things that matter for a pyo3 module, checked here instead:

- protocol dunders implemented as slots (``__len__``, ``__bool__``, ``__iter__``, ``__next__``,
  ``__aiter__``, ``__anext__``) and ``__reduce__``: stubtest ignores those missing from a stub;
- hashability: stubtest ignores ``__hash__``, so a class made unhashable by defining ``__eq__``
  must be declared with ``__hash__: ClassVar[None]``;
- constructors: stubtest accepts a ``__new__`` in the stub for a class that has none at runtime;
- docstrings: every public class and function of the stub has one, and every docstring is the
  Rust doc comment of its item (written by `make python-stubs`, see `gen_stub_docs.py`).
"""

from __future__ import annotations

import ast
import textwrap
import types
from pathlib import Path
from typing import Dict, List

import pytest

import runbeam
from runbeam import _native, resources

STUB = Path(runbeam.__file__).with_name("_native.pyi")
TREE = ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))
RESOURCES_STUB = Path(runbeam.__file__).with_name("resources.pyi")
RESOURCES_TREE = ast.parse(RESOURCES_STUB.read_text(encoding="utf-8"), filename=str(RESOURCES_STUB))

# Each stub with the module whose items it describes.
STUBS = [(STUB, TREE, _native), (RESOURCES_STUB, RESOURCES_TREE, resources)]

# Class name (qualified by the stub's module for the models) -> member name -> its stub node
# (a function or an annotated attribute).
STUB_CLASSES: Dict[str, Dict[str, ast.stmt]] = {
    (node.name if module is _native else f"resources.{node.name}"): {
        (item.name if isinstance(item, ast.FunctionDef) else item.target.id): item
        for item in node.body
        if isinstance(item, ast.FunctionDef)
        or (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name))
    }
    for _, tree, module in STUBS
    for node in tree.body
    if isinstance(node, ast.ClassDef)
}

# Slot dunders that every object has with the same meaning, or that pyo3 defines as a group:
# a `__richcmp__` gives all six comparison slots, of which the stub declares the supported ones.
INHERITED_MEANING = {
    "__repr__", "__str__", "__hash__", "__new__", "__init__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
}  # fmt: skip


def _runtime_class(name: str) -> type:
    module, _, name = name.rpartition(".")
    cls = getattr(resources if module else _native, name)
    assert isinstance(cls, type), name
    return cls


@pytest.mark.parametrize("name", sorted(STUB_CLASSES))
def test_protocol_dunders_are_declared(name: str):
    own = vars(_runtime_class(name))
    skipped_by_stubtest = {
        member
        for member, value in own.items()
        if member.startswith("__")
        and member not in INHERITED_MEANING
        and (isinstance(value, types.WrapperDescriptorType) or member == "__reduce__")
    }
    assert skipped_by_stubtest <= set(STUB_CLASSES[name]), name


@pytest.mark.parametrize("name", sorted(STUB_CLASSES))
def test_hashability_matches(name: str):
    unhashable = vars(_runtime_class(name)).get("__hash__", object()) is None
    declared = STUB_CLASSES[name].get("__hash__")
    declared_none = isinstance(declared, ast.AnnAssign) and "None" in ast.unparse(declared.annotation)
    assert unhashable == declared_none, f"{name}: declare __hash__: ClassVar[None] iff unhashable"


@pytest.mark.parametrize("name", sorted(STUB_CLASSES))
def test_constructor_declared_iff_constructible(name: str):
    cls = _runtime_class(name)
    assert ("__new__" in STUB_CLASSES[name]) == ("__new__" in vars(cls)), name
    if "__new__" not in STUB_CLASSES[name]:
        # Instances come only from the module's functions and methods.
        with pytest.raises(TypeError):
            cls()


def test_public_classes_and_functions_have_docstrings():
    undocumented = [
        node.name
        for _, tree, _ in STUBS
        for node in tree.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef))
        and not node.name.startswith("_")
        and not ast.get_docstring(node)
    ]
    assert undocumented == []


def test_stub_docstrings_are_the_rust_doc_comments():
    """The stubs' docstrings are written from the module (`make python-stubs`); any drift fails."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "gen_stub_docs.py"
    spec = importlib.util.spec_from_file_location("gen_stub_docs", script)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for path, _, module in STUBS:
        stub = path.read_text(encoding="utf-8")
        assert gen.generate(stub, module) == stub, f"run 'make python-stubs' ({path.name})"
    text = STUB.read_text(encoding="utf-8")
    # The check can fail: a changed docstring is noticed.
    changed = text.replace('"""The table name."""', '"""Another text."""', 1)
    assert changed != text and gen.generate(changed, _native) == text


def _mypy(code: str, tmp_path: Path) -> str:
    """mypy's report on `code`, checked with the package's stubs in strict mode."""
    from mypy import api

    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "sample.py"
    source.write_text(textwrap.dedent(code), encoding="utf-8")
    out, err, _ = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)]
    )
    return out + err


COLLECTION_CALLS = """
    import datetime
    from typing import Any, Dict, List, Optional
    from typing_extensions import assert_type
    import runbeam
    from runbeam.resources import Ingress, Mesh, Service

    async def calls(client: runbeam.Client, aclient: runbeam.AsyncClient) -> None:
        assert_type(client.get(Service, "1"), Service)
        assert_type(client.get("services", "1"), Dict[str, Any])
        assert_type(client.list(Ingress).data[0].urls, List[str])
        assert_type(client.list("ingresses").data, List[Dict[str, Any]])
        assert_type(client.create(Service(name="billing")), Service)
        assert_type(client.create("services", {"name": "billing"}), Dict[str, Any])
        assert_type(client.update("1", Mesh(description="d")), Mesh)
        assert_type(client.update("meshes", "1", {"description": "d"}), Dict[str, Any])
        assert_type(next(iter(client.list_all(Mesh))).created_at, Optional[datetime.datetime])
        assert_type(client.delete(Service, "1"), None)
        assert_type(await aclient.get(Service, "1"), Service)
        assert_type(await aclient.create(Mesh(name="m")), Mesh)
        assert_type(await aclient.update("1", Mesh(name="m")), Mesh)
        async for ingress in aclient.list_all(Ingress):
            assert_type(ingress, Ingress)
"""


def test_a_type_checker_knows_what_the_collection_calls_return(tmp_path: Path):
    report = _mypy(COLLECTION_CALLS, tmp_path)
    assert "Success: no issues found" in report, report
    # The check can fail: a wrong expectation is reported.
    wrong = COLLECTION_CALLS.replace('get(Service, "1"), Service)', 'get(Service, "1"), Mesh)', 1)
    assert wrong != COLLECTION_CALLS
    assert 'is of type "Service", not "Mesh"' in _mypy(wrong, tmp_path / "wrong")
