//! The HTTP edge on arbitrary bytes (`runbeam_core::fuzzing::edge_request`): a request path
//! joined to a resource's or a gateway's URL (one of a few, or one from the input), the same
//! bytes as an `Authorization` header, and the refusal of every error kind at every stage.
//! Never a panic; an `Ok` of `join_path` always lies under its base, canonical, without an
//! encoded separator past the base; a refusal is never a 500, every 401 has
//! `WWW-Authenticate`, every 503 a `Retry-After` of 1 s to an hour; nothing quotes the path
//! or the header.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    runbeam_core::fuzzing::edge_request(data);
});
