//! # runbeam-ffi-cold — the C ABI of librunbeam off the request path
//!
//! librunbeam's C ABI is two crates, linked into one library by runbeam-ffi (the crate that
//! builds `librunbeam.so`/`.a` and from which cbindgen writes `include/runbeam.h`):
//!
//! - **runbeam-ffi**, at opt-level 3: the calls a gateway makes for every request, which answer
//!   on the calling thread when their data is cached (reference parsing and getters, token
//!   validation and authentication and the claims' getters, mesh-token verification, `resolve`
//!   and `outbound` and their results' getters, refusals).
//! - **this crate**, at opt-level "z" (the workspace's `[profile.release.package.*]`): every
//!   other call — handles' set-up (and the release of those the request path does not
//!   make), the Cloud API client, token storage and the
//!   token manager, configuration, logging, statistics, the change feeds and every `_async`
//!   form — and what both crates share: the handle types, the panic guard, the last error,
//!   strings, limits and the callback runtime.
//!
//! The split exists for the library's size: the whole C ABI at "z" makes `librunbeam.so`
//! 0.68 MB smaller but reference parsing through it ~15% slower, because the root crate's
//! level is the level of the whole program's LTO; cold code in a crate of its own gets most of
//! those bytes and costs the request path nothing (docs/design.md, "Two crates for the C ABI";
//! BENCHMARKS.md "Footprint"). A function that the request path calls and that is defined here
//! is `#[inline]`, so that it is compiled into runbeam-ffi at its level. Every item is public
//! for runbeam-ffi's sake only: this crate is not an API.
#![allow(clippy::missing_safety_doc)] // every export documents its contract under `# Safety`

pub mod claims;
pub mod client;
pub mod config;
pub mod edge;
pub mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod guard;
pub mod limits;
pub mod logging;
pub mod problems;
pub mod reference;
pub mod resolver;
pub mod runtime;
pub mod stats;
pub mod status;
pub mod storage;
pub mod strings;
pub mod user_token;
pub mod validator;
pub mod watch;
