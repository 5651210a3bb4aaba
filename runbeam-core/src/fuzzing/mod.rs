//! The parsers that see attacker, server or disk bytes, reachable without a network or a disk
//! layout: what the fuzz targets in `fuzz/` and the property tests drive (cargo feature
//! `fuzzing`, and in this crate's own tests). Not a public API: hidden from the docs and
//! subject to change.
//!
//! Each function returns normally for any input; a panic here is a bug in librunbeam.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::client::http::{Call, status_error};
use crate::client::{
    Acknowledgement, AuthorizeResult, BaseUrl, Change, Enveloped, Jwks, MeshTokenResult, Page,
    ResolveResult, Resource, UpdateResult, resources,
};
use crate::error::{Error, ErrorKind, Result};
use crate::jwt::keys::{JwksDoc, KeySet};
use crate::jwt::{Algorithm, Claims, Validator};

/// The issuer a [`JwtHarness`] trusts.
pub const ISSUER: &str = "https://api.fuzz.example/api";
/// The audience a [`JwtHarness`] requires.
pub const AUDIENCE: &str = "fuzz-gw";
/// The `kid` of the harness's signing key.
pub const KID: &str = "fuzz";

/// A validator with a key set already loaded (no I/O ever), and the private key of that set,
/// so that a fuzzer's header and claims can be signed and reach every check after the
/// signature.
pub struct JwtHarness {
    validator: Validator,
    key: Ed25519KeyPair,
}

impl Default for JwtHarness {
    fn default() -> Self {
        JwtHarness::new()
    }
}

impl JwtHarness {
    /// Trusts [`ISSUER`] for RS256 and EdDSA, requires [`AUDIENCE`], and loads a JWKS holding
    /// the harness's Ed25519 key (`kid` [`KID`]).
    pub fn new() -> JwtHarness {
        let key = Ed25519KeyPair::from_seed_unchecked(&[7; 32])
            .unwrap_or_else(|_| unreachable!("a 32-byte seed is a valid Ed25519 key"));
        let jwks = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"{KID}","use":"sig","x":"{}"}}]}}"#,
            URL_SAFE_NO_PAD.encode(key.public_key().as_ref())
        );
        let validator = Validator::builder()
            .trusted_issuer(ISSUER)
            .algorithms([Algorithm::Rs256, Algorithm::EdDsa])
            .audience(AUDIENCE)
            .jwks_ttl(Duration::from_secs(365 * 24 * 3600))
            .max_stale(Duration::from_secs(365 * 24 * 3600))
            .min_refresh_interval(Duration::from_secs(365 * 24 * 3600))
            .build()
            .unwrap_or_else(|e| unreachable!("the harness's validator is valid: {e}"));
        let allowed = validator.inner.algorithms.clone();
        for source in &validator.inner.sources {
            let doc: JwksDoc = serde_json::from_str(&jwks)
                .unwrap_or_else(|e| unreachable!("the harness's JWKS is valid: {e}"));
            source.preload(KeySet::from_document(doc, &allowed).0);
        }
        JwtHarness { validator, key }
    }

    /// The harness's validator.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// `validate_cached`: never needs I/O here (an unknown `kid` is an error, not a fetch).
    pub fn validate(&self, token: &str) -> Result<Arc<Claims>> {
        self.validator
            .validate_cached(token)
            .unwrap_or_else(asked_for_a_fetch)
    }

    /// `verify_mesh_token_cached` for mesh `mesh_id` and an optional destination.
    pub fn verify_mesh(
        &self,
        token: &str,
        mesh_id: &str,
        destination: Option<&str>,
    ) -> Result<Arc<Claims>> {
        self.validator
            .verify_mesh_token_cached(token, mesh_id, destination)
            .unwrap_or_else(asked_for_a_fetch)
    }

    /// A compact JWS of these exact header and payload bytes, signed (EdDSA) with the
    /// harness's key, whatever the header says.
    pub fn sign(&self, header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }
}

/// The harness's keys never need a fetch: asking for one is a bug of the harness.
fn asked_for_a_fetch() -> Result<Arc<Claims>> {
    Err(Error::new(
        ErrorKind::Internal,
        "the harness's validator asked for a fetch",
    ))
}

/// Parses a JWKS document as a fetch does (shape, then every key) for `allowed`; the number
/// of usable keys.
pub fn jwks_document(json: &[u8], allowed: &[Algorithm]) -> Result<usize> {
    let doc: JwksDoc = serde_json::from_slice(json)
        .map_err(|_| Error::new(ErrorKind::Protocol, "not a JWKS document"))?;
    Ok(KeySet::from_document(doc, allowed).0.len())
}

/// The Cloud API response body types, in the order [`response`] numbers them.
pub const RESPONSE_KINDS: [&str; 15] = [
    "AuthorizeResult",
    "Acknowledgement",
    "BaseUrl",
    "ResolveResult",
    "MeshTokenResult",
    "Jwks",
    "Change",
    "Page<Change>",
    "Vec<Change>",
    "UpdateResult",
    "Page<Value>",
    "Page<Resource>",
    "Page<model>",
    "model",
    "error body",
];

fn decode<T: DeserializeOwned>(body: &[u8]) -> bool {
    serde_json::from_slice::<T>(body).is_ok()
}

/// Decodes `body` as the response type number `kind` (modulo [`RESPONSE_KINDS`]) as the
/// client does; the last kind maps a 4xx/5xx body to an error, as for a failed call. Whether
/// it decoded.
pub fn response(kind: u8, body: &[u8]) -> bool {
    match usize::from(kind) % RESPONSE_KINDS.len() {
        0 => decode::<AuthorizeResult>(body),
        1 => decode::<Acknowledgement>(body),
        2 => decode::<BaseUrl>(body),
        3 => decode::<ResolveResult>(body),
        4 => decode::<MeshTokenResult>(body),
        5 => decode::<Jwks>(body),
        6 => decode::<Change>(body),
        7 => decode::<Page<Change>>(body),
        8 => decode::<Vec<Change>>(body),
        9 => decode::<UpdateResult>(body),
        10 => decode::<Page<serde_json::Value>>(body),
        11 => decode::<Page<Resource>>(body),
        // Every typed model (one body reaches each model's decoder).
        12 => [
            decode::<Page<resources::Gateway>>(body),
            decode::<Page<resources::Service>>(body),
            decode::<Page<resources::Endpoint>>(body),
            decode::<Page<resources::Backend>>(body),
            decode::<Page<resources::Pipeline>>(body),
            decode::<Page<resources::Mesh>>(body),
            decode::<Page<resources::Ingress>>(body),
            decode::<Page<resources::Egress>>(body),
        ]
        .contains(&true),
        // Every typed model (one body reaches each model's decoder).
        13 => [
            decode::<Enveloped<resources::Gateway>>(body),
            decode::<Enveloped<resources::Service>>(body),
            decode::<Enveloped<resources::Endpoint>>(body),
            decode::<Enveloped<resources::Backend>>(body),
            decode::<Enveloped<resources::Pipeline>>(body),
            decode::<Enveloped<resources::Mesh>>(body),
            decode::<Enveloped<resources::Ingress>>(body),
            decode::<Enveloped<resources::Egress>>(body),
        ]
        .contains(&true),
        _ => {
            let status = StatusCode::from_u16(400 + u16::from(kind % 200))
                .unwrap_or(StatusCode::BAD_REQUEST);
            let e = status_error(
                &Call::get("/fuzz"),
                status,
                None,
                body,
                Some("secret-token-value"),
            );
            !e.message().contains("secret-token-value")
        }
    }
}

/// The JWT hot path's own readers against their references, on any bytes: the base64url
/// decoder against the `base64` crate's `URL_SAFE_NO_PAD`, and (for UTF-8 text) the claims
/// scan and the header scan against serde's readings. Panics on any disagreement.
pub fn jwt_scan_agrees(data: &[u8]) {
    let reference = URL_SAFE_NO_PAD.decode(data).ok();
    assert_eq!(
        crate::jwt::base64url::decode_vec(data),
        reference,
        "base64url disagrees"
    );
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let show = |r: Result<Claims>| match r {
        Ok(c) => format!("{c:?}"),
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(
        show(Claims::parse(text.to_owned())),
        show(Claims::parse_serde(text.to_owned())),
        "the claims scan disagrees with serde"
    );
    if let Some((alg, kid)) = crate::jwt::claims_scan::scan_header(text) {
        #[derive(serde::Deserialize)]
        struct Header {
            alg: Option<String>,
            kid: Option<String>,
            crit: Option<serde::de::IgnoredAny>,
        }
        let header: std::result::Result<Header, _> = serde_json::from_str(text);
        assert!(
            header.is_ok_and(|h| h.alg.as_deref() == alg
                && h.kid.as_deref() == kid
                && h.crit.is_none()),
            "the header scan disagrees with serde"
        );
    }
}

/// A message from the D-Bus session bus, as the Secret Service client reads it (the bytes are
/// the whole message: its first 16 bytes size it). Returns whether it was read; when it was,
/// the length its fixed header gives is its length. Every other input is an error.
#[cfg(all(target_os = "linux", feature = "secret-service"))]
pub fn dbus_message(bytes: &[u8]) -> bool {
    use crate::storage::secret_service::wire;
    let read = wire::read_message(bytes).is_ok();
    if read {
        let sized = bytes.first_chunk::<16>().map(wire::message_len);
        assert_eq!(
            sized,
            Some(Ok(bytes.len())),
            "a message read was sized otherwise"
        );
    }
    read
}

mod edge;
pub use edge::{
    EDGE_BASES, STAGES, check_bearer_token, check_join_path, check_refusal, edge_request,
};

#[cfg(test)]
mod properties;
