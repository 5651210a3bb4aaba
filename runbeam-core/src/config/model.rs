//! The typed mesh configuration and its queries.

use std::fmt;
use std::path::Path;

use super::load::{self, ConfigDocument};
use crate::error::{Error, ErrorKind, Problem, Result, quote_input};
use crate::reference::{LOCAL_PROVIDER, Reference};
use crate::secret::Secret;

/// Transport of a mesh, ingress or egress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// HTTP/1.1 or HTTP/2.
    Http,
    /// HTTP/3 (QUIC).
    Http3,
}

impl Protocol {
    /// The configuration spelling (`"http"`, `"http3"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http3 => "http3",
        }
    }
}

/// How a mesh authenticates its members. Only JWT exists today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// Mesh JWTs signed by the provider (docs/spec.md §3.3).
    Jwt,
}

impl AuthType {
    /// The configuration spelling (`"jwt"`).
    pub const fn as_str(self) -> &'static str {
        "jwt"
    }
}

/// Whether a pipeline ingress/egress is plain or mesh-authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Plain traffic.
    Default,
    /// Mesh traffic: requests carry mesh JWTs.
    Mesh,
}

impl Mode {
    /// The configuration spelling (`"default"`, `"mesh"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Mesh => "mesh",
        }
    }
}

/// Which list of a mesh a reference appears in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The mesh's `ingress` list.
    Ingress,
    /// The mesh's `egress` list.
    Egress,
}

impl Direction {
    /// `"ingress"` or `"egress"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// `[provider.<name>]`: where a provider's API lives and how its answers are cached.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Provider {
    /// The table name (`runbeam`).
    pub name: String,
    /// The API root URL; required for every provider except `local`.
    pub api: Option<String>,
    /// Seconds between polls for configuration changes (0–3600, default 30).
    pub poll_interval_secs: u32,
    /// Resolution cache TTL in seconds (default 300).
    pub cache_ttl_secs: u32,
    /// Whether the provider is used (default true). Meshes of a disabled provider are inactive.
    pub enabled: bool,
    pub(crate) path: String,
}

impl Provider {
    /// The implicit `local` provider, present in every configuration.
    pub(crate) fn implicit_local() -> Provider {
        Provider {
            name: LOCAL_PROVIDER.to_string(),
            api: None,
            poll_interval_secs: load::DEFAULT_POLL_INTERVAL_SECS,
            cache_ttl_secs: load::DEFAULT_CACHE_TTL_SECS,
            enabled: true,
            path: String::new(),
        }
    }
}

/// A reference listed in a mesh, as written, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListedReference {
    pub(crate) text: String,
    pub(crate) path: String,
    /// `None` when `text` does not parse; `validate` reports it.
    pub(crate) reference: Option<Reference>,
}

/// `[mesh.<name>]`: a trust boundary shared by teams.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Mesh {
    /// The table name.
    pub name: String,
    /// `http` or `http3`.
    pub protocol: Protocol,
    /// The configured provider that runs the mesh.
    pub provider: String,
    /// The Cloud mesh id as written (`id = …`); see [`Mesh::cloud_id`].
    pub id: Option<String>,
    /// How members authenticate (`jwt`).
    pub auth_type: AuthType,
    /// Overrides the provider's JWKS URL.
    pub jwks_url: Option<String>,
    /// Shared JWT secret (local provider only). Redacted in `Debug`.
    pub jwt_secret: Option<Secret>,
    /// Private key path for signing mesh JWTs (local provider only).
    pub jwt_private_key_path: Option<String>,
    /// Public key path for verifying mesh JWTs (local provider only).
    pub jwt_public_key_path: Option<String>,
    /// Whether the mesh is active (default true).
    pub enabled: bool,
    /// Free text.
    pub description: Option<String>,
    pub(crate) ingress: Vec<ListedReference>,
    pub(crate) egress: Vec<ListedReference>,
    pub(crate) path: String,
}

impl Mesh {
    /// The id used with the Cloud API: `id` when set, else the mesh name (as Harmony does).
    pub fn cloud_id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.name)
    }

    /// The references of the `ingress` list that parse, in order.
    pub fn ingress(&self) -> impl Iterator<Item = &Reference> {
        self.ingress.iter().filter_map(|l| l.reference.as_ref())
    }

    /// The references of the `egress` list that parse, in order.
    pub fn egress(&self) -> impl Iterator<Item = &Reference> {
        self.egress.iter().filter_map(|l| l.reference.as_ref())
    }

    /// Whether `reference` appears (by canonical form) in the `ingress` or `egress` list.
    #[inline]
    pub fn lists(&self, reference: &Reference) -> bool {
        self.ingress().chain(self.egress()).any(|r| r == reference)
    }
}

impl fmt::Debug for Mesh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |list: &[ListedReference]| -> Vec<String> {
            list.iter().map(|l| l.text.clone()).collect()
        };
        f.debug_struct("Mesh")
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("provider", &self.provider)
            .field("id", &self.id)
            .field("auth_type", &self.auth_type)
            .field("jwks_url", &self.jwks_url)
            .field("jwt_secret", &self.jwt_secret)
            .field("jwt_private_key_path", &self.jwt_private_key_path)
            .field("jwt_public_key_path", &self.jwt_public_key_path)
            .field("enabled", &self.enabled)
            .field("description", &self.description)
            .field("ingress", &names(&self.ingress))
            .field("egress", &names(&self.egress))
            .finish()
    }
}

/// `[pipelines.<pipeline>.mesh.ingress.<name>]`: where this gateway accepts mesh traffic.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Ingress {
    /// The table name; local references name it.
    pub name: String,
    /// The pipeline that defines it.
    pub pipeline: String,
    /// `http` (default) or `http3`.
    pub protocol: Protocol,
    /// URLs clients use to reach it (at least one).
    pub urls: Vec<String>,
    /// The pipeline endpoint it feeds.
    pub endpoint: Option<String>,
    /// `default` or `mesh` (default `default`).
    pub mode: Mode,
    /// Whether it is active (default true).
    pub enabled: bool,
    /// Free text.
    pub description: Option<String>,
    pub(crate) path: String,
}

/// `[pipelines.<pipeline>.mesh.egress.<name>]`: where this gateway sends mesh traffic.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Egress {
    /// The table name; local references name it.
    pub name: String,
    /// The pipeline that defines it.
    pub pipeline: String,
    /// `http` (default) or `http3`.
    pub protocol: Protocol,
    /// The pipeline backend it uses.
    pub backend: Option<String>,
    /// `default` or `mesh` (default `default`).
    pub mode: Mode,
    /// Whether it is active (default true).
    pub enabled: bool,
    /// Free text.
    pub description: Option<String>,
    pub(crate) path: String,
}

/// A reference listed in a mesh, as returned by [`MeshConfig::remote_references`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshMember<'a> {
    /// The mesh that lists it.
    pub mesh: &'a Mesh,
    /// Which of the mesh's lists.
    pub direction: Direction,
    /// The reference.
    pub reference: &'a Reference,
}

/// The mesh part of a gateway configuration, merged from one or more TOML documents.
///
/// ```
/// use runbeam_core::{config::MeshConfig, ErrorKind, Reference};
///
/// let config = MeshConfig::from_toml(r#"
///     [provider.runbeam]
///     api = "https://api.runbeam.io"
///
///     [pipelines.dicom-api.mesh.ingress.dicomweb]
///     type = "http3"
///     urls = ["https://dicom.radiology.example.com"]
///
///     [mesh.imaging]
///     type = "http3"
///     provider = "runbeam"
///     ingress = ["dicomweb"]
///     egress = ["runbeam.ai-analytics.egress.name.research"]
/// "#)?;
/// assert!(config.validate().is_empty());
/// assert_eq!(config.remote_references().count(), 1);
/// let other = Reference::parse("runbeam.acme.ingress.name.api")?;
/// assert_eq!(config.check_mesh_context(&other).unwrap_err().kind(), ErrorKind::NotInMesh);
/// # Ok::<(), runbeam_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MeshConfig {
    pub(crate) providers: Vec<Provider>,
    pub(crate) meshes: Vec<Mesh>,
    pub(crate) ingresses: Vec<Ingress>,
    pub(crate) egresses: Vec<Egress>,
}

impl MeshConfig {
    /// Loads one TOML document.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every syntax and shape problem in [`Error::problems`].
    pub fn from_toml(text: &str) -> Result<MeshConfig> {
        load::load(&[ConfigDocument::new("<string>", text)])
    }

    /// Loads and merges several documents, in order. A key defined in two documents is a
    /// problem naming both (a later file never silently overrides security settings).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of every document.
    pub fn from_documents(documents: &[ConfigDocument<'_>]) -> Result<MeshConfig> {
        load::load(documents)
    }

    /// Reads and loads one file (at most [`super::MAX_DOCUMENT_BYTES`]).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] if the file cannot be read or loaded; the message names the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<MeshConfig> {
        Self::from_files(&[path])
    }

    /// Reads, merges and loads several files, in order.
    ///
    /// # Errors
    /// As [`MeshConfig::from_file`] and [`MeshConfig::from_documents`].
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<MeshConfig> {
        let mut texts = Vec::with_capacity(paths.len());
        for path in paths {
            let path = path.as_ref();
            texts.push((path.display().to_string(), load::read_file(path)?));
        }
        let documents: Vec<_> = texts
            .iter()
            .map(|(name, text)| ConfigDocument::new(name, text))
            .collect();
        load::load(&documents)
    }

    /// Checks the meaning of the configuration and returns **every** problem, in document
    /// order; empty means valid. See docs/spec.md §2.2.
    pub fn validate(&self) -> Vec<Problem> {
        super::validate::validate(self)
    }

    /// Like [`MeshConfig::validate`], but as a `Result` for `?` at startup.
    ///
    /// # Errors
    /// The first problem's kind ([`ErrorKind::UnknownProvider`], [`ErrorKind::InvalidReference`]
    /// or [`ErrorKind::Config`]), with a message listing every problem.
    pub fn validated(self) -> Result<MeshConfig> {
        let problems = self.validate();
        match problems.first() {
            None => Ok(self),
            Some(first) => Err(problems_error(
                first.kind(),
                "the mesh configuration is invalid",
                problems,
            )),
        }
    }

    /// Configured providers, in document order, followed by the implicit `local` provider when
    /// it is not configured explicitly.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The provider called `name` (`local` always exists).
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// Meshes, in document order.
    pub fn meshes(&self) -> &[Mesh] {
        &self.meshes
    }

    /// The mesh called `name`.
    pub fn mesh(&self, name: &str) -> Option<&Mesh> {
        self.meshes.iter().find(|m| m.name == name)
    }

    /// Local mesh ingresses of all pipelines, in document order.
    pub fn ingresses(&self) -> &[Ingress] {
        &self.ingresses
    }

    /// The local ingress called `name`.
    pub fn ingress(&self, name: &str) -> Option<&Ingress> {
        self.ingresses.iter().find(|i| i.name == name)
    }

    /// Local mesh egresses of all pipelines, in document order.
    pub fn egresses(&self) -> &[Egress] {
        &self.egresses
    }

    /// The local egress called `name`.
    pub fn egress(&self, name: &str) -> Option<&Egress> {
        self.egresses.iter().find(|e| e.name == name)
    }

    /// A copy of this configuration with provider `name`'s `api` URL replaced: points a
    /// gateway's configuration at another Cloud (staging, a local `runbeam-devcloud`) without
    /// editing the file. [`MeshConfig::validate`] checks the URL like one read from TOML.
    ///
    /// ```
    /// use runbeam_core::config::MeshConfig;
    /// let config = MeshConfig::from_toml("[provider.runbeam]\napi = \"https://api.runbeam.io\"")?;
    /// let dev = config.with_provider_api("runbeam", "http://127.0.0.1:8080")?;
    /// assert_eq!(dev.provider("runbeam").unwrap().api.as_deref(), Some("http://127.0.0.1:8080"));
    /// assert!(config.with_provider_api("partner", "https://x.example.com").is_err());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `UnknownProvider` when the configuration has no `[provider.<name>]` (the implicit
    /// `local` provider has no API).
    pub fn with_provider_api(&self, name: &str, api: &str) -> Result<MeshConfig> {
        let mut config = self.clone();
        let provider = config
            .providers
            .iter_mut()
            .find(|p| p.name == name && p.name != LOCAL_PROVIDER)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownProvider,
                    format!(
                        "the configuration has no [provider.{}] whose api could be replaced",
                        quoted(name)
                    ),
                )
            })?;
        provider.api = Some(api.to_string());
        Ok(config)
    }

    /// Whether `mesh` is usable: enabled, and its provider configured and enabled.
    #[inline]
    pub fn is_mesh_active(&self, mesh: &Mesh) -> bool {
        mesh.enabled && self.provider(&mesh.provider).is_some_and(|p| p.enabled)
    }

    /// Active meshes that list `reference` in their `ingress` or `egress`.
    #[inline]
    pub fn meshes_for<'a, 'r>(
        &'a self,
        reference: &'r Reference,
    ) -> impl Iterator<Item = &'a Mesh> + use<'a, 'r> {
        self.meshes
            .iter()
            .filter(move |m| self.is_mesh_active(m) && m.lists(reference))
    }

    /// docs/spec.md §2.3: whether `reference` is listed in an active mesh, so that it may be resolved.
    /// "Without the mesh context, resources cannot be accessed, even if the reference is valid."
    pub fn in_mesh_context(&self, reference: &Reference) -> bool {
        self.meshes_for(reference).next().is_some()
    }

    /// Like [`MeshConfig::in_mesh_context`], returning the first mesh that lists `reference`.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownProvider`] if the reference's provider is not configured,
    /// [`ErrorKind::NotInMesh`] if no active mesh lists it.
    #[inline]
    pub fn check_mesh_context(&self, reference: &Reference) -> Result<&Mesh> {
        if let Some(mesh) = self.meshes_for(reference).next() {
            return Ok(mesh);
        }
        if self.provider(reference.provider()).is_none() {
            return Err(Error::new(
                ErrorKind::UnknownProvider,
                format!(
                    "Unknown provider '{}' in reference '{reference}': add a [provider.{}] \
                     section with its api URL",
                    reference.provider(),
                    reference.provider()
                ),
            ));
        }
        Err(Error::new(
            ErrorKind::NotInMesh,
            format!(
                "reference '{reference}' is not listed in any enabled mesh: resources are \
                 reachable only through a mesh that lists them (add it to the ingress or egress \
                 list of an enabled [mesh.<name>])"
            ),
        ))
    }

    /// Every remote reference listed in a mesh (enabled or not), in document order.
    pub fn remote_references(&self) -> impl Iterator<Item = MeshMember<'_>> {
        self.meshes.iter().flat_map(|mesh| {
            let ingress = mesh.ingress().map(move |r| (mesh, Direction::Ingress, r));
            let egress = mesh.egress().map(move |r| (mesh, Direction::Egress, r));
            ingress.chain(egress).filter(|(_, _, r)| !r.is_local()).map(
                |(mesh, direction, reference)| MeshMember {
                    mesh,
                    direction,
                    reference,
                },
            )
        })
    }
}

/// An error of `kind` whose message lists every problem (at most 50, then a count).
pub(crate) fn problems_error(kind: ErrorKind, headline: &str, problems: Vec<Problem>) -> Error {
    const SHOWN: usize = 50;
    let mut message = format!(
        "{headline} ({} problem{}):",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems.iter().take(SHOWN) {
        message.push_str("\n  - ");
        message.push_str(&problem.to_string());
    }
    if problems.len() > SHOWN {
        message.push_str(&format!("\n  … and {} more", problems.len() - SHOWN));
    }
    Error::with_problems(kind, message, problems)
}

/// Quotes a configuration value for a message.
pub(crate) fn quoted(value: &str) -> String {
    quote_input(value, 120)
}
