//! The largest counts, lengths and capacities the C ABI accepts from a caller.
//!
//! A number that comes from C is checked against its maximum before anything is read or
//! allocated from it: above it the call fails with `RUNBEAM_STATUS_INVALID_ARGUMENT` (the
//! message names the argument and the maximum) and never reads past the caller's buffer nor
//! aborts on a huge allocation. Token lengths have their own limit,
//! `RUNBEAM_JWT_MAX_TOKEN_BYTES` (over it a token is `RUNBEAM_STATUS_JWT_INVALID`).

use runbeam_core::Error;

use crate::guard::invalid_argument;

// A reference the grammar refuses as too long must get that answer, not the argument limit.
const _: () = assert!(RUNBEAM_MAX_TEXT_BYTES > runbeam_core::reference::MAX_REFERENCE_LEN);

/// The most files `runbeam_mesh_config_from_files()` merges.
pub const RUNBEAM_MAX_CONFIG_FILES: usize = 64;

/// The longest configuration document, in bytes (`runbeam_mesh_config_from_toml_len()`, and each
/// file read by `runbeam_mesh_config_from_file(s)()`): 4 MiB.
pub const RUNBEAM_MAX_DOCUMENT_BYTES: usize = 4 << 20;

/// The longest text given as pointer + length to `runbeam_reference_parse_len()` and
/// `runbeam_bearer_parse()`, in bytes (64 KiB). Shorter texts are checked by the grammar
/// (a reference is at most 512 bytes: longer is `RUNBEAM_STATUS_INVALID_REFERENCE`).
pub const RUNBEAM_MAX_TEXT_BYTES: usize = 64 << 10;

/// The most change ids `runbeam_client_acknowledge_changes()` sends in one call.
pub const RUNBEAM_MAX_CHANGE_IDS: usize = 100_000;

/// The most names `runbeam_validator_config_set_algorithms()` accepts.
pub const RUNBEAM_MAX_ALGORITHMS: usize = 32;

/// The largest cache capacity (`runbeam_validator_config_set_cache_capacity()`,
/// `runbeam_resolver_config_set_mesh_token_capacity()`): one million entries.
pub const RUNBEAM_MAX_CACHE_ENTRIES: usize = 1_000_000;

/// The largest PEM bundle `runbeam_validator_config_set_ca_bundle_pem()` copies: 4 MiB.
pub const RUNBEAM_MAX_PEM_BYTES: usize = 4 << 20;

/// The largest response-body cap `runbeam_client_config_set_max_body_bytes()` accepts: 256 MiB.
pub const RUNBEAM_MAX_BODY_BYTES: usize = 256 << 20;

/// The most items a page of a collection may be asked for (`per_page` of
/// `runbeam_client_list()`, `runbeam_client_list_all()`, `runbeam_client_pages()`): 100, the
/// Cloud API's own maximum. A larger (or zero) `per_page` is `RUNBEAM_STATUS_INVALID_ARGUMENT`
/// before anything is sent.
pub const RUNBEAM_MAX_PER_PAGE: u32 = 100;

/// The most pages one walk of a collection requests (`runbeam_client_list_all()`, a
/// `runbeam_page_cursor`): 10 000. A server that still announces a next page after that is
/// `RUNBEAM_STATUS_PROTOCOL`, never an endless walk.
pub const RUNBEAM_MAX_LIST_PAGES: u32 = 10_000;

/// `Ok` when `value` (the caller's argument `name`) is at most `max` (the constant `limit`).
#[inline]
pub fn at_most(name: &str, value: usize, max: usize, limit: &str) -> Result<(), Error> {
    if value > max {
        return Err(invalid_argument(format!(
            "argument '{name}' is {value}, over the maximum of {max} ({limit})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_match_the_core() {
        assert_eq!(
            RUNBEAM_MAX_DOCUMENT_BYTES,
            runbeam_core::config::MAX_DOCUMENT_BYTES
        );
        assert!(RUNBEAM_MAX_ALGORITHMS >= runbeam_core::jwt::Algorithm::ALL.len());
        assert_eq!(
            RUNBEAM_MAX_PER_PAGE,
            runbeam_core::client::PageRequest::MAX_PER_PAGE
        );
        assert_eq!(RUNBEAM_MAX_LIST_PAGES, runbeam_core::client::MAX_LIST_PAGES);
    }

    #[test]
    fn a_number_over_its_maximum_is_refused_with_both_in_the_message() {
        assert!(at_most("count", 3, 3, "X").is_ok());
        let e = at_most("count", usize::MAX, 3, "RUNBEAM_MAX_X").unwrap_err();
        assert_eq!(e.kind(), runbeam_core::ErrorKind::InvalidArgument);
        assert!(e.message().contains("'count'"));
        assert!(e.message().contains("maximum of 3 (RUNBEAM_MAX_X)"));
    }
}
