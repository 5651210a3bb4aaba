//! A change of the change feed as a server sends it (JSON), applied to a resolver's
//! configuration with `Resolver::apply_change`: never panics; the event is Applied, Skipped or
//! Failed (never PollFailed), a Failed event carries its error and leaves the configuration
//! as it was, and the configuration in use always stays valid. No I/O: applying a change
//! only reloads the configuration and drops cache entries.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use runbeam_core::client::{Change, Client};
use runbeam_core::config::MeshConfig;
use runbeam_core::resolve::{Resolver, WatchEventKind};
use runbeam_core::storage::{MemoryTokenStore, TokenManager};

const BASE: &str = r#"
[provider.runbeam]
api = "https://api.runbeam.io"
[provider.partner]
api = "https://api.partner.example"
[pipelines.research.mesh.egress.imaging-out]
backend = "b"
[mesh.imaging-integration]
type = "http3"
provider = "runbeam"
egress = ["imaging-out", "runbeam.radiology-dept.ingress.name.dicomweb"]
[mesh.theirs]
type = "http"
provider = "partner"
"#;

fn parts() -> &'static (Client, MeshConfig) {
    static PARTS: OnceLock<(Client, MeshConfig)> = OnceLock::new();
    PARTS.get_or_init(|| {
        let client = Client::new("https://api.runbeam.io").expect("client");
        let config = MeshConfig::from_toml(BASE).expect("base configuration");
        (client, config)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(change) = serde_json::from_slice::<Change>(data) else {
        return;
    };
    let (client, config) = parts();
    let manager = TokenManager::new("fuzz-gw", Arc::new(MemoryTokenStore::new()), client.clone());
    let resolver = Resolver::builder(config.clone(), client.clone(), Arc::new(manager))
        .build()
        .expect("resolver");
    let event = resolver.apply_change("runbeam", &change);
    match event.kind {
        WatchEventKind::Failed => {
            assert!(event.error.is_some());
            assert_eq!(&resolver.config(), config, "a failed change changes nothing");
        }
        WatchEventKind::Applied | WatchEventKind::Skipped => assert!(event.error.is_none()),
        other => panic!("apply_change answered {other}"),
    }
    assert!(!event.message.is_empty());
    assert!(resolver.validate_startup().is_ok());
    assert!(resolver.config().mesh("theirs").is_some(), "another provider's mesh is kept");
});
