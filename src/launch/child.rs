//! The sandbox's first process: builds the root, then becomes init (or the command).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::SigSet;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, pivot_root};

use super::{diagnose, exec, init, report};
use crate::confine;
use crate::exit;
use crate::rootfs::Builder;
use crate::spec::Spec;
use crate::sys::errno_text;
use crate::sys::linux::Linux;

/// The signal the first process gets when jail dies. In a pid namespace of its own it is pid 1
/// and SIGKILL ends the namespace; with `--share-pid` it is a subreaper that must first end
/// every process of the sandbox, so the signal is one it catches.
pub fn death_signal(share_pid: bool) -> libc::c_int {
    if share_pid {
        libc::SIGALRM
    } else {
        libc::SIGKILL
    }
}

pub fn main(
    spec: &Spec,
    sync_r: OwnedFd,
    report_w: OwnedFd,
    stops_w: OwnedFd,
    old_mask: SigSet,
    seccomp: &Seccomp,
) -> ! {
    let share_pid = !spec.namespaces.pid;
    if share_pid {
        // Held until init reads it from its signalfd: jail's death during setup is not lost.
        let mut alarm = SigSet::empty();
        alarm.add(nix::sys::signal::Signal::SIGALRM);
        let _ = nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&alarm), None);
    }
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, death_signal(share_pid)) };
    // The parent writes one byte once the id maps are in place; EOF means it died first.
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(sync_r.as_raw_fd(), &mut byte), Ok(1)) || parent_gone(&sync_r) {
        // SAFETY: _exit ends the child at once; nothing has been set up yet.
        unsafe { libc::_exit(exit::FAILURE) }
    }
    drop(sync_r);

    if spec.as_pid_1 {
        // The command is pid 1 of a pid namespace of its own, nested in the one whose init
        // (this process) dies with jail: whatever the command does to its own death signal,
        // the kernel ends it with this namespace.
        match crate::sys::linux::fork_with(libc::CLONE_NEWPID) {
            Ok(None) => {
                let (caller_umask, ruleset) = build(spec, &report_w);
                exec::Command::new(spec, &report_w, old_mask, caller_umask, ruleset, seccomp).exec()
            }
            Ok(Some(cmd)) => {
                drop(report_w);
                if let Err(e) = exec::set_no_new_privs() {
                    init::die(cmd, &e);
                }
                init::run(cmd, stops_w, spec.new_session, false, seccomp.init.as_ref())
            }
            Err(e) => report::fail(&report_w, exit::FAILURE, &format!("clone(CLONE_NEWPID): {}", errno_text(e))),
        }
    }
    let (caller_umask, ruleset) = build(spec, &report_w);
    // Init takes its Landlock domain before the fork, so the command's own domain nests inside
    // it: init may still signal the command, the command cannot signal init.
    let for_command = match ruleset.as_ref().map(|r| r.try_clone()).transpose() {
        Ok(r) => r,
        Err(e) => report::fail(&report_w, exit::FAILURE, &format!("landlock: dup ruleset: {e}")),
    };
    if let Err(e) = exec::set_no_new_privs() {
        report::fail(&report_w, exit::FAILURE, &e);
    }
    if let Some(rs) = ruleset {
        if let Err(e) = confine::landlock::restrict(rs, &spec.landlock) {
            report::fail(&report_w, exit::FAILURE, &format!("{e:#}"));
        }
    }
    // Without a pid namespace, orphans of the sandbox re-parent to init, which ends them.
    // SAFETY: prctl with integer arguments only.
    if share_pid && unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        let e = nix::errno::Errno::last();
        report::fail(&report_w, exit::FAILURE, &format!("prctl(PR_SET_CHILD_SUBREAPER): {}", errno_text(e)));
    }
    // SAFETY: fork of a single-threaded process.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            exec::Command::new(spec, &report_w, old_mask, caller_umask, for_command, seccomp).exec()
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(report_w);
            init::run(child, stops_w, spec.new_session, share_pid, seccomp.init.as_ref())
        }
        Err(e) => report::fail(&report_w, exit::FAILURE, &format!("fork: {}", errno_text(e))),
    }
}

/// True when the parent has died: it keeps its end of the sync pipe open for as long as it
/// lives. Checked after the death signal is armed, this closes the window in which jail could
/// die unnoticed.
fn parent_gone(sync_r: &OwnedFd) -> bool {
    let mut pfd = libc::pollfd { fd: sync_r.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n < 0 || pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

/// Builds the root and prepares Landlock; reports and exits on failure. Returns the caller's
/// umask (cleared meanwhile) and the ruleset.
fn build(spec: &Spec, report_w: &OwnedFd) -> (Mode, Option<landlock::RulesetCreated>) {
    let caller_umask = umask(Mode::empty());
    if let Err(e) = setup(spec) {
        report::fail(report_w, exit::FAILURE, &format!("{e:#}"));
    }
    match confine::landlock::prepare(&spec.landlock) {
        Ok(r) => (caller_umask, r),
        Err(e) => report::fail(report_w, exit::FAILURE, &format!("{e:#}")),
    }
}

/// Seccomp programs, compiled by the parent before the sandbox exists.
pub struct Seccomp {
    /// Everything the plan asks for, loaded by the command last.
    pub command: crate::confine::seccomp::Programs,
    /// (jail's end, the sandbox's end) of the supervisor socket, when a program notifies.
    pub notify: Option<(OwnedFd, OwnedFd)>,
    /// The built-in policy, for jail's init.
    pub init: Option<seccompiler::BpfProgram>,
}

fn setup(spec: &Spec) -> Result<()> {
    // Every mount private: nothing the sandbox mounts reaches the host, and nothing the host
    // mounts later appears inside (a slave would receive it, writable, under a read-only bind).
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_PRIVATE | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| anyhow!("mount(\"/\", MS_PRIVATE|MS_REC): {}{}", errno_text(e), diagnose::userns_hint(e)))?;

    // A scratch root: the host goes to /oldroot (sources), the new root is /newroot.
    let tmpfs = |dest: &str| {
        mount(Some("tmpfs"), dest, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0755"))
            .map_err(|e| anyhow!("mount(tmpfs, {dest:?}): {}", errno_text(e)))
    };
    tmpfs("/tmp")?;
    for d in ["/tmp/newroot", "/tmp/oldroot"] {
        nix::unistd::mkdir(d, Mode::from_bits_truncate(0o755))
            .map_err(|e| anyhow!("mkdir({d:?}): {}", errno_text(e)))?;
    }
    tmpfs("/tmp/newroot")?;
    chdir("/tmp").map_err(|e| anyhow!("chdir(\"/tmp\"): {}", errno_text(e)))?;
    pivot_root(".", "oldroot").map_err(|e| anyhow!("pivot_root(\"/tmp\", \"oldroot\"): {}", errno_text(e)))?;
    chdir("/").map_err(|e| anyhow!("chdir(\"/\"): {}", errno_text(e)))?;

    let open = |p: &str| -> Result<OwnedFd> {
        crate::sys::linux::resolve_in_root(libc::AT_FDCWD, Path::new(p))
            .map_err(|e| anyhow!("open({p:?}): {}", errno_text(e.errno)))
    };
    let base = open("/")?;
    let host = open("/oldroot")?;
    let mut sys = Linux;
    Builder::new(&mut sys, base, host)?.share_pid(!spec.namespaces.pid).run(&spec.fs)?;

    // Enter the new root and drop every path back to the host.
    chdir("/newroot").map_err(|e| anyhow!("chdir(\"/newroot\"): {}", errno_text(e)))?;
    pivot_root(".", ".").map_err(|e| anyhow!("pivot_root(new root): {}", errno_text(e)))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| anyhow!("umount2(old root, MNT_DETACH): {}", errno_text(e)))?;
    chdir("/").map_err(|e| anyhow!("chdir(\"/\"): {}", errno_text(e)))?;

    if let Some(name) = &spec.hostname {
        nix::unistd::sethostname(name).map_err(|e| anyhow!("--hostname {name}: sethostname: {}", errno_text(e)))?;
    }
    if spec.namespaces.net {
        loopback_up().context("bringing up lo")?;
    }
    Ok(())
}

/// Sets IFF_UP on `lo`; the kernel then gives it 127.0.0.1 and ::1.
fn loopback_up() -> Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| anyhow!("socket(AF_INET): {}", errno_text(e)))?;
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills `req`, which lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(anyhow!("ioctl(lo, SIOCGIFFLAGS): {}", errno_text(nix::errno::Errno::last())));
    }
    // SAFETY: the union member for flags was just filled by the kernel.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; SIOCSIFFLAGS only reads `req`.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(anyhow!("ioctl(lo, SIOCSIFFLAGS): {}", errno_text(nix::errno::Errno::last())));
    }
    Ok(())
}
