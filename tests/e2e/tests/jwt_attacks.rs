//! The JWT attack suite (docs/spec.md §4) against runbeam-devcloud's real keys over HTTP:
//! every forgery, confusion and look-alike is refused with a specific error, untrusted
//! issuers cost no network request, and JWKS fetches stay bounded.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use runbeam_core::jwt::{Algorithm, Validator, ValidatorBuilder, parse_bearer};
use runbeam_core::{Error, ErrorKind};
use runbeam_e2e::*;
use serde_json::{Value, json};

const JWKS: &str = "GET /api/.well-known/jwks.json";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
}

fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.').map(str::to_string);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

/// A copy of `token` with its header replaced (the signature no longer matches).
fn with_header(token: &str, header: Value) -> String {
    let (_, p, s) = parts(token);
    format!("{}.{p}.{s}", b64(header.to_string()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Lab {
    cloud: Cloud,
}

impl Lab {
    async fn start() -> Lab {
        Lab {
            cloud: Cloud::start().await,
        }
    }

    fn issuer(&self) -> String {
        self.cloud.dev.api_root()
    }

    fn builder(&self) -> ValidatorBuilder {
        Validator::builder().trusted_issuer(self.issuer())
    }

    fn validator(&self) -> Validator {
        self.builder().build().unwrap()
    }

    /// A token signed by the devcloud with `extra` request members (`claims`, `header`,
    /// `alg`, `ttl_secs`).
    async fn mint(&self, extra: Value) -> String {
        let mut body = json!({"email": ALICE_EMAIL});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = self.cloud.dev_post("jwt", body).await;
        answer["token"].as_str().unwrap().to_string()
    }

    async fn jwks_fetches(&self) -> u64 {
        self.cloud.count(JWKS).await
    }
}

async fn refused(validator: &Validator, token: &str, kind: ErrorKind) -> Error {
    let err = validator.validate(token).await.unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert!(
        token.len() < 8 || !err.to_string().contains(token),
        "errors never quote the token"
    );
    err
}

#[tokio::test]
async fn a_genuine_user_jwt_gives_typed_claims() {
    let lab = Lab::start().await;
    let token = lab.mint(json!({"claims": {"scope": "gateways"}})).await;
    let claims = lab.validator().validate(&token).await.unwrap();
    assert_eq!(claims.iss.as_deref(), Some(lab.issuer().as_str()));
    assert_eq!(
        claims.user.as_ref().unwrap().email.as_deref(),
        Some(ALICE_EMAIL)
    );
    assert_eq!(
        claims.team.as_ref().unwrap().name.as_deref(),
        Some("Radiology Department")
    );
    assert!(claims.exp > now());
    assert_eq!(claims.get_str("scope"), Some("gateways"));
    let all: Value = serde_json::from_str(claims.json()).unwrap();
    assert_eq!(all["scope"], "gateways");
}

#[tokio::test]
async fn unsigned_and_hmac_confusion_tokens_are_refused() {
    let lab = Lab::start().await;
    let validator = lab.validator();
    let genuine = lab.mint(json!({})).await;
    let (h, p, _) = parts(&genuine);
    let kid = unb64(&h)["kid"].clone();

    let none = format!(
        "{}.{p}.",
        b64(json!({"alg": "none", "kid": kid}).to_string())
    );
    let err = refused(&validator, &none, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("never"), "{err}");

    // HS256 "signed" with the public key as the HMAC secret: the classic confusion attack.
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", lab.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = jwks["keys"][0].to_string();
    let header = b64(json!({"alg": "HS256", "kid": kid}).to_string());
    let input = format!("{header}.{p}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    let confused = format!("{input}.{}", b64(tag.as_ref()));
    let err = refused(&validator, &confused, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("HMAC"), "{err}");

    // Case games on the algorithm name do not help either.
    let lower = with_header(&genuine, json!({"alg": "rs256", "kid": kid}));
    refused(&validator, &lower, ErrorKind::JwtInvalid).await;
}

#[tokio::test]
async fn a_missing_kid_is_refused() {
    let lab = Lab::start().await;
    let token = lab.mint(json!({"header": {"kid": null}})).await;
    let err = refused(&lab.validator(), &token, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("kid"), "{err}");
}

#[tokio::test]
async fn a_flood_of_random_kids_fetches_the_jwks_a_bounded_number_of_times() {
    let lab = Lab::start().await;
    let validator = Arc::new(lab.validator());
    let genuine = lab.mint(json!({})).await;
    validator.validate(&genuine).await.unwrap();
    lab.cloud.reset_counts().await;

    let mut tasks = Vec::new();
    for i in 0..300 {
        let token = with_header(
            &genuine,
            json!({"alg": "RS256", "kid": format!("random-{i}")}),
        );
        let validator = Arc::clone(&validator);
        tasks.push(tokio::spawn(async move {
            validator.validate(&token).await.unwrap_err().kind()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), ErrorKind::JwtInvalid);
    }
    // One refresh for the first unknown kid, then the minimum interval (30 s) holds.
    assert!(
        lab.jwks_fetches().await <= 1,
        "{} fetches",
        lab.jwks_fetches().await
    );
    // The genuine token is still fine.
    validator.validate(&genuine).await.unwrap();
}

#[tokio::test]
async fn untrusted_and_look_alike_issuers_are_refused_without_a_request() {
    let lab = Lab::start().await;
    let issuer = lab.issuer(); // http://127.0.0.1:PORT/api
    let authority = issuer
        .trim_start_matches("http://")
        .trim_end_matches("/api");
    let (host, port) = authority.split_once(':').unwrap();
    let other_port: u16 = port.parse::<u16>().unwrap().wrapping_add(1);
    let look_alikes = [
        "https://api.runbeam.io/api".to_string(),
        format!("http://{host}.evil.example:{port}/api"),
        format!("http://{authority}.evil.example/api"),
        format!("http://{authority}@evil.example/api"),
        format!("http://evil@{authority}/api"),
        format!("http://{host}:{other_port}/api"),
        format!("https://{authority}/api"),
        format!("http://{authority}/apix"),
        format!("http://{authority}/api/evil"),
        format!("http://{authority}"),
        String::new(),
    ];
    let validator = lab.validator();
    lab.cloud.reset_counts().await;
    for iss in &look_alikes {
        let token = lab.mint(json!({"claims": {"iss": iss}})).await;
        let err = refused(&validator, &token, ErrorKind::UntrustedIssuer).await;
        assert!(
            err.message().contains("not trusted") || iss.is_empty(),
            "{iss}: {err}"
        );
    }
    let token = lab.mint(json!({"claims": {"iss": null}})).await;
    refused(&validator, &token, ErrorKind::UntrustedIssuer).await;
    assert_eq!(
        lab.jwks_fetches().await,
        0,
        "no JWKS request for an untrusted issuer"
    );

    // The same issuer written differently is still the trusted one.
    let same = format!("HTTP://{authority}/api/");
    let token = lab.mint(json!({"claims": {"iss": same}})).await;
    validator.validate(&token).await.unwrap();
}

#[tokio::test]
async fn time_claims_are_enforced_with_leeway() {
    let lab = Lab::start().await;
    let validator = lab.validator();
    let expired = lab.mint(json!({"ttl_secs": -3600})).await;
    let err = refused(&validator, &expired, ErrorKind::JwtExpired).await;
    assert!(err.message().contains("expired"), "{err}");
    // Inside the default 60 s leeway.
    let just = lab.mint(json!({"ttl_secs": -20})).await;
    validator.validate(&just).await.unwrap();
    let strict = lab.builder().leeway(Duration::ZERO).build().unwrap();
    refused(&strict, &just, ErrorKind::JwtExpired).await;

    let later = now() + 3600;
    let nbf = lab.mint(json!({"claims": {"nbf": later}})).await;
    let err = refused(&validator, &nbf, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("not valid before"), "{err}");
    let iat = lab.mint(json!({"claims": {"iat": later}})).await;
    let err = refused(&validator, &iat, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("future"), "{err}");

    let no_exp = lab.mint(json!({"claims": {"exp": null}})).await;
    let err = refused(&validator, &no_exp, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("exp"), "{err}");
    let text_exp = lab.mint(json!({"claims": {"exp": "tomorrow"}})).await;
    refused(&validator, &text_exp, ErrorKind::JwtInvalid).await;
}

#[tokio::test]
async fn a_cached_token_is_rechecked_for_expiry_on_every_hit() {
    let lab = Lab::start().await;
    let validator = lab.builder().leeway(Duration::ZERO).build().unwrap();
    let token = lab.mint(json!({"ttl_secs": 1})).await;
    validator.validate(&token).await.unwrap();
    assert_eq!(
        validator.cached_tokens(),
        0,
        "kept from the second verification on"
    );
    validator.validate(&token).await.unwrap();
    assert_eq!(validator.cached_tokens(), 1);
    assert!(validator.validate_cached(&token).unwrap().is_ok());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = validator.validate_cached(&token).unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JwtExpired, "{err}");
}

#[tokio::test]
async fn audiences_and_required_claims() {
    let lab = Lab::start().await;
    let validator = lab
        .builder()
        .audience("gateway:radiology-gw-1")
        .required_claim("team")
        .required_claim("scope")
        .build()
        .unwrap();
    let good = lab
        .mint(json!({"claims": {"aud": ["other", "gateway:radiology-gw-1"], "scope": "x"}}))
        .await;
    validator.validate(&good).await.unwrap();
    let wrong = lab
        .mint(json!({"claims": {"aud": "gateway:other", "scope": "x"}}))
        .await;
    let err = refused(&validator, &wrong, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("audience"), "{err}");
    let none = lab.mint(json!({"claims": {"scope": "x"}})).await;
    refused(&validator, &none, ErrorKind::JwtInvalid).await;
    let no_scope = lab
        .mint(json!({"claims": {"aud": "gateway:radiology-gw-1"}}))
        .await;
    let err = refused(&validator, &no_scope, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("'scope'"), "{err}");
    let null_team = lab
        .mint(json!({"claims": {"aud": "gateway:radiology-gw-1", "scope": "x", "team": null}}))
        .await;
    refused(&validator, &null_team, ErrorKind::JwtInvalid).await;
}

#[tokio::test]
async fn tampering_is_detected() {
    let lab = Lab::start().await;
    let validator = lab.validator();
    let token = lab.mint(json!({})).await;
    let (h, p, s) = parts(&token);
    let mut payload = unb64(&p);
    payload["sub"] = json!("someone-else");
    let forged = format!("{h}.{}.{s}", b64(payload.to_string()));
    let err = refused(&validator, &forged, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("signature"), "{err}");

    let mut sig = URL_SAFE_NO_PAD.decode(&s).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{h}.{p}.{}", b64(&sig));
    refused(&validator, &flipped, ErrorKind::JwtInvalid).await;
    let truncated = format!("{h}.{p}.{}", b64(&sig[..100]));
    refused(&validator, &truncated, ErrorKind::JwtInvalid).await;
    // A tampered token never poisons the cache: the genuine one still validates.
    validator.validate(&token).await.unwrap();
}

#[tokio::test]
async fn oversized_and_garbage_tokens_fail_fast() {
    let lab = Lab::start().await;
    let validator = lab.validator();
    lab.cloud.reset_counts().await;
    let big = lab
        .mint(json!({"claims": {"padding": "x".repeat(17 * 1024)}}))
        .await;
    let err = refused(&validator, &big, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("16384"), "{err}");
    let garbage = [
        "",
        ".",
        "..",
        "...",
        "a.b.c",
        "not a jwt",
        "eyJ.eyJ.eyJ",
        "\u{0}\u{1}.x.y",
        "e30.e30.e30",
        "W10.W10.c2ln",
        "🦀.🦀.🦀",
    ];
    for g in garbage {
        refused(&validator, g, ErrorKind::JwtInvalid).await;
    }
    assert_eq!(
        lab.jwks_fetches().await,
        0,
        "malformed tokens cost no request"
    );
}

#[tokio::test]
async fn a_jwks_mixing_ec_and_rsa_keys() {
    let lab = Lab::start().await;
    let es = lab.mint(json!({"alg": "ES256"})).await;
    let rs = lab.mint(json!({})).await;
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", lab.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["RSA", "EC"]);

    let rs_only = lab.validator();
    rs_only.validate(&rs).await.unwrap();
    let err = refused(&rs_only, &es, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("ES256"), "{err}");

    let both = lab
        .builder()
        .algorithms([Algorithm::Rs256, Algorithm::Es256])
        .build()
        .unwrap();
    both.validate(&rs).await.unwrap();
    let claims = both.validate(&es).await.unwrap();
    assert_eq!(
        claims.user.as_ref().unwrap().email.as_deref(),
        Some(ALICE_EMAIL)
    );
    // An RSA token relabelled ES256 with the EC key's kid does not verify.
    let ec_kid = unb64(&parts(&es).0)["kid"].clone();
    let relabelled = with_header(&rs, json!({"alg": "ES256", "kid": ec_kid}));
    refused(&both, &relabelled, ErrorKind::JwtInvalid).await;
    let rsa_kid = unb64(&parts(&rs).0)["kid"].clone();
    let cross = with_header(&es, json!({"alg": "ES256", "kid": rsa_kid}));
    refused(&both, &cross, ErrorKind::JwtInvalid).await;
}

#[tokio::test]
async fn key_rotation_new_kid_accepted_removed_key_rejected_after_ttl() {
    let lab = Lab::start().await;
    let validator = lab
        .builder()
        .jwks_ttl(Duration::from_millis(800))
        .min_refresh_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let first = lab.mint(json!({})).await;
    validator.validate(&first).await.unwrap();

    lab.cloud.dev_post("rotate-key", json!({})).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = lab.mint(json!({})).await;
    lab.cloud.reset_counts().await;
    validator.validate(&second).await.unwrap();
    assert_eq!(
        lab.jwks_fetches().await,
        1,
        "the new kid triggered one refresh"
    );
    validator.validate(&first).await.unwrap();

    // A second rotation drops the first key from the JWKS; within the TTL the old keys are
    // still in use, after it the first token is refused.
    lab.cloud.dev_post("rotate-key", json!({})).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let err = refused(&validator, &first, ErrorKind::JwtInvalid).await;
    assert!(err.message().contains("kid"), "{err}");
    validator.validate(&second).await.unwrap();
}

#[tokio::test]
async fn mesh_tokens_are_checked_for_mesh_and_destination() {
    let lab = Lab::start().await;
    let gateway = lab.cloud.gateway(BOB_SANCTUM, ANALYTICS_GW).await;
    let dest = format!("{DICOM_URL}/studies");
    let issued = gateway.mesh_token(MESH, &dest).await.unwrap();
    let token = issued.token.expose();
    let validator = lab.validator();

    let claims = validator
        .verify_mesh_token(token, MESH, Some(&format!("{dest}/1.2.3")))
        .await
        .unwrap();
    assert_eq!(claims.get_str("mesh_id"), Some(MESH));
    assert!(claims.sub.as_deref().unwrap().starts_with("gateway:"));
    validator
        .verify_mesh_token(token, MESH, None)
        .await
        .unwrap();
    validator
        .verify_mesh_token(token, MESH, Some(&dest))
        .await
        .unwrap();

    for (mesh, destination) in [
        ("other-mesh", Some(dest.clone())),
        (MESH, Some("https://evil.example/studies".to_string())),
        (MESH, Some(format!("{DICOM_URL}/studiesx"))),
        (MESH, Some(DICOM_URL.to_string())),
        (
            MESH,
            Some("http://dicom.radiology.example.com/studies".to_string()),
        ),
    ] {
        let err = validator
            .verify_mesh_token(token, mesh, destination.as_deref())
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::JwtInvalid,
            "{mesh} {destination:?}: {err}"
        );
    }
    // A user JWT is not a mesh token.
    let user = lab.mint(json!({})).await;
    let err = validator
        .verify_mesh_token(&user, MESH, None)
        .await
        .unwrap_err();
    assert!(err.message().contains("mesh"), "{err}");
}

#[tokio::test]
async fn jwks_endpoint_down_slow_or_junk() {
    let lab = Lab::start().await;
    let token = lab.mint(json!({})).await;
    let path = "/api/.well-known/jwks.json";

    lab.cloud
        .fault(json!({"path": path, "status": 503, "count": 10}))
        .await;
    let err = lab.validator().validate(&token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError, "{err}");
    assert!(err.message().contains("jwks.json"), "{err}");
    lab.cloud.dev_delete("faults").await;

    lab.cloud
        .fault(json!({"path": path, "malformed_body": true, "count": 10}))
        .await;
    let err = lab.validator().validate(&token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    lab.cloud.dev_delete("faults").await;

    lab.cloud
        .fault(json!({"path": path, "latency_ms": 5000, "count": 10}))
        .await;
    let slow = lab
        .builder()
        .deadline(Duration::from_millis(500))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = slow.validate(&token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the deadline holds"
    );
    lab.cloud.dev_delete("faults").await;

    // A failed fetch is not retried on every token: the minimum interval holds.
    lab.cloud
        .fault(json!({"path": path, "status": 500, "count": 100}))
        .await;
    let validator = lab.validator();
    lab.cloud.reset_counts().await;
    for _ in 0..20 {
        refused(&validator, &token, ErrorKind::ServerError).await;
    }
    assert!(
        lab.jwks_fetches().await <= 3,
        "{}",
        lab.jwks_fetches().await
    );
    lab.cloud.dev_delete("faults").await;
}

#[tokio::test]
async fn last_good_keys_serve_while_refreshes_fail_until_max_stale() {
    let lab = Lab::start().await;
    let validator = lab
        .builder()
        .jwks_ttl(Duration::from_millis(500))
        .min_refresh_interval(Duration::from_millis(100))
        .max_stale(Duration::from_millis(2000))
        .cache_capacity(0)
        .build()
        .unwrap();
    let token = lab.mint(json!({})).await;
    validator.validate(&token).await.unwrap();
    lab.cloud
        .fault(json!({"path": "/api/.well-known/jwks.json", "status": 503, "count": 1000}))
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    validator
        .validate(&token)
        .await
        .expect("stale keys still serve");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let err = refused(&validator, &token, ErrorKind::ServerError).await;
    assert!(err.message().contains("maximum staleness"), "{err}");
    lab.cloud.dev_delete("faults").await;
}

#[tokio::test]
async fn concurrent_cold_validations_fetch_the_jwks_once() {
    let lab = Lab::start().await;
    let token = lab.mint(json!({})).await;
    let validator = Arc::new(lab.builder().cache_capacity(0).build().unwrap());
    lab.cloud.reset_counts().await;
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let v = Arc::clone(&validator);
            let t = token.clone();
            tokio::spawn(async move { v.validate(&t).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(lab.jwks_fetches().await, 1);
    assert!(validator.validate_cached(&token).is_some());
}

#[tokio::test]
async fn trust_must_be_configured() {
    let err = Validator::builder().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        Validator::builder()
            .trusted_issuer("http://10.1.2.3/api")
            .build()
            .is_err()
    );
    assert!(
        Validator::builder()
            .jwks_url("ftp://x/jwks")
            .build()
            .is_err()
    );
    assert!(
        Validator::builder()
            .trusted_issuer("https://x.example/api")
            .algorithms([])
            .build()
            .is_err()
    );
    // A pinned JWKS URL alone is trust too; the issuer is then not restricted.
    let lab = Lab::start().await;
    let pinned = Validator::builder()
        .jwks_url(format!("{}/.well-known/jwks.json", lab.issuer()))
        .build()
        .unwrap();
    let token = lab
        .mint(json!({"claims": {"iss": "https://anything.example"}}))
        .await;
    pinned.validate(&token).await.unwrap();
    assert_eq!(parse_bearer(&format!("Bearer {token}")).unwrap(), token);
}

#[tokio::test]
async fn devcloud_mints_many_distinct_tokens_at_once() {
    let lab = Lab::start().await;
    let answer = lab
        .cloud
        .dev_post("jwt", json!({"email": ALICE_EMAIL, "count": 5}))
        .await;
    let tokens: Vec<&str> = answer["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tokens.len(), 5);
    let validator = lab.validator();
    let mut jtis = std::collections::HashSet::new();
    for token in tokens {
        let claims = validator.validate(token).await.unwrap();
        jtis.insert(claims.jti.clone().unwrap());
    }
    assert_eq!(jtis.len(), 5, "every token has its own jti");
}
