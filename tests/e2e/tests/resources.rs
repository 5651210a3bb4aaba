//! The typed resource models (`runbeam_core::client::resources`) against runbeam-devcloud:
//! create, get, update, list and delete for every one of the eight kinds, with the models
//! themselves as what is sent, and the server's unknown fields kept.

use futures_util::TryStreamExt;
use runbeam_core::ErrorKind;
use runbeam_core::client::resources::{
    Backend, CollectionResource, Egress, Endpoint, Gateway, Ingress, Mesh, Pipeline, Service,
};
use runbeam_core::client::{AuthorizeRequest, Client, PageRequest};
use runbeam_e2e::*;

/// Creates `draft`, reads it back by id and in the list, updates its description, deletes it,
/// and checks it is gone; returns what was created.
async fn crud<T>(client: &Client, draft: T, id_of: fn(&T) -> &str) -> T
where
    T: CollectionResource + Clone + std::fmt::Debug + PartialEq,
    T: DescribedResource,
{
    let kind = T::COLLECTION;
    let items = client.resources::<T>();
    let created = items
        .create(&draft)
        .await
        .unwrap_or_else(|e| panic!("{kind}: create: {e}"));
    let id = id_of(&created).to_string();
    assert!(!id.is_empty(), "{kind}: the server gave an id");
    assert!(created.team_id().is_some(), "{kind}: team_id");
    assert!(created.created_at().is_some(), "{kind}: created_at");

    let fetched = items.get(&id).await.unwrap();
    assert_eq!(fetched, created, "{kind}: get returns what create did");
    let listed: Vec<T> = items.list_all(100).try_collect().await.unwrap();
    assert!(listed.iter().any(|r| id_of(r) == id), "{kind}: listed");
    let first = items.list(PageRequest::default()).await.unwrap();
    assert!(!first.data.is_empty(), "{kind}: a page");

    let mut change = T::default();
    change.set_description("changed through the typed model");
    let updated = items.update(&id, &change).await.unwrap();
    assert_eq!(
        updated.description(),
        Some("changed through the typed model"),
        "{kind}: update"
    );
    assert_eq!(id_of(&updated), id);

    items.delete(&id).await.unwrap();
    let err = items.get(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{kind}: {err}");
    created
}

/// The common accessors the generic test needs (every model has these fields).
trait DescribedResource: Default {
    fn team_id(&self) -> Option<&str>;
    fn created_at(&self) -> Option<time::OffsetDateTime>;
    fn description(&self) -> Option<&str>;
    fn set_description(&mut self, text: &str);
}

macro_rules! described {
    ($($t:ty),*) => {$(
        impl DescribedResource for $t {
            fn team_id(&self) -> Option<&str> {
                self.team_id.as_deref()
            }
            fn created_at(&self) -> Option<time::OffsetDateTime> {
                self.created_at
            }
            fn description(&self) -> Option<&str> {
                self.description.as_deref()
            }
            fn set_description(&mut self, text: &str) {
                self.description = Some(text.to_string());
            }
        }
    )*};
}
described!(
    Gateway, Service, Pipeline, Endpoint, Backend, Mesh, Ingress, Egress
);

#[tokio::test]
async fn every_kind_is_created_read_updated_listed_and_deleted_typed() {
    let cloud = Cloud::start().await;
    let alice = cloud.client(ALICE_SANCTUM);

    let gateway = crud(
        &alice,
        Gateway {
            code: Some("typed-gw".into()),
            name: Some("Typed gateway".into()),
            ..Gateway::default()
        },
        |g| &g.id,
    )
    .await;
    assert_eq!(gateway.code.as_deref(), Some("typed-gw"));

    // The others refer to a gateway, a pipeline, a mesh: make ones that stay.
    let gw = alice
        .resources::<Gateway>()
        .create(&Gateway {
            code: Some("typed-gw-2".into()),
            ..Gateway::default()
        })
        .await
        .unwrap();
    let pipeline = alice
        .resources::<Pipeline>()
        .create(&Pipeline {
            name: Some("typed-pipeline".into()),
            gateway_id: Some(gw.id.clone()),
            ..Pipeline::default()
        })
        .await
        .unwrap();
    assert_eq!(pipeline.gateway_id.as_deref(), Some(gw.id.as_str()));
    let mesh = alice
        .resources::<Mesh>()
        .create(&Mesh {
            name: Some("typed-mesh".into()),
            protocol: Some("http".into()),
            ..Mesh::default()
        })
        .await
        .unwrap();

    let service = crud(
        &alice,
        Service {
            name: Some("typed-service".into()),
            url: Some("https://typed.example.com".into()),
            enabled: Some(true),
            ..Service::default()
        },
        |s| &s.id,
    )
    .await;
    assert_eq!(service.url.as_deref(), Some("https://typed.example.com"));
    assert_eq!(service.enabled, Some(true));

    crud(
        &alice,
        Pipeline {
            name: Some("typed-pipeline-2".into()),
            gateway_id: Some(gw.id.clone()),
            ..Pipeline::default()
        },
        |p| &p.id,
    )
    .await;
    let endpoint = crud(
        &alice,
        Endpoint {
            name: Some("typed-endpoint".into()),
            pipeline_id: Some(pipeline.id.clone()),
            path: Some("/studies".into()),
            ..Endpoint::default()
        },
        |e| &e.id,
    )
    .await;
    assert_eq!(endpoint.path.as_deref(), Some("/studies"));
    let backend = crud(
        &alice,
        Backend {
            name: Some("typed-backend".into()),
            pipeline_id: Some(pipeline.id.clone()),
            url: Some("https://pacs.typed.example".into()),
            ..Backend::default()
        },
        |b| &b.id,
    )
    .await;
    assert_eq!(backend.pipeline_id.as_deref(), Some(pipeline.id.as_str()));
    crud(
        &alice,
        Mesh {
            name: Some("typed-mesh-2".into()),
            protocol: Some("http3".into()),
            ..Mesh::default()
        },
        |m| &m.id,
    )
    .await;
    let ingress = crud(
        &alice,
        Ingress {
            name: Some("typed-ingress".into()),
            urls: vec!["https://typed.example.com/in".into()],
            protocol: Some("http".into()),
            mode: Some("mesh".into()),
            mesh_id: Some(mesh.id.clone()),
            gateway_id: Some(gw.id.clone()),
            ..Ingress::default()
        },
        |i| &i.id,
    )
    .await;
    assert_eq!(ingress.urls, ["https://typed.example.com/in"]);
    assert_eq!(ingress.mode.as_deref(), Some("mesh"));
    let egress = crud(
        &alice,
        Egress {
            name: Some("typed-egress".into()),
            mode: Some("mesh".into()),
            mesh_id: Some(mesh.id.clone()),
            pipeline_id: Some(pipeline.id.clone()),
            ..Egress::default()
        },
        |e| &e.id,
    )
    .await;
    assert_eq!(egress.mesh_id.as_deref(), Some(mesh.id.as_str()));

    // The server's checks reach the typed models' callers unchanged.
    let err = alice
        .resources::<Ingress>()
        .create(&Ingress {
            name: Some("no-urls".into()),
            ..Ingress::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
    assert!(err.field_errors().contains_key("urls"), "{err:?}");
}

#[tokio::test]
async fn fields_the_sdk_does_not_know_are_kept() {
    let cloud = Cloud::start().await;
    // Authorizing with a public key gives the gateway a field the model does not declare.
    let jwt = cloud.user_jwt(ALICE_EMAIL).await;
    let granted = cloud
        .client(&jwt)
        .authorize(
            AuthorizeRequest::new("typed-keyed-gw").machine_public_key("ssh-ed25519 AAAAkey"),
        )
        .await
        .unwrap();
    let gateways = cloud.client(ALICE_SANCTUM).resources::<Gateway>();
    let gateway = gateways.get(&granted.gateway.id).await.unwrap();
    assert_eq!(gateway.code.as_deref(), Some("typed-keyed-gw"));
    assert_eq!(gateway.extra["machine_public_key"], "ssh-ed25519 AAAAkey");
    // Sent back as it is with an update of a known field.
    let mut change = gateway.clone();
    change.description = Some("kept".into());
    let updated = gateways.update(&gateway.id, &change).await.unwrap();
    assert_eq!(updated.extra["machine_public_key"], "ssh-ed25519 AAAAkey");
    assert_eq!(updated.description.as_deref(), Some("kept"));
}
