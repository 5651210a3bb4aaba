//! Unix: strict, descriptor-relative file access under the storage root, in the manner of
//! OpenSSH's `StrictModes` for `~/.ssh`.
//!
//! Every directory from the root down is opened with `O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC`
//! relative to the descriptor of its parent (`openat`), every file with `O_NOFOLLOW`, and
//! owner and mode are checked on the opened descriptor (`fstat`), never on a path. Whatever is
//! read, written, renamed or linked afterwards goes through those same descriptors, so swapping
//! a checked name for a link (or for another file) between the check and the use has no
//! effect: the name is never looked up again.
//!
//! The rules ([`Dir::open_root`] documents the root):
//! - no symbolic link at or below the root (the root's parents may be links: `/home` is often
//!   one, and only the root and below belong to the store);
//! - every directory and file is owned by the effective uid (or by root, who can read
//!   everything anyway, so that an administrator may pre-create the root);
//! - directories are not writable by group or others (0700 as created, 0755 accepted);
//! - files are regular files, created 0600; the key may have no group or other permission
//!   bits, a token file (ciphertext) or the lock no group or other write bit (runbeam-sdk 0.11
//!   writes its token files 0644, and they must keep loading).
//!
//! Every refusal is a `Storage` error naming the path and the command that fixes it.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, ErrorKind as IoKind, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::{io_error, link_error, temp_name};
use crate::error::{Error, ErrorKind, Result};

/// Flags of every directory open: never through a link, never inherited by a child process.
const DIR_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
/// Flags added to every file open. `O_NONBLOCK` keeps a FIFO planted under a file's name from
/// blocking the open; it changes nothing for the regular files that pass the check.
const FILE_FLAGS: libc::c_int = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;

fn c_name(name: &[u8]) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(IoKind::InvalidInput, "a NUL byte in the path"))
}

/// Turns a `-1` return into the thread's `errno`.
fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `openat(dir, name, flags, mode)` as an owned descriptor.
fn open_at(dir: RawFd, name: &[u8], flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let name = c_name(name)?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call; `dir` is a descriptor
    // the caller keeps open (or AT_FDCWD); the mode is passed as the variadic `c_uint`.
    let fd = cvt(unsafe { libc::openat(dir, name.as_ptr(), flags, libc::c_uint::from(mode)) })?;
    // SAFETY: openat returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstat` of an open descriptor.
fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable `stat`; `fd` is open for the duration of the call.
    cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

/// Whether `name` in `dir` is a symbolic link (`fstatat` without following it). Used to word
/// errors only: the refusal itself comes from `O_NOFOLLOW`.
fn is_link(dir: RawFd, name: &[u8]) -> bool {
    let Ok(name) = c_name(name) else {
        return false;
    };
    // SAFETY: as in `fstat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated, `st` writable, `dir` open (or AT_FDCWD).
    let ret = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    ret == 0 && st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

fn euid() -> libc::uid_t {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// What an opened descriptor must be.
#[derive(Clone, Copy)]
enum Expect {
    Dir,
    /// A regular file. A `secret` (the key) has no group or other bits at all; another file
    /// (an age-encrypted token, the lock) only no group or other write bit: ciphertext is
    /// no secret without the key, and runbeam-sdk 0.11 writes its token files 0644.
    File {
        secret: bool,
    },
}

/// Checks owner, type and mode of `fd`, opened from `path`.
fn check(fd: RawFd, path: &Path, expect: Expect) -> Result<()> {
    let st = fstat(fd).map_err(|e| io_error("inspect", path, &e))?;
    let me = euid();
    if st.st_uid != me && st.st_uid != 0 {
        let also_root = if me == 0 { "" } else { " or root" };
        return Err(Error::new(
            ErrorKind::Storage,
            format!(
                "{} is owned by uid {}, not {me} (the user running the gateway){also_root}; \
                 refusing to use it: run 'chown {me} {}' if it is yours, else move it away",
                path.display(),
                st.st_uid,
                path.display()
            ),
        ));
    }
    let mode = st.st_mode & 0o7777;
    match expect {
        Expect::Dir if mode & 0o022 != 0 => Err(Error::new(
            ErrorKind::Storage,
            format!(
                "{} is writable by group/other (mode {mode:04o}); refusing to use it: run \
                 'chmod 700 {}'",
                path.display(),
                path.display()
            ),
        )),
        Expect::Dir => Ok(()),
        Expect::File { .. } if st.st_mode & libc::S_IFMT != libc::S_IFREG => Err(Error::new(
            ErrorKind::Storage,
            format!(
                "{} is not a regular file; refusing to use it: move it away",
                path.display()
            ),
        )),
        Expect::File { secret: true } if mode & 0o077 != 0 => Err(Error::new(
            ErrorKind::Storage,
            format!(
                "{} is accessible by group/other (mode {mode:04o}); refusing to use it: run \
                 'chmod 600 {}'{}",
                path.display(),
                path.display(),
                if mode & 0o044 != 0 {
                    " (and consider the key compromised: others could read it)"
                } else {
                    ""
                }
            ),
        )),
        Expect::File { secret: false } if mode & 0o022 != 0 => Err(Error::new(
            ErrorKind::Storage,
            format!(
                "{} is writable by group/other (mode {mode:04o}); refusing to use it: run \
                 'chmod 600 {}'",
                path.display(),
                path.display()
            ),
        )),
        Expect::File { .. } => Ok(()),
    }
}

/// A directory of the store, opened without following links and checked; everything below it
/// is reached through its descriptor.
pub(in crate::storage) struct Dir {
    file: File,
    path: PathBuf,
}

/// The outcome of opening a name that should be a directory.
enum Opened {
    Dir(OwnedFd),
    /// Nothing there (`ENOENT`).
    Missing,
    /// Something that is not a directory, or a link (`ENOTDIR`, `ELOOP`).
    NotDir(io::Error),
}

fn open_dir_at(parent: RawFd, name: &[u8]) -> io::Result<Opened> {
    match open_at(parent, name, DIR_FLAGS, 0) {
        Ok(fd) => Ok(Opened::Dir(fd)),
        Err(e) if e.kind() == IoKind::NotFound => Ok(Opened::Missing),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) => {
            Ok(Opened::NotDir(e))
        }
        Err(e) => Err(e),
    }
}

/// The directory an open with `create` gave; it gives one or an error, so `None` is only
/// reported, never expected.
fn created(dir: Option<Dir>, path: &Path) -> Result<Dir> {
    dir.ok_or_else(|| {
        io_error(
            "create the directory",
            path,
            &io::Error::from(IoKind::NotFound),
        )
    })
}

impl Dir {
    /// Opens and checks the storage root `path` (`RUNBEAM_HOME`). Its parents are resolved as
    /// the system does, links included; the root itself must not be a link, even when written
    /// with a trailing `/`. `Ok(None)` when it is missing or not a directory (a load finds
    /// nothing there).
    pub(in crate::storage) fn open_root(path: &Path) -> Result<Option<Dir>> {
        Dir::root(path, false)
    }

    /// [`Dir::open_root`], creating the root 0700 when it is missing (its missing parents
    /// too, 0700, as `mkdir -p` would).
    pub(in crate::storage) fn create_root(path: &Path) -> Result<Dir> {
        Dir::root(path, true).and_then(|dir| created(dir, path))
    }

    fn root(path: &Path, create: bool) -> Result<Option<Dir>> {
        let Some(name) = path.file_name() else {
            // `/`, or a path ending in `..`: no last name that could be a link.
            return match open_dir_at(libc::AT_FDCWD, path.as_os_str().as_bytes()) {
                Ok(Opened::Dir(fd)) => Dir::checked(fd, path.to_path_buf()).map(Some),
                Ok(Opened::Missing | Opened::NotDir(_)) if !create => Ok(None),
                Ok(Opened::Missing) => Err(io_error(
                    "open the directory",
                    path,
                    &io::Error::from(IoKind::NotFound),
                )),
                Ok(Opened::NotDir(e)) | Err(e) => Err(io_error("open the directory", path, &e)),
            };
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Links above the root are followed: they are the system's, not the store's.
        let open_parent = || {
            open_at(
                libc::AT_FDCWD,
                parent.as_os_str().as_bytes(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
                0,
            )
        };
        let parent_fd = match open_parent() {
            Ok(fd) => fd,
            Err(e) if !create && matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(None);
            }
            Err(e) if create && e.kind() == IoKind::NotFound => std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .and_then(|()| open_parent())
                .map_err(|e| io_error("create the directory", path, &e))?,
            Err(e) if create => return Err(io_error("create the directory", path, &e)),
            Err(e) => return Err(io_error("open the directory", path, &e)),
        };
        Dir::open_in(
            parent_fd.as_raw_fd(),
            name.as_bytes(),
            path.to_path_buf(),
            create,
            "set RUNBEAM_HOME to the directory it points to, or replace the link with a \
             directory",
        )
    }

    /// Opens and checks the subdirectory `name`; `Ok(None)` when it is missing or not a
    /// directory.
    pub(in crate::storage) fn open_dir(&self, name: &str) -> Result<Option<Dir>> {
        self.subdir(name, false)
    }

    /// [`Dir::open_dir`], creating it 0700 when it is missing.
    pub(in crate::storage) fn create_dir(&self, name: &str) -> Result<Dir> {
        self.subdir(name, true)
            .and_then(|dir| created(dir, &self.child(name)))
    }

    fn subdir(&self, name: &str, create: bool) -> Result<Option<Dir>> {
        Dir::open_in(
            self.file.as_raw_fd(),
            name.as_bytes(),
            self.path.join(name),
            create,
            "replace it with a directory",
        )
    }

    fn open_in(
        parent: RawFd,
        name: &[u8],
        path: PathBuf,
        create: bool,
        link_fix: &str,
    ) -> Result<Option<Dir>> {
        let open_error = |e: io::Error| {
            if is_link(parent, name) {
                link_error(&path, link_fix)
            } else {
                io_error("open the directory", &path, &e)
            }
        };
        let fd = match open_dir_at(parent, name).map_err(&open_error)? {
            Opened::Dir(fd) => fd,
            Opened::NotDir(e) if create || is_link(parent, name) => return Err(open_error(e)),
            Opened::NotDir(_) => return Ok(None),
            Opened::Missing if !create => return Ok(None),
            Opened::Missing => {
                let c = c_name(name).map_err(|e| io_error("create the directory", &path, &e))?;
                // SAFETY: `c` is NUL-terminated and outlives the call; `parent` is open.
                match cvt(unsafe { libc::mkdirat(parent, c.as_ptr(), 0o700) }) {
                    // Another process may have created it meanwhile: open what is there.
                    Err(e) if e.kind() != IoKind::AlreadyExists => {
                        return Err(io_error("create the directory", &path, &e));
                    }
                    _ => {}
                }
                match open_dir_at(parent, name).map_err(&open_error)? {
                    Opened::Dir(fd) => fd,
                    Opened::Missing => {
                        return Err(open_error(io::Error::from(IoKind::NotFound)));
                    }
                    Opened::NotDir(e) => return Err(open_error(e)),
                }
            }
        };
        Dir::checked(fd, path).map(Some)
    }

    fn checked(fd: OwnedFd, path: PathBuf) -> Result<Dir> {
        check(fd.as_raw_fd(), &path, Expect::Dir)?;
        Ok(Dir {
            file: File::from(fd),
            path,
        })
    }

    /// The path this directory was opened from (for messages).
    pub(in crate::storage) fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in this directory (for messages).
    pub(in crate::storage) fn child(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Maps a failed open of the file `name` to an error, calling a link a link.
    fn file_error(&self, action: &str, name: &str, e: &io::Error) -> Error {
        if e.raw_os_error() == Some(libc::ELOOP) || is_link(self.fd(), name.as_bytes()) {
            link_error(
                &self.child(name),
                "replace it with the regular file (or move it away)",
            )
        } else {
            io_error(action, &self.child(name), e)
        }
    }

    /// Opens the existing file `name` for reading and checks it; `Ok(None)` when there is
    /// none. Read from the returned `File`: it is the checked one, whatever the name points to
    /// by the time of the read.
    pub(in crate::storage) fn open_file(&self, name: &str, secret: bool) -> Result<Option<File>> {
        let fd = match open_at(self.fd(), name.as_bytes(), libc::O_RDONLY | FILE_FLAGS, 0) {
            Ok(fd) => fd,
            Err(e) if e.kind() == IoKind::NotFound => return Ok(None),
            Err(e) => return Err(self.file_error("read", name, &e)),
        };
        check(fd.as_raw_fd(), &self.child(name), Expect::File { secret })?;
        Ok(Some(File::from(fd)))
    }

    /// Opens the lock file `name`, creating it 0600 (read-write) when possible; with
    /// `must_write` false a read-only open is the fallback and a file that cannot be opened
    /// at all (missing on read-only media, not permitted) is `Ok(None)`.
    pub(in crate::storage) fn open_lock(
        &self,
        name: &str,
        must_write: bool,
    ) -> Result<Option<File>> {
        let opened = open_at(
            self.fd(),
            name.as_bytes(),
            libc::O_RDWR | libc::O_CREAT | FILE_FLAGS,
            0o600,
        )
        .or_else(|e| {
            if must_write {
                Err(e)
            } else {
                open_at(self.fd(), name.as_bytes(), libc::O_RDONLY | FILE_FLAGS, 0)
            }
        });
        let fd = match opened {
            Ok(fd) => fd,
            Err(e)
                if !must_write
                    && matches!(
                        e.kind(),
                        IoKind::NotFound | IoKind::ReadOnlyFilesystem | IoKind::PermissionDenied
                    ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(self.file_error("open the lock file", name, &e)),
        };
        check(
            fd.as_raw_fd(),
            &self.child(name),
            Expect::File { secret: false },
        )?;
        Ok(Some(File::from(fd)))
    }

    /// Writes `bytes` to a new 0600 temp file in this directory (`O_CREAT | O_EXCL |
    /// O_NOFOLLOW`) and fsyncs it; returns its name. On failure nothing is left behind and the
    /// error names `target`, the file the temp file stands for.
    pub(in crate::storage) fn write_temp(&self, target: &str, bytes: &[u8]) -> Result<String> {
        let temp = temp_name(target);
        let written = open_at(
            self.fd(),
            temp.as_bytes(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | FILE_FLAGS,
            0o600,
        )
        .and_then(|fd| {
            let mut file = File::from(fd);
            file.write_all(bytes)?;
            file.sync_all()
        });
        match written {
            Ok(()) => Ok(temp),
            Err(e) => {
                // Whatever was created under this random name is ours to remove.
                self.remove(&temp).ok();
                Err(io_error("write", &self.child(target), &e))
            }
        }
    }

    /// Refuses when `name` is a symbolic link (so that replacing or deleting a slot reports
    /// the link instead of silently dropping it; the link's target is never touched either
    /// way, as `renameat` and `unlinkat` act on the name itself).
    pub(in crate::storage) fn refuse_link(&self, name: &str) -> Result<()> {
        if is_link(self.fd(), name.as_bytes()) {
            return Err(link_error(
                &self.child(name),
                "replace it with the regular file (or move it away)",
            ));
        }
        Ok(())
    }

    /// `renameat` within this directory (atomic replace; a link at `to` is replaced, never
    /// followed).
    pub(in crate::storage) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (c_name(from.as_bytes())?, c_name(to.as_bytes())?);
        // SAFETY: both names are NUL-terminated and outlive the call; the descriptor is open.
        cvt(unsafe { libc::renameat(self.fd(), from.as_ptr(), self.fd(), to.as_ptr()) }).map(drop)
    }

    /// `linkat` within this directory, without following `from`; `AlreadyExists` when `to`
    /// exists (whatever it is).
    pub(in crate::storage) fn link(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (c_name(from.as_bytes())?, c_name(to.as_bytes())?);
        // SAFETY: as in `rename`; flags 0 = do not follow a link at `from`.
        cvt(unsafe { libc::linkat(self.fd(), from.as_ptr(), self.fd(), to.as_ptr(), 0) }).map(drop)
    }

    /// `unlinkat` of a file in this directory (a link is removed, not its target).
    pub(in crate::storage) fn remove(&self, name: &str) -> io::Result<()> {
        let name = c_name(name.as_bytes())?;
        // SAFETY: `name` is NUL-terminated and outlives the call; the descriptor is open.
        cvt(unsafe { libc::unlinkat(self.fd(), name.as_ptr(), 0) }).map(drop)
    }

    /// The names in this directory (without `.` and `..`), read through its descriptor.
    pub(in crate::storage) fn names(&self) -> io::Result<Vec<OsString>> {
        // SAFETY: dup of an open descriptor; the copy is owned by the DIR stream below.
        let copy = cvt(unsafe { libc::fcntl(self.fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
        // SAFETY: `copy` is a directory descriptor we own; on success the stream owns it.
        let stream = unsafe { libc::fdopendir(copy) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `copy` is still ours to close.
            unsafe { libc::close(copy) };
            return Err(e);
        }
        // The copy shares its offset with our descriptor: start from the beginning.
        // SAFETY: `stream` is a valid DIR stream until closedir below.
        unsafe { libc::rewinddir(stream) };
        let mut names = Vec::new();
        loop {
            // SAFETY: `stream` is valid; the entry stays valid until the next readdir.
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                break;
            }
            // SAFETY: `d_name` of a returned entry is a NUL-terminated string.
            let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
            let bytes = name.to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(OsString::from_vec(bytes.to_vec()));
            }
        }
        // SAFETY: closes the stream and the descriptor it owns; not used afterwards.
        unsafe { libc::closedir(stream) };
        Ok(names)
    }

    /// fsyncs the directory (after a rename, link or unlink in it).
    pub(in crate::storage) fn sync(&self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| io_error("sync the directory", &self.path, &e))
    }
}
