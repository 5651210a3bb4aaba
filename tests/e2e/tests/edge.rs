//! The HTTP edge (runbeam_core::edge, Resolver::outbound, the inbound checks) against
//! runbeam-devcloud over real HTTP, with a request that really crosses the mesh: ai-analytics'
//! resolver builds the request for radiology-dept's DICOMweb ingress, whose URL (set in the
//! devcloud as Alice) is a small HTTP server here that verifies the mesh token with
//! radiology-dept's resolver, as its gateway would. Then every refusal a client can get, with
//! its status, headers and body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use runbeam_core::client::Client;
use runbeam_core::config::MeshConfig;
use runbeam_core::edge::{
    CONTENT_TYPE, RETRY_AFTER_TRANSIENT_SECS, Refusal, Stage, WWW_AUTHENTICATE_INVALID_TOKEN,
    join_path,
};
use runbeam_core::jwt::{Claims, Validator};
use runbeam_core::resolve::{Outbound, Resolver};
use runbeam_core::storage::{Credential, MemoryTokenStore, TokenManager};
use runbeam_core::{Error, ErrorKind, Result, Secret};
use runbeam_e2e::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RESOLVE: &str = "GET /api/harmony/resources/resolve";
const RESOLVE_PATH: &str = "/api/harmony/resources/resolve";
const MESH_TOKEN: &str = "POST /api/harmony/mesh/token";
/// The seeded DICOMweb ingress's id.
const DICOMWEB_ID: &str = "01JDW14DR9GPQY77ZXYYK596NG";
/// Port 9 (discard) on loopback: nothing listens, a request fails at once.
const DEAD: &str = "http://127.0.0.1:9";

/// radiology-dept's ingress gateway, reduced to its mesh guard: serves any path of its own
/// address to a caller whose mesh token verifies for the served URL (its address followed by
/// the request target, never the Host header), and answers a refusal otherwise. Its DICOMweb
/// API is under `/dicomweb`: that is the ingress URL registered in the Cloud.
struct Ingress {
    /// `http://127.0.0.1:PORT`.
    origin: String,
    /// `<origin>/dicomweb`, the ingress URL.
    url: String,
    /// What each request that got through saw: (served URL, the caller's team).
    served: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Ingress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Ingress {
    async fn start(receiver: Resolver) -> Ingress {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        let url = format!("{origin}/dicomweb");
        let served = Arc::new(Mutex::new(Vec::new()));
        let (public, log) = (origin.clone(), Arc::clone(&served));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (receiver, public, log) = (receiver.clone(), public.clone(), Arc::clone(&log));
                tokio::spawn(async move { serve(stream, &receiver, &public, &log).await });
            }
        });
        Ingress {
            origin,
            url,
            served,
            task,
        }
    }

    fn served(&self) -> Vec<(String, String)> {
        self.served.lock().unwrap().clone()
    }
}

/// One HTTP/1.1 request on `stream`: the request target and the `Authorization` header go to
/// the mesh guard exactly as received.
async fn serve(
    mut stream: TcpStream,
    receiver: &Resolver,
    public: &str,
    log: &Mutex<Vec<(String, String)>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let target = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or_default()
        .to_string();
    let authorization = lines.take_while(|l| !l.is_empty()).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_string())
    });
    let verified = match join_path(public, &target) {
        Ok(served) => receiver
            .verify_mesh_request_attempt(authorization.as_deref(), MESH, Some(&served))
            .finish()
            .await
            .map(|claims| (served, claims)),
        Err(e) => Err(e),
    };
    let (status, headers, body) = match verified {
        Ok((served, claims)) => {
            let team = claims
                .get_str("source_team")
                .unwrap_or_default()
                .to_string();
            log.lock().unwrap().push((served, team.clone()));
            let body = json!({"studies": ["1.2.840.113619.2.55.3"], "caller": team});
            (200, Vec::new(), body.to_string())
        }
        Err(e) => {
            let refusal = Refusal::from_error(&e, Stage::MeshToken);
            let headers = refusal.headers();
            (refusal.status(), headers, refusal.body().to_string())
        }
    };
    let mut answer = format!(
        "HTTP/1.1 {status} Answer\r\ncontent-type: {CONTENT_TYPE}\r\ncontent-length: {}\r\n\
         connection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        answer.push_str(&format!("{name}: {value}\r\n"));
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    stream.write_all(answer.as_bytes()).await.ok();
    stream.shutdown().await.ok();
}

/// radiology-dept's resolver (it verifies mesh tokens for `imaging-integration`).
fn receiver(cloud: &Cloud) -> Resolver {
    Resolver::builder(
        cloud.radiology_config(),
        cloud.builder().build().unwrap(),
        cloud.token_manager(RADIOLOGY_GW, ALICE_SANCTUM),
    )
    .build()
    .unwrap()
}

/// Points the seeded DICOMweb ingress at `url`, as Alice.
async fn register_ingress(cloud: &Cloud, url: &str) {
    let response = reqwest::Client::new()
        .patch(format!("{}/api/ingresses/{DICOMWEB_ID}", cloud.url()))
        .bearer_auth(ALICE_SANCTUM)
        .json(&json!({"urls": [url], "protocol": "http"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// A devcloud and radiology-dept's ingress registered as the DICOMweb ingress's URL.
async fn mesh() -> (Cloud, Ingress) {
    let cloud = Cloud::start().await;
    let ingress = Ingress::start(receiver(&cloud)).await;
    register_ingress(&cloud, &ingress.url).await;
    (cloud, ingress)
}

/// Every request the devcloud served since the last reset (`/_dev` is not counted).
async fn requests(cloud: &Cloud) -> u64 {
    let counters: Value = reqwest::get(format!("{}/_dev/counters", cloud.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    counters["counts"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum()
}

/// Sends `out` as the host's HTTP client would: status, the named header, body.
async fn send(out: &Outbound) -> (u16, Value) {
    let [(name, value)] = out.headers();
    let response = reqwest::Client::new()
        .get(out.url())
        .header(name, value)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The refusal of a failed `answer` at `stage`.
fn refused<T: std::fmt::Debug>(answer: Result<T>, stage: Stage) -> (Error, Refusal) {
    let e = answer.unwrap_err();
    let refusal = Refusal::from_error(&e, stage);
    (e, refusal)
}

fn assert_401(refusal: &Refusal) {
    assert_eq!(refusal.status(), 401, "{refusal:?}");
    assert_eq!(
        refusal.headers(),
        vec![(
            "www-authenticate",
            WWW_AUTHENTICATE_INVALID_TOKEN.to_string()
        )]
    );
    assert_eq!(refusal.body(), r#"{"error":"invalid_token"}"#);
}

#[tokio::test]
async fn an_outbound_request_crosses_the_mesh_and_the_next_one_needs_no_cloud() {
    let (cloud, ingress) = mesh().await;
    let sender = cloud.analytics_resolver(300).build().unwrap();

    let attempt = sender.outbound_attempt(DICOMWEB, "/studies?modality=CT");
    assert!(attempt.is_pending(), "nothing cached yet");
    let out = attempt.finish().await.unwrap();
    assert_eq!(out.url(), format!("{}/studies?modality=CT", ingress.url));
    assert_eq!(out.base_url(), ingress.url);
    assert_eq!(out.mesh(), MESH);
    assert_eq!(out.reference(), DICOMWEB);
    assert!(!out.is_stale());
    let token = out.authorization().strip_prefix("Bearer ").unwrap();
    assert_eq!(out.headers(), [("authorization", out.authorization())]);
    let shown = format!("{out:?}");
    assert!(
        !shown.contains(token) && shown.contains("Bearer ***"),
        "{shown}"
    );

    // The receiving resolver accepts the header for the URL being served, and reads who calls.
    let claims = receiver(&cloud)
        .verify_mesh_request_attempt(Some(out.authorization()), MESH, Some(out.url()))
        .finish()
        .await
        .unwrap();
    assert_eq!(claims.get_str("source_team"), Some("ai-analytics"));
    assert_eq!(claims.dest_url.as_deref(), Some(out.base_url()));
    assert_eq!(
        out.token_expires_at().unix_timestamp(),
        claims.exp,
        "the token's own expiry"
    );

    // Over HTTP, through radiology-dept's guard.
    let (status, body) = send(&out).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["caller"], "ai-analytics");
    assert_eq!(
        ingress.served(),
        [(out.url().to_string(), "ai-analytics".to_string())]
    );

    // The next request, to another path: resolution and mesh token from the cache, no request
    // to the Cloud at all.
    cloud.reset_counts().await;
    let cached = sender
        .outbound_cached(DICOMWEB, "/studies/1.2.3/series")
        .expect("answered without I/O")
        .unwrap();
    assert_eq!(
        cached.url(),
        format!("{}/studies/1.2.3/series", ingress.url)
    );
    assert_eq!(
        cached.authorization(),
        out.authorization(),
        "one token per resource"
    );
    let attempt = sender.outbound_attempt(DICOMWEB, "/studies");
    assert!(!attempt.is_pending());
    assert_eq!(requests(&cloud).await, 0, "no request to the Cloud");
    let (status, _) = send(&cached).await;
    assert_eq!(status, 200);
    let stats = sender.stats();
    assert_eq!((stats.upstream_requests, stats.mesh_token_requests), (1, 1));
}

#[tokio::test]
async fn references_outside_the_mesh_and_bad_paths_are_refused_without_the_cloud() {
    let (cloud, _ingress) = mesh().await;
    let sender = cloud.analytics_resolver(300).build().unwrap();
    sender.outbound(DICOMWEB, "/studies").await.unwrap();
    cloud.reset_counts().await;

    for (reference, kind) in [
        ("runbeam.acme.ingress.name.api", ErrorKind::NotInMesh),
        (
            "runbeam.radiology-dept.ingress.name.pacs",
            ErrorKind::NotInMesh,
        ),
        (
            "elsewhere.acme.ingress.name.api",
            ErrorKind::UnknownProvider,
        ),
    ] {
        let (e, refusal) = refused(
            sender.outbound(reference, "/studies").await,
            Stage::Outbound,
        );
        assert_eq!(e.kind(), kind, "{e}");
        assert_eq!(
            (refusal.status(), refusal.body()),
            (403, r#"{"error":"not_in_mesh"}"#)
        );
        assert!(refusal.headers().is_empty());
        // Known without I/O, the same answer.
        let cached = sender
            .outbound_cached(reference, "/studies")
            .expect("known now");
        assert_eq!(cached.unwrap_err().kind(), kind);
    }
    let (e, refusal) = refused(
        sender.outbound("runbeam..ingress", "/").await,
        Stage::Outbound,
    );
    assert_eq!(e.kind(), ErrorKind::InvalidReference);
    assert_eq!(refusal.status(), 400);

    for path in [
        "studies",
        "//evil.test/studies",
        "/../admin",
        "/studies/../../admin",
        "/studies%2f..%2f..%2fadmin",
        "/%252e%252e/admin",
        "/..;/admin",
        "/studies#x",
        "/studies\r\nx-injected: 1",
    ] {
        let (e, refusal) = refused(sender.outbound(DICOMWEB, path).await, Stage::Outbound);
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{path:?}: {e}");
        assert!(
            !e.message().contains("admin"),
            "the path is not quoted: {e}"
        );
        assert_eq!(
            (refusal.status(), refusal.body()),
            (400, r#"{"error":"invalid_request"}"#)
        );
        let cached = sender.outbound_cached(DICOMWEB, path).expect("known now");
        assert_eq!(cached.unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
    assert_eq!(requests(&cloud).await, 0, "no refusal asked the Cloud");
    let errors = sender.stats().errors;
    assert!(errors.get(ErrorKind::InvalidArgument) >= 18, "{errors:?}");
}

#[tokio::test]
async fn a_reference_the_cloud_does_not_know_is_404() {
    let cloud = Cloud::start().await;
    let sender = cloud.analytics_resolver(300).build().unwrap();
    let (e, refusal) = refused(sender.outbound(RETIRED, "/x").await, Stage::Outbound);
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(
        (refusal.status(), refusal.body()),
        (404, r#"{"error":"not_found"}"#)
    );
}

#[tokio::test]
async fn the_cloud_failing_with_no_stale_answer_is_503_with_its_retry_after() {
    let (cloud, _ingress) = mesh().await;
    let sender = cloud.analytics_resolver(300).build().unwrap();
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 503, "retry_after": 120, "count": 10}))
        .await;
    let (e, refusal) = refused(sender.outbound(DICOMWEB, "/studies").await, Stage::Outbound);
    assert_eq!(e.kind(), ErrorKind::ServerError, "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(refusal.status(), 503);
    assert_eq!(
        refusal.retry_after_secs(),
        Some(120),
        "the Cloud's own value"
    );
    assert_eq!(refusal.headers(), vec![("retry-after", "120".to_string())]);
    assert_eq!(refusal.body(), r#"{"error":"unavailable"}"#);
    // A binding that only kept the kind and the Retry-After gets the same answer.
    assert_eq!(
        Refusal::for_kind(e.kind(), Stage::Outbound, e.retry_after()),
        refusal
    );

    // A bad path is still the client's, whatever the Cloud does.
    let (_, refusal) = refused(sender.outbound(DICOMWEB, "/a%2fb").await, Stage::Outbound);
    assert_eq!(refusal.status(), 400);

    // Once the Cloud answers again, so does the resolver.
    cloud.dev_delete("faults").await;
    sender.outbound(DICOMWEB, "/studies").await.unwrap();
}

#[tokio::test]
async fn the_cloud_unreachable_with_no_stale_answer_is_503() {
    let cloud = Cloud::start().await;
    let dead = Client::builder(DEAD)
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let manager = Arc::new(
        TokenManager::new(
            ANALYTICS_GW,
            Arc::new(MemoryTokenStore::new()),
            dead.clone(),
        )
        .credential(Credential::Token(Secret::new(BOB_SANCTUM.to_string()))),
    );
    let config = cloud
        .analytics_config(300)
        .with_provider_api("runbeam", DEAD)
        .unwrap();
    let sender = Resolver::builder(config, dead, manager).build().unwrap();
    let (e, refusal) = refused(sender.outbound(DICOMWEB, "/studies").await, Stage::Outbound);
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.retry_after_secs(), Some(RETRY_AFTER_TRANSIENT_SECS));
    assert_eq!(refusal.body(), r#"{"error":"unavailable"}"#);
    // The refusals that need no Cloud stay what they are.
    let (_, refusal) = refused(
        sender.outbound("runbeam.acme.ingress.name.api", "/").await,
        Stage::Outbound,
    );
    assert_eq!(refusal.status(), 403);
    let (_, refusal) = refused(sender.outbound(DICOMWEB, "/a%2fb").await, Stage::Outbound);
    assert_eq!(refusal.status(), 400);
}

#[tokio::test]
async fn a_stale_answer_is_still_sent_when_the_cloud_fails_after_the_ttl() {
    let (cloud, ingress) = mesh().await;
    let sender = cloud.analytics_resolver(1).build().unwrap();
    let fresh = sender.outbound(DICOMWEB, "/studies").await.unwrap();
    assert!(!fresh.is_stale());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        sender.outbound_cached(DICOMWEB, "/studies").is_none(),
        "past the TTL a request is needed"
    );
    cloud.reset_counts().await;
    cloud
        .fault(json!({"path": RESOLVE_PATH, "status": 503, "count": 100}))
        .await;
    let stale = sender.outbound(DICOMWEB, "/studies?limit=1").await.unwrap();
    assert!(stale.is_stale(), "served from the stale resolution");
    assert_eq!(stale.base_url(), fresh.base_url());
    assert_eq!(
        stale.authorization(),
        fresh.authorization(),
        "the cached mesh token"
    );
    assert!(cloud.count(RESOLVE).await >= 1);
    assert_eq!(cloud.count(MESH_TOKEN).await, 0);
    let (status, _) = send(&stale).await;
    assert_eq!(status, 200, "the partner still serves it");
    assert_eq!(sender.stats().stale_served, 1);
    assert_eq!(ingress.served().len(), 1);

    // The Cloud gone altogether: the same.
    cloud.dev.shutdown().await;
    let stale = sender.outbound(DICOMWEB, "/studies").await.unwrap();
    assert!(stale.is_stale());
}

#[tokio::test]
async fn the_cached_path_follows_a_reload() {
    let (cloud, _ingress) = mesh().await;
    let sender = cloud.analytics_resolver(300).build().unwrap();
    sender.outbound(DICOMWEB, "/studies").await.unwrap();
    assert!(
        sender
            .outbound_cached(DICOMWEB, "/studies")
            .is_some_and(|a| a.is_ok())
    );

    // The mesh no longer lists the reference: refused at once, even though it was cached.
    let without = include_str!("../../../examples/config/ai-analytics.toml")
        .replace(&format!("  \"{DICOMWEB}\",\n"), "");
    let without = MeshConfig::from_toml(&without)
        .and_then(|c| c.with_provider_api("runbeam", cloud.url()))
        .unwrap();
    sender.reload(without).unwrap();
    let answer = sender
        .outbound_cached(DICOMWEB, "/studies")
        .expect("known now");
    let (e, refusal) = refused(answer, Stage::Outbound);
    assert_eq!(e.kind(), ErrorKind::NotInMesh);
    assert_eq!(refusal.status(), 403);
    assert!(!sender.outbound_attempt(DICOMWEB, "/studies").is_pending());

    // Listed again: resolved again, then cached again.
    sender.reload(cloud.analytics_config(300)).unwrap();
    let out = sender
        .outbound_attempt(DICOMWEB, "/studies")
        .finish()
        .await
        .unwrap();
    assert!(out.url().ends_with("/studies"));
    assert!(
        sender
            .outbound_cached(DICOMWEB, "/studies")
            .is_some_and(|a| a.is_ok())
    );
}

/// A user JWT from the devcloud: `ttl_secs` and `claims` as `/_dev/jwt` takes them.
async fn user_jwt(cloud: &Cloud, ttl_secs: i64, claims: Value) -> String {
    let minted = cloud
        .dev_post(
            "jwt",
            json!({"email": "bob@analytics.example.com", "ttl_secs": ttl_secs, "claims": claims}),
        )
        .await;
    minted["token"].as_str().unwrap().to_string()
}

async fn authenticate(validator: &Validator, header: Option<&str>) -> Result<Arc<Claims>> {
    validator.authenticate_attempt(header).finish().await
}

#[tokio::test]
async fn user_jwts_at_the_edge_are_401_or_their_claims() {
    let cloud = Cloud::start().await;
    let validator = Validator::builder()
        .trusted_issuer(cloud.dev.api_root())
        .build()
        .unwrap();
    let good = user_jwt(&cloud, 600, json!({})).await;
    let header = format!("Bearer {good}");
    let attempt = validator.authenticate_attempt(Some(&header));
    assert!(attempt.is_pending(), "the keys are fetched first");
    let claims = attempt.finish().await.unwrap();
    assert_eq!(
        claims.user.as_ref().and_then(|u| u.email.as_deref()),
        Some("bob@analytics.example.com")
    );
    // Then without I/O, any spelling of the scheme.
    let again = format!("bearer  {good}");
    match validator.authenticate_attempt(Some(&again)) {
        runbeam_core::attempt::Attempt::Ready(answer) => {
            assert_eq!(answer.unwrap().sub, claims.sub)
        }
        runbeam_core::attempt::Attempt::Pending(_) => panic!("a cached validation needs no I/O"),
    }

    let expired = format!("Bearer {}", user_jwt(&cloud, -3600, json!({})).await);
    let untrusted = format!(
        "Bearer {}",
        user_jwt(&cloud, 600, json!({"iss": "https://evil.example/api"})).await
    );
    let mut tampered = good.clone();
    tampered.pop();
    let tampered = format!("Bearer {tampered}");
    for (header, kind) in [
        (None, ErrorKind::JwtInvalid),
        (Some(""), ErrorKind::JwtInvalid),
        (Some("Basic Ym9iOnB3"), ErrorKind::JwtInvalid),
        (Some("Bearer"), ErrorKind::JwtInvalid),
        (Some("Bearer a b"), ErrorKind::JwtInvalid),
        (Some("Bearer not.a.jwt"), ErrorKind::JwtInvalid),
        (Some(tampered.as_str()), ErrorKind::JwtInvalid),
        (Some(expired.as_str()), ErrorKind::JwtExpired),
        (Some(untrusted.as_str()), ErrorKind::UntrustedIssuer),
    ] {
        let (e, refusal) = refused(authenticate(&validator, header).await, Stage::UserToken);
        assert_eq!(e.kind(), kind, "{header:?}: {e}");
        assert_401(&refusal);
        if let Some(header) = header.filter(|h| h.len() > 20) {
            assert!(!e.message().contains(header), "the header is never quoted");
        }
    }

    // Keys that cannot be fetched say nothing about the client's token: 503, not 401.
    let unreachable = Validator::builder()
        .trusted_issuer(format!("{DEAD}/api"))
        .build()
        .unwrap();
    let token = user_jwt(&cloud, 600, json!({"iss": format!("{DEAD}/api")})).await;
    let (e, refusal) = refused(
        authenticate(&unreachable, Some(&format!("Bearer {token}"))).await,
        Stage::UserToken,
    );
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.retry_after_secs(), Some(RETRY_AFTER_TRANSIENT_SECS));
}

#[tokio::test]
async fn the_mesh_guard_refuses_tokens_for_another_mesh_or_destination_and_user_jwts() {
    let (cloud, ingress) = mesh().await;
    let sender = cloud.analytics_resolver(300).build().unwrap();
    let out = sender.outbound(DICOMWEB, "/studies").await.unwrap();
    let guard = receiver(&cloud);
    let real = guard
        .verify_mesh_request_attempt(Some(out.authorization()), MESH, Some(out.url()))
        .finish()
        .await
        .unwrap();

    // Tokens minted with the Cloud's key: the real token's mesh claims, then one changed.
    let mesh_claims = json!({
        "aud": real.aud.iter().collect::<Vec<_>>(),
        "mesh_id": real.mesh_id,
        "dest_url": real.dest_url,
    });
    let with = |change: Value| {
        let mut claims = mesh_claims.clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        claims
    };
    let lookalike = user_jwt(&cloud, 600, mesh_claims.clone()).await;
    let other_mesh = user_jwt(
        &cloud,
        600,
        with(json!({"aud": ["mesh:other-mesh"], "mesh_id": "other-mesh"})),
    )
    .await;
    let other_destination = user_jwt(
        &cloud,
        600,
        with(json!({"dest_url": "https://pacs.radiology.example.com"})),
    )
    .await;
    let user = user_jwt(&cloud, 600, json!({})).await;
    let expired = user_jwt(&cloud, -3600, mesh_claims.clone()).await;

    // The control: the same claims as the real token are accepted.
    let served = format!("{}/studies", ingress.url);
    let accepted = guard
        .verify_mesh_request_attempt(Some(&format!("Bearer {lookalike}")), MESH, Some(&served))
        .finish()
        .await;
    assert!(accepted.is_ok(), "{accepted:?}");

    for (token, what) in [
        (other_mesh.as_str(), "a mesh token for another mesh"),
        (
            other_destination.as_str(),
            "a mesh token for another destination",
        ),
        (user.as_str(), "a user JWT"),
        (expired.as_str(), "an expired mesh token"),
    ] {
        let header = format!("Bearer {token}");
        let answer = guard
            .verify_mesh_request_attempt(Some(&header), MESH, Some(&served))
            .finish()
            .await;
        let (e, refusal) = refused(answer, Stage::MeshToken);
        assert!(
            matches!(e.kind(), ErrorKind::JwtInvalid | ErrorKind::JwtExpired),
            "{what}: {e}"
        );
        assert_401(&refusal);
    }
    // The real token, for a URL it was not issued for.
    let answer = guard
        .verify_mesh_request_attempt(
            Some(out.authorization()),
            MESH,
            Some("https://pacs.radiology.example.com/studies"),
        )
        .finish()
        .await;
    assert_401(&refused(answer, Stage::MeshToken).1);
    // No header.
    let answer = guard
        .verify_mesh_request_attempt(None, MESH, Some(&served))
        .finish()
        .await;
    assert_401(&refused(answer, Stage::MeshToken).1);
    // A mesh the guard does not know (a configuration mistake, or a mesh since disabled).
    let answer = guard
        .verify_mesh_request_attempt(Some(out.authorization()), "no-such-mesh", None)
        .finish()
        .await;
    assert_eq!(refused(answer, Stage::MeshToken).1.status(), 403);

    // The same answers over HTTP, from radiology-dept's ingress.
    let http = reqwest::Client::new();
    for header in [
        None,
        Some("Basic Ym9iOnB3".to_string()),
        Some(format!("Bearer {other_mesh}")),
        Some(format!("Bearer {other_destination}")),
        Some(format!("Bearer {user}")),
    ] {
        let mut request = http.get(format!("{}/studies", ingress.url));
        if let Some(header) = &header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(
            response.headers()["www-authenticate"],
            WWW_AUTHENTICATE_INVALID_TOKEN
        );
        assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"error":"invalid_token"}"#
        );
    }
    // The real token on a path of the gateway outside the ingress it was issued for.
    let response = http
        .get(format!("{}/admin", ingress.origin))
        .header("authorization", out.authorization())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // A path the server could read as another one, with the real token: the client's
    // mistake, 400.
    let response = http
        .get(format!("{}/studies/%2e%2e;/admin", ingress.url))
        .header("authorization", out.authorization())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"error":"invalid_request"}"#
    );
    assert!(ingress.served().is_empty(), "nothing got through");
}
