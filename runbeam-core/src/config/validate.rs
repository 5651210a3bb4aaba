//! Startup validation (docs/spec.md §2.2): every problem at once, each with its TOML path.

use std::collections::HashSet;

use super::load::join;
use super::model::{ListedReference, Mesh, MeshConfig, quoted};
use crate::error::{ErrorKind, Problem};
use crate::jwt::MIN_HS256_SECRET_BYTES;
use crate::reference::{LOCAL_PROVIDER, Reference, is_valid_id, is_valid_name};

pub(crate) fn validate(config: &MeshConfig) -> Vec<Problem> {
    let mut v = Validator {
        config,
        problems: Vec::new(),
    };
    v.providers();
    for mesh in &config.meshes {
        v.mesh(mesh);
    }
    v.pipelines();
    v.problems
}

struct Validator<'c> {
    config: &'c MeshConfig,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn push(&mut self, kind: ErrorKind, path: String, message: String) {
        self.problems.push(Problem::new(kind, path, message));
    }

    fn config_problem(&mut self, path: String, message: String) {
        self.push(ErrorKind::Config, path, message);
    }

    fn providers(&mut self) {
        for provider in &self.config.providers {
            if provider.path.is_empty() {
                continue; // the implicit `local` provider
            }
            if !is_valid_name(&provider.name) {
                self.config_problem(
                    provider.path.clone(),
                    format!(
                        "'{}' is not a valid provider name (1-128 characters of a-z, 0-9, '-' \
                         and '_', starting with a letter or digit)",
                        quoted(&provider.name)
                    ),
                );
            }
            let api_path = join(&provider.path, "api");
            match &provider.api {
                Some(api) => self.url(&api_path, api),
                None if provider.name != LOCAL_PROVIDER => self.config_problem(
                    api_path,
                    "missing required key (the provider's API root URL, e.g. \
                     \"https://api.runbeam.io\")"
                        .to_string(),
                ),
                None => {}
            }
        }
    }

    fn mesh(&mut self, mesh: &Mesh) {
        let valid_mesh_name = !mesh.name.is_empty()
            && mesh
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_mesh_name {
            self.config_problem(
                mesh.path.clone(),
                format!(
                    "'{}' is not a valid mesh name (expected a-z, 0-9, '-' and '_')",
                    quoted(&mesh.name)
                ),
            );
        }
        if self.config.provider(&mesh.provider).is_none() {
            self.push(
                ErrorKind::UnknownProvider,
                join(&mesh.path, "provider"),
                format!(
                    "Unknown provider '{}' (mesh '{}'): add a [provider.{}] section with its api URL",
                    quoted(&mesh.provider),
                    mesh.name,
                    quoted(&mesh.provider)
                ),
            );
        }
        if let Some(id) = &mesh.id
            && !is_valid_id(id)
        {
            self.config_problem(
                join(&mesh.path, "id"),
                format!(
                    "'{}' is not a valid id (1-128 characters of A-Z, a-z, 0-9, '-' and '_')",
                    quoted(id)
                ),
            );
        }
        if let Some(url) = &mesh.jwks_url {
            self.url(&join(&mesh.path, "jwks_url"), url);
        }
        if mesh.provider == LOCAL_PROVIDER {
            self.problems.extend(mesh.local_key_problems());
        } else {
            let local_only = [
                ("jwt_secret", mesh.jwt_secret.is_some()),
                ("jwt_private_key_path", mesh.jwt_private_key_path.is_some()),
                ("jwt_public_key_path", mesh.jwt_public_key_path.is_some()),
            ];
            for (key, present) in local_only {
                if present {
                    self.config_problem(
                        join(&mesh.path, key),
                        format!(
                            "only allowed for meshes of the local provider (provider '{}' signs \
                             its own mesh tokens)",
                            quoted(&mesh.provider)
                        ),
                    );
                }
            }
        }
        self.listed(mesh, "ingress", &mesh.ingress);
        self.listed(mesh, "egress", &mesh.egress);
    }

    fn listed(&mut self, mesh: &Mesh, list: &str, entries: &[ListedReference]) {
        for entry in entries {
            let reference = match &entry.reference {
                Some(r) => r,
                None => {
                    let message = match Reference::parse(&entry.text) {
                        Err(e) => e.to_string(),
                        Ok(_) => continue,
                    };
                    self.push(ErrorKind::InvalidReference, entry.path.clone(), message);
                    continue;
                }
            };
            if reference.is_local() {
                self.local_reference(reference, list, &entry.path);
            } else if self.config.provider(reference.provider()).is_none() {
                self.push(
                    ErrorKind::UnknownProvider,
                    entry.path.clone(),
                    format!(
                        "Unknown provider '{}' in reference '{reference}' (mesh '{}'): add a \
                         [provider.{}] section with its api URL",
                        reference.provider(),
                        mesh.name,
                        reference.provider()
                    ),
                );
            }
        }
    }

    fn local_reference(&mut self, reference: &Reference, list: &str, path: &str) {
        let name = reference.value();
        let defined = match list {
            "ingress" => self.config.ingress(name).is_some(),
            _ => self.config.egress(name).is_some(),
        };
        if !defined {
            self.config_problem(
                path.to_string(),
                format!(
                    "local reference '{name}' does not name a local {list} (define \
                     [pipelines.<pipeline>.mesh.{list}.{name}])"
                ),
            );
        }
    }

    fn pipelines(&mut self) {
        let ingresses = self
            .config
            .ingresses
            .iter()
            .map(|i| (&i.name, &i.path, &i.pipeline));
        self.local_names("ingress", ingresses.collect());
        for ingress in &self.config.ingresses {
            self.urls(&join(&ingress.path, "urls"), &ingress.urls);
        }
        let egresses = self
            .config
            .egresses
            .iter()
            .map(|e| (&e.name, &e.path, &e.pipeline));
        self.local_names("egress", egresses.collect());
    }

    /// Local ingress/egress names must be valid reference names and unique across pipelines.
    fn local_names(&mut self, what: &str, entries: Vec<(&String, &String, &String)>) {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut first_pipeline = std::collections::HashMap::new();
        for (name, path, pipeline) in entries {
            if !is_valid_name(name) {
                self.config_problem(
                    path.clone(),
                    format!(
                        "'{}' is not a valid {what} name: local references name it, so it must \
                         be 1-128 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
                        quoted(name)
                    ),
                );
            }
            if !seen.insert(name) {
                self.config_problem(
                    path.clone(),
                    format!(
                        "{what} '{}' is also defined in pipeline '{}' ({what} names must be \
                         unique across pipelines)",
                        quoted(name),
                        first_pipeline.get(name.as_str()).copied().unwrap_or("?")
                    ),
                );
            } else {
                first_pipeline.insert(name.as_str(), pipeline.as_str());
            }
        }
    }

    fn urls(&mut self, path: &str, urls: &[String]) {
        for (i, url) in urls.iter().enumerate() {
            self.url(&format!("{path}[{i}]"), url);
        }
    }

    fn url(&mut self, path: &str, text: &str) {
        if let Err(why) = check_url(text) {
            self.config_problem(
                path.to_string(),
                format!("'{}' is not a valid URL: {why}", quoted(text)),
            );
        }
    }
}

impl Mesh {
    /// The problems of a `local`-provider mesh's key settings (docs/spec.md §2.1): `jwt_secret`
    /// (HS256) and a key pair (`jwt_private_key_path`/`jwt_public_key_path`, RS256) are
    /// exclusive, a secret has at least [`MIN_HS256_SECRET_BYTES`] bytes, a path is not empty.
    /// The files themselves are read when a resolver is built (`crate::jwt::local`).
    pub(crate) fn local_key_problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let pair = self.jwt_private_key_path.is_some() || self.jwt_public_key_path.is_some();
        if let Some(secret) = &self.jwt_secret {
            if pair {
                problems.push(Problem::new(
                    ErrorKind::Config,
                    join(&self.path, "jwt_secret"),
                    "a mesh signs its tokens either with jwt_secret (HS256) or with a key pair \
                     (jwt_private_key_path and/or jwt_public_key_path, RS256), not both: the \
                     configuration fixes the algorithm, so remove one",
                ));
            }
            let len = secret.expose().len();
            if len < MIN_HS256_SECRET_BYTES {
                problems.push(Problem::new(
                    ErrorKind::Config,
                    join(&self.path, "jwt_secret"),
                    format!(
                        "the secret is {len} bytes long; HS256 needs at least \
                         {MIN_HS256_SECRET_BYTES} bytes (256 bits) of random secret, e.g. the \
                         output of `openssl rand -base64 48`"
                    ),
                ));
            }
        }
        for (key, value) in [
            ("jwt_private_key_path", &self.jwt_private_key_path),
            ("jwt_public_key_path", &self.jwt_public_key_path),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                problems.push(Problem::new(
                    ErrorKind::Config,
                    join(&self.path, key),
                    "is empty: name a PEM key file",
                ));
            }
        }
        problems
    }
}

/// An absolute `http`/`https` URL with a host and no embedded credentials.
fn check_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme '{}' is not supported (expected http or https)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".to_string());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials must not be embedded in URLs".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVIDER: &str = "[provider.runbeam]\napi = \"https://api.runbeam.io\"\n";

    fn problems(text: &str) -> Vec<String> {
        MeshConfig::from_toml(text)
            .unwrap()
            .validate()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn unknown_provider_in_reference_has_the_spec_message() {
        let found = problems(
            r#"
            [mesh.imaging-integration]
            type = "http3"
            provider = "runbeam"
            egress = ["runbeam.radiology-dept.ingress.name.dicomweb"]
            "#,
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("mesh.imaging-integration.provider: Unknown provider 'runbeam' (mesh 'imaging-integration')"));
        assert!(found[1].starts_with(
            "mesh.imaging-integration.egress[0]: Unknown provider 'runbeam' in reference \
             'runbeam.radiology-dept.ingress.name.dicomweb' (mesh 'imaging-integration')"
        ));
    }

    #[test]
    fn every_problem_is_reported() {
        let text = format!(
            r#"{PROVIDER}
            [provider.other]
            [mesh.m]
            type = "http"
            provider = "runbeam"
            id = "has space"
            jwks_url = "ftp://x"
            jwt_secret = "s3cret"
            ingress = ["missing-local", "runbeam.acme.widget.name.x", "unknown.team.ingress.name.api"]
            egress = ["only-ingress"]
            [pipelines.a.mesh.ingress.only-ingress]
            urls = ["not a url"]
            [pipelines.b.mesh.ingress.only-ingress]
            urls = ["https://user:pw@host"]
            "#
        );
        let found = problems(&text);
        let expect = [
            "provider.other.api: missing required key",
            "mesh.m.id: 'has space' is not a valid id",
            "mesh.m.jwks_url: 'ftp://x' is not a valid URL",
            "mesh.m.jwt_secret: only allowed for meshes of the local provider",
            "mesh.m.ingress[0]: local reference 'missing-local' does not name a local ingress",
            "mesh.m.ingress[1]: invalid reference 'runbeam.acme.widget.name.x': segment 2",
            "mesh.m.ingress[2]: Unknown provider 'unknown' in reference 'unknown.team.ingress.name.api' (mesh 'm')",
            "mesh.m.egress[0]: local reference 'only-ingress' does not name a local egress",
            "pipelines.b.mesh.ingress.only-ingress: ingress 'only-ingress' is also defined in pipeline 'a'",
            "pipelines.a.mesh.ingress.only-ingress.urls[0]: 'not a url' is not a valid URL",
            "pipelines.b.mesh.ingress.only-ingress.urls[0]: 'https://user:pw@host' is not a valid URL: credentials",
        ];
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        for (got, want) in found.iter().zip(expect) {
            assert!(got.starts_with(want), "{got:?} should start with {want:?}");
        }
        assert!(!found.iter().any(|p| p.contains("s3cret")));
    }

    #[test]
    fn seed_snippets_load_once_completed() {
        let partner = r#"
            [mesh.partner-integration]
            type = "http3"
            provider = "runbeam"
            ingress = [
            "my-local-ingress", # Your local ingress
            "runbeam.partner-team.ingress.name.their-api" # Partner's ingress (must be in this mesh)
            ]
        "#;
        let local =
            "[pipelines.p.mesh.ingress.my-local-ingress]\nurls = [\"https://gw.example.com\"]\n";
        assert!(problems(&format!("{PROVIDER}{partner}{local}")).is_empty());
        let without = problems(&format!("{partner}{local}"));
        assert!(
            without
                .iter()
                .any(|p| p.contains("Unknown provider 'runbeam' in reference"))
        );
    }

    #[test]
    fn local_mesh_keys_are_one_kind_and_a_secret_is_long_enough() {
        let mesh = |keys: &str| {
            problems(&format!(
                "[mesh.m]\ntype = \"http\"\nprovider = \"local\"\n{keys}\n"
            ))
        };
        let long = "a-secret-of-more-than-thirty-two-bytes";
        assert!(mesh(&format!("jwt_secret = \"{long}\"")).is_empty());
        assert!(mesh("jwt_private_key_path = \"m.key\"").is_empty());
        assert!(mesh("jwt_public_key_path = \"m.pub\"").is_empty());
        assert!(mesh("jwt_private_key_path = \"m.key\"\njwt_public_key_path = \"p\"").is_empty());
        assert!(
            mesh("").is_empty(),
            "a local mesh without keys only lists references"
        );

        let both = mesh(&format!(
            "jwt_secret = \"{long}\"\njwt_public_key_path = \"m.pub\""
        ));
        assert_eq!(both.len(), 1, "{both:?}");
        assert!(both[0].starts_with("mesh.m.jwt_secret: a mesh signs its tokens either with jwt_secret (HS256) or with a key pair"));
        let short = mesh("jwt_secret = \"too-short-31-bytes-0123456789ab\"");
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(short[0].starts_with(
            "mesh.m.jwt_secret: the secret is 31 bytes long; HS256 needs at least 32 bytes"
        ));
        assert!(!short[0].contains("too-short"), "the secret is never shown");
        let empty = mesh("jwt_private_key_path = \" \"");
        assert_eq!(
            empty,
            ["mesh.m.jwt_private_key_path: is empty: name a PEM key file"]
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let config = MeshConfig::from_toml(
            "[mesh.m]\ntype = \"http\"\nprovider = \"local\"\n\
             jwt_secret = \"s3cret-value-of-at-least-32-bytes\"\n",
        )
        .unwrap();
        assert!(config.validate().is_empty());
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret-value"));
        assert!(debug.contains("Secret(***)"));
    }
}
