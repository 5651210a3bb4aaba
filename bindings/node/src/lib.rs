//! Node binding of librunbeam: the native module behind the npm package `@runbeam/sdk`.
//!
//! The binding only converts types and maps errors; every rule lives in `runbeam-core`.
//! - [`reference`] holds the one native call behind the JavaScript `Reference` class
//!   (`index.js`);
//! - [`client`] holds `Client`, the Runbeam Cloud API client (Promises on the module's tokio
//!   runtime);
//! - [`config`] holds `MeshConfig`;
//! - [`jwt`] holds `Validator` (JWT validation, docs/spec.md §4) and `parseBearer`;
//! - [`storage`] holds the token stores, `MachineToken` / `UserToken` and `TokenManager`
//!   (docs/spec.md §5);
//! - [`resolver`] holds `Resolver` (reference resolution with a cache, mesh tokens, docs/spec.md §6),
//!   `Resolution` and `IssuedMeshToken`;
//! - [`logging`] holds `setLogger` / `setLogLevel`: the core's log records delivered to a
//!   JavaScript callback;
//! - [`watch`] holds `Watcher` (`resolver.watch`): the core's change-feed watcher, events
//!   delivered to a JavaScript callback;
//! - [`edge`] holds `refusalFor`, `joinPath` and `Outbound` (the HTTP edge, docs/edge.md:
//!   what the middleware of `express.js` / `fastify.js` is built on);
//! - [`metrics`] holds the stats objects and `prometheusText` (the core's exposition);
//! - [`error`] turns core errors into JavaScript `Error`s with a stable `code`, and holds the
//!   panic boundary every entry point goes through (`entry` for synchronous calls, `spawn_with`
//!   for Promises): a panic becomes a `RUNBEAM_INTERNAL` error, never an aborted process;
//! - [`arg`] holds the argument types (and declares the option objects): napi converts every
//!   argument before the body runs, a value of the wrong type becomes `RUNBEAM_INVALID_ARGUMENT`;
//! - `abort` cancels a Promise-returning call when the `AbortSignal` of its options fires.
//! - [`offload`] decides where a `validate` Promise's signature check runs: inline for a token
//!   verified before, on the verify threads of `lane` otherwise (the event loop stays free).
//!
//! `index.d.ts` is generated from this crate's signatures by `napi build` (plus
//! `dts-header.d.ts`: the declarations of what `index.js` defines and of the argument type
//! aliases) and checked in.
#![deny(missing_docs)]

pub mod abort;
pub mod arg;
pub mod client;
pub mod config;
mod convert;
pub mod edge;
pub mod error;
pub mod jwt;
mod lane;
pub mod logging;
pub mod metrics;
pub mod offload;
mod promise;
pub mod reference;
pub mod resolver;
pub mod resources;
pub mod storage;
pub mod watch;

use napi::bindgen_prelude::{Env, Result};
use napi_derive::napi;
use runbeam_core::ErrorKind;

/// The allocator of the addon's own (Rust) allocations: mimalloc, not the C library's. With
/// signature checks on verify threads, what one thread allocates another frees (a token copied
/// for a check, its answer, the claims); on glibc most such frees take the owning arena's lock
/// and the heap is trimmed and refaulted as the load swings, mimalloc hands the block back to
/// its thread without a lock. Measured with 64 `validate` Promises in flight: 4% less
/// process CPU per token (BENCHMARKS.md, "Node: throughput on both cores"). JavaScript's and
/// Node's own memory are not affected.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs when the addon is loaded: installs the core's quiet panic hook, so that a panic (caught
/// at every entry point and thrown as `RUNBEAM_INTERNAL`) prints nothing on the host's stderr.
#[napi(module_exports)]
pub fn init(env: Env) -> Result<()> {
    error::entry(&env, "module init", || {
        runbeam_core::panic::install_quiet_hook();
        Ok(())
    })
}

/// The version of librunbeam; equal to the version of this package.
#[napi]
pub fn version(env: &Env) -> Result<&'static str> {
    error::entry(env, "version", || Ok(runbeam_core::VERSION))
}

/// Every error `code` the SDK can throw (`"RUNBEAM_INVALID_REFERENCE"`, …). Codes are stable:
/// new ones may be added, none is renamed or removed.
#[napi]
pub fn error_codes(env: &Env) -> Result<Vec<&'static str>> {
    error::entry(env, "errorCodes", || {
        Ok(ErrorKind::ALL.iter().map(|kind| kind.code()).collect())
    })
}

/// Test-only (debug builds, cargo feature `fault-injection`): the next `count` calls that pass
/// `site` (`"jwt"`, `"reference"`, `"jwks"`, `"resolve"`, `"storage"`) panic, to prove the
/// panic boundary. Not part of the API (not exported by `index.js`, not declared in
/// `index.d.ts`: tests reach it through `native.js`); absent from release builds.
#[cfg(feature = "fault-injection")]
#[napi(js_name = "_faultArm", skip_typescript)]
pub fn fault_arm(env: &Env, site: String, count: u32) -> Result<()> {
    error::entry(env, "_faultArm", || {
        runbeam_core::panic::fault::arm(&site, count);
        Ok(())
    })
}
