//! Sending a request: authorization, the retry loop, the capped body read, and the mapping of
//! every failure to the error taxonomy of docs/spec.md §3.4.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use zeroize::Zeroizing;

use super::Client;
use super::retry::parse_retry_after;
use super::url::request_url;
use crate::error::{Error, ErrorKind, HttpDetails, Result, quote_input};

/// Quoted server messages are cut after this many bytes.
const SERVER_MESSAGE_MAX: usize = 300;
/// Error bodies are read up to this size; a larger one is ignored, not an error.
const ERROR_BODY_MAX: usize = 64 * 1024;

/// Whether a request needs the client's bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    Bearer,
    Public,
}

/// One API request, independent of attempts.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: Method,
    /// Relative to the API root, already percent-encoded, starting with `/`.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    /// JSON; zeroized when dropped since authorize/revoke bodies repeat the token.
    pub(crate) body: Option<Zeroizing<Vec<u8>>>,
    pub(crate) auth: Auth,
    /// What a 404 names ("Resource not found: <subject>"); the path when unset.
    pub(crate) subject: Option<String>,
    /// An absolute URL requested instead of `path` under the API root (JWKS documents).
    pub(crate) absolute: Option<url::Url>,
}

impl Call {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Call {
        Call {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            auth: Auth::Bearer,
            subject: None,
            absolute: None,
        }
    }

    /// A public `GET` of an absolute URL (not under the API root); `path` labels it in errors.
    pub(crate) fn get_absolute(url: url::Url) -> Call {
        let mut call = Call::get(url.path().to_string()).public();
        call.absolute = Some(url);
        call
    }

    pub(crate) fn get(path: impl Into<String>) -> Call {
        Call::new(Method::GET, path)
    }

    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Call> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} {}: the request body cannot be encoded as JSON: {e}",
                    self.method, self.path
                ),
            )
        })?;
        self.body = Some(Zeroizing::new(bytes));
        Ok(self)
    }

    pub(crate) fn query(mut self, key: &'static str, value: impl Into<String>) -> Call {
        self.query.push((key, value.into()));
        self
    }

    pub(crate) fn public(mut self) -> Call {
        self.auth = Auth::Public;
        self
    }

    pub(crate) fn subject(mut self, subject: impl Into<String>) -> Call {
        self.subject = Some(subject.into());
        self
    }

    fn is_idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::PUT | Method::DELETE | Method::HEAD
        )
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn details(&self, attempts: u32) -> HttpDetails {
        HttpDetails {
            method: self.method.to_string(),
            path: self.path.clone(),
            attempts,
            ..HttpDetails::default()
        }
    }
}

impl Client {
    /// Sends `call` and decodes a 2xx JSON body as `T`. librunbeam's own copy of the body
    /// (which may hold a token) is zeroized once decoded; the buffers of hyper and rustls the
    /// response passed through, and serde_json's scratch buffers while decoding, are outside
    /// its control and are not.
    pub(crate) async fn send_json<T: DeserializeOwned>(&self, call: Call) -> Result<T> {
        self.send_json_sized(call).await.map(|(value, _)| value)
    }

    /// [`Client::send_json`], also returning the size of the body in bytes.
    pub(crate) async fn send_json_sized<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<(T, usize)> {
        let (body, attempts) = self.execute(&call).await?;
        decode(&call, &body, attempts).map(|value| (value, body.len()))
    }

    /// Sends `call`; any 2xx answer is success and its body is ignored.
    pub(crate) async fn send_unit(&self, call: Call) -> Result<()> {
        self.execute(&call).await.map(|_| ())
    }

    fn authorization(&self, call: &Call) -> Result<Option<HeaderValue>> {
        if call.auth == Auth::Public {
            return Ok(None);
        }
        let token = self.token.as_ref().ok_or_else(|| {
            Error::with_http(
                ErrorKind::NoToken,
                format!(
                    "{}: no token is set on the client; set one with ClientBuilder::token or \
                     Client::with_token (a user JWT or Sanctum token to authorize, the gateway's \
                     machine token otherwise)",
                    call.label()
                ),
                call.details(0),
            )
        })?;
        let text = Zeroizing::new(format!("Bearer {}", token.expose()));
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            Error::with_http(
                ErrorKind::InvalidArgument,
                format!(
                    "{}: the token contains characters that cannot be sent in an HTTP header \
                     (control characters or non-ASCII); check how it was copied",
                    call.label()
                ),
                call.details(0),
            )
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// The retry loop: idempotent requests are retried on Transport, Timeout, 5xx and 429
    /// within the total deadline; others get one attempt. Returns the body and the attempts.
    async fn execute(&self, call: &Call) -> Result<(Zeroizing<Vec<u8>>, u32)> {
        let shared = &self.shared;
        let url = match &call.absolute {
            Some(url) => url.clone(),
            None => request_url(&shared.root, &call.path, &call.query)?,
        };
        let auth = self.authorization(call)?;
        let max_attempts = if call.is_idempotent() {
            shared.retry.max_attempts
        } else {
            1
        };
        let deadline = Instant::now() + shared.deadline;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let limit = shared.request_timeout.min(remaining);
            let outcome =
                tokio::time::timeout(limit, self.attempt(call, url.clone(), auth.clone())).await;
            let mut err = match outcome {
                Ok(Ok(body)) => {
                    tracing::debug!(method = %call.method, path = %call.path, attempt, "runbeam api ok");
                    return Ok((body, attempt));
                }
                Ok(Err(err)) => err,
                Err(_) if limit < shared.request_timeout => {
                    return Err(deadline_error(call, attempt, shared.deadline, None));
                }
                Err(_) => Error::with_http(
                    ErrorKind::Timeout,
                    format!(
                        "{}: no complete answer within the request timeout of {}; check the \
                         network or raise the request timeout",
                        call.label(),
                        secs(limit)
                    ),
                    call.details(attempt),
                ),
            };
            if let Some(details) = err.http_details_mut() {
                details.attempts = attempt;
            }
            tracing::debug!(
                method = %call.method, path = %call.path, attempt,
                kind = %err.kind(), status = ?err.status(), "runbeam api attempt failed"
            );
            if attempt >= max_attempts || !err.kind().is_retryable() {
                if attempt > 1 {
                    err = err.with_message_suffix(&format!(" (after {attempt} attempts)"));
                }
                return Err(err);
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wait = match err.retry_after() {
                Some(asked) if shared.retry.honour_retry_after => {
                    if asked >= remaining {
                        return Err(err.with_message_suffix(&format!(
                            " (the server asked to wait {}, beyond the remaining deadline of {}; \
                             gave up after {attempt} attempt{})",
                            secs(asked),
                            secs(remaining),
                            if attempt == 1 { "" } else { "s" }
                        )));
                    }
                    asked
                }
                _ => shared.retry.backoff(attempt),
            };
            if wait >= remaining {
                return Err(deadline_error(call, attempt, shared.deadline, Some(&err)));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: send, check the status, read the body within the cap.
    async fn attempt(
        &self,
        call: &Call,
        url: url::Url,
        auth: Option<HeaderValue>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let shared = &self.shared;
        let mut request = shared
            .http
            .request(call.method.clone(), url)
            .header(ACCEPT, "application/json");
        if let Some(auth) = auth {
            request = request.header(AUTHORIZATION, auth);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| transport_error(call, &e))?;
        let status = response.status();
        if status.is_success() {
            return match read_capped(&mut response, shared.max_body_bytes).await {
                Ok(Some(body)) => Ok(body),
                Ok(None) => Err(Error::with_http(
                    ErrorKind::Protocol,
                    format!(
                        "{}: the response body exceeds the limit of {} bytes; the server is \
                         misbehaving or the limit (ClientBuilder::max_body_bytes) is too low",
                        call.label(),
                        shared.max_body_bytes
                    ),
                    HttpDetails {
                        status: Some(status.as_u16()),
                        ..call.details(1)
                    },
                )),
                Err(e) => Err(transport_error(call, &e)),
            };
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // An unreadable or oversized error body must not hide the status.
        let body = read_capped(&mut response, ERROR_BODY_MAX)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let token = self.token.as_ref().map(|t| t.expose());
        Err(status_error(call, status, retry_after, &body, token))
    }
}

/// Reads the body chunk by chunk; `None` as soon as it grows past `cap`. Response bodies may
/// carry tokens (authorize, mesh tokens, user tokens, error echoes), so the buffer is zeroized
/// when dropped, and so is every smaller buffer it outgrew (it never reallocates in place,
/// which would leave a copy behind). These are librunbeam's own copies only: the chunks hyper
/// and rustls hand over live in their buffers, which it does not control.
async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> std::result::Result<Option<Zeroizing<Vec<u8>>>, reqwest::Error> {
    let announced = response.content_length();
    if announced.is_some_and(|len| len > cap as u64) {
        return Ok(None);
    }
    let initial = announced.map_or(INITIAL_BODY_CAPACITY, |len| {
        usize::try_from(len).map_or(MAX_INITIAL_BODY_CAPACITY, |len| {
            len.min(MAX_INITIAL_BODY_CAPACITY)
        })
    });
    let mut body = Zeroizing::new(Vec::with_capacity(initial));
    while let Some(chunk) = response.chunk().await? {
        if !append_capped(&mut body, &chunk, cap) {
            return Ok(None);
        }
    }
    Ok(Some(body))
}

/// The first capacity of a body buffer whose length was not announced.
const INITIAL_BODY_CAPACITY: usize = 8 * 1024;

/// The largest first capacity of a body buffer, whatever length the server announces.
const MAX_INITIAL_BODY_CAPACITY: usize = 1 << 20;

/// Appends `chunk` to `body` unless that would exceed `cap` (then `false`). Grows by moving to
/// a new buffer (at least twice as large, at most `cap`) and dropping, hence zeroizing, the old.
fn append_capped(body: &mut Zeroizing<Vec<u8>>, chunk: &[u8], cap: usize) -> bool {
    let needed = body.len() + chunk.len();
    if needed > cap {
        return false;
    }
    if needed > body.capacity() {
        let capacity = needed.max(body.capacity().saturating_mul(2)).min(cap);
        let mut larger = Zeroizing::new(Vec::with_capacity(capacity));
        larger.extend_from_slice(body);
        *body = larger;
    }
    body.extend_from_slice(chunk);
    true
}

fn decode<T: DeserializeOwned>(call: &Call, body: &[u8], attempts: u32) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::with_http(
            ErrorKind::Protocol,
            format!(
                "{}: the server's answer does not match the Runbeam API ({}); check that the \
                 API URL points at Runbeam Cloud and that the SDK is up to date",
                call.label(),
                describe_json_error(&e)
            ),
            call.details(attempts),
        )
    })
}

/// A serde_json error without the values it may quote (a response can hold tokens).
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut in_quotes = false;
    for c in text.chars() {
        if c == '"' {
            if !in_quotes {
                out.push_str("\"…\"");
            }
            in_quotes = !in_quotes;
        } else if !in_quotes {
            out.push(c);
        }
    }
    quote_input(&out, SERVER_MESSAGE_MAX)
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn deadline_error(call: &Call, attempts: u32, deadline: Duration, last: Option<&Error>) -> Error {
    let mut details = call.details(attempts);
    if let Some(last) = last {
        details.status = last.status();
        details.retry_after = last.retry_after();
        details.server_message = last.server_message().map(str::to_string);
    }
    let last = last.map_or(String::new(), |e| format!("; last error: {}", e.message()));
    Error::with_http(
        ErrorKind::Timeout,
        format!(
            "{}: the total deadline of {} passed after {attempts} attempt{}{last}; check the \
             network and the Runbeam Cloud status, or raise the deadline",
            call.label(),
            secs(deadline),
            if attempts == 1 { "" } else { "s" }
        ),
        details,
    )
}

/// A transport failure: connect, DNS, TLS, reset, or a broken body.
fn transport_error(call: &Call, e: &reqwest::Error) -> Error {
    let mut causes = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if causes.last() != Some(&text) {
            causes.push(text);
        }
        source = s.source();
    }
    let cause = if causes.is_empty() {
        "connection failed".to_string()
    } else {
        quote_input(&causes.join(": "), SERVER_MESSAGE_MAX)
    };
    let (kind, what) = if e.is_connect() {
        (
            ErrorKind::Transport,
            "could not connect to the Runbeam API (check the API URL, DNS, the network, and TLS \
             trust: a private CA needs the client's CA bundle option)",
        )
    } else if e.is_timeout() {
        (ErrorKind::Timeout, "timed out")
    } else {
        (
            ErrorKind::Transport,
            "the connection failed (reset or closed by the server); the request may be retried",
        )
    };
    Error::with_http(
        kind,
        format!("{}: {what}: {cause}", call.label()),
        call.details(1),
    )
}

#[derive(Default)]
struct ErrorBody {
    message: Option<String>,
    error: Option<String>,
    fields: std::collections::BTreeMap<String, Vec<String>>,
}

fn parse_error_body(body: &[u8], token: Option<&str>) -> ErrorBody {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody::default();
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(|s| clean(s, token))
            .filter(|s| !s.is_empty())
    };
    let mut out = ErrorBody {
        message: text(map.get("message")),
        error: text(map.get("error")),
        ..ErrorBody::default()
    };
    if let Some(Value::Object(errors)) = map.get("errors") {
        for (field, messages) in errors.iter().take(50) {
            let list = match messages {
                Value::Array(items) => items
                    .iter()
                    .take(10)
                    .filter_map(Value::as_str)
                    .map(|s| clean(s, token))
                    .collect(),
                Value::String(s) => vec![clean(s, token)],
                _ => Vec::new(),
            };
            out.fields.insert(quote_input(field, 100), list);
        }
    }
    out
}

/// Caps, escapes, and removes the client's own token should a server echo it.
fn clean(text: &str, token: Option<&str>) -> String {
    let text = match token {
        Some(t) if t.len() >= 4 && text.contains(t) => text.replace(t, "***"),
        _ => text.to_string(),
    };
    quote_input(&text, SERVER_MESSAGE_MAX)
}

/// Maps a non-2xx answer to an error (docs/spec.md §3.4).
pub(crate) fn status_error(
    call: &Call,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    token: Option<&str>,
) -> Error {
    let parsed = parse_error_body(body, token);
    let server_message = match (&parsed.error, &parsed.message) {
        (Some(error), Some(message)) if error != message => Some(format!("{error}: {message}")),
        (_, Some(message)) => Some(message.clone()),
        (Some(error), None) => Some(error.clone()),
        (None, None) => None,
    };
    let said = server_message
        .as_deref()
        .map_or(String::new(), |m| format!(": server says \"{m}\""));
    let req = call.label();
    let code = status.as_u16();
    let (kind, message) = match code {
        401 => (
            ErrorKind::Unauthorized,
            format!(
                "{req}: unauthorized (HTTP 401){said}. The token was rejected, has expired or \
                 was revoked; re-authorize the gateway or set a valid token"
            ),
        ),
        403 => (
            ErrorKind::PermissionDenied,
            format!(
                "{req}: permission denied (HTTP 403){said}. The token's team is not allowed to \
                 do this"
            ),
        ),
        404 => (
            ErrorKind::NotFound,
            format!(
                "Resource not found: {} ({req}, HTTP 404){said}",
                call.subject.as_deref().unwrap_or(&call.path)
            ),
        ),
        409 => (
            ErrorKind::Conflict,
            format!(
                "{req}: conflict (HTTP 409){said}. The resource already exists or changed \
                 meanwhile; reload it and try again"
            ),
        ),
        422 => {
            let fields: Vec<String> = parsed
                .fields
                .iter()
                .take(10)
                .map(|(field, msgs)| format!("{field}: {}", msgs.join("; ")))
                .collect();
            let fields = if fields.is_empty() {
                String::new()
            } else {
                format!(" [{}]", fields.join(", "))
            };
            (
                ErrorKind::Validation,
                format!(
                    "{req}: validation failed (HTTP 422){said}{fields}. Fix the request and \
                     try again"
                ),
            )
        }
        429 => (
            ErrorKind::RateLimited,
            format!(
                "{req}: rate limited (HTTP 429){said}; {}",
                retry_after.map_or("retry later".to_string(), |d| format!(
                    "retry after {}",
                    secs(d)
                ))
            ),
        ),
        500..=599 => (
            ErrorKind::ServerError,
            format!(
                "{req}: server error (HTTP {code}){said}. Runbeam Cloud failed; try again later"
            ),
        ),
        _ => (
            ErrorKind::Protocol,
            format!(
                "{req}: unexpected HTTP status {code}{said}; check that the API URL points at \
                 Runbeam Cloud"
            ),
        ),
    };
    Error::with_http(
        kind,
        message,
        HttpDetails {
            status: Some(code),
            retry_after,
            server_message,
            field_errors: if code == 422 {
                parsed.fields
            } else {
                Default::default()
            },
            ..call.details(1)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_body_grows_into_new_buffers_and_stops_at_the_cap() {
        let mut body = Zeroizing::new(Vec::with_capacity(4));
        assert!(append_capped(&mut body, b"abcd", 10));
        let first = body.as_ptr();
        assert!(append_capped(&mut body, b"efg", 10));
        // Outgrown: moved to a new buffer (the old one was zeroized on drop), never realloc'd.
        assert_ne!(body.as_ptr(), first);
        assert_eq!(&body[..], b"abcdefg");
        assert!(body.capacity() <= 10);
        assert!(!append_capped(&mut body, b"hijk", 10));
        assert_eq!(&body[..], b"abcdefg");
    }

    fn map(status: u16, body: &str) -> Error {
        let call = Call::get("/gateways/gw-1");
        status_error(
            &call,
            StatusCode::from_u16(status).unwrap(),
            None,
            body.as_bytes(),
            Some("1|supersecret"),
        )
    }

    #[test]
    fn statuses_map_to_kinds() {
        let table = [
            (401, ErrorKind::Unauthorized),
            (403, ErrorKind::PermissionDenied),
            (404, ErrorKind::NotFound),
            (409, ErrorKind::Conflict),
            (422, ErrorKind::Validation),
            (429, ErrorKind::RateLimited),
            (500, ErrorKind::ServerError),
            (502, ErrorKind::ServerError),
            (503, ErrorKind::ServerError),
            (400, ErrorKind::Protocol),
            (302, ErrorKind::Protocol),
        ];
        for (status, kind) in table {
            let err = map(status, r#"{"message":"nope"}"#);
            assert_eq!(err.kind(), kind, "{status}");
            assert_eq!(err.status(), Some(status));
            assert_eq!(err.request(), Some(("GET", "/gateways/gw-1")));
            assert_eq!(err.server_message(), Some("nope"));
            assert!(err.message().contains("GET /gateways/gw-1"), "{err}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        assert!(
            map(401, "{}")
                .message()
                .contains("re-authorize the gateway")
        );
        assert!(
            map(404, "{}")
                .message()
                .starts_with("Resource not found: /gateways/gw-1")
        );
        let call = Call::get("/harmony/resources/resolve").subject("runbeam.t.ingress.name.x");
        let err = status_error(&call, StatusCode::NOT_FOUND, None, b"", None);
        assert!(
            err.message()
                .starts_with("Resource not found: runbeam.t.ingress.name.x")
        );
        assert_eq!(err.server_message(), None);
    }

    #[test]
    fn forbidden_with_error_and_message() {
        let err = map(
            403,
            r#"{"error":"forbidden","message":"gateway of another team"}"#,
        );
        assert_eq!(
            err.server_message(),
            Some("forbidden: gateway of another team")
        );
    }

    #[test]
    fn validation_keeps_field_errors() {
        let err = map(
            422,
            r#"{"message":"invalid","errors":{"name":["is required","too short"],"code":"bad"}}"#,
        );
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert_eq!(err.field_errors()["name"], vec!["is required", "too short"]);
        assert_eq!(err.field_errors()["code"], vec!["bad"]);
        assert!(err.message().contains("name: is required; too short"));
        assert!(
            map(400, r#"{"errors":{"a":["b"]}}"#)
                .field_errors()
                .is_empty()
        );
    }

    #[test]
    fn rate_limit_keeps_retry_after() {
        let call = Call::get("/x");
        let err = status_error(
            &call,
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(7)),
            b"",
            None,
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert!(err.message().contains("retry after 7.0 s"));
    }

    #[test]
    fn server_messages_are_capped_and_tokens_removed() {
        let long = "x".repeat(5000);
        let err = map(500, &format!(r#"{{"message":"{long}"}}"#));
        assert!(err.message().len() < 800, "{}", err.message().len());
        let err = map(401, r#"{"message":"token 1|supersecret is revoked"}"#);
        assert!(!err.to_string().contains("supersecret"));
        assert!(!format!("{err:?}").contains("supersecret"));
        assert_eq!(err.server_message(), Some("token *** is revoked"));
    }

    #[test]
    fn non_json_error_bodies_are_not_quoted() {
        let err = map(502, "<html>secret stuff</html>");
        assert_eq!(err.kind(), ErrorKind::ServerError);
        assert!(!err.to_string().contains("secret stuff"));
        assert_eq!(err.server_message(), None);
    }

    #[test]
    fn json_errors_do_not_quote_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            n: u64,
        }
        let call = Call::get("/x");
        let err = decode::<T>(&call, br#"{"n":"1|supersecret"}"#, 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(!err.to_string().contains("supersecret"), "{err}");
        let err = decode::<T>(&call, br#"{}"#, 1).unwrap_err();
        assert!(err.to_string().contains("missing field `n`"), "{err}");
    }
}
