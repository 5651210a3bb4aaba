"""Example Python gateway start-up with librunbeam (mirrors examples/c/mesh_check.c).

Loads the mesh part of a gateway configuration, refuses to start on any problem (each with its
TOML path), shows every reference the meshes list, and whether given references may be
resolved (mesh context).

    python examples/python/mesh_check.py examples/config/ai-analytics.toml [REFERENCE ...]

Exit status: 0 valid, 1 configuration problems, 2 load error.
"""

from __future__ import annotations

import sys

import runbeam


def describe(ref: runbeam.Reference) -> str:
    local = " (local)" if ref.is_local else ""
    return (
        f"provider={ref.provider} team={ref.team or '-'} type={ref.type or '-'} "
        f"lookup={ref.lookup} value={ref.value}{local}"
    )


def main(argv: list[str]) -> int:
    path, references = argv[1], argv[2:]
    print(f"[Python] librunbeam {runbeam.__version__}: {path}")
    try:
        config = runbeam.MeshConfig.from_file(path)
    except runbeam.ConfigError as e:
        print(f"  cannot load: {e}")
        return 2

    problems = config.validate()
    if problems:
        print(f"  configuration has {len(problems)} problem(s) (the gateway refuses to start):")
        for p in problems:
            print(f"    [{p.kind}] {p.path}: {p.message}")
    else:
        print("  configuration is valid")

    for mesh in config.meshes():
        for direction, listed in (("ingress", mesh.ingress), ("egress", mesh.egress)):
            for ref in listed:
                print(f"  mesh {mesh.name} {direction} {ref}\n      {describe(ref)}")

    for text in references:
        print(f"  resolve? {text}")
        try:
            mesh_name = config.check_mesh_context(text)
            print(f"    yes, through mesh '{mesh_name}'")
        except runbeam.InvalidReferenceError as e:
            print(f"    {e.code}: {e}")
        except (runbeam.NotInMeshError, runbeam.UnknownProviderError) as e:
            print(f"    no: {e.code}: {e}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv))
