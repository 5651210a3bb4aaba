//! Soak: 1,000,000 mixed hot-path calls in one process, as a gateway under hostile traffic
//! makes them, reporting resident memory along the way and every answer that was not the one
//! expected for its input.
//!
//! Run: `cargo bench -p runbeam-e2e --bench soak` (release build; a devcloud is started
//! in-process for the JWKS, the user JWT and the one resolve that fills the cache).
//!
//! The mix, in equal quarters, interleaved: a repeated valid user JWT (`validate_cached`, a
//! token-cache hit), an invalid token (malformed, an `alg` with a multi-byte character, a bad
//! signature, in turn), a resolver cache hit (`resolve_cached`), a reference parse (valid and
//! invalid in turn). Exits non-zero if any answer was unexpected.

use std::hint::black_box;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use runbeam_core::jwt::Validator;
use runbeam_core::{ErrorKind, Reference};
use runbeam_e2e::{ALICE_EMAIL, Cloud, DICOMWEB};

const CALLS: u64 = 1_000_000;
const WARM_UP: u64 = 10_000;
const CHECKPOINT: u64 = 100_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `token` with its header replaced by `header` (same payload and signature).
fn with_header(token: &str, header: &str) -> String {
    let (_, rest) = token.split_once('.').unwrap_or(("", token));
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header))
}

/// `token` with one signature character changed (still base64url, no longer the signature).
fn bad_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap_or((token, ""));
    let mut sig: Vec<u8> = signature.bytes().collect();
    if let Some(b) = sig.get_mut(10) {
        *b = if *b == b'A' { b'B' } else { b'A' };
    }
    format!("{signed}.{}", String::from_utf8_lossy(&sig))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let cloud = rt.block_on(Cloud::start());
    let resolver = cloud
        .analytics_resolver(3600)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(resolver.resolve(DICOMWEB))
        .unwrap_or_else(|e| panic!("{e}"));
    let validator = Validator::builder()
        .trusted_issuer(cloud.dev.api_root().as_str())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(validator.refresh_keys())
        .unwrap_or_else(|e| panic!("{e}"));
    let token = rt.block_on(cloud.user_jwt(ALICE_EMAIL));
    let header = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap_or_default())
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let multibyte_alg = with_header(&token, &header.replace("RS256", "a€b"));
    let bad_sig = bad_signature(&token);
    let invalid = ["not.a.jwt", multibyte_alg.as_str(), bad_sig.as_str()];
    let bad_reference = "runbeam.acme.widget.name.api";

    let mut unexpected = 0_u64;
    let mut note = |what: &str, detail: String| {
        if unexpected < 5 {
            eprintln!("unexpected answer to {what}: {detail}");
        }
        unexpected += 1;
    };
    let (mut start_rss, mut checkpoint_rss) = (0, 0);
    let started = Instant::now();
    let mut timed = started;
    for i in 0..CALLS {
        if i == WARM_UP {
            start_rss = rss_kib();
            timed = Instant::now();
        }
        if i == CHECKPOINT {
            checkpoint_rss = rss_kib();
        }
        let turn = i / 4;
        match i % 4 {
            0 => match validator.validate_cached(black_box(&token)) {
                Some(Ok(claims)) => {
                    black_box(claims);
                }
                other => note("a valid token", format!("{other:?}")),
            },
            1 => {
                let bad = invalid[(turn % 3) as usize];
                match validator.validate_cached(black_box(bad)) {
                    Some(Err(e)) if e.kind() == ErrorKind::JwtInvalid => {}
                    other => note("an invalid token", format!("{other:?}")),
                }
            }
            2 => match resolver.resolve_cached(black_box(DICOMWEB)) {
                Some(Ok(hit)) => {
                    black_box(hit);
                }
                other => note("a cached resolve", format!("{other:?}")),
            },
            _ => {
                let (text, valid) = if turn % 2 == 0 {
                    (DICOMWEB, true)
                } else {
                    (bad_reference, false)
                };
                match (Reference::parse(black_box(text)), valid) {
                    (Ok(r), true) => {
                        black_box(r);
                    }
                    (Err(e), false) if e.kind() == ErrorKind::InvalidReference => {}
                    (other, _) => note("a reference parse", format!("{other:?}")),
                }
            }
        }
    }
    let elapsed = timed.elapsed();
    let end_rss = rss_kib();
    let growth = (end_rss as f64 - start_rss as f64) / start_rss.max(1) as f64 * 100.0;
    println!(
        "soak/rust: {CALLS} calls, RSS after warm-up {:.1} MiB, after 100k {:.1} MiB, at the end \
         {:.1} MiB (growth after warm-up {growth:+.1} %), unexpected answers {unexpected}, \
         {:.0} ns per call on average",
        mib(start_rss),
        mib(checkpoint_rss),
        mib(end_rss),
        elapsed.as_nanos() as f64 / (CALLS - WARM_UP) as f64,
    );
    if unexpected > 0 {
        std::process::exit(1);
    }
}
