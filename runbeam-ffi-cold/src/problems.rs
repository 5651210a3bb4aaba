//! `runbeam_problem_list`: configuration problems, each with its TOML path.

use std::ffi::{CString, c_char};
use std::ptr;

use runbeam_core::Problem;

use crate::error::to_cstring;
use crate::guard::{free_handle, guard_value};
use crate::status::{RUNBEAM_OK, runbeam_status};

struct Item {
    status: runbeam_status,
    path: CString,
    message: CString,
}

/// A list of configuration problems (from `runbeam_mesh_config_validate()` or
/// `runbeam_last_error_problems()`), in document order. Release with
/// `runbeam_problem_list_free()`. Strings it returns are valid until it is freed.
#[allow(non_camel_case_types)]
pub struct runbeam_problem_list {
    items: Vec<Item>,
}

impl runbeam_problem_list {
    pub(crate) fn new(problems: Vec<Problem>) -> Self {
        let items = problems
            .iter()
            .map(|p| Item {
                status: p.kind().c_status(),
                path: to_cstring(p.path()),
                message: to_cstring(p.message()),
            })
            .collect();
        runbeam_problem_list { items }
    }
}

fn item<'a>(list: *const runbeam_problem_list, index: usize) -> Option<&'a Item> {
    // SAFETY: every accessor's contract: NULL or a live list.
    unsafe { list.as_ref() }.and_then(|l| l.items.get(index))
}

/// Number of problems; 0 for NULL.
///
/// # Safety
/// `list` is NULL or a live problem list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_problem_list_count(list: *const runbeam_problem_list) -> usize {
    guard_value("runbeam_problem_list_count", 0, || {
        // SAFETY: NULL or a live list (contract).
        unsafe { list.as_ref() }.map_or(0, |l| l.items.len())
    })
}

/// The message of problem `index` (without its path), or NULL when out of range.
///
/// # Safety
/// `list` is NULL or a live problem list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_problem_list_message(
    list: *const runbeam_problem_list,
    index: usize,
) -> *const c_char {
    guard_value("runbeam_problem_list_message", ptr::null(), || {
        item(list, index).map_or(ptr::null(), |i| i.message.as_ptr())
    })
}

/// The dotted TOML path of problem `index` (`"mesh.imaging.egress[0]"`; `""` for problems of a
/// whole document such as a syntax error), or NULL when out of range.
///
/// # Safety
/// `list` is NULL or a live problem list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_problem_list_path(
    list: *const runbeam_problem_list,
    index: usize,
) -> *const c_char {
    guard_value("runbeam_problem_list_path", ptr::null(), || {
        item(list, index).map_or(ptr::null(), |i| i.path.as_ptr())
    })
}

/// The kind of problem `index` as a status code (`RUNBEAM_STATUS_UNKNOWN_PROVIDER`,
/// `RUNBEAM_STATUS_INVALID_REFERENCE`, `RUNBEAM_STATUS_CONFIG`), or `RUNBEAM_OK` when out of
/// range.
///
/// # Safety
/// `list` is NULL or a live problem list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_problem_list_status(
    list: *const runbeam_problem_list,
    index: usize,
) -> runbeam_status {
    guard_value("runbeam_problem_list_status", RUNBEAM_OK, || {
        item(list, index).map_or(RUNBEAM_OK, |i| i.status)
    })
}

/// Releases a problem list. NULL is a no-op.
///
/// # Safety
/// `list` is NULL or a list from librunbeam not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_problem_list_free(list: *mut runbeam_problem_list) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_problem_list_free", list) }
}
