//! The Runbeam Cloud API under `/api` (SPEC §3.3).

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::contract;
use crate::http::{
    ApiError, AppState, FieldErrors, JsonBody, MachineAuth, UserAuth, paginate, pagination,
    query_pairs, query_param,
};
use crate::model::{self, Collection, MachineTokenRecord, PushedConfig, str_field, timestamp};

/// Abilities granted to every machine token.
const ABILITIES: [&str; 2] = ["harmony:send", "harmony:receive"];
/// Lifetime of a mesh token.
const MESH_TOKEN_SECS: i64 = 300;

pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/harmony/authorize", post(authorize))
        .route("/harmony/revoke", post(revoke))
        .route("/harmony/base-url", get(base_url))
        .route("/harmony/resources/resolve", get(resolve))
        .route("/harmony/mesh/token", post(mesh_token))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/harmony/changes", get(changes_of_caller))
        .route("/harmony/changes/acknowledge", post(acknowledge))
        .route("/harmony/changes/{gateway_id}", get(changes_of_gateway))
        .route("/harmony/change/{id}", get(change))
        .route("/harmony/change/{id}/applied", post(change_applied))
        .route("/harmony/change/{id}/failed", post(change_failed))
        .route("/harmony/update", post(update_config));
    for c in Collection::ALL {
        router = router
            .route(
                &format!("/{}", c.as_str()),
                get(move |s, a, q| list(c, s, a, q)).post(move |s, a, b| create(c, s, a, b)),
            )
            .route(
                &format!("/{}/{{id}}", c.as_str()),
                get(move |s, a, p| show(c, s, a, p))
                    .put(move |s, a, p, b| update(c, s, a, p, b))
                    .patch(move |s, a, p, b| update(c, s, a, p, b))
                    .delete(move |s, a, p| destroy(c, s, a, p)),
            );
    }
    router
}

type ApiResult = Result<Response, ApiError>;

fn ok(body: Value) -> ApiResult {
    Ok(Json(body).into_response())
}

// ---------------------------------------------------------------------------- body helpers

fn opt_string(body: &Map<String, Value>, key: &str, errors: &mut FieldErrors) -> Option<String> {
    match body.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.add(key, format!("The {key} field must be a string."));
            None
        }
    }
}

fn required_string(
    body: &Map<String, Value>,
    key: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    match body.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            errors.add(key, format!("The {key} field is required."));
            None
        }
        Some(_) => {
            errors.add(key, format!("The {key} field must be a string."));
            None
        }
    }
}

fn valid_code(code: &str) -> bool {
    (1..=128).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Signs `claims` with the current key; returns the token and its `exp` in RFC 3339.
pub(crate) fn sign_claims(state: &AppState, claims: &Value) -> Result<(String, String), ApiError> {
    let token = state
        .keys()
        .current()
        .sign(claims)
        .map_err(ApiError::internal)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let expires_at = time::OffsetDateTime::from_unix_timestamp(exp)
        .map(timestamp)
        .unwrap_or_default();
    Ok((token, expires_at))
}

/// SPEC §3.3: the body's `token` repeats the bearer of the request.
fn check_echoed_token(body: &Map<String, Value>, user: &UserAuth, errors: &mut FieldErrors) {
    if let Some(token) = required_string(body, "token", errors)
        && token != user.token
    {
        errors.add(
            "token",
            "The token must match the bearer token of the request.",
        );
    }
}

// ------------------------------------------------------------------------------- harmony

async fn authorize(
    State(state): State<AppState>,
    user: UserAuth,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let mut errors = FieldErrors::default();
    check_echoed_token(&body, &user, &mut errors);
    let code = required_string(&body, "gateway_code", &mut errors);
    if let Some(code) = &code
        && !valid_code(code)
    {
        errors.add(
            "gateway_code",
            "The gateway code must be 1-128 characters of A-Z, a-z, 0-9, _, - and .",
        );
    }
    let public_key = opt_string(&body, "machine_public_key", &mut errors);
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            Some(Value::Array(items.clone()))
        }
        Some(_) => {
            errors.add(
                "metadata",
                "The metadata field must be an array of strings.",
            );
            None
        }
    };
    errors.check()?;
    let code = code.unwrap_or_default();

    let mut store = state.store();
    let now = model::now();
    let gateway = match store.gateway_by_code(&code).cloned() {
        Some(g) if str_field(&g, "team_id") != Some(user.team_id.as_str()) => {
            return Err(ApiError::forbidden(
                "gateway_forbidden",
                format!("Gateway '{code}' belongs to another team."),
            ));
        }
        Some(mut g) => {
            if public_key.is_some() || metadata.is_some() {
                if let Some(k) = &public_key {
                    g.insert("machine_public_key".into(), json!(k));
                }
                if let Some(m) = &metadata {
                    g.insert("metadata".into(), m.clone());
                }
                g.insert("updated_at".into(), json!(timestamp(now)));
                let id = str_field(&g, "id").unwrap_or_default().to_owned();
                if let Some(slot) = store
                    .list_mut(Collection::Gateways)
                    .iter_mut()
                    .find(|r| str_field(r, "id") == Some(id.as_str()))
                {
                    *slot = g.clone();
                }
            }
            g
        }
        None => {
            let at = timestamp(now);
            let g = json!({
                "id": model::new_id(),
                "team_id": user.team_id,
                "code": code,
                "name": code,
                "description": null,
                "enabled": true,
                "machine_public_key": public_key,
                "metadata": metadata,
                "created_at": at,
                "updated_at": at,
            });
            let g = g.as_object().cloned().unwrap_or_default();
            store.list_mut(Collection::Gateways).push(g.clone());
            g
        }
    };
    let gateway_id = str_field(&gateway, "id").unwrap_or_default().to_owned();
    let lifetime = store.machine_token_lifetime_secs;
    let expires_at = now + time::Duration::seconds(i64::try_from(lifetime).unwrap_or(i64::MAX / 4));
    let (token, hash) = model::new_machine_token();
    store.machine_tokens.insert(
        hash,
        MachineTokenRecord {
            gateway_id: gateway_id.clone(),
            expires_at,
        },
    );
    let authorized_by = store
        .user(&user.user_id)
        .map(|u| json!({"id": u.id, "name": u.name, "email": u.email}))
        .unwrap_or(Value::Null);
    tracing::info!(gateway = %code, "gateway authorized");
    ok(json!({
        "machine_token": token,
        "expires_in": lifetime,
        "expires_at": timestamp(expires_at),
        "gateway": {
            "id": gateway_id,
            "code": code,
            "name": gateway.get("name").cloned().unwrap_or(Value::Null),
            "authorized_by": authorized_by,
        },
        "abilities": ABILITIES,
    }))
}

async fn revoke(
    State(state): State<AppState>,
    user: UserAuth,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let mut errors = FieldErrors::default();
    check_echoed_token(&body, &user, &mut errors);
    let code = required_string(&body, "gateway_code", &mut errors);
    errors.check()?;
    let code = code.unwrap_or_default();
    let mut store = state.store();
    let gateway = store
        .gateway_by_code(&code)
        .ok_or_else(|| ApiError::not_found(format!("gateway {code}")))?;
    if str_field(gateway, "team_id") != Some(user.team_id.as_str()) {
        return Err(ApiError::forbidden(
            "gateway_forbidden",
            format!("Gateway '{code}' belongs to another team."),
        ));
    }
    let gateway_id = str_field(gateway, "id").unwrap_or_default().to_owned();
    let before = store.machine_tokens.len();
    store
        .machine_tokens
        .retain(|_, record| record.gateway_id != gateway_id);
    let revoked = before - store.machine_tokens.len();
    ok(json!({
        "success": true,
        "message": format!("Revoked {revoked} machine token(s) of gateway '{code}'."),
    }))
}

async fn base_url(State(state): State<AppState>, _gateway: MachineAuth) -> ApiResult {
    ok(json!({
        "base_url": state.api_root,
        "changes_path": "/harmony/changes",
        "full_url": format!("{}/harmony/changes", state.api_root),
    }))
}

async fn jwks(State(state): State<AppState>) -> ApiResult {
    ok(state.keys().jwks())
}

// ------------------------------------------------------------------------------- resolve

async fn resolve(
    State(state): State<AppState>,
    _gateway: MachineAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let pairs = query_pairs(raw.as_deref());
    let text = match query_param(&pairs, "ref") {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => return Err(ApiError::field("ref", "The ref field is required.")),
    };
    // The grammar of docs/spec.md §1.1; a malformed reference is a validation error (§3.4).
    let reference = contract::parse_reference(&text).map_err(|message| {
        let mut errors = FieldErrors::default();
        errors.add("ref", message);
        errors.into_error()
    })?;
    if reference.provider != "runbeam" {
        return Err(ApiError::not_found(&text));
    }
    let store = state.store();
    let team = match reference.team {
        Some(slug) => Some(
            store
                .team_by_slug(slug)
                .ok_or_else(|| ApiError::not_found(&text))?
                .id
                .clone(),
        ),
        None => None,
    };
    let collections: Vec<Collection> = match reference.collection {
        Some(c) => vec![c],
        None => Collection::REFERENCEABLE.to_vec(),
    };
    let key = reference.lookup.field();
    let found = collections.iter().find_map(|c| {
        store
            .list(*c)
            .iter()
            .find(|r| {
                str_field(r, key) == Some(reference.value)
                    && team
                        .as_deref()
                        .is_none_or(|t| str_field(r, "team_id") == Some(t))
            })
            .map(|r| (*c, r))
    });
    let (c, resource) = found.ok_or_else(|| ApiError::not_found(&text))?;
    let mut data = json!({
        "type": c.singular(),
        "id": resource.get("id"),
        "name": resource.get("name"),
        "team_id": resource.get("team_id"),
        "enabled": resource.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        "urls": resource.get("urls").cloned().unwrap_or_else(|| json!([])),
        "protocol": resource.get("protocol").and_then(Value::as_str).unwrap_or("http"),
        "mode": resource.get("mode").and_then(Value::as_str).unwrap_or("default"),
    });
    if let Some(obj) = data.as_object_mut() {
        for key in [
            "gateway_id",
            "pipeline_id",
            "mesh_id",
            "backend_id",
            "endpoint_id",
            "description",
        ] {
            if let Some(v) = resource.get(key).filter(|v| !v.is_null()) {
                obj.insert(key.into(), v.clone());
            }
        }
    }
    ok(json!({
        "data": data,
        "meta": {"provider": "runbeam", "resolved_at": timestamp(model::now())},
    }))
}

// ---------------------------------------------------------------------------- mesh token

async fn mesh_token(
    State(state): State<AppState>,
    gateway: MachineAuth,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let mut errors = FieldErrors::default();
    let mesh_id = required_string(&body, "mesh_id", &mut errors);
    let destination = required_string(&body, "destination_url", &mut errors);
    let dest_url = match &destination {
        Some(d) => match model::check_http_url(d) {
            Ok(u) => Some(u),
            Err(msg) => {
                errors.add("destination_url", msg);
                None
            }
        },
        None => None,
    };
    errors.check()?;
    let (Some(mesh_id), Some(destination), Some(dest_url)) = (mesh_id, destination, dest_url)
    else {
        return Err(ApiError::internal("validated fields missing"));
    };

    let claims = {
        let store = state.store();
        // A mesh is named by its Cloud id, or by its name when the gateway config has no id
        // (SPEC §2.1).
        let meshes = store.list(Collection::Meshes);
        let mesh = meshes
            .iter()
            .find(|m| str_field(m, "id") == Some(mesh_id.as_str()))
            .or_else(|| {
                let mut named = meshes
                    .iter()
                    .filter(|m| str_field(m, "name") == Some(mesh_id.as_str()));
                match (named.next(), named.next()) {
                    (Some(m), None) => Some(m),
                    _ => None,
                }
            })
            .ok_or_else(|| ApiError::not_found(format!("mesh {mesh_id}")))?;
        let real_mesh_id = str_field(mesh, "id").unwrap_or_default();
        if mesh.get("enabled").and_then(Value::as_bool) == Some(false) {
            return Err(ApiError::forbidden(
                "mesh_disabled",
                format!("Mesh '{mesh_id}' is disabled."),
            ));
        }
        let in_mesh = |r: &&Map<String, Value>| {
            str_field(r, "mesh_id") == Some(real_mesh_id)
                && r.get("enabled").and_then(Value::as_bool) != Some(false)
        };
        let has_egress = store
            .list(Collection::Egresses)
            .iter()
            .filter(in_mesh)
            .any(|e| str_field(e, "team_id") == Some(gateway.team_id.as_str()));
        if !has_egress {
            return Err(ApiError::forbidden(
                "no_egress_in_mesh",
                format!(
                    "Rule 1 failed: the gateway's team has no enabled egress in mesh '{mesh_id}'."
                ),
            ));
        }
        let matches_ingress = store
            .list(Collection::Ingresses)
            .iter()
            .filter(in_mesh)
            .flat_map(|i| {
                i.get("urls")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|u| u.as_str().and_then(|u| url::Url::parse(u).ok()))
            .any(|base| contract::url_under(&base, &dest_url));
        if !matches_ingress {
            return Err(ApiError::forbidden(
                "destination_not_in_mesh",
                format!(
                    "Rule 2 failed: destination URL '{destination}' does not match any ingress URL of mesh '{mesh_id}'."
                ),
            ));
        }
        let now = model::now();
        let team = store
            .team(&gateway.team_id)
            .map(|t| t.slug.clone())
            .unwrap_or_default();
        json!({
            "iss": state.api_root,
            "sub": format!("gateway:{}", gateway.gateway_id),
            "aud": format!("mesh:{mesh_id}"),
            "jti": model::new_id(),
            "mesh_id": mesh_id,
            "dest_url": destination,
            "source_team": team,
            "iat": now.unix_timestamp(),
            "nbf": now.unix_timestamp(),
            "exp": now.unix_timestamp() + MESH_TOKEN_SECS,
        })
    };
    let (token, expires_at) = sign_claims(&state, &claims)?;
    ok(json!({"token": token, "expires_at": expires_at, "mesh_id": claims["mesh_id"]}))
}

// --------------------------------------------------------------------------- change feed

fn changes_page(state: &AppState, gateway_id: &str, raw: Option<&str>, path: &str) -> ApiResult {
    let (page, per_page) = pagination(&query_pairs(raw))?;
    let store = state.store();
    let items: Vec<Value> = store
        .changes
        .iter()
        .filter(|c| {
            str_field(c, "gateway_id") == Some(gateway_id)
                && matches!(str_field(c, "status"), Some("pending" | "acknowledged"))
        })
        .map(|c| Value::Object(c.clone()))
        .collect();
    ok(paginate(items, page, per_page, path))
}

async fn changes_of_caller(
    State(state): State<AppState>,
    gateway: MachineAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let path = format!("{}/harmony/changes", state.api_root);
    changes_page(&state, &gateway.gateway_id, raw.as_deref(), &path)
}

async fn changes_of_gateway(
    State(state): State<AppState>,
    gateway: MachineAuth,
    Path(gateway_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    if gateway_id != gateway.gateway_id {
        return Err(ApiError::forbidden(
            "gateway_forbidden",
            "A gateway can only read its own changes.",
        ));
    }
    let path = format!("{}/harmony/changes/{gateway_id}", state.api_root);
    changes_page(&state, &gateway_id, raw.as_deref(), &path)
}

fn own_change<'a>(
    store: &'a mut model::Store,
    gateway: &MachineAuth,
    id: &str,
) -> Result<&'a mut Map<String, Value>, ApiError> {
    store
        .changes
        .iter_mut()
        .find(|c| {
            str_field(c, "id") == Some(id)
                && str_field(c, "gateway_id") == Some(gateway.gateway_id.as_str())
        })
        .ok_or_else(|| ApiError::not_found(format!("change {id}")))
}

async fn change(
    State(state): State<AppState>,
    gateway: MachineAuth,
    Path(id): Path<String>,
) -> ApiResult {
    let mut store = state.store();
    let change = own_change(&mut store, &gateway, &id)?;
    ok(json!({"data": change}))
}

async fn acknowledge(
    State(state): State<AppState>,
    gateway: MachineAuth,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let ids: Vec<String> = match body.get("change_ids") {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => {
            return Err(ApiError::field(
                "change_ids",
                "The change_ids field must be an array of strings.",
            ));
        }
        None => {
            return Err(ApiError::field(
                "change_ids",
                "The change_ids field is required.",
            ));
        }
    };
    let mut store = state.store();
    let mut errors = FieldErrors::default();
    for (i, id) in ids.iter().enumerate() {
        if own_change(&mut store, &gateway, id).is_err() {
            errors.add(
                &format!("change_ids.{i}"),
                format!("The selected change '{id}' is invalid."),
            );
        }
    }
    errors.check()?;
    let at = timestamp(model::now());
    for id in &ids {
        let change = own_change(&mut store, &gateway, id)?;
        if str_field(change, "status") == Some("pending") {
            change.insert("status".into(), json!("acknowledged"));
            change.insert("acknowledged_at".into(), json!(at));
        }
    }
    ok(json!({
        "success": true,
        "message": format!("Acknowledged {} change(s).", ids.len()),
        "acknowledged": ids,
    }))
}

fn finish_change(
    state: &AppState,
    gateway: &MachineAuth,
    id: &str,
    status: &str,
    error: Option<(String, Value)>,
) -> ApiResult {
    let mut store = state.store();
    let change = own_change(&mut store, gateway, id)?;
    if matches!(str_field(change, "status"), Some("applied" | "failed")) {
        return Err(ApiError::conflict(format!(
            "Change {id} is already {}.",
            str_field(change, "status").unwrap_or_default()
        )));
    }
    let at = timestamp(model::now());
    change.insert("status".into(), json!(status));
    change.insert(format!("{status}_at"), json!(at));
    if let Some((message, details)) = error {
        change.insert("error".into(), json!(message));
        change.insert("details".into(), details);
    }
    ok(json!({
        "success": true,
        "message": format!("Change {id} marked {status}."),
        "data": change,
    }))
}

async fn change_applied(
    State(state): State<AppState>,
    gateway: MachineAuth,
    Path(id): Path<String>,
) -> ApiResult {
    finish_change(&state, &gateway, &id, "applied", None)
}

async fn change_failed(
    State(state): State<AppState>,
    gateway: MachineAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let mut errors = FieldErrors::default();
    let error = required_string(&body, "error", &mut errors);
    errors.check()?;
    let details = body.get("details").cloned().unwrap_or(Value::Null);
    finish_change(
        &state,
        &gateway,
        &id,
        "failed",
        Some((error.unwrap_or_default(), details)),
    )
}

async fn update_config(
    State(state): State<AppState>,
    gateway: MachineAuth,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let mut errors = FieldErrors::default();
    let kind = required_string(&body, "type", &mut errors);
    if let Some(k) = &kind
        && !matches!(k.as_str(), "gateway" | "pipeline" | "transform" | "mesh")
    {
        errors.add(
            "type",
            "The type must be one of gateway, pipeline, transform, mesh.",
        );
    }
    let id = opt_string(&body, "id", &mut errors);
    // An id a reference can name (docs/spec.md §1.1).
    if let Some(id) = &id
        && !contract::is_id(id)
    {
        errors.add(
            "id",
            "The id must be 1-128 characters of A-Z, a-z, 0-9, _ and -.",
        );
    }
    let config = required_string(&body, "config", &mut errors);
    if let Some(c) = &config
        && let Err(e) = c.parse::<toml::Table>()
    {
        errors.add(
            "config",
            format!("The config is not valid TOML: {}", e.message()),
        );
    }
    errors.check()?;
    let kind = kind.unwrap_or_default();
    let config = config.unwrap_or_default();
    let mut store = state.store();
    let existing = id.as_ref().and_then(|id| {
        store
            .configs
            .iter_mut()
            .find(|c| &c.id == id && c.kind == kind && c.gateway_id == gateway.gateway_id)
    });
    let (id, action) = match existing {
        Some(slot) => {
            slot.config = config;
            (slot.id.clone(), "updated")
        }
        None => {
            let id = id.unwrap_or_else(model::new_id);
            store.configs.push(PushedConfig {
                id: id.clone(),
                kind: kind.clone(),
                gateway_id: gateway.gateway_id.clone(),
                config,
            });
            (id, "created")
        }
    };
    ok(json!({
        "success": true,
        "message": format!("Configuration {action}."),
        "data": {"id": id, "type": kind, "action": action},
    }))
}

// --------------------------------------------------------------------------- collections

async fn list(
    c: Collection,
    State(state): State<AppState>,
    user: UserAuth,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let (page, per_page) = pagination(&query_pairs(raw.as_deref()))?;
    let store = state.store();
    let items: Vec<Value> = store
        .list(c)
        .iter()
        .filter(|r| str_field(r, "team_id") == Some(user.team_id.as_str()))
        .map(|r| Value::Object(r.clone()))
        .collect();
    let path = format!("{}/{}", state.api_root, c.as_str());
    ok(paginate(items, page, per_page, &path))
}

fn team_resource<'a>(
    store: &'a model::Store,
    c: Collection,
    user: &UserAuth,
    id: &str,
) -> Result<&'a Map<String, Value>, ApiError> {
    store
        .find(c, id)
        .filter(|r| str_field(r, "team_id") == Some(user.team_id.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("{}/{id}", c.as_str())))
}

async fn show(
    c: Collection,
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> ApiResult {
    let store = state.store();
    let resource = team_resource(&store, c, &user, &id)?;
    ok(json!({"data": resource}))
}

/// Fields a client may set, per collection (`id`, `team_id` and timestamps are read-only;
/// unknown fields are ignored, as Laravel's validated input does).
fn writable(c: Collection) -> &'static [&'static str] {
    match c {
        Collection::Gateways => &["code", "name", "description", "enabled"],
        Collection::Meshes => &["name", "protocol", "description", "enabled"],
        Collection::Services => &["name", "url", "description", "enabled"],
        Collection::Pipelines => &["name", "gateway_id", "description", "enabled"],
        Collection::Endpoints => &["name", "pipeline_id", "path", "description", "enabled"],
        Collection::Backends => &["name", "pipeline_id", "url", "description", "enabled"],
        Collection::Ingresses => &[
            "name",
            "urls",
            "protocol",
            "mode",
            "mesh_id",
            "pipeline_id",
            "gateway_id",
            "endpoint_id",
            "description",
            "enabled",
        ],
        Collection::Egresses => &[
            "name",
            "protocol",
            "mode",
            "mesh_id",
            "pipeline_id",
            "gateway_id",
            "backend_id",
            "description",
            "enabled",
        ],
    }
}

/// Validates `body` against collection `c` and applies it to `target` (a new or existing
/// resource of `team_id`).
fn apply_fields(
    store: &model::Store,
    c: Collection,
    team_id: &str,
    body: &Map<String, Value>,
    target: &mut Map<String, Value>,
    creating: bool,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    let fields = writable(c);
    let name_key = if c == Collection::Gateways {
        "code"
    } else {
        "name"
    };
    if creating && body.get(name_key).is_none_or(Value::is_null) {
        errors.add(name_key, format!("The {name_key} field is required."));
    }
    if creating && c == Collection::Ingresses && body.get("urls").is_none_or(Value::is_null) {
        errors.add("urls", "The urls field is required.");
    }
    for key in fields {
        let Some(value) = body.get(*key) else {
            continue;
        };
        let ok = match *key {
            "name" if c == Collection::Gateways => match value {
                Value::String(s) if !s.trim().is_empty() && s.len() <= 255 => true,
                _ => {
                    errors.add(
                        "name",
                        "The name must be a non-empty string of at most 255 characters.",
                    );
                    false
                }
            },
            // A name a reference can name (docs/spec.md §1.1).
            "name" => match value.as_str() {
                Some(s) if contract::is_name(s) => true,
                _ => {
                    errors.add(
                        "name",
                        "The name must be 1-128 characters of a-z, 0-9, _ and -, starting with a letter or digit.",
                    );
                    false
                }
            },
            "code" => match value.as_str() {
                Some(s) if valid_code(s) => true,
                _ => {
                    errors.add(
                        "code",
                        "The code must be 1-128 characters of A-Z, a-z, 0-9, _, - and .",
                    );
                    false
                }
            },
            "description" => {
                let ok = value.is_null() || value.is_string();
                if !ok {
                    errors.add("description", "The description field must be a string.");
                }
                ok
            }
            "enabled" => {
                let ok = value.is_boolean();
                if !ok {
                    errors.add("enabled", "The enabled field must be true or false.");
                }
                ok
            }
            "url" => match value {
                Value::Null => true,
                Value::String(s) => match model::check_http_url(s) {
                    Ok(_) => true,
                    Err(msg) => {
                        errors.add("url", msg);
                        false
                    }
                },
                _ => {
                    errors.add("url", "The url field must be a string.");
                    false
                }
            },
            "path" => {
                let ok = value.is_null() || value.as_str().is_some_and(|p| p.starts_with('/'));
                if !ok {
                    errors.add("path", "The path must be a string starting with '/'.");
                }
                ok
            }
            "protocol" => {
                let ok = matches!(value.as_str(), Some("http" | "http3"));
                if !ok {
                    errors.add("protocol", "The protocol must be one of http, http3.");
                }
                ok
            }
            "mode" => {
                let ok = matches!(value.as_str(), Some("default" | "mesh"));
                if !ok {
                    errors.add("mode", "The mode must be one of default, mesh.");
                }
                ok
            }
            "urls" => match value.as_array() {
                Some(items) if !items.is_empty() => {
                    let mut all = true;
                    for (i, item) in items.iter().enumerate() {
                        let check = item
                            .as_str()
                            .ok_or_else(|| "The URL must be a string.".to_owned())
                            .and_then(model::check_http_url);
                        if let Err(msg) = check {
                            errors.add(&format!("urls.{i}"), msg);
                            all = false;
                        }
                    }
                    all
                }
                _ => {
                    errors.add("urls", "The urls field must be an array of at least 1 URL.");
                    false
                }
            },
            reference => {
                // `<x>_id`: null, or the id of an existing resource (meshes: of any team,
                // since a mesh is shared; others: of the same team).
                let target_c = match reference {
                    "gateway_id" => Collection::Gateways,
                    "mesh_id" => Collection::Meshes,
                    "pipeline_id" => Collection::Pipelines,
                    "endpoint_id" => Collection::Endpoints,
                    _ => Collection::Backends,
                };
                match value {
                    Value::Null => true,
                    Value::String(id) => {
                        let exists = store.find(target_c, id).is_some_and(|r| {
                            target_c == Collection::Meshes
                                || str_field(r, "team_id") == Some(team_id)
                        });
                        if !exists {
                            errors.add(reference, format!("The selected {reference} is invalid."));
                        }
                        exists
                    }
                    _ => {
                        errors.add(
                            reference,
                            format!("The {reference} field must be a string."),
                        );
                        false
                    }
                }
            }
        };
        if ok {
            target.insert((*key).to_owned(), value.clone());
        }
    }
    errors.check()
}

/// The gateway a resource belongs to, for the change feed.
fn owning_gateway(store: &model::Store, c: Collection, r: &Map<String, Value>) -> Option<String> {
    if c == Collection::Gateways {
        return str_field(r, "id").map(str::to_owned);
    }
    if let Some(g) = str_field(r, "gateway_id") {
        return Some(g.to_owned());
    }
    let pipeline = store.find(Collection::Pipelines, str_field(r, "pipeline_id")?)?;
    str_field(pipeline, "gateway_id").map(str::to_owned)
}

fn name_taken(store: &model::Store, c: Collection, r: &Map<String, Value>) -> Option<String> {
    let (key, global) = if c == Collection::Gateways {
        ("code", true)
    } else {
        ("name", false)
    };
    let value = str_field(r, key)?;
    store
        .list(c)
        .iter()
        .any(|other| {
            str_field(other, "id") != str_field(r, "id")
                && str_field(other, key) == Some(value)
                && (global || str_field(other, "team_id") == str_field(r, "team_id"))
        })
        .then(|| format!("A {} with {key} '{value}' already exists.", c.singular()))
}

async fn create(
    c: Collection,
    State(state): State<AppState>,
    user: UserAuth,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let mut store = state.store();
    let at = timestamp(model::now());
    let mut resource = Map::new();
    resource.insert("id".into(), json!(model::new_id()));
    resource.insert("team_id".into(), json!(user.team_id));
    for key in writable(c) {
        let default = match *key {
            "enabled" => json!(true),
            "mode" => json!("default"),
            "protocol" => json!("http"),
            "urls" => json!([]),
            _ => Value::Null,
        };
        resource.insert((*key).to_owned(), default);
    }
    apply_fields(&store, c, &user.team_id, &body, &mut resource, true)?;
    if c == Collection::Gateways && resource.get("name").is_none_or(Value::is_null) {
        let code = resource.get("code").cloned().unwrap_or(Value::Null);
        resource.insert("name".into(), code);
    }
    if matches!(c, Collection::Ingresses | Collection::Egresses) && !body.contains_key("protocol") {
        // Default to the mesh's protocol, as the seed does.
        let protocol = str_field(&resource, "mesh_id")
            .and_then(|m| store.find(Collection::Meshes, m))
            .and_then(|m| str_field(m, "protocol"))
            .unwrap_or("http")
            .to_owned();
        resource.insert("protocol".into(), json!(protocol));
    }
    resource.insert("created_at".into(), json!(at));
    resource.insert("updated_at".into(), json!(at));
    if let Some(message) = name_taken(&store, c, &resource) {
        return Err(ApiError::conflict(message));
    }
    let id = str_field(&resource, "id").unwrap_or_default().to_owned();
    if let Some(g) = owning_gateway(&store, c, &resource) {
        store.add_change(&g, c, &id, "created");
    }
    store.list_mut(c).push(resource.clone());
    Ok((StatusCode::CREATED, Json(json!({"data": resource}))).into_response())
}

async fn update(
    c: Collection,
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult {
    let mut store = state.store();
    let mut resource = team_resource(&store, c, &user, &id)?.clone();
    apply_fields(&store, c, &user.team_id, &body, &mut resource, false)?;
    if let Some(message) = name_taken(&store, c, &resource) {
        return Err(ApiError::conflict(message));
    }
    resource.insert("updated_at".into(), json!(timestamp(model::now())));
    if let Some(g) = owning_gateway(&store, c, &resource) {
        store.add_change(&g, c, &id, "updated");
    }
    if let Some(slot) = store
        .list_mut(c)
        .iter_mut()
        .find(|r| str_field(r, "id") == Some(id.as_str()))
    {
        *slot = resource.clone();
    }
    ok(json!({"data": resource}))
}

async fn destroy(
    c: Collection,
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> ApiResult {
    let mut store = state.store();
    let resource = team_resource(&store, c, &user, &id)?.clone();
    if let Some((other, name)) = store.referenced_by(&id) {
        return Err(ApiError::conflict(format!(
            "The {} is still used by {} '{name}'.",
            c.singular(),
            other.singular()
        )));
    }
    if let Some(g) = owning_gateway(&store, c, &resource)
        && c != Collection::Gateways
    {
        store.add_change(&g, c, &id, "deleted");
    }
    if c == Collection::Gateways {
        store.machine_tokens.retain(|_, t| t.gateway_id != id);
    }
    store
        .list_mut(c)
        .retain(|r| str_field(r, "id") != Some(id.as_str()));
    Ok(StatusCode::NO_CONTENT.into_response())
}
