"""The change feed and ``update_config`` against devcloud, for ``Client`` and ``AsyncClient``.

devcloud starts with an empty feed; editing a resource owned by a gateway (the seeded pipeline
``dicom-api`` of ``radiology-gw-1``) queues a pending change for that gateway.
"""

from __future__ import annotations

from typing import Any, Dict

import pytest

import runbeam

from conftest import ALICE, ANALYTICS_GW, BOB, RADIOLOGY_GW, AnyClient, Cloud, Connect

UPDATE_PATH = "/api/harmony/update"


def radiology(cloud: Cloud, connect: Connect) -> AnyClient:
    token = runbeam.Client(cloud.url, token=ALICE).authorize(RADIOLOGY_GW).machine_token
    return connect(token)


def dicom_pipeline(alice: AnyClient) -> Dict[str, Any]:
    found = [p for p in alice.list("pipelines", per_page=100).data if p.get("name") == "dicom-api"]
    assert len(found) == 1, "the seed has the pipeline dicom-api"
    return found[0]


def edit(alice: AnyClient, pipeline: Dict[str, Any], text: str) -> None:
    alice.update("pipelines", pipeline["id"], {"description": text})


def test_the_feed_starts_empty(cloud: Cloud, connect: Connect):
    gateway = radiology(cloud, connect)
    assert gateway.changes() == []
    gateway_id = runbeam.Client(cloud.url, token=ALICE).authorize(RADIOLOGY_GW).gateway["id"]
    assert gateway.changes(gateway_id) == []


def test_a_change_is_listed_acknowledged_and_applied(cloud: Cloud, connect: Connect):
    gateway = radiology(cloud, connect)
    alice = connect(ALICE)
    pipeline = dicom_pipeline(alice)
    edit(alice, pipeline, "changed by the Python suite")

    changes = gateway.changes()
    assert len(changes) == 1
    change = changes[0]
    assert isinstance(change, runbeam.Change)
    assert change.status == "pending"
    assert change.extra["resource_id"] == pipeline["id"]
    assert change.extra["type"] == "pipeline"
    assert change.extra["action"] == "updated"
    assert "id" not in change.extra and "status" not in change.extra
    assert repr(change) == f'Change(id="{change.id}", status="pending")'

    one = gateway.change(change.id)
    assert (one.id, one.status) == (change.id, "pending")
    assert one.extra["gateway_id"] == change.extra["gateway_id"]
    assert [c.id for c in gateway.changes(change.extra["gateway_id"])] == [change.id]

    acked = gateway.acknowledge_changes([change.id])
    assert isinstance(acked, runbeam.Acknowledgement)
    assert acked.success is True and bool(acked)
    assert acked.message
    assert acked.extra.get("acknowledged") == [change.id]
    assert gateway.change(change.id).status == "acknowledged"
    # Acknowledged changes stay in the feed until applied or failed.
    assert [c.id for c in gateway.changes()] == [change.id]

    applied = gateway.change_applied(change.id)
    assert applied.success
    assert applied.extra["data"]["status"] == "applied"
    assert gateway.change(change.id).status == "applied"
    assert gateway.changes() == []

    with pytest.raises(runbeam.ConflictError) as info:
        gateway.change_applied(change.id)
    assert info.value.status == 409
    assert info.value.request == ("POST", f"/harmony/change/{change.id}/applied")


def test_a_change_fails_with_details(cloud: Cloud, connect: Connect):
    gateway = radiology(cloud, connect)
    alice = connect(ALICE)
    edit(alice, dicom_pipeline(alice), "will fail")
    (change,) = gateway.changes()
    failed = gateway.change_failed(change.id, "invalid TOML", {"line": 3, "hint": ["a", "b"]})
    assert failed.success
    again = gateway.change(change.id)
    assert again.status == "failed"
    assert again.extra["error"] == "invalid TOML"
    assert again.extra["details"] == {"line": 3, "hint": ["a", "b"]}
    assert gateway.changes() == []

    edit(alice, dicom_pipeline(alice), "fails without details")
    (second,) = gateway.changes()
    assert gateway.change_failed(second.id, "no details").success
    assert gateway.change(second.id).extra["details"] is None

    # Details must be JSON-serializable (as request bodies everywhere: json.dumps' TypeError).
    with pytest.raises(TypeError):
        gateway.change_failed(second.id, "bad details", {"x": object()})


def test_the_feed_is_read_across_pages(cloud: Cloud, connect: Connect):
    gateway = radiology(cloud, connect)
    alice = runbeam.Client(cloud.url, token=ALICE)
    pipeline = dicom_pipeline(alice)
    for i in range(101):  # the client asks for 100 per page
        edit(alice, pipeline, f"edit {i}")
    cloud.reset_counts()
    changes = gateway.changes()
    assert len(changes) == 101
    assert len({c.id for c in changes}) == 101
    assert cloud.count("GET", "/api/harmony/changes") == 2


def test_change_feed_errors(cloud: Cloud, connect: Connect):
    gateway = radiology(cloud, connect)
    with pytest.raises(runbeam.NotFoundError) as info:
        gateway.change("no-such-change")
    assert info.value.status == 404
    assert info.value.request == ("GET", "/harmony/change/no-such-change")

    with pytest.raises(runbeam.NotFoundError):
        gateway.change_applied("no-such-change")

    with pytest.raises(runbeam.ValidationError) as invalid:
        gateway.acknowledge_changes(["no-such-change"])
    assert "change_ids.0" in (invalid.value.field_errors or {})

    other = runbeam.Client(cloud.url, token=BOB).authorize(ANALYTICS_GW).gateway["id"]
    with pytest.raises(runbeam.PermissionDeniedError) as denied:
        gateway.changes(other)
    assert denied.value.status == 403

    # A str is not a list of ids.
    with pytest.raises(TypeError):
        gateway.acknowledge_changes("abc")


def test_update_config_creates_then_updates(cloud: Cloud, connect: Connect):
    gateway = radiology(cloud, connect)
    created = gateway.update_config("pipeline", '[pipeline]\nname = "p"\n')
    assert isinstance(created, runbeam.UpdateResult)
    assert isinstance(created.data, runbeam.UpdatedConfig)
    assert (created.data.type, created.data.action, created.success) == (
        "pipeline",
        "created",
        True,
    )
    assert created.data.id
    assert created.message
    assert repr(created.data) == (
        f'UpdatedConfig(type="pipeline", id="{created.data.id}", action="created")'
    )
    assert repr(created) == f"UpdateResult(success=True, data={created.data!r})"

    updated = gateway.update_config("pipeline", '[pipeline]\nname = "q"\n', id=created.data.id)
    assert (updated.data.id, updated.data.action) == (created.data.id, "updated")

    named = gateway.update_config("mesh", "[mesh]\n", id="py-mesh-1")
    assert (named.data.id, named.data.type, named.data.action) == ("py-mesh-1", "mesh", "created")


def test_update_config_errors(cloud: Cloud, connect: Connect):
    gateway = radiology(cloud, connect)
    with pytest.raises(runbeam.ValidationError) as info:
        gateway.update_config("mesh", "not = = toml")
    assert "config" in (info.value.field_errors or {})
    assert (*info.value.request, info.value.status) == (
        "POST",
        "/harmony/update",
        422,
    )

    # An unknown type is refused before any request is sent.
    cloud.reset_counts()
    with pytest.raises(runbeam.InvalidArgumentError) as bad:
        gateway.update_config("widget", "[x]\n")
    assert isinstance(bad.value, ValueError)
    assert "gateway, pipeline, transform, mesh" in str(bad.value)
    assert cloud.count("POST", UPDATE_PATH) == 0
