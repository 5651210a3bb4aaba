//! Live configuration (docs/design.md, "Live configuration") against runbeam-devcloud over real
//! HTTP: changes published on the devcloud (`POST /_dev/changes`) reach a watching resolver,
//! which applies them, reports them applied or failed, and tells the host.

use std::sync::Arc;
use std::time::Duration;

use runbeam_core::ErrorKind;
use runbeam_core::client::Client;
use runbeam_core::config::MeshConfig;
use runbeam_core::resolve::{Resolver, WatchEvent, WatchEventKind};
use runbeam_e2e::*;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const CHANGES: &str = "GET /api/harmony/changes";
const CHANGES_PATH: &str = "/api/harmony/changes";
/// ai-analytics' own ingress: resolvable by its gateway, in a mesh no change touches.
const INFERENCE: &str = "runbeam.ai-analytics.ingress.name.inference-api";
/// The seeded DICOMweb ingress's id.
const DICOMWEB_ID: &str = "01JDW14DR9GPQY77ZXYYK596NG";
/// The same ingress, by id.
const DICOMWEB_BY_ID: &str = "runbeam.id.01JDW14DR9GPQY77ZXYYK596NG";
/// Long enough for a few polls at 1 s on a loaded machine; only a bound, never asserted.
const PATIENCE: Duration = Duration::from_secs(30);

fn config(cloud: &Cloud, poll_interval_secs: u32) -> MeshConfig {
    MeshConfig::from_toml(&format!(
        r#"
        [provider.runbeam]
        api = "{url}"
        poll_interval_secs = {poll_interval_secs}

        [pipelines.research.mesh.egress.imaging-out]
        type = "http3"
        backend = "dicom-archive"
        mode = "mesh"

        [mesh.imaging-integration]
        type = "http3"
        provider = "runbeam"
        egress = ["imaging-out", "{DICOMWEB}"]

        [mesh.own]
        type = "http"
        provider = "runbeam"
        ingress = ["{INFERENCE}"]
        "#,
        url = cloud.url()
    ))
    .expect("the test configuration loads")
}

fn resolver(cloud: &Cloud, poll_interval_secs: u32) -> Resolver {
    let resolver = Resolver::builder(
        config(cloud, poll_interval_secs),
        cloud.builder().build().expect("client builds"),
        cloud.token_manager(ANALYTICS_GW, BOB_SANCTUM),
    )
    .build()
    .expect("resolver builds");
    resolver.validate_startup().expect("valid configuration");
    resolver
}

/// A callback that forwards events to a channel; the channel closes when the watcher drops
/// the callback.
fn channel() -> (
    impl FnMut(WatchEvent) + Send + 'static,
    UnboundedReceiver<WatchEvent>,
) {
    let (tx, rx) = unbounded_channel();
    (
        move |event| {
            let _ = tx.send(event);
        },
        rx,
    )
}

/// The next event about change `id` (events of other changes and poll failures are skipped).
async fn event_for(rx: &mut UnboundedReceiver<WatchEvent>, id: &str) -> WatchEvent {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = rx.recv().await.expect("the watcher is running");
            if event.change_id == id {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no event for change {id}"))
}

async fn next_of_kind(rx: &mut UnboundedReceiver<WatchEvent>, kind: WatchEventKind) -> WatchEvent {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = rx.recv().await.expect("the watcher is running");
            if event.kind == kind {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} event"))
}

/// Publishes a change for the analytics gateway; returns its id.
async fn publish(cloud: &Cloud, change: Value) -> String {
    let mut body = change;
    body["gateway_code"] = json!(ANALYTICS_GW);
    let answer = cloud.dev_post("changes", body).await;
    answer["data"]["id"]
        .as_str()
        .expect("change id")
        .to_string()
}

fn mesh_change(action: &str, toml: &str) -> Value {
    json!({"type": "mesh", "action": action, "config": toml})
}

/// The change as the devcloud holds it (read with the analytics gateway's machine token).
async fn stored_change(gateway: &Client, id: &str) -> Value {
    serde_json::to_value(gateway.change(id).await.expect("change readable")).unwrap()
}

/// Waits until the devcloud has served `n` change-feed polls.
async fn polls(cloud: &Cloud, n: u64) {
    tokio::time::timeout(PATIENCE, async {
        while cloud.count(CHANGES).await < n {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("fewer than {n} polls"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_change_reaches_the_resolver_and_is_marked_applied() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1);
    resolver.resolve(DICOMWEB).await.unwrap();
    resolver.resolve(INFERENCE).await.unwrap();
    resolver.mesh_token(MESH, DICOM_URL).await.unwrap();
    assert_eq!(
        resolver.resolve(DICOMWEB_BY_ID).await.unwrap_err().kind(),
        ErrorKind::NotInMesh
    );
    let (callback, mut events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    assert_eq!(watcher.providers(), ["runbeam"]);

    // DICOMWEB leaves the mesh, the same ingress by id enters it.
    let id = publish(
        &cloud,
        mesh_change(
            "updated",
            &format!(
                "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n\
                 egress = [\"imaging-out\", \"{DICOMWEB_BY_ID}\"]\n"
            ),
        ),
    )
    .await;
    let event = event_for(&mut events, &id).await;
    assert_eq!(event.kind, WatchEventKind::Applied, "{}", event.message);
    assert_eq!(event.provider, "runbeam");
    assert_eq!(
        (event.change_type.as_str(), event.action.as_str()),
        ("mesh", "updated")
    );
    assert_eq!(event.meshes, [MESH]);
    assert_eq!(event.references_dropped, 1, "{}", event.message);
    assert_eq!(event.mesh_tokens_dropped, 1, "{}", event.message);

    // The reference that left is refused, the one that entered resolves, the other mesh's
    // answer is still cached, and the mesh's token is fetched again.
    let err = resolver.resolve(DICOMWEB).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInMesh, "{err}");
    let entered = resolver.resolve(DICOMWEB_BY_ID).await.unwrap();
    assert_eq!(entered.resource().urls, [DICOM_URL]);
    assert!(
        resolver.resolve_cached(INFERENCE).is_some(),
        "unaffected entry kept"
    );
    assert_eq!(resolver.cached_mesh_tokens(), 0);
    cloud.reset_counts().await;
    resolver.mesh_token(MESH, DICOM_URL).await.unwrap();
    assert_eq!(cloud.count("POST /api/harmony/mesh/token").await, 1);

    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    let stored = stored_change(&gateway, &id).await;
    assert_eq!(stored["status"], "applied", "{stored}");

    // A deletion removes the mesh: its references leave mesh context.
    let id = publish(
        &cloud,
        json!({"type": "mesh", "action": "deleted", "name": MESH}),
    )
    .await;
    let event = event_for(&mut events, &id).await;
    assert_eq!(event.kind, WatchEventKind::Applied, "{}", event.message);
    assert!(resolver.config().mesh(MESH).is_none());
    assert_eq!(
        resolver.resolve(DICOMWEB_BY_ID).await.unwrap_err().kind(),
        ErrorKind::NotInMesh
    );
    watcher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_mesh_change_is_marked_failed_with_every_problem_and_changes_nothing() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1);
    let before = resolver.config();
    let (callback, mut events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    let id = publish(
        &cloud,
        mesh_change(
            "updated",
            "[mesh.imaging-integration]\ntype = \"http3\"\nprovider = \"runbeam\"\n\
             egress = [\"runbeam.acme.widget.name.x\", \"partner.team.ingress.name.api\"]\n",
        ),
    )
    .await;
    let event = event_for(&mut events, &id).await;
    assert_eq!(event.kind, WatchEventKind::Failed);
    assert!(
        event.message.contains("mesh.imaging-integration.egress[0]"),
        "{}",
        event.message
    );
    assert!(
        event.message.contains("Unknown provider 'partner'"),
        "{}",
        event.message
    );
    assert_eq!(event.error.as_ref().unwrap().problems().len(), 2);
    assert_eq!(resolver.config(), before, "the old configuration stays");

    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    let stored = stored_change(&gateway, &id).await;
    assert_eq!(stored["status"], "failed", "{stored}");
    assert!(
        stored["error"]
            .as_str()
            .unwrap()
            .contains("Unknown provider 'partner'")
    );
    assert_eq!(stored["details"]["kind"], "Config", "{stored}");
    assert_eq!(stored["details"]["problems"].as_array().unwrap().len(), 2);
    assert_eq!(
        stored["details"]["problems"][1]["path"],
        "mesh.imaging-integration.egress[1]"
    );
    watcher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_changes_are_marked_failed_with_a_clear_message() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1);
    let before = resolver.config();
    let (callback, mut events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    let cases = [
        (
            json!({"type": "mesh", "action": "updated", "config": 42}),
            "must be a string, found a number",
        ),
        (
            json!({"type": "mesh", "action": "updated"}),
            "has no `config`",
        ),
        (
            mesh_change("updated", "[mesh.x\ntype ="),
            "TOML syntax error",
        ),
        (
            mesh_change(
                "updated",
                "[provider.evil]\napi = \"https://evil.example\"\n",
            ),
            "only [mesh.<name>] tables",
        ),
        (
            mesh_change(
                "created",
                "[mesh.theirs]\ntype = \"http\"\nprovider = \"local\"\n",
            ),
            "may only change that provider's meshes",
        ),
        (
            json!({"type": "teleporter", "action": "updated"}),
            "unknown change type 'teleporter'",
        ),
        (
            json!({"type": "mesh", "action": "exploded", "config": ""}),
            "unknown action 'exploded'",
        ),
        (
            json!({"type": "ingress", "action": "updated"}),
            "has no `resource_id`",
        ),
    ];
    for (change, expected) in cases {
        let id = publish(&cloud, change).await;
        let event = event_for(&mut events, &id).await;
        assert_eq!(event.kind, WatchEventKind::Failed, "{}", event.message);
        assert!(
            event.message.contains(expected),
            "{} should say {expected}",
            event.message
        );
    }
    assert_eq!(resolver.config(), before);
    watcher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingress_update_invalidates_exactly_that_resource() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1);
    resolver.resolve(DICOMWEB).await.unwrap();
    resolver.resolve(INFERENCE).await.unwrap();
    let (callback, mut events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    let id = publish(
        &cloud,
        json!({"type": "ingress", "action": "updated", "resource_id": DICOMWEB_ID}),
    )
    .await;
    let event = event_for(&mut events, &id).await;
    assert_eq!(event.kind, WatchEventKind::Applied, "{}", event.message);
    assert_eq!(event.references_dropped, 1);
    assert!(
        resolver.resolve_cached(DICOMWEB).is_none(),
        "asks the Cloud again"
    );
    assert!(
        resolver.resolve_cached(INFERENCE).is_some(),
        "the other entry stays"
    );
    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    assert_eq!(stored_change(&gateway, &id).await["status"], "applied");
    watcher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_change_is_handed_to_the_host_once_and_left_for_it_to_mark() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1);
    let (tx, mut events) = unbounded_channel();
    // A callback that panics on the first event: the watcher goes on.
    let mut first = true;
    let watcher = resolver
        .watch(move |event: WatchEvent| {
            if std::mem::take(&mut first) {
                panic!("the host's callback fails");
            }
            let _ = tx.send(event);
        })
        .unwrap();
    let dropped = publish(
        &cloud,
        json!({"type": "pipeline", "action": "updated", "resource_id": "p1"}),
    )
    .await;
    let id = publish(
        &cloud,
        json!({"type": "pipeline", "action": "created", "resource_id": "p2"}),
    )
    .await;
    let event = event_for(&mut events, &id).await;
    assert_eq!(event.kind, WatchEventKind::Skipped);
    assert!(
        event.message.contains("for the gateway"),
        "{}",
        event.message
    );
    let gateway = cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    for change in [&dropped, &id] {
        assert_eq!(
            stored_change(&gateway, change).await["status"],
            "acknowledged"
        );
    }
    // Later polls do not hand it over again.
    let seen = cloud.count(CHANGES).await;
    polls(&cloud, seen + 2).await;
    while let Ok(event) = events.try_recv() {
        assert_ne!(event.change_id, id, "reported once");
    }
    gateway.change_applied(&id).await.unwrap();
    watcher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_errors_back_off_and_the_watcher_recovers() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1);
    // Three attempts per poll (the client's retries): two polls fail.
    cloud
        .fault(json!({"path": CHANGES_PATH, "method": "GET", "status": 503, "count": 6}))
        .await;
    let (callback, mut events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    let first = next_of_kind(&mut events, WatchEventKind::PollFailed).await;
    let second = next_of_kind(&mut events, WatchEventKind::PollFailed).await;
    for event in [&first, &second] {
        assert_eq!(event.provider, "runbeam");
        assert_eq!(event.error.as_ref().unwrap().kind(), ErrorKind::ServerError);
        assert!(event.message.contains("next poll in"), "{}", event.message);
    }
    assert!(first.retry_in.unwrap() >= Duration::from_secs(1));
    assert!(second.retry_in.unwrap() >= Duration::from_secs(1));
    assert!(
        second.retry_in.unwrap() <= Duration::from_secs(2),
        "capped doubling"
    );
    let id = publish(
        &cloud,
        json!({"type": "ingress", "action": "updated", "resource_id": DICOMWEB_ID}),
    )
    .await;
    assert_eq!(
        event_for(&mut events, &id).await.kind,
        WatchEventKind::Applied
    );
    watcher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_polling_and_callbacks() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1);
    let (callback, mut events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    polls(&cloud, 2).await;
    watcher.stop();
    assert!(watcher.is_stopped());
    // The callback was dropped: the channel closes once drained.
    tokio::time::timeout(PATIENCE, async { while events.recv().await.is_some() {} })
        .await
        .expect("the callback is dropped by stop");
    let after = cloud.count(CHANGES).await;
    publish(
        &cloud,
        json!({"type": "ingress", "action": "updated", "resource_id": DICOMWEB_ID}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(cloud.count(CHANGES).await, after, "no poll after stop");
    drop(watcher);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_watcher_stops_it() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 1);
    let (callback, mut events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    polls(&cloud, 1).await;
    drop(watcher);
    tokio::time::timeout(PATIENCE, async { while events.recv().await.is_some() {} })
        .await
        .expect("the callback is dropped with the watcher");
    let after = cloud.count(CHANGES).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(cloud.count(CHANGES).await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_interval_of_zero_starts_no_task() {
    let cloud = Cloud::start().await;
    let resolver = resolver(&cloud, 0);
    let (callback, _events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    assert!(watcher.providers().is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(cloud.count(CHANGES).await, 0);
    watcher.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_sets_the_interval_to_zero_pauses_polling() {
    let cloud = Cloud::start().await;
    let resolver = Arc::new(resolver(&cloud, 1));
    let (callback, _events) = channel();
    let watcher = resolver.watch(callback).unwrap();
    polls(&cloud, 1).await;
    resolver.reload(config(&cloud, 0)).unwrap();
    // At most the poll in progress finishes; then none.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused = cloud.count(CHANGES).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(cloud.count(CHANGES).await, paused);
    watcher.shutdown().await;
}
