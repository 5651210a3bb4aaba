//! The operations aws-lc's build setting can change, timed in this process: the RSA-2048
//! verification under every JWT check (the validator's floor), RSA signing (what
//! runbeam-devcloud does to mint tokens), and what a TLS handshake or record of the Cloud API
//! client costs (ECDHE, ECDSA certificate signatures, AES-GCM).
//!
//! `bash scripts/bench.sh aws-lc` builds it with and without `AWS_LC_SYS_SMALL` and runs the two
//! in turns. Each line: median of 9 rounds, min–max in brackets.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _};
use aws_lc_rs::{aead, agreement, rsa};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 9;

/// Median and range of `ROUNDS` rounds of `n` calls, in µs per call.
fn time(n: usize, mut op: impl FnMut()) -> (f64, f64, f64) {
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                op();
            }
            start.elapsed().as_secs_f64() * 1e6 / n as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    (rounds[ROUNDS / 2], rounds[0], rounds[ROUNDS - 1])
}

fn report(what: &str, (median, min, max): (f64, f64, f64)) {
    println!("  {what:<44} {median:9.2} us  [{min:.2}-{max:.2}]");
}

fn main() {
    let setting = option_env!("AWS_LC_SYS_SMALL").unwrap_or("unset");
    println!("aws-lc built with AWS_LC_SYS_SMALL={setting}");
    let rng = SystemRandom::new();
    let message = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJnYXRld2F5In0";

    let key = signature::RsaKeyPair::generate(rsa::KeySize::Rsa2048).expect("RSA key generation");
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
        .expect("RSA signing");
    let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(key.public_key());
    report(
        "RSA-2048 PKCS#1 SHA-256 verify (the JWT floor)",
        time(3000, || {
            public
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, &sig)
                .expect("verify")
        }),
    );
    report(
        "RSA-2048 PKCS#1 SHA-256 sign (devcloud)",
        time(200, || {
            key.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                .expect("sign")
        }),
    );

    for (what, alg) in [
        ("ECDHE X25519 (key pair + agreement)", &agreement::X25519),
        ("ECDHE P-256 (key pair + agreement)", &agreement::ECDH_P256),
        ("ECDHE P-384 (key pair + agreement)", &agreement::ECDH_P384),
    ] {
        let peer = agreement::EphemeralPrivateKey::generate(alg, &rng).expect("peer key");
        let peer_public = peer.compute_public_key().expect("peer public key");
        report(
            what,
            time(300, || {
                let ours = agreement::EphemeralPrivateKey::generate(alg, &rng).expect("key");
                black_box(ours.compute_public_key().expect("public key"));
                let theirs = agreement::UnparsedPublicKey::new(alg, peer_public.as_ref());
                agreement::agree_ephemeral(ours, theirs, (), |secret| {
                    black_box(secret);
                    Ok(())
                })
                .expect("agreement");
            }),
        );
    }

    for (what, signing, verifying) in [
        (
            "ECDSA P-256 SHA-256 verify (a certificate)",
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P256_SHA256_ASN1,
        ),
        (
            "ECDSA P-384 SHA-384 verify (a certificate)",
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &signature::ECDSA_P384_SHA384_ASN1,
        ),
    ] {
        let key = signature::EcdsaKeyPair::generate(signing).expect("ECDSA key");
        let sig = key.sign(&rng, message).expect("ECDSA signing");
        let public = signature::UnparsedPublicKey::new(verifying, key.public_key().as_ref());
        report(
            what,
            time(300, || {
                public.verify(message, sig.as_ref()).expect("verify")
            }),
        );
    }

    let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, &[7; 32]).expect("AES key");
    let key = aead::LessSafeKey::new(unbound);
    let mut record = vec![0; 16 * 1024];
    let timing = time(2000, || {
        let nonce = aead::Nonce::assume_unique_for_key([1; 12]);
        let tag = key
            .seal_in_place_separate_tag(nonce, aead::Aad::empty(), &mut record)
            .expect("seal");
        let _tag = black_box(tag);
    });
    report("AES-256-GCM seal of a 16 KiB TLS record", timing);
    let gigabytes_per_second = record.len() as f64 / timing.0 / 1e3;
    println!(
        "  {:<44} {gigabytes_per_second:9.2} GB/s",
        "AES-256-GCM throughput"
    );
}
