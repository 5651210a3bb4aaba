//! [`ClientBuilder`]: the base URL, the token, timeouts, retries and TLS trust of a [`Client`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::retry::RetryPolicy;
use super::url::api_root;
use super::{Client, Shared};
use crate::error::{Error, ErrorKind, Result, quote_input};
use crate::{Secret, VERSION};

/// Default time to establish a connection (docs/spec.md §3.4).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time for one attempt, from sending to the end of the body (docs/spec.md §3.4).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap of a response body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Configures a [`Client`]; created by [`Client::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use runbeam_core::{client::{Client, RetryPolicy}, Secret};
/// let client = Client::builder("https://api.runbeam.io")
///     .token(Secret::new("1|abc".to_string()))
///     .request_timeout(Duration::from_secs(10))
///     .retry(RetryPolicy { max_attempts: 5, ..RetryPolicy::default() })
///     .language("python")
///     .build()?;
/// assert_eq!(client.api_root(), "https://api.runbeam.io/api");
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    api_url: String,
    token: Option<Secret>,
    allow_insecure_http: bool,
    connect_timeout: Duration,
    request_timeout: Duration,
    deadline: Option<Duration>,
    retry: RetryPolicy,
    ca_bundles: Vec<(String, Vec<u8>)>,
    ca_files: Vec<PathBuf>,
    language: String,
    max_body_bytes: usize,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("ca_bundles", &self.ca_bundles.len())
            .field("ca_files", &self.ca_files)
            .field("language", &self.language)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl ClientBuilder {
    pub(crate) fn new(api_url: impl Into<String>) -> Self {
        ClientBuilder {
            api_url: api_url.into(),
            token: None,
            allow_insecure_http: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            deadline: None,
            retry: RetryPolicy::default(),
            ca_bundles: Vec::new(),
            ca_files: Vec::new(),
            language: "rust".to_string(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The bearer token sent with every call (a user JWT or Sanctum token to authorize or
    /// manage resources; the gateway's machine token for `/harmony/*` gateway calls).
    pub fn token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// Accepts `http://` for hosts that are not loopback. Off by default: tokens would cross
    /// the network in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Time allowed to establish a connection, TLS included (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one attempt, from sending to the end of the body (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Total time allowed for a call across all its attempts and backoffs. Default:
    /// `request_timeout × max_attempts` plus the longest backoffs between the attempts
    /// (with the defaults, 30 s × 3 + 0.2 s + 0.4 s = 90.6 s).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The retry policy of idempotent calls (default: 3 attempts, backoff 200 ms doubling up
    /// to 5 s, full jitter, `Retry-After` honoured).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Trusts the CA certificates of a PEM bundle in addition to the system roots.
    pub fn ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        let n = self.ca_bundles.len() + 1;
        self.ca_bundles
            .push((format!("CA bundle #{n}"), pem.into()));
        self
    }

    /// Trusts the CA certificates of a PEM file in addition to the system roots; the file is
    /// read by [`build`](Self::build).
    pub fn ca_bundle_file(mut self, path: impl AsRef<Path>) -> Self {
        self.ca_files.push(path.as_ref().to_path_buf());
        self
    }

    /// The language named in the user agent, `runbeam-sdk/<version> (<language>)`
    /// (default `rust`; the bindings set `c`, `python`, `node`).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = language.into();
        self
    }

    /// Cap of a response body, enforced while reading (default 10 MiB). A larger body is a
    /// `Protocol` error.
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// `InvalidArgument` for a malformed or insecure API URL, a zero timeout, a retry policy's
    /// `max_attempts` of 0 or above [`RetryPolicy::MAX_ATTEMPTS`], an odd language name, or a CA
    /// bundle that cannot be read or holds no certificate; `Transport` when the
    /// TLS stack cannot be set up.
    pub fn build(self) -> Result<Client> {
        let root = api_root(&self.api_url, self.allow_insecure_http)?;
        let invalid = |message: String| Error::new(ErrorKind::InvalidArgument, message);
        if self.connect_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err(invalid("timeouts must be greater than zero".to_string()));
        }
        if self.deadline.is_some_and(|d| d.is_zero()) {
            return Err(invalid(
                "the deadline must be greater than zero".to_string(),
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(invalid(
                "max_body_bytes must be greater than zero".to_string(),
            ));
        }
        let language_ok = !self.language.is_empty()
            && self.language.len() <= 32
            && self
                .language
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
        if !language_ok {
            return Err(invalid(format!(
                "language '{}' for the user agent must be 1-32 characters of [A-Za-z0-9._+-]",
                quote_input(&self.language, 40)
            )));
        }
        let retry = self.retry;
        retry.check()?;

        let mut certificates = Vec::new();
        let mut bundles = self.ca_bundles;
        for path in &self.ca_files {
            let pem = std::fs::read(path).map_err(|e| {
                invalid(format!(
                    "cannot read the CA bundle {}: {e}; check the path and its permissions",
                    path.display()
                ))
            })?;
            bundles.push((format!("CA bundle {}", path.display()), pem));
        }
        for (name, pem) in &bundles {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| invalid(format!("{name} is not a valid PEM bundle: {e}")))?;
            if certs.is_empty() {
                return Err(invalid(format!(
                    "{name} holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)"
                )));
            }
            certificates.extend(certs);
        }

        let user_agent = format!("runbeam-sdk/{VERSION} ({})", self.language);
        let mut http = reqwest::Client::builder()
            .user_agent(user_agent.clone())
            .connect_timeout(self.connect_timeout)
            // Redirects would carry the bearer token to wherever they point.
            .redirect(reqwest::redirect::Policy::none());
        if !certificates.is_empty() {
            http = http.tls_certs_merge(certificates);
        }
        let http = http.build().map_err(|e| {
            Error::new(
                ErrorKind::Transport,
                format!("cannot set up the HTTP client (TLS trust or system roots): {e}"),
            )
        })?;
        let deadline = self.deadline.unwrap_or_else(|| {
            self.request_timeout
                .saturating_mul(retry.max_attempts)
                .saturating_add(retry.total_max_backoff())
        });
        Ok(Client {
            shared: Arc::new(Shared {
                http,
                root,
                retry,
                request_timeout: self.request_timeout,
                deadline,
                max_body_bytes: self.max_body_bytes,
                user_agent,
                allow_insecure_http: self.allow_insecure_http,
            }),
            token: self.token,
        })
    }
}
