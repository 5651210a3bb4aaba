"""The exception hierarchy: one class per core error kind, named, coded and based as documented."""

from __future__ import annotations

import pickle

import pytest

import runbeam
import runbeam.errors
from runbeam import _native

KINDS = _native.error_kinds()
# The kinds whose class is not `<kind>Error` (docs/naming.md: no name shadows a builtin, and
# exceptions end in `Error` once).
RENAMED = {
    "ServerError": "ServerError",
    "Timeout": "RunbeamTimeoutError",
    "Cancelled": "RunbeamCancelledError",
}


def class_name(kind: str) -> str:
    return RENAMED.get(kind, f"{kind}Error")
CATEGORIES = {"input", "cloud", "network", "jwt", "storage", "internal"}


def test_core_lists_every_kind():
    assert len(KINDS) >= 25
    names = [name for name, *_ in KINDS]
    assert len(set(names)) == len(names)
    assert len({c_status for _, _, c_status, *_ in KINDS}) == len(KINDS)
    assert ("NotFound", "RUNBEAM_NOT_FOUND", 202, "cloud", False, False) in KINDS
    assert ("InvalidReference", "RUNBEAM_INVALID_REFERENCE", 101, "input", False, True) in KINDS
    assert ("Transport", "RUNBEAM_TRANSPORT", 300, "network", True, False) in KINDS
    for name, code, c_status, category, retryable, is_argument_error in KINDS:
        assert code.startswith("RUNBEAM_") and isinstance(c_status, int), name
        assert category in CATEGORIES, name
        assert isinstance(retryable, bool) and isinstance(is_argument_error, bool), name


@pytest.mark.parametrize(
    ("name", "code", "c_status", "category", "retryable", "is_argument_error"),
    KINDS,
    ids=[k[0] for k in KINDS],
)
def test_every_kind_has_its_class(
    name: str, code: str, c_status: int, category: str, retryable: bool, is_argument_error: bool
):
    cls = getattr(runbeam.errors, class_name(name), None)
    assert isinstance(cls, type), f"runbeam.errors lacks {class_name(name)}"
    assert cls.__module__ == "runbeam.errors" and cls.__name__ == class_name(name)
    assert getattr(runbeam, class_name(name)) is cls
    assert issubclass(cls, runbeam.RunbeamError)
    assert issubclass(cls, ValueError) is is_argument_error
    assert cls.kind == name and cls.code == code
    assert cls.__doc__, f"{name}Error has no docstring"
    err = cls("something happened")
    assert (err.kind, err.code, str(err), err.message) == (
        name,
        code,
        "something happened",
        "something happened",
    )
    assert err.status is None and err.retry_after is None and err.field_errors is None
    assert err.request is None
    assert err.server_message is None and err.attempts is None
    assert err.problems == []


def test_no_class_without_a_kind():
    kinds = {class_name(name) for name, *_ in KINDS}
    classes = {
        n
        for n, v in vars(runbeam.errors).items()
        if isinstance(v, type)
        and issubclass(v, runbeam.RunbeamError)
        and v is not runbeam.RunbeamError
    }
    assert classes == kinds


def test_all_lists_exactly_the_error_classes_once():
    expected = ["RunbeamError"] + [class_name(name) for name, *_ in KINDS]
    assert runbeam.errors.__all__ == expected, "errors.__all__ must follow the core's table order"
    exported = [n for n in runbeam.__all__ if n in set(expected)]
    assert exported == expected
    assert len(set(runbeam.__all__)) == len(runbeam.__all__)
    for name in expected:
        assert getattr(runbeam, name) is getattr(runbeam.errors, name)


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
    err = runbeam.ServerError(
        "GET /harmony/base-url: server error",
        status=503,
        request=("GET", "/harmony/base-url"),
        server_message="down",
        attempts=3,
    )
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again.request, runbeam.FailedRequest)
    assert again.request.method == "GET" and again.request.path == "/harmony/base-url"
    assert (*again.request, again.server_message, again.attempts, again.status) == (
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


def test_timeout_error_does_not_shadow_the_builtin_but_is_one():
    assert runbeam.RunbeamTimeoutError is not TimeoutError
    assert issubclass(runbeam.RunbeamTimeoutError, TimeoutError)
    assert issubclass(runbeam.RunbeamTimeoutError, runbeam.RunbeamError)
    try:
        raise runbeam.RunbeamTimeoutError("deadline passed")
    except TimeoutError as e:
        assert e.code == "RUNBEAM_TIMEOUT"


def test_cancelled_error_is_not_asyncio_cancelled():
    import asyncio

    assert not issubclass(runbeam.RunbeamCancelledError, asyncio.CancelledError)
    assert issubclass(runbeam.RunbeamCancelledError, Exception)


def test_star_import_shadows_no_builtin():
    namespace: dict = {}
    exec("from runbeam import *", namespace)
    exec("from runbeam.errors import *", namespace)
    for name in ("TimeoutError", "CancelledError", "ServerErrorError"):
        assert name not in namespace, name
        assert name not in runbeam.__all__ and name not in runbeam.errors.__all__


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("TimeoutError", "RunbeamTimeoutError"),
        ("CancelledError", "RunbeamCancelledError"),
        ("ServerErrorError", "ServerError"),
    ],
)
def test_former_names_are_deprecated_aliases(old: str, new: str):
    with pytest.warns(DeprecationWarning, match=f"runbeam.errors.{new}"):
        cls = getattr(runbeam.errors, old)
    assert cls is getattr(runbeam.errors, new)
    with pytest.warns(DeprecationWarning):
        exec(f"from runbeam.errors import {old}", {})
    with pytest.raises(AttributeError):
        runbeam.errors.NoSuchError  # noqa: B018
