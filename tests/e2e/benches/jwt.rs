//! JWT validation cost per token against a bare RSA-2048 verification (the floor) and the
//! `jsonwebtoken` crate, on the same machine in the same run. Tokens are minted by an
//! in-process runbeam-devcloud; keys are fetched before timing.
//!
//! `cargo bench -p runbeam-e2e --bench jwt` (prints medians of 15 rounds with their min–max,
//! µs per token, and each contender's ratio to the floor of the same round). Each contender is
//! timed by the thread's CPU time (what the work costs, without the time the thread waits for a
//! core on a shared machine) and by the wall clock.

use std::time::Instant;

use runbeam_core::jwt::DEFAULT_CACHE_CAPACITY;
use serde_json::Value;

#[path = "support/jwt_fixture.rs"]
#[allow(dead_code)] // process_cpu_time is the throughput bench's
mod jwt_fixture;
use jwt_fixture::{Fixture, load_average, median, spread, thread_cpu_time};

const TOKENS: usize = 10_000;
const ROUNDS: usize = 15;
const REPEATS: usize = 200_000;

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
    let fx = Fixture::start(TOKENS);
    let load_before = load_average();
    let tokens = &fx.tokens;
    // The floor: RSA-2048 PKCS#1 v1.5 SHA-256 verification, key parsed once, inputs decoded.
    let parsed = fx.floor_key();
    let decoded = fx.floor_inputs();
    // jsonwebtoken 11 (aws-lc-rs backend), same checks.
    let decoding = jsonwebtoken::DecodingKey::from_rsa_raw_components(&fx.n, &fx.e);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[fx.issuer.as_str()]);
    // µs per token of `run`: (thread CPU time, wall clock).
    let per_token = |run: &mut dyn FnMut()| {
        let (cpu, wall) = (thread_cpu_time(), Instant::now());
        run();
        let us = |d: std::time::Duration| d.as_secs_f64() * 1e6 / TOKENS as f64;
        (
            us(thread_cpu_time().saturating_sub(cpu)),
            us(wall.elapsed()),
        )
    };

    // Rounds interleave the contenders so that noise on a shared machine hits all of them.
    let mut samples: [Vec<f64>; 4] = Default::default();
    let mut wall: [Vec<f64>; 4] = Default::default();
    for round in 0..=ROUNDS {
        let floor = per_token(&mut || {
            for (input, sig) in &decoded {
                parsed.verify_sig(input, sig).unwrap();
            }
        });
        let peer = per_token(&mut || {
            for t in tokens {
                jsonwebtoken::decode::<Value>(t, &decoding, &validation).unwrap();
            }
        });
        let v = fx.validator(DEFAULT_CACHE_CAPACITY);
        let ours = per_token(&mut || {
            for t in tokens {
                v.validate_cached(t).unwrap().unwrap();
            }
        });
        let v = fx.validator(0);
        let ours_no_cache = per_token(&mut || {
            for t in tokens {
                v.validate_cached(t).unwrap().unwrap();
            }
        });
        if round > 0 {
            for ((s, w), (cpu, clock)) in
                samples
                    .iter_mut()
                    .zip(wall.iter_mut())
                    .zip([floor, peer, ours, ours_no_cache])
            {
                s.push(cpu);
                w.push(clock);
            }
        }
    }
    // Ratios are taken per round (against the floor of the same round), then their median.
    let ratios = |samples: &[Vec<f64>; 4], i: usize| -> Vec<f64> {
        samples[i]
            .iter()
            .zip(&samples[0])
            .map(|(x, f)| x / f)
            .collect()
    };
    let v = fx.validator(DEFAULT_CACHE_CAPACITY);
    let one = &tokens[0];
    v.validate_cached(one).unwrap().unwrap();
    v.validate_cached(one).unwrap().unwrap();
    let repeated = measure(REPEATS, || {
        for _ in 0..REPEATS {
            v.validate_cached(one).unwrap().unwrap();
        }
    });

    println!(
        "jwt/rust: {TOKENS} distinct RS256 tokens, medians of {ROUNDS} rounds (min-max), µs per token"
    );
    let names = [
        "floor: aws-lc-rs RSA-2048 verify (key parsed once)",
        "jsonwebtoken 11 decode",
        "runbeam Validator, distinct tokens (cache on)",
        "runbeam Validator, distinct, token cache off",
    ];
    for (what, samples) in [("thread CPU time", &samples), ("wall clock", &wall)] {
        println!(" {what}:");
        for (i, name) in names.iter().enumerate() {
            let (lo, hi) = spread(&samples[i]);
            let line = format!(
                "  {name:<52}{:8.2}  ({lo:.2}-{hi:.2})",
                median(samples[i].clone())
            );
            if i == 0 {
                println!("{line}");
            } else {
                let r = ratios(samples, i);
                let (rlo, rhi) = spread(&r);
                println!("{line}  {:.2}x the floor ({rlo:.2}-{rhi:.2})", median(r));
            }
        }
    }
    println!(
        "  {:<52}{repeated:8.3}  ({:.0}x faster than distinct)",
        "runbeam Validator, one repeated token (cache hit)",
        median(samples[2].clone()) / repeated
    );
    println!(
        "  load average before / after: {load_before} / {}",
        load_average()
    );
    fx.shutdown();
}
