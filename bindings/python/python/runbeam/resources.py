"""Typed resource models of the eight Runbeam Cloud collections
(``runbeam_core::client::resources``).

Each class wraps the core's model of the same name: the fields of its collection as read-only
typed attributes, ``extra`` (the fields the server sent that this SDK does not know, kept and
sent back as they are), ``to_dict()`` (the JSON object as the server sent it), ``==`` and
``repr()``. The keyword constructor makes one to create or update; the client's collection
calls take a model class as the collection and answer its objects::

    from runbeam.resources import Service

    billing = client.create(Service(name="billing", url="https://billing.internal.example"))
    billing = client.get(Service, billing.id)
    billing = client.update(billing.id, Service(description="invoices"))
    for service in client.list_all(Service): ...
    client.delete(Service, billing.id)

They are not at the top of the package: ``runbeam.Mesh``, ``runbeam.Ingress`` and
``runbeam.Egress`` are the mesh configuration's classes.
"""

from __future__ import annotations

from ._native import _resources  # type: ignore[attr-defined]

Gateway = _resources.Gateway
Service = _resources.Service
Endpoint = _resources.Endpoint
Backend = _resources.Backend
Pipeline = _resources.Pipeline
Mesh = _resources.Mesh
Ingress = _resources.Ingress
Egress = _resources.Egress

__all__ = [
    "Gateway",
    "Service",
    "Endpoint",
    "Backend",
    "Pipeline",
    "Mesh",
    "Ingress",
    "Egress",
]
