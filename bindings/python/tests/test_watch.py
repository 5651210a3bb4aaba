"""Live configuration: ``Resolver.watch`` / ``AsyncResolver.watch`` against runbeam-devcloud
over real HTTP. Changes published on the devcloud (``POST /_dev/changes``, as the Cloud does
when a mesh is edited) reach the watching resolver, which applies them, reports them applied
or failed to the Cloud, and tells the callback; ``stop()`` stops it.
"""

from __future__ import annotations

import asyncio
import gc
import queue
import threading
from typing import Any, List

import pytest

import runbeam
from conftest import ANALYTICS_GW, BOB, DICOMWEB, MESH, Cloud

CHANGES_PATH = "/api/harmony/changes"
DICOMWEB_BY_ID = "runbeam.id.01JDW14DR9GPQY77ZXYYK596NG"
# Long enough for a few polls at 1 s on a loaded machine; a bound, never asserted.
PATIENCE = 30.0


def config(cloud: Cloud) -> runbeam.MeshConfig:
    return runbeam.MeshConfig.from_toml(f"""
[provider.runbeam]
api = "{cloud.url}"
poll_interval_secs = 1

[pipelines.research.mesh.egress.imaging-out]
type = "http3"
backend = "dicom-archive"
mode = "mesh"

[mesh.{MESH}]
type = "http3"
provider = "runbeam"
egress = ["imaging-out", "{DICOMWEB}"]
""")


def resolver(cloud: Cloud, cls: Any = runbeam.Resolver) -> Any:
    managed = runbeam.TokenManager(ANALYTICS_GW, runbeam.MemoryTokenStore(), cloud.url,
                                   credential=BOB)
    return cls(config(cloud), cloud.url, managed)


def publish(cloud: Cloud, **change: Any) -> str:
    answer = cloud.dev_post("changes", {"gateway_code": ANALYTICS_GW, **change})
    return answer["data"]["id"]


def mesh_change(egress: List[str]) -> dict:
    listed = ", ".join(f'"{e}"' for e in egress)
    toml = f'[mesh.{MESH}]\ntype = "http3"\nprovider = "runbeam"\negress = [{listed}]\n'
    return {"type": "mesh", "action": "updated", "config": toml}


def event_for(events: "queue.Queue[runbeam.WatchEvent]", change_id: str) -> runbeam.WatchEvent:
    while True:
        event = events.get(timeout=PATIENCE)
        if event.change_id == change_id:
            return event


def status(cloud: Cloud, change_id: str) -> str:
    return cloud.gateway(BOB, ANALYTICS_GW).change(change_id).status


def test_a_mesh_change_reaches_the_resolver_and_is_marked_applied(cloud: Cloud):
    watched = resolver(cloud)
    watched.resolve(DICOMWEB)
    with pytest.raises(runbeam.NotInMeshError):
        watched.resolve(DICOMWEB_BY_ID)
    events: "queue.Queue[runbeam.WatchEvent]" = queue.Queue()
    threads: List[str] = []

    def on_event(event: runbeam.WatchEvent) -> None:
        threads.append(threading.current_thread().name)
        events.put(event)

    with watched.watch(on_event) as watcher:
        assert watcher.providers == ["runbeam"] and not watcher.is_stopped
        change_id = publish(cloud, **mesh_change(["imaging-out", DICOMWEB_BY_ID]))
        event = event_for(events, change_id)
        assert isinstance(event, runbeam.WatchEvent)
        assert event.kind == "applied", event.message
        assert (event.provider, event.change_type, event.action) == ("runbeam", "mesh",
                                                                      "updated")
        assert event.meshes == [MESH]
        assert event.references_dropped == 1 and event.error is None
        assert event.to_dict()["kind"] == "applied"
        assert repr(event).startswith("WatchEvent(kind='applied', provider='runbeam'")
        # The reference that left is refused, the one that entered resolves.
        with pytest.raises(runbeam.NotInMeshError):
            watched.resolve(DICOMWEB)
        assert watched.resolve(DICOMWEB_BY_ID).resource.id
        assert DICOMWEB_BY_ID in [str(m.reference) for m in watched.config.remote_references()]
        assert status(cloud, change_id) == "applied"
    assert watcher.is_stopped
    assert threading.current_thread().name not in threads, "called on a runbeam thread"


def test_an_invalid_change_fails_and_the_old_configuration_stays(cloud: Cloud):
    watched = resolver(cloud)
    before = [str(m.reference) for m in watched.config.remote_references()]
    events: "queue.Queue[runbeam.WatchEvent]" = queue.Queue()
    watcher = watched.watch(events.put)
    try:
        change_id = publish(cloud, **mesh_change(["runbeam.acme.widget.name.x",
                                                  "partner.team.ingress.name.api"]))
        event = event_for(events, change_id)
    finally:
        watcher.stop()
    assert event.kind == "failed"
    assert "Unknown provider 'partner'" in event.message
    assert isinstance(event.error, runbeam.ConfigError)
    assert len(event.error.problems) == 2
    assert event.to_dict()["error"] == "Config"
    assert [str(m.reference) for m in watched.config.remote_references()] == before
    assert watched.resolve(DICOMWEB).resource.id, "the old mesh still resolves"
    assert status(cloud, change_id) == "failed"


def test_stop_stops_polling_and_calling(cloud: Cloud):
    watched = resolver(cloud)
    events: "queue.Queue[runbeam.WatchEvent]" = queue.Queue()
    watcher = watched.watch(events.put)
    first = publish(cloud, **mesh_change(["imaging-out", DICOMWEB]))
    event_for(events, first)
    watcher.stop()
    watcher.stop()  # idempotent
    assert watcher.is_stopped and "is_stopped=True" in repr(watcher)
    cloud.reset_counts()
    later = publish(cloud, **mesh_change(["imaging-out", DICOMWEB_BY_ID]))
    with pytest.raises(queue.Empty):
        events.get(timeout=2.5)
    assert cloud.count("GET", CHANGES_PATH) == 0, "no poll after stop()"
    assert status(cloud, later) == "pending"


def test_a_collected_watcher_stops_and_a_raising_callback_goes_on(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
):
    unraisable: List[Any] = []
    monkeypatch.setattr("sys.unraisablehook", unraisable.append)
    watched = resolver(cloud)
    events: "queue.Queue[runbeam.WatchEvent]" = queue.Queue()

    def on_event(event: runbeam.WatchEvent) -> None:
        events.put(event)
        raise RuntimeError("callback bug")

    watched.watch(on_event)   # dropped at once: stopped by garbage collection
    gc.collect()
    kept = watched.watch(on_event)
    first = publish(cloud, **mesh_change(["imaging-out", DICOMWEB_BY_ID]))
    event_for(events, first)
    second = publish(cloud, **mesh_change(["imaging-out", DICOMWEB]))
    assert event_for(events, second).kind == "applied", "the watcher went on"
    kept.stop()
    assert {type(u.exc_value) for u in unraisable} == {RuntimeError}
    # Each change was applied once (the collected watcher did not apply them too).
    assert len(unraisable) == 2


def test_async_resolver_schedules_the_callback_on_the_event_loop(cloud: Cloud):
    watched = resolver(cloud, runbeam.AsyncResolver)

    async def main() -> runbeam.WatchEvent:
        loop = asyncio.get_running_loop()
        events: "asyncio.Queue[runbeam.WatchEvent]" = asyncio.Queue()
        on_loop: List[bool] = []

        def on_event(event: runbeam.WatchEvent) -> None:
            on_loop.append(asyncio.get_running_loop() is loop)
            events.put_nowait(event)   # an asyncio object: only on the loop's thread

        with watched.watch(on_event):
            change_id = await loop.run_in_executor(
                None, lambda: publish(cloud, **mesh_change(["imaging-out", DICOMWEB_BY_ID])))
            while True:
                event = await asyncio.wait_for(events.get(), PATIENCE)
                if event.change_id == change_id:
                    break
        assert on_loop and all(on_loop)
        return event

    event = asyncio.run(main())
    assert event.kind == "applied", event.message

    async def resolve() -> runbeam.Resolution:
        return await watched.resolve(DICOMWEB_BY_ID)

    assert asyncio.run(resolve()).resource.id


def test_async_watch_needs_a_running_loop(cloud: Cloud):
    with pytest.raises(RuntimeError):
        resolver(cloud, runbeam.AsyncResolver).watch(print)
    with pytest.raises(TypeError, match="callable"):
        resolver(cloud).watch("not callable")
