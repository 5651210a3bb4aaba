"""Operating a gateway from Python, against runbeam-devcloud over real HTTP: librunbeam's log
records in :mod:`logging` (the records a user looks for, with their fields; never a token;
the core's level following the loggers'; handlers that raise), the counters of resolvers,
validators and token managers, and their Prometheus text.

Records reach the handlers from a thread of the module shortly after they are logged: each
test calls ``runbeam.flush_logs()`` before it looks at them.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import runbeam
from conftest import ALICE_EMAIL, ANALYTICS_GW, BOB, DICOM_URL, DICOMWEB, MESH, Cloud
from test_resolver import RESOLVE_PATH, analytics, analytics_config

JWKS_PATH = "/api/.well-known/jwks.json"
BOB_EMAIL = "bob@analytics.example.com"
TEN_YEARS = 10 * 365 * 86400.0


class Capture(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def find(self, message: str) -> List[logging.LogRecord]:
        runbeam.flush_logs()
        return [r for r in self.records if r.getMessage() == message]


@pytest.fixture
def logged() -> Iterator[Any]:
    """``logged(level)``: a :class:`Capture` on the ``runbeam`` logger set to ``level``; the
    logger's level, handlers and the core's level are put back afterwards."""
    logger = logging.getLogger("runbeam")
    saved = (logger.level, list(logger.handlers))
    handler = Capture()
    logger.addHandler(handler)

    def at(level: int) -> Capture:
        logger.setLevel(level)
        return handler

    yield at
    runbeam.flush_logs()
    logger.setLevel(saved[0])
    logger.handlers[:] = saved[1]
    runbeam.sync_log_level()


def user_jwt(cloud: Cloud, email: str = ALICE_EMAIL, **extra: Any) -> str:
    return cloud.dev_post("jwt", {"email": email, **extra})["token"]


def issuer(cloud: Cloud) -> str:
    return f"{cloud.url}/api"


def stored_manager(cloud: Cloud, credential: str, **options: Any) -> runbeam.TokenManager:
    """A token manager whose store already holds a valid machine token of the analytics
    gateway, and whose renewal window (ten years) puts that token inside it."""
    store = runbeam.MemoryTokenStore()
    granted = cloud.client(BOB).authorize(ANALYTICS_GW)
    store.save_machine_token(
        ANALYTICS_GW,
        runbeam.MachineToken(granted.machine_token, granted.expires_at, granted.gateway["id"]),
    )
    return runbeam.TokenManager(ANALYTICS_GW, store, cloud.url, credential=credential,
                                renewal_window=TEN_YEARS, **options)


# --- The records a user looks for -----------------------------------------------------------


def test_the_token_store_chosen_is_logged_at_info_with_its_backend(
    logged: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RUNBEAM_HOME", str(tmp_path))
    records = logged(logging.INFO)
    assert runbeam.open_token_store("file").backend == "file"
    [record] = records.find("runbeam token store selected")
    assert record.levelno == logging.INFO and record.levelname == "INFO"
    assert record.name == "runbeam.storage"
    assert record.runbeam_target == "runbeam_core::storage"  # type: ignore[attr-defined]
    assert record.runbeam_fields == {"backend": "file"}  # type: ignore[attr-defined]
    assert abs(record.created - time.time()) < 60


def test_a_stale_answer_is_logged_as_a_warning_naming_the_reference(logged: Any, cloud: Cloud):
    records = logged(logging.WARNING)
    resolver = analytics(cloud, ttl_secs=1, max_stale=60)
    resolver.resolve(DICOMWEB)
    cloud.fault(path=RESOLVE_PATH, status=503, count=1000)
    time.sleep(1.1)
    assert resolver.resolve(DICOMWEB).is_stale
    [record] = records.find("runbeam serving a stale resolution: the provider failed")
    assert record.levelno == logging.WARNING and record.name == "runbeam.resolve"
    fields = record.runbeam_fields  # type: ignore[attr-defined]
    assert fields["reference"] == "dicomweb"
    assert "503" in fields["error"], fields
    assert resolver.stats().stale_served == 1


def test_a_failed_renewal_is_logged_and_counted_and_the_stored_token_stays(
    logged: Any, cloud: Cloud
):
    records = logged(logging.WARNING)
    manager = stored_manager(cloud, credential="1|not-a-valid-token")
    stored = manager.current()
    assert manager.ensure_token() == stored, "the current token stays in use"
    [record] = records.find(
        "runbeam: machine token renewal failed; the current token stays in use"
    )
    assert record.levelno == logging.WARNING and record.name == "runbeam.storage"
    fields = record.runbeam_fields  # type: ignore[attr-defined]
    assert fields["instance"] == ANALYTICS_GW and fields["error"]
    assert manager.stats().to_dict() == {"renewals": 0, "renewal_failures": 1}


def test_a_failed_jwks_refresh_is_logged_with_its_url(logged: Any, cloud: Cloud):
    records = logged(logging.WARNING)
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)], deadline=3)
    cloud.fault(path=JWKS_PATH, status=500, count=20)
    with pytest.raises(runbeam.ServerError) as raised:
        validator.validate(user_jwt(cloud))
    [record] = records.find("runbeam jwks refresh failed")
    assert record.levelno == logging.WARNING and record.name == "runbeam.jwt"
    fields = record.runbeam_fields  # type: ignore[attr-defined]
    assert fields["url"] == f"{cloud.url}{JWKS_PATH}"
    assert "500" in fields["error"], fields
    stats = validator.stats()
    assert (stats.jwks_fetches, stats.jwks_fetch_failures) == (1, 1)
    assert stats.failures == {raised.value.kind: 1} == {"ServerError": 1}, "the kind raised"


def test_no_record_of_a_whole_flow_contains_a_token(logged: Any, cloud: Cloud):
    records = logged(runbeam.TRACE)
    jwt = user_jwt(cloud, BOB_EMAIL)   # Bob's team owns the analytics gateway
    manager = runbeam.TokenManager(ANALYTICS_GW, runbeam.MemoryTokenStore(), cloud.url,
                                   credential=jwt)
    resolver = runbeam.Resolver(analytics_config(cloud), cloud.url, manager)
    resolver.resolve(DICOMWEB)
    mesh_token = resolver.mesh_token(MESH, f"{DICOM_URL}/studies").token
    resolver.verify_mesh_token(mesh_token, MESH, f"{DICOM_URL}/studies/1")
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    validator.validate(jwt)
    with pytest.raises(runbeam.JwtInvalidError):
        validator.validate(jwt + "x")   # a refusal logs too
    machine_token = manager.current().machine_token
    runbeam.flush_logs()
    assert len(records.records) >= 3, "the flow logged (API calls at DEBUG)"
    assert any(r.levelno == logging.DEBUG for r in records.records)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s %(runbeam_fields)s")
    for record in records.records:
        text = formatter.format(record) + repr(record.__dict__)
        for secret in (jwt, machine_token, mesh_token):
            assert secret not in text, record.__dict__
        # Nor a piece of one that could be replayed (the signature).
        for secret in (jwt, mesh_token):
            assert secret.rsplit(".", 1)[1] not in text


# --- Levels ---------------------------------------------------------------------------------


def test_the_core_level_follows_the_runbeam_loggers(logged: Any):
    logger = logging.getLogger("runbeam")
    logged(logging.DEBUG)
    assert runbeam._native._log_level() == "debug"
    logger.setLevel(logging.WARNING)
    assert runbeam._native._log_level() == "warn"
    logger.setLevel(runbeam.TRACE)
    assert runbeam._native._log_level() == "trace"
    logger.setLevel(logging.CRITICAL)
    assert runbeam._native._log_level() is None, "no core level is as severe as CRITICAL"

    # A child logger more verbose than its parent lowers the core's level.
    child = logging.getLogger("runbeam.jwt")
    try:
        logger.setLevel(logging.ERROR)
        child.setLevel(logging.INFO)
        assert runbeam._native._log_level() == "info"
    finally:
        child.setLevel(logging.NOTSET)
    assert runbeam._native._log_level() == "error"

    # logging.disable, and the root level when runbeam's is unset.
    logging.disable(logging.CRITICAL)
    try:
        assert runbeam._native._log_level() is None
    finally:
        logging.disable(logging.NOTSET)
    root = logging.getLogger()
    saved = root.level
    try:
        logger.setLevel(logging.NOTSET)
        root.setLevel(logging.INFO)
        assert runbeam._native._log_level() == "info"
    finally:
        root.setLevel(saved)

    # A level assigned directly is picked up by sync_log_level().
    logger.level = logging.DEBUG
    assert runbeam.sync_log_level() == "debug"
    assert runbeam._native._log_level() == "debug"


def test_raising_the_level_stops_the_records(logged: Any, cloud: Cloud):
    records = logged(logging.DEBUG)
    client = cloud.client(BOB)
    client.authorize(ANALYTICS_GW)
    assert records.find("runbeam api ok"), "API calls are logged at DEBUG"
    records.records.clear()
    logging.getLogger("runbeam").setLevel(logging.WARNING)
    assert runbeam._native._log_level() == "warn"
    client.authorize(ANALYTICS_GW)
    runbeam.flush_logs()
    assert [r for r in records.records if r.levelno < logging.WARNING] == []


def test_dict_config_is_followed(logged: Any):
    import logging.config

    logged(logging.WARNING)
    logging.config.dictConfig({
        "version": 1,
        "incremental": True,
        "loggers": {"runbeam": {"level": "DEBUG"}},
    })
    assert runbeam._native._log_level() == "debug"


def test_a_handler_that_raises_breaks_neither_the_call_nor_later_records(
    logged: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
):
    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("handler bug")

    monkeypatch.setenv("RUNBEAM_HOME", str(tmp_path))
    unraisable: List[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    records = logged(logging.INFO)
    logging.getLogger("runbeam").addHandler(Broken())
    assert runbeam.open_token_store("file").backend == "file"
    assert runbeam.open_token_store("file").backend == "file"
    assert len(records.find("runbeam token store selected")) == 2
    assert [type(u.exc_value) for u in unraisable] == [RuntimeError, RuntimeError]


def test_flush_logs_answers_without_records():
    assert runbeam.flush_logs(0) is True


# --- Stats ----------------------------------------------------------------------------------


def test_validator_stats_count_hits_verifications_fetches_and_refusals(cloud: Cloud):
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)], leeway=0)
    assert validator.stats().to_dict() == {
        "cache_hits": 0, "verifications": 0, "jwks_fetches": 0, "jwks_fetch_failures": 0,
        "failures": {}, "cached_tokens": 0,
    }
    validator.refresh_keys()   # at start-up
    token = user_jwt(cloud)
    for _ in range(3):   # claims are cached from a token's second verification on
        validator.validate(token)
    for bad, error in [
        (user_jwt(cloud, ttl_secs=-3600), runbeam.JwtExpiredError),
        (token[:-4] + "AAAA", runbeam.JwtInvalidError),
        ("not a jwt", runbeam.JwtInvalidError),
    ]:
        with pytest.raises(error):
            validator.validate(bad)
    untrusted = runbeam.Validator(trusted_issuers=["https://other.example.com"])
    with pytest.raises(runbeam.UntrustedIssuerError):
        untrusted.validate(token)
    stats = validator.stats()
    assert stats.cache_hits == 1
    assert stats.verifications == 4, "the token twice, then the expired and tampered ones"
    assert stats.jwks_fetches == 1 and stats.jwks_fetch_failures == 0
    assert stats.failures == {"JwtExpired": 1, "JwtInvalid": 2}
    assert stats.cached_tokens == 1
    assert untrusted.stats().failures == {"UntrustedIssuer": 1}
    assert repr(stats).startswith("ValidatorStats(cache_hits=1, verifications=")
    assert "failures={'JwtInvalid': 2, 'JwtExpired': 1}" in repr(stats)  # the core's kind order
    assert stats == validator.stats() and stats != untrusted.stats()


def test_async_validator_stats(cloud: Cloud):
    import asyncio

    validator = runbeam.AsyncValidator(trusted_issuers=[issuer(cloud)])
    token = user_jwt(cloud)

    async def main() -> None:
        for _ in range(3):
            await validator.validate(token)

    asyncio.run(main())
    assert (validator.stats().verifications, validator.stats().cache_hits) == (2, 1)


def test_resolver_stats_count_errors_caches_and_mesh_validation(cloud: Cloud):
    resolver = analytics(cloud)
    resolver.resolve(DICOMWEB)
    resolver.resolve(DICOMWEB)
    assert resolver.stats().cached_references == 1
    with pytest.raises(runbeam.NotInMeshError):
        resolver.resolve("runbeam.radiology-dept.ingress.name.elsewhere")
    with pytest.raises(runbeam.NotFoundError):
        resolver.resolve("runbeam.radiology-dept.ingress.name.retired-api")
    token = resolver.mesh_token(MESH, f"{DICOM_URL}/studies").token
    resolver.verify_mesh_token(token, MESH)
    resolver.verify_mesh_token(token, MESH)
    with pytest.raises(runbeam.JwtInvalidError):
        resolver.verify_mesh_token(token[:-4] + "AAAA", MESH)
    stats = resolver.stats()
    assert (stats.hits, stats.misses, stats.upstream_requests) == (1, 2, 2)
    assert stats.errors == {"NotInMesh": 1, "NotFound": 1}
    assert stats.cached_mesh_tokens == 1
    assert stats.mesh_token_requests == 1
    mesh = stats.mesh_validation
    assert isinstance(mesh, runbeam.ValidatorStats)
    assert mesh.jwks_fetches == 1 and mesh.cache_hits >= 1
    assert mesh.failures == {"JwtInvalid": 1}
    wire = stats.to_dict()
    assert wire["errors"] == {"NotInMesh": 1, "NotFound": 1}
    assert wire["mesh_validation"] == mesh.to_dict()
    assert list(wire) == ["hits", "misses", "upstream_requests", "stale_served", "local",
                          "mesh_token_requests", "errors", "cached_references",
                          "cached_mesh_tokens", "mesh_validation"]
    assert "errors={'NotInMesh': 1, 'NotFound': 1}" in repr(stats)
    assert "mesh_validation=ValidatorStats(" in repr(stats)


def test_a_renewal_is_counted(cloud: Cloud):
    manager = stored_manager(cloud, credential=BOB)
    before = manager.current()
    renewed = manager.ensure_token()
    assert renewed.machine_token != before.machine_token
    assert manager.stats().renewals == 1 and manager.stats().renewal_failures == 0
    assert repr(manager.stats()) == "TokenManagerStats(renewals=1, renewal_failures=0)"


# --- Prometheus -----------------------------------------------------------------------------

SAMPLE = re.compile(r'^([a-z_]+)\{((?:[a-z_]+="(?:[^"\\\n]|\\.)*",?)+)\} ([0-9]+)$')


def parse(text: str) -> Tuple[Dict[str, str], Dict[Tuple[str, frozenset], int]]:
    """The exposition format as a scraper reads it: ``# TYPE`` once per family before its
    samples, every sample ``name{labels} value``. Returns (types, samples)."""
    types: Dict[str, str] = {}
    helps: Dict[str, str] = {}
    samples: Dict[Tuple[str, frozenset], int] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_text = line[7:].split(" ", 1)
            assert name not in helps and help_text
            helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert name not in types and kind in ("counter", "gauge")
            types[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, line
            name, labels, value = match.groups()
            assert name in types, f"{name} before its # TYPE"
            pairs = frozenset(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', labels))
            assert (name, pairs) not in samples, line
            samples[(name, pairs)] = int(value)
    return types, samples


def sample(samples: Dict[Tuple[str, frozenset], int], metric: str, **labels: str) -> int:
    return samples[(metric, frozenset(labels.items()))]


def test_prometheus_text_of_every_source(cloud: Cloud):
    resolver = analytics(cloud)
    resolver.resolve(DICOMWEB)
    resolver.resolve(DICOMWEB)
    with pytest.raises(runbeam.NotInMeshError):
        resolver.resolve("runbeam.radiology-dept.ingress.name.elsewhere")
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    with pytest.raises(runbeam.JwtExpiredError):
        validator.validate(user_jwt(cloud, ttl_secs=-3600))
    manager = stored_manager(cloud, credential=BOB)
    manager.ensure_token()

    text = runbeam.prometheus_text(resolver, manager, users=validator,
                                   **{'edge "2"': validator.stats()})
    types, samples = parse(text)
    assert types["runbeam_resolver_hits_total"] == "counter"
    assert types["runbeam_resolver_cached_references"] == "gauge"
    assert sample(samples, "runbeam_resolver_hits_total", name="resolver") == 1
    assert sample(samples, "runbeam_resolver_errors_total", name="resolver",
                  kind="NotInMesh") == 1
    assert sample(samples, "runbeam_validator_cache_hits_total", name="resolver:mesh") == 0
    assert sample(samples, "runbeam_validator_failures_total", name="users",
                  kind="JwtExpired") == 1
    assert sample(samples, "runbeam_validator_failures_total", name='edge \\"2\\"',
                  kind="JwtExpired") == 1
    assert sample(samples, "runbeam_token_manager_renewals_total", name="token_manager") == 1
    assert runbeam.PROMETHEUS_CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"

    # Stats objects and the async classes name themselves the same way.
    assert runbeam.prometheus_text(resolver.stats()) == runbeam.prometheus_text(resolver)
    assert runbeam.prometheus_text() == ""


def test_prometheus_text_refuses_clashing_names_and_other_objects(cloud: Cloud):
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    with pytest.raises(ValueError, match="validator"):
        runbeam.prometheus_text(validator, validator)
    with pytest.raises(ValueError, match="validator"):
        runbeam.prometheus_text(validator, validator=validator.stats())
    resolver = analytics(cloud)
    with pytest.raises(ValueError, match="gw:mesh"):
        runbeam.prometheus_text(gw=resolver, **{"gw:mesh": validator})
    with pytest.raises(TypeError, match="dict"):
        runbeam.prometheus_text({"hits": 1})
    both = runbeam.prometheus_text(a=validator, b=validator)
    assert 'name="a"' in both and 'name="b"' in both


def test_stats_objects_are_frozen(cloud: Cloud):
    validator = runbeam.Validator(trusted_issuers=[issuer(cloud)])
    stats = validator.stats()
    with pytest.raises(AttributeError):
        stats.cache_hits = 3  # type: ignore[misc]
    stats.failures["JwtExpired"] = 9  # a new dict each time
    assert stats.failures == {}
