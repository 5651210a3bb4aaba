//! Shared helpers of the end-to-end tests (see tests/): start a devcloud, drive its `/_dev`
//! endpoints, and build clients for the seeded users and gateways.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use runbeam_core::Secret;
use runbeam_core::client::{AuthorizeRequest, Client, RetryPolicy};
use runbeam_core::config::MeshConfig;
use runbeam_core::resolve::{Resolver, ResolverBuilder};
use runbeam_core::storage::{Credential, MemoryTokenStore, TokenManager};
pub use runbeam_devcloud::{DevCloud, Seed};
use serde_json::{Value, json};

/// Alice's Sanctum token (team `radiology-dept`).
pub const ALICE_SANCTUM: &str = "1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7";
/// Alice's e-mail.
pub const ALICE_EMAIL: &str = "alice@radiology.example.com";
/// Bob's Sanctum token (team `ai-analytics`).
pub const BOB_SANCTUM: &str = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f";
/// Gateway of `radiology-dept`.
pub const RADIOLOGY_GW: &str = "radiology-gw-1";
/// Gateway of `ai-analytics`.
pub const ANALYTICS_GW: &str = "analytics-gw-1";
/// The seeded mesh.
pub const MESH: &str = "imaging-integration";
/// The URL of the seeded DICOMweb ingress.
pub const DICOM_URL: &str = "https://dicom.radiology.example.com";
/// The seeded DICOMweb ingress of `radiology-dept`, as a mesh reference.
pub const DICOMWEB: &str = "runbeam.radiology-dept.ingress.name.dicomweb";
/// A reference of `radiology-dept` the Cloud does not know (404).
pub const RETIRED: &str = "runbeam.radiology-dept.ingress.name.retired-api";

/// A started devcloud with the example seed, and a plain HTTP client for `/_dev`.
pub struct Cloud {
    /// The server.
    pub dev: DevCloud,
    http: reqwest::Client,
}

impl Cloud {
    /// Starts a devcloud with the example seed.
    pub async fn start() -> Cloud {
        let dev = DevCloud::start(Seed::example())
            .await
            .expect("devcloud starts");
        Cloud {
            dev,
            http: reqwest::Client::new(),
        }
    }

    /// The server URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        self.dev.url()
    }

    /// A client of this devcloud with `token` and a fast retry policy (3 attempts).
    pub fn client(&self, token: &str) -> Client {
        self.builder()
            .token(Secret::new(token.to_string()))
            .build()
            .expect("client builds")
    }

    /// A builder for this devcloud with a fast retry policy.
    pub fn builder(&self) -> runbeam_core::ClientBuilder {
        Client::builder(self.url()).retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            honour_retry_after: true,
        })
    }

    /// Authorizes `gateway_code` with `user_token` and returns a client with its machine token.
    pub async fn gateway(&self, user_token: &str, gateway_code: &str) -> Client {
        let user = self.client(user_token);
        let granted = user
            .authorize(AuthorizeRequest::new(gateway_code))
            .await
            .expect("authorize");
        user.with_token(granted.machine_token)
    }

    /// `POST <url>/_dev/<path>` with `body`; returns the JSON answer.
    pub async fn dev_post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/_dev/{path}", self.url()))
            .json(&body)
            .send()
            .await
            .expect("dev endpoint answers");
        assert!(
            response.status().is_success(),
            "POST /_dev/{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// `DELETE <url>/_dev/<path>`.
    pub async fn dev_delete(&self, path: &str) {
        let response = self
            .http
            .delete(format!("{}/_dev/{path}", self.url()))
            .send()
            .await
            .expect("dev endpoint answers");
        assert!(response.status().is_success(), "DELETE /_dev/{path}");
    }

    /// Injects a fault (see the devcloud's `POST /_dev/faults`).
    pub async fn fault(&self, fault: Value) {
        self.dev_post("faults", fault).await;
    }

    /// A user JWT for `email`.
    pub async fn user_jwt(&self, email: &str) -> String {
        let answer = self
            .dev_post("jwt", json!({"email": email, "ttl_secs": 600}))
            .await;
        answer["token"].as_str().expect("token").to_string()
    }

    /// How many `"<METHOD> <path>"` requests the devcloud has served since the last reset.
    pub async fn count(&self, key: &str) -> u64 {
        let counters: Value = self
            .http
            .get(format!("{}/_dev/counters", self.url()))
            .send()
            .await
            .expect("counters")
            .json()
            .await
            .expect("counters JSON");
        counters["counts"][key].as_u64().unwrap_or(0)
    }

    /// The example configuration of team ai-analytics (examples/config/ai-analytics.toml)
    /// pointed at this devcloud with `cache_ttl_secs`, its mesh also listing [`RETIRED`].
    pub fn analytics_config(&self, ttl_secs: u32) -> MeshConfig {
        let text = include_str!("../../examples/config/ai-analytics.toml")
            .replace(
                "api = \"https://api.runbeam.io\"",
                &format!("api = \"{}\"\ncache_ttl_secs = {ttl_secs}", self.url()),
            )
            .replace(
                &format!("\"{DICOMWEB}\","),
                &format!("\"{DICOMWEB}\",\n  \"{RETIRED}\","),
            );
        MeshConfig::from_toml(&text).expect("the example configuration loads")
    }

    /// The example configuration of team radiology-dept pointed at this devcloud.
    pub fn radiology_config(&self) -> MeshConfig {
        MeshConfig::from_toml(include_str!("../../examples/config/radiology-dept.toml"))
            .and_then(|c| c.with_provider_api("runbeam", self.url()))
            .expect("the example configuration loads")
    }

    /// A token manager for `gateway` on a memory store, renewing with `sanctum`.
    pub fn token_manager(&self, gateway: &str, sanctum: &str) -> Arc<TokenManager> {
        Arc::new(
            TokenManager::new(
                gateway,
                Arc::new(MemoryTokenStore::new()),
                self.builder().build().expect("client builds"),
            )
            .credential(Credential::Token(Secret::new(sanctum.to_string()))),
        )
    }

    /// A resolver builder for team ai-analytics' gateway with [`Cloud::analytics_config`].
    pub fn analytics_resolver(&self, ttl_secs: u32) -> ResolverBuilder {
        Resolver::builder(
            self.analytics_config(ttl_secs),
            self.builder().build().expect("client builds"),
            self.token_manager(ANALYTICS_GW, BOB_SANCTUM),
        )
    }

    /// Resets the request counters.
    pub async fn reset_counts(&self) {
        self.dev_delete("counters").await;
    }
}

/// A fresh directory under the system temp dir, removed (with its content) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// `<tmp>/runbeam-<name>-<pid>-<n>`, created (mode as the umask gives).
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "runbeam-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}
