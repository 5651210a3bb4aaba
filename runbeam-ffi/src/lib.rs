//! # runbeam-ffi — the C ABI of librunbeam
//!
//! Builds `librunbeam.so` and `librunbeam.a`; the header `include/runbeam.h` is generated from
//! this crate by cbindgen (`make header`) and checked for drift by `make test`.
//!
//! Conventions (after rustls-ffi):
//! - The C ABI is two crates (runbeam-ffi-cold's crate docs, docs/design.md "Two crates for the
//!   C ABI"): the calls made per request are here, the rest in runbeam-ffi-cold; files named
//!   below without a directory are this crate's.
//! - Opaque handles (`runbeam_reference`, `runbeam_mesh_config`, `runbeam_problem_list`) are created
//!   by librunbeam and released by their one `_free` function; `_free(NULL)` is a no-op.
//! - Fallible functions return a `runbeam_status` (`RUNBEAM_OK` = 0) and write out-parameters
//!   only on success. The message and kind of the last failure on the calling thread are
//!   available from `runbeam_last_error_message()` / `runbeam_last_error_kind()`.
//! - NULL pointers and invalid UTF-8 give `RUNBEAM_STATUS_INVALID_ARGUMENT`; every export runs
//!   behind a panic boundary (a bug gives `RUNBEAM_STATUS_INTERNAL` whose message is the
//!   panic's, never an abort or UB, and nothing is printed on stderr).
//! - Every count, length and capacity taken from C has a documented maximum (`RUNBEAM_MAX_*`,
//!   `runbeam-ffi-cold/src/limits.rs`); above it the call is `RUNBEAM_STATUS_INVALID_ARGUMENT` and nothing is read
//!   or allocated from the number.
//! - Freeing a handle that has async calls returns only when none of its callbacks can run
//!   any more (pending calls are called back with `RUNBEAM_STATUS_CANCELLED` first, a running
//!   callback is waited for); see `runbeam-ffi-cold/src/runtime.rs` for the one exception, freeing from a callback.
//!   A token manager's credential and renewal-window callbacks are shared with the resolvers
//!   built from it and stop when the last of those handles is freed (`CallbackGate`).
//! - Strings returned as `char *` are owned by the caller and released with
//!   `runbeam_string_free()`; `const char *` results are borrowed from their handle (or static)
//!   and must not be freed.
//! - Handles are immutable once created and may be shared between threads (builder handles
//!   such as `runbeam_client_config` excepted while their setters run).
//! - The Cloud API client (`runbeam_client`) returns rich results as JSON text (docs/spec.md §3.3
//!   shapes) and has blocking calls plus callback (`_async`) forms; each client owns one tokio
//!   runtime, shared by the handles derived from it (page cursors, `runbeam_page_cursor`,
//!   included). See `runbeam-ffi-cold/src/client.rs` and docs/design.md.
//! - Every call that can do network, keyring or disk I/O has an `_async` form (calls that only
//!   build a handle excepted): it checks and copies its arguments, returns at once and calls
//!   its callback exactly once, with the same `user_data`, `runbeam_cancel` and
//!   `_free`-waits rules everywhere (`runbeam-ffi-cold/src/runtime.rs`: `Runtime::start` and `Completion`). Calls
//!   without a result use `runbeam_status_callback`, a yes/no answer `runbeam_bool_callback`.
//! - The JWT validator (`runbeam_validator`, docs/spec.md §4) returns a `runbeam_claims` handle with
//!   typed getters; tokens are passed as pointer + length. Blocking forms answer on the calling
//!   thread when keys are cached, `_cached` forms never do I/O, `_async` forms call a
//!   `runbeam_claims_callback` exactly once. See `validator.rs` and `claims.rs`.
//! - Token storage (docs/spec.md §5): `runbeam_token_store` (keyring, encrypted files, memory;
//!   a runtime started by its first `_async` call), `runbeam_machine_token` and
//!   `runbeam_user_token` (getters; the secret is borrowed and zeroized on free) and
//!   `runbeam_token_manager` (renewal, one runtime per manager, blocking and `_async` forms).
//!   See `runbeam-ffi-cold/src/storage.rs` and `runbeam-ffi-cold/src/user_token.rs`.
//! - Reference resolution (docs/spec.md §6): `runbeam_resolver` (built from a `runbeam_mesh_config`, a
//!   `runbeam_client` whose runtime it shares and a `runbeam_token_manager`) returns
//!   `runbeam_resolution` handles (typed getters + JSON) and `runbeam_issued_mesh_token` handles (the
//!   token through one accessor, zeroized on free; claims as a `runbeam_claims` handle).
//!   Blocking forms answer cache hits on the calling thread, `_cached` forms never do I/O,
//!   `_async` forms call back exactly once. See `resolver.rs`.
//! - Operating it: `runbeam_set_log_callback` hands librunbeam's log records to one C callback,
//!   one at a time (`runbeam-ffi-cold/src/logging.rs`); `runbeam_*_stats_get` fill caller-allocated snapshot structs
//!   that end in reserved slots (so they grow without changing layout) and count failures by
//!   status in `runbeam_error_counts`; `runbeam_metrics` renders them as Prometheus text
//!   (`runbeam-ffi-cold/src/stats.rs`); `runbeam_resolver_watch` follows the change feeds (`runbeam-ffi-cold/src/watch.rs`).
#![allow(clippy::missing_safety_doc)] // every export documents its contract under `# Safety`

// The C ABI is two crates (runbeam-ffi-cold's crate docs): the request path is here, compiled at
// opt-level 3, everything else is in runbeam-ffi-cold at "z". cbindgen writes the header from
// this crate, and takes functions only from the crate it binds: the `#[cfg(cbindgen)]` modules
// are runbeam-ffi-cold's files, declared here for cbindgen's eyes only (`cbindgen` is a cfg no
// build sets), in the order the header lists them.

mod claims;
#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/claims.rs"]
mod claims_cold;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/client.rs"]
mod client;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/config.rs"]
mod config;

mod edge;
#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/edge.rs"]
mod edge_cold;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/error.rs"]
mod error;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/guard.rs"]
mod guard;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/limits.rs"]
mod limits;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/logging.rs"]
mod logging;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/problems.rs"]
mod problems;

mod reference;
#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/reference.rs"]
mod reference_cold;

mod resolver;
#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/resolver.rs"]
mod resolver_cold;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/runtime.rs"]
mod runtime;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/stats.rs"]
mod stats;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/status.rs"]
mod status;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/storage.rs"]
mod storage;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/strings.rs"]
mod strings;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/user_token.rs"]
mod user_token;

mod validator;
#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/validator.rs"]
mod validator_cold;

#[cfg(cbindgen)]
#[path = "../../runbeam-ffi-cold/src/watch.rs"]
mod watch;

pub use claims::*;
pub use edge::*;
pub use reference::*;
pub use resolver::*;
/// The rest of the C ABI (runbeam-ffi-cold), for Rust code that calls it: the fuzz targets. Not
/// an API: its items are public for this crate only.
#[doc(hidden)]
pub use runbeam_ffi_cold as cold;
pub use validator::*;

use std::ffi::c_char;

/// Major version of the header (compare with `runbeam_version()` at run time).
pub const RUNBEAM_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const RUNBEAM_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const RUNBEAM_VERSION_PATCH: u32 = 0;

/// The version of the loaded library, e.g. `"0.1.0"` (static; do not free). Compare it with
/// `RUNBEAM_VERSION_STRING` to detect a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C" fn runbeam_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_version_matches_the_package() {
        let version =
            format!("{RUNBEAM_VERSION_MAJOR}.{RUNBEAM_VERSION_MINOR}.{RUNBEAM_VERSION_PATCH}");
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        let header = include_str!("../../include/runbeam.h");
        let define = concat!(
            "#define RUNBEAM_VERSION_STRING \"",
            env!("CARGO_PKG_VERSION"),
            "\""
        );
        assert!(
            header.contains(define),
            "cbindgen.toml after_includes must say {define}"
        );
        assert_eq!(runbeam_core::VERSION, env!("CARGO_PKG_VERSION"));
    }

    /// cbindgen reads runbeam-ffi-cold's modules through the `#[cfg(cbindgen)]` declarations
    /// above: a module missing there would leave its exports out of the header, silently.
    #[test]
    fn every_module_of_the_cold_crate_is_declared_for_cbindgen() {
        let ours = include_str!("lib.rs");
        let cold = include_str!("../../runbeam-ffi-cold/src/lib.rs");
        let modules: Vec<&str> = cold
            .lines()
            .filter_map(|line| line.trim().strip_prefix("pub mod "))
            .filter_map(|rest| rest.strip_suffix(';'))
            .filter(|name| *name != "fault") // test-only, not in the header
            .collect();
        assert!(
            modules.len() > 10,
            "read the cold crate's modules: {modules:?}"
        );
        for name in modules {
            let declared = format!("#[path = \"../../runbeam-ffi-cold/src/{name}.rs\"]");
            assert!(
                ours.contains(&declared),
                "runbeam-ffi-cold's module {name} is not declared for cbindgen in src/lib.rs"
            );
        }
    }
}
