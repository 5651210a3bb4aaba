"""The type stubs (`runbeam/_native.pyi`) describe exactly what `runbeam._native` exposes.

The stub is parsed with `ast` and compared with the runtime module: the same public names; per
class the same public members of the same sort (property, static method, method) with the same
parameter names; the declared dunders exist; hashability matches.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import runbeam
from runbeam import _native

STUB = Path(runbeam.__file__).with_name("_native.pyi")
TREE = ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))

# Stub members: name -> (sort, parameter names or None).
Members = Dict[str, Tuple[str, Optional[List[str]]]]


def _params(fn: ast.FunctionDef, drop_self: bool) -> List[str]:
    args = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
    return args[1:] if drop_self else args


def _stub_module() -> Tuple[Dict[str, Members], Members]:
    classes: Dict[str, Members] = {}
    top: Members = {}
    for node in TREE.body:
        if isinstance(node, ast.ClassDef):
            members: Members = {}
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    decorators = {d.id for d in item.decorator_list if isinstance(d, ast.Name)}
                    if "property" in decorators:
                        members[item.name] = ("property", None)
                    elif "staticmethod" in decorators:
                        members[item.name] = ("staticmethod", _params(item, drop_self=False))
                    else:
                        members[item.name] = ("method", _params(item, drop_self=True))
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    members[item.target.id] = ("attribute", None)
            classes[node.name] = members
        elif isinstance(node, ast.FunctionDef):
            top[node.name] = ("function", _params(node, drop_self=False))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top[node.target.id] = ("attribute", None)
    return classes, top


STUB_CLASSES, STUB_TOP = _stub_module()


def _runtime_params(obj, drop_self: bool) -> List[str]:
    names = list(inspect.signature(obj).parameters)
    return names[1:] if drop_self else names


def test_stub_parses_and_declares_classes():
    assert {"Reference", "MeshConfig", "Problem"} <= set(STUB_CLASSES)


def test_module_level_names_match():
    runtime = {n for n in dir(_native) if not n.startswith("_")} | {"__version__"}
    stub = {n for n in list(STUB_CLASSES) + list(STUB_TOP) if not n.startswith("_")} | {
        n for n in STUB_TOP if n == "__version__"
    }
    assert stub == runtime


def test_module_functions_match():
    for name, (sort, params) in STUB_TOP.items():
        if sort == "function":
            assert _runtime_params(getattr(_native, name), drop_self=False) == params, name


@pytest.mark.parametrize("name", sorted(STUB_CLASSES))
def test_class_members_match(name: str):
    cls = getattr(_native, name)
    stub = STUB_CLASSES[name]
    runtime = {k: v for k, v in vars(cls).items() if not k.startswith("_")}
    public_stub = {k: v for k, v in stub.items() if not k.startswith("_")}
    assert set(public_stub) == set(runtime), name

    for member, (sort, params) in public_stub.items():
        obj = runtime[member]
        if sort == "property":
            assert inspect.isdatadescriptor(obj), f"{name}.{member} is not a property"
        elif sort == "staticmethod":
            assert isinstance(obj, staticmethod), f"{name}.{member} is not a staticmethod"
            assert _runtime_params(getattr(cls, member), drop_self=False) == params
        else:
            assert callable(obj) and not isinstance(obj, (staticmethod, classmethod))
            assert _runtime_params(getattr(cls, member), drop_self=True) == params


@pytest.mark.parametrize("name", sorted(STUB_CLASSES))
def test_class_dunders_match(name: str):
    cls = getattr(_native, name)
    stub = STUB_CLASSES[name]
    own = vars(cls)
    for member, (sort, _params) in stub.items():
        if not member.startswith("__") or member == "__init__":
            continue
        if member == "__hash__" and sort == "attribute":
            assert own.get("__hash__", object()) is None, f"{name} should be unhashable"
            continue
        assert callable(own.get(member)), f"{name}.{member} is declared but not defined"
    if own.get("__hash__", object()) is None:
        assert stub.get("__hash__") == ("attribute", None), f"declare {name}.__hash__ as None"
    for member in ("__reduce__", "__copy__", "__deepcopy__", "__hash__"):
        if callable(own.get(member)):
            assert member in stub, f"{name}.{member} exists but is not in the stub"


@pytest.mark.parametrize("name", sorted(STUB_CLASSES))
def test_constructor_matches(name: str):
    cls = getattr(_native, name)
    stub = STUB_CLASSES[name]
    if "__init__" in stub:
        assert list(inspect.signature(cls).parameters) == stub["__init__"][1]
    else:
        # No constructor in the stub: instances come only from the module's functions.
        with pytest.raises(TypeError):
            cls()
        with pytest.raises(TypeError):
            cls()
