//! Mesh tokens of meshes whose provider is `local` (docs/spec.md §2.1, §3.3, §6): no Cloud signs
//! them, so the gateways of the mesh issue and verify them with the key their configuration
//! names.
//!
//! - **The algorithm is fixed by the configuration, never by the token.** A key pair
//!   (`jwt_private_key_path` and/or `jwt_public_key_path`, PEM RSA keys of 2048 to 8192 bits)
//!   means RS256; `jwt_secret` (at least [`MIN_HS256_SECRET_BYTES`] bytes) means HS256. Both on
//!   one mesh is a configuration problem. A token whose header names any other algorithm —
//!   `none`, HS256 at an RS256 mesh (the public key used as an HMAC secret), RS256 at an HS256
//!   mesh — is refused before its signature is looked at.
//! - **Roles.** The private key issues, the public key verifies; with only a private key the
//!   gateway verifies with its public half, with only a public key it verifies and cannot
//!   issue. The secret of an HS256 mesh does both.
//! - **Claims** follow the Cloud's mesh tokens: `iss = local:<mesh id>`, `sub =
//!   gateway:<gateway>`, `aud = mesh:<mesh id>`, a random `jti`, `mesh_id`, `dest_url`, `iat`
//!   and `exp` five minutes later; the header names the key (`kid`: the RFC 7638 thumbprint of
//!   the RSA public key, or a digest keyed by the secret).
//! - **Checks** are the validator's own ([`super::validator::check_times`],
//!   [`super::validator::check_rules`], [`super::mesh::check_mesh`], the compact-form decoder
//!   and the size limit), plus the issuer and the key id. Verified tokens are remembered in a
//!   [`VerifiedCache`] of this key (time claims checked again on every hit); a key that changes
//!   on reload comes with a new, empty cache.
//! - **Key files** are read when the resolver is built and on every reload. A private key file
//!   that its group or others may access is refused (as ssh does, and as the token store
//!   refuses its key file, docs/spec.md §5.2). Errors are `Config`, name the TOML path and the
//!   file, and never contain key material; the bytes read are zeroized, and the parsed keys
//!   live inside aws-lc, which clears them when they are freed.

use std::fmt;
use std::io::Read as _;
use std::sync::Arc;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, PublicKey, PublicKeyComponents};
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::cache::{TokenKey, VerifiedCache};
use super::claims::Claims;
use super::compact::{Parts, Scratch, check_token_size, decode_with, invalid};
use super::mesh::check_mesh;
use super::validator::{check_rules, check_times, unix_now};
use crate::client::MeshTokenResult;
use crate::config::Mesh;
use crate::error::{Error, ErrorKind, Problem, Result, quote_input};
use crate::secret::Secret;

/// The shortest `jwt_secret` an HS256 mesh accepts, in bytes (the secret's UTF-8 bytes are the
/// HMAC key): 256 bits, the size of the SHA-256 output (RFC 7518 §3.2).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// How long a locally issued mesh token lives, as the Cloud's (docs/spec.md §3.3).
pub const LOCAL_MESH_TOKEN_LIFETIME_SECS: i64 = 300;

/// Key files larger than this are refused (a 8192-bit RSA key in PEM is about 6.5 KiB).
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The issuer of a local mesh's tokens: `local:<mesh id>`.
///
/// ```
/// assert_eq!(runbeam_core::jwt::local_mesh_issuer("imaging"), "local:imaging");
/// ```
pub fn local_mesh_issuer(mesh_id: &str) -> String {
    format!("{}:{mesh_id}", crate::reference::LOCAL_PROVIDER)
}

/// The algorithm a local mesh's configuration fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalAlgorithm {
    Rs256,
    Hs256,
}

impl LocalAlgorithm {
    const fn name(self) -> &'static str {
        match self {
            LocalAlgorithm::Rs256 => "RS256",
            LocalAlgorithm::Hs256 => "HS256",
        }
    }
}

enum SigningKey {
    Rsa(KeyPair),
    /// Shared with the verifier: one copy of the secret (aws-lc keeps it inside the HMAC
    /// context, over a kilobyte, so it is not moved around either).
    Hmac(Arc<hmac::Key>),
}

impl SigningKey {
    /// The signature of `input` (RS256: RSASSA-PKCS1-v1_5 with SHA-256; HS256: HMAC-SHA-256).
    fn sign(&self, rng: &SystemRandom, input: &[u8]) -> Result<Vec<u8>> {
        match self {
            SigningKey::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, rng, input, &mut signature)
                    .map_err(|_| internal("RSA signing failed"))?;
                Ok(signature)
            }
            SigningKey::Hmac(key) => Ok(hmac::sign(key, input).as_ref().to_vec()),
        }
    }
}

enum VerifyingKey {
    Rsa(ParsedPublicKey),
    Hmac(Arc<hmac::Key>),
}

/// A key and its `kid`.
struct Named<K> {
    key: K,
    kid: String,
}

/// The keys and settings of one active `local`-provider mesh: issues its tokens (when it has a
/// private key or a secret) and verifies them. Built by the resolver from the configuration.
pub(crate) struct LocalMesh {
    name: String,
    mesh_id: String,
    issuer: String,
    alg: LocalAlgorithm,
    signer: Option<Named<SigningKey>>,
    verifier: Named<VerifyingKey>,
    leeway: i64,
    required_claims: Vec<String>,
    cache: VerifiedCache,
}

impl fmt::Debug for LocalMesh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalMesh")
            .field("name", &self.name)
            .field("mesh_id", &self.mesh_id)
            .field("issuer", &self.issuer)
            .field("algorithm", &self.alg.name())
            .field("signing_kid", &self.signer.as_ref().map(|s| &s.kid))
            .field("verifying_kid", &self.verifier.kid)
            .finish_non_exhaustive()
    }
}

/// `(leeway seconds, required claims, verified-token cache capacity)`, from the resolver's
/// validator settings (`ValidatorBuilder::local_settings`).
pub(crate) type LocalSettings = (i64, Vec<String>, usize);

impl LocalMesh {
    /// Reads and parses the keys `mesh` (a `local`-provider mesh) configures; `None` when it
    /// configures none. The key settings must be free of problems
    /// (`Mesh::local_key_problems`).
    ///
    /// # Errors
    /// `Config` naming the TOML path and the file: a file that cannot be read, is not PEM,
    /// holds another kind of key, an RSA key outside 2048–8192 bits, or (a private key) may be
    /// read by group or others.
    pub(crate) fn load(mesh: &Mesh, settings: LocalSettings) -> Result<Option<LocalMesh>> {
        let (leeway, required_claims, capacity) = settings;
        let mesh_id = mesh.cloud_id().to_string();
        let (alg, signer, verifier) = match (
            &mesh.jwt_secret,
            &mesh.jwt_private_key_path,
            &mesh.jwt_public_key_path,
        ) {
            (None, None, None) => return Ok(None),
            (Some(secret), None, None) => {
                let key = Arc::new(hmac::Key::new(
                    hmac::HMAC_SHA256,
                    secret.expose().as_bytes(),
                ));
                let kid = hmac_kid(&key);
                let signer = Named {
                    key: SigningKey::Hmac(Arc::clone(&key)),
                    kid: kid.clone(),
                };
                let verifier = Named {
                    key: VerifyingKey::Hmac(key),
                    kid,
                };
                (LocalAlgorithm::Hs256, Some(signer), verifier)
            }
            (None, private, public) => {
                let (signer, derived) = match private {
                    Some(file) => {
                        let toml = toml_path(mesh, "jwt_private_key_path");
                        let (signer, derived) = load_private_key(&toml, file)?;
                        (Some(signer), Some(derived))
                    }
                    None => (None, None),
                };
                let verifier = match (public, derived) {
                    (Some(file), _) => {
                        let toml = toml_path(mesh, "jwt_public_key_path");
                        let pem = read_pem(&toml, file, false)?;
                        public_key_of(&pem)
                            .and_then(|key| verifying_key(&key))
                            .map_err(|why| key_error(&toml, file, &why))?
                    }
                    (None, Some(derived)) => derived,
                    (None, None) => return Ok(None),
                };
                (LocalAlgorithm::Rs256, signer, verifier)
            }
            (Some(_), _, _) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{}: a mesh uses either jwt_secret (HS256) or a key pair (RS256), not both",
                        toml_path(mesh, "jwt_secret")
                    ),
                ));
            }
        };
        Ok(Some(LocalMesh {
            name: mesh.name.clone(),
            issuer: local_mesh_issuer(&mesh_id),
            mesh_id,
            alg,
            signer,
            verifier,
            leeway,
            required_claims,
            cache: VerifiedCache::new(capacity),
        }))
    }

    /// Whether `other` issues and verifies exactly as this one (same mesh id, algorithm, keys
    /// and settings), so that a reload may keep this one and its verified tokens.
    pub(crate) fn same_as(&self, other: &LocalMesh) -> bool {
        self.mesh_id == other.mesh_id
            && self.alg == other.alg
            && self.signer.as_ref().map(|s| &s.kid) == other.signer.as_ref().map(|s| &s.kid)
            && self.verifier.kid == other.verifier.kid
            && self.leeway == other.leeway
            && self.required_claims == other.required_claims
            && self.cache.enabled() == other.cache.enabled()
    }

    /// Issues a mesh token for `destination` (an http(s) URL, checked by the caller) with
    /// `sub = subject`, and its claims.
    ///
    /// # Errors
    /// `Config` when the mesh has only a public key; `Internal` if signing fails.
    pub(crate) fn issue(
        &self,
        subject: &str,
        destination: &str,
    ) -> Result<(MeshTokenResult, Arc<Claims>)> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "mesh '{}' (provider local) has only a public key (jwt_public_key_path): it \
                     verifies mesh tokens but cannot issue them; set jwt_private_key_path on \
                     the gateway that sends",
                    self.name
                ),
            )
        })?;
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti).map_err(|_| internal("no randomness"))?;
        let iat = unix_now();
        let exp = iat.saturating_add(LOCAL_MESH_TOKEN_LIFETIME_SECS);
        let header = json!({"alg": self.alg.name(), "typ": "JWT", "kid": signer.kid});
        let payload = json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": format!("mesh:{}", self.mesh_id),
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "mesh_id": self.mesh_id,
            "dest_url": destination,
            "iat": iat,
            "exp": exp,
        })
        .to_string();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(&payload)
        );
        let signature = signer.key.sign(&rng, input.as_bytes())?;
        let token = Secret::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)));
        let claims = Arc::new(Claims::parse(payload)?);
        let expires_at = OffsetDateTime::from_unix_timestamp(exp)
            .map_err(|_| internal("the expiry is out of range"))?;
        Ok((
            MeshTokenResult {
                token,
                expires_at,
                mesh_id: self.mesh_id.clone(),
            },
            claims,
        ))
    }

    /// Verifies a mesh token of this mesh: size and shape, the configured algorithm only, the
    /// issuer `local:<mesh id>`, the key id, the signature, the time claims with leeway, the
    /// required claims, `aud = mesh:<mesh id>`, `mesh_id`, and, when `destination` is given,
    /// that it lies under `dest_url`. Never does I/O.
    ///
    /// # Errors
    /// `JwtInvalid`, `JwtExpired`, `UntrustedIssuer` (another issuer), `InvalidArgument` (a
    /// destination that is not a URL).
    pub(crate) fn verify(&self, token: &str, destination: Option<&str>) -> Result<Arc<Claims>> {
        check_token_size(token.len())?;
        let parts = Parts::of(token);
        let key = self.cache.enabled().then(|| TokenKey::of_parts(parts));
        let claims = match key.as_ref().and_then(|k| self.cache.get(k)) {
            Some(entry) => {
                check_times(&entry.claims, unix_now(), self.leeway)?;
                entry.claims
            }
            None => self.verify_signed(parts, key.as_ref())?,
        };
        check_mesh(&claims, &self.mesh_id, destination)?;
        Ok(claims)
    }

    /// `false` when `verify` answers without a signature check (a remembered token, or one
    /// refused for its size); see `Validator::needs_signature_check`.
    pub(crate) fn needs_signature_check(&self, token: &str) -> bool {
        check_token_size(token.len()).is_ok()
            && !(self.cache.enabled() && self.cache.get(&TokenKey::of(token)).is_some())
    }

    /// `verify`'s answer when it needs no signature check (a remembered token, or one refused
    /// for its size), from one hash and one look-up; `None` when `verify` would check a
    /// signature. See `Validator::validate_if_remembered`.
    pub(crate) fn verify_if_remembered(
        &self,
        token: &str,
        destination: Option<&str>,
    ) -> Option<Result<Arc<Claims>>> {
        if let Err(e) = check_token_size(token.len()) {
            return Some(Err(e));
        }
        if !self.cache.enabled() {
            return None;
        }
        let entry = self.cache.get(&TokenKey::of(token))?;
        Some(
            check_times(&entry.claims, unix_now(), self.leeway)
                .and_then(|()| check_mesh(&entry.claims, &self.mesh_id, destination))
                .map(|()| entry.claims),
        )
    }

    fn verify_signed(&self, parts: Parts<'_>, key: Option<&TokenKey<'_>>) -> Result<Arc<Claims>> {
        let expected = self.alg.name();
        let mut scratch = Scratch::new();
        let decoded = decode_with(parts, &mut scratch, |alg| {
            if alg == expected {
                Ok(())
            } else {
                Err(invalid(format!(
                    "the token's algorithm '{}' is not accepted: mesh '{}' (provider local) \
                     verifies {expected} only, as its configuration fixes",
                    quote_input(alg, 20),
                    self.name
                )))
            }
        })?;
        match decoded.claims.iss.as_deref() {
            Some(iss) if iss == self.issuer => {}
            other => {
                return Err(Error::new(
                    ErrorKind::UntrustedIssuer,
                    format!(
                        "the token's issuer is {}, not '{}' (the issuer of mesh '{}', provider \
                         local)",
                        other.map_or("missing".to_string(), |iss| format!(
                            "'{}'",
                            quote_input(iss, 200)
                        )),
                        self.issuer,
                        self.name
                    ),
                ));
            }
        }
        if decoded.kid != self.verifier.kid {
            return Err(invalid(format!(
                "the token names the key '{}', but mesh '{}' verifies with the key '{}' (it \
                 was signed with another mesh's key, or with a key this gateway is not \
                 configured with)",
                quote_input(&decoded.kid, 64),
                self.name,
                self.verifier.kid
            )));
        }
        let verified = match &self.verifier.key {
            VerifyingKey::Rsa(key) => key.verify_sig(decoded.signing_input, decoded.signature),
            VerifyingKey::Hmac(key) => hmac::verify(key, decoded.signing_input, decoded.signature),
        };
        verified.map_err(|_| {
            invalid("the token's signature does not verify (tampered, or signed by another key)")
        })?;
        let claims = decoded.claims;
        check_times(&claims, unix_now(), self.leeway)?;
        check_rules(&claims, &[], &self.required_claims)?;
        let claims = Arc::new(claims);
        if let Some(key) = key {
            self.cache.insert(key, &claims, 0, 0);
        }
        Ok(claims)
    }

    /// Verified tokens remembered.
    #[cfg(test)]
    pub(crate) fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// The `kid` of the verifying key.
    #[cfg(test)]
    pub(crate) fn verifying_kid(&self) -> &str {
        &self.verifier.kid
    }

    /// Signs any header and claims with this mesh's signing key (tests forge tokens with it).
    #[cfg(test)]
    pub(crate) fn sign_raw(
        &self,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signer = self.signer.as_ref().expect("a mesh with a signing key");
        let signature = signer
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("signs");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn internal(what: &str) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("issuing a local mesh token: {what}"),
    )
}

fn toml_path(mesh: &Mesh, key: &str) -> String {
    format!("{}.{key}", mesh.path)
}

/// A `Config` error about the key file `file` configured at `toml_path`; `why` never holds key
/// material.
fn key_error(toml_path: &str, file: &str, why: &str) -> Error {
    let message = format!("the key file '{}' {why}", quote_input(file, 200));
    Error::with_problems(
        ErrorKind::Config,
        format!("{toml_path}: {message}"),
        vec![Problem::new(ErrorKind::Config, toml_path, message)],
    )
}

/// The `kid` of an HS256 key: a digest keyed by the secret, which names the key without
/// revealing anything the tokens' own signatures do not.
fn hmac_kid(key: &hmac::Key) -> String {
    let tag = hmac::sign(key, b"runbeam local mesh key id");
    let bytes = tag.as_ref().get(..16).unwrap_or(tag.as_ref());
    format!("hs256-{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The RFC 7638 thumbprint of an RSA public key, its `kid`.
fn rsa_kid(key: &PublicKey) -> String {
    let components = PublicKeyComponents::<Vec<u8>>::from(key);
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(&components.e),
        URL_SAFE_NO_PAD.encode(&components.n)
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn check_rsa_bits(bytes: usize) -> std::result::Result<(), String> {
    let bits = bytes.saturating_mul(8);
    if (2048..=8192).contains(&bits) {
        Ok(())
    } else {
        Err(format!(
            "holds a {bits}-bit RSA key; RS256 mesh tokens need 2048 to 8192 bits"
        ))
    }
}

fn verifying_key(key: &PublicKey) -> std::result::Result<Named<VerifyingKey>, String> {
    check_rsa_bits(key.modulus_len())?;
    let components = PublicKeyComponents::<Vec<u8>>::from(key);
    let parsed = components
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .map_err(|_| "holds an RSA public key that cannot verify RS256 signatures".to_string())?;
    Ok(Named {
        key: VerifyingKey::Rsa(parsed),
        kid: rsa_kid(key),
    })
}

/// Loads the private key at `file`: the signer and the verifier of its public half.
fn load_private_key(
    toml_path: &str,
    file: &str,
) -> Result<(Named<SigningKey>, Named<VerifyingKey>)> {
    let pem = read_pem(toml_path, file, true)?;
    let fail = |why: String| key_error(toml_path, file, &why);
    let pair = private_key_of(&pem).map_err(fail)?;
    check_rsa_bits(pair.public_modulus_len()).map_err(fail)?;
    let verifier = verifying_key(pair.public_key()).map_err(fail)?;
    let signer = Named {
        kid: verifier.kid.clone(),
        key: SigningKey::Rsa(pair),
    };
    Ok((signer, verifier))
}

/// One PEM block: its label and its DER bytes (zeroized when dropped).
struct Pem {
    label: String,
    der: Zeroizing<Vec<u8>>,
}

/// Reads `file` (a private key when `private`) and decodes its first PEM block.
fn read_pem(toml_path: &str, file: &str, private: bool) -> Result<Pem> {
    let bytes = read_key_file(file, private).map_err(|why| key_error(toml_path, file, &why))?;
    parse_pem(&bytes).map_err(|why| key_error(toml_path, file, &why))
}

fn read_key_file(file: &str, private: bool) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    if file.trim().is_empty() {
        return Err("is not named: the path is empty".to_string());
    }
    let mut opened = std::fs::File::open(file).map_err(|e| format!("cannot be opened: {e}"))?;
    let meta = opened
        .metadata()
        .map_err(|e| format!("cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err("is not a regular file".to_string());
    }
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "holds a private key but group or others may access it (mode {mode:04o}); \
                 refusing to use it: run chmod 600 '{}'",
                quote_input(file, 200)
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = private;
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(format!(
            "is {} bytes long, more than a PEM key can be (limit {MAX_KEY_FILE_BYTES} bytes)",
            meta.len()
        ));
    }
    // Room for the whole file and one more byte, so that reading never reallocates (a copy
    // left behind would not be zeroized).
    let room = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
    let mut bytes = Zeroizing::new(Vec::with_capacity(room));
    (&mut opened)
        .take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(format!(
            "is more than {MAX_KEY_FILE_BYTES} bytes long, more than a PEM key can be"
        ));
    }
    Ok(bytes)
}

const NOT_PEM: &str = "does not hold a PEM key (no '-----BEGIN …-----' line); give the key in PEM \
                       form (openssl pkey -in key.der -inform DER -out key.pem)";

/// The first PEM block of `bytes` (untrusted). Messages name the block's label at most.
fn parse_pem(bytes: &[u8]) -> std::result::Result<Pem, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| NOT_PEM.to_string())?;
    let mut lines = text.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|line| {
            line.strip_prefix("-----BEGIN ")
                .and_then(|rest| rest.strip_suffix("-----"))
        })
        .ok_or_else(|| NOT_PEM.to_string())?
        .to_string();
    let end = format!("-----END {label}-----");
    let mut body = Zeroizing::new(String::with_capacity(text.len()));
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        if line.contains(':') {
            // RFC 1421 headers: `Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`.
            return Err(encrypted());
        }
        body.push_str(line);
    }
    if !ended {
        return Err(format!(
            "has no '-----END {}-----' line",
            quote_input(&label, 40)
        ));
    }
    let der = STANDARD
        .decode(body.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| {
            format!(
                "has a PEM '{}' block that is not valid base64",
                quote_input(&label, 40)
            )
        })?;
    Ok(Pem { label, der })
}

fn encrypted() -> String {
    "holds an encrypted private key, which librunbeam cannot decrypt; store it unencrypted \
     with owner-only permissions (openssl pkey -in key.pem -out plain.pem; chmod 600 plain.pem)"
        .to_string()
}

/// What kind of key `der` holds, by its algorithm identifier, for messages only.
fn key_kind(der: &[u8]) -> Option<&'static str> {
    const EC: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];
    const ED448: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x71];
    const DSA: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x01];
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    [
        (EC, "an EC"),
        (ED25519, "an Ed25519"),
        (ED448, "an Ed448"),
        (DSA, "a DSA"),
    ]
    .into_iter()
    .find_map(|(oid, kind)| has(oid).then_some(kind))
}

fn not_rsa(kind: &str) -> String {
    format!(
        "holds {kind} key; RS256 mesh tokens need an RSA key of 2048 to 8192 bits (openssl \
         genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out mesh.key)"
    )
}

fn private_key_of(pem: &Pem) -> std::result::Result<KeyPair, String> {
    let label = pem.label.as_str();
    let parsed = match label {
        "PRIVATE KEY" => KeyPair::from_pkcs8(&pem.der),
        "RSA PRIVATE KEY" => KeyPair::from_der(&pem.der),
        "ENCRYPTED PRIVATE KEY" => return Err(encrypted()),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {
            return Err(
                "holds a public key; jwt_private_key_path names the private key that \
                        signs (jwt_public_key_path the public key that verifies)"
                    .to_string(),
            );
        }
        _ if label.contains("EC ") || label.starts_with("EC") => return Err(not_rsa("an EC")),
        _ => {
            return Err(format!(
                "holds a PEM '{}' block, not an RSA private key",
                quote_input(label, 40)
            ));
        }
    };
    parsed.map_err(|_| match key_kind(&pem.der) {
        Some(kind) => not_rsa(kind),
        None => "does not hold a valid RSA private key".to_string(),
    })
}

fn public_key_of(pem: &Pem) -> std::result::Result<PublicKey, String> {
    let label = pem.label.as_str();
    match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        "CERTIFICATE" => {
            return Err(
                "holds a certificate; give its public key instead (openssl x509 -in \
                        cert.pem -pubkey -noout > mesh.pub)"
                    .to_string(),
            );
        }
        _ if label.contains("PRIVATE KEY") => {
            return Err(
                "holds a private key; jwt_public_key_path names the public key \
                        (openssl pkey -in mesh.key -pubout -out mesh.pub) — keep the private \
                        key on the gateways that issue tokens only"
                    .to_string(),
            );
        }
        _ => {
            return Err(format!(
                "holds a PEM '{}' block, not an RSA public key",
                quote_input(label, 40)
            ));
        }
    }
    PublicKey::from_der(&pem.der).map_err(|_| match key_kind(&pem.der) {
        Some(kind) => not_rsa(kind),
        None => "does not hold a valid RSA public key".to_string(),
    })
}

#[cfg(test)]
mod tests;
