//! The HTTP edge (docs/edge.md): `refusalFor` (runbeam-core's [`edge::Refusal`]), `joinPath`
//! ([`edge::join_path`]) and `Outbound` (what `Resolver.outbound` returns:
//! [`resolve::Outbound`]).
//!
//! The middleware of `express.js` / `fastify.js` is written in JavaScript over these and over
//! `Validator.authenticate`, `Resolver.verifyMeshRequest` and `Resolver.outbound`; every rule
//! (which status, which headers, which body; how a request path is appended to a URL) is
//! runbeam-core's, this module only converts.
//!
//! **Secrets.** An `Outbound` keeps its `Authorization` header value in Rust: `authorization`
//! and `headers` are non-enumerable prototype getters, `toJSON()` redacts the header and
//! `index.js` gives it a redacted `util.inspect` form.

use std::borrow::Cow;
use std::time::Duration;

use napi::bindgen_prelude::{Env, JsObjectValue, Object, Result, Unknown};
use napi::{JsValue, ValueType, sys};
use napi_derive::napi;
use runbeam_core::ErrorKind;
use runbeam_core::edge::{self, Stage};
use runbeam_core::resolve;
use serde_json::{Map, Value};

use crate::arg::{self, Arg, Refusal as ArgRefusal};
use crate::convert::{Date, REDACTED, duration_ms, rfc3339};
use crate::error;

/// Where a check failed (TypeScript `EdgeStage`): `'userToken'` (the user's JWT on an inbound
/// request), `'meshToken'` (a partner's mesh token on an inbound request) or `'outbound'`
/// (resolving a reference and obtaining a mesh token for a request across the mesh).
pub struct EdgeStage(pub Stage);

impl Arg for EdgeStage {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("'userToken', 'meshToken' or 'outbound'")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, ArgRefusal> {
        let name: String = String::convert(env, value).map_err(|_| type_refusal(value))?;
        match name.as_str() {
            "userToken" => Ok(EdgeStage(Stage::UserToken)),
            "meshToken" => Ok(EdgeStage(Stage::MeshToken)),
            "outbound" => Ok(EdgeStage(Stage::Outbound)),
            _ => {
                let shown: String = name.chars().take(32).collect();
                Err(ArgRefusal::Expected {
                    path: String::new(),
                    expected: Self::expected(),
                    given: Cow::Owned(format!("'{}'", shown.escape_debug())),
                    other_kind: false,
                })
            }
        }
    }
}

fn type_refusal(value: Unknown<'_>) -> ArgRefusal {
    ArgRefusal::Expected {
        path: String::new(),
        expected: EdgeStage::expected(),
        given: Cow::Borrowed(arg::describe(&value)),
        other_kind: true,
    }
}

arg::napi_arg!(EdgeStage);

/// What `refusalFor` reads of the error it is given: its `kind` (or `code`) and `retryAfterMs`.
/// Any value is accepted: one that is not an error of the SDK (no known `kind` or `code`) is
/// answered as `Internal`, so that a middleware never answers 500 for the SDK.
pub struct ErrorLike {
    kind: ErrorKind,
    retry_after: Option<Duration>,
}

impl Arg for ErrorLike {
    fn expected() -> Cow<'static, str> {
        Cow::Borrowed("an error")
    }

    fn convert(env: &Env, value: Unknown<'_>) -> std::result::Result<Self, ArgRefusal> {
        Ok(read_error(env, value).unwrap_or(ErrorLike {
            kind: ErrorKind::Internal,
            retry_after: None,
        }))
    }
}

arg::napi_arg!(ErrorLike);

/// The kind and Retry-After of an SDK error; `None` for anything else (a property that cannot
/// be read, a getter that throws, included: its exception is cleared, not thrown).
fn read_error(env: &Env, value: Unknown<'_>) -> Option<ErrorLike> {
    let read = read_properties(env, value);
    clear_exception(env);
    read
}

/// Clears the JavaScript exception a getter of the value left pending, if any.
fn clear_exception(env: &Env) {
    let mut pending = false;
    // SAFETY: `env` is the live environment of this call; `pending` is written on success.
    let status = unsafe { sys::napi_is_exception_pending(env.raw(), &mut pending) };
    if status == sys::Status::napi_ok && pending {
        let mut exception = std::ptr::null_mut();
        // SAFETY: as above; the exception is dropped (it belongs to the value's getter).
        unsafe { sys::napi_get_and_clear_last_exception(env.raw(), &mut exception) };
    }
}

fn read_properties(env: &Env, value: Unknown<'_>) -> Option<ErrorLike> {
    if !matches!(
        value.get_type().ok()?,
        ValueType::Object | ValueType::Function
    ) {
        return None;
    }
    let object = Object::from_raw(env.raw(), value.raw());
    let text = |name: &str| -> Option<String> {
        let property: Unknown<'_> = object.get_named_property(name).ok()?;
        String::convert(env, property).ok()
    };
    let kind = match text("kind") {
        Some(name) => ErrorKind::ALL.into_iter().find(|k| k.name() == name),
        None => None,
    }
    .or_else(|| {
        let code = text("code")?;
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    })?;
    let retry_after = object
        .get_named_property::<Unknown<'_>>("retryAfterMs")
        .ok()
        .and_then(|ms| f64::convert(env, ms).ok())
        .and_then(duration_ms);
    Some(ErrorLike { kind, retry_after })
}

/// The HTTP answer to a request that failed a librunbeam check (runbeam-core's
/// `edge::Refusal`; docs/edge.md has the table): send `status`, `headers` and `body` with
/// `Content-Type: contentType`. Never a 500: 400, 401, 403, 404 or 503.
#[napi(object, object_from_js = false)]
pub struct Refusal {
    /// 400, 401, 403, 404 or 503.
    pub status: u32,
    /// The kind of the error it answers (`'JwtExpired'`, …; `'Internal'` for a value that is
    /// not an error of the SDK).
    pub kind: &'static str,
    /// Every header besides `Content-Type`, names in lower case: `www-authenticate` on every
    /// 401 (`Bearer error="invalid_token"`), `retry-after` (seconds) on every 503.
    #[napi(ts_type = "Record<string, string>")]
    pub headers: Map<String, Value>,
    /// The fixed JSON body, e.g. `{"error":"invalid_token"}`: it never quotes the request, the
    /// token or the error's message.
    pub body: &'static str,
    /// `'application/json'`.
    pub content_type: &'static str,
}

/// The HTTP answer to `error` raised at `stage`: runbeam-core's refusal (docs/edge.md) for the
/// error's `kind` and `retryAfterMs`. A value that is not an error of the SDK is answered as
/// `Internal` (503): the SDK never makes a 500.
///
/// ```js
/// try {
///   req.claims = await validator.authenticate(req.headers.authorization)
/// } catch (error) {
///   const { status, headers, body, contentType } = refusalFor(error, 'userToken')
///   res.writeHead(status, { ...headers, 'content-type': contentType }).end(body)
/// }
/// ```
///
/// @throws `RUNBEAM_INVALID_ARGUMENT` when `stage` is not `'userToken'`, `'meshToken'` or
/// `'outbound'`.
#[napi(ts_args_type = "error: unknown, stage: EdgeStage")]
pub fn refusal_for(env: &Env, error: ErrorLike, stage: EdgeStage) -> Result<Refusal> {
    error::entry(env, "refusalFor", || {
        let refusal = edge::Refusal::for_kind(error.kind, stage.0, error.retry_after);
        Ok(Refusal {
            status: u32::from(refusal.status()),
            kind: refusal.kind().name(),
            headers: refusal
                .headers()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), Value::String(value)))
                .collect(),
            body: refusal.body(),
            content_type: edge::CONTENT_TYPE,
        })
    })
}

/// `base` (an http(s) URL) followed by the request path `path` (with its query), refusing a
/// path that would leave `base` (runbeam-core's `edge::join_path`): what a mesh guard verifies
/// as the URL being served, from the gateway's public URL and the request's path.
///
/// ```js
/// joinPath('https://dicom.example.com/wado', '/studies?patient=7')
/// // 'https://dicom.example.com/wado/studies?patient=7'
/// ```
///
/// @throws `RUNBEAM_INVALID_ARGUMENT` saying why (the path is not quoted): a path that does not
/// start with a single `/`, holds a backslash, a control character, a space or a fragment, is
/// longer than 8192 bytes or leaves `base` after `.`/`..` segments; a `base` that is not an
/// http(s) URL with a host, or has a query or fragment.
#[napi]
pub fn join_path(env: &Env, base: arg::String, path: arg::JsString<'_>) -> Result<String> {
    error::entry(env, "joinPath", || {
        path.with_str(|path| edge::join_path(&base, path))?
            .map_err(|e| error::from_core(env, &e))
    })
}

/// Calls `f` with the `Authorization` header value `header` (`None` when the request had none).
pub(crate) fn with_header<T>(
    header: &Option<arg::JsString<'_>>,
    f: impl FnOnce(Option<&str>) -> T,
) -> Result<T> {
    match header {
        Some(text) => text.with_str(|text| f(Some(text))),
        None => Ok(f(None)),
    }
}

/// What to send to reach a partner's resource through the mesh (`resolver.outbound()`): the
/// URL (the resource's URL followed by the request path) and the headers carrying the mesh
/// token. The host sends the request with its own HTTP client.
///
/// `authorization` and `headers` hold the mesh token: they are non-enumerable prototype
/// getters; `util.inspect`, `console.log` and `JSON.stringify` show `'***'` instead.
///
/// ```js
/// const out = resolver.outboundCached(ref, req.url) ?? (await resolver.outbound(ref, req.url))
/// const answer = await fetch(out.url, { headers: out.headers })
/// ```
#[napi]
pub struct Outbound {
    inner: resolve::Outbound,
}

impl From<resolve::Outbound> for Outbound {
    fn from(inner: resolve::Outbound) -> Self {
        Outbound { inner }
    }
}

#[napi]
impl Outbound {
    /// The URL to send the request to.
    #[napi(getter)]
    pub fn url(&self, env: &Env) -> Result<String> {
        error::entry(env, "Outbound.url", || Ok(self.inner.url().to_owned()))
    }

    /// The value of the `Authorization` header, `Bearer <mesh token>`: a credential, never
    /// log it (a non-enumerable prototype getter).
    #[napi(getter, enumerable = false)]
    pub fn authorization(&self, env: &Env) -> Result<String> {
        error::entry(env, "Outbound.authorization", || {
            Ok(self.inner.authorization().to_owned())
        })
    }

    /// Every header to add to the request, names in lower case (today only `authorization`),
    /// a new object each time: `fetch(out.url, { headers: out.headers })`.
    #[napi(getter, enumerable = false, ts_return_type = "Record<string, string>")]
    pub fn headers(&self, env: &Env) -> Result<Map<String, Value>> {
        error::entry(env, "Outbound.headers", || {
            Ok(self
                .inner
                .headers()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), Value::String(value.to_owned())))
                .collect())
        })
    }

    /// The resource's URL the path was appended to (the mesh token's `dest_url`).
    #[napi(getter)]
    pub fn base_url(&self, env: &Env) -> Result<String> {
        error::entry(env, "Outbound.baseUrl", || {
            Ok(self.inner.base_url().to_owned())
        })
    }

    /// The mesh (its configuration name) the token was issued for.
    #[napi(getter)]
    pub fn mesh(&self, env: &Env) -> Result<String> {
        error::entry(env, "Outbound.mesh", || Ok(self.inner.mesh().to_owned()))
    }

    /// The reference, in its canonical spelling.
    #[napi(getter)]
    pub fn reference(&self, env: &Env) -> Result<String> {
        error::entry(env, "Outbound.reference", || {
            Ok(self.inner.reference().to_owned())
        })
    }

    /// Whether the resolution was a stale answer (the provider failed and the last answer,
    /// younger than `maxStaleMs`, was served).
    #[napi(getter)]
    pub fn is_stale(&self, env: &Env) -> Result<bool> {
        error::entry(env, "Outbound.isStale", || Ok(self.inner.is_stale()))
    }

    /// When the mesh token expires.
    #[napi(getter)]
    pub fn token_expires_at(&self, env: &Env) -> Result<Date> {
        error::entry(env, "Outbound.tokenExpiresAt", || {
            Ok(Date(self.inner.token_expires_at()))
        })
    }

    /// The fields with the header redacted (what `JSON.stringify` writes).
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self, env: &Env) -> Result<Map<String, Value>> {
        error::entry(env, "Outbound.toJSON", || {
            let mut map = Map::new();
            map.insert("url".into(), self.inner.url().into());
            map.insert("authorization".into(), REDACTED.into());
            map.insert("baseUrl".into(), self.inner.base_url().into());
            map.insert("mesh".into(), self.inner.mesh().into());
            map.insert("reference".into(), self.inner.reference().into());
            map.insert("isStale".into(), self.inner.is_stale().into());
            map.insert(
                "tokenExpiresAt".into(),
                rfc3339(self.inner.token_expires_at()).into(),
            );
            Ok(map)
        })
    }
}
