"""Writes the docstrings of the native module's stubs (``runbeam/_native.pyi``, and
``runbeam/resources.pyi`` for the model classes that ``runbeam.resources`` re-exports) from the
built module, so that the Rust doc comments of the pyo3 items are their one source.

Every class, function, method and property a stub declares gets the ``__doc__`` of the same
item of its runtime module (a Rust ``///`` comment, which pyo3 makes the ``__doc__``); an item
whose Rust side has no doc comment gets none in the stub either. Special methods (``__new__``,
``__repr__``, …) carry no docstring: the runtime gives them CPython's generic text, and a
constructor is documented on its class. The stub's own module docstring and its signatures are
left alone (``mypy.stubtest`` checks those).

    python bindings/python/gen_stub_docs.py          # rewrite the stub (make python-stubs)
    python bindings/python/gen_stub_docs.py --check  # exit 1 when the stub differs (make python-test)
"""

from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import sys
from pathlib import Path
from typing import List, Optional, Tuple

PACKAGE = Path(__file__).resolve().parent / "python" / "runbeam"
# Each stub and the module whose items it describes.
STUBS = (
    (PACKAGE / "_native.pyi", "runbeam._native"),
    (PACKAGE / "resources.pyi", "runbeam.resources"),
)
MAX_LINE = 100

Edit = Tuple[int, int, List[str]]  # replace lines [start, end) (0-based) with these


def runtime_doc(obj: object) -> Optional[str]:
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        return None
    return inspect.cleandoc(doc)


def member(owner: object, name: str) -> object:
    """The runtime item `name` of a class (its own descriptor, so that a property's docstring
    is the property's) or of the module; `None` when it does not exist (e.g. a debug-only hook
    in a release build)."""
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in vars(klass):
                item = vars(klass)[name]
                # The function's docstring, not the one of the `staticmethod` type.
                return item.__func__ if isinstance(item, (staticmethod, classmethod)) else item
        return None
    return getattr(owner, name, None)


def docstring_lines(doc: str, indent: str) -> List[str]:
    text = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.split("\n")
    if len(lines) == 1 and not text.endswith('"') and len(indent) + len(text) + 6 <= MAX_LINE:
        return [f'{indent}"""{text}"""']
    out = [f'{indent}"""{lines[0]}']
    out += [f"{indent}{line}" if line else "" for line in lines[1:]]
    out.append(f'{indent}"""')
    return out


def is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def edit_for(node: ast.stmt, doc: Optional[str], lines: List[str]) -> Optional[Edit]:
    """The edit that gives `node` (a class or function) the docstring `doc` (None: none)."""
    assert isinstance(node, (ast.ClassDef, ast.FunctionDef))
    first = node.body[0]
    indent = " " * (node.col_offset + 4)
    if is_docstring(first):
        start, end = first.lineno - 1, first.end_lineno or first.lineno
        if lines[start][: first.col_offset].strip():
            raise SystemExit(f"stub line {first.lineno}: put the docstring on its own line")
        if doc is not None:
            return start, end, docstring_lines(doc, indent)
        if len(node.body) > 1:
            # Drop the docstring and the blank line after it.
            blank = end < len(lines) and not lines[end].strip()
            return start, end + (1 if blank else 0), []
        return start, end, [f"{indent}..."]
    if doc is None:
        return None
    # A decorated first statement starts at its first decorator.
    decorators = getattr(first, "decorator_list", [])
    header_end = min([first.lineno] + [d.lineno for d in decorators]) - 1
    line = lines[header_end]
    if line[: first.col_offset].strip():
        # `def f(...) -> T: ...` or `class C: ...` on one line.
        if not (isinstance(first, ast.Expr) and line.rstrip().endswith("...")):
            raise SystemExit(f"stub line {first.lineno}: unexpected one-line body")
        return header_end, header_end + 1, [line[: first.col_offset].rstrip()] + docstring_lines(
            doc, indent
        )
    if isinstance(node, ast.ClassDef):
        return header_end, header_end, docstring_lines(doc, indent) + [""]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return header_end, header_end + 1, docstring_lines(doc, indent)
    return header_end, header_end, docstring_lines(doc, indent)


def generate(text: str, module: object) -> str:
    lines = text.split("\n")
    tree = ast.parse(text)
    edits: List[Edit] = []

    def visit(body: List[ast.stmt], owner: object) -> None:
        for node in body:
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                continue
            special = node.name.startswith("__") and node.name.endswith("__")
            obj = None if special else member(owner, node.name)
            if obj is None and not special:
                continue  # not in this build: left as it is
            edit = edit_for(node, None if special else runtime_doc(obj), lines)
            if edit is not None:
                edits.append(edit)
            if isinstance(node, ast.ClassDef):
                visit(node.body, obj)

    visit(tree.body, module)
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = new
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the stub differs")
    args = parser.parse_args()
    import importlib

    status = 0
    for stub, module_name in STUBS:
        current = stub.read_text(encoding="utf-8")
        wanted = generate(current, importlib.import_module(module_name))
        if not args.check:
            if wanted != current:
                stub.write_text(wanted, encoding="utf-8")
            print(f"{stub.name}: docstrings written from the built module")
        elif wanted == current:
            print(f"{stub.name}: docstrings match the built module")
        else:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    fromfile=f"{stub.name} (checked in)",
                    tofile=f"{stub.name} (from the Rust doc comments)",
                )
            )
            print(
                f"\n{stub} docstrings differ from the Rust doc comments of the built module: "
                "run 'make python-stubs' and commit the stub",
                file=sys.stderr,
            )
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
