//! What the `jwt` and `throughput` benches share: an in-process runbeam-devcloud that mints
//! distinct RS256 tokens, its signing key parsed once for the aws-lc-rs floor, fresh
//! validators with their keys fetched before timing, and medians.

use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use runbeam_core::jwt::Validator;
use runbeam_e2e::{ALICE_EMAIL, Cloud};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

/// A devcloud, `count` distinct tokens of Alice it minted (valid for an hour), and the RSA
/// components of its signing key.
pub struct Fixture {
    /// The runtime the devcloud runs on (multi-thread, 2 workers).
    pub rt: Runtime,
    cloud: Cloud,
    /// The devcloud's issuer (`<url>/api`).
    pub issuer: String,
    /// Distinct RS256 tokens.
    pub tokens: Vec<String>,
    /// The signing key's modulus and exponent (big-endian bytes).
    pub n: Vec<u8>,
    /// See `n`.
    pub e: Vec<u8>,
}

impl Fixture {
    /// Starts the devcloud and mints `count` tokens.
    pub fn start(count: usize) -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cloud = rt.block_on(Cloud::start());
        let issuer = cloud.dev.api_root();
        let minted = rt.block_on(cloud.dev_post(
            "jwt",
            json!({"email": ALICE_EMAIL, "count": count, "ttl_secs": 3600}),
        ));
        let tokens: Vec<String> = minted["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert_eq!(tokens.len(), count);
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
        Fixture {
            rt,
            cloud,
            issuer,
            tokens,
            n,
            e,
        }
    }

    /// The floor's key: RSA-2048 PKCS#1 v1.5 SHA-256, parsed once.
    pub fn floor_key(&self) -> ParsedPublicKey {
        RsaPublicKeyComponents {
            n: &self.n[..],
            e: &self.e[..],
        }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .unwrap()
    }

    /// The floor's inputs: each token's signing input and decoded signature.
    pub fn floor_inputs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.tokens
            .iter()
            .map(|t| {
                let (input, sig) = t.rsplit_once('.').unwrap();
                (
                    input.as_bytes().to_vec(),
                    URL_SAFE_NO_PAD.decode(sig).unwrap(),
                )
            })
            .collect()
    }

    /// A validator trusting the devcloud with a token cache of `capacity` (0: off), keys
    /// fetched.
    pub fn validator(&self, capacity: usize) -> Validator {
        let v = Validator::builder()
            .trusted_issuer(self.issuer.as_str())
            .cache_capacity(capacity)
            .build()
            .unwrap();
        self.rt.block_on(v.refresh_keys()).unwrap();
        v
    }

    /// Stops the devcloud.
    pub fn shutdown(self) {
        self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), self.cloud.dev.shutdown())
                .await
                .ok();
        });
    }
}

/// The median of `samples`.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The smallest and the largest of `samples`.
pub fn spread(samples: &[f64]) -> (f64, f64) {
    samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// The machine's load average (1, 5, 15 minutes), as `/proc/loadavg` gives it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU time consumed by the calling thread so far: unlike the wall clock, it does not count
/// the time the thread waits for a core on a shared machine.
pub fn thread_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time consumed by every thread of the process so far.
pub fn process_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to; the clock id is a constant of libc.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock})");
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}
