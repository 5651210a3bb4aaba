//! Client behaviour that needs no server: the base-URL rule, token kinds, `Retry-After`,
//! backoff bounds, and secrets kept out of `Debug`/`Display`.

use std::time::{Duration, SystemTime};

use runbeam_core::client::{
    AuthorizeRequest, AuthorizeResult, Client, MeshTokenResult, RetryPolicy, TokenKind, api_root,
    classify_token, parse_retry_after,
};
use runbeam_core::{ErrorKind, Secret};

#[test]
fn base_url_rule() {
    let accepted = [
        ("https://api.runbeam.io", "https://api.runbeam.io/api"),
        ("https://api.runbeam.io/", "https://api.runbeam.io/api"),
        ("https://x/api/", "https://x/api"),
        ("https://x/api", "https://x/api"),
        ("https://x/v2//", "https://x/v2"),
        ("https://x:8443/custom/root/", "https://x:8443/custom/root"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api"),
        ("http://127.1.2.3", "http://127.1.2.3/api"),
        ("http://[::1]", "http://[::1]/api"),
        ("http://[::1]:9000/api/", "http://[::1]:9000/api"),
        ("http://localhost:3000", "http://localhost:3000/api"),
        ("  https://api.runbeam.io  ", "https://api.runbeam.io/api"),
    ];
    for (input, root) in accepted {
        assert_eq!(api_root(input, false).unwrap(), root, "{input}");
    }
    let refused = [
        "http://10.0.0.1",
        "http://api.runbeam.io",
        "http://[::2]",
        "ftp://api.runbeam.io",
        "not a url",
        "",
        "https://",
        "https://user:pw@api.runbeam.io",
        "https://api.runbeam.io/?x=1",
        "https://api.runbeam.io/#frag",
        "api.runbeam.io",
    ];
    for input in refused {
        let err = api_root(input, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{input}");
        assert!(err.message().contains("Runbeam API URL"), "{err}");
    }
    let err = api_root("http://10.0.0.1", false).unwrap_err();
    assert!(err.message().contains("http://10.0.0.1"), "{err}");
    assert!(err.message().contains("allow_insecure_http"), "{err}");
    assert!(
        !api_root("https://user:pw@x", false)
            .unwrap_err()
            .message()
            .contains("pw")
    );
    assert_eq!(
        api_root("http://10.0.0.1", true).unwrap(),
        "http://10.0.0.1/api"
    );
}

#[test]
fn builder_applies_the_rule() {
    let client = Client::builder("https://api.runbeam.io/").build().unwrap();
    assert_eq!(client.api_root(), "https://api.runbeam.io/api");
    let err = Client::builder("http://10.0.0.1").build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let client = Client::builder("http://10.0.0.1")
        .allow_insecure_http(true)
        .build()
        .unwrap();
    assert_eq!(client.api_root(), "http://10.0.0.1/api");
}

#[test]
fn builder_settings() {
    let client = Client::builder("https://x")
        .language("python")
        .build()
        .unwrap();
    assert_eq!(
        client.user_agent(),
        format!("runbeam-sdk/{} (python)", runbeam_core::VERSION)
    );
    assert!(
        Client::new("https://x")
            .unwrap()
            .user_agent()
            .ends_with("(rust)")
    );
    // Default deadline: 30 s × 3 attempts + 0.2 s + 0.4 s of backoff.
    assert_eq!(
        Client::new("https://x").unwrap().deadline(),
        Duration::from_millis(90_600)
    );
    let custom = Client::builder("https://x")
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(custom.deadline(), Duration::from_secs(2));
    for bad in [
        Client::builder("https://x").language("py thon"),
        Client::builder("https://x").request_timeout(Duration::ZERO),
        Client::builder("https://x").connect_timeout(Duration::ZERO),
        Client::builder("https://x").deadline(Duration::ZERO),
        Client::builder("https://x").max_body_bytes(0),
        Client::builder("https://x").ca_bundle_pem("not pem"),
        Client::builder("https://x").ca_bundle_file("/nonexistent/ca.pem"),
    ] {
        assert_eq!(bad.build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}

#[test]
fn client_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Client>();
}

#[test]
fn token_kinds() {
    let table = [
        (
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            TokenKind::Jwt,
        ),
        ("a.b.c", TokenKind::Jwt),
        ("a-_.b_-.c9", TokenKind::Jwt),
        ("a.b", TokenKind::Opaque),
        ("a.b.c.d", TokenKind::Opaque),
        ("a..c", TokenKind::Opaque),
        ("a.b+.c", TokenKind::Opaque),
        ("a.b.c=", TokenKind::Opaque),
        (
            "1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7",
            TokenKind::Sanctum,
        ),
        ("42|x", TokenKind::Sanctum),
        ("1|", TokenKind::Opaque),
        ("|abc", TokenKind::Opaque),
        ("x1|abc", TokenKind::Opaque),
        ("mt_0123456789abcdef", TokenKind::Opaque),
        ("", TokenKind::Opaque),
    ];
    for (token, kind) in table {
        assert_eq!(classify_token(token), kind, "{token}");
    }
    assert_eq!(TokenKind::Sanctum.as_str(), "sanctum");
    assert_eq!(TokenKind::Jwt.to_string(), "jwt");
    let client = Client::new("https://x")
        .unwrap()
        .with_token(Secret::new("a.b.c".into()));
    assert_eq!(client.token_kind(), Some(TokenKind::Jwt));
}

#[test]
fn retry_after_values() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50 GMT
    assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after(" 120 ", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        parse_retry_after("99999999999999999999999", now),
        Some(Duration::from_secs(86_400))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    for garbage in ["", "soon", "-1", "1.5", "Wed, 21 Oct 2015", "10s"] {
        assert_eq!(parse_retry_after(garbage, now), None, "{garbage}");
    }
}

#[test]
fn backoff_bounds() {
    let policy = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        honour_retry_after: true,
    };
    assert_eq!(policy.max_backoff(1), Duration::from_millis(100));
    assert_eq!(policy.max_backoff(2), Duration::from_millis(200));
    assert_eq!(policy.max_backoff(4), Duration::from_millis(800));
    assert_eq!(policy.max_backoff(5), Duration::from_secs(1));
    assert_eq!(policy.max_backoff(64), Duration::from_secs(1));
    for retry in 1..8 {
        let mut saw_small = false;
        for _ in 0..200 {
            let d = policy.backoff(retry);
            assert!(d <= policy.max_backoff(retry), "{d:?}");
            saw_small |= d < policy.max_backoff(retry) / 2;
        }
        assert!(saw_small, "full jitter should go below half of the cap");
    }
    let zero = RetryPolicy {
        base_delay: Duration::ZERO,
        ..policy
    };
    assert_eq!(zero.backoff(3), Duration::ZERO);
}

#[test]
fn secrets_stay_out_of_debug() {
    let secret = "1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7";
    let builder = Client::builder("https://x").token(Secret::new(secret.into()));
    assert!(!format!("{builder:?}").contains("rad-dev"));
    let client = builder.build().unwrap();
    let debug = format!("{client:?}");
    assert!(!debug.contains("rad-dev"), "{debug}");
    assert!(debug.contains("***"));
    let request = AuthorizeRequest::new("gw").machine_public_key("pk");
    assert!(!format!("{request:?}").contains("rad-dev"));

    let authorized: AuthorizeResult = serde_json::from_str(
        r#"{"machine_token":"mt-topsecret","expires_in":2592000,
            "expires_at":"2030-01-01T00:00:00Z",
            "gateway":{"id":1,"code":"gw","name":"Gw","authorized_by":{"id":"u1","name":"A","email":"a@x"}},
            "abilities":["harmony:read"],"future_field":true}"#,
    )
    .unwrap();
    assert_eq!(authorized.machine_token.expose(), "mt-topsecret");
    assert_eq!(authorized.gateway.id, "1");
    assert_eq!(authorized.extra["future_field"], true);
    assert!(!format!("{authorized:?}").contains("topsecret"));

    let mesh: MeshTokenResult = serde_json::from_str(
        r#"{"token":"eyJ.mesh.secret","expires_at":"2030-01-01 00:00:00","mesh_id":"m"}"#,
    )
    .unwrap();
    assert!(!format!("{mesh:?}").contains("mesh.secret"));
    assert_eq!(mesh.expires_at.year(), 2030);
}

#[tokio::test]
async fn calls_without_a_token_say_how_to_set_one() {
    let client = Client::new("http://127.0.0.1:9").unwrap();
    let err = client.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoToken);
    assert!(err.message().contains("Client::with_token"), "{err}");
    assert!(err.message().contains("GET /harmony/base-url"), "{err}");
    let err = client
        .authorize(AuthorizeRequest::new("gw"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoToken);
}

#[tokio::test]
async fn bad_arguments_fail_before_the_network() {
    let client = Client::new("http://127.0.0.1:9")
        .unwrap()
        .with_token(Secret::new("t".into()));
    let local = runbeam_core::Reference::parse("local.name.x").unwrap();
    assert_eq!(
        client.resolve(&local).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        client.change("..").await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let gateways = client.collection(runbeam_core::client::Collection::Gateways);
    assert_eq!(
        gateways.get("").await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let bad_page = runbeam_core::client::PageRequest {
        page: 0,
        per_page: 10,
    };
    assert_eq!(
        gateways.list(bad_page).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let bad_token = client.with_token(Secret::new("line\nbreak-secret".into()));
    let err = bad_token.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(!err.to_string().contains("break-secret"));
}
