//! Distinct-token validation on both cores: one shared `Validator` (token cache on, keys
//! fetched before timing) on 10,000 distinct RS256 tokens minted by an in-process
//! runbeam-devcloud, one at a time on one thread vs many in flight on a tokio multi-thread
//! runtime (2 workers) and vs 2 std threads; the aws-lc-rs RSA-2048 floor at 1 vs 2 threads in
//! the same rounds is the ceiling of what 2 cores give on this machine at that moment.
//! Last, cache hits: 1,000 remembered tokens answered over and over on 1 thread vs by each of
//! 2 threads (what a lock or a reference count that the threads share costs shows most there).
//!
//! `cargo bench -p runbeam-e2e --bench throughput` (prints medians of 7 rounds with min–max,
//! in tokens per second, and each parallel row's speed-up over the one-at-a-time row of the
//! same round; then the process CPU time per token of each row and its ratio to the
//! one-at-a-time row: what running on two cores at once adds to a token's cost, which a
//! machine shared with other work does not hide the way it hides wall-clock speed-ups).

use std::sync::Arc;
use std::time::Instant;

use runbeam_core::jwt::{DEFAULT_CACHE_CAPACITY, Validator};

#[path = "support/jwt_fixture.rs"]
#[allow(dead_code)] // thread_cpu_time is the jwt bench's
mod jwt_fixture;
use jwt_fixture::{Fixture, load_average, median, process_cpu_time, spread};

const TOKENS: usize = 10_000;
const ROUNDS: usize = 7;
/// Tasks in flight in the "64 tasks" row (each validates every 64th token).
const IN_FLIGHT: usize = 64;
const THREADS: usize = 2;
/// Tokens kept in the cache for the cache-hit rows, each answered `HIT_PASSES` times per row.
const HOT: usize = 1_000;
const HIT_PASSES: usize = 50;

/// Tokens per second of `run` over `TOKENS` tokens, and the process CPU time per token in µs.
fn rate(run: impl FnOnce()) -> (f64, f64) {
    per(TOKENS, run)
}

/// [`rate`] of `run` answering `n` tokens.
fn per(n: usize, run: impl FnOnce()) -> (f64, f64) {
    let (start, cpu) = (Instant::now(), process_cpu_time());
    run();
    let cpu = (process_cpu_time() - cpu).as_secs_f64();
    (
        n as f64 / start.elapsed().as_secs_f64(),
        cpu * 1e6 / n as f64,
    )
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

/// Row `i`'s per-round ratios to row `base` of the same round (a speed-up, or a CPU ratio).
fn ratios(rows: &[Vec<f64>], i: usize, base: usize) -> Vec<f64> {
    rows[i]
        .iter()
        .zip(&rows[base])
        .map(|(x, b)| x / b)
        .collect()
}

/// Prints each row's median (min–max) with `digits` decimals and, where `base_of` names a base
/// row, the median (min–max) of its per-round ratios to it with `ratio_digits` decimals.
fn print_rows(
    names: &[&str],
    rows: &[Vec<f64>],
    base_of: impl Fn(usize) -> Option<usize>,
    digits: usize,
    ratio_digits: usize,
) {
    for (i, name) in names.iter().enumerate() {
        let (lo, hi) = spread(&rows[i]);
        let mut line = format!(
            "  {name:<55}{:9.digits$}  ({lo:.digits$}-{hi:.digits$})",
            median(rows[i].clone())
        );
        if let Some(base) = base_of(i) {
            let r = ratios(rows, i, base);
            let (rlo, rhi) = spread(&r);
            line += &format!(
                "  {:.ratio_digits$}x ({rlo:.ratio_digits$}-{rhi:.ratio_digits$})",
                median(r)
            );
        }
        println!("{line}");
    }
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
        "cache hits (1,000 repeated tokens), 1 thread",
        "cache hits (1,000 repeated tokens), 2 std threads",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
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
        // Cache hits: `HOT` tokens verified twice (remembered from the second time), then
        // answered again and again: the hot path of a gateway whose clients repeat their
        // tokens, where a lock or a reference count shared by the threads shows most.
        let v = fresh();
        let hot = &tokens[..HOT];
        validate_all(&v, hot);
        validate_all(&v, hot);
        // Every thread answers every hot token (as a gateway's workers see the same clients),
        // each from another starting point, so two threads rarely ask for one token at once.
        let hits = |from: usize| {
            for _ in 0..HIT_PASSES {
                validate_all(&v, &hot[from..]);
                validate_all(&v, &hot[..from]);
            }
        };
        row.push(per(HOT * HIT_PASSES, || hits(0)));
        row.push(per(THREADS * HOT * HIT_PASSES, || {
            on_threads(|part| hits(part * HOT / THREADS));
        }));
        if round > 0 {
            for ((s, c), (x, per_token)) in samples.iter_mut().zip(&mut cpu).zip(row) {
                s.push(x);
                c.push(per_token);
            }
        }
    }
    // Speed-ups are taken per round against the one-at-a-time row of the same round (the
    // floor's 2 threads against its 1 thread), then their median.
    let base_of = |i: usize| match i {
        1 => Some(0),
        4..=7 => Some(2),
        9 => Some(8),
        _ => None,
    };
    println!(
        "throughput/rust: {TOKENS} distinct RS256 tokens, one shared validator (cache on unless \
         said), medians of {ROUNDS} rounds (min-max), tokens/s"
    );
    print_rows(&names, &samples, base_of, 0, 2);
    println!(
        "  process CPU per token, µs, median (min-max), and its ratio to the same round's \
         one-at-a-time row (1 thread for the floor):"
    );
    print_rows(&names, &cpu, base_of, 2, 3);
    let per_token = |i: usize| 1e6 / median(samples[i].clone());
    println!(
        "  one at a time: {:.2} µs per token = {:.2}x the floor's {:.2} µs (median of rounds)",
        per_token(2),
        median(ratios(&samples, 0, 2)),
        per_token(0)
    );
    println!(
        "  load average before / after: {load_before} / {}",
        load_average()
    );
    fx.shutdown();
}
