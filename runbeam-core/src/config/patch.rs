//! Changing the meshes of a configuration in use: what a `mesh` change of the change feed
//! (docs/spec.md §3.3) does to the gateway's configuration.
//!
//! The TOML of a mesh change is untrusted: it comes from a server. It goes through the same
//! loader as a configuration file (size, nesting depth, unknown keys, types), must hold
//! `[mesh.<name>]` tables and nothing else, and the patched configuration is validated again
//! before anything uses it ([`crate::resolve::Resolver::reload`]).

use toml::Table;

use super::load::{self, ConfigDocument, MAX_DOCUMENT_BYTES};
use super::model::{Mesh, MeshConfig, problems_error};
use crate::error::{Error, ErrorKind, Problem, Result};

/// The `[mesh.<name>]` tables of `text`, in document order.
///
/// # Errors
/// `Config` listing every problem: TOML syntax, a document larger than
/// [`MAX_DOCUMENT_BYTES`], a table other than `[mesh.*]` (providers, pipelines and the rest of a
/// gateway configuration cannot be changed this way), no mesh at all, and every shape problem
/// of the mesh tables.
pub(crate) fn parse_mesh_toml(name: &str, text: &str) -> Result<Vec<Mesh>> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "{name}: the mesh configuration is {} bytes long (at most {MAX_DOCUMENT_BYTES})",
                text.len()
            ),
        ));
    }
    let loaded = load::load(&[ConfigDocument::new(name, text)])?;
    // The loader checked size, depth and syntax: parsing again for the top-level keys is safe.
    let table: Table = text
        .parse()
        .map_err(|e| Error::new(ErrorKind::Config, format!("{name}: {e}")))?;
    let mut problems = Vec::new();
    for key in table.keys().filter(|k| k.as_str() != "mesh") {
        problems.push(Problem::new(
            ErrorKind::Config,
            load::join("", key),
            "only [mesh.<name>] tables can be changed this way (providers, pipelines and the \
             rest of the gateway configuration are not)"
                .to_string(),
        ));
    }
    if loaded.meshes.is_empty() && problems.is_empty() {
        problems.push(Problem::new(
            ErrorKind::Config,
            "mesh",
            "no [mesh.<name>] table: a mesh configuration holds at least one".to_string(),
        ));
    }
    if !problems.is_empty() {
        return Err(problems_error(
            ErrorKind::Config,
            &format!("{name} is not a mesh configuration"),
            problems,
        ));
    }
    Ok(loaded.meshes)
}

impl MeshConfig {
    /// A copy of this configuration with the `[mesh.<name>]` tables of `text` put in:
    /// a mesh of the same name is replaced (in its place), a new one is appended. `text` is
    /// the TOML a `mesh` change carries (the same as `POST /harmony/update` takes) and must
    /// hold mesh tables only. The result is not validated: [`MeshConfig::validate`] it, or
    /// hand it to [`crate::resolve::Resolver::reload`], which does.
    ///
    /// ```
    /// use runbeam_core::config::MeshConfig;
    /// let config = MeshConfig::from_toml(r#"
    ///     [provider.runbeam]
    ///     api = "https://api.runbeam.io"
    ///     [mesh.imaging]
    ///     type = "http"
    ///     provider = "runbeam"
    /// "#)?;
    /// let next = config.with_mesh_toml(r#"
    ///     [mesh.imaging]
    ///     type = "http3"
    ///     provider = "runbeam"
    ///     egress = ["runbeam.radiology-dept.ingress.name.dicomweb"]
    /// "#)?;
    /// assert_eq!(next.mesh("imaging").unwrap().egress().count(), 1);
    /// assert!(next.validate().is_empty());
    /// assert!(config.with_mesh_toml("[provider.evil]\napi = \"https://x.example\"").is_err());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `Config` listing every problem of `text` (syntax, shape, tables other than meshes,
    /// no mesh).
    pub fn with_mesh_toml(&self, text: &str) -> Result<MeshConfig> {
        let meshes = parse_mesh_toml("<mesh configuration>", text)?;
        Ok(self.with_meshes(meshes))
    }

    /// A copy with `meshes` put in by name (replaced in place, or appended).
    pub(crate) fn with_meshes(&self, meshes: Vec<Mesh>) -> MeshConfig {
        let mut config = self.clone();
        for mesh in meshes {
            match config.meshes.iter_mut().find(|m| m.name == mesh.name) {
                Some(slot) => *slot = mesh,
                None => config.meshes.push(mesh),
            }
        }
        config
    }

    /// A copy of this configuration without the mesh `name`, or `None` when it has no such
    /// mesh.
    ///
    /// ```
    /// use runbeam_core::config::MeshConfig;
    /// let config = MeshConfig::from_toml("[mesh.m]\ntype = \"http\"\nprovider = \"local\"\n")?;
    /// assert!(config.without_mesh("m").unwrap().meshes().is_empty());
    /// assert!(config.without_mesh("other").is_none());
    /// # Ok::<(), runbeam_core::Error>(())
    /// ```
    pub fn without_mesh(&self, name: &str) -> Option<MeshConfig> {
        let index = self.meshes.iter().position(|m| m.name == name)?;
        let mut config = self.clone();
        config.meshes.remove(index);
        Some(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BASE: &str = r#"
        [provider.runbeam]
        api = "https://api.runbeam.io"
        [pipelines.p.mesh.egress.out]
        backend = "b"
        [mesh.a]
        type = "http"
        provider = "runbeam"
        egress = ["out"]
        [mesh.b]
        type = "http"
        provider = "runbeam"
    "#;

    fn base() -> MeshConfig {
        MeshConfig::from_toml(BASE).unwrap()
    }

    fn names(config: &MeshConfig) -> Vec<&str> {
        config.meshes().iter().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn meshes_are_replaced_in_place_and_new_ones_appended() {
        let next = base()
            .with_mesh_toml(
                "[mesh.c]\ntype = \"http\"\nprovider = \"runbeam\"\n\
                 [mesh.a]\ntype = \"http3\"\nprovider = \"runbeam\"\n",
            )
            .unwrap();
        assert_eq!(names(&next), ["a", "b", "c"]);
        assert_eq!(next.mesh("a").unwrap().protocol.as_str(), "http3");
        assert_eq!(
            next.mesh("a").unwrap().egress().count(),
            0,
            "replaced whole"
        );
        assert!(next.validate().is_empty());
    }

    #[test]
    fn only_mesh_tables_are_accepted() {
        let err = base()
            .with_mesh_toml(
                "[provider.evil]\napi = \"https://evil.example\"\n\
                 [mesh.a]\ntype = \"http\"\nprovider = \"evil\"\n[proxy]\nid = \"x\"\n",
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let paths: Vec<&str> = err.problems().iter().map(Problem::path).collect();
        assert_eq!(paths, ["provider", "proxy"], "{err}");
        let none = base().with_mesh_toml("# nothing\n").unwrap_err();
        assert!(none.message().contains("no [mesh.<name>] table"), "{none}");
    }

    #[test]
    fn shape_problems_are_all_reported() {
        let err = base()
            .with_mesh_toml("[mesh.a]\ntype = \"carrier-pigeon\"\nprovide = \"runbeam\"\n")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("mesh.a.type"), "{text}");
        assert!(text.contains("mesh.a.provide"), "{text}");
        assert!(text.contains("mesh.a.provider"), "{text}");
    }

    #[test]
    fn huge_and_deep_documents_are_refused_before_parsing() {
        let huge = "#".repeat(MAX_DOCUMENT_BYTES + 1);
        assert_eq!(
            base().with_mesh_toml(&huge).unwrap_err().kind(),
            ErrorKind::Config
        );
        let deep = format!("x = {}", "[".repeat(10_000));
        assert!(
            base()
                .with_mesh_toml(&deep)
                .unwrap_err()
                .to_string()
                .contains("nested")
        );
    }

    #[test]
    fn without_mesh_removes_only_that_mesh() {
        let next = base().without_mesh("a").unwrap();
        assert_eq!(names(&next), ["b"]);
        assert!(base().without_mesh("zzz").is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Arbitrary text never panics and, when accepted, only changes meshes.
        #[test]
        fn arbitrary_text_changes_only_meshes(text in ".{0,400}") {
            let config = base();
            match config.with_mesh_toml(&text) {
                Ok(next) => {
                    prop_assert_eq!(next.providers(), config.providers());
                    prop_assert_eq!(next.ingresses(), config.ingresses());
                    prop_assert_eq!(next.egresses(), config.egresses());
                    prop_assert!(!next.meshes().is_empty());
                }
                Err(e) => {
                    prop_assert_eq!(e.kind(), ErrorKind::Config);
                    prop_assert!(e.message().len() < 16 * 1024);
                }
            }
        }

        /// Mesh tables with arbitrary names and values: replaced by name, never duplicated.
        #[test]
        fn generated_meshes_are_merged_by_name(
            entries in proptest::collection::vec(("[a-d]", "http|http3|udp", any::<bool>()), 1..6)
        ) {
            let mut text = String::new();
            let mut seen = std::collections::BTreeSet::new();
            for (name, protocol, enabled) in &entries {
                if !seen.insert(name.clone()) {
                    continue;
                }
                text.push_str(&format!(
                    "[mesh.{name}]\ntype = \"{protocol}\"\nprovider = \"runbeam\"\nenabled = {enabled}\n"
                ));
            }
            let config = base();
            match config.with_mesh_toml(&text) {
                Ok(next) => {
                    let mut names: Vec<_> = next.meshes().iter().map(|m| m.name.clone()).collect();
                    let count = names.len();
                    names.sort();
                    names.dedup();
                    prop_assert_eq!(names.len(), count, "no duplicate mesh");
                    for name in &seen {
                        prop_assert!(next.mesh(name).is_some());
                    }
                }
                Err(e) => prop_assert!(e.to_string().contains(".type"), "{}", e),
            }
        }
    }
}
