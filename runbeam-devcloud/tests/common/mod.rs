//! Helpers shared by the devcloud integration tests (plain HTTP with reqwest).
#![allow(dead_code)]

use reqwest::{Client, Method, Response, StatusCode};
use runbeam_devcloud::{DevCloud, Seed};
use serde_json::{Value, json};

pub const ALICE_SANCTUM: &str = "1|rad-dev-7f3c9a2e5b14d6a8c0e1f2a3b4c5d6e7";
pub const BOB_SANCTUM: &str = "2|ai-dev-4b8e1d7c2a9f3e6b5c0d1a2b3c4d5e6f";
pub const ALICE: &str = "alice@radiology.example.com";
pub const BOB: &str = "bob@analytics.example.com";
pub const MESH_ID: &str = "01JDWSSSS6YS3C4DWA7N36096Q";
pub const DICOMWEB_ID: &str = "01JDW14DR9GPQY77ZXYYK596NG";
pub const RADIOLOGY_TEAM_ID: &str = "01JDWM9S346Q3D25VT4F5V37E3";

pub struct Harness {
    pub cloud: DevCloud,
    pub http: Client,
}

impl Harness {
    pub async fn start() -> Harness {
        let cloud = DevCloud::start(Seed::example()).await.unwrap();
        let http = Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        Harness { cloud, http }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.cloud.api_root())
    }

    pub fn dev(&self, path: &str) -> String {
        format!("{}/_dev{path}", self.cloud.url())
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// Sends and returns (status, JSON body or Null).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = if path.starts_with("/_dev") {
            format!("{}{path}", self.cloud.url())
        } else {
            self.api(path)
        };
        let res = self.send(method, &url, token, body).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Sends like [`Harness::call`], asserts that the response has `status` (a failure names
    /// the request and shows the response body) and returns the JSON body (or `Null`).
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let request = describe(&method, path, body.as_ref());
        let (got, body) = self.call(method, path, token, body).await;
        assert_eq!(got, status, "{request}: {body}");
        body
    }

    /// Like [`Harness::expect`] for an error response of SPEC §3.4: also asserts that the body
    /// has a string `message` containing `message_contains` (`""` only requires a string
    /// `message`). Returns the body for further checks (`error`, `errors`).
    pub async fn expect_error(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: StatusCode,
        message_contains: &str,
    ) -> Value {
        let request = describe(&method, path, body.as_ref());
        let body = self.expect(method, path, token, body, status).await;
        let message = body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{request}: no string `message` in {body}"));
        assert!(
            message.contains(message_contains),
            "{request}: message {message:?} does not contain {message_contains:?}: {body}"
        );
        body
    }

    pub async fn user_jwt(&self, email: &str) -> String {
        let body = self
            .expect(
                Method::POST,
                "/_dev/jwt",
                None,
                Some(json!({"email": email})),
                StatusCode::OK,
            )
            .await;
        body["token"].as_str().unwrap().to_owned()
    }

    /// Authorizes `code` with `user_token`; returns the whole response body.
    pub async fn authorize(&self, user_token: &str, code: &str) -> Value {
        self.expect(
            Method::POST,
            "/harmony/authorize",
            Some(user_token),
            Some(json!({"token": user_token, "gateway_code": code})),
            StatusCode::OK,
        )
        .await
    }

    pub async fn machine_token(&self, user_token: &str, code: &str) -> String {
        self.authorize(user_token, code).await["machine_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// `METHOD path [request body]`, for assertion messages.
fn describe(method: &Method, path: &str, body: Option<&Value>) -> String {
    match body {
        Some(b) => format!("{method} {path} {b}"),
        None => format!("{method} {path}"),
    }
}
