"""The exception hierarchy: one class per core error kind, named, coded and based as documented."""

from __future__ import annotations

import pickle

import pytest

import runbeam
import runbeam.errors
from runbeam import _native

KINDS = _native.error_kinds()


def test_core_lists_every_kind():
    assert len(KINDS) >= 25
    names = [name for name, _, _ in KINDS]
    assert len(set(names)) == len(names)
    assert ("NotFound", "RUNBEAM_NOT_FOUND", False) in KINDS
    assert ("InvalidReference", "RUNBEAM_INVALID_REFERENCE", True) in KINDS


@pytest.mark.parametrize(("name", "code", "is_argument_error"), KINDS, ids=[k[0] for k in KINDS])
def test_every_kind_has_its_class(name: str, code: str, is_argument_error: bool):
    cls = getattr(runbeam.errors, f"{name}Error", None)
    assert isinstance(cls, type), f"runbeam.errors lacks {name}Error"
    assert getattr(runbeam, f"{name}Error") is cls
    assert f"{name}Error" in runbeam.__all__
    assert f"{name}Error" in runbeam.errors.__all__
    assert issubclass(cls, runbeam.RunbeamError)
    assert issubclass(cls, ValueError) is is_argument_error
    assert cls.kind == name and cls.code == code
    err = cls("something happened")
    assert (err.kind, err.code, str(err), err.message) == (
        name,
        code,
        "something happened",
        "something happened",
    )
    assert err.status is None and err.retry_after is None and err.field_errors is None
    assert err.method is None and err.path is None
    assert err.server_message is None and err.attempts is None
    assert err.problems == []


def test_no_class_without_a_kind():
    kinds = {f"{name}Error" for name, _, _ in KINDS}
    classes = {
        n
        for n, v in vars(runbeam.errors).items()
        if isinstance(v, type)
        and issubclass(v, runbeam.RunbeamError)
        and v is not runbeam.RunbeamError
    }
    assert classes == kinds
    assert set(runbeam.errors.__all__) == kinds | {"RunbeamError"}


def test_base_class():
    assert issubclass(runbeam.RunbeamError, Exception)
    assert not issubclass(runbeam.RunbeamError, ValueError)
    err = runbeam.RunbeamError("boom")
    assert (err.kind, err.code) == ("Internal", "RUNBEAM_INTERNAL")


def test_attributes_can_be_set_by_keyword():
    problem = runbeam.Problem("Config", "a.b", "bad")
    err = runbeam.ValidationError(
        "rejected", status=422, field_errors={"name": ["is taken"]}, problems=[problem]
    )
    assert err.status == 422
    assert err.field_errors == {"name": ["is taken"]}
    assert err.problems == [problem]
    limited = runbeam.RateLimitedError("slow down", status=429, retry_after=1.5)
    assert limited.retry_after == 1.5


def test_errors_pickle_with_their_attributes():
    err = runbeam.RateLimitedError("slow down", status=429, retry_after=2.0)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is runbeam.RateLimitedError
    assert (str(again), again.status, again.retry_after, again.code) == (
        "slow down",
        429,
        2.0,
        "RUNBEAM_RATE_LIMITED",
    )


def test_request_details_are_kept_and_pickled():
    err = runbeam.ServerErrorError(
        "GET /harmony/base-url: server error",
        status=503,
        method="GET",
        path="/harmony/base-url",
        server_message="down",
        attempts=3,
    )
    again = pickle.loads(pickle.dumps(err))
    assert (again.method, again.path, again.server_message, again.attempts, again.status) == (
        "GET",
        "/harmony/base-url",
        "down",
        3,
        503,
    )


def test_raised_errors_are_instances_of_the_kind_class():
    with pytest.raises(runbeam.RunbeamError) as info:
        runbeam.Reference.parse("runbeam.name.x")
    assert type(info.value) is runbeam.InvalidReferenceError
    assert "use <provider>.<team>.<type>.name.<name>" in str(info.value)


def test_except_value_error_catches_argument_errors():
    try:
        runbeam.Reference.parse("")
    except ValueError as e:
        assert str(e).startswith("invalid reference '': ")
    else:
        pytest.fail("no error raised")


def test_timeout_error_is_not_the_builtin():
    assert runbeam.TimeoutError is not TimeoutError
    assert not issubclass(runbeam.TimeoutError, OSError)
