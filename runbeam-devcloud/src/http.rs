//! Shared HTTP plumbing: the error shapes of SPEC §3.4, JSON bodies, bearer authentication,
//! pagination.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::dev::DevState;
use crate::keys::KeyRing;
use crate::model::{self, Store};

/// Largest accepted request body.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// State shared by every handler.
pub(crate) struct Shared {
    pub(crate) api_root: String,
    pub(crate) store: Mutex<Store>,
    pub(crate) keys: RwLock<KeyRing>,
    pub(crate) dev: Mutex<DevState>,
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn keys(&self) -> RwLockReadGuard<'_, KeyRing> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyRing> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn dev(&self) -> MutexGuard<'_, DevState> {
        self.dev.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) type AppState = Arc<Shared>;

/// An error response with one of the body shapes of SPEC §3.4.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "message": message.into() }),
        }
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    pub(crate) fn forbidden(error: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            body: json!({ "error": error, "message": message.into() }),
        }
    }

    pub(crate) fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("Resource not found: {what}"))
    }

    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A 422 with a single field error.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> ApiError {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        errors.into_error()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Laravel-style validation errors: `{message, errors: {field: [msg]}}` with status 422.
#[derive(Debug, Default)]
pub(crate) struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub(crate) fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_error(self) -> ApiError {
        let total: usize = self.0.values().map(Vec::len).sum();
        let first = self
            .0
            .values()
            .flatten()
            .next()
            .cloned()
            .unwrap_or_else(|| "The given data was invalid.".into());
        let message = match total {
            0 | 1 => first,
            2 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {} more errors)", n - 1),
        };
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({ "message": message, "errors": self.0 }),
        }
    }

    pub(crate) fn check(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }
}

/// A JSON object request body (empty body = `{}`), size-capped, with JSON error shapes.
pub(crate) struct JsonBody(pub(crate) Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Request body too large (limit {MAX_BODY_BYTES} bytes)"),
                )
            } else {
                ApiError::bad_request(format!("Cannot read request body: {rejection}"))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Map::new()));
        }
        if let Some(ct) = content_type {
            let essence = ct.split(';').next().unwrap_or_default().trim();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("Content-Type must be application/json, not '{essence}'"),
                ));
            }
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody(map)),
            Ok(_) => Err(ApiError::field(
                "body",
                "The request body must be a JSON object.",
            )),
            Err(e) => Err(ApiError::bad_request(format!("Malformed JSON body: {e}"))),
        }
    }
}

/// The bearer token of a request.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("Unauthenticated: missing bearer token."))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("Unauthenticated: malformed Authorization header."))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("Unauthenticated: expected 'Bearer <token>'."))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(ApiError::unauthorized(
            "Unauthenticated: expected 'Bearer <token>'.",
        ));
    }
    Ok(token.to_owned())
}

/// How a bearer token looks (SPEC §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenShape {
    Jwt,
    Sanctum,
    Opaque,
}

fn shape(token: &str) -> TokenShape {
    if token.contains('|') {
        TokenShape::Sanctum
    } else if token.split('.').count() == 3 {
        TokenShape::Jwt
    } else {
        TokenShape::Opaque
    }
}

/// A caller authenticated with a user token (JWT or Sanctum).
#[derive(Debug, Clone)]
pub(crate) struct UserAuth {
    pub(crate) user_id: String,
    pub(crate) team_id: String,
    pub(crate) token: String,
}

/// A caller authenticated with a gateway machine token.
#[derive(Debug, Clone)]
pub(crate) struct MachineAuth {
    pub(crate) gateway_id: String,
    pub(crate) team_id: String,
}

fn user_from_token(state: &Shared, token: &str) -> Result<UserAuth, ApiError> {
    let user_id = match shape(token) {
        TokenShape::Sanctum => {
            let store = state.store();
            store
                .users
                .iter()
                .find(|u| u.tokens.iter().any(|t| t == token))
                .map(|u| u.id.clone())
                .ok_or_else(|| ApiError::unauthorized("Unauthenticated: unknown API token."))?
        }
        TokenShape::Jwt => {
            let claims = state
                .keys()
                .verify(token, &state.api_root)
                .map_err(|e| ApiError::unauthorized(format!("Unauthenticated: {e}.")))?;
            claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ApiError::unauthorized("Unauthenticated: token has no subject."))?
        }
        TokenShape::Opaque => {
            return Err(ApiError::unauthorized(
                "This endpoint requires a user token (JWT or Sanctum API token), not a gateway machine token.",
            ));
        }
    };
    let store = state.store();
    let user = store
        .user(&user_id)
        .ok_or_else(|| ApiError::unauthorized("Unauthenticated: unknown user."))?;
    Ok(UserAuth {
        user_id: user.id.clone(),
        team_id: user.team_id.clone(),
        token: token.to_owned(),
    })
}

fn machine_from_token(state: &Shared, token: &str) -> Result<MachineAuth, ApiError> {
    if shape(token) != TokenShape::Opaque {
        return Err(ApiError::unauthorized(
            "This endpoint requires a gateway machine token (from /harmony/authorize), not a user token.",
        ));
    }
    let hash = model::sha256(token);
    let mut store = state.store();
    let record = store.machine_tokens.get(&hash).cloned().ok_or_else(|| {
        ApiError::unauthorized("Unauthenticated: invalid or revoked machine token.")
    })?;
    if record.expires_at <= model::now() {
        store.machine_tokens.remove(&hash);
        return Err(ApiError::unauthorized(
            "Unauthenticated: machine token expired; authorize the gateway again.",
        ));
    }
    let gateway = store
        .find(model::Collection::Gateways, &record.gateway_id)
        .ok_or_else(|| ApiError::unauthorized("Unauthenticated: the gateway no longer exists."))?;
    let team_id = model::str_field(gateway, "team_id")
        .unwrap_or_default()
        .to_owned();
    Ok(MachineAuth {
        gateway_id: record.gateway_id,
        team_id,
    })
}

impl FromRequestParts<AppState> for UserAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)?;
        user_from_token(state, &token)
    }
}

impl FromRequestParts<AppState> for MachineAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)?;
        machine_from_token(state, &token)
    }
}

/// Query parameters as pairs (never fails).
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

pub(crate) fn query_param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `page` (≥ 1, default 1) and `per_page` (1–100, default 15).
pub(crate) fn pagination(pairs: &[(String, String)]) -> Result<(u64, u64), ApiError> {
    let mut errors = FieldErrors::default();
    let mut read = |key: &str, default: u64, max: u64| match query_param(pairs, key) {
        None => default,
        Some(text) => match text.trim().parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                let rule = if max == u64::MAX {
                    format!("The {key} field must be an integer of at least 1.")
                } else {
                    format!("The {key} field must be an integer between 1 and {max}.")
                };
                errors.add(key, rule);
                default
            }
        },
    };
    let page = read("page", 1, u64::MAX);
    let per_page = read("per_page", 15, 100);
    errors.check()?;
    Ok((page, per_page))
}

/// A Laravel-style paginated list envelope with full URLs in `links`.
pub(crate) fn paginate(items: Vec<Value>, page: u64, per_page: u64, path: &str) -> Value {
    let total = items.len() as u64;
    let last_page = total.div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page);
    let data: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(usize::try_from(per_page).unwrap_or(usize::MAX))
        .collect();
    let (from, to) = if data.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (json!(start + 1), json!(start + data.len() as u64))
    };
    let link = |p: u64| format!("{path}?page={p}&per_page={per_page}");
    json!({
        "data": data,
        "links": {
            "first": link(1),
            "last": link(last_page),
            "prev": if page > 1 && page <= last_page + 1 { json!(link(page - 1)) } else { Value::Null },
            "next": if page < last_page { json!(link(page + 1)) } else { Value::Null },
        },
        "meta": {
            "current_page": page,
            "last_page": last_page,
            "per_page": per_page,
            "total": total,
            "from": from,
            "to": to,
            "path": path,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_links_and_meta() {
        let items: Vec<Value> = (0..33).map(|i| json!(i)).collect();
        let page = paginate(items.clone(), 2, 15, "http://h/api/x");
        assert_eq!(page["data"].as_array().unwrap().len(), 15);
        assert_eq!(page["meta"]["from"], 16);
        assert_eq!(page["meta"]["to"], 30);
        assert_eq!(page["meta"]["last_page"], 3);
        assert_eq!(page["links"]["next"], "http://h/api/x?page=3&per_page=15");
        assert_eq!(page["links"]["prev"], "http://h/api/x?page=1&per_page=15");
        let last = paginate(items, 3, 15, "http://h/api/x");
        assert_eq!(last["data"].as_array().unwrap().len(), 3);
        assert_eq!(last["links"]["next"], Value::Null);
        let empty = paginate(Vec::new(), 1, 15, "p");
        assert_eq!(empty["meta"]["last_page"], 1);
        assert_eq!(empty["meta"]["from"], Value::Null);
    }

    #[test]
    fn bad_pagination_is_a_field_error() {
        let pairs = vec![
            ("page".to_owned(), "0".to_owned()),
            ("per_page".to_owned(), "101".to_owned()),
        ];
        let err = pagination(&pairs).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.body["errors"]["page"].is_array());
        assert!(err.body["errors"]["per_page"].is_array());
    }

    #[test]
    fn token_shapes() {
        assert_eq!(shape("1|abc"), TokenShape::Sanctum);
        assert_eq!(shape("a.b.c"), TokenShape::Jwt);
        assert_eq!(shape("abc_-XYZ"), TokenShape::Opaque);
    }
}
