//! Reference parse/display benchmarks.
//!
//! Run: `cargo bench -p runbeam-core --bench reference`
//!
//! `naive_split` is the peer: a loose `split('.')` parser that allocates a `String` per part
//! and checks nothing, i.e. what a gateway would write by hand; it shows what strictness costs.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use runbeam_core::Reference;

const FULL: &str = "runbeam.acme-healthcare.ingress.name.fhir-api";
const FULL_UPPER_TYPE: &str = "runbeam.acme-healthcare.INGRESS.name.fhir-api";
const PROVIDER_ID: &str = "runbeam.id.01J9Z3ABCDEF";
const LOCAL: &str = "my-local-ingress";

#[allow(dead_code)]
struct Naive {
    provider: String,
    team: Option<String>,
    kind: Option<String>,
    lookup: String,
    value: String,
}

fn naive_split(text: &str) -> Option<Naive> {
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        [p, t, k, l, v] => Some(Naive {
            provider: p.to_string(),
            team: Some(t.to_string()),
            kind: Some(k.to_lowercase()),
            lookup: l.to_string(),
            value: v.to_string(),
        }),
        [p, l, v] => Some(Naive {
            provider: p.to_string(),
            team: None,
            kind: None,
            lookup: l.to_string(),
            value: v.to_string(),
        }),
        _ => None,
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("reference");
    for (name, text) in [
        ("parse/full-5-segments", FULL),
        ("parse/full-uppercase-type", FULL_UPPER_TYPE),
        ("parse/provider-id", PROVIDER_ID),
        ("parse/local-name", LOCAL),
    ] {
        g.bench_function(name, |b| b.iter(|| Reference::parse(black_box(text))));
    }
    g.bench_function("parse/invalid-type (error path)", |b| {
        b.iter(|| Reference::parse(black_box("runbeam.acme.widget.name.api")))
    });
    g.bench_function("peer/naive-split-5-segments", |b| {
        b.iter(|| naive_split(black_box(FULL)))
    });
    let parsed = Reference::parse(FULL).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("display/full-5-segments", |b| {
        b.iter(|| black_box(&parsed).to_string())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
