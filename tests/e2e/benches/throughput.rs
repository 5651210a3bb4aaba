//! Distinct-token validation on both cores: one shared `Validator` (token cache on, keys
//! fetched before timing) on 10,000 distinct RS256 tokens minted by an in-process
//! runbeam-devcloud, one at a time on one thread vs many in flight on a tokio multi-thread
//! runtime (2 workers) and vs 2 std threads; the aws-lc-rs RSA-2048 floor at 1 vs 2 threads in
//! the same rounds is the ceiling of what 2 cores give on this machine at that moment.
//!
//! `cargo bench -p runbeam-e2e --bench throughput` (prints medians of 7 rounds with min–max,
//! in tokens per second, and each parallel row's speed-up over the one-at-a-time row of the
//! same round).

use std::sync::Arc;
use std::time::Instant;

use runbeam_core::jwt::{DEFAULT_CACHE_CAPACITY, Validator};

#[path = "support/jwt_fixture.rs"]
#[allow(dead_code)] // thread_cpu_time is the jwt bench's
mod jwt_fixture;
use jwt_fixture::{Fixture, load_average, median, spread};

const TOKENS: usize = 10_000;
const ROUNDS: usize = 7;
/// Tasks in flight in the "64 tasks" row (each validates every 64th token).
const IN_FLIGHT: usize = 64;
const THREADS: usize = 2;

/// Tokens per second of `run` over `TOKENS` tokens.
fn rate(run: impl FnOnce()) -> f64 {
    let start = Instant::now();
    run();
    TOKENS as f64 / start.elapsed().as_secs_f64()
}

/// Runs `work(part)` for parts `0..THREADS` on as many std threads.
fn on_threads(work: impl Fn(usize) + Sync) {
    std::thread::scope(|s| {
        for part in 0..THREADS {
            let work = &work;
            s.spawn(move || work(part));
        }
    });
}

fn main() {
    let fx = Fixture::start(TOKENS);
    let load_before = load_average();
    let tokens: Arc<Vec<String>> = Arc::new(fx.tokens.clone());
    let floor_key = fx.floor_key();
    let inputs = fx.floor_inputs();
    let chunk = TOKENS.div_ceil(THREADS);
    // A fresh validator per row and round: every token is new to its cache.
    let fresh = || fx.validator(DEFAULT_CACHE_CAPACITY);
    let validate_all = |v: &Validator, part: &[String]| {
        for t in part {
            v.validate_cached(t).unwrap().unwrap();
        }
    };

    let names = [
        "floor: aws-lc-rs RSA-2048 verify, 1 thread",
        "floor: aws-lc-rs RSA-2048 verify, 2 threads",
        "Validator, one at a time, 1 thread (validate_cached)",
        "Validator, one at a time, 1 thread (validate().await)",
        "Validator, 2 std threads (validate_cached)",
        "Validator, 2 std threads, token cache off",
        "Validator, tokio 2 workers, 64 tasks in flight",
        "Validator, tokio 2 workers, a task per token",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..=ROUNDS {
        let mut row = Vec::with_capacity(names.len());
        row.push(rate(|| {
            for (input, sig) in &inputs {
                floor_key.verify_sig(input, sig).unwrap();
            }
        }));
        row.push(rate(|| {
            on_threads(|part| {
                for (input, sig) in inputs.chunks(chunk).nth(part).unwrap_or_default() {
                    floor_key.verify_sig(input, sig).unwrap();
                }
            });
        }));
        let v = fresh();
        row.push(rate(|| validate_all(&v, &tokens)));
        let v = fresh();
        row.push(rate(|| {
            fx.rt.block_on(async {
                for t in tokens.iter() {
                    v.validate(t).await.unwrap();
                }
            });
        }));
        let v = fresh();
        row.push(rate(|| {
            on_threads(|part| validate_all(&v, tokens.chunks(chunk).nth(part).unwrap_or_default()));
        }));
        let v = fx.validator(0);
        row.push(rate(|| {
            on_threads(|part| validate_all(&v, tokens.chunks(chunk).nth(part).unwrap_or_default()));
        }));
        let v = fresh();
        row.push(rate(|| {
            fx.rt.block_on(async {
                let tasks: Vec<_> = (0..IN_FLIGHT)
                    .map(|k| {
                        let (v, tokens) = (v.clone(), Arc::clone(&tokens));
                        tokio::spawn(async move {
                            for t in tokens.iter().skip(k).step_by(IN_FLIGHT) {
                                v.validate(t).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
        }));
        let v = fresh();
        row.push(rate(|| {
            fx.rt.block_on(async {
                let tasks: Vec<_> = (0..TOKENS)
                    .map(|i| {
                        let (v, tokens) = (v.clone(), Arc::clone(&tokens));
                        tokio::spawn(async move {
                            v.validate(&tokens[i]).await.unwrap();
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
        }));
        if round > 0 {
            for (s, x) in samples.iter_mut().zip(row) {
                s.push(x);
            }
        }
    }
    // Speed-ups are taken per round against the one-at-a-time row of the same round (the
    // floor's 2 threads against its 1 thread), then their median.
    let speedup = |i: usize, base: usize| -> Vec<f64> {
        samples[i]
            .iter()
            .zip(&samples[base])
            .map(|(x, b)| x / b)
            .collect()
    };
    println!(
        "throughput/rust: {TOKENS} distinct RS256 tokens, one shared validator (cache on unless \
         said), medians of {ROUNDS} rounds (min-max), tokens/s"
    );
    for (i, name) in names.iter().enumerate() {
        let (lo, hi) = spread(&samples[i]);
        let mut line = format!(
            "  {name:<55}{:9.0}  ({lo:.0}-{hi:.0})",
            median(samples[i].clone())
        );
        let base = match i {
            1 => Some(0),
            4..=7 => Some(2),
            _ => None,
        };
        if let Some(base) = base {
            let r = speedup(i, base);
            let (rlo, rhi) = spread(&r);
            line += &format!("  {:.2}x ({rlo:.2}-{rhi:.2})", median(r));
        }
        println!("{line}");
    }
    let per_token = |i: usize| 1e6 / median(samples[i].clone());
    println!(
        "  one at a time: {:.2} µs per token = {:.2}x the floor's {:.2} µs (median of rounds)",
        per_token(2),
        median(speedup(0, 2)),
        per_token(0)
    );
    println!(
        "  load average before / after: {load_before} / {}",
        load_average()
    );
    fx.shutdown();
}
