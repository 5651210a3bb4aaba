"""runbeam.MeshConfig on the shared configuration fixtures (the same cases as
runbeam-core/tests/config_fixtures.rs, seen from Python)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import runbeam
from conftest import CONFIGS, EXAMPLES

SEEDS = ["seed-partner-integration", "seed-team-b"]
COMPLETE = [
    CONFIGS / "seed-partner-integration.toml",
    CONFIGS / "seed-team-a.toml",
    CONFIGS / "seed-team-b.toml",
    CONFIGS / "completion.toml",
]


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_snippet_alone_lacks_its_provider(seed: str):
    config = runbeam.MeshConfig.from_file(CONFIGS / f"{seed}.toml")
    problems = config.validate()
    assert problems, "a seed snippet alone must not validate"
    assert all(isinstance(p, runbeam.Problem) for p in problems)
    unknown = [p for p in problems if p.kind == "UnknownProvider"]
    assert any(
        p.message.startswith("Unknown provider 'runbeam' in reference 'runbeam.") for p in unknown
    ), problems
    for p in problems:
        assert p.path.startswith("mesh.")
        assert str(p) == f"{p.path}: {p.message}"


def test_seed_snippets_load_once_completed():
    config = runbeam.MeshConfig.from_files(COMPLETE)
    assert config.validate() == []
    assert config.in_mesh_context("runbeam.partner-team.ingress.name.their-api")
    their_api = runbeam.Reference("runbeam.partner-team.ingress.name.their-api")
    assert config.in_mesh_context(their_api)
    assert config.check_mesh_context(their_api) == "partner-integration"
    assert config.in_mesh_context("my-local-ingress")
    assert not config.in_mesh_context("runbeam.partner-team.ingress.name.other")
    remote = [f"{m.mesh}:{m.direction}:{m.reference}" for m in config.remote_references()]
    assert remote == [
        "partner-integration:ingress:runbeam.partner-team.ingress.name.their-api",
        "imaging-integration:egress:runbeam.radiology-dept.ingress.name.dicomweb",
    ]
    member = config.remote_references()[0]
    assert isinstance(member.reference, runbeam.Reference)
    assert member == config.remote_references()[0]
    assert repr(member) == (
        "MeshMember(mesh='partner-integration', direction='ingress', "
        "reference=Reference('runbeam.partner-team.ingress.name.their-api'))"
    )


def test_from_files_accepts_any_iterable_of_str_and_pathlike():
    as_strings = runbeam.MeshConfig.from_files(str(p) for p in COMPLETE)
    as_tuple = runbeam.MeshConfig.from_files(tuple(COMPLETE))
    assert as_strings.validate() == as_tuple.validate() == []
    assert [m.name for m in as_strings.meshes()] == [m.name for m in as_tuple.meshes()]


def test_from_files_order_matters_for_nothing_but_duplicates_are_problems():
    with pytest.raises(runbeam.ConfigError) as info:
        runbeam.MeshConfig.from_files([CONFIGS / "completion.toml", CONFIGS / "completion.toml"])
    assert info.value.problems
    assert all(p.kind == "Config" for p in info.value.problems)


def test_invalid_shape_lists_every_problem_with_its_path():
    with pytest.raises(runbeam.ConfigError) as info:
        runbeam.MeshConfig.from_file(CONFIGS / "invalid-shape.toml")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.kind == "Config" and err.code == "RUNBEAM_CONFIG"
    assert [p.path for p in err.problems] == [
        "provider.runbeam.poll_interval_secs",
        "mesh.imaging.enabeld",
        "mesh.imaging.egress",
    ]
    assert all(p.kind == "Config" for p in err.problems)
    assert "invalid-shape.toml" in str(err)
    for p in err.problems:
        assert f"{p.path}: {p.message}" in str(err)


def test_broken_example_reports_unknown_provider_and_bad_reference():
    config = runbeam.MeshConfig.from_file(str(EXAMPLES / "broken-unknown-provider.toml"))
    problems = config.validate()
    assert [(p.kind, p.path) for p in problems] == [
        ("UnknownProvider", "mesh.imaging-integration.provider"),
        ("UnknownProvider", "mesh.imaging-integration.egress[1]"),
        ("InvalidReference", "mesh.imaging-integration.egress[2]"),
    ]
    assert "segment 2 'igress'" in problems[2].message
    # The mesh lists only the references that parse.
    (mesh,) = config.meshes()
    assert [str(r) for r in mesh.egress] == [
        "imaging-out",
        "runbeam.radiology-dept.ingress.name.dicomweb",
    ]
    assert not mesh.is_active  # its provider is not configured


def test_example_gateways_are_valid_and_in_mesh_context():
    b = runbeam.MeshConfig.from_file(EXAMPLES / "ai-analytics.toml")
    assert b.validate() == []
    assert b.in_mesh_context("runbeam.radiology-dept.ingress.name.dicomweb")
    with pytest.raises(runbeam.NotInMeshError) as info:
        b.check_mesh_context("runbeam.radiology-dept.ingress.name.other")
    assert info.value.kind == "NotInMesh" and not isinstance(info.value, ValueError)
    (egress,) = b.egresses()
    assert (egress.name, egress.pipeline, egress.protocol, egress.backend, egress.mode) == (
        "imaging-out",
        "research",
        "http3",
        "dicom-archive",
        "mesh",
    )
    assert b.ingresses() == []

    a = runbeam.MeshConfig.from_file(EXAMPLES / "radiology-dept.toml")
    assert a.validate() == []
    assert a.in_mesh_context(runbeam.Reference("dicomweb"))
    (ingress,) = a.ingresses()
    assert ingress.name == "dicomweb" and ingress.urls == ["https://dicom.radiology.example.com"]
    assert ingress.mode == "mesh" and ingress.enabled and ingress.endpoint is None
    assert ingress.description == "QIDO-RS / WADO-RS for mesh partners"
    (mesh,) = a.meshes()
    assert (mesh.name, mesh.protocol, mesh.provider, mesh.cloud_id, mesh.id) == (
        "imaging-integration",
        "http3",
        "runbeam",
        "imaging-integration",
        None,
    )
    assert mesh.enabled and mesh.is_active
    assert mesh.description == "Radiology images for partner analytics"
    assert mesh.ingress == [runbeam.Reference("dicomweb")] and mesh.egress == []
    providers = {p.name: p for p in a.providers()}
    assert providers["runbeam"].api == "https://api.runbeam.io"
    assert providers["runbeam"].cache_ttl_secs == 300
    assert providers["local"].api is None


def test_unknown_provider_in_mesh_context_check():
    config = runbeam.MeshConfig.from_file(EXAMPLES / "ai-analytics.toml")
    with pytest.raises(runbeam.UnknownProviderError, match="Unknown provider 'unknown'"):
        config.check_mesh_context("unknown.team.ingress.name.api")
    assert not config.in_mesh_context("unknown.team.ingress.name.api")


def test_mesh_context_with_invalid_reference_text():
    config = runbeam.MeshConfig.from_file(EXAMPLES / "ai-analytics.toml")
    with pytest.raises(runbeam.InvalidReferenceError, match="segment 2"):
        config.in_mesh_context("runbeam.radiology-dept.igress.name.dicomweb")
    with pytest.raises(runbeam.InvalidReferenceError):
        config.check_mesh_context("")


@pytest.mark.parametrize(
    ("mesh_enabled", "provider_enabled", "expected"),
    [(True, True, True), (False, True, False), (True, False, False)],
)
def test_disabled_mesh_or_provider_gives_no_context(mesh_enabled, provider_enabled, expected):
    provider = str(provider_enabled).lower()
    mesh = str(mesh_enabled).lower()
    text = (
        f'[provider.runbeam]\napi = "https://api.runbeam.io"\nenabled = {provider}\n'
        f'[mesh.m]\ntype = "http"\nprovider = "runbeam"\nenabled = {mesh}\n'
        'egress = ["runbeam.t.ingress.name.x"]\n'
    )
    config = runbeam.MeshConfig.from_toml(text)
    assert config.in_mesh_context("runbeam.t.ingress.name.x") is expected
    assert config.meshes()[0].is_active is expected
    if not expected:
        with pytest.raises(runbeam.NotInMeshError):
            config.check_mesh_context("runbeam.t.ingress.name.x")


def test_mesh_id_and_cloud_id():
    config = runbeam.MeshConfig.from_toml(
        '[provider.runbeam]\napi = "https://api.runbeam.io"\n'
        '[mesh.m]\ntype = "http"\nprovider = "runbeam"\nid = "01J9Z3"\njwt_secret = "hunter2"\n'
    )
    (mesh,) = config.meshes()
    assert mesh.id == "01J9Z3" and mesh.cloud_id == "01J9Z3"
    # Secrets never leave the core through the snapshot objects or reprs.
    assert not hasattr(mesh, "jwt_secret")
    assert "hunter2" not in repr(mesh) + repr(config)


def test_missing_file_is_a_config_error_naming_the_path():
    with pytest.raises(runbeam.ConfigError) as info:
        runbeam.MeshConfig.from_file("/nonexistent/gateway.toml")
    assert "/nonexistent/gateway.toml" in str(info.value)
    assert info.value.kind == "Config"
    with pytest.raises(runbeam.ConfigError, match="/nonexistent/other.toml"):
        runbeam.MeshConfig.from_files(
            [CONFIGS / "completion.toml", Path("/nonexistent/other.toml")]
        )


def test_from_toml_loads_a_string():
    config = runbeam.MeshConfig.from_toml((EXAMPLES / "radiology-dept.toml").read_text())
    assert config.validate() == []
    assert [m.name for m in config.meshes()] == ["imaging-integration"]
    assert repr(config) == (
        "<MeshConfig providers=['runbeam', 'local'] meshes=['imaging-integration'] "
        "ingresses=['dicomweb'] egresses=[]>"
    )


def test_problem_protocol():
    problem = runbeam.Problem("UnknownProvider", "mesh.m.provider", "Unknown provider 'x'")
    assert (problem.kind, problem.path, problem.message) == (
        "UnknownProvider",
        "mesh.m.provider",
        "Unknown provider 'x'",
    )
    assert str(problem) == "mesh.m.provider: Unknown provider 'x'"
    assert repr(problem) == (
        "Problem(kind='UnknownProvider', path='mesh.m.provider', message=\"Unknown provider 'x'\")"
    )
    assert pickle.loads(pickle.dumps(problem)) == problem
    assert problem != runbeam.Problem("Config", "mesh.m.provider", "Unknown provider 'x'")
    with pytest.raises(runbeam.InvalidArgumentError):
        runbeam.Problem("NoSuchKind", "", "")
    # A problem without a path shows only its message.
    assert str(runbeam.Problem("Config", "", "syntax error")) == "syntax error"


def test_config_error_survives_pickling():
    with pytest.raises(runbeam.ConfigError) as info:
        runbeam.MeshConfig.from_file(CONFIGS / "invalid-shape.toml")
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is runbeam.ConfigError
    assert str(again) == str(info.value)
    assert again.problems == info.value.problems
    assert again.code == "RUNBEAM_CONFIG"


def test_snapshot_lists_are_copies():
    config = runbeam.MeshConfig.from_file(EXAMPLES / "radiology-dept.toml")
    mesh = config.meshes()[0]
    mesh.ingress.append(runbeam.Reference("other"))
    assert mesh.ingress == [runbeam.Reference("dicomweb")]
    ingress = config.ingresses()[0]
    ingress.urls.clear()
    assert ingress.urls == ["https://dicom.radiology.example.com"]
