"""What ``mypy.stubtest`` does not check in the type stubs (``runbeam/_native.pyi``).

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
import types
from pathlib import Path
from typing import Dict

import pytest

import runbeam
from runbeam import _native

STUB = Path(runbeam.__file__).with_name("_native.pyi")
TREE = ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))

# Class name -> member name -> its stub node (a function or an annotated attribute).
STUB_CLASSES: Dict[str, Dict[str, ast.stmt]] = {
    node.name: {
        (item.name if isinstance(item, ast.FunctionDef) else item.target.id): item
        for item in node.body
        if isinstance(item, ast.FunctionDef)
        or (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name))
    }
    for node in TREE.body
    if isinstance(node, ast.ClassDef)
}

# Slot dunders that every object has with the same meaning, or that pyo3 defines as a group:
# a `__richcmp__` gives all six comparison slots, of which the stub declares the supported ones.
INHERITED_MEANING = {
    "__repr__", "__str__", "__hash__", "__new__", "__init__",
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
}  # fmt: skip


def _runtime_class(name: str) -> type:
    cls = getattr(_native, name)
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
        for node in TREE.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef))
        and not node.name.startswith("_")
        and not ast.get_docstring(node)
    ]
    assert undocumented == []


def test_stub_docstrings_are_the_rust_doc_comments():
    """The stub's docstrings are written from the module (`make python-stubs`); any drift fails."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "gen_stub_docs.py"
    spec = importlib.util.spec_from_file_location("gen_stub_docs", script)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = STUB.read_text(encoding="utf-8")
    assert gen.generate(text, _native) == text, "run 'make python-stubs' and commit the stub"
    # The check can fail: a changed docstring is noticed.
    changed = text.replace('"""The table name."""', '"""Another text."""', 1)
    assert changed != text and gen.generate(changed, _native) == text
