"""runbeam.Reference against every row of tests/fixtures/references.tsv, plus the Python protocol
(equality, hashing, ordering, pickling, repr)."""

from __future__ import annotations

import copy
import pickle

import pytest

import runbeam
from conftest import InvalidRow, ValidRow, invalid_rows, quoted, valid_rows

VALID = valid_rows()
INVALID = invalid_rows()


def test_fixture_file_has_rows():
    # Guards the parametrised tests below against an empty or misread fixture file.
    assert len(VALID) >= 20
    assert len(INVALID) >= 25
    assert any(row.input.startswith(" ") for row in INVALID)
    assert any(row.input == "" for row in INVALID)


@pytest.mark.parametrize("row", VALID, ids=[r.input for r in VALID])
def test_valid_reference_parts(row: ValidRow):
    ref = runbeam.Reference.parse(row.input)
    assert str(ref) == row.canonical
    assert ref.provider == row.provider
    assert ref.team == row.team
    assert ref.type == row.type
    assert ref.lookup == row.lookup
    assert ref.value == row.value
    assert ref.is_local is row.is_local
    # The canonical form parses back to an equal reference; the constructor is parse.
    assert runbeam.Reference.parse(str(ref)) == ref
    assert runbeam.Reference(row.input) == ref
    assert hash(runbeam.Reference(row.canonical)) == hash(ref)


@pytest.mark.parametrize("row", INVALID, ids=[repr(r.input) for r in INVALID])
def test_invalid_reference_is_rejected_with_segment_and_reason(row: InvalidRow):
    with pytest.raises(runbeam.InvalidReferenceError) as info:
        runbeam.Reference.parse(row.input)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, runbeam.RunbeamError)
    assert err.kind == "InvalidReference"
    assert err.code == "RUNBEAM_INVALID_REFERENCE"
    message = str(err)
    assert message.startswith(f"invalid reference '{quoted(row.input)}': "), message
    if row.segment is not None:
        assert f"segment {row.segment}" in message
    assert row.fragment in message
    assert err.problems == []


def test_invalid_reference_through_constructor():
    with pytest.raises(runbeam.InvalidReferenceError, match="segment 2 'widget'"):
        runbeam.Reference("runbeam.acme.widget.name.api")


def test_equality_and_hash_use_the_canonical_form():
    a = runbeam.Reference("local.name.my-ingress")
    b = runbeam.Reference("my-ingress")
    c = runbeam.Reference("runbeam.acme.INGRESS.id.X1")
    assert a == b and not (a != b)
    assert hash(a) == hash(b)
    assert c == runbeam.Reference("runbeam.acme.ingress.id.X1")
    assert a != c
    assert len({a, b, c}) == 2
    assert {a: 1}[b] == 1


def test_comparison_with_other_types_is_not_implemented():
    ref = runbeam.Reference("runbeam.id.abc")
    assert ref != "runbeam.id.abc"
    assert not (ref == "runbeam.id.abc")
    assert ref.__eq__("runbeam.id.abc") is NotImplemented
    assert ref != None  # noqa: E711
    with pytest.raises(TypeError):
        ref < "runbeam.id.abc"  # noqa: B015


def test_ordering_is_by_canonical_form():
    refs = [runbeam.Reference(t) for t in ["runbeam.id.b", "a", "runbeam.id.a", "local.name.b"]]
    assert [str(r) for r in sorted(refs)] == ["a", "b", "runbeam.id.a", "runbeam.id.b"]


def test_repr_and_str():
    ref = runbeam.Reference.parse("runbeam.acme.Ingress.name.api")
    assert repr(ref) == "Reference('runbeam.acme.ingress.name.api')"
    assert str(ref) == "runbeam.acme.ingress.name.api"
    assert f"{ref}" == str(ref)
    assert type(ref).__module__ == "runbeam"
    assert type(ref).__qualname__ == "Reference"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(protocol: int):
    ref = runbeam.Reference("runbeam.acme.ingress.name.api")
    again = pickle.loads(pickle.dumps(ref, protocol=protocol))
    assert again == ref and type(again) is runbeam.Reference
    assert again.team == "acme"


def test_copy_returns_the_same_immutable_object():
    ref = runbeam.Reference("runbeam.id.abc")
    assert copy.copy(ref) is ref
    assert copy.deepcopy([ref])[0] is ref


def test_references_are_immutable():
    ref = runbeam.Reference("runbeam.id.abc")
    with pytest.raises(AttributeError):
        ref.provider = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ref.extra = 1  # type: ignore[attr-defined]


def test_is_local_and_optional_parts():
    ref = runbeam.Reference.parse("runbeam.id.abc")
    assert ref.team is None and ref.type is None and ref.lookup == "id"
    local = runbeam.Reference.parse("local")
    assert local.is_local and local.provider == "local" and local.value == "local"


def test_hash_is_keyed_per_process():
    import subprocess
    import sys

    code = "import runbeam; print(hash(runbeam.Reference('runbeam.id.abc')))"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(3)
    }
    # Like str hashes (PYTHONHASHSEED), reference hashes differ between processes.
    assert len(runs) > 1


def test_references_and_configs_are_shared_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    from conftest import EXAMPLES

    config = runbeam.MeshConfig.from_file(EXAMPLES / "ai-analytics.toml")
    ref = runbeam.Reference("runbeam.radiology-dept.ingress.name.dicomweb")

    def work(i: int) -> bool:
        other = runbeam.Reference(f"runbeam.radiology-dept.ingress.name.x{i}")
        return (
            config.in_mesh_context(ref)
            and not config.in_mesh_context(other)
            and hash(ref) == hash(runbeam.Reference(str(ref)))
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, range(200)))
