"""Type stubs of :mod:`runbeam.resources`: the typed resource models, classes of the native
module ``runbeam._native`` re-exported there.

Checked against the built module by ``mypy.stubtest`` (``make python-stubtest``); the docstrings
are the Rust doc comments (``make python-stubs``).
"""

import datetime
from typing import Any, ClassVar, Dict, List, Optional, final

__all__ = ["Gateway", "Service", "Endpoint", "Backend", "Pipeline", "Mesh", "Ingress", "Egress"]

@final
class Gateway:
    """A gateway (collection `gateways`): a Runbeam gateway instance, found by its `code`.

    `Gateway(*, code=None, name=None, description=None, enabled=None, extra=None)` makes one
    to create or update: fields left `None` are not sent; `extra` is a `dict` of fields the
    SDK does not know (a known field there is `InvalidArgumentError`); a value of the wrong
    type is `TypeError`.
    """

    def __new__(
        cls,
        *,
        code: Optional[str] = None,
        name: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> Gateway: ...
    @property
    def id(self) -> str:
        """The server's id (`""` in a model made to be created)."""
    @property
    def team_id(self) -> Optional[str]:
        """The owning team (set by the server)."""
    @property
    def code(self) -> Optional[str]:
        """The gateway code (its instance id; required to create)."""
    @property
    def name(self) -> Optional[str]:
        """Display name."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def enabled(self) -> Optional[bool]:
        """Whether it is enabled."""
    @property
    def created_at(self) -> Optional[datetime.datetime]:
        """When it was created (aware, UTC; set by the server)."""
    @property
    def updated_at(self) -> Optional[datetime.datetime]:
        """When it was last changed (aware, UTC; set by the server)."""
    @property
    def extra(self) -> Dict[str, Any]:
        """The fields the server sent that this SDK does not know, as a new `dict`;
        sent back as they are by `create` and `update`.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The JSON object as the server sent it (unknown fields and `null`s
        included), as a new `dict`; for a model made with the constructor, what
        `create` or `update` sends.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class Service:
    """A service (collection `services`): an upstream system the team's gateways route to.

    `Service(*, name=None, url=None, description=None, enabled=None, extra=None)`, as
    `Gateway` makes one.
    """

    def __new__(
        cls,
        *,
        name: Optional[str] = None,
        url: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> Service: ...
    @property
    def id(self) -> str:
        """The server's id (`""` in a model made to be created)."""
    @property
    def team_id(self) -> Optional[str]:
        """The owning team (set by the server)."""
    @property
    def name(self) -> Optional[str]:
        """Name (a reference name: `a-z`, `0-9`, `_`, `-`; required to create)."""
    @property
    def url(self) -> Optional[str]:
        """Its base URL."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def enabled(self) -> Optional[bool]:
        """Whether it is enabled."""
    @property
    def created_at(self) -> Optional[datetime.datetime]:
        """When it was created (aware, UTC; set by the server)."""
    @property
    def updated_at(self) -> Optional[datetime.datetime]:
        """When it was last changed (aware, UTC; set by the server)."""
    @property
    def extra(self) -> Dict[str, Any]:
        """The fields the server sent that this SDK does not know, as a new `dict`;
        sent back as they are by `create` and `update`.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The JSON object as the server sent it (unknown fields and `null`s
        included), as a new `dict`; for a model made with the constructor, what
        `create` or `update` sends.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class Pipeline:
    """A pipeline (collection `pipelines`): a route through a gateway.

    `Pipeline(*, name=None, gateway_id=None, description=None, enabled=None, extra=None)`,
    as `Gateway` makes one.
    """

    def __new__(
        cls,
        *,
        name: Optional[str] = None,
        gateway_id: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> Pipeline: ...
    @property
    def id(self) -> str:
        """The server's id (`""` in a model made to be created)."""
    @property
    def team_id(self) -> Optional[str]:
        """The owning team (set by the server)."""
    @property
    def name(self) -> Optional[str]:
        """Name (required to create)."""
    @property
    def gateway_id(self) -> Optional[str]:
        """The gateway it runs on."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def enabled(self) -> Optional[bool]:
        """Whether it is enabled."""
    @property
    def created_at(self) -> Optional[datetime.datetime]:
        """When it was created (aware, UTC; set by the server)."""
    @property
    def updated_at(self) -> Optional[datetime.datetime]:
        """When it was last changed (aware, UTC; set by the server)."""
    @property
    def extra(self) -> Dict[str, Any]:
        """The fields the server sent that this SDK does not know, as a new `dict`;
        sent back as they are by `create` and `update`.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The JSON object as the server sent it (unknown fields and `null`s
        included), as a new `dict`; for a model made with the constructor, what
        `create` or `update` sends.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class Endpoint:
    """An endpoint (collection `endpoints`): where a pipeline accepts requests.

    `Endpoint(*, name=None, pipeline_id=None, path=None, description=None, enabled=None,
    extra=None)`, as `Gateway` makes one.
    """

    def __new__(
        cls,
        *,
        name: Optional[str] = None,
        pipeline_id: Optional[str] = None,
        path: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> Endpoint: ...
    @property
    def id(self) -> str:
        """The server's id (`""` in a model made to be created)."""
    @property
    def team_id(self) -> Optional[str]:
        """The owning team (set by the server)."""
    @property
    def name(self) -> Optional[str]:
        """Name (required to create)."""
    @property
    def pipeline_id(self) -> Optional[str]:
        """The pipeline it belongs to."""
    @property
    def path(self) -> Optional[str]:
        """The path it serves (starting with `/`)."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def enabled(self) -> Optional[bool]:
        """Whether it is enabled."""
    @property
    def created_at(self) -> Optional[datetime.datetime]:
        """When it was created (aware, UTC; set by the server)."""
    @property
    def updated_at(self) -> Optional[datetime.datetime]:
        """When it was last changed (aware, UTC; set by the server)."""
    @property
    def extra(self) -> Dict[str, Any]:
        """The fields the server sent that this SDK does not know, as a new `dict`;
        sent back as they are by `create` and `update`.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The JSON object as the server sent it (unknown fields and `null`s
        included), as a new `dict`; for a model made with the constructor, what
        `create` or `update` sends.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class Backend:
    """A backend (collection `backends`): where a pipeline sends requests.

    `Backend(*, name=None, pipeline_id=None, url=None, description=None, enabled=None,
    extra=None)`, as `Gateway` makes one.
    """

    def __new__(
        cls,
        *,
        name: Optional[str] = None,
        pipeline_id: Optional[str] = None,
        url: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> Backend: ...
    @property
    def id(self) -> str:
        """The server's id (`""` in a model made to be created)."""
    @property
    def team_id(self) -> Optional[str]:
        """The owning team (set by the server)."""
    @property
    def name(self) -> Optional[str]:
        """Name (required to create)."""
    @property
    def pipeline_id(self) -> Optional[str]:
        """The pipeline it belongs to."""
    @property
    def url(self) -> Optional[str]:
        """Its URL."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def enabled(self) -> Optional[bool]:
        """Whether it is enabled."""
    @property
    def created_at(self) -> Optional[datetime.datetime]:
        """When it was created (aware, UTC; set by the server)."""
    @property
    def updated_at(self) -> Optional[datetime.datetime]:
        """When it was last changed (aware, UTC; set by the server)."""
    @property
    def extra(self) -> Dict[str, Any]:
        """The fields the server sent that this SDK does not know, as a new `dict`;
        sent back as they are by `create` and `update`.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The JSON object as the server sent it (unknown fields and `null`s
        included), as a new `dict`; for a model made with the constructor, what
        `create` or `update` sends.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class Mesh:
    """A mesh (collection `meshes`): teams that may call each other's ingresses. Not
    `runbeam.Mesh`, a mesh of the gateway's configuration.

    `Mesh(*, name=None, protocol=None, description=None, enabled=None, extra=None)`, as
    `Gateway` makes one.
    """

    def __new__(
        cls,
        *,
        name: Optional[str] = None,
        protocol: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> Mesh: ...
    @property
    def id(self) -> str:
        """The server's id (`""` in a model made to be created)."""
    @property
    def team_id(self) -> Optional[str]:
        """The owning team (set by the server)."""
    @property
    def name(self) -> Optional[str]:
        """Name (required to create)."""
    @property
    def protocol(self) -> Optional[str]:
        """`"http"` or `"http3"`."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def enabled(self) -> Optional[bool]:
        """Whether it is enabled."""
    @property
    def created_at(self) -> Optional[datetime.datetime]:
        """When it was created (aware, UTC; set by the server)."""
    @property
    def updated_at(self) -> Optional[datetime.datetime]:
        """When it was last changed (aware, UTC; set by the server)."""
    @property
    def extra(self) -> Dict[str, Any]:
        """The fields the server sent that this SDK does not know, as a new `dict`;
        sent back as they are by `create` and `update`.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The JSON object as the server sent it (unknown fields and `null`s
        included), as a new `dict`; for a model made with the constructor, what
        `create` or `update` sends.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class Ingress:
    """An ingress (collection `ingresses`): how members of a mesh reach this team. Not
    `runbeam.Ingress`, an ingress of the gateway's configuration.

    `Ingress(*, name=None, urls=None, protocol=None, mode=None, mesh_id=None,
    pipeline_id=None, gateway_id=None, endpoint_id=None, description=None, enabled=None,
    extra=None)`, as `Gateway` makes one; `urls` is a list of `str`.
    """

    def __new__(
        cls,
        *,
        name: Optional[str] = None,
        urls: Optional[List[str]] = None,
        protocol: Optional[str] = None,
        mode: Optional[str] = None,
        mesh_id: Optional[str] = None,
        pipeline_id: Optional[str] = None,
        gateway_id: Optional[str] = None,
        endpoint_id: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> Ingress: ...
    @property
    def id(self) -> str:
        """The server's id (`""` in a model made to be created)."""
    @property
    def team_id(self) -> Optional[str]:
        """The owning team (set by the server)."""
    @property
    def name(self) -> Optional[str]:
        """Name (required to create)."""
    @property
    def urls(self) -> List[str]:
        """The URLs it is reached at (at least one to create)."""
    @property
    def protocol(self) -> Optional[str]:
        """`"http"` or `"http3"`."""
    @property
    def mode(self) -> Optional[str]:
        """`"default"` or `"mesh"`."""
    @property
    def mesh_id(self) -> Optional[str]:
        """The mesh it is offered in."""
    @property
    def pipeline_id(self) -> Optional[str]:
        """The pipeline that serves it."""
    @property
    def gateway_id(self) -> Optional[str]:
        """The gateway that serves it."""
    @property
    def endpoint_id(self) -> Optional[str]:
        """The endpoint that serves it."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def enabled(self) -> Optional[bool]:
        """Whether it is enabled."""
    @property
    def created_at(self) -> Optional[datetime.datetime]:
        """When it was created (aware, UTC; set by the server)."""
    @property
    def updated_at(self) -> Optional[datetime.datetime]:
        """When it was last changed (aware, UTC; set by the server)."""
    @property
    def extra(self) -> Dict[str, Any]:
        """The fields the server sent that this SDK does not know, as a new `dict`;
        sent back as they are by `create` and `update`.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The JSON object as the server sent it (unknown fields and `null`s
        included), as a new `dict`; for a model made with the constructor, what
        `create` or `update` sends.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...

@final
class Egress:
    """An egress (collection `egresses`): how this team reaches a mesh. Not `runbeam.Egress`,
    an egress of the gateway's configuration.

    `Egress(*, name=None, protocol=None, mode=None, mesh_id=None, pipeline_id=None,
    gateway_id=None, backend_id=None, description=None, enabled=None, extra=None)`, as
    `Gateway` makes one.
    """

    def __new__(
        cls,
        *,
        name: Optional[str] = None,
        protocol: Optional[str] = None,
        mode: Optional[str] = None,
        mesh_id: Optional[str] = None,
        pipeline_id: Optional[str] = None,
        gateway_id: Optional[str] = None,
        backend_id: Optional[str] = None,
        description: Optional[str] = None,
        enabled: Optional[bool] = None,
        extra: Optional[Dict[str, Any]] = None,
    ) -> Egress: ...
    @property
    def id(self) -> str:
        """The server's id (`""` in a model made to be created)."""
    @property
    def team_id(self) -> Optional[str]:
        """The owning team (set by the server)."""
    @property
    def name(self) -> Optional[str]:
        """Name (required to create)."""
    @property
    def protocol(self) -> Optional[str]:
        """`"http"` or `"http3"`."""
    @property
    def mode(self) -> Optional[str]:
        """`"default"` or `"mesh"`."""
    @property
    def mesh_id(self) -> Optional[str]:
        """The mesh it calls into."""
    @property
    def pipeline_id(self) -> Optional[str]:
        """The pipeline it belongs to."""
    @property
    def gateway_id(self) -> Optional[str]:
        """The gateway it runs on."""
    @property
    def backend_id(self) -> Optional[str]:
        """The backend it sends to."""
    @property
    def description(self) -> Optional[str]:
        """Free text."""
    @property
    def enabled(self) -> Optional[bool]:
        """Whether it is enabled."""
    @property
    def created_at(self) -> Optional[datetime.datetime]:
        """When it was created (aware, UTC; set by the server)."""
    @property
    def updated_at(self) -> Optional[datetime.datetime]:
        """When it was last changed (aware, UTC; set by the server)."""
    @property
    def extra(self) -> Dict[str, Any]:
        """The fields the server sent that this SDK does not know, as a new `dict`;
        sent back as they are by `create` and `update`.
        """
    def to_dict(self) -> Dict[str, Any]:
        """The JSON object as the server sent it (unknown fields and `null`s
        included), as a new `dict`; for a model made with the constructor, what
        `create` or `update` sends.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __repr__(self) -> str: ...
