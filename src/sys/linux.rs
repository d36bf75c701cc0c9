//! The real syscalls. Everything here is a thin wrapper: no policy.

use std::ffi::{CString, OsStr};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::{Attrs, Kind, Sys, SysError, SysResult};

pub struct Linux;

pub fn cstr(call: &'static str, s: &OsStr) -> SysResult<CString> {
    CString::new(s.as_bytes()).map_err(|_| SysError::new(call, Errno::EINVAL))
}

/// Turns a raw syscall return into an owned descriptor.
pub fn fd_result(call: &'static str, ret: libc::c_long) -> SysResult<OwnedFd> {
    if ret < 0 {
        return Err(SysError::new(call, Errno::last()));
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

fn unit_result(call: &'static str, ret: libc::c_long) -> SysResult<()> {
    if ret < 0 {
        Err(SysError::new(call, Errno::last()))
    } else {
        Ok(())
    }
}

/// fork(2) with namespace flags: a raw clone without CLONE_VM or a new stack, so the child
/// continues on a copy of the caller's. `Ok(None)` in the child. The caller must be
/// single-threaded (the child inherits no other thread, and no lock one of them held).
pub fn fork_with(flags: libc::c_int) -> Result<Option<nix::unistd::Pid>, Errno> {
    // SAFETY: fork-like clone; the caller guarantees it is single-threaded.
    let ret = unsafe {
        libc::syscall(libc::SYS_clone, (flags | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize)
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(None),
        pid => Ok(Some(nix::unistd::Pid::from_raw(pid as i32))),
    }
}

/// posix_spawn's way to start a process: `run` goes on in a child that shares this process's
/// memory (CLONE_VM|CLONE_VFORK), on a stack of its own with a guard page below it, and this
/// process sleeps until the child has exec'd or exited; then the child's pid. Nothing is
/// copied, so the child takes no copy-on-write faults and its exec tears no copy down.
///
/// `run` must end in exec or `_exit` (a return exits with 127); it must not unwind. It may
/// allocate: one process runs at a time, so the heap stays whole. What it takes out of the
/// caller's data is gone for the caller too; descriptors it closes stay open in the caller's
/// table, which is its own. The caller must be single-threaded.
pub fn spawn_sharing_memory<F: FnOnce()>(run: F) -> Result<nix::unistd::Pid, Errno> {
    extern "C" fn child<F: FnOnce()>(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the Option<F> in the frame of spawn_sharing_memory, which sleeps
        // until this process execs or exits; taking F leaves None there for the caller.
        if let Some(run) = unsafe { &mut *(arg as *mut Option<F>) }.take() {
            run();
        }
        // SAFETY: _exit, as the memory is the caller's: no atexit handler, no flush.
        unsafe { libc::_exit(127) }
    }
    const STACK: usize = 1 << 20;
    let page = 4096;
    // SAFETY: a fresh private mapping, no address hint.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    // SAFETY: the lowest page of the mapping just made: an overflow faults instead of writing
    // below it. The top is 16-byte aligned, as the ABI wants.
    let ret = unsafe {
        if libc::mprotect(base, page, libc::PROT_NONE) == 0 {
            let mut run = Some(run);
            libc::clone(
                child::<F>,
                (base as *mut u8).add(STACK) as *mut libc::c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                &mut run as *mut Option<F> as *mut libc::c_void,
            )
        } else {
            -1
        }
    };
    let errno = Errno::last();
    // SAFETY: the mapping made above; the child no longer runs on it (it exec'd or exited).
    unsafe { libc::munmap(base, STACK) };
    match ret {
        -1 => Err(errno),
        pid => Ok(nix::unistd::Pid::from_raw(pid)),
    }
}

/// A pidfd for this process (to hand to a process that acts on it: its namespaces, its
/// descriptors).
pub fn pidfd_of_self() -> SysResult<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; getpid names this process in its own pid
    // namespace, which is where pidfd_open looks it up.
    fd_result("pidfd_open(self)", unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) })
}

/// Waits up to `ms` (-1: for ever) for `fd` to be readable: its `revents`, 0 on timeout.
pub fn poll_in(fd: RawFd, ms: i32) -> Result<libc::c_short, Errno> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    match unsafe { libc::poll(&mut pfd, 1, ms) } {
        n if n < 0 => Err(Errno::last()),
        _ => Ok(pfd.revents),
    }
}

/// `openat2(dirfd, path, O_PATH|O_CLOEXEC, RESOLVE_IN_ROOT)`.
pub fn resolve_in_root(root: RawFd, path: &Path) -> SysResult<OwnedFd> {
    open_in_root(root, path, libc::O_PATH)
}

/// `openat2(dirfd, path, flags|O_CLOEXEC, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`.
fn open_in_root(root: RawFd, path: &Path, flags: libc::c_int) -> SysResult<OwnedFd> {
    openat2(root, path, flags, libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS)
}

/// `openat2(dirfd, path, flags|O_CLOEXEC, resolve)`.
pub fn openat2(dir: RawFd, path: &Path, flags: libc::c_int, resolve: u64) -> SysResult<OwnedFd> {
    let p = cstr("openat2", path.as_os_str())?;
    // SAFETY: open_how is plain data; all-zero is valid and the fields are set below.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = resolve;
    // SAFETY: `p` and `how` outlive the call; the size passed is the struct's.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            p.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    fd_result("openat2", ret)
}

fn fsconfig(fs: RawFd, cmd: libc::c_uint, key: Option<&str>, value: Option<&str>) -> SysResult<()> {
    let key = key.map(|k| cstr("fsconfig", OsStr::new(k))).transpose()?;
    let value = value.map(|v| cstr("fsconfig", OsStr::new(v))).transpose()?;
    // SAFETY: the strings outlive the call; null pointers are what the command expects when absent.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs,
            cmd,
            key.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
            value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            0,
        )
    };
    unit_result("fsconfig", ret)
}

fn overlay_context() -> SysResult<OwnedFd> {
    // SAFETY: plain syscall with a valid C string.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), libc::FSOPEN_CLOEXEC) };
    fd_result("fsopen", ret)
}

/// An overlay context with its layers given as open directories (Linux 6.13).
fn overlay_by_descriptors(lower: &[OwnedFd], upper: Option<(&OwnedFd, &OwnedFd)>) -> SysResult<OwnedFd> {
    let fs = overlay_context()?;
    let set_fd = |key: &std::ffi::CStr, fd: &OwnedFd| -> SysResult<()> {
        // SAFETY: the key outlives the call; FSCONFIG_SET_FD takes the descriptor as aux.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                libc::FSCONFIG_SET_FD,
                key.as_ptr(),
                std::ptr::null::<libc::c_char>(),
                fd.as_raw_fd(),
            )
        };
        unit_result("fsconfig", ret)
    };
    // lowerdir+ appends below the layers so far: the top layer (the last given) first.
    for l in lower.iter().rev() {
        set_fd(c"lowerdir+", l)?;
    }
    if let Some((up, work)) = upper {
        set_fd(c"upperdir", up)?;
        set_fd(c"workdir", work)?;
    }
    Ok(fs)
}

/// The same with layers as path strings naming the descriptors (`/proc/self/fd/N` of the
/// host's /proc, at /oldroot while the root is built), for older kernels.
fn overlay_by_paths(lower: &[OwnedFd], upper: Option<(&OwnedFd, &OwnedFd)>) -> SysResult<OwnedFd> {
    let fs = overlay_context()?;
    let raw: Vec<RawFd> = lower.iter().map(AsRawFd::as_raw_fd).collect();
    for (key, value) in overlay_paths(&raw, upper.map(|(u, w)| (u.as_raw_fd(), w.as_raw_fd()))) {
        fsconfig(fs.as_raw_fd(), libc::FSCONFIG_SET_STRING, Some(key), Some(&value))?;
    }
    Ok(fs)
}

/// `lowerdir` (top layer first), `upperdir`, `workdir` as magic-link paths of descriptors.
fn overlay_paths(lower: &[RawFd], upper: Option<(RawFd, RawFd)>) -> Vec<(&'static str, String)> {
    let link = |fd: RawFd| format!("/oldroot/proc/self/fd/{fd}");
    let layers: Vec<String> = lower.iter().rev().map(|fd| link(*fd)).collect();
    let mut v = vec![("lowerdir", layers.join(":"))];
    if let Some((up, work)) = upper {
        v.push(("upperdir", link(up)));
        v.push(("workdir", link(work)));
    }
    v
}

impl Sys for Linux {
    type Fd = OwnedFd;

    fn resolve(&mut self, root: &OwnedFd, path: &Path) -> SysResult<OwnedFd> {
        resolve_in_root(root.as_raw_fd(), path)
    }

    fn kind(&mut self, fd: &OwnedFd) -> SysResult<Kind> {
        let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|e| SysError::new("fstat", e))?;
        Ok(if st.st_mode & libc::S_IFMT == libc::S_IFDIR { Kind::Dir } else { Kind::NonDir })
    }

    fn mkdir_at(&mut self, dir: &OwnedFd, name: &OsStr, mode: u32) -> SysResult<()> {
        let n = cstr("mkdirat", name)?;
        // SAFETY: plain syscall on a valid descriptor and C string.
        let ret = unsafe { libc::mkdirat(dir.as_raw_fd(), n.as_ptr(), mode) };
        unit_result("mkdirat", ret.into())
    }

    fn create_file_at(&mut self, dir: &OwnedFd, name: &OsStr, mode: u32, data: &[u8]) -> SysResult<OwnedFd> {
        let n = cstr("openat", name)?;
        // SAFETY: plain syscall on a valid descriptor and C string.
        let ret = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                n.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                mode,
            )
        };
        let fd = fd_result("openat", ret.into())?;
        let mut file = std::fs::File::from(fd);
        std::io::Write::write_all(&mut file, data)
            .map_err(|e| SysError::new("write", Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
        Ok(file.into())
    }

    fn symlink_at(&mut self, target: &Path, dir: &OwnedFd, name: &OsStr) -> SysResult<()> {
        let t = cstr("symlinkat", target.as_os_str())?;
        let n = cstr("symlinkat", name)?;
        // SAFETY: plain syscall on a valid descriptor and C strings.
        let ret = unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) };
        unit_result("symlinkat", ret.into())
    }

    fn read_link_at(&mut self, dir: &OwnedFd, name: &OsStr) -> SysResult<PathBuf> {
        nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name)
            .map(PathBuf::from)
            .map_err(|e| SysError::new("readlinkat", e))
    }

    fn chmod(&mut self, fd: &OwnedFd, mode: u32) -> SysResult<()> {
        let empty = c"";
        // SAFETY: plain syscall; an empty path with AT_EMPTY_PATH acts on the descriptor itself.
        let ret =
            unsafe { libc::syscall(libc::SYS_fchmodat2, fd.as_raw_fd(), empty.as_ptr(), mode, libc::AT_EMPTY_PATH) };
        if ret == 0 {
            return Ok(());
        }
        if Errno::last() != Errno::ENOSYS {
            return Err(SysError::new("fchmodat2", Errno::last()));
        }
        // Kernels before 6.6: go through the descriptor's magic link in the host's /proc.
        let link = format!("/oldroot/proc/self/fd/{}", fd.as_raw_fd());
        nix::sys::stat::fchmodat(
            None,
            link.as_str(),
            nix::sys::stat::Mode::from_bits_truncate(mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| SysError::new("chmod", e))
    }

    fn clone_tree(&mut self, src: &OwnedFd, recursive: bool) -> SysResult<OwnedFd> {
        let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
        if recursive {
            flags |= libc::AT_RECURSIVE as u32;
        }
        // SAFETY: plain syscall; empty path with AT_EMPTY_PATH names the descriptor.
        let ret = unsafe { libc::syscall(libc::SYS_open_tree, src.as_raw_fd(), c"".as_ptr(), flags) };
        fd_result("open_tree", ret)
    }

    fn new_fs(&mut self, fstype: &str, options: &[(&str, String)], attrs: Attrs) -> SysResult<OwnedFd> {
        let t = cstr("fsopen", OsStr::new(fstype))?;
        // SAFETY: plain syscall with a valid C string.
        let ret = unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), libc::FSOPEN_CLOEXEC) };
        let fs = fd_result("fsopen", ret)?;
        for (key, value) in options {
            if value.is_empty() {
                fsconfig(fs.as_raw_fd(), libc::FSCONFIG_SET_FLAG, Some(key), None)?;
            } else {
                fsconfig(fs.as_raw_fd(), libc::FSCONFIG_SET_STRING, Some(key), Some(value))?;
            }
        }
        fsconfig(fs.as_raw_fd(), libc::FSCONFIG_CMD_CREATE, None, None)?;
        // SAFETY: plain syscall on a valid fs context descriptor.
        let ret = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), libc::FSMOUNT_CLOEXEC, attrs.bits()) };
        fd_result("fsmount", ret)
    }

    fn set_attrs(&mut self, mnt: &OwnedFd, attrs: Attrs, recursive: bool) -> SysResult<()> {
        let attr = libc::mount_attr { attr_set: attrs.bits(), attr_clr: 0, propagation: 0, userns_fd: 0 };
        let mut flags = libc::AT_EMPTY_PATH;
        if recursive {
            flags |= libc::AT_RECURSIVE;
        }
        // SAFETY: `attr` outlives the call and its size is passed.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                mnt.as_raw_fd(),
                c"".as_ptr(),
                flags,
                &attr as *const libc::mount_attr,
                std::mem::size_of::<libc::mount_attr>(),
            )
        };
        unit_result("mount_setattr", ret)
    }

    fn attach(&mut self, mnt: &OwnedFd, dest: &OwnedFd) -> SysResult<()> {
        // SAFETY: plain syscall; both paths are empty and name the descriptors.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                mnt.as_raw_fd(),
                c"".as_ptr(),
                dest.as_raw_fd(),
                c"".as_ptr(),
                libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
            )
        };
        unit_result("move_mount", ret)
    }

    fn is_mount_root(&mut self, fd: &OwnedFd) -> SysResult<bool> {
        // SAFETY: zeroed statx is a valid out-buffer.
        let mut stx: libc::statx = unsafe { std::mem::zeroed() };
        // SAFETY: `stx` is a valid out-buffer; empty path with AT_EMPTY_PATH names the descriptor.
        // The raw call: musl before 1.2.5 has no statx wrapper.
        let ret =
            unsafe { libc::syscall(libc::SYS_statx, fd.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, 0, &mut stx) };
        unit_result("statx", ret)?;
        Ok(stx.stx_attributes & (libc::STATX_ATTR_MOUNT_ROOT as u64) != 0)
    }

    fn read_all(&mut self, fd: RawFd) -> SysResult<Vec<u8>> {
        // SAFETY: the descriptor was handed to jail for exactly this; ManuallyDrop keeps it
        // open, because the caller decides when handed descriptors are closed.
        let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| SysError::new("read", Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
        Ok(data)
    }

    fn open_dir(&mut self, root: &OwnedFd, path: &Path) -> SysResult<OwnedFd> {
        open_in_root(root.as_raw_fd(), path, libc::O_RDONLY | libc::O_DIRECTORY)
    }

    fn new_overlay(&mut self, lower: &[OwnedFd], upper: Option<(&OwnedFd, &OwnedFd)>) -> SysResult<OwnedFd> {
        let fs = match overlay_by_descriptors(lower, upper) {
            // Before Linux 6.13 (fds) or 6.8 (lowerdir+): the layers as paths, through the
            // descriptors' magic links in the host's /proc, so no path needs escaping.
            Err(e) if e.errno == Errno::EINVAL => overlay_by_paths(lower, upper)?,
            r => r?,
        };
        // Inside a user namespace overlayfs keeps its metadata in user.* xattrs.
        fsconfig(fs.as_raw_fd(), libc::FSCONFIG_SET_FLAG, Some("userxattr"), None)?;
        fsconfig(fs.as_raw_fd(), libc::FSCONFIG_CMD_CREATE, None, None)?;
        let attrs = Attrs { nosuid: true, nodev: true, rdonly: upper.is_none(), noexec: false };
        // SAFETY: plain syscall on a valid fs context descriptor.
        let ret = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), libc::FSMOUNT_CLOEXEC, attrs.bits()) };
        fd_result("fsmount", ret)
    }

    fn handed(&mut self, host: &OwnedFd, fd: RawFd) -> SysResult<OwnedFd> {
        let link = format!("proc/self/fd/{fd}");
        let path =
            nix::fcntl::readlinkat(Some(host.as_raw_fd()), link.as_str()).map_err(|e| SysError::new("readlink", e))?;
        let resolved = resolve_in_root(host.as_raw_fd(), Path::new(&path))?;
        let same = |a: RawFd| nix::sys::stat::fstat(a).map(|st| (st.st_dev, st.st_ino));
        let (given, found) = (same(fd), same(resolved.as_raw_fd()));
        match (given, found) {
            (Ok(g), Ok(f)) if g == f => Ok(resolved),
            (Err(e), _) | (_, Err(e)) => Err(SysError::new("fstat", e)),
            // Renamed or replaced since it was opened: not the file the caller meant.
            _ => Err(SysError::new("fstat", Errno::ESTALE)),
        }
    }

    fn make_private(&mut self) -> SysResult<()> {
        use nix::mount::{mount, MsFlags};
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_PRIVATE | MsFlags::MS_REC, None::<&str>)
            .map_err(|e| SysError::new("mount", e))
    }

    fn mount_tmpfs(&mut self, path: &Path) -> SysResult<()> {
        use nix::mount::{mount, MsFlags};
        mount(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0755"))
            .map_err(|e| SysError::new("mount", e))
    }

    fn bind_self(&mut self, path: &Path) -> SysResult<()> {
        use nix::mount::{mount, MsFlags};
        mount(Some(path), path, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| SysError::new("mount", e))
    }

    fn mkdir(&mut self, path: &Path, mode: u32) -> SysResult<()> {
        nix::unistd::mkdir(path, nix::sys::stat::Mode::from_bits_truncate(mode)).map_err(|e| SysError::new("mkdir", e))
    }

    fn chdir(&mut self, path: &Path) -> SysResult<()> {
        nix::unistd::chdir(path).map_err(|e| SysError::new("chdir", e))
    }

    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> SysResult<()> {
        nix::unistd::pivot_root(new_root, put_old).map_err(|e| SysError::new("pivot_root", e))
    }

    fn detach(&mut self, path: &Path) -> SysResult<()> {
        nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH).map_err(|e| SysError::new("umount2", e))
    }

    fn open_root(&mut self, path: &Path) -> SysResult<OwnedFd> {
        resolve_in_root(libc::AT_FDCWD, path)
    }

    fn set_hostname(&mut self, name: &str) -> SysResult<()> {
        nix::unistd::sethostname(name).map_err(|e| SysError::new("sethostname", e))
    }

    fn loopback_up(&mut self) -> SysResult<()> {
        loopback_up(&inet_socket()?)
    }
}

/// Sends one message of `bytes` (not empty: an empty one reads as the peer's end closing)
/// over a Unix socket, with the descriptor `fd` attached when given (SCM_RIGHTS).
pub fn send_fd(sock: &OwnedFd, bytes: &[u8], fd: Option<RawFd>) -> nix::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds: Vec<RawFd> = fd.into_iter().collect();
    let cmsgs: Vec<ControlMessage> = if fds.is_empty() { Vec::new() } else { vec![ControlMessage::ScmRights(&fds)] };
    sendmsg::<()>(sock.as_raw_fd(), &[std::io::IoSlice::new(bytes)], &cmsgs, MsgFlags::empty(), None).map(drop)
}

/// poll's timeout for `deadline`, in whole milliseconds rounded up (poll never wakes before
/// the time it waits for); -1, no timeout, without one.
pub fn poll_timeout(deadline: Option<std::time::Instant>) -> i32 {
    deadline.map_or(-1, |d| {
        let left = d.saturating_duration_since(std::time::Instant::now());
        left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
    })
}

/// What [`wait_readable`] saw first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The descriptor can be read (data, or its peer is gone).
    Readable,
    /// The deadline passed.
    Late,
    /// The signalfd held this signal (now taken from it).
    Interrupted(i32),
}

/// Waits until `fd` can be read, `deadline` passes, or `interrupts` has a signal. A readable
/// `fd` wins over a signal, which then stays for whoever waits next. With neither a deadline
/// nor a signalfd: `Readable` at once (the read that follows waits as long as it takes).
pub fn wait_readable(
    fd: &OwnedFd,
    deadline: Option<std::time::Instant>,
    interrupts: Option<&nix::sys::signalfd::SignalFd>,
) -> Woke {
    if deadline.is_none() && interrupts.is_none() {
        return Woke::Readable;
    }
    loop {
        let mut pfds = [
            libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: interrupts.map_or(-1, |i| i.as_raw_fd()), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: valid pollfds for the duration of the call.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, poll_timeout(deadline)) };
        if n > 0 && pfds[0].revents != 0 {
            return Woke::Readable;
        }
        if let (true, Some(Ok(Some(info)))) = (n > 0, interrupts.map(|i| i.read_signal())) {
            return Woke::Interrupted(info.ssi_signo as i32);
        }
        if n == 0 && deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Woke::Late;
        }
    }
}

/// Receives one message into `buf`: its length (0: the peer's end closed) and the descriptor it
/// carried, if any, close-on-exec.
pub fn recv_fd(sock: &OwnedFd, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut space = nix::cmsg_space!(RawFd);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut fd = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: SCM_RIGHTS just installed these descriptors in this process.
            fd = fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
        }
    }
    Ok((msg.bytes, fd))
}

/// A datagram socket in this process's network namespace, for its ioctls.
pub fn inet_socket() -> SysResult<OwnedFd> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| SysError::new("socket(AF_INET)", e))
}

/// Brings `lo` up in the network namespace of `sock`.
pub fn loopback_up(sock: &OwnedFd) -> SysResult<()> {
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills `req`, which lives across the call. (The request's type is
    // c_ulong in glibc's ioctl and c_int in musl's, hence the casts.)
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) } < 0 {
        return Err(SysError::new("ioctl(lo, SIOCGIFFLAGS)", Errno::last()));
    }
    // SAFETY: the union member for flags was just filled by the kernel.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; SIOCSIFFLAGS only reads `req`.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) } < 0 {
        return Err(SysError::new("ioctl(lo, SIOCSIFFLAGS)", Errno::last()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_kernels_get_overlay_layers_as_descriptor_paths_top_first() {
        assert_eq!(
            overlay_paths(&[5, 6], Some((7, 8))),
            [
                ("lowerdir", "/oldroot/proc/self/fd/6:/oldroot/proc/self/fd/5".to_string()),
                ("upperdir", "/oldroot/proc/self/fd/7".to_string()),
                ("workdir", "/oldroot/proc/self/fd/8".to_string()),
            ]
        );
        assert_eq!(overlay_paths(&[3], None), [("lowerdir", "/oldroot/proc/self/fd/3".to_string())]);
    }
}
