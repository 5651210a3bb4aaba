//! One cold start or one memory measurement of runbeam-core, run by benches/startup/run.py in a
//! fresh process (the `startup` bench target of tests/e2e, harness = false, release profile).
//!
//! Cold start (prints one JSON line of CLOCK_REALTIME nanoseconds):
//! - `jwt URL TOKEN`: main | tokio runtime + `Validator` built | `refresh_keys` (JWKS fetch +
//!   key parse) | `validate(TOKEN)`
//! - `resolve URL CONFIG REF`: main | tokio runtime, configuration, client, memory token store,
//!   token manager and resolver built | `ensure_token` (authorize) | `resolve(REF)`
//!
//! Memory (prints VmRSS before/after in bytes):
//! - `mem-jwt URL TOKENS_FILE`: every token validated twice (kept by the verified-token cache,
//!   capacity 20,000)
//! - `mem-resolve URL CONFIG REFS_FILE`: every reference resolved once (cached by the resolver)
//!
//! `bash scripts/bench.sh startup`

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use runbeam_core::Secret;
use runbeam_core::client::Client;
use runbeam_core::config::MeshConfig;
use runbeam_core::jwt::Validator;
use runbeam_core::resolve::Resolver;
use runbeam_core::storage::{Credential, MemoryTokenStore, TokenManager};

const BOB_SANCTUM: &str = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f";

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

fn lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("a readable file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn validator(url: &str, capacity: usize) -> Validator {
    Validator::builder()
        .trusted_issuer(format!("{url}/api"))
        .cache_capacity(capacity)
        .build()
        .expect("validator")
}

/// The gateway's resolver and token manager: the configuration at `config` pointed at `url`,
/// Bob's Sanctum token as the credential, the machine token in a memory store.
fn resolver(url: &str, config: &str) -> (Resolver, Arc<TokenManager>) {
    let text = std::fs::read_to_string(config).expect("configuration");
    let config = MeshConfig::from_toml(&text)
        .and_then(|c| c.with_provider_api("runbeam", url))
        .expect("configuration");
    let client = Client::builder(url).build().expect("client");
    let manager = Arc::new(
        TokenManager::new(
            "analytics-gw-1",
            Arc::new(MemoryTokenStore::new()),
            client.clone(),
        )
        .credential(Credential::Token(Secret::new(BOB_SANCTUM.to_owned()))),
    );
    let resolver = Resolver::builder(config, client, manager.clone())
        .build()
        .expect("resolver");
    (resolver, manager)
}

fn main() {
    let start = now_ns();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["jwt", url, token] => {
            let rt = runtime();
            let v = validator(url, 10_000);
            let construct = now_ns();
            rt.block_on(v.refresh_keys()).expect("refresh_keys");
            let fetch = now_ns();
            let claims = rt.block_on(v.validate(token)).expect("validate");
            let first = now_ns();
            assert!(claims.sub.is_some());
            println!(
                "{{\"start\":{start},\"load\":{start},\"construct\":{construct},\"fetch\":{fetch},\"first\":{first}}}"
            );
        }
        ["resolve", url, config, reference] => {
            let rt = runtime();
            let (resolver, manager) = resolver(url, config);
            let construct = now_ns();
            rt.block_on(manager.ensure_token()).expect("ensure_token");
            let fetch = now_ns();
            let answer = rt.block_on(resolver.resolve(reference)).expect("resolve");
            let first = now_ns();
            assert!(!answer.resource().urls.is_empty());
            println!(
                "{{\"start\":{start},\"load\":{start},\"construct\":{construct},\"fetch\":{fetch},\"first\":{first}}}"
            );
        }
        ["mem-jwt", url, file] => {
            let tokens = lines(file);
            let rt = runtime();
            let v = validator(url, 20_000);
            rt.block_on(async {
                v.refresh_keys().await.expect("refresh_keys");
                v.validate(&tokens[0]).await.expect("validate");
                v.validate(&tokens[0]).await.expect("validate");
                let before = rss();
                for t in &tokens {
                    v.validate(t).await.expect("validate");
                    v.validate(t).await.expect("validate");
                }
                let after = rss();
                println!(
                    "{{\"before\":{before},\"after\":{after},\"entries\":{}}}",
                    v.cached_tokens()
                );
            });
        }
        ["mem-resolve", url, config, file] => {
            let references = lines(file);
            let rt = runtime();
            let (resolver, _manager) = resolver(url, config);
            rt.block_on(async {
                resolver.resolve(&references[0]).await.expect("resolve");
                let before = rss();
                for r in &references {
                    resolver.resolve(r).await.expect("resolve");
                }
                let after = rss();
                println!(
                    "{{\"before\":{before},\"after\":{after},\"entries\":{},\"upstream_requests\":{}}}",
                    references.len(),
                    resolver.stats().upstream_requests
                );
            });
        }
        _ => {
            eprintln!(
                "usage: startup jwt URL TOKEN | resolve URL CONFIG REF | mem-jwt URL TOKENS_FILE | mem-resolve URL CONFIG REFS_FILE"
            );
            std::process::exit(2);
        }
    }
}
