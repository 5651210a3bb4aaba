//! `runbeam_reference`: a parsed resource reference (docs/spec.md §1). The parser and the
//! getters are in runbeam-ffi's `reference` (compiled for speed, this crate's docs).

use std::ffi::c_char;

use runbeam_core::Reference;

/// How a reference finds its resource. Integer values are stable.
#[allow(non_camel_case_types)]
pub type runbeam_lookup = i32;
/// Returned for a NULL reference.
pub const RUNBEAM_LOOKUP_NONE: runbeam_lookup = 0;
/// By id (`….id.<id>`).
pub const RUNBEAM_LOOKUP_ID: runbeam_lookup = 1;
/// By name (`….name.<name>`).
pub const RUNBEAM_LOOKUP_NAME: runbeam_lookup = 2;

const NO_TEAM: u16 = u16::MAX;

/// A parsed, validated resource reference. Create with `runbeam_reference_parse()`, release
/// with `runbeam_reference_free()`. Immutable: it may be read from several threads at once.
///
/// Strings returned by its getters are NUL-terminated, owned by the reference and valid until
/// it is freed.
#[allow(non_camel_case_types)]
pub struct runbeam_reference {
    pub inner: Reference,
    /// `provider\0[team\0]value\0canonical\0`, so getters can hand out C strings.
    pub(crate) cstrs: Box<[u8]>,
    pub(crate) team: u16,
    pub value: u16,
    pub(crate) canonical: u16,
}

impl runbeam_reference {
    #[inline]
    pub fn new(inner: Reference) -> Self {
        let mut buf = Vec::with_capacity(2 * inner.as_str().len() + 16);
        buf.extend_from_slice(inner.provider().as_bytes());
        buf.push(0);
        let team = match inner.team() {
            Some(team) => {
                let at = buf.len() as u16;
                buf.extend_from_slice(team.as_bytes());
                buf.push(0);
                at
            }
            None => NO_TEAM,
        };
        let value = buf.len() as u16;
        buf.extend_from_slice(inner.value().as_bytes());
        buf.push(0);
        let canonical = buf.len() as u16;
        buf.extend_from_slice(inner.as_str().as_bytes());
        buf.push(0);
        runbeam_reference {
            inner,
            cstrs: buf.into_boxed_slice(),
            team,
            value,
            canonical,
        }
    }

    #[inline]
    pub fn at(&self, offset: u16) -> *const c_char {
        self.cstrs[offset as usize..].as_ptr().cast()
    }

    /// The team as a C string, NULL when the reference has none.
    #[inline]
    pub fn team_ptr(&self) -> *const c_char {
        if self.team == NO_TEAM {
            std::ptr::null()
        } else {
            self.at(self.team)
        }
    }

    #[inline]
    pub fn canonical_ptr(&self) -> *const c_char {
        self.at(self.canonical)
    }
}
