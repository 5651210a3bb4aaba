//! Local meshes: issuing, verifying, refusals, key files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};

use super::*;
use crate::config::MeshConfig;

const SECRET: &str = "0123456789abcdef0123456789abcdef-local-mesh";
const DEST: &str = "https://results.example.com/inbox";

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// An RSA key pair as PEM: (PKCS#8 private key, SPKI public key).
fn rsa_pair() -> (String, String) {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let private = pem("PRIVATE KEY", pair.as_der().unwrap().as_ref());
    let public = pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref());
    (private, public)
}

/// Two RSA key pairs, generated once for all tests.
fn keys() -> &'static [(String, String); 2] {
    static KEYS: OnceLock<[(String, String); 2]> = OnceLock::new();
    KEYS.get_or_init(|| [rsa_pair(), rsa_pair()])
}

/// A directory removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("runbeam-local-mesh-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    /// Writes `name` with `mode` (owner-only for private keys) and returns its path.
    fn file(&self, name: &str, text: &str, mode: u32) -> String {
        let path = self.0.join(name);
        write(&path, text.as_bytes(), mode);
        path.to_str().unwrap().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    std::io::Write::write_all(&mut options.open(path).unwrap(), bytes).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

/// A `local`-provider mesh called `name` with the TOML `keys` lines.
fn mesh(name: &str, keys: &str) -> Result<Option<LocalMesh>> {
    let text = format!("[mesh.{name}]\ntype = \"http\"\nprovider = \"local\"\n{keys}\n");
    let config = MeshConfig::from_toml(&text).unwrap();
    let mesh = config.mesh(name).unwrap();
    assert!(mesh.local_key_problems().is_empty());
    LocalMesh::load(mesh, (60, Vec::new(), 100))
}

fn loaded(name: &str, keys: &str) -> LocalMesh {
    mesh(name, keys).unwrap().expect("keys configured")
}

fn toml_str(path: &str) -> String {
    serde_json::to_string(path).unwrap()
}

fn private_mesh(dir: &Dir, name: &str, which: usize) -> LocalMesh {
    let file = dir.file(&format!("{name}-{which}.key"), &keys()[which].0, 0o600);
    loaded(name, &format!("jwt_private_key_path = {}", toml_str(&file)))
}

fn public_mesh(dir: &Dir, name: &str, which: usize) -> LocalMesh {
    let file = dir.file(&format!("{name}-{which}.pub"), &keys()[which].1, 0o644);
    loaded(name, &format!("jwt_public_key_path = {}", toml_str(&file)))
}

fn hs_mesh(name: &str, secret: &str) -> LocalMesh {
    loaded(name, &format!("jwt_secret = \"{secret}\""))
}

fn claims_of(mesh_id: &str, now: i64) -> Value {
    json!({
        "iss": format!("local:{mesh_id}"), "sub": "gateway:gw", "aud": format!("mesh:{mesh_id}"),
        "jti": "j", "mesh_id": mesh_id, "dest_url": DEST, "iat": now, "exp": now + 300,
    })
}

fn refused(result: Result<Arc<Claims>>, kind: ErrorKind, needle: &str) {
    let err = result.expect_err("refused");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.message().contains(needle), "{needle:?} not in: {err}");
}

#[test]
fn an_rs256_mesh_issues_tokens_shaped_like_the_clouds_and_verifies_them() {
    let dir = Dir::new();
    let sender = private_mesh(&dir, "imaging", 0);
    let (token, claims) = sender.issue("gateway:analytics-gw-1", DEST).unwrap();
    assert_eq!(token.mesh_id, "imaging");
    let now = unix_now();
    assert_eq!(claims.iss.as_deref(), Some("local:imaging"));
    assert_eq!(claims.sub.as_deref(), Some("gateway:analytics-gw-1"));
    assert_eq!(claims.aud, crate::jwt::Audience::One("mesh:imaging".into()));
    assert_eq!(claims.mesh_id.as_deref(), Some("imaging"));
    assert_eq!(claims.dest_url.as_deref(), Some(DEST));
    let iat = claims.iat.unwrap();
    assert!((now - 5..=now + 5).contains(&iat));
    assert_eq!(claims.exp - iat, LOCAL_MESH_TOKEN_LIFETIME_SECS);
    assert_eq!(token.expires_at.unix_timestamp(), claims.exp);
    assert_eq!(
        claims.jti.as_deref().map(str::len),
        Some(22),
        "128 random bits"
    );
    let again = sender.issue("gateway:analytics-gw-1", DEST).unwrap().1;
    assert_ne!(again.jti, claims.jti, "a new jti every time");

    // The header names RS256 and the key's thumbprint.
    let header = token.token.expose().split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], sender.verifying_kid());

    // The private key verifies through its public half; the public key alone too.
    let at_sender = sender.verify(token.token.expose(), Some(DEST)).unwrap();
    assert_eq!(*at_sender, *claims);
    let receiver = public_mesh(&dir, "imaging", 0);
    assert_eq!(receiver.verifying_kid(), sender.verifying_kid());
    let verified = receiver
        .verify(
            token.token.expose(),
            Some("https://results.example.com/inbox/1"),
        )
        .unwrap();
    assert_eq!(verified.sub.as_deref(), Some("gateway:analytics-gw-1"));
    // Without a destination the destination check is skipped, as for Cloud tokens.
    assert!(receiver.verify(token.token.expose(), None).is_ok());

    // A gateway with only the public key verifies and cannot issue.
    let err = receiver.issue("gateway:x", DEST).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("jwt_private_key_path"), "{err}");
}

#[test]
fn an_hs256_mesh_issues_and_verifies_with_its_secret() {
    let a = hs_mesh("lab", SECRET);
    let b = hs_mesh("lab", SECRET);
    assert_eq!(
        a.verifying_kid(),
        b.verifying_kid(),
        "the kid follows the secret"
    );
    let (token, claims) = a.issue("gateway:gw-a", DEST).unwrap();
    let header = token.token.expose().split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert_eq!(
        *b.verify(token.token.expose(), Some(DEST)).unwrap(),
        *claims
    );

    let other = hs_mesh("lab", "another-secret-another-secret-another");
    assert_ne!(other.verifying_kid(), a.verifying_kid());
    refused(
        other.verify(token.token.expose(), Some(DEST)),
        ErrorKind::JwtInvalid,
        "verifies with the key",
    );
    // The other secret's signature under this secret's kid: the signature fails.
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": a.verifying_kid()});
    let forged = other.sign_raw(&header, &claims_of("lab", unix_now()));
    refused(
        a.verify(&forged, Some(DEST)),
        ErrorKind::JwtInvalid,
        "signature does not verify",
    );
    // Neither the secret nor anything derived from it shows in Debug.
    let debug = format!("{a:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains("0123456789abcdef"),
        "{debug}"
    );
    assert!(debug.contains("HS256"));
}

#[test]
fn the_algorithm_is_the_configurations_never_the_tokens() {
    let dir = Dir::new();
    let rsa = private_mesh(&dir, "m", 0);
    let hs = hs_mesh("m", SECRET);
    let now = unix_now();
    // RS256 token to an HS256 mesh, HS256 token to an RS256 mesh.
    let rs_token = rsa.issue("gateway:gw", DEST).unwrap().0;
    refused(
        hs.verify(rs_token.token.expose(), Some(DEST)),
        ErrorKind::JwtInvalid,
        "'RS256' is not accepted: mesh 'm' (provider local) verifies HS256 only",
    );
    let hs_token = hs.issue("gateway:gw", DEST).unwrap().0;
    refused(
        rsa.verify(hs_token.token.expose(), Some(DEST)),
        ErrorKind::JwtInvalid,
        "verifies RS256 only",
    );
    // The classic confusion: HS256 signed with the RSA public key (as PEM, or as DER) as the
    // secret, under the RSA key's kid.
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": rsa.verifying_kid()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims_of("m", now).to_string())
    );
    let public_pem = keys()[0].1.as_bytes();
    let public_der = parse_pem(public_pem).unwrap().der;
    for secret in [public_pem, public_der.as_slice()] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let tag = hmac::sign(&key, input.as_bytes());
        let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        refused(
            rsa.verify(&forged, Some(DEST)),
            ErrorKind::JwtInvalid,
            "verifies RS256 only",
        );
    }
    // `none`, in any case, with an empty or any signature.
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "kid": rsa.verifying_kid()});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims_of("m", now).to_string())
        );
        for token in [format!("{input}."), format!("{input}.c2ln")] {
            for mesh in [&rsa, &hs] {
                assert_eq!(
                    mesh.verify(&token, None).unwrap_err().kind(),
                    ErrorKind::JwtInvalid,
                    "{alg}"
                );
            }
        }
    }
    // Other RSA algorithms are not RS256 either.
    let ps = json!({"alg": "PS256", "kid": rsa.verifying_kid()});
    refused(
        rsa.verify(&rsa.sign_raw(&ps, &claims_of("m", now)), None),
        ErrorKind::JwtInvalid,
        "'PS256' is not accepted",
    );
}

#[test]
fn claims_are_checked_as_for_cloud_tokens() {
    let dir = Dir::new();
    let mesh = private_mesh(&dir, "m", 0);
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": mesh.verifying_kid()});
    let now = unix_now();
    let sign = |claims: Value| mesh.sign_raw(&header, &claims);
    let with = |key: &str, value: Value| {
        let mut claims = claims_of("m", now);
        claims[key] = value;
        sign(claims)
    };
    assert!(mesh.verify(&sign(claims_of("m", now)), Some(DEST)).is_ok());
    refused(
        mesh.verify(&with("exp", json!(now - 120)), None),
        ErrorKind::JwtExpired,
        "expired",
    );
    // Within the leeway (60 s here) an expired token still passes.
    assert!(mesh.verify(&with("exp", json!(now - 30)), None).is_ok());
    refused(
        mesh.verify(&with("nbf", json!(now + 600)), None),
        ErrorKind::JwtInvalid,
        "not valid before",
    );
    refused(
        mesh.verify(&with("iat", json!(now + 600)), None),
        ErrorKind::JwtInvalid,
        "in the future",
    );
    let mut no_exp = claims_of("m", now);
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(
        mesh.verify(&sign(no_exp), None),
        ErrorKind::JwtInvalid,
        "no 'exp'",
    );
    refused(
        mesh.verify(&with("aud", json!("mesh:other")), None),
        ErrorKind::JwtInvalid,
        "not a mesh token for mesh 'm'",
    );
    refused(
        mesh.verify(&with("mesh_id", json!("other")), None),
        ErrorKind::JwtInvalid,
        "'mesh_id' claim is 'other'",
    );
    refused(
        mesh.verify(&with("iss", json!("local:other")), None),
        ErrorKind::UntrustedIssuer,
        "not 'local:m'",
    );
    refused(
        mesh.verify(&with("iss", json!("http://127.0.0.1:1/api")), None),
        ErrorKind::UntrustedIssuer,
        "issuer",
    );
    refused(
        mesh.verify(
            &sign(claims_of("m", now)),
            Some("https://results.example.com/other"),
        ),
        ErrorKind::JwtInvalid,
        "does not cover",
    );
    refused(
        mesh.verify(
            &sign(claims_of("m", now)),
            Some("https://evil.example/inbox"),
        ),
        ErrorKind::JwtInvalid,
        "does not cover",
    );
    // Tampering with the payload breaks the signature.
    let token = sign(claims_of("m", now));
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut claims = claims_of("m", now);
    claims["dest_url"] = json!("https://evil.example/");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    refused(
        mesh.verify(&parts.join("."), None),
        ErrorKind::JwtInvalid,
        "signature does not verify",
    );
    // Over the size limit, before any decoding.
    let huge = format!("{token}{}", "A".repeat(crate::jwt::MAX_TOKEN_BYTES));
    refused(mesh.verify(&huge, None), ErrorKind::JwtInvalid, "limit");
    // The other key's signature: under its own kid, and under this mesh's kid.
    let other = private_mesh(&dir, "m", 1);
    let theirs = json!({"alg": "RS256", "typ": "JWT", "kid": other.verifying_kid()});
    refused(
        mesh.verify(&other.sign_raw(&theirs, &claims_of("m", now)), None),
        ErrorKind::JwtInvalid,
        "another mesh's key",
    );
    refused(
        mesh.verify(&other.sign_raw(&header, &claims_of("m", now)), None),
        ErrorKind::JwtInvalid,
        "signature does not verify",
    );
}

#[test]
fn required_claims_of_the_resolvers_validator_apply() {
    let text =
        format!("[mesh.m]\ntype = \"http\"\nprovider = \"local\"\njwt_secret = \"{SECRET}\"\n");
    let config = MeshConfig::from_toml(&text).unwrap();
    let strict = LocalMesh::load(
        config.mesh("m").unwrap(),
        (60, vec!["source_team".into()], 0),
    )
    .unwrap()
    .unwrap();
    let token = strict.issue("gateway:gw", DEST).unwrap().0;
    refused(
        strict.verify(token.token.expose(), None),
        ErrorKind::JwtInvalid,
        "lacks the required claim 'source_team'",
    );
}

#[test]
fn verified_tokens_are_remembered_from_the_second_verification() {
    let dir = Dir::new();
    let mesh = private_mesh(&dir, "m", 0);
    let token = mesh.issue("gateway:gw", DEST).unwrap().0;
    for _ in 0..3 {
        assert!(mesh.verify(token.token.expose(), Some(DEST)).is_ok());
    }
    assert_eq!(mesh.cached_tokens(), 1);
    // A hit still checks the mesh rules.
    refused(
        mesh.verify(token.token.expose(), Some("https://evil.example/")),
        ErrorKind::JwtInvalid,
        "does not cover",
    );
    // Same keys and settings: the same mesh (a reload keeps it and its cache).
    assert!(mesh.same_as(&private_mesh(&dir, "m", 0)));
    assert!(!mesh.same_as(&private_mesh(&dir, "m", 1)));
    assert!(!mesh.same_as(&private_mesh(&dir, "n", 0)));
    assert!(!mesh.same_as(&public_mesh(&dir, "m", 0)), "it cannot issue");
}

/// The `Config` error of loading `keys`, checked to name `toml_path` and `file`, and to hold no
/// key material.
fn key_error_of(settings: &str, toml_path: &str, file: &str) -> String {
    let err = mesh("m", settings).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    let message = err.message().to_string();
    assert!(
        message.starts_with(&format!("{toml_path}: the key file '")),
        "{message}"
    );
    assert!(message.contains(file), "{message}");
    assert_eq!(err.problems().len(), 1);
    assert_eq!(err.problems()[0].path(), toml_path);
    for (private, public) in keys() {
        for line in private
            .lines()
            .chain(public.lines())
            .filter(|l| !l.starts_with("---"))
        {
            assert!(!message.contains(line), "key material in: {message}");
        }
    }
    message
}

#[test]
fn bad_key_files_are_clear_config_errors_naming_the_path() {
    let dir = Dir::new();
    let private_path = "mesh.m.jwt_private_key_path";
    let public_path = "mesh.m.jwt_public_key_path";
    let private = |file: &str| format!("jwt_private_key_path = {}", toml_str(file));
    let public = |file: &str| format!("jwt_public_key_path = {}", toml_str(file));

    let missing = dir.0.join("missing.key").to_str().unwrap().to_string();
    let m = key_error_of(&private(&missing), private_path, &missing);
    assert!(m.contains("cannot be opened"), "{m}");
    let m = key_error_of(&public(&missing), public_path, &missing);
    assert!(m.contains("cannot be opened"), "{m}");

    let text = dir.file("notes.txt", "not a key at all\n", 0o600);
    let m = key_error_of(&private(&text), private_path, &text);
    assert!(m.contains("does not hold a PEM key"), "{m}");
    let binary = dir.0.join("key.der");
    write(&binary, &[0x30, 0x82, 0xff, 0x00, 0xc3, 0x28], 0o600);
    let binary = binary.to_str().unwrap().to_string();
    let m = key_error_of(&private(&binary), private_path, &binary);
    assert!(m.contains("does not hold a PEM key"), "{m}");

    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let ec_private = dir.file(
        "ec.key",
        &pem("PRIVATE KEY", ec.to_pkcs8v1().unwrap().as_ref()),
        0o600,
    );
    let m = key_error_of(&private(&ec_private), private_path, &ec_private);
    assert!(
        m.contains("holds an EC key; RS256 mesh tokens need an RSA key"),
        "{m}"
    );
    let ec_public = dir.file(
        "ec.pub",
        &pem("PUBLIC KEY", ec.public_key().as_der().unwrap().as_ref()),
        0o644,
    );
    let m = key_error_of(&public(&ec_public), public_path, &ec_public);
    assert!(m.contains("holds an EC key"), "{m}");
    let sec1 = dir.file("sec1.key", &pem("EC PRIVATE KEY", &[0x30, 0x00]), 0o600);
    let m = key_error_of(&private(&sec1), private_path, &sec1);
    assert!(m.contains("holds an EC key"), "{m}");

    // Keys in the wrong place.
    let (rsa_private, rsa_public) = &keys()[0];
    let public_as_private = dir.file("swapped.key", rsa_public, 0o600);
    let m = key_error_of(
        &private(&public_as_private),
        private_path,
        &public_as_private,
    );
    assert!(m.contains("holds a public key"), "{m}");
    let private_as_public = dir.file("swapped.pub", rsa_private, 0o600);
    let m = key_error_of(&public(&private_as_public), public_path, &private_as_public);
    assert!(m.contains("holds a private key"), "{m}");

    // A damaged body, an encrypted key, a missing end line.
    let broken = dir.file("broken.key", &rsa_private.replace('M', "!"), 0o600);
    let m = key_error_of(&private(&broken), private_path, &broken);
    assert!(m.contains("not valid base64"), "{m}");
    let truncated: String = rsa_private.lines().take(5).collect::<Vec<_>>().join("\n");
    let truncated = dir.file("truncated.key", &truncated, 0o600);
    let m = key_error_of(&private(&truncated), private_path, &truncated);
    assert!(m.contains("no '-----END PRIVATE KEY-----' line"), "{m}");
    let garbage = dir.file("garbage.key", &pem("PRIVATE KEY", b"not der"), 0o600);
    let m = key_error_of(&private(&garbage), private_path, &garbage);
    assert!(m.contains("does not hold a valid RSA private key"), "{m}");
    let legacy = rsa_private.replacen(
        "\n",
        "\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n",
        1,
    );
    let legacy = dir.file("legacy.key", &legacy, 0o600);
    let m = key_error_of(&private(&legacy), private_path, &legacy);
    assert!(m.contains("encrypted"), "{m}");
    let pkcs8 = dir.file("enc.key", &pem("ENCRYPTED PRIVATE KEY", b"x"), 0o600);
    let m = key_error_of(&private(&pkcs8), private_path, &pkcs8);
    assert!(m.contains("encrypted"), "{m}");

    // A directory is not a key file.
    let dir_path = dir.0.to_str().unwrap().to_string();
    let m = key_error_of(&private(&dir_path), private_path, &dir_path);
    assert!(m.contains("not a regular file"), "{m}");
}

#[cfg(unix)]
#[test]
fn a_private_key_others_may_read_is_refused_a_public_key_is_not() {
    let dir = Dir::new();
    let (private, public) = &keys()[0];
    for mode in [0o640, 0o644, 0o604, 0o660, 0o606] {
        let file = dir.file("open.key", private, mode);
        let m = key_error_of(
            &format!("jwt_private_key_path = {}", toml_str(&file)),
            "mesh.m.jwt_private_key_path",
            &file,
        );
        assert!(m.contains(&format!("(mode {mode:04o})")), "{m}");
        assert!(m.contains("chmod 600"), "{m}");
    }
    for mode in [0o600, 0o400] {
        let file = dir.file("closed.key", private, mode);
        assert!(mesh("m", &format!("jwt_private_key_path = {}", toml_str(&file))).is_ok());
    }
    let file = dir.file("world.pub", public, 0o644);
    assert!(mesh("m", &format!("jwt_public_key_path = {}", toml_str(&file))).is_ok());
}

#[test]
fn pkcs1_keys_load_too_and_give_the_same_kid() {
    let dir = Dir::new();
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    // PKCS#1 RSAPublicKey DER is what `public_key().as_ref()` holds.
    let pkcs1_public = dir.file(
        "rsa.pub",
        &pem("RSA PUBLIC KEY", pair.public_key().as_ref()),
        0o644,
    );
    let spki_public = dir.file(
        "spki.pub",
        &pem("PUBLIC KEY", pair.public_key().as_der().unwrap().as_ref()),
        0o644,
    );
    let a = loaded(
        "m",
        &format!("jwt_public_key_path = {}", toml_str(&pkcs1_public)),
    );
    let b = loaded(
        "m",
        &format!("jwt_public_key_path = {}", toml_str(&spki_public)),
    );
    assert_eq!(a.verifying_kid(), b.verifying_kid());
    assert!(a.same_as(&b));
}

#[test]
fn a_mesh_without_keys_has_no_local_state() {
    assert!(mesh("m", "").unwrap().is_none());
}
