//! `runbeam_mesh_config`: the mesh part of a gateway configuration (docs/spec.md §2).

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use runbeam_core::config::{Direction, MeshConfig};

use crate::error::to_cstring;
use crate::guard::{
    free_handle, guard, guard_value, handle_arg, invalid_argument, out_arg, str_arg, str_arg_len,
};
use crate::limits::{RUNBEAM_MAX_CONFIG_FILES, RUNBEAM_MAX_DOCUMENT_BYTES, at_most};
use crate::problems::runbeam_problem_list;
use crate::reference::runbeam_reference;
use crate::status::runbeam_status;

/// A loaded mesh configuration. Create with `runbeam_mesh_config_from_toml()`,
/// `runbeam_mesh_config_from_file()` or `runbeam_mesh_config_from_files()`; release with
/// `runbeam_mesh_config_free()`. Immutable: it may be read from several threads at once.
#[allow(non_camel_case_types)]
pub struct runbeam_mesh_config {
    pub(crate) inner: MeshConfig,
    mesh_names: Vec<CString>,
    members: Vec<Member>,
}

struct Member {
    mesh: usize,
    direction: &'static CStr,
    reference: runbeam_reference,
}

/// One reference listed by a mesh, as returned by `runbeam_mesh_config_remote_reference()`. Every pointer is
/// borrowed from the configuration and valid until `runbeam_mesh_config_free()`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct runbeam_mesh_member {
    /// Name of the mesh that lists the reference.
    pub mesh: *const c_char,
    /// `"ingress"` or `"egress"`: which list of the mesh.
    pub direction: *const c_char,
    /// The reference (use the `runbeam_reference_*` getters; do not free it).
    pub reference: *const runbeam_reference,
}

impl runbeam_mesh_config {
    fn new(inner: MeshConfig) -> Self {
        let mesh_names = inner.meshes().iter().map(|m| to_cstring(&m.name)).collect();
        let mut members = Vec::new();
        for (index, mesh) in inner.meshes().iter().enumerate() {
            let lists = [
                (
                    Direction::Ingress,
                    c"ingress",
                    mesh.ingress().collect::<Vec<_>>(),
                ),
                (Direction::Egress, c"egress", mesh.egress().collect()),
            ];
            for (_, direction, references) in lists {
                members.extend(references.into_iter().map(|r| Member {
                    mesh: index,
                    direction,
                    reference: runbeam_reference::new(r.clone()),
                }));
            }
        }
        runbeam_mesh_config {
            inner,
            mesh_names,
            members,
        }
    }
}

fn store(config: MeshConfig, out: *mut *mut runbeam_mesh_config) {
    let handle = Box::new(runbeam_mesh_config::new(config));
    // SAFETY: callers checked `out` is non-NULL; writable per their contract.
    unsafe { *out = Box::into_raw(handle) };
}

/// Loads a configuration from NUL-terminated TOML text (a whole gateway file is fine: tables
/// outside the mesh part are ignored).
///
/// On failure returns `RUNBEAM_STATUS_CONFIG` and the last error lists every syntax error,
/// unknown key, wrong type and missing key with its TOML path (also available one by one from
/// `runbeam_last_error_problems()`). Loading does not check meaning: call
/// `runbeam_mesh_config_validate()` at startup.
///
/// # Safety
/// `toml` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_from_toml(
    toml: *const c_char,
    out: *mut *mut runbeam_mesh_config,
) -> runbeam_status {
    guard("runbeam_mesh_config_from_toml", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let text = unsafe { str_arg(toml, "toml") }?;
        store(MeshConfig::from_toml(text)?, out);
        Ok(())
    })
}

/// Like `runbeam_mesh_config_from_toml()` for `len` bytes that need not be NUL-terminated. `len`
/// over `RUNBEAM_MAX_DOCUMENT_BYTES` is `RUNBEAM_STATUS_INVALID_ARGUMENT` (nothing is read).
///
/// # Safety
/// `toml` points to `len` readable bytes (or is NULL with `len == 0`); `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_from_toml_len(
    toml: *const c_char,
    len: usize,
    out: *mut *mut runbeam_mesh_config,
) -> runbeam_status {
    guard("runbeam_mesh_config_from_toml_len", || {
        let out = out_arg(out, "out")?;
        at_most(
            "len",
            len,
            RUNBEAM_MAX_DOCUMENT_BYTES,
            "RUNBEAM_MAX_DOCUMENT_BYTES",
        )?;
        // SAFETY: forwarded caller contract.
        let text = unsafe { str_arg_len(toml, len, "toml") }?;
        store(MeshConfig::from_toml(text)?, out);
        Ok(())
    })
}

/// Loads a configuration file (UTF-8, at most 4 MiB). Errors name the file.
///
/// # Safety
/// `path` is NULL or NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_from_file(
    path: *const c_char,
    out: *mut *mut runbeam_mesh_config,
) -> runbeam_status {
    guard("runbeam_mesh_config_from_file", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let path = unsafe { str_arg(path, "path") }?;
        store(MeshConfig::from_file(path)?, out);
        Ok(())
    })
}

/// Loads and merges `count` files in order; a key defined by two files is a problem naming
/// both (a later file never silently overrides security settings). `count` over
/// `RUNBEAM_MAX_CONFIG_FILES` is `RUNBEAM_STATUS_INVALID_ARGUMENT` (nothing is read).
///
/// # Safety
/// `paths` is NULL (then `count` must be 0) or points to `count` NUL-terminated strings;
/// `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_from_files(
    paths: *const *const c_char,
    count: usize,
    out: *mut *mut runbeam_mesh_config,
) -> runbeam_status {
    guard("runbeam_mesh_config_from_files", || {
        let out = out_arg(out, "out")?;
        if paths.is_null() && count != 0 {
            return Err(invalid_argument(format!(
                "argument 'paths' is NULL with count {count}"
            )));
        }
        at_most(
            "count",
            count,
            RUNBEAM_MAX_CONFIG_FILES,
            "RUNBEAM_MAX_CONFIG_FILES",
        )?;
        let mut list = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: `paths` points to `count` pointers (contract).
            let ptr = unsafe { *paths.add(i) };
            // SAFETY: each is NULL or NUL-terminated (contract).
            list.push(unsafe { str_arg(ptr, &format!("paths[{i}]")) }?);
        }
        store(MeshConfig::from_files(&list)?, out);
        Ok(())
    })
}

/// A copy of `config` whose `[provider.<provider>]` uses `api_url` as its API root: the same
/// gateway configuration pointed at another Runbeam Cloud (a local `runbeam-devcloud`, a
/// staging API) without editing the file. `config` is unchanged; `*out` is a new configuration
/// (release it with `runbeam_mesh_config_free()`). The URL is checked when a resolver is built.
///
/// Errors: `RUNBEAM_STATUS_UNKNOWN_PROVIDER` when the configuration has no
/// `[provider.<provider>]` (the implicit `local` provider has no API);
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` for NULL, empty or non-UTF-8 arguments.
///
/// ```c
/// runbeam_mesh_config *file = NULL, *dev = NULL;
/// if (runbeam_mesh_config_from_file("gateway.toml", &file) == RUNBEAM_OK &&
///     runbeam_mesh_config_with_provider_api(file, "runbeam", "http://127.0.0.1:8080", &dev) == RUNBEAM_OK) {
///     // build the resolver from `dev`
/// }
/// runbeam_mesh_config_free(dev);
/// runbeam_mesh_config_free(file);
/// ```
///
/// # Safety
/// `config` is NULL or a live configuration; `provider` and `api_url` are NULL or
/// NUL-terminated; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_with_provider_api(
    config: *const runbeam_mesh_config,
    provider: *const c_char,
    api_url: *const c_char,
    out: *mut *mut runbeam_mesh_config,
) -> runbeam_status {
    guard("runbeam_mesh_config_with_provider_api", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let config = unsafe { handle_arg(config, "config") }?;
        // SAFETY: forwarded caller contract.
        let provider = unsafe { str_arg(provider, "provider") }?;
        // SAFETY: forwarded caller contract.
        let api_url = unsafe { str_arg(api_url, "api_url") }?;
        if provider.is_empty() {
            return Err(invalid_argument("argument 'provider' is empty".to_string()));
        }
        if api_url.is_empty() {
            return Err(invalid_argument("argument 'api_url' is empty".to_string()));
        }
        store(config.inner.with_provider_api(provider, api_url)?, out);
        Ok(())
    })
}

/// Checks the meaning of the configuration (docs/spec.md §2.2) and writes **every** problem to a new
/// list at `*out` (empty when valid; release it with `runbeam_problem_list_free()`). Finding
/// problems is not a failure: the status is `RUNBEAM_OK` unless an argument is invalid.
///
/// ```c
/// runbeam_problem_list *problems = NULL;
/// runbeam_mesh_config_validate(cfg, &problems);
/// for (size_t i = 0; i < runbeam_problem_list_count(problems); i++)
///     fprintf(stderr, "%s: %s\n", runbeam_problem_list_path(problems, i),
///             runbeam_problem_list_message(problems, i));
/// runbeam_problem_list_free(problems);
/// ```
///
/// # Safety
/// `config` is NULL or a live configuration; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_validate(
    config: *const runbeam_mesh_config,
    out: *mut *mut runbeam_problem_list,
) -> runbeam_status {
    guard("runbeam_mesh_config_validate", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let config = unsafe { handle_arg(config, "config") }?;
        let list = Box::new(runbeam_problem_list::new(config.inner.validate()));
        // SAFETY: `out` is non-NULL and writable (contract).
        unsafe { *out = Box::into_raw(list) };
        Ok(())
    })
}

/// Writes to `*out` whether `reference` may be resolved: it is listed in an enabled mesh whose
/// provider is configured and enabled (docs/spec.md §2.3).
///
/// # Safety
/// `config` and `reference` are NULL or live handles; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_in_mesh_context(
    config: *const runbeam_mesh_config,
    reference: *const runbeam_reference,
    out: *mut bool,
) -> runbeam_status {
    guard("runbeam_mesh_config_in_mesh_context", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let config = unsafe { handle_arg(config, "config") }?;
        // SAFETY: forwarded caller contract.
        let reference = unsafe { handle_arg(reference, "reference") }?;
        let listed = config.inner.in_mesh_context(&reference.inner);
        // SAFETY: `out` is non-NULL and writable (contract).
        unsafe { *out = listed };
        Ok(())
    })
}

/// Like `runbeam_mesh_config_in_mesh_context()`, but fails with a message saying what to do:
/// `RUNBEAM_STATUS_UNKNOWN_PROVIDER` or `RUNBEAM_STATUS_NOT_IN_MESH`. On success writes the
/// name of the first mesh listing the reference to `*mesh_name` (borrowed from `config`), if
/// `mesh_name` is not NULL.
///
/// # Safety
/// `config` and `reference` are NULL or live handles; `mesh_name` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_check_mesh_context(
    config: *const runbeam_mesh_config,
    reference: *const runbeam_reference,
    mesh_name: *mut *const c_char,
) -> runbeam_status {
    guard("runbeam_mesh_config_check_mesh_context", || {
        // SAFETY: forwarded caller contract.
        let config = unsafe { handle_arg(config, "config") }?;
        // SAFETY: forwarded caller contract.
        let reference = unsafe { handle_arg(reference, "reference") }?;
        let mesh = config.inner.check_mesh_context(&reference.inner)?;
        if !mesh_name.is_null() {
            let index = config
                .inner
                .meshes()
                .iter()
                .position(|m| ptr::eq(m, mesh))
                .unwrap_or_default();
            // SAFETY: non-NULL and writable (contract).
            unsafe { *mesh_name = config.mesh_names[index].as_ptr() };
        }
        Ok(())
    })
}

/// Number of `[mesh.*]` tables; 0 for NULL.
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_mesh_count(
    config: *const runbeam_mesh_config,
) -> usize {
    guard_value("runbeam_mesh_config_mesh_count", 0, || {
        // SAFETY: NULL or live (contract).
        unsafe { config.as_ref() }.map_or(0, |c| c.mesh_names.len())
    })
}

/// Name of mesh `index` (document order), borrowed from `config`; NULL when out of range.
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_mesh_name(
    config: *const runbeam_mesh_config,
    index: usize,
) -> *const c_char {
    guard_value("runbeam_mesh_config_mesh_name", ptr::null(), || {
        // SAFETY: NULL or live (contract).
        unsafe { config.as_ref() }
            .and_then(|c| c.mesh_names.get(index))
            .map_or(ptr::null(), |n| n.as_ptr())
    })
}

/// Number of references listed by all meshes (their `ingress` then `egress` lists, mesh by
/// mesh); 0 for NULL. References that do not parse are not counted (validation reports them).
///
/// # Safety
/// `config` is NULL or a live configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_remote_reference_count(
    config: *const runbeam_mesh_config,
) -> usize {
    guard_value("runbeam_mesh_config_remote_reference_count", 0, || {
        // SAFETY: NULL or live (contract).
        unsafe { config.as_ref() }.map_or(0, |c| c.members.len())
    })
}

/// Writes member `index` (see `runbeam_mesh_config_remote_reference_count()`) to `*out`.
/// `RUNBEAM_STATUS_INVALID_ARGUMENT` when out of range.
///
/// # Safety
/// `config` is NULL or a live configuration; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_remote_reference(
    config: *const runbeam_mesh_config,
    index: usize,
    out: *mut runbeam_mesh_member,
) -> runbeam_status {
    guard("runbeam_mesh_config_remote_reference", || {
        let out = out_arg(out, "out")?;
        // SAFETY: forwarded caller contract.
        let config = unsafe { handle_arg(config, "config") }?;
        let member = config.members.get(index).ok_or_else(|| {
            invalid_argument(format!(
                "index {index} is out of range ({} members)",
                config.members.len()
            ))
        })?;
        let value = runbeam_mesh_member {
            mesh: config.mesh_names[member.mesh].as_ptr(),
            direction: member.direction.as_ptr(),
            reference: &member.reference,
        };
        // SAFETY: `out` is non-NULL and writable (contract).
        unsafe { *out = value };
        Ok(())
    })
}

/// Releases a configuration. NULL is a no-op.
///
/// # Safety
/// `config` is NULL or a configuration from librunbeam not freed before; it, and every string
/// and reference borrowed from it, is invalid afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn runbeam_mesh_config_free(config: *mut runbeam_mesh_config) {
    // SAFETY: NULL or created by Box::into_raw in this crate, not freed before (contract).
    unsafe { free_handle("runbeam_mesh_config_free", config) }
}
