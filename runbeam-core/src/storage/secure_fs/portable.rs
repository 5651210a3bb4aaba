//! Platforms without Unix descriptors (Windows): the operations of the Unix [`Dir`] by path,
//! with the standard library.
//!
//! What is kept: no symbolic link (or junction reported as one) at or below the root is
//! followed or replaced — each name is inspected with `symlink_metadata` before use; files are
//! created new (`create_new`) under random temp names, written and flushed, then renamed over
//! the target (an atomic replace on NTFS: `MoveFileExW` with `MOVEFILE_REPLACE_EXISTING`).
//! What differs: names are looked up again at each use (there is no `openat`), and owner and
//! mode are not checked — Windows has no mode bits; a directory under the user's profile
//! inherits an ACL that grants access to the user, SYSTEM and Administrators only, which is
//! the equivalent of 0700/0600 (docs/distribution.md says how to check it for another
//! `RUNBEAM_HOME`). A directory cannot be flushed on Windows, so [`Dir::sync`] does nothing:
//! NTFS journals the rename itself.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind as IoKind, Write};
use std::path::{Path, PathBuf};

use super::{io_error, link_error, temp_name};
use crate::error::{Error, ErrorKind, Result};

/// A directory of the store, checked when opened; names below it are checked at each use.
pub(in crate::storage) struct Dir {
    path: PathBuf,
}

/// What `path` is, without following a link.
enum Found {
    Missing,
    Link,
    Dir,
    File,
    Other,
}

fn inspect(path: &Path) -> io::Result<Found> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Ok(Found::Link),
        Ok(m) if m.is_dir() => Ok(Found::Dir),
        Ok(m) if m.is_file() => Ok(Found::File),
        Ok(_) => Ok(Found::Other),
        Err(e) if e.kind() == IoKind::NotFound => Ok(Found::Missing),
        Err(e) => Err(e),
    }
}

fn not_regular(path: &Path) -> Error {
    Error::new(
        ErrorKind::Storage,
        format!(
            "{} is not a regular file; refusing to use it: move it away",
            path.display()
        ),
    )
}

impl Dir {
    /// Opens the storage root `path`; `Ok(None)` when it is missing or not a directory. The
    /// root itself must not be a link (its parents may be).
    pub(in crate::storage) fn open_root(path: &Path) -> Result<Option<Dir>> {
        Dir::at(
            path.to_path_buf(),
            false,
            "set RUNBEAM_HOME to the directory it points to, or replace the link with a directory",
        )
    }

    /// [`Dir::open_root`], creating the root (and its missing parents) when it is missing.
    pub(in crate::storage) fn create_root(path: &Path) -> Result<Dir> {
        Dir::at(
            path.to_path_buf(),
            true,
            "set RUNBEAM_HOME to the directory it points to, or replace the link with a directory",
        )?
        .ok_or_else(|| io_error("create the directory", path, &IoKind::NotFound.into()))
    }

    /// Opens the subdirectory `name`; `Ok(None)` when it is missing or not a directory.
    pub(in crate::storage) fn open_dir(&self, name: &str) -> Result<Option<Dir>> {
        Dir::at(self.child(name), false, "replace it with a directory")
    }

    /// [`Dir::open_dir`], creating it when it is missing.
    pub(in crate::storage) fn create_dir(&self, name: &str) -> Result<Dir> {
        let path = self.child(name);
        Dir::at(path.clone(), true, "replace it with a directory")?
            .ok_or_else(|| io_error("create the directory", &path, &IoKind::NotFound.into()))
    }

    fn at(path: PathBuf, create: bool, link_fix: &str) -> Result<Option<Dir>> {
        match inspect(&path).map_err(|e| io_error("open the directory", &path, &e))? {
            Found::Dir => Ok(Some(Dir { path })),
            Found::Link => Err(link_error(&path, link_fix)),
            Found::Missing if create => {
                fs::create_dir_all(&path)
                    .map_err(|e| io_error("create the directory", &path, &e))?;
                // Another process may have planted something meanwhile: check what is there.
                match inspect(&path).map_err(|e| io_error("open the directory", &path, &e))? {
                    Found::Dir => Ok(Some(Dir { path })),
                    Found::Link => Err(link_error(&path, link_fix)),
                    _ => Err(io_error(
                        "create the directory",
                        &path,
                        &IoKind::NotADirectory.into(),
                    )),
                }
            }
            Found::Missing => Ok(None),
            Found::File | Found::Other if create => Err(io_error(
                "create the directory",
                &path,
                &IoKind::NotADirectory.into(),
            )),
            Found::File | Found::Other => Ok(None),
        }
    }

    /// The path this directory was opened from (for messages).
    pub(in crate::storage) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory (for messages).
    pub(in crate::storage) fn child(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Refuses a link or a non-file at `name`; `Ok(false)` when nothing is there.
    fn file_there(&self, name: &str) -> Result<bool> {
        let path = self.child(name);
        match inspect(&path).map_err(|e| io_error("inspect", &path, &e))? {
            Found::File => Ok(true),
            Found::Missing => Ok(false),
            Found::Link => Err(link_error(
                &path,
                "replace it with the regular file (or move it away)",
            )),
            Found::Dir | Found::Other => Err(not_regular(&path)),
        }
    }

    /// Opens the existing file `name` for reading; `Ok(None)` when there is none.
    pub(in crate::storage) fn open_file(&self, name: &str, _secret: bool) -> Result<Option<File>> {
        if !self.file_there(name)? {
            return Ok(None);
        }
        match File::open(self.child(name)) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == IoKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", &self.child(name), &e)),
        }
    }

    /// Opens the lock file `name`, creating it when possible; with `must_write` false a
    /// read-only open is the fallback and a file that cannot be opened at all is `Ok(None)`.
    pub(in crate::storage) fn open_lock(
        &self,
        name: &str,
        must_write: bool,
    ) -> Result<Option<File>> {
        self.file_there(name)?;
        let path = self.child(name);
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .or_else(|e| {
                if must_write {
                    Err(e)
                } else {
                    File::open(&path)
                }
            });
        match opened {
            Ok(file) => Ok(Some(file)),
            Err(e)
                if !must_write
                    && matches!(
                        e.kind(),
                        IoKind::NotFound | IoKind::ReadOnlyFilesystem | IoKind::PermissionDenied
                    ) =>
            {
                Ok(None)
            }
            Err(e) => Err(io_error("open the lock file", &path, &e)),
        }
    }

    /// Writes `bytes` to a new temp file in this directory and flushes it; returns its name.
    /// On failure nothing is left behind and the error names `target`.
    pub(in crate::storage) fn write_temp(&self, target: &str, bytes: &[u8]) -> Result<String> {
        let temp = temp_name(target);
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.child(&temp))
            .and_then(|mut file| {
                file.write_all(bytes)?;
                file.sync_all()
            });
        match written {
            Ok(()) => Ok(temp),
            Err(e) => {
                self.remove(&temp).ok();
                Err(io_error("write", &self.child(target), &e))
            }
        }
    }

    /// Refuses when `name` is a symbolic link.
    pub(in crate::storage) fn refuse_link(&self, name: &str) -> Result<()> {
        let path = self.child(name);
        match inspect(&path) {
            Ok(Found::Link) => Err(link_error(
                &path,
                "replace it with the regular file (or move it away)",
            )),
            _ => Ok(()),
        }
    }

    /// Renames within this directory, replacing `to` (atomic on NTFS).
    pub(in crate::storage) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.child(from), self.child(to))
    }

    /// A hard link `to` of `from`; `AlreadyExists` when `to` exists.
    pub(in crate::storage) fn link(&self, from: &str, to: &str) -> io::Result<()> {
        fs::hard_link(self.child(from), self.child(to))
    }

    /// Removes the file `name` (a link is removed, not its target).
    pub(in crate::storage) fn remove(&self, name: &str) -> io::Result<()> {
        fs::remove_file(self.child(name))
    }

    /// The names in this directory.
    pub(in crate::storage) fn names(&self) -> io::Result<Vec<OsString>> {
        fs::read_dir(&self.path)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect()
    }

    /// Nothing to do: a directory cannot be flushed here (NTFS journals the rename).
    pub(in crate::storage) fn sync(&self) -> Result<()> {
        Ok(())
    }
}
