//! File access under the storage root, checked as it is opened: [`Dir`].
//!
//! - Unix (`unix.rs`): every directory and file is opened relative to its parent's descriptor
//!   without following links, and owner and mode are checked on the opened descriptor.
//! - Elsewhere (`portable.rs`, Windows): the same operations by path with the standard library;
//!   links under the root are refused, and access control is the directory's ACL (see
//!   docs/distribution.md): no owner or mode check, as Windows has no such bits.

use std::io::{self, ErrorKind as IoKind};
use std::path::Path;

use crate::error::{Error, ErrorKind};

#[cfg(not(unix))]
mod portable;
#[cfg(unix)]
mod unix;

/// The name of a new temp file standing for `target` in its directory:
/// `.<target>.<pid>.<random>.tmp`, the pattern the file store's sweep of temp files left by a
/// killed writer matches.
fn temp_name(target: &str) -> String {
    format!(
        ".{target}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u64>()
    )
}

#[cfg(not(unix))]
pub(super) use portable::Dir;
#[cfg(unix)]
pub(super) use unix::Dir;

/// Maps an I/O error to `Storage`, naming `path` and saying what to do where we can tell.
pub(super) fn io_error(action: &str, path: &Path, e: &io::Error) -> Error {
    let hint = match e.kind() {
        IoKind::PermissionDenied => "; check the owner and permissions of the directory",
        IoKind::ReadOnlyFilesystem => {
            "; the file system is read-only: set RUNBEAM_HOME to a writable directory"
        }
        IoKind::StorageFull => "; the disk is full: free space (the previous token file is intact)",
        IoKind::NotADirectory => {
            "; part of the path is a regular file, not a directory: set RUNBEAM_HOME to a \
             directory"
        }
        _ => "",
    };
    Error::new(
        ErrorKind::Storage,
        format!("cannot {action} {}: {e}{hint}", path.display()),
    )
}

/// The refusal of a link at `path`; `what` is what should be there instead.
pub(super) fn link_error(path: &Path, fix: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "{} is a symbolic link: librunbeam does not follow links under RUNBEAM_HOME; {fix}",
            path.display()
        ),
    )
}
