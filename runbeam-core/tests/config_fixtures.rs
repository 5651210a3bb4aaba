//! The seed's configuration snippets and the example gateway configurations.

use runbeam_core::config::MeshConfig;
use runbeam_core::{ErrorKind, Reference};

fn path(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn seed_snippets_need_the_provider_section() {
    for seed in ["seed-partner-integration", "seed-team-b"] {
        let alone = MeshConfig::from_file(path(&format!("tests/fixtures/configs/{seed}.toml")))
            .unwrap_or_else(|e| panic!("{e}"));
        let problems = alone.validate();
        assert!(
            problems
                .iter()
                .any(|p| p.kind() == ErrorKind::UnknownProvider
                    && p.message()
                        .starts_with("Unknown provider 'runbeam' in reference 'runbeam.")),
            "{seed}: {problems:?}"
        );
    }
}

#[test]
fn seed_snippets_load_once_completed() {
    let files = [
        path("tests/fixtures/configs/seed-partner-integration.toml"),
        path("tests/fixtures/configs/seed-team-a.toml"),
        path("tests/fixtures/configs/seed-team-b.toml"),
        path("tests/fixtures/configs/completion.toml"),
    ];
    let config = MeshConfig::from_files(&files).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.validate(), []);
    let their_api = Reference::parse("runbeam.partner-team.ingress.name.their-api").unwrap();
    assert_eq!(
        config
            .check_mesh_context(&their_api)
            .map(|m| m.name.as_str()),
        Ok("partner-integration")
    );
    let remote: Vec<String> = config
        .remote_references()
        .map(|m| format!("{}:{}:{}", m.mesh.name, m.direction.as_str(), m.reference))
        .collect();
    assert_eq!(
        remote,
        [
            "partner-integration:ingress:runbeam.partner-team.ingress.name.their-api",
            "imaging-integration:egress:runbeam.radiology-dept.ingress.name.dicomweb",
        ]
    );
}

#[test]
fn invalid_shape_fixture_lists_every_problem() {
    let err = MeshConfig::from_file(path("tests/fixtures/configs/invalid-shape.toml")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let paths: Vec<_> = err.problems().iter().map(|p| p.path()).collect();
    assert_eq!(
        paths,
        [
            "provider.runbeam.poll_interval_secs",
            "mesh.imaging.enabeld",
            "mesh.imaging.egress"
        ]
    );
    assert!(err.to_string().contains("invalid-shape.toml"));
}

#[test]
fn example_gateways_are_valid_and_in_mesh_context() {
    let b = MeshConfig::from_file(path("examples/config/ai-analytics.toml")).unwrap();
    assert_eq!(b.validate(), []);
    let dicom = Reference::parse("runbeam.radiology-dept.ingress.name.dicomweb").unwrap();
    assert!(b.in_mesh_context(&dicom));
    let elsewhere = Reference::parse("runbeam.radiology-dept.ingress.name.other").unwrap();
    let err = b.check_mesh_context(&elsewhere).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotInMesh);

    let a = MeshConfig::from_file(path("examples/config/radiology-dept.toml")).unwrap();
    assert_eq!(a.validate(), []);
    assert!(a.in_mesh_context(&Reference::parse("dicomweb").unwrap()));
    assert_eq!(a.ingress("dicomweb").map(|i| i.urls.len()), Some(1));
}

#[test]
fn broken_example_reports_unknown_provider_and_bad_reference() {
    let config =
        MeshConfig::from_file(path("examples/config/broken-unknown-provider.toml")).unwrap();
    let problems = config.validate();
    let kinds: Vec<_> = problems.iter().map(|p| (p.kind(), p.path())).collect();
    assert_eq!(
        kinds,
        [
            (
                ErrorKind::UnknownProvider,
                "mesh.imaging-integration.provider"
            ),
            (
                ErrorKind::UnknownProvider,
                "mesh.imaging-integration.egress[1]"
            ),
            (
                ErrorKind::InvalidReference,
                "mesh.imaging-integration.egress[2]"
            ),
        ]
    );
}

#[test]
fn disabled_mesh_or_provider_gives_no_context() {
    let text = |mesh_enabled: bool, provider_enabled: bool| {
        format!(
            "[provider.runbeam]\napi = \"https://api.runbeam.io\"\nenabled = {provider_enabled}\n\
             [mesh.m]\ntype = \"http\"\nprovider = \"runbeam\"\nenabled = {mesh_enabled}\n\
             egress = [\"runbeam.t.ingress.name.x\"]\n"
        )
    };
    let r = Reference::parse("runbeam.t.ingress.name.x").unwrap();
    for (m, p, expected) in [
        (true, true, true),
        (false, true, false),
        (true, false, false),
    ] {
        let config = MeshConfig::from_toml(&text(m, p)).unwrap();
        assert_eq!(
            config.in_mesh_context(&r),
            expected,
            "mesh {m} provider {p}"
        );
    }
}

#[test]
fn missing_and_oversized_files_are_clear_errors() {
    let err = MeshConfig::from_file("/nonexistent/gateway.toml").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("/nonexistent/gateway.toml"));

    let dir = std::env::temp_dir().join(format!("runbeam-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.toml");
    std::fs::write(
        &big,
        vec![b'#'; runbeam_core::config::MAX_DOCUMENT_BYTES + 1],
    )
    .unwrap();
    let err = MeshConfig::from_file(&big).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    let bad_utf8 = dir.join("bad.toml");
    std::fs::write(&bad_utf8, b"a = \"\xff\"\n").unwrap();
    let err = MeshConfig::from_file(&bad_utf8).unwrap_err();
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
