//! [`Client::changes`] against a local endless change feed: the call is bounded by
//! [`MAX_FEED_CHANGES`], [`MAX_FEED_PAGES`] and [`MAX_FEED_BYTES`] and returns the first
//! changes in feed order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Client, MAX_FEED_BYTES, MAX_FEED_CHANGES, MAX_FEED_PAGES};
use crate::Secret;

/// A feed of `last_page` pages (0: endless) of `per_page` changes, ids numbered in feed
/// order, each change padded with `padding` bytes. Returns the URL and the count of pages
/// served.
async fn feed(last_page: u64, per_page: u64, padding: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let page: u64 = head
                    .split(['?', '&', ' '])
                    .find_map(|p| p.strip_prefix("page="))
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                count.fetch_add(1, Ordering::SeqCst);
                let pad = "x".repeat(padding);
                let data: Vec<String> = (0..per_page)
                    .map(|i| format!(r#"{{"id":"{}","pad":"{pad}"}}"#, (page - 1) * per_page + i))
                    .collect();
                let last = if last_page == 0 { 1_000_000 } else { last_page };
                let body = format!(
                    r#"{{"data":[{}],"meta":{{"current_page":{page},"last_page":{last}}}}}"#,
                    data.join(",")
                );
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, served)
}

fn client(url: &str) -> Client {
    Client::builder(url)
        .token(Secret::new("1|feed-test-token".into()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_finite_feed_is_returned_whole() {
    let (url, served) = feed(3, 100, 0).await;
    let changes = client(&url).changes(None).await.unwrap();
    assert_eq!(changes.len(), 300);
    assert_eq!(served.load(Ordering::SeqCst), 3);
    assert_eq!(changes[299].id, "299");
}

#[tokio::test]
async fn an_endless_feed_stops_at_the_change_limit() {
    let (url, served) = feed(0, 100, 0).await;
    let changes = client(&url).changes(None).await.unwrap();
    assert_eq!(changes.len(), MAX_FEED_CHANGES);
    assert_eq!(served.load(Ordering::SeqCst), MAX_FEED_CHANGES / 100);
    // The first changes, in feed order.
    assert_eq!(changes[0].id, "0");
    assert_eq!(
        changes[MAX_FEED_CHANGES - 1].id,
        (MAX_FEED_CHANGES - 1).to_string()
    );
}

#[tokio::test]
async fn an_endless_feed_of_large_changes_stops_at_the_byte_budget() {
    // About 1 MiB per page: the byte budget is reached long before the change limit.
    let (url, served) = feed(0, 100, 10 * 1024).await;
    let changes = client(&url).changes(None).await.unwrap();
    let pages = served.load(Ordering::SeqCst);
    assert_eq!(changes.len(), pages * 100);
    assert!(changes.len() < MAX_FEED_CHANGES);
    let page_bytes = 100 * 10 * 1024;
    assert!(pages * page_bytes >= MAX_FEED_BYTES, "{pages} pages");
    assert!((pages - 1) * page_bytes < MAX_FEED_BYTES, "{pages} pages");
}

#[tokio::test]
async fn an_endless_feed_of_tiny_pages_stops_at_the_page_limit() {
    // One change per page, always another page: neither the change limit nor the byte
    // budget is near when the page limit cuts the feed.
    let (url, served) = feed(0, 1, 0).await;
    let changes = client(&url).changes(None).await.unwrap();
    let pages = MAX_FEED_PAGES as usize;
    assert_eq!(served.load(Ordering::SeqCst), pages);
    assert_eq!(changes.len(), pages);
    assert_eq!(changes[0].id, "0");
    assert_eq!(changes[pages - 1].id, (pages - 1).to_string());
}
