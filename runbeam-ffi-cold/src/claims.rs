//! `runbeam_claims`: the verified claims of a JWT (docs/spec.md §4) for C.
//!
//! A handle wraps the core's shared `Arc<Claims>` (a cache hit costs no copy); the C strings the
//! getters return are made on first use and kept in the handle, so the hot path of a gateway
//! that only reads `sub` pays for `sub` alone.
//!
//! The getters themselves are in runbeam-ffi's `claims` (compiled for speed, this crate's docs).

use std::ffi::{CString, c_char};
use std::ptr;
use std::sync::{Arc, OnceLock};

use runbeam_core::jwt::Claims;

use crate::error::to_cstring;

/// The verified claims of a token, returned by `runbeam_validator_validate()` and friends.
/// Read with the `runbeam_claims_*` getters; release with `runbeam_claims_free()`.
/// Immutable: it may be read from several threads at once. Claims are not secret (the token
/// is), and the handle holds no copy of the token.
#[allow(non_camel_case_types)]
pub struct runbeam_claims {
    pub claims: Arc<Claims>,
    pub(crate) text: [OnceLock<Option<CString>>; FIELDS],
    pub(crate) aud: OnceLock<Vec<CString>>,
    pub json: OnceLock<CString>,
}

/// The string claims a getter returns, as indexes of `runbeam_claims::text`.
#[derive(Clone, Copy)]
pub enum Field {
    Iss,
    Sub,
    Jti,
    UserId,
    UserEmail,
    UserName,
    TeamId,
    TeamName,
    MeshId,
    DestUrl,
}

const FIELDS: usize = 10;

impl Field {
    #[inline]
    pub(crate) fn of(self, c: &Claims) -> Option<&str> {
        match self {
            Field::Iss => c.iss.as_deref(),
            Field::Sub => c.sub.as_deref(),
            Field::Jti => c.jti.as_deref(),
            Field::UserId => c.user.as_ref().map(|u| u.id.as_str()),
            Field::UserEmail => c.user.as_ref().and_then(|u| u.email.as_deref()),
            Field::UserName => c.user.as_ref().and_then(|u| u.name.as_deref()),
            Field::TeamId => c.team.as_ref().map(|t| t.id.as_str()),
            Field::TeamName => c.team.as_ref().and_then(|t| t.name.as_deref()),
            Field::MeshId => c.mesh_id.as_deref(),
            Field::DestUrl => c.dest_url.as_deref(),
        }
    }
}

impl runbeam_claims {
    #[inline]
    pub(crate) fn new(claims: Arc<Claims>) -> runbeam_claims {
        runbeam_claims {
            claims,
            text: [const { OnceLock::new() }; FIELDS],
            aud: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    /// A new handle for the caller.
    #[inline]
    pub fn into_raw(claims: Arc<Claims>) -> *mut runbeam_claims {
        Box::into_raw(Box::new(runbeam_claims::new(claims)))
    }

    #[inline]
    pub fn text(&self, field: Field) -> *const c_char {
        self.text[field as usize]
            .get_or_init(|| field.of(&self.claims).map(to_cstring))
            .as_ref()
            .map_or(ptr::null(), |s| s.as_ptr())
    }

    #[inline]
    pub fn audiences(&self) -> &[CString] {
        self.aud
            .get_or_init(|| self.claims.aud.iter().map(to_cstring).collect())
    }
}
