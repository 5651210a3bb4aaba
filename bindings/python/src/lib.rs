//! # runbeam-python
//!
//! The native half of the Python package `runbeam` (module `runbeam._native`, built by
//! maturin as an abi3 extension). It only converts types and maps errors: every grammar and
//! validation rule lives in `runbeam-core`.
//!
//! Errors are raised as the classes defined in Python in `runbeam/errors.py`, looked up by
//! [`runbeam_core::ErrorKind::name`] (see `errors.rs`).
//!
//! ```python
//! import runbeam
//! ref = runbeam.Reference.parse("runbeam.acme.Ingress.name.api")
//! assert str(ref) == "runbeam.acme.ingress.name.api"
//! ```

#![deny(missing_docs)]

use pyo3::prelude::*;

mod client;
mod collections;
mod config;
mod convert;
mod edge;
mod errors;
mod fork;
mod guard;
mod jwt;
mod log;
mod offload;
mod pair;
mod reference;
mod resolver;
mod resources;
mod runtime;
mod stats;
mod storage;
mod watch;

/// The module `runbeam._native`; the package `runbeam` re-exports its classes.
#[pymodule]
#[pyo3(name = "_native")]
fn runbeam_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // A panic inside librunbeam is caught at the entry point and raised as InternalError
    // (see `guard`); this hook keeps it from also being printed on the host's stderr.
    runbeam_core::panic::install_quiet_hook();
    m.add("__version__", runbeam_core::VERSION)?;
    m.add_class::<reference::PyReference>()?;
    m.add_class::<config::PyMeshConfig>()?;
    m.add_class::<config::PyProblem>()?;
    m.add_class::<config::PyMesh>()?;
    m.add_class::<config::PyMeshMember>()?;
    m.add_class::<config::PyProvider>()?;
    m.add_class::<config::PyIngress>()?;
    m.add_class::<config::PyEgress>()?;
    m.add_class::<client::PyClient>()?;
    m.add_class::<client::PyAsyncClient>()?;
    m.add_class::<client::PyAuthorizeResult>()?;
    m.add_class::<client::PyResolveResult>()?;
    m.add_class::<client::PyResolvedResource>()?;
    m.add_class::<client::PyMeshTokenResult>()?;
    m.add_class::<collections::PyPage>()?;
    m.add_class::<collections::PyResourceIterator>()?;
    m.add_class::<collections::PyAsyncResourceIterator>()?;
    m.add_class::<client::PyChange>()?;
    m.add_class::<client::PyAcknowledgement>()?;
    m.add_class::<client::PyUpdateResult>()?;
    m.add_class::<client::PyUpdatedConfig>()?;
    m.add_class::<jwt::PyValidator>()?;
    m.add_class::<jwt::PyAsyncValidator>()?;
    m.add_class::<jwt::PyClaims>()?;
    m.add_class::<jwt::PyTokenUser>()?;
    m.add_class::<jwt::PyTokenTeam>()?;
    m.add_function(wrap_pyfunction!(jwt::parse_bearer, m)?)?;
    m.add_function(wrap_pyfunction!(offload::set_verify_offload, m)?)?;
    fork::register(m)?;
    runtime::register(m)?;
    // The core's log sink; runbeam/_logging.py connects it to `logging`.
    log::register(m)?;
    m.add_class::<storage::PyTokenStore>()?;
    m.add_class::<storage::PyFileTokenStore>()?;
    m.add_class::<storage::PyKeyringTokenStore>()?;
    m.add_class::<storage::PyMemoryTokenStore>()?;
    m.add_class::<storage::PyMachineToken>()?;
    m.add_class::<storage::PyUserToken>()?;
    m.add_class::<storage::PyTokenManager>()?;
    m.add_class::<storage::PyAsyncTokenManager>()?;
    m.add_function(wrap_pyfunction!(storage::open_token_store, m)?)?;
    m.add_class::<resolver::PyResolver>()?;
    m.add_class::<resolver::PyAsyncResolver>()?;
    m.add_class::<resolver::PyResolution>()?;
    m.add_class::<resolver::PyIssuedMeshToken>()?;
    stats::register(m)?;
    watch::register(m)?;
    edge::register(m)?;
    m.add_function(wrap_pyfunction!(errors::error_kinds, m)?)?;
    resources::register(m)?;
    // Test-only (debug builds): `_fault_arm(site, count)` makes the next `count` calls that
    // pass `site` panic, for tests/test_panic_boundary.py. Declared in the stubs' internal
    // hooks and allowlisted for stubtest (release builds lack it).
    #[cfg(feature = "fault-injection")]
    m.add_function(wrap_pyfunction!(guard::fault_arm, m)?)?;
    Ok(())
}
