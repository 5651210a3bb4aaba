//! JWT validation cost per token against a bare RSA-2048 verification (the floor) and the
//! `jsonwebtoken` crate, on the same machine in the same run. Tokens are minted by an
//! in-process runbeam-devcloud; keys are fetched before timing.
//!
//! `cargo bench -p runbeam-e2e --bench jwt` (prints medians of 7 rounds, µs per token).

use std::time::{Duration, Instant};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use runbeam_core::jwt::Validator;
use runbeam_e2e::{ALICE_EMAIL, Cloud};
use serde_json::{Value, json};

const TOKENS: usize = 10_000;
const ROUNDS: usize = 7;
const REPEATS: usize = 200_000;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Median over rounds of the per-item time of `round` (which processes `items` items).
fn measure(items: usize, mut round: impl FnMut()) -> f64 {
    round(); // warm-up
    median(
        (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                round();
                start.elapsed().as_secs_f64() * 1e6 / items as f64
            })
            .collect(),
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cloud = rt.block_on(Cloud::start());
    let issuer = cloud.dev.api_root();
    let minted = rt.block_on(cloud.dev_post(
        "jwt",
        json!({"email": ALICE_EMAIL, "count": TOKENS, "ttl_secs": 3600}),
    ));
    let tokens: Vec<String> = minted["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let jwks: Value = rt.block_on(async {
        reqwest::get(format!("{issuer}/.well-known/jwks.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let key = &jwks["keys"][0];
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();

    // The floor: RSA-2048 PKCS#1 v1.5 SHA-256 verification, key parsed once, inputs decoded.
    let parsed = RsaPublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let decoded: Vec<(Vec<u8>, Vec<u8>)> = tokens
        .iter()
        .map(|t| {
            let (input, sig) = t.rsplit_once('.').unwrap();
            (
                input.as_bytes().to_vec(),
                URL_SAFE_NO_PAD.decode(sig).unwrap(),
            )
        })
        .collect();
    // jsonwebtoken 11 (aws-lc-rs backend), same checks.
    let decoding = jsonwebtoken::DecodingKey::from_rsa_raw_components(&n, &e);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[issuer.as_str()]);
    let fresh = |capacity: usize| {
        let v = Validator::builder()
            .trusted_issuer(issuer.as_str())
            .cache_capacity(capacity)
            .build()
            .unwrap();
        rt.block_on(v.refresh_keys()).unwrap();
        v
    };
    let per_token = |start: Instant| start.elapsed().as_secs_f64() * 1e6 / TOKENS as f64;

    // Rounds interleave the contenders so that noise on a shared machine hits all of them.
    let mut samples: [Vec<f64>; 4] = Default::default();
    for round in 0..=ROUNDS {
        let start = Instant::now();
        for (input, sig) in &decoded {
            parsed.verify_sig(input, sig).unwrap();
        }
        let floor = per_token(start);
        let start = Instant::now();
        for t in &tokens {
            jsonwebtoken::decode::<Value>(t, &decoding, &validation).unwrap();
        }
        let peer = per_token(start);
        let v = fresh(runbeam_core::jwt::DEFAULT_CACHE_CAPACITY);
        let start = Instant::now();
        for t in &tokens {
            v.validate_cached(t).unwrap().unwrap();
        }
        let ours = per_token(start);
        let v = fresh(0);
        let start = Instant::now();
        for t in &tokens {
            v.validate_cached(t).unwrap().unwrap();
        }
        let ours_no_cache = per_token(start);
        if round > 0 {
            for (s, x) in samples.iter_mut().zip([floor, peer, ours, ours_no_cache]) {
                s.push(x);
            }
        }
    }
    // Ratios are taken per round (against the floor of the same round), then their median.
    let ratio = |i: usize| {
        median(
            samples[i]
                .iter()
                .zip(&samples[0])
                .map(|(x, f)| x / f)
                .collect(),
        )
    };
    let (ours_ratio, no_cache_ratio) = (ratio(2), ratio(3));
    let [floor, jsonwebtoken_us, ours, ours_no_cache] = samples.map(median);
    let v = fresh(runbeam_core::jwt::DEFAULT_CACHE_CAPACITY);
    let one = &tokens[0];
    v.validate_cached(one).unwrap().unwrap();
    let repeated = measure(REPEATS, || {
        for _ in 0..REPEATS {
            v.validate_cached(one).unwrap().unwrap();
        }
    });

    println!("jwt/rust: {TOKENS} distinct RS256 tokens, medians of {ROUNDS} rounds, µs per token");
    println!("  floor: aws-lc-rs RSA-2048 verify (key parsed once)   {floor:8.2}");
    println!("  jsonwebtoken 11 decode                              {jsonwebtoken_us:8.2}");
    println!(
        "  runbeam Validator, distinct tokens                  {ours:8.2}   ({ours_ratio:.2}x the floor)"
    );
    println!(
        "  runbeam Validator, distinct, token cache off        {ours_no_cache:8.2}   ({no_cache_ratio:.2}x the floor)"
    );
    println!(
        "  runbeam Validator, one repeated token (cache hit)   {repeated:8.3}   ({:.0}x faster than distinct)",
        ours / repeated
    );
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), cloud.dev.shutdown())
            .await
            .ok();
    });
}
