//! `MeshConfig::from_toml` on arbitrary text, then every query: never panics; errors are
//! `Config` errors that list at least one problem.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbeam_core::ErrorKind;
use runbeam_core::config::MeshConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match MeshConfig::from_toml(text) {
        Ok(config) => {
            let _ = config.validate();
            let members: Vec<_> = config
                .remote_references()
                .map(|m| m.reference.clone())
                .collect();
            for reference in &members {
                let _ = config.check_mesh_context(reference);
            }
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(!e.problems().is_empty());
        }
    }
});
