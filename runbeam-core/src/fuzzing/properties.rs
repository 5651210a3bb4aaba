//! Property tests on every parser that sees attacker, server or disk bytes: arbitrary bytes and
//! mutations of valid inputs give an error (or, for a mutation that changed nothing that
//! matters, the original answer) and never a panic. The fuzz targets in `fuzz/` explore the
//! same entry points for longer; these run in `make test` on the stable toolchain.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{AUDIENCE, ISSUER, JwtHarness, KID, RESPONSE_KINDS, jwks_document, response};
use crate::ErrorKind;
use crate::jwt::{Algorithm, parse_bearer};
use crate::secret::Secret;
use crate::storage::{
    FileTokenStore, MemoryTokenStore, TokenStore, load_machine_token, save_machine_token,
};

fn harness() -> &'static JwtHarness {
    static HARNESS: OnceLock<JwtHarness> = OnceLock::new();
    HARNESS.get_or_init(JwtHarness::new)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn valid_claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "user-1", "aud": [AUDIENCE, "mesh:m1"], "exp": now() + 3600,
        "iat": now() - 10, "mesh_id": "m1", "dest_url": "https://dicom.example.com/studies",
        "user": {"id": 1, "email": "a@b.example", "name": "A"}, "team": {"id": "t1", "name": "T"}
    })
}

fn valid_header() -> Value {
    json!({"alg": "EdDSA", "kid": KID, "typ": "JWT"})
}

fn valid_token() -> String {
    harness().sign(
        valid_header().to_string().as_bytes(),
        valid_claims().to_string().as_bytes(),
    )
}

/// One edit of `bytes`: overwrite, insert or delete at a position.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
    ];
    proptest::collection::vec(edit, 1..6)
}

fn mutate(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len();
        match *edit {
            Edit::Set(i, b) if len > 0 => bytes[i % len] = b,
            Edit::Insert(i, b) => bytes.insert(i % (len + 1), b),
            Edit::Delete(i) if len > 0 => {
                bytes.remove(i % len);
            }
            _ => {}
        }
    }
    bytes
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("EdDSA"),
            Just("RS256"),
            Just("a€b"),
            Just("none"),
            Just(KID),
            Just(ISSUER),
            Just(AUDIENCE)
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("alg".to_string()),
                    Just("kid".to_string()),
                    Just("exp".to_string()),
                    Just("iss".to_string()),
                    Just("aud".to_string()),
                    Just("nbf".to_string()),
                    Just("user".to_string()),
                    "[a-z_]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_validator_refuses_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let e = harness().validate(&text).unwrap_err();
        prop_assert_ne!(e.kind(), ErrorKind::Internal);
    }

    #[test]
    fn the_validator_refuses_arbitrary_segments(
        segments in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..5),
    ) {
        use base64::Engine as _;
        let token: Vec<String> = segments
            .iter()
            .map(|s| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s))
            .collect();
        let e = harness().validate(&token.join(".")).unwrap_err();
        prop_assert_ne!(e.kind(), ErrorKind::Internal);
    }

    #[test]
    fn a_mutated_token_is_refused_unless_unchanged(edits in edits()) {
        let original = valid_token();
        let bytes = mutate(original.clone().into_bytes(), &edits);
        let text = String::from_utf8_lossy(&bytes);
        match harness().validate(&text) {
            Ok(_) => prop_assert_eq!(text.as_ref(), original.as_str()),
            Err(e) => prop_assert_ne!(e.kind(), ErrorKind::Internal),
        }
    }

    #[test]
    fn signed_arbitrary_headers_and_claims_never_panic(header in json_value(), claims in json_value()) {
        let token = harness().sign(header.to_string().as_bytes(), claims.to_string().as_bytes());
        // Arrays, scalars and objects without alg/kid/exp are refused; anything else is
        // checked like a real token (the signature is good).
        let result = harness().validate(&token);
        if !header.is_object() || !claims.is_object() {
            prop_assert_eq!(result.unwrap_err().kind(), ErrorKind::JwtInvalid);
        } else if let Err(e) = result {
            prop_assert_ne!(e.kind(), ErrorKind::Internal);
        }
        let _ = harness().verify_mesh(&token, "m1", Some("https://dicom.example.com/studies/1"));
    }

    #[test]
    fn signed_mutated_claims_never_panic(edits in edits()) {
        let claims = mutate(valid_claims().to_string().into_bytes(), &edits);
        let header = mutate(valid_header().to_string().into_bytes(), &edits[..1]);
        let token = harness().sign(&header, &claims);
        if let Err(e) = harness().validate(&token) {
            prop_assert_ne!(e.kind(), ErrorKind::Internal);
        }
    }

    #[test]
    fn bearer_headers_parse_or_refuse(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let header = String::from_utf8_lossy(&bytes);
        if let Ok(token) = parse_bearer(&header) {
            prop_assert!(!token.is_empty());
            prop_assert!(token.bytes().all(|b| b.is_ascii_graphic() && b != b','));
            prop_assert!(header.contains(token));
        }
    }

    #[test]
    fn jwks_documents_parse_or_refuse(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = jwks_document(&bytes, &Algorithm::ALL);
    }

    #[test]
    fn mutated_jwks_documents_never_panic(edits in edits()) {
        let bytes = mutate(sample_jwks().as_bytes().to_vec(), &edits);
        if let Ok(n) = jwks_document(&bytes, &Algorithm::ALL) {
            prop_assert!(n <= 3);
        }
        prop_assert_eq!(jwks_document(sample_jwks().as_bytes(), &Algorithm::ALL).ok(), Some(3));
    }

    #[test]
    fn response_bodies_decode_or_refuse(kind in any::<u8>(), bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        // The error-body kind also checks that the token is never quoted back.
        let last = (RESPONSE_KINDS.len() - 1) as u8;
        let decoded = response(kind, &bytes);
        if usize::from(kind) % RESPONSE_KINDS.len() == usize::from(last) {
            prop_assert!(decoded);
        }
    }

    #[test]
    fn mutated_response_bodies_never_panic(kind in 0..RESPONSE_KINDS.len(), edits in edits()) {
        let sample = match SAMPLE_RESPONSES[kind] {
            "" => sample_jwks(),
            body => body,
        }
        .as_bytes()
        .to_vec();
        prop_assert!(response(kind as u8, &sample), "sample {kind} decodes");
        let _ = response(kind as u8, &mutate(sample, &edits));
    }

    #[test]
    fn retry_after_headers_parse_or_refuse_within_a_day(
        value in prop_oneof![
            "\\PC{0,40}",
            "[0-9]{1,30}",
            "(Mon|Tue|Sun|Xyz), [0-9]{1,2} (Jan|Feb|Dec|Foo) [0-9]{1,5} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        ],
        now_secs in 0_u64..8_000_000_000,
    ) {
        // A server header: any text, any clock; never a panic, never more than a day.
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now_secs);
        if let Some(wait) = crate::client::parse_retry_after(&value, now) {
            prop_assert!(wait <= std::time::Duration::from_secs(86_400));
        }
    }

    #[test]
    fn stored_token_json_loads_or_is_corrupt(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let store = MemoryTokenStore::new();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        store.save("gw-1", crate::storage::MACHINE_TOKEN, &Secret::new(text)).unwrap();
        if let Err(e) = load_machine_token(&store, "gw-1") {
            prop_assert_eq!(e.kind(), ErrorKind::StorageCorrupt);
        }
    }

    #[test]
    fn a_damaged_token_file_is_corrupt_never_another_token(edits in edits()) {
        let (store, path, original) = file_store_with_token();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, mutate(bytes.clone(), &edits)).unwrap();
        let loaded = load_machine_token(&store, "gw-1");
        std::fs::write(&path, &bytes).unwrap();
        match loaded {
            Ok(Some(token)) => prop_assert_eq!(token.machine_token.expose(), original.as_str()),
            Ok(None) => prop_assert!(false, "a damaged file reads as absent"),
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::StorageCorrupt),
        }
    }

    #[test]
    fn arbitrary_token_file_bytes_are_corrupt(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (store, path, _) = file_store_with_token();
        let saved = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let loaded = load_machine_token(&store, "gw-1");
        std::fs::write(&path, &saved).unwrap();
        prop_assert_eq!(loaded.unwrap_err().kind(), ErrorKind::StorageCorrupt);
    }
}

/// A file store in a fresh 0700 directory holding one machine token for `gw-1`; the token
/// file's path and the token. Made once per test thread (every case restores the file).
fn file_store_with_token() -> (FileTokenStore, PathBuf, String) {
    thread_local! {
        static STORE: (FileTokenStore, PathBuf, String) = make_file_store();
    }
    STORE.with(|(store, path, token)| {
        (
            FileTokenStore::new(store.root()),
            path.clone(),
            token.clone(),
        )
    })
}

fn make_file_store() -> (FileTokenStore, PathBuf, String) {
    use std::os::unix::fs::PermissionsExt as _;
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = std::env::temp_dir().join(format!(
        "runbeam-props-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    let store = FileTokenStore::new(&root);
    let secret = "mt_property_test_token_0123456789".to_string();
    let token = crate::storage::MachineToken::new(
        Secret::new(secret.clone()),
        time::OffsetDateTime::now_utc() + time::Duration::days(30),
        "gw-1",
        vec!["harmony:send".into()],
    );
    save_machine_token(&store, "gw-1", &token).unwrap();
    let path = store.token_path("gw-1", crate::storage::MACHINE_TOKEN);
    assert!(path.exists(), "{}", path.display());
    (store, path, secret)
}

/// A JWKS with one RSA key (as runbeam-devcloud serves it), one EC P-256 and one Ed25519 key.
fn sample_jwks() -> &'static str {
    static JWKS: OnceLock<String> = OnceLock::new();
    JWKS.get_or_init(|| {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = ec.public_key().as_ref(); // 0x04 || x || y
        let (x, y) = point[1..].split_at(32);
        json!({"keys": [
            {"kty": "RSA", "kid": "devcloud-42676914df7729af", "use": "sig", "alg": "RS256", "e": "AQAB", "n": "u2V3D6eGkUaChFcLIjaNCW0irqK9fBXiu6xEz5hYON7EXu--8nAxToYtpzhiMhwTMRiJ-aT3WwZ138SmnC6PO8tC-MnceNj1Vc6MBga2dU69sv9CK_1F-2gYvWQUfz5qXjb_IN7W-TFJNAf-eoQ3Mt4H72YEpA2dGTtzGGzsYMdHAcE0_VuR4lMXeOw_df95IU7UPno1oEKpddfSU3cfywIkWSlr1HWmUg7Nf7Y1mGh4rgeYyO8JZCxKPIfskGaA2-WIeqEPyeaIroz7YjxbAuwRumjJdI8LjzMcUqxsjmaVWzlXDHRyEklKs2F5SdgcgOQ8uDzNL5HDXkpWHGpVww"},
            {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": b64(x), "y": b64(y)},
            {"kty": "OKP", "kid": "ed-1", "crv": "Ed25519", "x": b64(&[0x11; 32])},
        ]})
        .to_string()
    })
}

/// A valid body of each kind of [`RESPONSE_KINDS`], in order.
const SAMPLE_RESPONSES: [&str; 15] = [
    r#"{"machine_token":"mt_abc","expires_at":"2030-01-01T00:00:00Z","gateway":{"id":"gw-1","code":"radiology-gw-1","name":"GW"},"expires_in":2592000,"abilities":["harmony:send"]}"#,
    r#"{"success":true,"message":"ok"}"#,
    r#"{"base_url":"https://api.runbeam.io"}"#,
    r#"{"data":{"id":"r1","name":"dicomweb","team_id":"t1","type":"ingress","urls":["https://dicom.example.com"]},"meta":{"provider":"runbeam","resolved_at":"2030-01-01T00:00:00Z"}}"#,
    r#"{"token":"eyJ.x.y","expires_at":"2030-01-01T00:00:00Z","mesh_id":"m1","dest_url":"https://dicom.example.com"}"#,
    "", // the JWKS: sample_jwks()
    r#"{"id":"c1","type":"gateway","created_at":"2030-01-01T00:00:00Z","status":"pending"}"#,
    r#"{"data":[{"id":"c1","type":"gateway","created_at":"2030-01-01T00:00:00Z","status":"pending"}],"links":{"next":null},"meta":{"current_page":1,"last_page":1}}"#,
    r#"[{"id":"c1","type":"gateway","created_at":"2030-01-01T00:00:00Z","status":"pending"}]"#,
    r#"{"success":true,"data":{"id":"g1","type":"gateway","action":"updated"}}"#,
    r#"{"data":[{"id":"s1"}],"links":{},"meta":{}}"#,
    r#"{"data":[{"id":7,"name":"svc","team_id":3,"created_at":"2030-01-01T00:00:00Z","updated_at":null,"port":8080}],"links":{"next":null},"meta":{"current_page":1,"last_page":1}}"#,
    r#"{"data":[{"id":7,"name":"dicomweb","team_id":3,"urls":["https://dicom.example.com"],"mode":"mesh","mesh_id":9,"created_at":"2030-01-01T00:00:00Z","port":8080}],"links":{"next":null},"meta":{"current_page":1,"last_page":1}}"#,
    r#"{"data":{"id":"e1","name":"out","backend_id":4,"mesh_id":null,"enabled":true,"updated_at":"2030-01-01 00:00:00"}}"#,
    r#"{"message":"Unauthenticated.","errors":{"code":["is wrong"]}}"#,
];

/// The HTTP edge (`edge_request` fuzz target): `join_path`, `bearer_token`, `Refusal`.
mod edge {
    use std::time::Duration;

    use proptest::prelude::*;

    use crate::ErrorKind;
    use crate::fuzzing::{
        EDGE_BASES, STAGES, check_bearer_token, check_join_path, check_refusal, edge_request,
    };

    /// Path segments an attacker tries: dot segments plain, encoded, double-encoded and with
    /// parameters, encoded separators, '@', ':', empty segments, stray '%', non-ASCII.
    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(".".to_string()),
            Just("..".to_string()),
            Just("%2e".to_string()),
            Just("%2E%2e".to_string()),
            Just(".%2e".to_string()),
            Just("%252e%252e".to_string()),
            Just("%25%32%65".to_string()),
            Just("..;".to_string()),
            Just("..;x=1".to_string()),
            Just("%2f".to_string()),
            Just("%5C".to_string()),
            Just("%00".to_string()),
            Just("%".to_string()),
            Just("%2".to_string()),
            Just("%25".to_string()),
            Just("@evil.test".to_string()),
            Just(":8080".to_string()),
            Just(String::new()),
            Just("\u{ff0e}\u{ff0e}".to_string()),
            "[a-z0-9.;=%@:]{1,6}",
        ]
    }

    fn attack_path() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(segment(), 0..10),
            proptest::option::of("[a-z0-9=&%./?]{0,12}"),
        )
            .prop_map(|(segments, query)| {
                let mut path = format!("/{}", segments.join("/"));
                if let Some(query) = query {
                    path.push('?');
                    path.push_str(&query);
                }
                path
            })
    }

    fn base() -> impl Strategy<Value = String> {
        prop_oneof![
            (0..EDGE_BASES.len()).prop_map(|i| EDGE_BASES[i].to_string()),
            "(http|https|HTTP|ftp)://(u:p@)?(h|[a-z]{1,8}\\.example|127\\.0\\.0\\.1|\\[::1\\])(:[0-9]{1,5})?(/[a-z%2f.]{0,6}){0,3}/?",
            "\\PC{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn edge_requests_of_arbitrary_bytes_keep_every_invariant(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            edge_request(&bytes);
        }

        #[test]
        fn attack_paths_never_leave_the_base(base in base(), path in attack_path()) {
            check_join_path(&base, &path);
        }

        #[test]
        fn arbitrary_text_paths_never_leave_the_base(base in base(), path in "/?\\PC{0,60}") {
            check_join_path(&base, &path);
        }

        #[test]
        fn any_authorization_header_is_a_token_or_a_401(header in prop_oneof![
            "\\PC{0,80}",
            "(Bearer|bearer|BEARER|Basic|Bear) {0,3}[ -~]{0,40}",
        ]) {
            check_bearer_token(Some(&header));
        }

        #[test]
        fn every_refusal_is_well_formed(
            kind in 0..ErrorKind::ALL.len(),
            stage in 0..STAGES.len(),
            secs in prop_oneof![any::<u64>(), 0_u64..7200],
            nanos in 0_u32..1_000_000_000,
        ) {
            let (kind, stage) = (ErrorKind::ALL[kind], STAGES[stage]);
            check_refusal(kind, stage, None);
            check_refusal(kind, stage, Some(Duration::new(secs, nanos)));
            check_refusal(kind, stage, Some(Duration::MAX));
        }
    }
}

/// Found by the `edge_request` fuzz target: a path of non-ASCII text under the length limit
/// whose percent-encoded form is past it.
#[test]
fn a_long_non_ascii_path_keeps_every_invariant() {
    for base in crate::fuzzing::EDGE_BASES {
        crate::fuzzing::check_join_path(base, &format!("/{}", "\u{fffd}".repeat(2000)));
        crate::fuzzing::check_join_path(base, &format!("/a?{}", "\u{e9}".repeat(4000)));
    }
}
