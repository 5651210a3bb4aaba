"""Reference parsing from Python: runbeam.Reference.parse vs a naive pure-Python parser.

The naive parser is what a gateway author would write instead: split on '.', build a small
tuple of the five parts, lowercase the type. It validates nothing (no character classes, no
lengths, no error messages), so it is a floor, not a peer.

Run against a release build: `make python-bench` (maturin develop --release, then this script).
Prints ns/call medians over several repeats, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from typing import Dict, List, NamedTuple, Optional

import runbeam

TEXT = "runbeam.acme-healthcare.ingress.name.fhir-api"


class NaiveReference(NamedTuple):
    provider: str
    team: Optional[str]
    type: Optional[str]
    lookup: str
    value: str


def naive_parse(text: str) -> NaiveReference:
    parts = text.split(".")
    if len(parts) == 5:
        return NaiveReference(parts[0], parts[1], parts[2].lower(), parts[3], parts[4])
    if len(parts) == 4:
        return NaiveReference(parts[0], parts[1], None, parts[2], parts[3])
    if len(parts) == 3:
        return NaiveReference(parts[0], None, None, parts[1], parts[2])
    if len(parts) == 1:
        return NaiveReference("local", None, None, "name", parts[0])
    raise ValueError(f"invalid reference {text!r}")


def naive_parse_tuple(text: str):
    # The cheapest thing that still yields the five parts of a full reference.
    provider, team, type_, lookup, value = text.split(".")
    return (provider, team, type_.lower(), lookup, value)


def measure(rows, number: int, repeat: int) -> Dict[str, List[float]]:
    """ns/call samples per row. Rows are interleaved within each repeat, so that load from
    other processes on a shared machine affects every row alike."""
    # A compiled statement (no lambda layer): the loop overhead is the same for every row.
    timers = {name: timeit.Timer("fn(text)", globals={"fn": fn, "text": TEXT}) for name, fn in rows}
    samples: Dict[str, List[float]] = {name: [] for name, _ in rows}
    for _ in range(repeat):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(number) / number * 1e9)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=15, help="repeats (median reported)")
    args = parser.parse_args()

    ref = runbeam.Reference.parse(TEXT)
    assert (ref.provider, ref.team, ref.type, ref.lookup, ref.value) == tuple(naive_parse(TEXT))

    rows = [
        ("runbeam.Reference.parse", runbeam.Reference.parse),
        ("runbeam.Reference(text)", runbeam.Reference),
        ("naive split -> NamedTuple", naive_parse),
        ("naive split -> tuple", naive_parse_tuple),
    ]
    for _, fn in rows:
        fn(TEXT)  # warm up
    results = measure(rows, args.number, args.repeat)

    native = statistics.median(results["runbeam.Reference.parse"])
    print(f"Reference parse of {TEXT!r}")
    print(
        f"Python {sys.version.split()[0]}, runbeam {runbeam.__version__}, "
        f"{args.repeat} repeats x {args.number} calls (median, min ns/call)"
    )
    print(f"{'':27} {'median':>8} {'min':>8} {'vs parse':>9}")
    for name, samples in results.items():
        median = statistics.median(samples)
        print(f"{name:27} {median:8.1f} {min(samples):8.1f} {median / native:8.2f}x")
    naive = statistics.median(results["naive split -> NamedTuple"])
    print(
        f"naive NamedTuple parser / runbeam.Reference.parse = {naive / native:.2f} "
        f"(> 1 means runbeam is faster)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
