//! The sandbox's first process: builds the root, then becomes init (or the command).

use anyhow::Result;
use nix::sys::signal::SigSet;
use nix::sys::stat::{umask, Mode};
use std::os::fd::{AsRawFd, OwnedFd};

use super::{exec, init, report, sync};
use crate::confine;
use crate::exit;
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
    proxy: Option<OwnedFd>,
) -> ! {
    // Unless init is pid 1 of the command's pid namespace, it is the sandbox's subreaper.
    let share_pid = !spec.namespaces.pid || spec.joins.pidns.is_some();
    if share_pid {
        // Held until init reads it from its signalfd: jail's death during setup is not lost.
        let mut alarm = SigSet::empty();
        alarm.add(nix::sys::signal::Signal::SIGALRM);
        let _ = nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&alarm), None);
    }
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, death_signal(share_pid)) };
    // The parent writes one byte once the id maps are in place; EOF means it died first.
    if !sync::wait_for(&sync_r, sync::MAPPED) || parent_gone(&sync_r) {
        // SAFETY: _exit ends the child at once; nothing has been set up yet.
        unsafe { libc::_exit(exit::FAILURE) }
    }
    // With limits, the parent has two more steps to announce.
    let limited = spec.cgroup.is_some().then_some(sync_r);
    // Opened while the host's /proc is in view; used once the root is built.
    let limit = match spec.userns_limit.then(UsernsLimit::open).transpose() {
        Ok(l) => l,
        Err(e) => report::setup_failed(&report_w, &e),
    };

    if let Some(fd) = spec.joins.pidns {
        if let Err(e) = enter_pidns(fd, spec.namespaces.pid) {
            report::setup_failed(&report_w, &e);
        }
    }

    if spec.as_pid_1 {
        // The command's process, forked next, must be born in the payload leaf.
        if let Some(sync) = &limited {
            moved(spec, sync, &report_w);
        }
        // The command is pid 1 of a pid namespace of its own, nested in the one whose init
        // (this process) dies with jail: whatever the command does to its own death signal,
        // the kernel ends it with this namespace.
        match crate::sys::linux::fork_with(libc::CLONE_NEWPID) {
            Ok(None) => {
                let (caller_umask, ruleset, _) = build(spec, &report_w, limit.as_ref(), proxy.as_ref());
                let mut command = exec::Command::new(spec, &report_w, old_mask, caller_umask, ruleset, seccomp);
                command.sync = limited;
                command.exec()
            }
            Ok(Some(cmd)) => {
                if let Err(e) = exec::set_no_new_privs() {
                    init::die(cmd, &e);
                }
                init::run(init::Init {
                    cmd,
                    stops: stops_w,
                    report: report_w,
                    held: &[],
                    new_session: spec.new_session,
                    subreaper: false,
                    dumpable: spec.init_dumpable(),
                    seccomp: seccomp.init.as_ref(),
                })
            }
            Err(e) => report::setup_failed(&report_w, &format!("clone(CLONE_NEWPID): {}", errno_text(e))),
        }
    }
    let (caller_umask, ruleset, held) = build(spec, &report_w, limit.as_ref(), proxy.as_ref());
    // init and the command, forked next, must be born in the payload leaf.
    if let Some(sync) = &limited {
        moved(spec, sync, &report_w);
    }
    // Init takes its Landlock domain before the fork, so the command's own domain nests inside
    // it: init may still signal the command, the command cannot signal init.
    let for_command = match ruleset.as_ref().map(|r| r.try_clone()).transpose() {
        Ok(r) => r,
        Err(e) => report::setup_failed(&report_w, &format!("landlock: dup ruleset: {e}")),
    };
    if let Err(e) = exec::set_no_new_privs() {
        report::setup_failed(&report_w, &e);
    }
    if let Some(rs) = ruleset {
        if let Err(e) = confine::landlock::restrict(rs, &spec.landlock) {
            report::setup_failed(&report_w, &format!("{e:#}"));
        }
    }
    // Without a pid namespace, orphans of the sandbox re-parent to init, which ends them.
    // SAFETY: prctl with integer arguments only.
    if share_pid && unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        let e = nix::errno::Errno::last();
        report::setup_failed(&report_w, &format!("prctl(PR_SET_CHILD_SUBREAPER): {}", errno_text(e)));
    }
    // SAFETY: fork of a single-threaded process.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let mut command = exec::Command::new(spec, &report_w, old_mask, caller_umask, for_command, seccomp);
            command.sync = limited;
            command.exec()
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => init::run(init::Init {
            cmd: child,
            stops: stops_w,
            report: report_w,
            held: &held,
            new_session: spec.new_session,
            subreaper: share_pid,
            dumpable: spec.init_dumpable(),
            seccomp: seccomp.init.as_ref(),
        }),
        Err(e) => report::setup_failed(&report_w, &format!("fork: {}", errno_text(e))),
    }
}

/// With limits: waits until this process is in the payload leaf, then makes the cgroup
/// namespace there (it could not be made at clone time, in the cgroup jail started in).
fn moved(spec: &Spec, sync: &OwnedFd, report_w: &OwnedFd) {
    if !sync::wait_for(sync, sync::MOVED) {
        // SAFETY: _exit ends this process at once; jail is gone.
        unsafe { libc::_exit(exit::FAILURE) }
    }
    if spec.namespaces.cgroup {
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP) {
            report::setup_failed(report_w, &format!("unshare(CLONE_NEWCGROUP): {}", errno_text(e)));
        }
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

/// Builds the root, takes the steps that need it (user namespace rules, locks, the block
/// descriptor) and prepares Landlock; reports and exits on failure. Returns the caller's umask
/// (cleared meanwhile), the ruleset, and the descriptors init must hold (locks, `--sync-fd`).
fn build(
    spec: &Spec,
    report_w: &OwnedFd,
    limit: Option<&UsernsLimit>,
    proxy: Option<&OwnedFd>,
) -> (Mode, Option<landlock::RulesetCreated>, Vec<std::os::fd::RawFd>) {
    let caller_umask = umask(Mode::empty());
    if let Err(e) = setup(spec, proxy) {
        let msg = match (spec.personality, e.downcast_ref::<crate::rootfs::StepError>()) {
            (crate::spec::Personality::Bwrap, Some(step)) => step.bwrap_text(),
            _ => format!("{e:#}"),
        };
        report::setup_failed(report_w, &msg);
    }
    let held = match after_root(spec, limit) {
        Ok(h) => h,
        Err(e) => report::setup_failed(report_w, &e),
    };
    match confine::landlock::prepare(&spec.landlock) {
        Ok(r) => (caller_umask, r, held),
        Err(e) => report::setup_failed(report_w, &format!("{e:#}")),
    }
}

/// Enters the pid namespace open at `fd` for the processes forked from here on, and with
/// `new` makes one of their own inside it.
fn enter_pidns(fd: std::os::fd::RawFd, new: bool) -> Result<(), String> {
    // SAFETY: setns on a descriptor handed in; this process is single-threaded.
    if unsafe { libc::setns(fd, libc::CLONE_NEWPID) } != 0 {
        return Err(format!("Setting pidns failed: {}", errno_text(nix::errno::Errno::last())));
    }
    if new {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(|e| format!("unshare pid ns: {}", errno_text(e)))?;
    }
    Ok(())
}

/// bubblewrap's `--disable-userns`: the files it needs, opened before the host's /proc goes.
struct UsernsLimit {
    max_user_namespaces: std::fs::File,
    proc_self: OwnedFd,
}

impl UsernsLimit {
    fn open() -> Result<Self, String> {
        let path = "/proc/sys/user/max_user_namespaces";
        let max_user_namespaces = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {path}: {}", errno_text(crate::error::errno_of(&e))))?;
        let proc_self = nix::fcntl::open(
            "/proc/self",
            nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("open(\"/proc/self\"): {}", errno_text(e)))?;
        // SAFETY: open just returned this descriptor.
        let proc_self = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(proc_self) };
        Ok(UsernsLimit { max_user_namespaces, proc_self })
    }

    /// Allows this user namespace one child, then moves into that child: the sandbox can
    /// neither create another nor raise a limit that belongs to its parent.
    fn apply(&self, uid: u32, gid: u32) -> Result<(), String> {
        use std::io::Write;
        (&self.max_user_namespaces)
            .write_all(b"1")
            .map_err(|e| format!("sysctl user.max_user_namespaces = 1: {}", errno_text(crate::error::errno_of(&e))))?;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
            .map_err(|e| format!("unshare user ns: {}", errno_text(e)))?;
        for (file, text) in [
            ("uid_map", format!("{uid} {uid} 1\n")),
            ("setgroups", "deny".into()),
            ("gid_map", format!("{gid} {gid} 1\n")),
        ] {
            let fd = nix::fcntl::openat(
                Some(self.proc_self.as_raw_fd()),
                file,
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("open /proc/self/{file}: {}", errno_text(e)))?;
            // SAFETY: openat just returned this descriptor.
            let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            f.write_all(text.as_bytes())
                .map_err(|e| format!("write /proc/self/{file}: {}", errno_text(crate::error::errno_of(&e))))?;
        }
        Ok(())
    }
}

/// The steps that need the finished root, in bubblewrap's order: the second user namespace,
/// the user-namespace limit and its check, the block descriptor, the lock files.
fn after_root(spec: &Spec, limit: Option<&UsernsLimit>) -> Result<Vec<std::os::fd::RawFd>, String> {
    if let Some(fd) = spec.joins.userns2 {
        // SAFETY: setns on a descriptor handed in; this process is single-threaded.
        if unsafe { libc::setns(fd, libc::CLONE_NEWUSER) } != 0 {
            return Err(format!("Setting userns2 failed: {}", errno_text(nix::errno::Errno::last())));
        }
    }
    if let Some(l) = limit {
        l.apply(spec.uid, spec.gid)?;
    }
    let check = spec.assert_userns_disabled || spec.userns_limit;
    if check && nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).is_ok() {
        return Err("creation of new user namespaces was not disabled as requested".into());
    }
    if let Some(fd) = spec.protocol.block_fd {
        let mut b = [0u8; 1];
        let _ = nix::unistd::read(fd, &mut b);
    }
    let mut held: Vec<std::os::fd::RawFd> = spec.protocol.sync_fd.into_iter().collect();
    for path in &spec.protocol.lock_files {
        let f = std::fs::File::open(path).map_err(|e| {
            format!("Unable to open lock file {}: {}", path.display(), errno_text(crate::error::errno_of(&e)))
        })?;
        let lock = libc::flock {
            l_type: libc::F_RDLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        // SAFETY: F_SETLK with a valid flock that outlives the call.
        if unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &lock) } != 0 {
            return Err(format!("Unable to lock file {}: {}", path.display(), errno_text(nix::errno::Errno::last())));
        }
        // Held by init for as long as it lives: closing any descriptor of it would unlock.
        held.push(std::os::fd::IntoRawFd::into_raw_fd(f));
    }
    Ok(held)
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

fn setup(spec: &Spec, proxy: Option<&OwnedFd>) -> Result<()> {
    super::root::build(&mut Linux, &super::root::Plan::of(spec))?;
    if let (Some(p), Some(sock)) = (&spec.proxy, proxy) {
        // The proxy's listening socket lives on this namespace's loopback; jail serves it.
        super::proxy::hand_listener(sock, p.port)?;
    }
    Ok(())
}
