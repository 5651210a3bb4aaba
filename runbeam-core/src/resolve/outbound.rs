//! Requests across the mesh: the outbound side (resolve a reference, obtain the mesh token,
//! build the URL and headers) and the inbound checks a middleware makes, as one step each.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use super::answer::{IssuedMeshToken, Resolution};
use super::resolver::Resolver;
use crate::Secret;
use crate::attempt::Attempt;
use crate::edge::{bearer_token, check_path, join_path};
use crate::error::{Error, ErrorKind, Result};
use crate::jwt::{Claims, Validator};
use crate::reference::Reference;

/// What to send to reach a partner's resource through the mesh: the URL (the resource's URL
/// followed by the request path) and the `Authorization` header carrying the mesh token.
/// Made by [`Resolver::outbound`]; the host sends it with its own HTTP client.
///
/// `Debug` redacts the header and the URL's query and fragment (a caller's query may carry a
/// credential of its own); it has no JSON form.
#[derive(Clone)]
pub struct Outbound {
    url: String,
    authorization: Secret,
    base_url: String,
    mesh: String,
    reference: String,
    stale: bool,
    expires_at: OffsetDateTime,
}

impl Outbound {
    /// The URL to send the request to.
    #[inline]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The value of the `Authorization` header (`Bearer <mesh token>`). A credential: keep the
    /// borrow short and never log it.
    #[inline]
    pub fn authorization(&self) -> &str {
        self.authorization.expose()
    }

    /// Every header to add to the request (today only `authorization`), names in lower case.
    #[inline]
    pub fn headers(&self) -> [(&'static str, &str); 1] {
        [("authorization", self.authorization.expose())]
    }

    /// The resource's URL the path was appended to (the mesh token's `dest_url`).
    #[inline]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The mesh (its configuration name) the token was issued for.
    #[inline]
    pub fn mesh(&self) -> &str {
        &self.mesh
    }

    /// The reference, in its canonical spelling.
    #[inline]
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// Whether the resolution was a stale answer (the provider failed; see
    /// [`Resolution::is_stale`]).
    #[inline]
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// When the mesh token expires.
    #[inline]
    pub fn token_expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field("url", &without_query(&self.url))
            .field("authorization", &"Bearer ***")
            .field("mesh", &self.mesh)
            .field("reference", &self.reference)
            .field("stale", &self.stale)
            .field("token_expires_at", &self.expires_at)
            .finish()
    }
}

/// `url` with its query and fragment replaced by `?…` (for `Debug`): the caller's path and
/// query are request data and may hold a credential of their own.
fn without_query(url: &str) -> Cow<'_, str> {
    match url.find(['?', '#']) {
        Some(at) => Cow::Owned(format!("{}?…", url.get(..at).unwrap_or_default())),
        None => Cow::Borrowed(url),
    }
}

/// The part of an outbound request known before the mesh token: where it goes and for which
/// mesh.
struct Target {
    url: String,
    base_url: String,
    mesh: String,
    reference: String,
    stale: bool,
}

impl Target {
    #[inline]
    fn with_token(self, token: &IssuedMeshToken) -> Outbound {
        let mut authorization = String::with_capacity(7 + token.token.token.expose().len());
        authorization.push_str("Bearer ");
        authorization.push_str(token.token.token.expose());
        Outbound {
            url: self.url,
            authorization: Secret::new(authorization),
            base_url: self.base_url,
            mesh: self.mesh,
            reference: self.reference,
            stale: self.stale,
            expires_at: token.token.expires_at,
        }
    }
}

impl Resolver {
    /// Everything to send a request for `path` (with its query, if any) to the resource
    /// `reference` through the mesh: resolves the reference (cached, as
    /// [`Resolver::resolve`]), takes its first URL, appends `path` (refused if it would leave
    /// that URL; see [`crate::edge::join_path`]) and obtains the mesh token for the mesh that
    /// lists the reference, issued for the resource's URL (cached, as
    /// [`Resolver::mesh_token`]).
    ///
    /// # Errors
    /// `InvalidReference`; `NotInMesh`/`UnknownProvider` for a reference no enabled mesh
    /// lists; `InvalidArgument` for a path that leaves the resource or a resource without a
    /// URL (not an ingress); the errors of [`Resolver::resolve`] and
    /// [`Resolver::mesh_token`]. [`crate::edge::Refusal`] turns each into the HTTP answer.
    ///
    /// ```no_run
    /// # async fn f(resolver: runbeam_core::resolve::Resolver) -> runbeam_core::Result<()> {
    /// let out = resolver
    ///     .outbound("runbeam.radiology-dept.ingress.name.dicomweb", "/studies?modality=CT")
    ///     .await?;
    /// // send GET out.url() with the header ("authorization", out.authorization())
    /// # Ok(()) }
    /// ```
    pub async fn outbound(&self, reference: &str, path: &str) -> Result<Outbound> {
        // A path that is bad whatever the resource's URL is refused before any request: a
        // client's bad path is its 400 even while the Cloud is down, and costs the Cloud
        // nothing.
        self.counted(check_path(path))?;
        let resolution = self.resolve(reference).await?;
        let target = self.target(&resolution, reference, path)?;
        let token = self.mesh_token(&target.mesh, &target.base_url).await?;
        Ok(target.with_token(&token))
    }

    /// [`Resolver::outbound`] without I/O: `Some` when the resolution and the mesh token are
    /// cached (or an error is known now), `None` when a request is needed.
    #[inline]
    pub fn outbound_cached(&self, reference: &str, path: &str) -> Option<Result<Outbound>> {
        let resolution = match self.resolve_cached(reference)? {
            Ok(resolution) => resolution,
            Err(e) => return Some(Err(e)),
        };
        let target = match self.target(&resolution, reference, path) {
            Ok(target) => target,
            Err(e) => return Some(Err(e)),
        };
        let token = self.mesh_token_cached(&target.mesh, &target.base_url)?;
        Some(token.map(|token| target.with_token(&token)))
    }

    /// [`Resolver::outbound`] as one step (see [`Resolver::resolve_attempt`]).
    #[inline]
    pub fn outbound_attempt(&self, reference: &str, path: &str) -> Attempt<Outbound> {
        match self.outbound_cached(reference, path) {
            Some(answer) => Attempt::Ready(answer),
            None => self.outbound_later(reference, path),
        }
    }

    /// The requests of [`Resolver::outbound_attempt`], made here rather than in the crate that
    /// inlines the cached path (the crate docs, "Compiled for size").
    #[inline(never)]
    fn outbound_later(&self, reference: &str, path: &str) -> Attempt<Outbound> {
        let resolver = self.clone();
        let (reference, path) = (reference.to_owned(), path.to_owned());
        Attempt::pending(async move { resolver.outbound(&reference, &path).await })
    }

    #[inline]
    fn target(&self, resolution: &Resolution, reference: &str, path: &str) -> Result<Target> {
        let parsed = Reference::parse(reference)?;
        let mesh = {
            let state = self.state();
            let mesh = state.config.check_mesh_context(&parsed);
            self.counted(mesh.map(|m| m.name.clone()))?
        };
        let base_url = resolution.resource().urls.first().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "'{parsed}' resolves to a {} without a URL: only an ingress can be sent to",
                    crate::error::quote_input(&resolution.resource().resource_type, 40)
                ),
            )
        })?;
        let url = self.counted(join_path(base_url, path))?;
        Ok(Target {
            url,
            base_url: base_url.clone(),
            mesh,
            reference: parsed.as_str().to_owned(),
            stale: resolution.is_stale(),
        })
    }

    /// The receiving side of a request, as a middleware sees it: the mesh token of the
    /// `Authorization` header value `authorization` (`None`: the request had none, an error)
    /// verified for `mesh` and, when given, the URL being served (see
    /// [`Resolver::verify_mesh_token`]), as one step.
    #[inline]
    pub fn verify_mesh_request_attempt(
        &self,
        authorization: Option<&str>,
        mesh: &str,
        served_url: Option<&str>,
    ) -> Attempt<Arc<Claims>> {
        match bearer_token(authorization) {
            Ok(token) => self.verify_mesh_token_attempt(token, mesh, served_url),
            Err(e) => Attempt::Ready(Err(e)),
        }
    }

    /// Whether [`Resolver::verify_mesh_request_cached`] would take a signature check (or keys
    /// to fetch): `false` for a missing or malformed header (refused at once) and for a
    /// remembered token; see [`Resolver::mesh_token_needs_signature_check`].
    #[inline]
    pub fn mesh_request_needs_signature_check(
        &self,
        authorization: Option<&str>,
        mesh: &str,
    ) -> bool {
        bearer_token(authorization)
            .is_ok_and(|token| self.mesh_token_needs_signature_check(token, mesh))
    }

    /// [`Resolver::verify_mesh_request_attempt`] without I/O: `Some` when cached keys answer
    /// (or the header is missing or malformed), `None` when keys must be fetched first.
    #[inline]
    pub fn verify_mesh_request_cached(
        &self,
        authorization: Option<&str>,
        mesh: &str,
        served_url: Option<&str>,
    ) -> Option<Result<Arc<Claims>>> {
        match bearer_token(authorization) {
            Ok(token) => self.verify_mesh_token_cached(token, mesh, served_url),
            Err(e) => Some(Err(e)),
        }
    }
}

impl Validator {
    /// A user's request, as a middleware sees it: the JWT of the `Authorization` header value
    /// `authorization` (`None`: the request had none, an error) validated, as one step (see
    /// [`Validator::validate_attempt`]).
    #[inline]
    pub fn authenticate_attempt(&self, authorization: Option<&str>) -> Attempt<Arc<Claims>> {
        match bearer_token(authorization) {
            Ok(token) => self.validate_attempt(token),
            Err(e) => Attempt::Ready(Err(e)),
        }
    }

    /// Whether [`Validator::authenticate_cached`] would take a signature check (or keys to
    /// fetch): `false` for a missing or malformed header (refused at once) and for a
    /// remembered token; see [`Validator::needs_signature_check`].
    ///
    /// ```
    /// let validator = runbeam_core::jwt::Validator::builder()
    ///     .trusted_issuer("https://api.runbeam.io")
    ///     .build()?;
    /// assert!(!validator.authorization_needs_signature_check(None));
    /// assert!(validator.authorization_needs_signature_check(Some("Bearer a.b.c")));
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    #[inline]
    pub fn authorization_needs_signature_check(&self, authorization: Option<&str>) -> bool {
        bearer_token(authorization).is_ok_and(|token| self.needs_signature_check(token))
    }

    /// [`Validator::authenticate_attempt`] without I/O: `Some` when cached keys answer (or the
    /// header is missing or malformed), `None` when keys must be fetched first.
    #[inline]
    pub fn authenticate_cached(&self, authorization: Option<&str>) -> Option<Result<Arc<Claims>>> {
        match bearer_token(authorization) {
            Ok(token) => self.validate_cached(token),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(url: &str) -> Outbound {
        Outbound {
            url: url.to_owned(),
            authorization: Secret::new("Bearer mesh.token.value".to_owned()),
            base_url: "https://fhir.example".to_owned(),
            mesh: "acme".to_owned(),
            reference: "runbeam.acme.ingress.name.fhir-api".to_owned(),
            stale: false,
            expires_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn debug_redacts_the_header_and_the_query() {
        let shown = format!(
            "{:?}",
            outbound("https://fhir.example/Patient?api_key=s3cr3t#frag")
        );
        assert!(shown.contains("https://fhir.example/Patient?…"), "{shown}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("frag"),
            "{shown}"
        );
        assert!(!shown.contains("mesh.token.value"), "{shown}");
        let plain = format!("{:?}", outbound("https://fhir.example/Patient/1"));
        assert!(
            plain.contains("\"https://fhir.example/Patient/1\""),
            "{plain}"
        );
    }
}
