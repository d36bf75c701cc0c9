//! The filesystem, mount and namespace syscalls the sandbox's root is built with, behind a
//! trait: the scratch root and the pivots around it, the filesystem steps, the hostname and
//! the loopback interface.
//!
//! `linux::Linux` issues the real calls (new mount API, `openat2`); `fake::Recorder` records
//! them so the exact sequence and its error paths are unit-tested without privileges.

#[cfg(test)]
pub mod fake;
pub mod linux;

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::RawFd;
use std::path::Path;

use nix::errno::Errno;

/// A failed syscall: which call, and the errno it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysError {
    pub call: &'static str,
    pub errno: Errno,
}

impl SysError {
    pub fn new(call: &'static str, errno: Errno) -> Self {
        SysError { call, errno }
    }
}

/// `ENOENT (No such file or directory)`: the errno name, then its meaning.
pub use crate::error::errno_text;

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.call, errno_text(self.errno))
    }
}

pub type SysResult<T> = Result<T, SysError>;

/// What a path names, as far as mount points care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    /// Anything that is not a directory: a bind of it needs a file as mount point.
    NonDir,
}

/// Mount attributes, as `MOUNT_ATTR_*` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attrs {
    pub rdonly: bool,
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
}

impl Attrs {
    pub fn bits(self) -> u64 {
        let mut b = 0;
        if self.rdonly {
            b |= libc::MOUNT_ATTR_RDONLY;
        }
        if self.nosuid {
            b |= libc::MOUNT_ATTR_NOSUID;
        }
        if self.nodev {
            b |= libc::MOUNT_ATTR_NODEV;
        }
        if self.noexec {
            b |= libc::MOUNT_ATTR_NOEXEC;
        }
        b
    }
}

impl fmt::Display for Attrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            [(self.rdonly, "ro"), (self.nosuid, "nosuid"), (self.nodev, "nodev"), (self.noexec, "noexec")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| *n)
                .collect();
        f.write_str(&names.join(","))
    }
}

/// Syscalls used while the new root is assembled. `Fd` is an open descriptor in the real
/// implementation and a numbered handle in the fake.
pub trait Sys {
    type Fd;

    /// Resolves `path` beneath `root` as if `root` were `/`: symlinks and `..` cannot leave it
    /// (`openat2(RESOLVE_IN_ROOT)`, `O_PATH`).
    fn resolve(&mut self, root: &Self::Fd, path: &Path) -> SysResult<Self::Fd>;
    fn kind(&mut self, fd: &Self::Fd) -> SysResult<Kind>;
    fn mkdir_at(&mut self, dir: &Self::Fd, name: &OsStr, mode: u32) -> SysResult<()>;
    /// Creates a regular file (failing if `name` exists) and writes `data` into it; the
    /// descriptor it returns names that very file (no second lookup by name).
    fn create_file_at(&mut self, dir: &Self::Fd, name: &OsStr, mode: u32, data: &[u8]) -> SysResult<Self::Fd>;
    fn symlink_at(&mut self, target: &Path, dir: &Self::Fd, name: &OsStr) -> SysResult<()>;
    fn read_link_at(&mut self, dir: &Self::Fd, name: &OsStr) -> SysResult<std::path::PathBuf>;
    fn chmod(&mut self, fd: &Self::Fd, mode: u32) -> SysResult<()>;
    /// A detached copy of the mount tree at `src` (`open_tree(OPEN_TREE_CLONE)`).
    fn clone_tree(&mut self, src: &Self::Fd, recursive: bool) -> SysResult<Self::Fd>;
    /// A new, detached filesystem instance (`fsopen` → `fsconfig` → `fsmount`).
    fn new_fs(&mut self, fstype: &str, options: &[(&str, String)], attrs: Attrs) -> SysResult<Self::Fd>;
    /// Adds attributes to a mount (`mount_setattr`), to every mount beneath it if `recursive`.
    fn set_attrs(&mut self, mnt: &Self::Fd, attrs: Attrs, recursive: bool) -> SysResult<()>;
    /// Attaches a detached mount on top of `dest` (`move_mount`).
    fn attach(&mut self, mnt: &Self::Fd, dest: &Self::Fd) -> SysResult<()>;
    /// Whether `fd` is the root of a mount.
    fn is_mount_root(&mut self, fd: &Self::Fd) -> SysResult<bool>;
    /// Reads a descriptor handed to jail (`--file FD`) to its end.
    fn read_all(&mut self, fd: RawFd) -> SysResult<Vec<u8>>;
    /// Opens the directory `path` beneath `root` for reading (overlay layers are given to the
    /// kernel as open directories, never as path strings).
    fn open_dir(&mut self, root: &Self::Fd, path: &Path) -> SysResult<Self::Fd>;
    /// A detached overlayfs over `lower` (bottom first), writing to `upper` (upper, work).
    fn new_overlay(&mut self, lower: &[Self::Fd], upper: Option<(&Self::Fd, &Self::Fd)>) -> SysResult<Self::Fd>;
    /// What a descriptor handed to jail (`--bind-fd FD`) has open, resolved beneath `host`:
    /// its mount belongs to the caller's namespace, so the bind goes by its path, checked to
    /// be the same file.
    fn handed(&mut self, host: &Self::Fd, fd: RawFd) -> SysResult<Self::Fd>;

    // Around the builder: the scratch root, by path in the process's own view.

    /// Makes every mount private (`mount("/", MS_PRIVATE|MS_REC)`).
    fn make_private(&mut self) -> SysResult<()>;
    /// A fresh tmpfs (mode 0755, nosuid, nodev) on `path` (`mount("tmpfs")`).
    fn mount_tmpfs(&mut self, path: &Path) -> SysResult<()>;
    /// Makes the directory `path` a mount of its own, a bind of itself (`mount(MS_BIND)`).
    fn bind_self(&mut self, path: &Path) -> SysResult<()>;
    fn mkdir(&mut self, path: &Path, mode: u32) -> SysResult<()>;
    fn chdir(&mut self, path: &Path) -> SysResult<()>;
    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> SysResult<()>;
    /// Detaches the mount at `path` with everything below it (`umount2(MNT_DETACH)`).
    fn detach(&mut self, path: &Path) -> SysResult<()>;
    /// Opens `path` (from the working directory) as the top of a tree the builder resolves in.
    fn open_root(&mut self, path: &Path) -> SysResult<Self::Fd>;
    fn set_hostname(&mut self, name: &str) -> SysResult<()>;
    /// Sets IFF_UP on `lo`; the kernel then gives it 127.0.0.1 and ::1.
    fn loopback_up(&mut self) -> SysResult<()>;
}
