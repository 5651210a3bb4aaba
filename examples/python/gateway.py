"""Example Python gateway: team ai-analytics reaches team radiology-dept's DICOMweb ingress
through the mesh `imaging-integration`, with Runbeam Cloud played by runbeam-devcloud.

    python examples/python/gateway.py DEVCLOUD_URL        (from the repository root)

1. loads both teams' configurations (examples/config/) pointed at the devcloud, checks them;
2. opens the encrypted file token store under RUNBEAM_HOME (a temporary directory when unset)
   and gets the gateway's machine token with the Sanctum token in RUNBEAM_SANCTUM_TOKEN
   (default: Bob's seeded token);
3. resolves the partner's ingress, then again from the cache;
4. gets a mesh token for a request to it;
5. verifies that token as the receiving gateway (radiology-dept) would;
6. shows a reference the configuration does not allow being refused.

Tokens are never printed. Exit status 0 on success; 1 with the error's kind and message.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import runbeam

TAG = "[Python]"
CONFIGS = Path("examples") / "config"
BOB_SANCTUM = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f"
GATEWAY = "analytics-gw-1"
PARTNER_GATEWAY = "radiology-gw-1"
MESH = "imaging-integration"
DICOMWEB = "runbeam.radiology-dept.ingress.name.dicomweb"
OUTSIDE = "runbeam.acme.ingress.name.api"


def say(text: str) -> None:
    print(f"{TAG} {text}", flush=True)


def load(name: str, url: str) -> runbeam.MeshConfig:
    return runbeam.MeshConfig.from_file(CONFIGS / name).with_provider_api("runbeam", url)


def counts(config: runbeam.MeshConfig) -> str:
    return f"{len(config.meshes())} mesh(es), {len(config.remote_references())} remote reference(s)"


def run(url: str) -> None:
    # 1. Both configurations, pointed at the devcloud and checked as at start-up.
    config = load("ai-analytics.toml", url)
    partner_config = load("radiology-dept.toml", url)
    cloud = runbeam.Client(url)

    # The machine token will be kept in the encrypted file store (step 2).
    store = runbeam.open_token_store("file")
    sanctum = os.environ.get("RUNBEAM_SANCTUM_TOKEN", BOB_SANCTUM)
    manager = runbeam.TokenManager(GATEWAY, store, cloud, credential=sanctum)
    resolver = runbeam.Resolver(config, cloud, manager)
    # The receiving gateway: no credential, verification needs keys, not a machine token.
    receiver = runbeam.Resolver(
        partner_config,
        cloud,
        runbeam.TokenManager(PARTNER_GATEWAY, runbeam.MemoryTokenStore(), cloud),
    )
    resolver.validate_startup()
    receiver.validate_startup()
    say(f"1. ai-analytics.toml: {counts(config)}; radiology-dept.toml: {counts(partner_config)}")

    # 2. The machine token: authorized once with the Sanctum token, saved encrypted.
    machine = manager.ensure_token()
    say(f"2. token store: {store.backend} backend, file {store.location(GATEWAY, 'auth')}")
    say(f"   machine token of {GATEWAY} expires {machine.expires_at:%Y-%m-%d %H:%M} UTC")

    # 3. Resolution, then the cache.
    dicom = resolver.resolve(DICOMWEB)
    resource = dicom.resource
    say(
        f"3. {DICOMWEB} -> urls={resource.urls} protocol={resource.protocol} "
        f"mode={resource.mode} stale={dicom.is_stale}"
    )
    resolver.resolve(DICOMWEB)
    stats = resolver.stats()
    say(
        f"   resolved again from the cache: hits={stats.hits}, "
        f"upstream requests={stats.upstream_requests}"
    )

    # 4. A mesh token for the request.
    destination = resource.urls[0] + "/studies"
    issued = resolver.mesh_token(MESH, destination)
    say(
        f"4. mesh token for {destination}: expires {issued.expires_at:%H:%M:%S} UTC, "
        f"sub={issued.claims.sub}, aud={issued.claims.aud}"
    )

    # 5. The receiving gateway verifies it as it would a request's bearer token.
    claims = receiver.verify_mesh_token(issued.token, MESH, destination)
    say(
        f"5. {PARTNER_GATEWAY} verified it: source_team={claims.get('source_team')}, "
        f"dest_url={claims.get('dest_url')}"
    )

    # 6. A reference no mesh of this gateway lists is refused before any request.
    try:
        resolver.resolve(OUTSIDE)
    except runbeam.NotInMeshError as e:
        say(f"6. refused as expected: {e}")
    else:
        raise RuntimeError(f"{OUTSIDE} was resolved although no mesh lists it")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    temporary = None
    if not os.environ.get("RUNBEAM_HOME"):
        temporary = tempfile.mkdtemp(prefix="runbeam-gateway-")
        os.environ["RUNBEAM_HOME"] = temporary
    try:
        run(argv[1])
        return 0
    except runbeam.RunbeamError as e:
        say(f"error: {e.kind}: {e}")
        return 1
    except Exception as e:  # an unexpected failure of the example itself
        say(f"error: {type(e).__name__}: {e}")
        return 1
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
