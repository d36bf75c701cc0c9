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

pub fn main(spec: &Spec, sync_r: OwnedFd, report_w: OwnedFd, old_mask: SigSet, seccomp: &Seccomp) -> ! {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // The parent writes one byte once the id maps are in place; EOF means it died first.
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(sync_r.as_raw_fd(), &mut byte), Ok(1)) {
        // SAFETY: _exit ends the child at once; nothing has been set up yet.
        unsafe { libc::_exit(exit::FAILURE) }
    }
    drop(sync_r);

    let caller_umask = umask(Mode::empty());
    if let Err(e) = setup(spec) {
        report::fail(&report_w, exit::FAILURE, &format!("{e:#}"));
    }
    let ruleset = match confine::landlock::prepare(&spec.landlock) {
        Ok(r) => r,
        Err(e) => report::fail(&report_w, exit::FAILURE, &format!("{e:#}")),
    };
    if !spec.namespaces.pid || spec.as_pid_1 {
        exec::Command::new(spec, &report_w, old_mask, caller_umask, ruleset, &seccomp.command).exec();
    }
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
    // SAFETY: fork of a single-threaded process.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            exec::Command::new(spec, &report_w, old_mask, caller_umask, for_command, &seccomp.command).exec()
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(report_w);
            init::run(child, spec.new_session, seccomp.init.as_ref())
        }
        Err(e) => report::fail(&report_w, exit::FAILURE, &format!("fork: {}", errno_text(e))),
    }
}

/// Seccomp programs, compiled by the parent before the sandbox exists.
pub struct Seccomp {
    /// Everything the plan asks for, loaded by the command last.
    pub command: Vec<seccompiler::BpfProgram>,
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
