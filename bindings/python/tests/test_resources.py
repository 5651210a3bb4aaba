"""The typed resource models (`runbeam.resources`) on their own and through `Client` and
`AsyncClient` against a local devcloud (a subprocess, ``conftest.py``): create, get, update,
list, list_all and delete of every kind with the models as what is sent, the server's unknown
fields kept, and the server's 422 reaching the caller.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import urllib.request
from typing import Any, Callable, Dict, List

import pytest

import runbeam
from runbeam.resources import (
    Backend,
    Egress,
    Endpoint,
    Gateway,
    Ingress,
    Mesh,
    Pipeline,
    Service,
)

from conftest import ALICE, ALICE_EMAIL, Awaited, Cloud, Connect

MODELS = [Gateway, Service, Endpoint, Backend, Pipeline, Mesh, Ingress, Egress]
COLLECTIONS = {
    Gateway: "gateways",
    Service: "services",
    Endpoint: "endpoints",
    Backend: "backends",
    Pipeline: "pipelines",
    Mesh: "meshes",
    Ingress: "ingresses",
    Egress: "egresses",
}

# --- the classes on their own -----------------------------------------------------------------


def test_the_models_are_their_own_classes_not_the_configurations():
    for model in MODELS:
        assert model.__module__ == "runbeam.resources"
        assert getattr(runbeam.resources, model.__name__) is model
    # runbeam.Mesh, runbeam.Ingress and runbeam.Egress stay the mesh configuration's classes.
    assert runbeam.Mesh is not Mesh and runbeam.Ingress is not Ingress
    assert runbeam.Egress is not Egress
    assert sorted(runbeam.resources.__all__) == sorted(m.__name__ for m in MODELS)
    # The generic result classes can be parametrized at run time, as the stubs do.
    assert runbeam.Page[Service].__args__ == (Service,)
    assert runbeam.ResourceIterator[Mesh].__origin__ is runbeam.ResourceIterator
    assert runbeam.AsyncResourceIterator[Ingress].__args__ == (Ingress,)


def test_a_model_made_to_be_created_holds_what_was_given():
    service = Service(name="billing", url="https://billing.example", enabled=False)
    assert service.name == "billing" and service.url == "https://billing.example"
    assert service.enabled is False
    assert service.description is None
    assert service.id == "" and service.team_id is None
    assert service.created_at is None and service.updated_at is None
    assert service.extra == {}
    # What create/update would send: the fields that are set, nothing else.
    assert service.to_dict() == {
        "name": "billing",
        "url": "https://billing.example",
        "enabled": False,
    }

    ingress = Ingress(name="fhir", urls=("https://a.example", "https://b.example"), mode="mesh")
    assert ingress.urls == ["https://a.example", "https://b.example"]
    assert Ingress().urls == []
    assert ingress.to_dict()["urls"] == ["https://a.example", "https://b.example"]


def test_extra_holds_fields_the_sdk_does_not_know():
    extra = {"machine_public_key": "ssh-ed25519 AAAA", "tags": [1, {"a": None}]}
    gateway = Gateway(code="gw-1", extra=extra)
    assert gateway.extra == {"machine_public_key": "ssh-ed25519 AAAA", "tags": [1, {"a": None}]}
    assert gateway.to_dict() == {
        "code": "gw-1",
        "machine_public_key": "ssh-ed25519 AAAA",
        "tags": [1, {"a": None}],
    }
    # extra and to_dict() are new dicts: changing them changes nothing in the model.
    gateway.extra["tags"] = "changed"
    gateway.to_dict()["code"] = "changed"
    assert gateway.extra["tags"] == [1, {"a": None}] and gateway.code == "gw-1"


def test_models_compare_by_value_and_are_read_only():
    a = Service(name="billing", extra={"x": 1})
    assert a == Service(name="billing", extra={"x": 1})
    assert a != Service(name="billing", extra={"x": 2})
    assert a != Service(name="billing", enabled=True)
    assert a != Backend(name="billing")
    assert a != {"name": "billing", "x": 1}
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(AttributeError):
        a.name = "other"  # type: ignore[misc]


def test_repr_shows_the_fields_that_are_set():
    assert repr(Service(name="billing", enabled=True)) == "Service(name='billing', enabled=True)"
    assert (
        repr(Ingress(name="fhir", urls=["https://a.example"], extra={"k": 1}))
        == "Ingress(name='fhir', urls=['https://a.example'], extra={'k': 1})"
    )
    assert repr(Mesh()) == "Mesh()"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Service(name=5), "Service() argument 'name' must be str, not int"),
        (lambda: Service(enabled="yes"), "Service() argument 'enabled' must be bool, not str"),
        (lambda: Gateway(enabled=1), "Gateway() argument 'enabled' must be bool, not int"),
        (lambda: Ingress(urls="https://a"), "Ingress() argument 'urls' must be a list of str, not"),
        (lambda: Ingress(urls=["https://a", 5]), "Ingress() argument 'urls' must be a list of str"),
        (lambda: Mesh(extra=[("a", 1)]), "Mesh() argument 'extra' must be a dict, not list"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_type_error(make: Callable[[], Any], message: str):
    with pytest.raises(TypeError) as info:
        make()
    assert message in str(info.value)
    assert not isinstance(info.value, runbeam.RunbeamError)


def test_unknown_keywords_and_known_fields_in_extra_are_refused():
    with pytest.raises(TypeError, match="descripton"):
        Service(descripton="typo")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Service("billing")  # type: ignore[misc]
    for field in ("name", "id", "team_id", "created_at", "url"):
        with pytest.raises(runbeam.InvalidArgumentError, match=f"'{field}'|\"{field}\"") as info:
            Service(extra={field: "x"})
        assert "is a field of Service" in str(info.value)
    with pytest.raises(TypeError, match="JSON serializable"):
        Service(extra={"when": datetime.datetime.now()})


def test_text_that_is_not_unicode_is_an_invalid_argument():
    with pytest.raises(runbeam.InvalidArgumentError, match="lone surrogate"):
        Service(name="bad\udc80")
    with pytest.raises(runbeam.InvalidArgumentError, match="lone surrogate"):
        Ingress(urls=["https://a.example/\udc80"])


# --- against devcloud -------------------------------------------------------------------------


def list_all(client: Any, model: Any, per_page: int = 100) -> List[Any]:
    """Every item of `list_all(model)`: by iteration (`Client`), or by `async for` on the
    `AsyncClient` behind an `Awaited`."""
    if isinstance(client, Awaited):

        async def main() -> List[Any]:
            return [item async for item in client.native.list_all(model, per_page)]

        return asyncio.run(main())
    return list(client.list_all(model, per_page))


def seeded(client: Any, model: Any) -> Any:
    """A resource of the devcloud seed (team radiology-dept), read as a model."""
    return list_all(client, model)[0]


# The model each kind is created from, given the seed's gateway, pipeline and mesh; the name of
# the field whose change an update makes.
Drafts = Dict[Any, Callable[[Gateway, Pipeline, Mesh], Any]]
DRAFTS: Drafts = {
    Gateway: lambda gw, p, m: Gateway(code="typed-gw", name="Typed gateway", enabled=False),
    Service: lambda gw, p, m: Service(name="typed-service", url="https://typed.example.com"),
    Pipeline: lambda gw, p, m: Pipeline(name="typed-pipeline", gateway_id=gw.id),
    Endpoint: lambda gw, p, m: Endpoint(name="typed-endpoint", pipeline_id=p.id, path="/studies"),
    Backend: lambda gw, p, m: Backend(
        name="typed-backend", pipeline_id=p.id, url="https://pacs.typed.example"
    ),
    Mesh: lambda gw, p, m: Mesh(name="typed-mesh", protocol="http3", description="first"),
    Ingress: lambda gw, p, m: Ingress(
        name="typed-ingress",
        urls=["https://typed.example.com/in"],
        mode="mesh",
        mesh_id=m.id,
        gateway_id=gw.id,
    ),
    Egress: lambda gw, p, m: Egress(
        name="typed-egress", mode="mesh", mesh_id=m.id, pipeline_id=p.id
    ),
}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_kind_is_created_read_updated_listed_and_deleted(connect: Connect, model: Any):
    alice = connect(ALICE)
    draft = DRAFTS[model](seeded(alice, Gateway), seeded(alice, Pipeline), seeded(alice, Mesh))

    created = alice.create(draft)
    assert type(created) is model
    assert created.id and created.team_id
    assert isinstance(created.created_at, datetime.datetime)
    assert created.created_at.tzinfo is not None and created.updated_at is not None
    # Every field that was set came back, typed.
    for field, value in draft.to_dict().items():
        assert getattr(created, field) == getattr(draft, field), field
        assert created.to_dict()[field] == value, field

    fetched = alice.get(model, created.id)
    assert type(fetched) is model and fetched == created

    page = alice.list(model, per_page=100)
    assert isinstance(page, runbeam.Page) and len(page) == len(page.data) > 0
    assert all(type(item) is model for item in page.data)
    assert created in page.data
    everything = list_all(alice, model, per_page=2)
    assert all(type(item) is model for item in everything)
    assert created.id in {item.id for item in everything}
    assert len(everything) == page.total

    updated = alice.update(created.id, model(description="changed through the typed model"))
    assert type(updated) is model
    assert updated.id == created.id
    assert updated.description == "changed through the typed model"
    for field in set(draft.to_dict()) - {"description"}:  # the fields not sent are kept
        assert getattr(updated, field) == getattr(created, field), field

    assert alice.delete(model, created.id) is None
    with pytest.raises(runbeam.NotFoundError) as gone:
        alice.get(model, created.id)
    assert gone.value.status == 404


def test_to_dict_is_the_json_the_server_sent(cloud: Cloud):
    alice = cloud.client(ALICE)
    created = alice.create(Service(name="raw-json", url="https://raw.example"))
    request = urllib.request.Request(
        f"{cloud.url}/api/services/{created.id}",
        headers={"Authorization": f"Bearer {ALICE}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        sent = json.loads(response.read())["data"]
    assert alice.get(Service, created.id).to_dict() == sent
    assert sent["description"] is None  # a null the server sent is kept
    # The string form of the same call answers the same resource as a dict.
    assert alice.get("services", created.id)["id"] == created.id


def test_an_unknown_server_field_is_kept_in_extra_and_survives_an_update(
    connect: Connect, cloud: Cloud
):
    # Authorizing with a public key gives the gateway a field the model does not declare.
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITypedModelKey"
    jwt = cloud.dev_post("jwt", {"email": ALICE_EMAIL, "ttl_secs": 600})["token"]
    granted = connect(jwt).authorize("typed-keyed-gw", machine_public_key=key)

    alice = connect(ALICE)
    gateway = alice.get(Gateway, granted.gateway["id"])
    assert gateway.code == "typed-keyed-gw"
    assert gateway.extra["machine_public_key"] == key
    assert gateway.to_dict()["machine_public_key"] == key
    assert not hasattr(gateway, "machine_public_key")

    # Sent back as it is with an update of a known field.
    change = Gateway(code=gateway.code, description="kept", extra=gateway.extra)
    assert change.to_dict()["machine_public_key"] == key
    updated = alice.update(gateway.id, change)
    assert updated.description == "kept"
    assert updated.extra["machine_public_key"] == key
    assert alice.get(Gateway, gateway.id).extra == updated.extra


def test_the_servers_422_reaches_the_caller_with_the_field(connect: Connect):
    alice = connect(ALICE)
    with pytest.raises(runbeam.ValidationError) as info:
        alice.create(Ingress(name="no-urls"))
    assert info.value.status == 422
    assert "urls" in info.value.field_errors
    assert info.value.request == ("POST", "/ingresses")

    with pytest.raises(runbeam.ValidationError) as info:
        alice.create(Service(url="https://nameless.example"))
    assert "name" in info.value.field_errors

    service = alice.create(Service(name="valid-name"))
    with pytest.raises(runbeam.ValidationError) as info:
        alice.update(service.id, Service(name="Not A Valid Name"))
    assert "name" in info.value.field_errors
    assert alice.get(Service, service.id).name == "valid-name"


def test_keyword_forms_and_the_string_forms_side_by_side(connect: Connect):
    alice = connect(ALICE)
    created = alice.create(model=Service(name="by-keyword"))
    assert isinstance(created, Service)
    updated = alice.update(id=created.id, model=Service(enabled=False))
    assert updated.enabled is False
    # The string forms, positional and by keyword, keep answering dicts.
    as_dict = alice.update(collection="services", id=created.id, body={"description": "d"})
    assert isinstance(as_dict, dict) and as_dict["description"] == "d"
    assert alice.get(collection="services", id=created.id)["description"] == "d"
    assert alice.get(collection=Service, id=created.id).description == "d"
    page = alice.list("services", per_page=100)
    assert all(isinstance(item, dict) for item in page.data)
    assert alice.delete(collection=Service, id=created.id) is None


def test_wrong_collection_arguments_are_refused_before_any_request(cloud: Cloud):
    alice = cloud.client(ALICE)
    cloud.reset_counts()
    with pytest.raises(TypeError, match=r"of runbeam\.resources.*the class runbeam\.Mesh\b"):
        alice.get(runbeam.Mesh, "x")
    with pytest.raises(TypeError, match="not a Service object"):
        alice.get(Service(name="x"), "x")
    with pytest.raises(TypeError, match="collection must be"):
        alice.list(5)
    with pytest.raises(runbeam.InvalidArgumentError, match="unknown collection"):
        alice.list("widgets")
    with pytest.raises(TypeError, match="missing required argument"):
        alice.create("services")
    with pytest.raises(TypeError, match="missing required argument"):
        alice.create()
    with pytest.raises(TypeError, match="unexpected keyword argument 'body'"):
        alice.create(Service(name="x"), body={})
    with pytest.raises(TypeError, match="got multiple values for argument 'collection'"):
        alice.create("services", collection="services", body={})
    with pytest.raises(TypeError, match="takes 2 arguments"):
        alice.update("1", Service(name="x"), {})
    with pytest.raises(TypeError, match="argument 'model' must be a model of runbeam.resources"):
        alice.update(id="1", model={"name": "x"})
    with pytest.raises(TypeError, match="argument 'id' must be str, not int"):
        alice.update(1, Service(name="x"))
    with pytest.raises(TypeError, match=r"the model must be a runbeam\.resources\.Service"):
        alice.create(Service, {"name": "x"})
    with pytest.raises(runbeam.InvalidArgumentError, match="per_page"):
        alice.list(Service, per_page=0)
    with pytest.raises(runbeam.InvalidArgumentError, match="per_page"):
        alice.list_all(Service, per_page=101)
    assert cloud.count("GET", "/api/services") == 0
    assert cloud.count("POST", "/api/services") == 0


def test_async_typed_calls_return_awaitables(cloud: Cloud):
    async def main() -> None:
        alice = runbeam.AsyncClient(cloud.url, token=ALICE)
        pending = alice.create(Mesh(name="async-mesh"))
        assert isinstance(pending, asyncio.Future)
        mesh = await pending
        assert isinstance(mesh, Mesh) and mesh.protocol == "http"
        assert (await alice.get(Mesh, mesh.id)) == mesh
        names = [m.name async for m in alice.list_all(Mesh, per_page=1)]
        assert "async-mesh" in names
        assert (await alice.delete(Mesh, mesh.id)) is None

    asyncio.run(main())
