//! Node binding of librunbeam: the native module behind the npm package `@runbeam/sdk`.
//!
//! The binding only converts types and maps errors; every rule lives in `runbeam-core`.
//! - [`reference`] holds the one native call behind the JavaScript `Reference` class
//!   (`index.js`);
//! - [`client`] holds `Client`, the Runbeam Cloud API client (Promises on the module's tokio
//!   runtime);
//! - [`config`] holds `MeshConfig`;
//! - [`jwt`] holds `Validator` (JWT validation, SPEC §4) and `parseBearer`;
//! - [`storage`] holds the token stores, `MachineToken` / `UserToken` and `TokenManager`
//!   (SPEC §5);
//! - [`resolver`] holds `Resolver` (reference resolution with a cache, mesh tokens, SPEC §6),
//!   `Resolution` and `IssuedMeshToken`;
//! - [`error`] turns core errors into JavaScript `Error`s with a stable `code`;
//! - `args` reads JavaScript arguments, with `RUNBEAM_INVALID_ARGUMENT` for a wrong type.
//!
//! `index.d.ts` is generated from this crate by `napi build` (plus `dts-header.d.ts`, the
//! declarations of the JavaScript `Reference` class) and checked in.
#![deny(missing_docs)]

mod args;
pub mod client;
pub mod config;
pub mod error;
pub mod jwt;
pub mod reference;
pub mod resolver;
pub mod storage;

use napi_derive::napi;
use runbeam_core::ErrorKind;

/// The version of librunbeam; equal to the version of this package.
#[napi]
pub fn version() -> &'static str {
    runbeam_core::VERSION
}

/// Every error `code` the SDK can throw (`"RUNBEAM_INVALID_REFERENCE"`, …). Codes are stable:
/// new ones may be added, none is renamed or removed.
#[napi]
pub fn error_codes() -> Vec<&'static str> {
    ErrorKind::ALL.iter().map(|kind| kind.code()).collect()
}
