"""Shared paths and fixture loaders of the Python suite."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
CONFIGS = FIXTURES / "configs"
EXAMPLES = REPO / "examples" / "config"


@dataclass(frozen=True)
class ValidRow:
    input: str
    canonical: str
    provider: str
    team: Optional[str]
    type: Optional[str]
    lookup: str
    value: str
    is_local: bool


@dataclass(frozen=True)
class InvalidRow:
    input: str
    segment: Optional[str]
    fragment: str


def _rows(kind: str) -> List[List[str]]:
    text = (FIXTURES / "references.tsv").read_text(encoding="utf-8")
    # Split on tabs only: some inputs start with a space on purpose.
    return [line.split("\t") for line in text.splitlines() if line.startswith(kind + "\t")]


def _input(field: str) -> str:
    return "" if field == "(empty)" else field


def _opt(field: str) -> Optional[str]:
    return None if field == "-" else field


def valid_rows() -> List[ValidRow]:
    return [
        ValidRow(_input(f[1]), f[2], f[3], _opt(f[4]), _opt(f[5]), f[6], f[7], f[8] == "1")
        for f in _rows("valid")
    ]


def invalid_rows() -> List[InvalidRow]:
    return [InvalidRow(_input(f[1]), _opt(f[2]), f[3]) for f in _rows("invalid")]


def quoted(text: str) -> str:
    """How the core quotes user input in messages: printable ASCII as is, anything else escaped
    like Rust's `char::escape_default` (`é` -> `\\u{e9}`)."""
    out = []
    for c in text:
        if " " <= c <= "~":
            out.append(c)
        elif c in "\t\r\n":
            out.append({"\t": "\\t", "\r": "\\r", "\n": "\\n"}[c])
        else:
            out.append("\\u{%x}" % ord(c))
    return "".join(out)
