//! Operating the SDK, from Rust, against runbeam-devcloud over real HTTP: the `tracing` records a
//! host sees (backend selection, a stale answer served, a failed renewal, a failed JWKS
//! refresh) and that none of them carries a token; the stats of resolvers, validators and token
//! managers; their Prometheus text.
//!
//! The records are captured through `runbeam_core::log` — a `tracing` subscriber like any
//! other, and the one every binding forwards to its host — so this file runs its tests one at a
//! time (the subscriber is process-wide).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use runbeam_core::ErrorKind;
use runbeam_core::jwt::Validator;
use runbeam_core::log::{self, Level, Record};
use runbeam_core::metrics::Exposition;
use runbeam_core::storage::{StoreChoice, open_token_store};
use runbeam_e2e::*;
use serde_json::json;

#[derive(Debug, Clone)]
struct Captured {
    level: Level,
    target: String,
    message: String,
    fields: Vec<(String, String)>,
}

impl Captured {
    fn text(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} {} {}", self.target, self.message, fields.join(" "))
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// Captures every librunbeam record at `level` until dropped.
struct Capture {
    records: Arc<Mutex<Vec<Captured>>>,
    _serial: MutexGuard<'static, ()>,
}

impl Capture {
    fn start(level: Level) -> Capture {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let records: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let sink = Arc::clone(&records);
        log::set_sink(
            level,
            Arc::new(move |r: &Record<'_>| {
                sink.lock().unwrap().push(Captured {
                    level: r.level,
                    target: r.target.to_owned(),
                    message: r.message.to_owned(),
                    fields: r
                        .fields
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), v.clone()))
                        .collect(),
                });
            }),
        )
        .expect("the host sink installs");
        Capture {
            records,
            _serial: serial,
        }
    }

    fn all(&self) -> Vec<Captured> {
        self.records.lock().unwrap().clone()
    }

    fn find(&self, level: Level, message_part: &str) -> Captured {
        let all = self.all();
        all.iter()
            .find(|r| r.level == level && r.message.contains(message_part))
            .cloned()
            .unwrap_or_else(|| panic!("no {level} record with '{message_part}' in {all:#?}"))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        log::clear_sink();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_a_host_relies_on_arrive_and_none_carries_a_token() {
    let capture = Capture::start(Level::Trace);
    let cloud = Cloud::start().await;

    // Backend selection.
    open_token_store(StoreChoice::File).unwrap();
    let selected = capture.find(Level::Info, "token store selected");
    assert_eq!(selected.field("backend"), Some("file"));
    assert!(selected.target.starts_with("runbeam"), "{selected:?}");

    // A whole flow: authorize, resolve, a mesh token, a user JWT validated.
    let resolver = cloud
        .analytics_resolver(1)
        .max_stale(Duration::from_secs(600))
        .build()
        .unwrap();
    resolver.resolve(DICOMWEB).await.unwrap();
    let mesh_token = resolver.mesh_token(MESH, DICOM_URL).await.unwrap();
    let user_jwt = cloud.user_jwt(ALICE_EMAIL).await;
    let users = Validator::builder()
        .trusted_issuer(format!("{}/api", cloud.url()))
        .build()
        .unwrap();
    users.validate(&user_jwt).await.unwrap();

    // A stale answer served: the provider fails after the TTL.
    cloud
        .fault(json!({"path": "/api/harmony/resources/resolve", "status": 503, "count": 10}))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(resolver.resolve(DICOMWEB).await.unwrap().is_stale());
    let stale = capture.find(Level::Warn, "stale");
    assert_eq!(stale.field("reference"), Some("dicomweb"));
    assert!(
        stale.field("error").is_some_and(|e| e.contains("503")),
        "{stale:?}"
    );
    cloud.dev_delete("faults").await;

    // A renewal that fails while the current token stays valid.
    cloud
        .dev_post("machine-token-lifetime", json!({"secs": 30}))
        .await;
    let manager = cloud.token_manager(RADIOLOGY_GW, ALICE_SANCTUM);
    let manager = Arc::new(
        Arc::try_unwrap(manager)
            .ok()
            .unwrap()
            .renewal_window(Duration::from_secs(3600)),
    );
    let machine = manager.ensure_token().await.unwrap();
    cloud
        .fault(json!({"path": "/api/harmony/authorize", "status": 503, "count": 5}))
        .await;
    assert_eq!(manager.ensure_token().await.unwrap(), machine);
    let renewal = capture.find(Level::Warn, "renewal failed");
    assert!(renewal.field("error").is_some(), "{renewal:?}");
    cloud.dev_delete("faults").await;

    // A JWKS refresh that fails: a validator that has no keys yet.
    let fresh = Validator::builder()
        .trusted_issuer(format!("{}/api", cloud.url()))
        .build()
        .unwrap();
    cloud
        .fault(json!({"path": "/api/.well-known/jwks.json", "status": 503, "count": 10}))
        .await;
    let err = fresh.validate(&user_jwt).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError, "{err}");
    let jwks = capture.find(Level::Warn, "jwks refresh failed");
    assert!(
        jwks.field("url")
            .is_some_and(|u| u.ends_with("/.well-known/jwks.json")),
        "{jwks:?}"
    );
    cloud.dev_delete("faults").await;

    // No record carries a secret.
    let secrets = [
        machine.machine_token.expose().to_string(),
        mesh_token.token.token.expose().to_string(),
        user_jwt.clone(),
        ALICE_SANCTUM.to_string(),
        BOB_SANCTUM.to_string(),
    ];
    let records = capture.all();
    assert!(records.len() >= 5, "{records:#?}");
    for record in &records {
        let text = record.text();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a record carries a token: {text}"
            );
        }
    }
}

#[tokio::test]
async fn a_disabled_level_delivers_nothing_and_clear_stops_delivery() {
    let capture = Capture::start(Level::Warn);
    open_token_store(StoreChoice::File).unwrap();
    assert!(
        capture.all().iter().all(|r| r.level <= Level::Warn),
        "{:#?}",
        capture.all()
    );
    log::set_level(Some(Level::Info));
    open_token_store(StoreChoice::File).unwrap();
    capture.find(Level::Info, "token store selected");
    log::clear_sink();
    let before = capture.all().len();
    open_token_store(StoreChoice::File).unwrap();
    assert_eq!(capture.all().len(), before);
    assert_eq!(log::level(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_happened_and_the_prometheus_text_shows_it() {
    let cloud = Cloud::start().await;
    let resolver = cloud.analytics_resolver(300).build().unwrap();
    resolver.resolve(DICOMWEB).await.unwrap();
    resolver.resolve(DICOMWEB).await.unwrap();
    let refused = resolver
        .resolve("runbeam.someone-else.ingress.name.x")
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::NotInMesh);
    resolver.mesh_token(MESH, DICOM_URL).await.unwrap();
    let stats = resolver.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.upstream_requests),
        (1, 1, 1)
    );
    assert_eq!(stats.errors.get(ErrorKind::NotInMesh), 1);
    // A reference the Cloud does not know leaves nothing that could be served.
    let gone = resolver.resolve(RETIRED).await.unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    let stats = resolver.stats();
    assert_eq!(stats.errors.get(ErrorKind::NotFound), 1);
    assert_eq!(stats.cached_references, 1);
    assert_eq!(stats.cached_mesh_tokens, 1);
    assert_eq!(stats.mesh_token_requests, 1);
    // The issued mesh token was verified by the resolver's mesh validator, keys fetched once.
    assert_eq!(stats.mesh_validation.verifications, 1);
    assert_eq!(stats.mesh_validation.jwks_fetches, 1);

    let user_jwt = cloud.user_jwt(ALICE_EMAIL).await;
    let users = Validator::builder()
        .trusted_issuer(format!("{}/api", cloud.url()))
        .build()
        .unwrap();
    users.validate(&user_jwt).await.unwrap();
    users.validate(&user_jwt).await.unwrap();
    users.validate(&user_jwt).await.unwrap();
    assert!(users.validate_cached("not.a.token").unwrap().is_err());
    let (signed, signature) = user_jwt.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{signed}.{flipped}{}", signature.get(1..).unwrap());
    let err = users.validate(&tampered).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{err}");
    let v = users.stats();
    assert_eq!(v.jwks_fetches, 1);
    assert_eq!(v.jwks_fetch_failures, 0);
    // The verified-token cache remembers a token from its second verification on.
    assert_eq!((v.verifications, v.cache_hits), (3, 1), "{v:?}");
    assert_eq!(v.failures.get(ErrorKind::JwtInvalid), 2, "{v:?}");

    let manager = cloud.token_manager(RADIOLOGY_GW, ALICE_SANCTUM);
    manager.ensure_token().await.unwrap();
    assert_eq!(manager.stats().renewals, 1);
    assert_eq!(manager.stats().renewal_failures, 0);

    let text = Exposition::new()
        .resolver("analytics", &resolver.stats())
        .validator("users", &users.stats())
        .token_manager("radiology", &manager.stats())
        .render();
    for expected in [
        "runbeam_resolver_hits_total{name=\"analytics\"} 1\n",
        "runbeam_resolver_errors_total{name=\"analytics\",kind=\"NotInMesh\"} 1\n",
        "runbeam_resolver_errors_total{name=\"analytics\",kind=\"NotFound\"} 1\n",
        "runbeam_validator_verifications_total{name=\"analytics:mesh\"} 1\n",
        "runbeam_validator_failures_total{name=\"users\",kind=\"JwtInvalid\"} 2\n",
        "runbeam_token_manager_renewals_total{name=\"radiology\"} 1\n",
        "# TYPE runbeam_resolver_cached_references gauge\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        assert!(
            series.starts_with("runbeam_") && series.ends_with('}'),
            "{line}"
        );
        value.parse::<u64>().expect("an integer value");
    }
}
