//! The client against a tiny scripted HTTP/1.1 server on a local socket: body cap, retries,
//! `Retry-After`, deadlines and transport failures, without runbeam-devcloud.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use runbeam_core::client::{Client, Collection, PageRequest, RetryPolicy};
use runbeam_core::{ErrorKind, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "1|local-test-secret-token";

#[derive(Clone)]
enum Reply {
    /// Raw bytes written after the request, then the connection is closed.
    Raw(String),
    /// Close the connection without answering.
    Drop,
    /// Never answer.
    Hang,
}

fn json(status: &str, body: &str) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
}

struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Serves `replies` in order, one per connection; the last one repeats.
async fn serve(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        let mut n = 0usize;
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let reply = replies[n.min(replies.len() - 1)].clone();
            n += 1;
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(read) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..read]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + length {
                            seen.lock().unwrap().push(head);
                            break;
                        }
                    }
                }
                match reply {
                    Reply::Raw(bytes) => {
                        let _ = socket.write_all(bytes.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                    Reply::Drop => drop(socket),
                    Reply::Hang => tokio::time::sleep(Duration::from_secs(3600)).await,
                }
            });
        }
    });
    Server { url, requests }
}

fn client(url: &str) -> Client {
    Client::builder(url)
        .token(Secret::new(TOKEN.into()))
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            honour_retry_after: true,
        })
        .build()
        .unwrap()
}

const BASE_URL: &str = r#"{"base_url":"https://gw.example","changes_path":"/changes"}"#;

#[tokio::test]
async fn sends_headers_and_decodes() {
    let server = serve(vec![json("200 OK", BASE_URL)]).await;
    let got = client(&server.url).base_url().await.unwrap();
    assert_eq!(got.base_url, "https://gw.example");
    let head = server.requests.lock().unwrap()[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /api/harmony/base-url http/1.1"),
        "{head}"
    );
    assert!(head.contains(&format!(
        "authorization: bearer {}",
        TOKEN.to_ascii_lowercase()
    )));
    assert!(head.contains("user-agent: runbeam-sdk/"));
    assert!(head.contains("(rust)"));
    assert!(head.contains("accept: application/json"));
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let big = format!(r#"{{"base_url":"{}"}}"#, "x".repeat(4096));
    let server = serve(vec![json("200 OK", &big)]).await;
    let small = Client::builder(&server.url)
        .token(Secret::new(TOKEN.into()))
        .max_body_bytes(1024)
        .build()
        .unwrap();
    let err = small.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(
        err.message().contains("exceeds the limit of 1024 bytes"),
        "{err}"
    );
    assert_eq!(err.status(), Some(200));

    // Without content-length: the cap is enforced while streaming.
    let chunk = "x".repeat(800);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{chunk}\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len(),
        chunk.len()
    );
    let server = serve(vec![Reply::Raw(chunked)]).await;
    let small = Client::builder(&server.url)
        .token(Secret::new(TOKEN.into()))
        .max_body_bytes(1024)
        .build()
        .unwrap();
    let err = small.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
}

#[tokio::test]
async fn get_is_retried_after_server_errors() {
    let server = serve(vec![
        json("503 Service Unavailable", r#"{"message":"busy"}"#),
        json("502 Bad Gateway", "{}"),
        json("200 OK", BASE_URL),
    ])
    .await;
    client(&server.url).base_url().await.unwrap();
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let server = serve(vec![json(
        "500 Internal Server Error",
        r#"{"message":"boom"}"#,
    )])
    .await;
    let err = client(&server.url).base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(err.server_message(), Some("boom"));
    assert!(err.message().contains("after 3 attempts"), "{err}");
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn post_is_not_retried() {
    let server = serve(vec![json("503 Service Unavailable", "{}")]).await;
    let err = client(&server.url)
        .mesh_token("m", "https://x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.attempts(), Some(1));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = serve(vec![json(
        "404 Not Found",
        r#"{"message":"no such gateway"}"#,
    )])
    .await;
    let err = client(&server.url)
        .collection(Collection::Gateways)
        .get("gw/1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.request(), Some(("GET", "/gateways/gw%2F1")));
    assert_eq!(server.count(), 1);
    let head = server.requests.lock().unwrap()[0].clone();
    assert!(head.starts_with("GET /api/gateways/gw%2F1 "), "{head}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = serve(vec![
        Reply::Raw(
            "HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                .into(),
        ),
        json("200 OK", BASE_URL),
    ])
    .await;
    let start = Instant::now();
    client(&server.url).base_url().await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_returns_rate_limited() {
    let server = serve(vec![Reply::Raw(
        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 60\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            .into(),
    )])
    .await;
    let c = Client::builder(&server.url)
        .token(Secret::new(TOKEN.into()))
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = c.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn dropped_connections_are_transport_errors() {
    let server = serve(vec![Reply::Drop]).await;
    let err = client(&server.url).base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert_eq!(server.count(), 3);
    assert!(!err.to_string().contains("local-test-secret"));
}

#[tokio::test]
async fn refused_connections_are_transport_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&url).base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.message().contains("could not connect"), "{err}");
}

#[tokio::test]
async fn the_deadline_is_respected() {
    let server = serve(vec![Reply::Hang]).await;
    let c = Client::builder(&server.url)
        .token(Secret::new(TOKEN.into()))
        .deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = c.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.message().contains("deadline"), "{err}");

    // The per-attempt timeout is retried, within the deadline.
    let c = Client::builder(&server.url)
        .token(Secret::new(TOKEN.into()))
        .request_timeout(Duration::from_millis(100))
        .retry(RetryPolicy {
            base_delay: Duration::from_millis(1),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let err = c.base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.attempts(), Some(3));
}

#[tokio::test]
async fn malformed_bodies_and_redirects_are_protocol_errors() {
    let server = serve(vec![json("200 OK", r#"{"base_url": 12"#)]).await;
    let err = client(&server.url).base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(server.count(), 1);

    let server = serve(vec![Reply::Raw(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/steal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            .into(),
    )])
    .await;
    let err = client(&server.url).base_url().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(err.status(), Some(302));
}

#[tokio::test]
async fn list_all_follows_pages() {
    let page = |n: u32, last: u32| {
        json(
            "200 OK",
            &format!(
                r#"{{"data":[{{"id":{a},"name":"g{a}"}},{{"id":{b},"name":"g{b}"}}],
                    "links":{{"next":null}},
                    "meta":{{"current_page":{n},"last_page":{last},"per_page":2,"total":6}}}}"#,
                a = n * 2 - 1,
                b = n * 2
            ),
        )
    };
    let server = serve(vec![page(1, 3), page(2, 3), page(3, 3)]).await;
    let all: Vec<_> = client(&server.url)
        .collection(Collection::Gateways)
        .list_all(2)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    let heads = server.requests.lock().unwrap().clone();
    assert!(
        heads[2].starts_with("GET /api/gateways?page=3&per_page=2 "),
        "{}",
        heads[2]
    );
}

/// A page of two gateways whose `meta` has no `last_page`: only `links.next` tells whether
/// another page follows (it points at another host, which the walk must never call).
fn next_link_page(n: u32, next: bool) -> Reply {
    let next = if next {
        format!(r#""https://elsewhere.example/api/gateways?page={}""#, n + 1)
    } else {
        "null".to_string()
    };
    json(
        "200 OK",
        &format!(
            r#"{{"data":[{{"id":{a}}},{{"id":{b}}}],"links":{{"next":{next}}},
                "meta":{{"current_page":{n},"per_page":2}}}}"#,
            a = n * 2 - 1,
            b = n * 2
        ),
    )
}

fn request_lines(server: &Server) -> Vec<String> {
    let heads = server.requests.lock().unwrap().clone();
    heads
        .iter()
        .map(|h| h.lines().next().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn list_all_follows_links_next_without_last_page() {
    let server = serve(vec![
        next_link_page(1, true),
        next_link_page(2, true),
        next_link_page(3, false),
    ])
    .await;
    let all: Vec<_> = client(&server.url)
        .collection(Collection::Gateways)
        .list_all(2)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(
        request_lines(&server),
        [1, 2, 3].map(|n| format!("GET /api/gateways?page={n}&per_page=2 HTTP/1.1"))
    );
}

#[tokio::test]
async fn the_page_cursor_retries_a_failed_page_and_ends_with_none() {
    let server = serve(vec![
        next_link_page(1, true),
        json("500 Internal Server Error", r#"{"message":"boom"}"#),
        next_link_page(2, false),
    ])
    .await;
    let once = Client::builder(&server.url)
        .token(Secret::new(TOKEN.into()))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let mut pages = once.collection(Collection::Gateways).pages(2).unwrap();
    assert_eq!(pages.next().await.unwrap().map(|p| p.len()), Some(2));
    let err = pages.next().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    let second = pages.next().await.unwrap().unwrap();
    assert_eq!(second[0].id, "3");
    assert!(pages.next().await.unwrap().is_none());
    assert!(pages.next().await.unwrap().is_none());
    let lines = request_lines(&server);
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1..].iter().all(|l| l.contains("page=2&")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn the_page_walk_is_bounded() {
    // Every page announces another one.
    let server = serve(vec![next_link_page(1, true)]).await;
    let mut pages = client(&server.url)
        .collection(Collection::Gateways)
        .pages(2)
        .unwrap()
        .max_pages(3);
    for _ in 0..3 {
        assert!(pages.next().await.unwrap().is_some());
    }
    let err = pages.next().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().contains("after 3 pages"), "{}", err.message());
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn out_of_range_pages_are_refused_before_sending() {
    let server = serve(vec![next_link_page(1, false)]).await;
    let gateways = client(&server.url).collection(Collection::Gateways);
    for per_page in [0, PageRequest::MAX_PER_PAGE + 1] {
        let err = gateways.pages(per_page).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        let first: Vec<_> = gateways.list_all(per_page).collect().await;
        assert_eq!(first.len(), 1);
        assert!(matches!(&first[0], Err(e) if e.kind() == ErrorKind::InvalidArgument));
    }
    assert_eq!(server.count(), 0);
}

#[test]
fn max_attempts_out_of_range_is_refused_by_the_builder() {
    for attempts in [0, RetryPolicy::MAX_ATTEMPTS + 1] {
        let err = Client::builder("http://127.0.0.1:1")
            .retry(RetryPolicy {
                max_attempts: attempts,
                ..RetryPolicy::default()
            })
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("max_attempts"), "{}", err.message());
    }
    let most = RetryPolicy::default()
        .with_max_attempts(RetryPolicy::MAX_ATTEMPTS)
        .unwrap();
    assert!(
        Client::builder("http://127.0.0.1:1")
            .retry(most)
            .build()
            .is_ok()
    );
}
