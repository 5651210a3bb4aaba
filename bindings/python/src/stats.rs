//! The counters of resolvers, validators and token managers (`ResolverStats`,
//! `ValidatorStats`, `TokenManagerStats`), and `prometheus_text`, their Prometheus exposition.
//!
//! Each class holds the core's snapshot ([`runbeam_core::metrics`]) and shows it; the text of
//! `prometheus_text` is the core's [`Exposition`], so every surface serves the same metrics.

use std::collections::HashSet;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use runbeam_core::metrics::{
    ErrorCounts, Exposition, ResolverStats, TokenManagerStats, ValidatorStats,
};

use crate::guard::guarded;

/// `{kind name: count}` of the kinds counted at least once.
fn error_dict<'py>(py: Python<'py>, counts: &ErrorCounts) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (kind, n) in counts.iter() {
        dict.set_item(kind.name(), n)?;
    }
    Ok(dict)
}

/// `{'JwtExpired': 2}`, as Python shows a dict.
fn error_repr(counts: &ErrorCounts) -> String {
    let items: Vec<String> = counts
        .iter()
        .map(|(kind, n)| format!("'{}': {n}", kind.name()))
        .collect();
    format!("{{{}}}", items.join(", "))
}

// ---------------------------------------------------------------------------------------------
// ValidatorStats.

/// Counters of a validator since it was built (`Validator.stats()`), or of the validators
/// that verify a resolver's mesh tokens (`ResolverStats.mesh_validation`).
#[pyclass(frozen, module = "runbeam", name = "ValidatorStats")]
pub struct PyValidatorStats(pub(crate) ValidatorStats);

impl PyValidatorStats {
    fn counters(&self) -> [(&'static str, u64); 4] {
        let s = &self.0;
        [
            ("cache_hits", s.cache_hits),
            ("verifications", s.verifications),
            ("jwks_fetches", s.jwks_fetches),
            ("jwks_fetch_failures", s.jwks_fetch_failures),
        ]
    }

    fn dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in self.counters() {
            dict.set_item(name, value)?;
        }
        dict.set_item("failures", error_dict(py, &self.0.failures)?)?;
        dict.set_item("cached_tokens", self.0.cached_tokens)?;
        Ok(dict)
    }

    fn repr(&self) -> String {
        let mut fields: Vec<String> = self
            .counters()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        fields.push(format!("failures={}", error_repr(&self.0.failures)));
        fields.push(format!("cached_tokens={}", self.0.cached_tokens));
        format!("ValidatorStats({})", fields.join(", "))
    }
}

guarded! {
    "ValidatorStats";
    #[pymethods]
    impl PyValidatorStats {
        /// Tokens answered from the verified-token cache (time claims re-checked, no
        /// signature check).
        #[getter]
        fn cache_hits(&self) -> u64 {
            self.0.cache_hits
        }

        /// Signatures checked.
        #[getter]
        fn verifications(&self) -> u64 {
            self.0.verifications
        }

        /// JWKS fetches attempted.
        #[getter]
        fn jwks_fetches(&self) -> u64 {
            self.0.jwks_fetches
        }

        /// JWKS fetches that failed (the keys fetched before stay in use up to `max_stale`).
        #[getter]
        fn jwks_fetch_failures(&self) -> u64 {
            self.0.jwks_fetch_failures
        }

        /// Tokens refused or not validated, as a new `dict` of error kind (`"JwtExpired"`,
        /// `"JwtInvalid"`, `"UntrustedIssuer"`, a fetch's `"Transport"`, … the `kind` of the
        /// exception raised) to count; kinds never counted are absent.
        #[getter]
        fn failures<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            error_dict(py, &self.0.failures)
        }

        /// Verified tokens remembered when the snapshot was taken.
        #[getter]
        fn cached_tokens(&self) -> u64 {
            self.0.cached_tokens
        }

        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self.0 == other.0
        }

        /// The counters as a new `dict` (`failures` as a `dict` of kind to count).
        fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            self.dict(py)
        }

        fn __repr__(&self) -> String {
            self.repr()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ResolverStats.

/// Counters of a resolver's work since it was built (`Resolver.stats()`).
#[pyclass(frozen, module = "runbeam", name = "ResolverStats")]
pub struct PyResolverStats(pub(crate) ResolverStats);

impl PyResolverStats {
    fn counters(&self) -> [(&'static str, u64); 6] {
        let s = &self.0;
        [
            ("hits", s.hits),
            ("misses", s.misses),
            ("upstream_requests", s.upstream_requests),
            ("stale_served", s.stale_served),
            ("local", s.local),
            ("mesh_token_requests", s.mesh_token_requests),
        ]
    }
}

guarded! {
    "ResolverStats";
    #[pymethods]
    impl PyResolverStats {
        /// Resolutions answered from the cache while fresh.
        #[getter]
        fn hits(&self) -> u64 {
            self.0.hits
        }

        /// Resolutions that waited for an upstream answer (joined or started a fetch).
        #[getter]
        fn misses(&self) -> u64 {
            self.0.misses
        }

        /// Requests sent to a provider's resolve endpoint.
        #[getter]
        fn upstream_requests(&self) -> u64 {
            self.0.upstream_requests
        }

        /// Stale answers served because a provider failed.
        #[getter]
        fn stale_served(&self) -> u64 {
            self.0.stale_served
        }

        /// Local references answered from the configuration.
        #[getter]
        fn local(&self) -> u64 {
            self.0.local
        }

        /// Mesh tokens requested from a provider or signed locally.
        #[getter]
        fn mesh_token_requests(&self) -> u64 {
            self.0.mesh_token_requests
        }

        /// Resolutions and mesh-token calls that failed, as a new `dict` of error kind
        /// (`"NotInMesh"`, `"NotFound"`, `"Transport"` with no stale answer, …) to count.
        #[getter]
        fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            error_dict(py, &self.0.errors)
        }

        /// References with a cached answer (fresh or stale) when the snapshot was taken.
        #[getter]
        fn cached_references(&self) -> u64 {
            self.0.cached_references
        }

        /// Mesh tokens remembered when the snapshot was taken.
        #[getter]
        fn cached_mesh_tokens(&self) -> u64 {
            self.0.cached_mesh_tokens
        }

        /// The validators that verify mesh tokens (one per trust source of the configuration
        /// in use), summed.
        #[getter]
        fn mesh_validation(&self) -> PyValidatorStats {
            PyValidatorStats(self.0.mesh_validation)
        }

        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self.0 == other.0
        }

        /// The counters as a new `dict` (`errors` a `dict` of kind to count,
        /// `mesh_validation` the `dict` of its `ValidatorStats`).
        fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            let dict = PyDict::new(py);
            for (name, value) in self.counters() {
                dict.set_item(name, value)?;
            }
            dict.set_item("errors", error_dict(py, &self.0.errors)?)?;
            dict.set_item("cached_references", self.0.cached_references)?;
            dict.set_item("cached_mesh_tokens", self.0.cached_mesh_tokens)?;
            dict.set_item(
                "mesh_validation",
                PyValidatorStats(self.0.mesh_validation).dict(py)?,
            )?;
            Ok(dict)
        }

        fn __repr__(&self) -> String {
            let mut fields: Vec<String> = self
                .counters()
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            fields.push(format!("errors={}", error_repr(&self.0.errors)));
            fields.push(format!("cached_references={}", self.0.cached_references));
            fields.push(format!("cached_mesh_tokens={}", self.0.cached_mesh_tokens));
            fields.push(format!(
                "mesh_validation={}",
                PyValidatorStats(self.0.mesh_validation).repr()
            ));
            format!("ResolverStats({})", fields.join(", "))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TokenManagerStats.

/// Counters of a token manager since it was built (`TokenManager.stats()`).
#[pyclass(frozen, module = "runbeam", name = "TokenManagerStats")]
pub struct PyTokenManagerStats(pub(crate) TokenManagerStats);

guarded! {
    "TokenManagerStats";
    #[pymethods]
    impl PyTokenManagerStats {
        /// Machine tokens renewed (authorized again and saved).
        #[getter]
        fn renewals(&self) -> u64 {
            self.0.renewals
        }

        /// Renewals that failed (the current token stays in use while it is valid).
        #[getter]
        fn renewal_failures(&self) -> u64 {
            self.0.renewal_failures
        }

        /// Equality of the values; `NotImplemented` for other types.
        fn __eq__(&self, other: &Self) -> bool {
            self.0 == other.0
        }

        /// The counters as a new `dict`.
        fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
            let dict = PyDict::new(py);
            dict.set_item("renewals", self.0.renewals)?;
            dict.set_item("renewal_failures", self.0.renewal_failures)?;
            Ok(dict)
        }

        fn __repr__(&self) -> String {
            format!(
                "TokenManagerStats(renewals={}, renewal_failures={})",
                self.0.renewals, self.0.renewal_failures
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus.

/// One source of `prometheus_text`, read now.
// A handful per call, each read once: boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
enum Snapshot {
    Resolver(ResolverStats),
    Validator(ValidatorStats),
    TokenManager(TokenManagerStats),
}

impl Snapshot {
    /// The name of a positional source.
    fn default_name(&self) -> &'static str {
        match self {
            Snapshot::Resolver(_) => "resolver",
            Snapshot::Validator(_) => "validator",
            Snapshot::TokenManager(_) => "token_manager",
        }
    }

    fn of(source: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
        if let Some(stats) = crate::resolver::resolver_stats(source) {
            return Ok(Snapshot::Resolver(stats?));
        }
        if let Some(stats) = crate::jwt::validator_stats(source) {
            return Ok(Snapshot::Validator(stats?));
        }
        if let Some(stats) = crate::storage::manager_stats(source) {
            return Ok(Snapshot::TokenManager(stats?));
        }
        if let Ok(s) = source.cast::<PyResolverStats>() {
            return Ok(Snapshot::Resolver(s.get().0));
        }
        if let Ok(s) = source.cast::<PyValidatorStats>() {
            return Ok(Snapshot::Validator(s.get().0));
        }
        if let Ok(s) = source.cast::<PyTokenManagerStats>() {
            return Ok(Snapshot::TokenManager(s.get().0));
        }
        Err(PyTypeError::new_err(format!(
            "prometheus_text takes resolvers, validators and token managers (or their stats()), \
             not {}",
            source.get_type().name()?
        )))
    }
}

guarded! {
    /// The Prometheus text exposition (format 0.0.4; serve it with `PROMETHEUS_CONTENT_TYPE`)
    /// of the stats of the sources given, each read now: `Resolver`/`AsyncResolver`,
    /// `Validator`/`AsyncValidator`, `TokenManager`/`AsyncTokenManager`, or their `stats()`.
    /// Every sample is labelled `name="<name>"` (failures also `kind="<error kind>"`); a
    /// resolver's mesh-token validators appear as the validator `<name>:mesh`. A positional
    /// source is named by its type (`resolver`, `validator`, `token_manager`), a keyword
    /// source by the keyword. Raises `ValueError` when two sources have the same name, and
    /// `TypeError` for anything else.
    ///
    /// ```python
    /// text = runbeam.prometheus_text(resolver, manager, users=validator)
    /// ```
    #[pyfunction]
    #[pyo3(signature = (*sources, **named))]
    pub fn prometheus_text(
        sources: &Bound<'_, PyTuple>,
        named: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<String> {
        let mut entries: Vec<(String, Snapshot)> = Vec::new();
        for source in sources.iter() {
            let snapshot = Snapshot::of(&source)?;
            entries.push((snapshot.default_name().to_owned(), snapshot));
        }
        if let Some(named) = named {
            for (name, source) in named.iter() {
                let name: String = name.extract()?;
                entries.push((name, Snapshot::of(&source)?));
            }
        }
        let mut seen: HashSet<String> = HashSet::new();
        for (name, snapshot) in &entries {
            let mut names = vec![name.clone()];
            if matches!(snapshot, Snapshot::Resolver(_)) {
                names.push(format!("{name}:mesh"));
            }
            for name in names {
                if !seen.insert(name.clone()) {
                    return Err(PyValueError::new_err(format!(
                        "two sources are named {name:?}: name them with keywords, e.g. \
                         prometheus_text(edge=resolver_a, internal=resolver_b)"
                    )));
                }
            }
        }
        let mut exposition = Exposition::new();
        for (name, snapshot) in &entries {
            match snapshot {
                Snapshot::Resolver(s) => exposition.resolver(name, s),
                Snapshot::Validator(s) => exposition.validator(name, s),
                Snapshot::TokenManager(s) => exposition.token_manager(name, s),
            };
        }
        Ok(exposition.render())
    }
}

/// Adds the stats classes, `prometheus_text` and `PROMETHEUS_CONTENT_TYPE` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyResolverStats>()?;
    m.add_class::<PyValidatorStats>()?;
    m.add_class::<PyTokenManagerStats>()?;
    m.add_function(wrap_pyfunction!(prometheus_text, m)?)?;
    m.add("PROMETHEUS_CONTENT_TYPE", Exposition::CONTENT_TYPE)?;
    Ok(())
}
