//! `--protect` of a missing path inside a writable bind: jail makes an empty directory there
//! on the host for the read-only mount to cover, and removes it (and any parent it made) when
//! the sandbox ends, restoring the times of the directory it was made in. Made beneath the
//! bind's source only, never through a symbolic link: the tree may be hostile. The removal is
//! left to a small process of its own that waits for jail to end, so it happens however jail
//! ends, SIGKILL included; on a normal end jail waits for it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use nix::errno::Errno;

use crate::spec::Placeholder;
use crate::sys::errno_text;

/// What was made, removed on drop.
#[derive(Default)]
pub struct Placeholders {
    /// Directories made, parents first.
    made: Vec<PathBuf>,
    /// The directories they were made in, with their access and modification times.
    times: Vec<(PathBuf, libc::timespec, libc::timespec)>,
}

/// `name` beneath `dir`, never through a symbolic link.
fn open_beneath(dir: &OwnedFd, name: &std::ffi::OsStr) -> Result<OwnedFd, Errno> {
    let (flags, resolve) = (libc::O_PATH | libc::O_DIRECTORY, libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS);
    crate::sys::linux::openat2(dir.as_raw_fd(), Path::new(name), flags, resolve).map_err(|e| e.errno)
}

fn times_of(path: &Path) -> Option<(libc::timespec, libc::timespec)> {
    let st = nix::sys::stat::lstat(path).ok()?;
    let ts = |sec, nsec| libc::timespec { tv_sec: sec, tv_nsec: nsec };
    Some((ts(st.st_atime, st.st_atime_nsec), ts(st.st_mtime, st.st_mtime_nsec)))
}

/// Makes every placeholder the plan lists.
pub fn make(list: &[Placeholder]) -> Result<Placeholders> {
    let mut out = Placeholders::default();
    for ph in list {
        let flag = format!("--protect {}", ph.inside.display());
        let base = nix::fcntl::open(
            &ph.base,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| anyhow!("{flag}: open({:?}): {}", ph.base, errno_text(e)))?;
        // SAFETY: open just returned this descriptor.
        let mut dir = unsafe { OwnedFd::from_raw_fd(base) };
        let mut at = ph.base.clone();
        for c in ph.rel.components() {
            let Component::Normal(name) = c else { bail!("{flag}: not a plain path") };
            let next = at.join(name);
            dir = match open_beneath(&dir, name) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    if let Some((a, m)) = times_of(&at) {
                        out.times.push((at.clone(), a, m));
                    }
                    nix::sys::stat::mkdirat(
                        Some(dir.as_raw_fd()),
                        name,
                        nix::sys::stat::Mode::from_bits_truncate(0o755),
                    )
                    .map_err(|e| anyhow!("{flag}: mkdirat({next:?}): {}", errno_text(e)))?;
                    out.made.push(next.clone());
                    open_beneath(&dir, name).map_err(|e| anyhow!("{flag}: open({next:?}): {}", errno_text(e)))?
                }
                Err(Errno::ELOOP) => {
                    bail!(
                        "{flag}: {} on the host is a symbolic link; jail makes no placeholder through one",
                        next.display()
                    )
                }
                Err(e) => bail!("{flag}: open({next:?}): {}", errno_text(e)),
            };
            at = next;
        }
    }
    Ok(out)
}

/// The process that removes the placeholders; dropping this ends jail's wait for it.
pub struct Janitor {
    /// Closed when jail ends, whichever way: the janitor's signal to clean up.
    alive: Option<OwnedFd>,
    pid: nix::unistd::Pid,
}

impl Drop for Janitor {
    fn drop(&mut self) {
        drop(self.alive.take());
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// Hands what was made to a janitor process; None when nothing was made.
pub fn guard(made: Placeholders) -> Result<Option<Janitor>> {
    if made.made.is_empty() {
        return Ok(None);
    }
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| anyhow!("pipe2: {}", errno_text(e)))?;
    // SAFETY: jail is single-threaded here (the sandbox does not exist yet).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(w);
            // Out of the terminal's reach (^C, ^Z and hang-ups go to jail and the sandbox),
            // holding nothing of the caller's but stderr, for the messages (unless jail was
            // started without them, and the pipe itself is descriptor 0 or 1).
            let _ = nix::unistd::setsid();
            if r.as_raw_fd() > 1 {
                // SAFETY: close_range with integer arguments only.
                unsafe { libc::syscall(libc::SYS_close_range, 0u32, 1u32, 0u32) };
            }
            let mut byte = [0u8; 1];
            while matches!(nix::unistd::read(r.as_raw_fd(), &mut byte), Err(Errno::EINTR)) {}
            drop(made);
            // SAFETY: _exit ends the janitor without running the parent's copied state.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            // The janitor owns the removal now.
            std::mem::forget(made);
            Ok(Some(Janitor { alive: Some(w), pid: child }))
        }
        Err(e) => Err(anyhow!("fork (placeholder janitor): {}", errno_text(e))),
    }
}

impl Drop for Placeholders {
    fn drop(&mut self) {
        for d in self.made.iter().rev() {
            if let Err(e) = std::fs::remove_dir(d) {
                crate::say::warn(&format!(
                    "--protect: left {} on the host: {}",
                    d.display(),
                    errno_text(crate::error::errno_of(&e))
                ));
            }
        }
        for (path, atime, mtime) in self.times.iter().rev() {
            let times = [*atime, *mtime];
            if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
                // SAFETY: a valid C string and two timespecs that outlive the call.
                unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
            }
        }
    }
}
