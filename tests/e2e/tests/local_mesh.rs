//! Meshes whose provider is `local` (docs/spec.md §2.1, §3.3, §6): two gateways, each with its own
//! configuration and resolver — one holds the private key (or the secret) and the egress and
//! issues mesh tokens, the other holds the public key and the ingress and verifies them. No Cloud
//! is involved: the resolvers' clients point at a closed port, and the one test that mixes a
//! Cloud mesh with a local mesh runs a devcloud.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use runbeam_core::attempt::Attempt;
use runbeam_core::client::Client;
use runbeam_core::config::MeshConfig;
use runbeam_core::resolve::Resolver;
use runbeam_core::storage::{MemoryTokenStore, TokenManager};
use runbeam_core::{Error, ErrorKind};
use runbeam_e2e::*;
use serde_json::{Value, json};

const RESULTS_URL: &str = "https://results.lab.example.com";
const INBOX: &str = "https://results.lab.example.com/inbox";
const SENDER_GW: &str = "analytics-gw-1";
const HS_SECRET: &str = "lab-mesh-secret-of-at-least-32-bytes-0123456789";

/// An RSA key pair as PEM text (PKCS#8 private key, SPKI public key) and the pair itself.
struct RsaKey {
    pair: KeyPair,
    private_pem: String,
    public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn rsa_key() -> RsaKey {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    RsaKey {
        private_pem: pem("PRIVATE KEY", pair.as_der().unwrap().as_ref()),
        public_pem: pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref()),
        pair,
    }
}

/// Writes `text` to `dir/name` with `mode` and returns the path as a TOML string literal.
fn key_file(dir: &TempDir, name: &str, text: &str, mode: u32) -> String {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let path = dir.path().join(name);
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    serde_json::to_string(path.to_str().unwrap()).unwrap()
}

/// The sending gateway's configuration: an egress and the mesh, with `keys`.
fn sender_config(keys: &str) -> MeshConfig {
    MeshConfig::from_toml(&format!(
        r#"
        [pipelines.research.mesh.egress.to-results]
        mode = "mesh"

        [mesh.lab]
        type = "http"
        provider = "local"
        id = "lab-mesh"
        egress = ["to-results"]
        {keys}
        "#
    ))
    .unwrap()
}

/// The receiving gateway's configuration: the ingress, the mesh with `keys`, and a second
/// local mesh `other` with `other_keys`.
fn receiver_config(keys: &str, other_keys: &str) -> MeshConfig {
    MeshConfig::from_toml(&format!(
        r#"
        [pipelines.results.mesh.ingress.results]
        urls = ["{RESULTS_URL}"]
        mode = "mesh"

        [mesh.lab]
        type = "http"
        provider = "local"
        id = "lab-mesh"
        ingress = ["results"]
        {keys}

        [mesh.other]
        type = "http"
        provider = "local"
        ingress = ["results"]
        {other_keys}
        "#
    ))
    .unwrap()
}

/// A resolver that cannot reach any Cloud: its client points at a closed port, its token
/// manager has no token and no credential.
fn offline_resolver(gateway: &str, config: MeshConfig) -> Result<Resolver, Error> {
    let nowhere = Client::new("http://127.0.0.1:9").unwrap();
    let manager = TokenManager::new(gateway, Arc::new(MemoryTokenStore::new()), nowhere.clone());
    let resolver = Resolver::builder(config, nowhere, Arc::new(manager)).build()?;
    resolver.validate_startup()?;
    Ok(resolver)
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn rs256(key: &KeyPair, header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The claims of a good `lab-mesh` token for [`INBOX`], issued now.
fn lab_claims() -> Value {
    let now = now();
    json!({
        "iss": "local:lab-mesh", "sub": format!("gateway:{SENDER_GW}"), "aud": "mesh:lab-mesh",
        "jti": "forged", "mesh_id": "lab-mesh", "dest_url": INBOX, "iat": now, "exp": now + 300,
    })
}

async fn refused(receiver: &Resolver, token: &str, mesh: &str, kind: ErrorKind, needle: &str) {
    let err = receiver
        .verify_mesh_token(token, mesh, Some(INBOX))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.message().contains(needle), "{needle:?} not in: {err}");
}

#[tokio::test]
async fn rs256_one_gateway_issues_the_other_verifies_without_a_cloud() {
    let dir = TempDir::new("local-mesh-rs256");
    let (lab, other) = (rsa_key(), rsa_key());
    let private = key_file(&dir, "lab.key", &lab.private_pem, 0o600);
    let public = key_file(&dir, "lab.pub", &lab.public_pem, 0o644);
    let other_public = key_file(&dir, "other.pub", &other.public_pem, 0o644);
    let sender = offline_resolver(
        SENDER_GW,
        sender_config(&format!("jwt_private_key_path = {private}")),
    )
    .unwrap();
    let receiver = offline_resolver(
        "results-gw-1",
        receiver_config(
            &format!("jwt_public_key_path = {public}"),
            &format!("jwt_public_key_path = {other_public}"),
        ),
    )
    .unwrap();

    let issued = sender.mesh_token("lab", INBOX).await.unwrap();
    let token = issued.token.token.expose().to_string();
    assert_eq!(issued.mesh, "lab");
    assert_eq!(issued.token.mesh_id, "lab-mesh");
    assert_eq!(header_of(&token)["alg"], "RS256");
    let claims = &issued.claims;
    assert_eq!(claims.iss.as_deref(), Some("local:lab-mesh"));
    assert_eq!(claims.sub.as_deref(), Some("gateway:analytics-gw-1"));
    assert!(claims.aud.contains("mesh:lab-mesh"));
    assert_eq!(claims.exp - claims.iat.unwrap(), 300);
    // Cached like a Cloud-issued token: the same token until 30 s before its expiry.
    let again = sender.mesh_token("lab-mesh", INBOX).await.unwrap();
    assert!(
        Arc::ptr_eq(&issued, &again),
        "answered from the cache, by name or id"
    );
    assert_eq!(sender.cached_mesh_tokens(), 1);
    assert_eq!(sender.stats().mesh_token_requests, 1);
    // A destination that is not an http(s) URL is refused before anything is signed.
    for bad in [
        "ftp://results.lab.example.com/x",
        "not a url",
        "file:///etc/passwd",
    ] {
        let err = sender.mesh_token("lab", bad).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}: {err}");
    }

    // The receiving gateway verifies, by mesh name or id, under the URL it serves.
    let verified = receiver
        .verify_mesh_token(
            &token,
            "lab",
            Some("https://results.lab.example.com/inbox/42"),
        )
        .await
        .unwrap();
    assert_eq!(verified.sub.as_deref(), Some("gateway:analytics-gw-1"));
    assert_eq!(verified.jti, claims.jti);
    assert!(
        receiver
            .verify_mesh_token(&token, "lab-mesh", Some(INBOX))
            .await
            .is_ok()
    );
    // Never a fetch: the cached and attempt forms answer at once.
    assert!(matches!(
        receiver.verify_mesh_token_cached(&token, "lab", Some(INBOX)),
        Some(Ok(_))
    ));
    assert!(matches!(
        receiver.verify_mesh_token_attempt(&token, "lab", Some(INBOX)),
        Attempt::Ready(Ok(_))
    ));
    // The sender verifies its own tokens with its private key's public half.
    assert!(
        sender
            .verify_mesh_token(&token, "lab", Some(INBOX))
            .await
            .is_ok()
    );
    // The receiver holds only the public key: it cannot issue.
    let err = receiver.mesh_token("lab", INBOX).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("jwt_private_key_path"), "{err}");

    // Refusals. Wrong mesh: another local mesh's issuer; a mesh this gateway does not have.
    refused(
        &receiver,
        &token,
        "other",
        ErrorKind::UntrustedIssuer,
        "not 'local:other'",
    )
    .await;
    refused(
        &receiver,
        &token,
        "nope",
        ErrorKind::NotInMesh,
        "not an enabled mesh",
    )
    .await;
    // Wrong destination.
    for url in [
        "https://results.lab.example.com/admin",
        "https://results.lab.example.com/inboxes",
        "http://results.lab.example.com/inbox",
        "https://evil.example/inbox",
    ] {
        let err = receiver
            .verify_mesh_token(&token, "lab", Some(url))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{url}");
        assert!(err.message().contains("does not cover"), "{err}");
    }
    // Expired (beyond the 60 s leeway), signed with the right key.
    let header = header_of(&token);
    let mut expired = lab_claims();
    expired["iat"] = json!(now() - 900);
    expired["exp"] = json!(now() - 600);
    let expired = rs256(&lab.pair, &header, &expired);
    refused(&receiver, &expired, "lab", ErrorKind::JwtExpired, "expired").await;
    // Tampered: another destination in the payload, the signature kept.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut widened = lab_claims();
    widened["dest_url"] = json!("https://results.lab.example.com/");
    parts[1] = URL_SAFE_NO_PAD.encode(widened.to_string());
    refused(
        &receiver,
        &parts.join("."),
        "lab",
        ErrorKind::JwtInvalid,
        "signature",
    )
    .await;
    // Wrong algorithm: HS256 keyed with the public key (PEM), `none`, and an RS256 token
    // signed by another mesh's key — under its own kid and under this mesh's kid.
    let confused = json!({"alg": "HS256", "typ": "JWT", "kid": header["kid"]});
    let confused = hs256(lab.public_pem.as_bytes(), &confused, &lab_claims());
    refused(
        &receiver,
        &confused,
        "lab",
        ErrorKind::JwtInvalid,
        "verifies RS256 only",
    )
    .await;
    let none = json!({"alg": "none", "kid": header["kid"]});
    let none = format!("{}.", signing_input(&none, &lab_claims()));
    refused(
        &receiver,
        &none,
        "lab",
        ErrorKind::JwtInvalid,
        "not accepted",
    )
    .await;
    let theirs = rs256(&other.pair, &header, &lab_claims());
    refused(
        &receiver,
        &theirs,
        "lab",
        ErrorKind::JwtInvalid,
        "signature",
    )
    .await;
    let other_token = {
        let other_private = key_file(&dir, "other.key", &other.private_pem, 0o600);
        let other_sender = offline_resolver(
            SENDER_GW,
            sender_config(&format!("jwt_private_key_path = {other_private}")),
        )
        .unwrap();
        let t = other_sender.mesh_token("lab", INBOX).await.unwrap();
        t.token.token.expose().to_string()
    };
    refused(
        &receiver,
        &other_token,
        "lab",
        ErrorKind::JwtInvalid,
        "another mesh's key",
    )
    .await;
    // ... which the other mesh's public key, configured on `other`, would accept were the
    // claims its own: the key decides nothing about the mesh.
    refused(
        &receiver,
        &other_token,
        "other",
        ErrorKind::UntrustedIssuer,
        "issuer",
    )
    .await;

    // No key material anywhere a person might look.
    let debug = format!("{sender:?} {receiver:?} {issued:?} {:?}", sender.config());
    assert!(!debug.contains(&token));
    for line in lab.private_pem.lines().filter(|l| !l.starts_with("---")) {
        assert!(!debug.contains(line));
    }
}

#[tokio::test]
async fn hs256_with_a_shared_secret() {
    let secret = format!("jwt_secret = \"{HS_SECRET}\"");
    let sender = offline_resolver(SENDER_GW, sender_config(&secret)).unwrap();
    let receiver = offline_resolver(
        "results-gw-1",
        receiver_config(
            &secret,
            "jwt_secret = \"another-secret-of-at-least-32-bytes-abcdef\"",
        ),
    )
    .unwrap();
    let issued = sender.mesh_token("lab", INBOX).await.unwrap();
    let token = issued.token.token.expose();
    let header = header_of(token);
    assert_eq!(header["alg"], "HS256");
    let verified = receiver
        .verify_mesh_token(token, "lab", Some(INBOX))
        .await
        .unwrap();
    assert_eq!(verified.iss.as_deref(), Some("local:lab-mesh"));
    assert_eq!(verified.sub.as_deref(), Some("gateway:analytics-gw-1"));
    // The receiver issues too: the secret does both.
    let back = receiver.mesh_token("lab", INBOX).await.unwrap();
    assert!(
        sender
            .verify_mesh_token(back.token.token.expose(), "lab", Some(INBOX))
            .await
            .is_ok()
    );

    refused(
        &receiver,
        token,
        "other",
        ErrorKind::UntrustedIssuer,
        "issuer",
    )
    .await;
    let mut expired = lab_claims();
    expired["exp"] = json!(now() - 600);
    let expired = hs256(HS_SECRET.as_bytes(), &header, &expired);
    refused(&receiver, &expired, "lab", ErrorKind::JwtExpired, "expired").await;
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut widened = lab_claims();
    widened["mesh_id"] = json!("lab-mesh-2");
    parts[1] = URL_SAFE_NO_PAD.encode(widened.to_string());
    refused(
        &receiver,
        &parts.join("."),
        "lab",
        ErrorKind::JwtInvalid,
        "signature",
    )
    .await;
    // The other mesh's secret under this mesh's kid; an RS256 token.
    let theirs = hs256(
        b"another-secret-of-at-least-32-bytes-abcdef",
        &header,
        &lab_claims(),
    );
    refused(
        &receiver,
        &theirs,
        "lab",
        ErrorKind::JwtInvalid,
        "signature",
    )
    .await;
    let rsa = rsa_key();
    let rs = rs256(
        &rsa.pair,
        &json!({"alg": "RS256", "kid": header["kid"]}),
        &lab_claims(),
    );
    refused(
        &receiver,
        &rs,
        "lab",
        ErrorKind::JwtInvalid,
        "verifies HS256 only",
    )
    .await;

    let debug = format!("{sender:?} {receiver:?} {issued:?} {:?}", receiver.config());
    assert!(
        !debug.contains(HS_SECRET) && !debug.contains(token),
        "{debug}"
    );
}

/// The `Config` error of building a sending resolver with `keys`; it names `path` and `file`.
fn build_error(keys: &str, path: &str, file: &str) -> Error {
    let err = offline_resolver(SENDER_GW, sender_config(keys)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(
        err.message()
            .starts_with(&format!("{path}: the key file '")),
        "{err}"
    );
    assert!(err.message().contains(file.trim_matches('"')), "{err}");
    err
}

#[tokio::test]
async fn bad_key_files_and_key_settings_are_config_errors_naming_the_path() {
    let dir = TempDir::new("local-mesh-bad-keys");
    let lab = rsa_key();
    let private = "mesh.lab.jwt_private_key_path";
    let public = "mesh.lab.jwt_public_key_path";

    let missing = serde_json::to_string(dir.path().join("missing.key").to_str().unwrap()).unwrap();
    let err = build_error(
        &format!("jwt_private_key_path = {missing}"),
        private,
        &missing,
    );
    assert!(err.message().contains("cannot be opened"), "{err}");
    let err = build_error(
        &format!("jwt_public_key_path = {missing}"),
        public,
        &missing,
    );
    assert_eq!(err.problems()[0].path(), public);

    let not_pem = key_file(&dir, "notes.key", "hello\n", 0o600);
    let err = build_error(
        &format!("jwt_private_key_path = {not_pem}"),
        private,
        &not_pem,
    );
    assert!(err.message().contains("does not hold a PEM key"), "{err}");

    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let ec_key = key_file(
        &dir,
        "ec.key",
        &pem("PRIVATE KEY", ec.to_pkcs8v1().unwrap().as_ref()),
        0o600,
    );
    let err = build_error(
        &format!("jwt_private_key_path = {ec_key}"),
        private,
        &ec_key,
    );
    assert!(err.message().contains("holds an EC key"), "{err}");
    let ec_pub = key_file(
        &dir,
        "ec.pub",
        &pem("PUBLIC KEY", ec.public_key().as_der().unwrap().as_ref()),
        0o644,
    );
    let err = build_error(&format!("jwt_public_key_path = {ec_pub}"), public, &ec_pub);
    assert!(err.message().contains("holds an EC key"), "{err}");

    let readable = key_file(&dir, "readable.key", &lab.private_pem, 0o644);
    let err = build_error(
        &format!("jwt_private_key_path = {readable}"),
        private,
        &readable,
    );
    assert!(err.message().contains("(mode 0644)"), "{err}");
    assert!(err.message().contains("chmod 600"), "{err}");

    // Settings: a secret and a key pair; a short secret (validation, with every problem).
    let good = key_file(&dir, "good.key", &lab.private_pem, 0o600);
    let config = sender_config(&format!(
        "jwt_private_key_path = {good}\njwt_secret = \"{HS_SECRET}\""
    ));
    let problems = config.validate();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path(), "mesh.lab.jwt_secret");
    assert!(problems[0].message().contains("not both"));
    let err = offline_resolver(SENDER_GW, config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let short = sender_config("jwt_secret = \"short-secret\"");
    let problems = short.validate();
    assert!(
        problems[0].message().contains("12 bytes long"),
        "{problems:?}"
    );

    // None of it shows key material or the secret.
    for err in [
        build_error(
            &format!("jwt_private_key_path = {readable}"),
            private,
            &readable,
        ),
        offline_resolver(SENDER_GW, short).unwrap_err(),
    ] {
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("short-secret") && !text.contains(HS_SECRET),
            "{text}"
        );
        for line in lab.private_pem.lines().filter(|l| !l.starts_with("---")) {
            assert!(!text.contains(line), "{text}");
        }
    }
}

#[tokio::test]
async fn reload_reads_the_keys_again() {
    let dir = TempDir::new("local-mesh-reload");
    let (first, second) = (rsa_key(), rsa_key());
    let first_key = key_file(&dir, "first.key", &first.private_pem, 0o600);
    let sender = offline_resolver(
        SENDER_GW,
        sender_config(&format!("jwt_private_key_path = {first_key}")),
    )
    .unwrap();
    let old = sender.mesh_token("lab", INBOX).await.unwrap();

    // The same key again: the cached token survives the reload.
    sender
        .reload(sender_config(&format!(
            "jwt_private_key_path = {first_key}"
        )))
        .unwrap();
    let same = sender.mesh_token("lab", INBOX).await.unwrap();
    assert!(Arc::ptr_eq(&old, &same));

    // A broken key file: refused, the configuration in use stays.
    let broken = key_file(&dir, "broken.key", "-----BEGIN PRIVATE KEY-----\n", 0o600);
    let err = sender
        .reload(sender_config(&format!("jwt_private_key_path = {broken}")))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(
        err.message()
            .starts_with("mesh.lab.jwt_private_key_path: the key file")
    );
    assert!(Arc::ptr_eq(
        &sender.mesh_token("lab", INBOX).await.unwrap(),
        &old
    ));

    // A new key: tokens of the old one are dropped; the new ones verify with the new key only.
    let second_key = key_file(&dir, "second.key", &second.private_pem, 0o600);
    sender
        .reload(sender_config(&format!(
            "jwt_private_key_path = {second_key}"
        )))
        .unwrap();
    let new = sender.mesh_token("lab", INBOX).await.unwrap();
    assert_ne!(new.token.token.expose(), old.token.token.expose());
    let second_pub = key_file(&dir, "second.pub", &second.public_pem, 0o644);
    let receiver = offline_resolver(
        "results-gw-1",
        receiver_config(&format!("jwt_public_key_path = {second_pub}"), ""),
    )
    .unwrap();
    assert!(
        receiver
            .verify_mesh_token(new.token.token.expose(), "lab", Some(INBOX))
            .await
            .is_ok()
    );
    refused(
        &receiver,
        old.token.token.expose(),
        "lab",
        ErrorKind::JwtInvalid,
        "another mesh's key",
    )
    .await;
    // A local mesh without any key: a clear error at use.
    let err = receiver.mesh_token("other", INBOX).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("has no key"), "{err}");
}

#[tokio::test]
async fn a_gateway_with_a_cloud_mesh_and_a_local_mesh_uses_each_its_way() {
    let cloud = Cloud::start().await;
    let dir = TempDir::new("local-mesh-mixed");
    let lab = rsa_key();
    let private = key_file(&dir, "lab.key", &lab.private_pem, 0o600);
    let text = format!(
        "{}\n[pipelines.lab.mesh.egress.to-results]\n\n[mesh.lab]\ntype = \"http\"\n\
         provider = \"local\"\negress = [\"to-results\"]\njwt_private_key_path = {private}\n",
        include_str!("../../../examples/config/ai-analytics.toml")
    );
    let config = MeshConfig::from_toml(&text)
        .and_then(|c| c.with_provider_api("runbeam", cloud.url()))
        .unwrap();
    let resolver = Resolver::builder(
        config,
        cloud.builder().build().unwrap(),
        cloud.token_manager(ANALYTICS_GW, BOB_SANCTUM),
    )
    .build()
    .unwrap();
    resolver.validate_startup().unwrap();
    cloud.reset_counts().await;
    let local = resolver.mesh_token("lab", INBOX).await.unwrap();
    assert_eq!(local.claims.iss.as_deref(), Some("local:lab"));
    assert_eq!(cloud.count("POST /api/harmony/mesh/token").await, 0);
    assert_eq!(cloud.count("POST /api/harmony/authorize").await, 0);
    let remote = resolver.mesh_token(MESH, DICOM_URL).await.unwrap();
    assert_eq!(
        remote.claims.iss.as_deref(),
        Some(format!("{}/api", cloud.url()).as_str())
    );
    assert_eq!(cloud.count("POST /api/harmony/mesh/token").await, 1);
    // Each mesh verifies its own tokens only.
    assert!(
        resolver
            .verify_mesh_token(local.token.token.expose(), "lab", Some(INBOX))
            .await
            .is_ok()
    );
    let err = resolver
        .verify_mesh_token(remote.token.token.expose(), "lab", Some(DICOM_URL))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UntrustedIssuer, "{err}");
    let err = resolver
        .verify_mesh_token(local.token.token.expose(), MESH, Some(INBOX))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UntrustedIssuer, "{err}");
}

/// `verify_mesh_token_if_remembered` answers from one look-up what the verifier of each kind of
/// mesh remembers — the same claims `verify_mesh_token_cached` gives, mesh and destination
/// checked again — refuses at once what needs no check (an unknown mesh, a missing header, a
/// token too large), and says `None` (nothing verified) for a token not yet remembered.
#[tokio::test]
async fn verify_mesh_token_if_remembered_answers_remembered_tokens_of_both_kinds() {
    let cloud = Cloud::start().await;
    let dir = TempDir::new("local-mesh-remembered");
    let lab = rsa_key();
    let private = key_file(&dir, "lab.key", &lab.private_pem, 0o600);
    let text = format!(
        "{}\n[pipelines.lab.mesh.egress.to-results]\n\n[mesh.lab]\ntype = \"http\"\n\
         provider = \"local\"\negress = [\"to-results\"]\njwt_private_key_path = {private}\n",
        include_str!("../../../examples/config/ai-analytics.toml")
    );
    let config = MeshConfig::from_toml(&text)
        .and_then(|c| c.with_provider_api("runbeam", cloud.url()))
        .unwrap();
    let resolver = Resolver::builder(
        config,
        cloud.builder().build().unwrap(),
        cloud.token_manager(ANALYTICS_GW, BOB_SANCTUM),
    )
    .build()
    .unwrap();
    resolver.validate_startup().unwrap();
    let local = resolver.mesh_token("lab", INBOX).await.unwrap();
    let remote = resolver.mesh_token(MESH, DICOM_URL).await.unwrap();

    for (token, mesh, url) in [
        (local.token.token.expose(), "lab", INBOX),
        (remote.token.token.expose(), MESH, DICOM_URL),
    ] {
        let header = format!("Bearer {token}");
        // Not remembered yet: a signature check (or a key fetch) is needed.
        assert!(
            resolver
                .verify_mesh_token_if_remembered(token, mesh, Some(url))
                .is_none(),
            "{mesh}"
        );
        assert!(
            resolver
                .verify_mesh_request_if_remembered(Some(&header), mesh, Some(url))
                .is_none(),
            "{mesh}"
        );
        // Remembered from the second verification on.
        resolver
            .verify_mesh_token(token, mesh, Some(url))
            .await
            .unwrap();
        let verified = resolver
            .verify_mesh_token(token, mesh, Some(url))
            .await
            .unwrap();
        let remembered = resolver
            .verify_mesh_token_if_remembered(token, mesh, Some(url))
            .expect("remembered")
            .unwrap();
        assert!(Arc::ptr_eq(&remembered, &verified), "{mesh}");
        let cached = resolver
            .verify_mesh_token_cached(token, mesh, Some(url))
            .unwrap()
            .unwrap();
        assert_eq!(*remembered, *cached, "{mesh}");
        let by_header = resolver
            .verify_mesh_request_if_remembered(Some(&header), mesh, Some(url))
            .expect("remembered")
            .unwrap();
        assert!(Arc::ptr_eq(&by_header, &verified), "{mesh}");
        // The destination and the mesh are checked on a remembered token too.
        let err = resolver
            .verify_mesh_token_if_remembered(token, mesh, Some("https://elsewhere.example/"))
            .expect("refused at once")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{mesh}: {err}");
        let err = resolver
            .verify_mesh_token_if_remembered(token, "no-such-mesh", Some(url))
            .expect("refused at once")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotInMesh, "{err}");
        // Refused at once without a check: a missing header, a token too large.
        let err = resolver
            .verify_mesh_request_if_remembered(None, mesh, Some(url))
            .expect("refused at once")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::JwtInvalid, "{err}");
        let huge = "x".repeat(runbeam_core::jwt::MAX_TOKEN_BYTES + 1);
        assert!(
            resolver
                .verify_mesh_token_if_remembered(&huge, mesh, Some(url))
                .expect("refused at once")
                .is_err()
        );
    }
}
