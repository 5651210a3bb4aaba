"""Token storage and the machine-token lifecycle (docs/spec.md §5) through the Python binding.

The stores and tokens are the core's; these tests prove what a Python user meets: files with the
right modes, ids that cannot escape the root, a corrupted file reported (and kept), secrets never
shown, and a token manager that authorizes once however many threads or tasks ask, against the
local Runbeam Cloud (``cloud`` fixture of conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List

import pytest
from conftest import ALICE, FIXTURES, RADIOLOGY_GW, Cloud

import runbeam

SECRET = "mt_7f3c9a2e5b14d6a8-do-not-print"
AUTHORIZE = ("POST", "/api/harmony/authorize")


def machine_token(**overrides) -> runbeam.MachineToken:
    fields = dict(
        machine_token=SECRET,
        expires_at="2099-01-01T00:00:00Z",
        gateway_id="gw-1",
        abilities=["resolve"],
        issued_at="2026-01-01T00:00:00Z",
    )
    fields.update(overrides)
    return runbeam.MachineToken(**fields)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- Tokens -----------------------------------------------------------------------------------


def test_machine_token_accepts_both_date_formats_and_datetimes():
    a = machine_token(expires_at="2030-05-01 12:00:00")
    b = machine_token(expires_at="2030-05-01T12:00:00Z")
    c = machine_token(expires_at=datetime(2030, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert a == b == c
    assert a.expires_at == datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert a.machine_token == SECRET
    assert a.gateway_id == "gw-1"
    assert a.abilities == ["resolve"]
    assert a.issued_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    issued = machine_token(issued_at="2026-01-01 00:00:00").issued_at
    assert issued == datetime(2026, 1, 1, tzinfo=timezone.utc)
    # Without one, a new token is issued now (runbeam-sdk 0.11 needs `issued_at` on disk).
    before = datetime.now(timezone.utc).replace(microsecond=0)
    fresh = runbeam.MachineToken(SECRET, "2030-05-01T12:00:00Z", "gw-1")
    assert fresh.issued_at is not None and fresh.issued_at >= before


def test_machine_token_lifetime_methods():
    far = machine_token()
    assert not far.is_expired()
    assert not far.needs_renewal()
    assert far.expires_in() > 365 * 24 * 3600
    soon = machine_token(expires_at=datetime.now(timezone.utc) + timedelta(days=3))
    assert soon.needs_renewal()  # default window: 7 days
    assert not soon.needs_renewal(window=24 * 3600)
    assert 2 * 24 * 3600 < soon.expires_in() <= 3 * 24 * 3600
    past = machine_token(expires_at="2001-01-01 00:00:00")
    assert past.is_expired()
    assert past.expires_in() == 0.0
    assert past.needs_renewal(0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"machine_token": ""},
        {"expires_at": "tomorrow"},
        {"gateway_id": ""},
        {"expires_at": datetime(2030, 1, 1)},  # naive: refused, not guessed
        {"issued_at": "yesterday"},
    ],
)
def test_machine_token_rejects_bad_fields(overrides):
    with pytest.raises(runbeam.InvalidArgumentError) as err:
        machine_token(**overrides)
    assert SECRET not in str(err.value)


def test_machine_token_rejects_wrong_types():
    with pytest.raises(TypeError):
        machine_token(expires_at=1234567890)
    with pytest.raises(runbeam.InvalidArgumentError):
        machine_token().needs_renewal(-1)


def test_user_token():
    t = runbeam.UserToken("1|" + SECRET, "2001-01-01 00:00:00", {"id": "1", "email": "a@b.c"})
    assert t.token == "1|" + SECRET
    assert t.is_expired()
    assert t.user == {"id": "1", "email": "a@b.c"}
    bare = runbeam.UserToken("1|" + SECRET)
    assert bare.expires_at is None and bare.user is None and not bare.is_expired()


def test_repr_and_str_never_show_secrets():
    tokens = [machine_token(), runbeam.UserToken(SECRET, "2099-01-01 00:00:00")]
    for t in tokens:
        for text in (repr(t), str(t), f"{t}", f"{t!r}"):
            assert SECRET not in text
            assert "redacted" in text
    manager = runbeam.TokenManager(
        "gw-1", runbeam.MemoryTokenStore(), "http://127.0.0.1:1", credential=SECRET
    )
    assert SECRET not in repr(manager)
    key = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
    with pytest.raises(runbeam.InvalidArgumentError) as err:
        runbeam.FileTokenStore("/nonexistent", key=key)
    assert key not in str(err.value)


def test_errors_from_a_malformed_provisioned_token_do_not_show_it(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "RUNBEAM_MACHINE_TOKEN", f'{{"machine_token": "{SECRET}", "expires_at": "2030-01-01"}}'
    )
    store = runbeam.FileTokenStore(tmp_path)
    with pytest.raises(runbeam.InvalidArgumentError) as err:
        store.load_machine_token("gw-1")
    assert "RUNBEAM_MACHINE_TOKEN" in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)


def test_a_provisioned_token_takes_precedence(monkeypatch):
    store = runbeam.MemoryTokenStore()
    store.save_machine_token("gw-1", machine_token(gateway_id="stored"))
    monkeypatch.setenv(
        "RUNBEAM_MACHINE_TOKEN",
        '{"machine_token": "env", "expires_at": "2099-01-01 00:00:00", "gateway_id": "env"}',
    )
    assert store.load_machine_token("gw-1").gateway_id == "env"


# --- Stores -----------------------------------------------------------------------------------


def test_file_store_round_trip_with_private_modes(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNBEAM_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("RUNBEAM_MACHINE_TOKEN", raising=False)
    root = tmp_path / "home"
    store = runbeam.FileTokenStore(root)
    assert isinstance(store, runbeam.TokenStore)
    assert store.backend == "file"
    assert store.root == root
    assert store.load_machine_token("gw-1") is None
    token = machine_token()
    user = runbeam.UserToken("1|" + SECRET, "2099-01-01 00:00:00", {"id": "7"})
    old = os.umask(0)  # the modes must come from the store, not from the umask
    try:
        store.save_machine_token("gw-1", token)
        store.save_user_token("gw-1", user)
    finally:
        os.umask(old)
    assert store.load_machine_token("gw-1") == token
    assert store.load_user_token("gw-1") == user
    # A second store object on the same root (a restarted gateway) finds them.
    assert runbeam.FileTokenStore(root).load_machine_token("gw-1") == token

    path = Path(store.location("gw-1", "auth"))
    assert path == root / "gw-1" / "runbeam" / "auth.json"
    assert SECRET.encode() not in path.read_bytes()  # encrypted
    for d in (root / "gw-1", root / "gw-1" / "runbeam"):
        assert mode(d) == 0o700, d
    user_path = root / "gw-1" / "runbeam" / "user_auth.json"
    for f in (path, user_path, root / "gw-1" / "encryption.key"):
        assert mode(f) == 0o600, f

    assert store.delete("gw-1", "auth") is True
    assert store.delete("gw-1", "auth") is False
    assert store.load_machine_token("gw-1") is None
    assert store.load_user_token("gw-1") == user


def test_file_store_root_from_runbeam_home(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBEAM_HOME", str(tmp_path))
    store = runbeam.FileTokenStore()
    assert store.root == tmp_path
    assert runbeam.open_token_store("file").location("gw-1", "auth") == str(
        tmp_path / "gw-1" / "runbeam" / "auth.json"
    )


@pytest.mark.parametrize("bad", ["..", ".", "../etc", "a/b", "/abs", "", "x" * 129, "gw 1", "gw\n"])
def test_path_escaping_ids_are_rejected(tmp_path, bad):
    store = runbeam.FileTokenStore(tmp_path / "root")
    with pytest.raises(runbeam.InvalidArgumentError):
        store.save_machine_token(bad, machine_token())
    with pytest.raises(runbeam.InvalidArgumentError):
        store.load_machine_token(bad)
    with pytest.raises(runbeam.InvalidArgumentError):
        store.delete("gw-1", bad)
    with pytest.raises(runbeam.InvalidArgumentError):
        store.location(bad, "auth")
    with pytest.raises(runbeam.InvalidArgumentError):
        runbeam.TokenManager(bad, store, "http://127.0.0.1:1")
    assert not (tmp_path / "etc").exists()
    assert not list(tmp_path.rglob("*.json")), "nothing was written anywhere"


def test_corrupted_file_is_reported_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNBEAM_MACHINE_TOKEN", raising=False)
    store = runbeam.FileTokenStore(tmp_path)
    store.save_machine_token("gw-1", machine_token())
    path = Path(store.location("gw-1", "auth"))
    garbage = b"this is not an age file\x00\xff"
    path.write_bytes(garbage)
    with pytest.raises(runbeam.StorageCorruptError) as err:
        store.load_machine_token("gw-1")
    assert str(path) in str(err.value)
    assert err.value.kind == "StorageCorrupt"
    assert path.read_bytes() == garbage, "the bad file is kept"
    # A manager reports the same error instead of silently re-authorizing over the file.
    manager = runbeam.TokenManager("gw-1", store, "http://127.0.0.1:1", credential=ALICE)
    with pytest.raises(runbeam.StorageCorruptError):
        manager.ensure_token()
    assert path.read_bytes() == garbage


def test_wrong_key_is_storage_corrupt(tmp_path):
    store = runbeam.FileTokenStore(tmp_path)
    store.save_machine_token("gw-1", machine_token())
    key = tmp_path / "gw-1" / "encryption.key"
    other = tmp_path / "other"
    runbeam.FileTokenStore(other).save_machine_token("gw-2", machine_token())
    key.write_bytes((other / "gw-2" / "encryption.key").read_bytes())
    with pytest.raises(runbeam.StorageCorruptError) as err:
        store.load_machine_token("gw-1")
    assert "auth.json" in str(err.value)


def test_memory_store():
    store = runbeam.MemoryTokenStore()
    assert store.backend == "memory"
    assert isinstance(store, runbeam.TokenStore)
    assert store.load_machine_token("gw-1") is None
    token = machine_token()
    store.save_machine_token("gw-1", token)
    assert store.load_machine_token("gw-1") == token
    assert store.load_machine_token("gw-2") is None, "instances never share a slot"
    assert store.location("gw-1", "auth") == "memory:gw-1/auth"
    assert store.delete("gw-1", "auth") is True
    assert store.load_machine_token("gw-1") is None
    # Stores are independent objects.
    store.save_machine_token("gw-1", token)
    assert runbeam.MemoryTokenStore().load_machine_token("gw-1") is None


def test_open_token_store_choices(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBEAM_HOME", str(tmp_path))
    monkeypatch.setenv("RUNBEAM_TOKEN_STORE", "file")
    assert runbeam.open_token_store().backend == "file"
    assert runbeam.open_token_store("file").backend == "file"
    assert runbeam.open_token_store("auto").backend in ("keyring", "file")
    with pytest.raises(runbeam.InvalidArgumentError):
        runbeam.open_token_store("vault")
    monkeypatch.setenv("RUNBEAM_TOKEN_STORE", "vault")
    with pytest.raises(runbeam.InvalidArgumentError) as err:
        runbeam.open_token_store()
    assert "RUNBEAM_TOKEN_STORE" in str(err.value)


def test_base_class_has_no_constructor():
    with pytest.raises(TypeError):
        runbeam.TokenStore()


def test_manager_arguments_are_checked():
    store = runbeam.MemoryTokenStore()
    with pytest.raises(TypeError):
        runbeam.TokenManager("gw-1", object(), "http://127.0.0.1:1")
    with pytest.raises(TypeError):
        runbeam.TokenManager("gw-1", store, 42)
    with pytest.raises(TypeError):
        runbeam.TokenManager("gw-1", store, "http://127.0.0.1:1", credential=b"1|x")
    with pytest.raises(runbeam.InvalidArgumentError):
        runbeam.TokenManager("gw-1", store, "http://127.0.0.1:1", renewal_window=-1)
    m = runbeam.AsyncTokenManager("gw-1", store, "http://127.0.0.1:1")
    assert m.instance_id == "gw-1"
    assert m.store is store


# --- The token manager against the local Runbeam Cloud ----------------------------------------


def test_first_ensure_token_authorizes_once_and_then_loads(cloud: Cloud, tmp_path):
    store = runbeam.FileTokenStore(tmp_path)
    manager = runbeam.TokenManager(RADIOLOGY_GW, store, cloud.client(), credential=ALICE)
    assert manager.current() is None
    cloud.reset_counts()
    token = manager.ensure_token()
    assert cloud.count(*AUTHORIZE) == 1
    assert not token.is_expired()
    assert token.issued_at is not None
    assert manager.ensure_token() == token
    assert manager.current() == token
    assert cloud.count(*AUTHORIZE) == 1, "the stored token is reused"
    # Saved where the store says, and it works against the API.
    assert store.load_machine_token(RADIOLOGY_GW) == token
    assert cloud.client(token.machine_token).base_url()["base_url"]
    # A manager without a credential on the same store finds it.
    assert runbeam.TokenManager(RADIOLOGY_GW, store, cloud.url).ensure_token() == token


def _expiring_soon(cloud: Cloud, manager_class, **kwargs):
    """A manager whose stored token (lifetime 4 s) has entered its 2 s renewal window."""
    cloud.dev_post("machine-token-lifetime", {"secs": 4})
    announced: List[runbeam.MachineToken] = []
    store = runbeam.MemoryTokenStore()
    manager = manager_class(
        RADIOLOGY_GW,
        store,
        cloud.url,
        credential=ALICE,
        renewal_window=2,
        on_renewal_window=announced.append,
        **kwargs,
    )
    first = runbeam.TokenManager(RADIOLOGY_GW, store, cloud.url, credential=ALICE).ensure_token()
    while not first.needs_renewal(2):
        time.sleep(max(0.05, first.expires_in() - 2 + 0.05))
    assert not first.is_expired(), "the machine was too slow for a 4 s token"
    cloud.reset_counts()
    return manager, first, announced


def test_twenty_threads_inside_the_window_cause_one_renewal(cloud: Cloud):
    manager, first, announced = _expiring_soon(cloud, runbeam.TokenManager)
    start = threading.Barrier(20)

    def call(_):
        start.wait()
        return manager.ensure_token()

    with ThreadPoolExecutor(max_workers=20) as pool:
        tokens = list(pool.map(call, range(20)))
    assert cloud.count(*AUTHORIZE) == 1, "exactly one renewal"
    assert all(t == tokens[0] for t in tokens)
    assert tokens[0].machine_token != first.machine_token
    assert not tokens[0].needs_renewal(2)
    assert announced and all(a.machine_token == first.machine_token for a in announced)
    # The old token still works until it expires; the new one works.
    assert cloud.client(tokens[0].machine_token).base_url()["base_url"]


def test_twenty_tasks_inside_the_window_cause_one_renewal(cloud: Cloud):
    manager, first, announced = _expiring_soon(cloud, runbeam.AsyncTokenManager)

    async def main():
        calls = [manager.ensure_token() for _ in range(20)]
        assert all(isinstance(c, asyncio.Future) for c in calls)
        return await asyncio.gather(*calls)

    tokens = asyncio.run(main())
    assert cloud.count(*AUTHORIZE) == 1, "exactly one renewal"
    assert all(t == tokens[0] for t in tokens)
    assert tokens[0].machine_token != first.machine_token
    assert announced and announced[0].machine_token == first.machine_token


def test_no_token_without_a_credential(cloud: Cloud):
    store = runbeam.MemoryTokenStore()
    manager = runbeam.TokenManager(RADIOLOGY_GW, store, cloud.client())
    cloud.reset_counts()
    with pytest.raises(runbeam.NoTokenError) as err:
        manager.ensure_token()
    assert "authorize" in str(err.value)
    assert cloud.count(*AUTHORIZE) == 0

    async def main():
        m = runbeam.AsyncTokenManager(RADIOLOGY_GW, store, cloud.url)
        with pytest.raises(runbeam.NoTokenError):
            await m.ensure_token()
        with pytest.raises(runbeam.NoTokenError):
            await m.revoke()
        assert await m.current() is None

    asyncio.run(main())


def test_expired_token_without_a_credential(cloud: Cloud):
    store = runbeam.MemoryTokenStore()
    store.save_machine_token(RADIOLOGY_GW, machine_token(expires_at="2001-01-01 00:00:00"))
    with pytest.raises(runbeam.TokenExpiredError) as err:
        runbeam.TokenManager(RADIOLOGY_GW, store, cloud.url).ensure_token()
    assert "expired" in str(err.value)
    assert SECRET not in str(err.value)


def test_callable_credential(cloud: Cloud):
    calls: List[str] = []
    threads: List[int] = []

    def credential() -> str:
        calls.append("x")
        threads.append(threading.get_ident())
        return ALICE

    manager = runbeam.TokenManager(
        RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url, credential=credential
    )
    cloud.reset_counts()
    token = manager.ensure_token()
    assert len(calls) == 1
    assert cloud.count(*AUTHORIZE) == 1
    assert manager.ensure_token() == token
    assert len(calls) == 1, "called only when a renewal is due"

    async def main():
        m = runbeam.AsyncTokenManager(
            RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url, credential=credential
        )
        return await m.ensure_token()

    assert not asyncio.run(main()).is_expired()
    assert len(calls) == 2


def test_a_failing_credential_callable_keeps_its_message(cloud: Cloud):
    def vault_down() -> str:
        raise ConnectionError("vault.example.com unreachable")

    manager = runbeam.TokenManager(
        RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url, credential=vault_down
    )
    cloud.reset_counts()
    with pytest.raises(runbeam.NoTokenError) as err:
        manager.ensure_token()
    assert "vault.example.com unreachable" in str(err.value)
    assert "ConnectionError" in str(err.value)
    assert cloud.count(*AUTHORIZE) == 0

    def runbeam_error() -> str:
        raise runbeam.TransportError("cannot reach the vault")

    with pytest.raises(runbeam.TransportError) as err:
        runbeam.TokenManager(
            RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url, credential=runbeam_error
        ).ensure_token()
    assert "cannot reach the vault" in str(err.value)

    def returns_bytes():
        return ("1|" + SECRET).encode()

    with pytest.raises(runbeam.InvalidArgumentError) as err:
        runbeam.TokenManager(
            RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url, credential=returns_bytes
        ).ensure_token()
    assert "bytes" in str(err.value)
    assert SECRET not in str(err.value)


def test_a_rejected_credential_is_unauthorized_without_the_token(cloud: Cloud):
    bad = "1|" + SECRET
    with pytest.raises(runbeam.UnauthorizedError) as err:
        runbeam.TokenManager(
            RADIOLOGY_GW, runbeam.MemoryTokenStore(), cloud.url, credential=bad
        ).ensure_token()
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)


def test_revoke_then_the_old_machine_token_is_refused(cloud: Cloud):
    store = runbeam.MemoryTokenStore()
    manager = runbeam.TokenManager(RADIOLOGY_GW, store, cloud.client(), credential=ALICE)
    token = manager.ensure_token()
    gateway = cloud.client(token.machine_token)
    assert gateway.base_url()["base_url"]
    assert manager.revoke() is None
    assert manager.current() is None
    assert store.load_machine_token(RADIOLOGY_GW) is None
    with pytest.raises(runbeam.UnauthorizedError) as err:
        gateway.base_url()
    assert err.value.status == 401


def test_async_revoke(cloud: Cloud):
    async def main():
        m = runbeam.AsyncTokenManager(
            RADIOLOGY_GW, runbeam.MemoryTokenStore(), runbeam.AsyncClient(cloud.url),
            credential=ALICE,
        )
        token = await m.ensure_token()
        await m.revoke()
        assert await m.current() is None
        return token

    token = asyncio.run(main())
    with pytest.raises(runbeam.UnauthorizedError):
        cloud.client(token.machine_token).base_url()


# --- The OS keyring (only inside scripts/with-keyring.sh) -------------------------------------


@pytest.mark.skipif(
    os.environ.get("RUNBEAM_TEST_SECRET_SERVICE") != "1",
    reason="needs a Secret Service: dbus-run-session -- bash scripts/with-keyring.sh pytest ...",
)
def test_keyring_store_round_trip():
    store = runbeam.KeyringTokenStore()
    assert store.backend == "keyring"
    instance = f"py-test-{os.getpid()}"
    assert store.location(instance, "auth") == f"keyring runbeam/{instance}/auth"
    token = machine_token()
    user = runbeam.UserToken("1|" + SECRET)
    try:
        store.save_machine_token(instance, token)
        store.save_user_token(instance, user)
        assert store.load_machine_token(instance) == token
        assert store.load_user_token(instance) == user
        assert runbeam.KeyringTokenStore().load_machine_token(instance) == token
        assert store.load_machine_token(instance + "-other") is None
        assert runbeam.open_token_store("keyring").load_machine_token(instance) == token
        assert runbeam.open_token_store("auto").backend == "keyring"
    finally:
        store.delete(instance, "user_auth")
        deleted = store.delete(instance, "auth")
    assert deleted is True
    assert store.load_machine_token(instance) is None


def install_fixture(name: str, root: Path) -> None:
    """Copies tests/fixtures/storage/<name> into `root` with the modes runbeam-sdk 0.11 leaves
    (directories 0755, the key 0600, token files 0644; git keeps none)."""
    source = FIXTURES / "storage" / name
    for path in sorted(source.rglob("*")):
        target = root / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
            target.chmod(0o600 if path.name == "encryption.key" else 0o644)
    root.chmod(0o755)


def test_tokens_written_by_runbeam_sdk_0_11_load(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNBEAM_MACHINE_TOKEN", raising=False)
    install_fixture("sdk-0.11", tmp_path)
    store = runbeam.FileTokenStore(tmp_path)
    token = store.load_machine_token("sdk-gw")
    assert token is not None
    assert token.machine_token == "mt_sdk011_fixture_token_0123456789"
    assert token.gateway_id == "gw-sdk011"
    assert token.abilities == ["harmony:send", "harmony:receive"]
    assert token.expires_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert token.issued_at is not None
    user = store.load_user_token("sdk-gw")
    assert user is not None and user.token == "sdk011.user.jwt"
    assert user.expires_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    # A token manager of that instance uses the existing identity: no authorization needed.
    manager = runbeam.TokenManager("sdk-gw", store, "http://127.0.0.1:1")
    assert manager.ensure_token() == token


def test_tokens_in_librunbeam_0_1_slots_are_moved(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNBEAM_MACHINE_TOKEN", raising=False)
    install_fixture("librunbeam-0.1", tmp_path)
    old = tmp_path / "compat-gw" / "runbeam" / "machine_token.json"
    assert old.exists()
    store = runbeam.FileTokenStore(tmp_path)
    token = store.load_machine_token("compat-gw")
    assert token is not None and token.gateway_id == "gw-compat"
    assert not old.exists()
    assert Path(store.location("compat-gw", "auth")).exists()
    user = store.load_user_token("compat-gw")
    assert user is not None and user.token == "1|compat-user-token"
    assert (tmp_path / "compat-gw" / "runbeam" / "user_auth.json").exists()
