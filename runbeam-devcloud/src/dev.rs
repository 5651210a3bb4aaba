//! The development endpoints under `/_dev` (loopback only): user JWTs (custom claims and
//! header members, RS256 or ES256 for the JWT attack suites; `count` for many at once), key rotation,
//! machine-token lifetime, fault injection and request counters.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use crate::http::{ApiError, AppState, FieldErrors, JsonBody};
use crate::keys::SigningKey;
use crate::model;

/// Faults and counters.
#[derive(Debug, Default)]
pub(crate) struct DevState {
    faults: Vec<Fault>,
    counters: BTreeMap<String, u64>,
}

/// A fault to inject into the next `remaining` matching requests.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    id: String,
    path: String,
    method: Option<String>,
    remaining: u64,
    pub(crate) status: Option<StatusCode>,
    pub(crate) retry_after: Option<u64>,
    pub(crate) latency_ms: Option<u64>,
    pub(crate) drop_connection: bool,
    pub(crate) malformed_body: bool,
}

impl DevState {
    /// Counts a request and takes one use of the first fault matching it, if any.
    pub(crate) fn record(&mut self, method: &str, path: &str) -> Option<Fault> {
        *self.counters.entry(format!("{method} {path}")).or_default() += 1;
        let index = self.faults.iter().position(|f| {
            f.method.as_deref().is_none_or(|m| m == method) && glob_match(&f.path, path)
        })?;
        let fault = &mut self.faults[index];
        fault.remaining -= 1;
        let taken = fault.clone();
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(taken)
    }
}

/// Whether `/_dev` may be served to `peer`: loopback addresses only (IPv4, IPv6 and
/// IPv4-mapped IPv6).
pub fn is_dev_peer_allowed(peer: &SocketAddr) -> bool {
    match peer.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Glob match of a request path: `*` matches any run of characters (`/` included), `?` one
/// character; everything else matches itself.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Rejects (404) requests to `/_dev` that do not come from a loopback address.
pub(crate) struct DevPeer;

impl FromRequestParts<AppState> for DevPeer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) if is_dev_peer_allowed(peer) => Ok(DevPeer),
            _ => Err(ApiError::not_found(parts.uri.path())),
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/jwt", post(mint_jwt))
        .route("/rotate-key", post(rotate_key))
        .route("/machine-token-lifetime", post(machine_token_lifetime))
        .route(
            "/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route(
            "/counters",
            axum::routing::get(counters).delete(reset_counters),
        )
        .route("/changes", post(publish_change))
}

fn opt_u64(body: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<u64> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                errors.add(
                    key,
                    format!("The {key} field must be a non-negative integer."),
                );
                None
            }
        },
    }
}

fn opt_bool(body: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> bool {
    match body.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            errors.add(key, format!("The {key} field must be true or false."));
            false
        }
    }
}

async fn mint_jwt(
    _: DevPeer,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let email = match body.get("email") {
        Some(Value::String(e)) if !e.is_empty() => e.clone(),
        _ => return Err(ApiError::field("email", "The email field is required.")),
    };
    let ttl = match body.get("ttl_secs") {
        None | Some(Value::Null) => 3600,
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::field("ttl_secs", "The ttl_secs field must be an integer (seconds; negative for an already expired token).")
        })?,
    };
    let object = |key: &str| match body.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(ApiError::field(
            key,
            format!("The {key} field must be an object (a null member removes that member)."),
        )),
    };
    let overrides = object("claims")?;
    let header = object("header")?;
    let mut claims = {
        let store = state.store();
        let user = store
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(&email))
            .ok_or_else(|| {
                ApiError::field("email", format!("No seeded user has the email '{email}'."))
            })?;
        let team = store
            .team(&user.team_id)
            .map(|t| json!({"id": t.id, "name": t.name}))
            .unwrap_or(Value::Null);
        let now = model::now().unix_timestamp();
        json!({
            "iss": state.api_root,
            "sub": user.id,
            "iat": now,
            "nbf": now,
            "exp": now.saturating_add(ttl),
            "jti": model::new_id(),
            "user": {"id": user.id, "email": user.email, "name": user.name},
            "team": team,
        })
    };
    if let Value::Object(map) = &mut claims {
        for (key, value) in overrides {
            if value.is_null() {
                map.remove(&key);
            } else {
                map.insert(key, value);
            }
        }
    }
    let alg = match body.get("alg").and_then(Value::as_str).unwrap_or("RS256") {
        "RS256" => false,
        "ES256" => true,
        _ => {
            return Err(ApiError::field(
                "alg",
                "The alg field must be RS256 or ES256.",
            ));
        }
    };
    let count = match body.get("count") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100_000) => Some(n),
            _ => {
                return Err(ApiError::field(
                    "count",
                    "The count field must be an integer from 1 to 100000.",
                ));
            }
        },
    };
    if alg {
        state.keys_mut().ec().map_err(ApiError::internal)?;
    }
    let sign = move |state: &AppState, claims: &Value| {
        let keys = state.keys();
        match (alg, keys.ec_key()) {
            (true, Some(ec)) => ec.sign_with_header(&header, claims),
            (true, None) => Err("no EC key".to_owned()),
            (false, _) => keys.current().sign_with_header(&header, claims),
        }
    };
    if let Some(count) = count {
        // Many distinct tokens at once (benchmarks): each with its own jti.
        let state = state.clone();
        let tokens = tokio::task::spawn_blocking(move || {
            (0..count)
                .map(|_| {
                    let mut claims = claims.clone();
                    claims["jti"] = Value::String(model::new_id());
                    sign(&state, &claims)
                })
                .collect::<Result<Vec<String>, String>>()
        })
        .await
        .map_err(|e| ApiError::internal(format!("signing task failed: {e}")))?
        .map_err(ApiError::internal)?;
        return Ok(Json(json!({"tokens": tokens})).into_response());
    }
    let token = sign(&state, &claims).map_err(ApiError::internal)?;
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|exp| time::OffsetDateTime::from_unix_timestamp(exp).ok())
        .map(model::timestamp)
        .unwrap_or_default();
    Ok(Json(json!({"token": token, "expires_at": expires_at})).into_response())
}

async fn rotate_key(_: DevPeer, State(state): State<AppState>) -> Result<Response, ApiError> {
    let key = tokio::task::spawn_blocking(SigningKey::generate)
        .await
        .map_err(|e| ApiError::internal(format!("key generation task failed: {e}")))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let kid = key.kid().to_owned();
    state.keys_mut().rotate(key);
    tracing::info!(%kid, "signing key rotated");
    Ok(Json(json!({"kid": kid})).into_response())
}

async fn machine_token_lifetime(
    _: DevPeer,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let secs = match body.get("secs").and_then(Value::as_u64) {
        Some(n) if n > 0 => n,
        _ => {
            return Err(ApiError::field(
                "secs",
                "The secs field must be a positive integer.",
            ));
        }
    };
    state.store().machine_token_lifetime_secs = secs;
    Ok(Json(json!({"secs": secs})).into_response())
}

async fn add_fault(
    _: DevPeer,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let path = match body.get("path") {
        Some(Value::String(p)) if !p.is_empty() => p.clone(),
        _ => {
            errors.add(
                "path",
                "The path field is required (a glob on the request path, e.g. /api/gateways*).",
            );
            String::new()
        }
    };
    let method = match body.get("method") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if !m.is_empty() => Some(m.to_ascii_uppercase()),
        Some(_) => {
            errors.add("method", "The method field must be an HTTP method.");
            None
        }
    };
    let count = opt_u64(&body, "count", &mut errors).unwrap_or(1);
    if count == 0 {
        errors.add("count", "The count field must be at least 1.");
    }
    let status = match opt_u64(&body, "status", &mut errors) {
        None => None,
        Some(code) => match u16::try_from(code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(s) if (200..=599).contains(&s.as_u16()) => Some(s),
            _ => {
                errors.add(
                    "status",
                    "The status field must be an HTTP status code (200-599).",
                );
                None
            }
        },
    };
    let retry_after = opt_u64(&body, "retry_after", &mut errors);
    let latency_ms = opt_u64(&body, "latency_ms", &mut errors);
    let drop_connection = opt_bool(&body, "drop_connection", &mut errors);
    let malformed_body = opt_bool(&body, "malformed_body", &mut errors);
    errors.check()?;
    let id = model::new_id();
    state.dev().faults.push(Fault {
        id: id.clone(),
        path,
        method,
        remaining: count,
        status,
        retry_after,
        latency_ms,
        drop_connection,
        malformed_body,
    });
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}

/// `POST /_dev/changes {gateway_code | gateway_id, type, action, config?, resource_id?,
/// name?}`: records a pending change in the gateway's change feed, as the Cloud does when a
/// mesh is edited, and answers 201 `{data: change}`. `type` and `action` are any non-empty
/// strings and `config` any JSON value, passed on as given, so that tests can also publish
/// changes a gateway must refuse.
async fn publish_change(
    _: DevPeer,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let text = |key: &str, errors: &mut FieldErrors, required: bool| -> Option<String> {
        match body.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            None | Some(Value::Null) if !required => None,
            _ => {
                errors.add(key, format!("The {key} field must be a non-empty string."));
                None
            }
        }
    };
    let code = text("gateway_code", &mut errors, false);
    let id = text("gateway_id", &mut errors, false);
    let kind = text("type", &mut errors, true);
    let action = text("action", &mut errors, true);
    let resource_id = text("resource_id", &mut errors, false);
    let name = text("name", &mut errors, false);
    let mut store = state.store();
    let gateway = match (&code, &id) {
        (Some(code), None) => store
            .gateway_by_code(code)
            .and_then(|g| model::str_field(g, "id"))
            .map(str::to_owned),
        (None, Some(id)) => store
            .find(model::Collection::Gateways, id)
            .map(|_| id.clone()),
        _ => {
            errors.add(
                "gateway_code",
                "Exactly one of gateway_code and gateway_id is required.",
            );
            None
        }
    };
    if gateway.is_none() && (code.is_some() != id.is_some()) {
        errors.add("gateway_code", "No such gateway.");
    }
    errors.check()?;
    let mut payload = Map::new();
    if let Some(config) = body.get("config") {
        payload.insert("config".into(), config.clone());
    }
    if let Some(resource_id) = resource_id {
        payload.insert("resource_id".into(), Value::String(resource_id));
    }
    if let Some(name) = name {
        payload.insert("name".into(), Value::String(name));
    }
    let change = store.publish_change(
        &gateway.unwrap_or_default(),
        &kind.unwrap_or_default(),
        &action.unwrap_or_default(),
        payload,
    );
    Ok((StatusCode::CREATED, Json(json!({"data": change}))).into_response())
}

async fn list_faults(_: DevPeer, State(state): State<AppState>) -> Json<Value> {
    let faults: Vec<Value> = state
        .dev()
        .faults
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "path": f.path,
                "method": f.method,
                "remaining": f.remaining,
                "status": f.status.map(|s| s.as_u16()),
                "retry_after": f.retry_after,
                "latency_ms": f.latency_ms,
                "drop_connection": f.drop_connection,
                "malformed_body": f.malformed_body,
            })
        })
        .collect();
    Json(json!({"faults": faults}))
}

async fn clear_faults(_: DevPeer, State(state): State<AppState>) -> StatusCode {
    state.dev().faults.clear();
    StatusCode::NO_CONTENT
}

async fn counters(_: DevPeer, State(state): State<AppState>) -> Json<Value> {
    Json(json!({"counts": state.dev().counters}))
}

async fn reset_counters(_: DevPeer, State(state): State<AppState>) -> StatusCode {
    state.dev().counters.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_endpoints_only_for_loopback_peers() {
        let ok = |s: &str| is_dev_peer_allowed(&s.parse().unwrap());
        assert!(ok("127.0.0.1:5000"));
        assert!(ok("127.8.9.10:5000"));
        assert!(ok("[::1]:5000"));
        assert!(ok("[::ffff:127.0.0.1]:5000"));
        assert!(!ok("10.0.0.1:5000"));
        assert!(!ok("192.168.1.20:5000"));
        assert!(!ok("[::ffff:10.0.0.1]:5000"));
        assert!(!ok("[2001:db8::1]:5000"));
        assert!(!ok("0.0.0.0:5000"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("/api/gateways*", "/api/gateways"));
        assert!(glob_match("/api/gateways*", "/api/gateways/01ABC"));
        assert!(glob_match("*/resolve", "/api/harmony/resources/resolve"));
        assert!(glob_match("/api/harmony/change/?", "/api/harmony/change/7"));
        assert!(!glob_match("/api/gateways", "/api/gateways/1"));
        assert!(!glob_match("/api/x?", "/api/x"));
        assert!(glob_match("*", "/anything"));
    }

    #[test]
    fn faults_apply_count_times_in_order() {
        let mut dev = DevState::default();
        let fault = |path: &str, count| Fault {
            id: "f".into(),
            path: path.into(),
            method: Some("GET".into()),
            remaining: count,
            status: Some(StatusCode::SERVICE_UNAVAILABLE),
            retry_after: None,
            latency_ms: None,
            drop_connection: false,
            malformed_body: false,
        };
        dev.faults.push(fault("/a*", 2));
        assert!(dev.record("POST", "/a").is_none());
        assert!(dev.record("GET", "/a").is_some());
        assert!(dev.record("GET", "/ab").is_some());
        assert!(dev.record("GET", "/a").is_none());
        assert_eq!(dev.counters["GET /a"], 2);
        assert_eq!(dev.counters["POST /a"], 1);
    }
}
