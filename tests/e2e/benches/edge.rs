//! What the HTTP edge adds per request on the cached path, each step next to the call it
//! wraps, on the same machine in the same run (keys, resolution and mesh token cached first
//! against an in-process runbeam-devcloud; nothing here does I/O):
//!
//! - `edge/user/*`: `Validator::authenticate_attempt(Some("Bearer <jwt>"))` (the inbound user
//!   check every middleware makes: header parsed, cached validation, an `Attempt`) against
//!   `validate_cached(<jwt>)` alone;
//! - `edge/outbound/*`: `Resolver::outbound_cached(reference, path)` (resolution, mesh context,
//!   `join_path`, cached mesh token, `Authorization` value built) and `outbound_attempt`
//!   against `resolve_cached(reference)` alone;
//! - `edge/mesh/*`: the inbound mesh guard `verify_mesh_request_attempt` with the served URL
//!   made by `join_path` against `verify_mesh_token_cached` alone;
//! - `edge/join_path/*`: a DICOMweb path with a query, a 1 KiB path with escapes, and a
//!   refused `%2f` path; `edge/refusal/*`: `Refusal::from_error` of a 401 and of a 503, and
//!   the 503's `headers()`.
//!
//! Run: `cargo bench -p runbeam-e2e --bench edge -- --noplot` (figures in BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use runbeam_core::attempt::Attempt;
use runbeam_core::edge::{Refusal, Stage, join_path};
use runbeam_core::jwt::Validator;
use runbeam_core::resolve::Resolver;
use runbeam_core::{Error, ErrorKind};
use runbeam_e2e::{ALICE_EMAIL, ALICE_SANCTUM, Cloud, DICOM_URL, DICOMWEB, MESH, RADIOLOGY_GW};

const PATH: &str = "/studies?modality=CT&limit=25";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// The answer of an attempt that must be ready (the cached path).
fn ready<T>(attempt: Attempt<T>) -> Option<T> {
    match attempt {
        Attempt::Ready(answer) => answer.ok(),
        Attempt::Pending(_) => panic!("the cached path needed I/O"),
    }
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let cloud = rt.block_on(Cloud::start());

    let validator = Validator::builder()
        .trusted_issuer(cloud.dev.api_root())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let token = rt.block_on(cloud.user_jwt(ALICE_EMAIL));
    let header = format!("Bearer {token}");
    for _ in 0..2 {
        rt.block_on(validator.validate(&token))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(ready(validator.authenticate_attempt(Some(&header))).is_some());

    let sender = cloud
        .analytics_resolver(300)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let out = rt
        .block_on(sender.outbound(DICOMWEB, PATH))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(ready(sender.outbound_attempt(DICOMWEB, PATH)).is_some());

    let receiver = Resolver::builder(
        cloud.radiology_config(),
        cloud.builder().build().unwrap_or_else(|e| panic!("{e}")),
        cloud.token_manager(RADIOLOGY_GW, ALICE_SANCTUM),
    )
    .build()
    .unwrap_or_else(|e| panic!("{e}"));
    let mesh_token = out
        .authorization()
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("a bearer header"))
        .to_string();
    let served = join_path(DICOM_URL, PATH).unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(receiver.verify_mesh_token(&mesh_token, MESH, Some(&served)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        ready(receiver.verify_mesh_request_attempt(Some(out.authorization()), MESH, Some(&served)))
            .is_some()
    );

    let mut g = c.benchmark_group("edge");
    g.bench_function("user/validate_cached", |b| {
        b.iter(|| black_box(validator.validate_cached(black_box(&token))))
    });
    g.bench_function("user/authenticate_attempt", |b| {
        b.iter(|| {
            black_box(ready(
                validator.authenticate_attempt(Some(black_box(&header))),
            ))
        })
    });

    g.bench_function("outbound/resolve_cached", |b| {
        b.iter(|| black_box(sender.resolve_cached(black_box(DICOMWEB))))
    });
    g.bench_function("outbound/outbound_cached", |b| {
        b.iter(|| black_box(sender.outbound_cached(black_box(DICOMWEB), black_box(PATH))))
    });
    g.bench_function("outbound/outbound_attempt", |b| {
        b.iter(|| {
            black_box(ready(
                sender.outbound_attempt(black_box(DICOMWEB), black_box(PATH)),
            ))
        })
    });

    g.bench_function("mesh/verify_mesh_token_cached", |b| {
        b.iter(|| {
            black_box(receiver.verify_mesh_token_cached(
                black_box(&mesh_token),
                MESH,
                Some(&served),
            ))
        })
    });
    g.bench_function("mesh/verify_mesh_request_attempt+join_path", |b| {
        b.iter(|| {
            let served = join_path(DICOM_URL, black_box(PATH)).ok();
            black_box(ready(receiver.verify_mesh_request_attempt(
                Some(black_box(out.authorization())),
                MESH,
                served.as_deref(),
            )))
        })
    });

    let long = format!("/studies/{}?q=%C3%A9", "1.2.840.10008%2B5/".repeat(56));
    assert!(long.len() > 1024 && join_path(DICOM_URL, &long).is_ok());
    g.bench_function("join_path/dicomweb", |b| {
        b.iter(|| black_box(join_path(black_box(DICOM_URL), black_box(PATH))))
    });
    g.bench_function("join_path/1KiB-escapes", |b| {
        b.iter(|| black_box(join_path(black_box(DICOM_URL), black_box(&long))))
    });
    g.bench_function("join_path/refused-%2f", |b| {
        b.iter(|| {
            black_box(join_path(
                black_box(DICOM_URL),
                black_box("/a%2f..%2fadmin"),
            ))
        })
    });

    let expired = Error::new(ErrorKind::JwtExpired, "the token expired");
    let refused = Error::new(ErrorKind::Transport, "connection refused");
    g.bench_function("refusal/from_error-401", |b| {
        b.iter(|| black_box(Refusal::from_error(black_box(&expired), Stage::UserToken)))
    });
    g.bench_function("refusal/from_error-503", |b| {
        b.iter(|| black_box(Refusal::from_error(black_box(&refused), Stage::Outbound)))
    });
    g.bench_function("refusal/from_error-503+headers", |b| {
        b.iter(|| black_box(Refusal::from_error(black_box(&refused), Stage::Outbound).headers()))
    });
    g.finish();
    rt.block_on(cloud.dev.shutdown());
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
