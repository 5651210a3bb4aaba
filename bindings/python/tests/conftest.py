"""Shared paths, fixture loaders and the devcloud fixture of the Python suite."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import pytest

import runbeam

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


# --- A local Runbeam Cloud (runbeam-devcloud as a subprocess) ---------------------------------
#
# The server binary comes from ``$RUNBEAM_DEVCLOUD`` (set by ``make python-test``), else from the
# workspace's debug build; the tests that use ``cloud`` are skipped when neither exists. The
# default seed is the scenario of ``examples/``: team ``radiology-dept`` (Alice) with the DICOMweb
# ingress, team ``ai-analytics`` (Bob) reaching it through the mesh.

ALICE = "1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7"
BOB = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
ALICE_EMAIL = "alice@radiology.example.com"
RADIOLOGY_GW = "radiology-gw-1"
ANALYTICS_GW = "analytics-gw-1"
MESH = "imaging-integration"
DICOM_URL = "https://dicom.radiology.example.com"
DICOMWEB = "runbeam.radiology-dept.ingress.name.dicomweb"
RESOLVE_PATH = "/api/harmony/resources/resolve"


def devcloud_binary() -> Path:
    env = os.environ.get("RUNBEAM_DEVCLOUD")
    if env:
        return Path(env)
    target = os.environ.get("CARGO_BUILD_TARGET", "x86_64-unknown-linux-gnu")
    return REPO / "target" / target / "debug" / "runbeam-devcloud"


class Cloud:
    """A running devcloud: its URL, its ``/_dev`` endpoints and clients for the seeded users."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _dev(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_dev/{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def dev_post(self, path: str, body: Dict[str, Any]) -> Any:
        return self._dev("POST", path, body)

    def fault(self, **fault: Any) -> None:
        """Injects a fault (``path`` glob, ``method``, ``count``, ``status``, ``retry_after``,
        ``latency_ms``, ``drop_connection``, ``malformed_body``)."""
        self.dev_post("faults", fault)

    def clear_faults(self) -> None:
        self._dev("DELETE", "faults")

    def faults(self) -> List[Dict[str, Any]]:
        return self._dev("GET", "faults")["faults"]

    def count(self, method: str, path: str) -> int:
        """How many requests the server received for ``method path`` since the last reset."""
        return int(self._dev("GET", "counters")["counts"].get(f"{method} {path}", 0))

    def reset_counts(self) -> None:
        self._dev("DELETE", "counters")

    def client(self, token: str = ALICE, **options: Any) -> runbeam.Client:
        return runbeam.Client(self.url, token=token, **options)

    def gateway(self, user: str, code: str, **options: Any) -> runbeam.Client:
        client = self.client(user, **options)
        return client.with_token(client.authorize(code).machine_token)


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    binary = devcloud_binary()
    if not binary.exists():
        pytest.skip(f"devcloud not built: {binary} (run `cargo build -p runbeam-devcloud`)")
    process = subprocess.Popen(
        [str(binary), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield Cloud(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- One test body for both client classes ----------------------------------------------------


class Awaited:
    """An :class:`runbeam.AsyncClient` whose methods return their awaited result, each call run
    to completion in ``asyncio.run``: the same assertions then prove ``Client`` and
    ``AsyncClient``, each through its own native shell."""

    def __init__(self, client: runbeam.AsyncClient) -> None:
        self.native = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.native, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            async def main() -> Any:
                awaitable = method(*args, **kwargs)
                assert isinstance(awaitable, asyncio.Future), f"{name} is not awaitable"
                return await awaitable

            return asyncio.run(main())

        return call

    def __repr__(self) -> str:
        return repr(self.native)


AnyClient = Union[runbeam.Client, Awaited]
Connect = Callable[..., AnyClient]


@pytest.fixture(params=["Client", "AsyncClient"])
def connect(request: pytest.FixtureRequest, cloud: Cloud) -> Connect:
    """``connect(token, *, url=cloud.url, **options)``: a client of the parametrized class."""

    def make(token: str, *, url: Optional[str] = None, **options: Any) -> AnyClient:
        if request.param == "Client":
            return runbeam.Client(url or cloud.url, token=token, **options)
        return Awaited(runbeam.AsyncClient(url or cloud.url, token=token, **options))

    return make
