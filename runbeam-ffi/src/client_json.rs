//! JSON of the client's results, in the shapes of SPEC §3.3 (the core's response types are
//! `Deserialize` only, so the FFI writes them back from their fields; unknown fields the
//! server sent, kept in `extra`, are written back too).

use runbeam_core::client::{
    Acknowledgement, AuthorizeResponse, BaseUrl, Change, MeshToken, Page, Resolved, UpdateAction,
    UpdateResponse,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn timestamp(t: OffsetDateTime) -> Value {
    t.format(&Rfc3339).map_or(Value::Null, Value::String)
}

/// `object` with the `extra` fields added where the known ones are absent.
fn with_extra(mut object: Map<String, Value>, extra: &Map<String, Value>) -> Value {
    for (key, value) in extra {
        object.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(object)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub(crate) fn authorize(r: &AuthorizeResponse) -> Value {
    let g = &r.gateway;
    let mut gateway = object(json!({"id": g.id, "code": g.code, "name": g.name}));
    if let Some(by) = &g.authorized_by {
        gateway.insert(
            "authorized_by".into(),
            json!({"id": by.id, "name": by.name, "email": by.email}),
        );
    }
    let top = object(json!({
        "machine_token": r.machine_token.expose(),
        "expires_in": r.expires_in,
        "expires_at": timestamp(r.expires_at),
        "gateway": with_extra(gateway, &g.extra),
        "abilities": r.abilities,
    }));
    with_extra(top, &r.extra)
}

pub(crate) fn acknowledgement(a: &Acknowledgement) -> Value {
    with_extra(
        object(json!({"success": a.success, "message": a.message})),
        &a.extra,
    )
}

pub(crate) fn base_url(b: &BaseUrl) -> Value {
    json!({"base_url": b.base_url, "changes_path": b.changes_path, "full_url": b.full_url})
}

pub(crate) fn resolved(r: &Resolved) -> Value {
    let d = &r.resource;
    let data = object(json!({
        "type": d.resource_type,
        "id": d.id,
        "name": d.name,
        "team_id": d.team_id,
        "enabled": d.enabled,
        "urls": d.urls,
        "protocol": d.protocol,
        "mode": d.mode,
        "gateway_id": d.gateway_id,
        "pipeline_id": d.pipeline_id,
        "mesh_id": d.mesh_id,
        "backend_id": d.backend_id,
        "endpoint_id": d.endpoint_id,
        "description": d.description,
    }));
    json!({
        "data": with_extra(data, &d.extra),
        "meta": {"provider": r.provider, "resolved_at": timestamp(r.resolved_at)},
    })
}

pub(crate) fn mesh_token(t: &MeshToken) -> Value {
    json!({
        "token": t.token.expose(),
        "expires_at": timestamp(t.expires_at),
        "mesh_id": t.mesh_id,
    })
}

pub(crate) fn change(c: &Change) -> Value {
    with_extra(object(json!({"id": c.id, "status": c.status})), &c.extra)
}

pub(crate) fn update(u: &UpdateResponse) -> Value {
    let action = match u.data.action {
        UpdateAction::Created => "created",
        UpdateAction::Updated => "updated",
    };
    json!({
        "success": u.success,
        "message": u.message,
        "data": {"id": u.data.id, "type": u.data.kind, "action": action},
    })
}

pub(crate) fn page(p: &Page<Value>) -> Value {
    let l = &p.links;
    let m = &p.meta;
    let meta = object(json!({
        "current_page": m.current_page,
        "last_page": m.last_page,
        "per_page": m.per_page,
        "total": m.total,
    }));
    json!({
        "data": p.data,
        "links": {"first": l.first, "last": l.last, "prev": l.prev, "next": l.next},
        "meta": with_extra(meta, &m.extra),
    })
}
