//! Client overhead per request against runbeam-devcloud, versus a bare HTTP call (reqwest,
//! keep-alive, the same request) measured in the same run.
//!
//! Run: `cargo bench -p runbeam-e2e --bench client_overhead`
//!
//! Both sides talk to the same in-process devcloud over loopback, so the difference is what the
//! SDK adds: URL building, auth header, retry bookkeeping, the capped body read, JSON decoding
//! into typed responses and error mapping.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use runbeam_core::Reference;
use runbeam_core::client::AuthorizeRequest;
use runbeam_e2e::{ANALYTICS_GW, BOB_SANCTUM, Cloud};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let cloud = rt.block_on(Cloud::start());
    let user = cloud.client(BOB_SANCTUM);
    let granted = rt
        .block_on(user.authorize(AuthorizeRequest::new(ANALYTICS_GW)))
        .unwrap_or_else(|e| panic!("{e}"));
    let machine_token = granted.machine_token.expose().to_string();
    let gateway = user.with_token(granted.machine_token);
    let api = format!("{}/api", cloud.url());
    let bare = reqwest::Client::new();
    let dicom = Reference::parse("runbeam.radiology-dept.ingress.name.dicomweb")
        .unwrap_or_else(|e| panic!("{e}"));
    let jwks_url = format!("{api}/.well-known/jwks.json");
    let resolve_url = format!("{api}/harmony/resources/resolve?ref={dicom}");

    let mut g = c.benchmark_group("client");
    g.bench_function("jwks/bare-reqwest", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = bare
                    .get(&jwks_url)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                black_box(response.json::<serde_json::Value>().await.ok())
            })
        })
    });
    g.bench_function("jwks/runbeam-client", |b| {
        b.iter(|| rt.block_on(async { black_box(gateway.jwks().await.ok()) }))
    });
    g.bench_function("resolve/bare-reqwest", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = bare
                    .get(&resolve_url)
                    .bearer_auth(&machine_token)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                black_box(response.json::<serde_json::Value>().await.ok())
            })
        })
    });
    g.bench_function("resolve/runbeam-client", |b| {
        b.iter(|| rt.block_on(async { black_box(gateway.resolve(&dicom).await.ok()) }))
    });
    g.finish();
    rt.block_on(cloud.dev.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
