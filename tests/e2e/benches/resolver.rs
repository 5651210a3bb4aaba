//! Reference resolution against runbeam-devcloud (docs/spec.md §6).
//!
//! Run: `cargo bench -p runbeam-e2e --bench resolver`
//!
//! - `resolver/hit/*`: a cached answer (`resolve_cached`, and the async `resolve` polled once —
//!   a hit completes without waiting) versus the peer a gateway would otherwise write: a
//!   `HashMap<String, Arc<_>>` lookup returning a shared answer.
//! - `resolver/cold/*`: a resolve that must ask the Cloud (the entry is invalidated first)
//!   versus a bare reqwest GET of the same endpoint with the same token, JSON decoded, and
//!   versus the SDK client's own `resolve`, all over loopback in the same run.
//! - Then, outside criterion: Cloud requests per 10,000 resolves of a realistic mix.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use futures_util::FutureExt;
use runbeam_core::Reference;
use runbeam_core::client::AuthorizeRequest;
use runbeam_e2e::{ANALYTICS_GW, BOB_SANCTUM, Cloud, DICOMWEB, RETIRED};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let cloud = rt.block_on(Cloud::start());
    let resolver = cloud
        .analytics_resolver(300)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let warm = rt.block_on(resolver.resolve(DICOMWEB));
    let warm = warm.unwrap_or_else(|e| panic!("{e}"));

    let mut peer: HashMap<String, Arc<_>> = HashMap::new();
    peer.insert(
        DICOMWEB.to_string(),
        Arc::new(warm.resolve_result().clone()),
    );
    for i in 0..16 {
        peer.insert(
            format!("runbeam.team-{i}.ingress.name.api"),
            Arc::clone(&peer[DICOMWEB]),
        );
    }

    let mut g = c.benchmark_group("resolver");
    g.bench_function("hit/peer-hashmap-arc", |b| {
        b.iter(|| black_box(peer.get(black_box(DICOMWEB)).cloned()))
    });
    g.bench_function("hit/resolve_cached", |b| {
        b.iter(|| black_box(resolver.resolve_cached(black_box(DICOMWEB))))
    });
    g.bench_function("hit/resolve-async-polled-once", |b| {
        b.iter(|| black_box(resolver.resolve(black_box(DICOMWEB)).now_or_never()))
    });

    let user = cloud.client(BOB_SANCTUM);
    let granted = rt
        .block_on(user.authorize(AuthorizeRequest::new(ANALYTICS_GW)))
        .unwrap_or_else(|e| panic!("{e}"));
    let machine_token = granted.machine_token.expose().to_string();
    let gateway = user.with_token(granted.machine_token);
    let bare = reqwest::Client::new();
    let url = format!(
        "{}/api/harmony/resources/resolve?ref={DICOMWEB}",
        cloud.url()
    );
    let dicom = Reference::parse(DICOMWEB).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("cold/peer-bare-reqwest", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = bare
                    .get(&url)
                    .bearer_auth(&machine_token)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                black_box(response.json::<serde_json::Value>().await.ok())
            })
        })
    });
    g.bench_function("cold/client-resolve", |b| {
        b.iter(|| rt.block_on(async { black_box(gateway.resolve(&dicom).await.ok()) }))
    });
    g.bench_function("cold/resolver-resolve", |b| {
        b.iter(|| {
            rt.block_on(async {
                resolver.invalidate(DICOMWEB).ok();
                black_box(resolver.resolve(DICOMWEB).await.ok())
            })
        })
    });
    g.finish();
    rt.block_on(cloud.dev.shutdown());
}

/// 10,000 resolves over 10 s (1,000/s, 8 concurrent callers) with `cache_ttl_secs = 1`, so
/// that the 10 s cover ten TTLs — as 50 minutes do with the default 300 s: 90% the partner's
/// DICOMweb ingress, 5% a local egress, 4% a reference the Cloud does not know (404, never
/// cached), 1% a reference outside every mesh. The peer is a gateway without a cache: one
/// request per remote resolve.
fn mix() {
    const TOTAL: usize = 10_000;
    const CALLERS: usize = 8;
    let rt = runtime();
    rt.block_on(async {
        let cloud = Cloud::start().await;
        let resolver = cloud
            .analytics_resolver(1)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        resolver.resolve(DICOMWEB).await.ok();
        cloud.reset_counts().await;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for caller in 0..CALLERS {
            let resolver = resolver.clone();
            tasks.push(tokio::spawn(async move {
                let mut remote = 0usize;
                for n in (caller..TOTAL).step_by(CALLERS) {
                    let due = start + Duration::from_micros(n as u64 * 1000);
                    tokio::time::sleep_until(due.into()).await;
                    let reference = match n % 100 {
                        0..=89 => DICOMWEB,
                        90..=94 => "imaging-out",
                        95..=98 => RETIRED,
                        _ => "runbeam.acme.ingress.name.api",
                    };
                    remote += usize::from(reference == DICOMWEB || reference == RETIRED);
                    black_box(resolver.resolve(reference).await.ok());
                }
                remote
            }));
        }
        let mut remote = 0;
        for task in tasks {
            remote += task.await.unwrap_or_else(|e| panic!("{e}"));
        }
        let elapsed = start.elapsed();
        let requests = cloud.count("GET /api/harmony/resources/resolve").await;
        let stats = resolver.stats();
        println!(
            "resolver/mix: {TOTAL} resolves in {:.1} s (ttl 1 s): {requests} Cloud requests; \
             without a cache: {remote} requests ({:.0}x more); hits {}, misses {}, local {}",
            elapsed.as_secs_f64(),
            remote as f64 / requests.max(1) as f64,
            stats.hits,
            stats.misses,
            stats.local,
        );
        cloud.dev.shutdown().await;
    });
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    mix();
}
