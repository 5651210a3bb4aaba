#!/usr/bin/env python3
"""Checks docs/naming.md (the naming and parity table) against the four surfaces.

Every identifier a row names in a surface's column must exist on that surface:

- C: `runbeam_*` / `RUNBEAM_*` names in include/runbeam.h;
- Python: names in the stubs (`_native.pyi`) or the package's `__init__.py` / `errors.py` / `asgi.py`;
- Node: names in index.d.ts and the middleware subpaths' express.d.ts / fastify.d.ts;
- Rust: names in runbeam-core/src.

A cell whose surface lacks the concept is `—` and its row's status says `missing <surface>`;
a cell that names something the surface does not have (a rename not carried into the table, a
removed function) fails here. So the table stays a true parity table: a missing cell is
visible, and a present cell is real.

Usage: python3 scripts/check_naming.py   (run by `make lint`)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "naming.md"

SURFACES = {
    "Rust": [ROOT / "runbeam-core" / "src"],
    "C": [ROOT / "include" / "runbeam.h"],
    "Python": [
        ROOT / "bindings/python/python/runbeam/_native.pyi",
        ROOT / "bindings/python/python/runbeam/resources.pyi",
        ROOT / "bindings/python/python/runbeam/__init__.py",
        ROOT / "bindings/python/python/runbeam/errors.py",
        ROOT / "bindings/python/python/runbeam/asgi.py",
    ],
    "Node": [
        ROOT / "bindings/node/index.d.ts",
        ROOT / "bindings/node/express.d.ts",
        ROOT / "bindings/node/fastify.d.ts",
    ],
}

# What counts as an identifier of each surface inside a backticked span.
IDENT = {
    "C": re.compile(r"^(runbeam_[a-z0-9_]+|RUNBEAM_[A-Z0-9_]+)(\(\))?$"),
    "Python": re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)?(\(\))?$"),
    "Node": re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)?(\(\))?$"),
    "Rust": re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((::|\.)[A-Za-z_][A-Za-z0-9_]*)*(\(\))?$"),
}

# Words of prose or of another language that appear in backticks without being API names.
NOT_NAMES = {
    "None", "null", "true", "false", "str", "dict", "list", "bytes", "int", "float", "bool",
    "datetime", "timedelta", "Date", "string", "number", "boolean", "Promise", "Drop", "Arc",
    "Duration", "OffsetDateTime", "Option", "Result", "Vec", "String", "JSON", "self", "new",
    # Language built-ins a row refers to (`hash()`, `length`, `Future.cancel()`).
    "hash", "length", "Future", "cancel",
}


def corpus(paths: list[Path]) -> str:
    texts = []
    for path in paths:
        files = sorted(path.rglob("*.rs")) if path.is_dir() else [path]
        texts.extend(f.read_text(encoding="utf-8") for f in files)
    return "\n".join(texts)


def words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def check(table: str, vocab: dict[str, set[str]]) -> tuple[int, list[str]]:
    """The number of names checked, and a line per name that does not exist."""
    header: list[str] | None = None
    problems: list[str] = []
    checked = 0
    for number, line in enumerate(table.splitlines(), 1):
        if not line.startswith("| "):
            header = None if not line.startswith("|") else header
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if cells[0] == "concept":
            header = cells
            continue
        if header is None or set(cells[0]) <= {"-", "|"} or len(cells) != len(header):
            continue
        for surface, cell in zip(header, cells):
            if surface not in IDENT:
                continue
            for span in re.findall(r"`([^`]+)`", cell):
                match = IDENT[surface].match(span)
                if not match:
                    continue
                for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span):
                    if name in NOT_NAMES or len(name) < 3:
                        continue
                    checked += 1
                    if name not in vocab[surface]:
                        problems.append(
                            f"docs/naming.md:{number}: {surface} `{span}`: `{name}` is not in "
                            f"the {surface} surface ({cells[0]})"
                        )
    return checked, problems


def self_test(vocab: dict[str, set[str]]) -> None:
    """The check fails on a name a surface lacks and passes on one it has."""
    row = "| concept | Rust | C | Python | Node | status |\n|---|---|---|---|---|---|\n"
    good = row + "| v | `VERSION` | `runbeam_version()` | `__version__` | `version()` | ok |\n"
    bad = row + "| v | `VERSION` | `runbeam_no_such_call` | `__version__` | `version()` | ok |\n"
    assert check(good, vocab) == (4, []), check(good, vocab)
    _, problems = check(bad, vocab)
    assert len(problems) == 1 and "runbeam_no_such_call" in problems[0], problems


def main() -> int:
    vocab = {surface: words(corpus(paths)) for surface, paths in SURFACES.items()}
    self_test(vocab)
    checked, problems = check(TABLE.read_text(encoding="utf-8"), vocab)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"check_naming: {len(problems)} names in docs/naming.md do not exist", file=sys.stderr)
        return 1
    print(f"check_naming: {checked} names in docs/naming.md exist on their surfaces")
    return 0


if __name__ == "__main__":
    sys.exit(main())
