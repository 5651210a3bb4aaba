//! What host logging costs on the hot path: a cached token validated and a cached reference
//! resolved with no sink (every binding's default until the host asks for records), with a
//! sink at `warn` and with a sink at `debug` — the hot path logs nothing, so the three should
//! match — and, for scale, a disabled record at a call site (`debug!` under a `warn` sink: one
//! atomic load) against an enabled one that reaches a sink.
//!
//! Run: `cargo bench -p runbeam-e2e --bench logging` (figures in BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group};
use runbeam_core::jwt::Validator;
use runbeam_core::log::{self, Level, Record};
use runbeam_e2e::{ALICE_EMAIL, Cloud, DICOMWEB};

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
    rt.block_on(resolver.resolve(DICOMWEB))
        .unwrap_or_else(|e| panic!("{e}"));
    let validator = Validator::builder()
        .trusted_issuer(format!("{}/api", cloud.url()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let token = rt.block_on(cloud.user_jwt(ALICE_EMAIL));
    for _ in 0..2 {
        rt.block_on(validator.validate(&token))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&delivered);
    let sink = Arc::new(move |r: &Record<'_>| {
        counter.fetch_add(black_box(r.message.len() as u64), Ordering::Relaxed);
    });

    let mut g = c.benchmark_group("logging");
    for (name, level) in [
        ("off", None),
        ("warn", Some(Level::Warn)),
        ("debug", Some(Level::Debug)),
    ] {
        match level {
            None => log::clear_sink(),
            Some(level) => log::set_sink(level, sink.clone()).unwrap_or_else(|e| panic!("{e}")),
        }
        g.bench_function(format!("validate_cached/{name}"), |b| {
            b.iter(|| black_box(validator.validate_cached(black_box(&token))))
        });
        g.bench_function(format!("resolve_cached/{name}"), |b| {
            b.iter(|| black_box(resolver.resolve_cached(black_box(DICOMWEB))))
        });
    }
    log::set_sink(Level::Warn, sink.clone()).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("record/disabled-debug-under-warn", |b| {
        b.iter(|| tracing::debug!(target: "runbeam::bench", value = black_box(1u64), "a record"))
    });
    g.bench_function("record/delivered-warn", |b| {
        b.iter(|| tracing::warn!(target: "runbeam::bench", value = black_box(1u64), "a record"))
    });
    log::clear_sink();
    g.finish();
    assert!(
        delivered.load(Ordering::Relaxed) > 0,
        "the delivered records reached the sink"
    );
    rt.block_on(cloud.dev.shutdown());
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
