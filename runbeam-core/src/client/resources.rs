//! Typed resource models of the eight collections (docs/spec.md §3.3): what
//! [`Client::resources`](super::Client::resources) lists, gets, creates, updates and deletes.
//!
//! Each model has the fields every resource has (`id`, `team_id`, `created_at`,
//! `updated_at`), the fields of its collection, and `extra`: every field the server sent that
//! this SDK does not know, kept as it came and sent back as it is. Fields the server may omit
//! are `Option`s (a `Vec` for `urls`); enumerations the Cloud may extend (`protocol`, `mode`)
//! are strings.
//!
//! A model is also what is sent to create or update: an empty `id` and the read-only fields
//! (`team_id`, the timestamps) left `None` are not sent, and neither is any other `None`.
//! Make one with `..Model::default()` for the fields you do not set: models gain fields as the
//! API does, and that form keeps compiling.
//!
//! ```no_run
//! # async fn run(client: runbeam_core::client::Client) -> runbeam_core::Result<()> {
//! use runbeam_core::client::resources::Service;
//! let services = client.resources::<Service>();
//! let created = services
//!     .create(&Service {
//!         name: Some("billing".into()),
//!         url: Some("https://billing.internal.example".into()),
//!         ..Service::default()
//!     })
//!     .await?;
//! let again = services.get(&created.id).await?;
//! assert_eq!(again.url.as_deref(), Some("https://billing.internal.example"));
//! # Ok(())
//! # }
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::collections::Collection;
use super::types::{de, ser};

/// A resource model of one collection.
pub trait CollectionResource: Serialize + DeserializeOwned + Send + 'static {
    /// The collection its resources live in.
    const COLLECTION: Collection;
}

/// Declares a model: the common fields, the listed ones (with their serde attributes),
/// `extra`, and its collection.
macro_rules! resource {
    (
        $(#[$doc:meta])*
        $name:ident in $collection:ident {
            $( $(#[$field_attr:meta])* $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
        pub struct $name {
            /// Server-side id (empty in a model made to be created). Required in an answer:
            /// an object without one is not this resource (e.g. an envelope that did not decode).
            #[serde(deserialize_with = "de::id", skip_serializing_if = "String::is_empty")]
            pub id: String,
            /// Owning team (read-only).
            #[serde(
                default,
                deserialize_with = "de::opt_id",
                skip_serializing_if = "Option::is_none"
            )]
            pub team_id: Option<String>,
            $(
                #[serde(default)]
                $(#[$field_attr])*
                pub $field: $ty,
            )*
            /// When it was created (read-only).
            #[serde(
                default,
                deserialize_with = "de::opt_timestamp",
                serialize_with = "ser::opt_timestamp",
                skip_serializing_if = "Option::is_none"
            )]
            pub created_at: Option<OffsetDateTime>,
            /// When it was last changed (read-only).
            #[serde(
                default,
                deserialize_with = "de::opt_timestamp",
                serialize_with = "ser::opt_timestamp",
                skip_serializing_if = "Option::is_none"
            )]
            pub updated_at: Option<OffsetDateTime>,
            /// Every other field the server sent, kept and sent back as it is.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        impl CollectionResource for $name {
            const COLLECTION: Collection = Collection::$collection;
        }
    };
}

resource! {
    /// A gateway (`gateways`): a Runbeam gateway instance, found by its `code`.
    Gateway in Gateways {
        /// The gateway code (its instance id; required to create).
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// Display name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Free text.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    }
}

resource! {
    /// A service (`services`): an upstream system the team's gateways route to.
    Service in Services {
        /// Name (a reference name: `a-z`, `0-9`, `_`, `-`; required to create).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Its base URL.
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// Free text.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    }
}

resource! {
    /// A pipeline (`pipelines`): a route through a gateway.
    Pipeline in Pipelines {
        /// Name (required to create).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The gateway it runs on.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        gateway_id: Option<String>,
        /// Free text.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    }
}

resource! {
    /// An endpoint (`endpoints`): where a pipeline accepts requests.
    Endpoint in Endpoints {
        /// Name (required to create).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The pipeline it belongs to.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        pipeline_id: Option<String>,
        /// The path it serves (starting with `/`).
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// Free text.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    }
}

resource! {
    /// A backend (`backends`): where a pipeline sends requests.
    Backend in Backends {
        /// Name (required to create).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The pipeline it belongs to.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        pipeline_id: Option<String>,
        /// Its URL.
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// Free text.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    }
}

resource! {
    /// A mesh (`meshes`): teams that may call each other's ingresses.
    Mesh in Meshes {
        /// Name (required to create).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// `http` or `http3`.
        #[serde(skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        /// Free text.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    }
}

resource! {
    /// An ingress (`ingresses`): how members of a mesh reach this team.
    Ingress in Ingresses {
        /// Name (required to create).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The URLs it is reached at (at least one to create).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        urls: Vec<String>,
        /// `http` or `http3`.
        #[serde(skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        /// `default` or `mesh`.
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        /// The mesh it is offered in.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        mesh_id: Option<String>,
        /// The pipeline that serves it.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        pipeline_id: Option<String>,
        /// The gateway that serves it.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        gateway_id: Option<String>,
        /// The endpoint that serves it.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        endpoint_id: Option<String>,
        /// Free text.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    }
}

resource! {
    /// An egress (`egresses`): how this team reaches a mesh.
    Egress in Egresses {
        /// Name (required to create).
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// `http` or `http3`.
        #[serde(skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        /// `default` or `mesh`.
        #[serde(skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        /// The mesh it calls into.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        mesh_id: Option<String>,
        /// The pipeline it belongs to.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        pipeline_id: Option<String>,
        /// The gateway it runs on.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        gateway_id: Option<String>,
        /// The backend it sends to.
        #[serde(deserialize_with = "de::opt_id", skip_serializing_if = "Option::is_none")]
        backend_id: Option<String>,
        /// Free text.
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Whether it is enabled.
        #[serde(skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_kept_and_sent_back() {
        let wire = json!({
            "id": 12, "team_id": 3, "code": "gw-1", "name": "Gateway 1",
            "machine_public_key": "ssh-ed25519 AAAA", "settings": {"a": [1, 2]},
            "created_at": "2026-01-02T03:04:05Z", "updated_at": null
        });
        let gateway: Gateway = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(gateway.id, "12");
        assert_eq!(gateway.team_id.as_deref(), Some("3"));
        assert_eq!(gateway.code.as_deref(), Some("gw-1"));
        assert_eq!(gateway.extra["machine_public_key"], "ssh-ed25519 AAAA");
        assert_eq!(gateway.extra["settings"], json!({"a": [1, 2]}));
        let back = serde_json::to_value(&gateway).unwrap();
        assert_eq!(back["settings"], wire["settings"]);
        assert_eq!(back["id"], "12");
    }

    #[test]
    fn a_model_to_create_sends_only_what_is_set() {
        let draft = Ingress {
            name: Some("dicomweb".into()),
            urls: vec!["https://dicom.example/".into()],
            mesh_id: Some("m-1".into()),
            ..Ingress::default()
        };
        assert_eq!(
            serde_json::to_value(&draft).unwrap(),
            json!({"name": "dicomweb", "urls": ["https://dicom.example/"], "mesh_id": "m-1"})
        );
    }

    #[test]
    fn ids_may_be_numbers_and_wrong_types_are_errors() {
        let e: Egress =
            serde_json::from_value(json!({"id": "e", "mesh_id": 5, "backend_id": null})).unwrap();
        assert_eq!(e.mesh_id.as_deref(), Some("5"));
        assert_eq!(e.backend_id, None);
        assert!(serde_json::from_value::<Egress>(json!({"id": "e", "mesh_id": [1]})).is_err());
        assert!(serde_json::from_value::<Service>(json!({"id": "s", "enabled": "yes"})).is_err());
        assert!(serde_json::from_value::<Ingress>(json!({"id": "i", "urls": "x"})).is_err());
        // An answer without an id is not a resource: an envelope whose content is wrong does
        // not decode as a bare resource with the envelope in `extra`.
        assert!(serde_json::from_value::<Service>(json!({"name": "s"})).is_err());
        assert!(
            serde_json::from_value::<Service>(json!({"data": {"id": "s", "enabled": "x"}}))
                .is_err()
        );
    }

    #[test]
    fn each_model_names_its_collection() {
        assert_eq!(Gateway::COLLECTION, Collection::Gateways);
        assert_eq!(Service::COLLECTION, Collection::Services);
        assert_eq!(Endpoint::COLLECTION, Collection::Endpoints);
        assert_eq!(Backend::COLLECTION, Collection::Backends);
        assert_eq!(Pipeline::COLLECTION, Collection::Pipelines);
        assert_eq!(Mesh::COLLECTION, Collection::Meshes);
        assert_eq!(Ingress::COLLECTION, Collection::Ingresses);
        assert_eq!(Egress::COLLECTION, Collection::Egresses);
    }
}
