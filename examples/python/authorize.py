"""Example Python gateway (mirrors examples/c/authorize.c): authorize with Runbeam Cloud (here
runbeam-devcloud) using a user's Sanctum token, then act as the gateway with its machine token:
resolve the partner's DICOMweb ingress, ask for a mesh token, and list what the user's team can
see (with the asyncio client). Secrets are never printed.

    python examples/python/authorize.py API_URL USER_TOKEN GATEWAY_CODE
"""

from __future__ import annotations

import asyncio
import sys

import runbeam


async def team_ingresses(api_url: str, user_token: str) -> list[str]:
    client = runbeam.AsyncClient(api_url, token=user_token)
    return [item["name"] async for item in client.list_all("ingresses", per_page=2)]


def main(api_url: str, user_token: str, gateway_code: str) -> int:
    print(f"[Python] authorize gateway '{gateway_code}' at {api_url}")
    user = runbeam.Client(api_url, token=user_token)
    try:
        granted = user.authorize(gateway_code)
        print(
            f"  authorized: machine token received ({len(granted.machine_token)} chars, "
            f"not shown), expires {granted.expires_at.isoformat()}"
        )
        gateway = user.with_token(granted.machine_token)

        dicom = runbeam.Reference.parse("runbeam.radiology-dept.ingress.name.dicomweb")
        print(f"  resolve {dicom}:\n    {gateway.resolve(dicom)!r}")

        mesh = gateway.mesh_token(
            "imaging-integration", "https://dicom.radiology.example.com/studies"
        )
        print(f"  mesh token: {mesh!r}")

        names = asyncio.run(team_ingresses(api_url, user_token))
        print(f"  ingresses visible to the team: {', '.join(names) or '(none)'}")
        return 0
    except runbeam.RunbeamError as e:
        print(f"  failed: {e.code}: {e} (HTTP {e.status})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
