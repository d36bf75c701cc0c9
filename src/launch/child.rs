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

/// Which process a fork left this one as.
pub enum Side {
    Command,
    Init(nix::unistd::Pid),
}

/// The first process's steps. Each returns why it failed; the runner reports that and ends.
pub trait Stages {
    /// Never outlive jail: the death signal (caught with `--share-pid`, held until init reads it).
    fn tie_to_jail(&mut self) -> Result<(), String>;
    /// Hands the network namespace's helper (`launch/netns.rs`) this process's user
    /// namespace, so that the network namespace is made there while the sandbox sets up.
    fn ask_for_netns(&mut self) -> Result<(), String>;
    /// Writes its own id maps, or waits for jail to; a hang-up on the sync pipe (jail keeps it
    /// open) means jail died.
    fn map_ids(&mut self) -> Result<(), String>;
    /// `--disable-userns`: the files it needs, opened while the host's /proc is in view.
    fn open_userns_limit(&mut self) -> Result<(), String>;
    /// `--pidns`: enters it (and makes a pid namespace of its own inside it).
    fn enter_pidns(&mut self) -> Result<(), String>;
    /// The root, the steps that need the finished root, and Landlock's ruleset.
    fn build_root(&mut self) -> Result<(), String>;
    /// Drops from the bounding set what neither init nor the command keeps, once for both
    /// (after the root: a nested user namespace there starts with a full set).
    fn bounding_set(&mut self) -> Result<(), String>;
    /// With limits: waits to be in the payload leaf, then makes the cgroup namespace there.
    /// After the confinement steps, which so run while the manager still works on the scope
    /// (Landlock does not restrict unshare, the shared filter refuses only CLONE_NEWUSER).
    fn enter_cgroup(&mut self) -> Result<(), String>;
    fn no_new_privs(&mut self) -> Result<(), String>;
    /// init's own Landlock domain, taken before the fork so that the command's nests in it:
    /// init may still signal the command, the command cannot signal init.
    fn landlock(&mut self) -> Result<(), String>;
    /// Without a pid namespace of its own, orphans re-parent to init, which ends them.
    fn subreaper(&mut self) -> Result<(), String>;
    /// The built-in filter init and the command share, loaded once here (its listener sent to
    /// jail when refusals are reported); it refuses none of the steps either takes after the
    /// fork. The command's own programs still come last.
    fn shared_seccomp(&mut self) -> Result<(), String>;
    /// Not dumpable from before the fork on, so init is never within the command's reach
    /// (same uid) through ptrace or /proc/PID/mem. The command's process shares init's memory
    /// until its exec, which makes it dumpable as any process; one that hands jail a seccomp
    /// listener is forked instead and makes itself dumpable at once (pidfd_getfd needs that).
    /// Not when a supervisor is told init's pid (bubblewrap's --info-fd), as bubblewrap's pid 1
    /// is dumpable.
    fn non_dumpable(&mut self) -> Result<(), String>;
    /// Enters the network namespace its helper made (`launch/netns.rs`) unless a step of the
    /// root needed it already (the proxy's listener, `--userns2`, bubblewrap's
    /// `--disable-userns`, which leave its user namespace): this late, the sandbox does
    /// all its own work before it waits for the helper, whose namespace takes the kernel longer
    /// to make than the root takes to build. Nothing before needs the network; seccomp and
    /// Landlock do not refuse setns, and the capability it needs is still held.
    fn enter_netns(&mut self) -> Result<(), String>;
    /// Waits until jail has released the sandbox (its process group, the terminal, the scope
    /// asked for): the command's process is forked only after. Without limits, a sandbox that
    /// maps its own ids waits here, by when jail has long been done.
    fn await_release(&mut self) -> Result<(), String>;
    /// Forks the command's process; with `own_pidns` it is pid 1 of a namespace of its own.
    fn fork(&mut self, own_pidns: bool) -> Result<Side, String>;
    /// The command's stages (`exec::Stages`); returns only on failure.
    fn run_command(&mut self) -> Result<(), String>;
    /// init's stages and loop (`init::Stages`); never returns for the real process.
    fn run_init(&mut self, cmd: nix::unistd::Pid) -> Result<(), String>;
}

/// The order, written once. `--as-pid-1`: the command is forked first, into a pid namespace
/// of its own nested in the one whose init (this process) dies with jail, and builds the root
/// itself (its /proc must show its own namespace): whatever the command does to its own death
/// signal, the kernel ends it with init's namespace.
pub fn run_stages<S: Stages>(s: &mut S, as_pid_1: bool) -> Result<(), String> {
    s.tie_to_jail()?;
    s.ask_for_netns()?;
    s.map_ids()?;
    s.open_userns_limit()?;
    s.enter_pidns()?;
    if as_pid_1 {
        s.enter_cgroup()?;
        s.non_dumpable()?;
        s.await_release()?;
        return match s.fork(true)? {
            Side::Command => {
                s.build_root()?;
                s.run_command()
            }
            Side::Init(cmd) => {
                s.no_new_privs()?;
                s.run_init(cmd)
            }
        };
    }
    s.build_root()?;
    s.bounding_set()?;
    s.no_new_privs()?;
    s.landlock()?;
    s.subreaper()?;
    s.shared_seccomp()?;
    s.non_dumpable()?;
    s.enter_netns()?;
    s.enter_cgroup()?;
    s.await_release()?;
    match s.fork(false)? {
        Side::Command => s.run_command(),
        Side::Init(cmd) => s.run_init(cmd),
    }
}

/// What the first process holds while it works through its stages.
struct First<'a> {
    spec: &'a Spec,
    sync: Option<OwnedFd>,
    report_w: OwnedFd,
    stops_w: Option<OwnedFd>,
    old_mask: SigSet,
    seccomp: &'a Seccomp,
    proxy: Option<OwnedFd>,
    /// Where the network namespace made beside the sandbox arrives.
    netns: Option<OwnedFd>,
    /// init is the sandbox's subreaper instead of pid 1 of the command's pid namespace.
    share_pid: bool,
    limit: Option<UsernsLimit>,
    caller_umask: Mode,
    ruleset: Option<landlock::RulesetCreated>,
    for_command: Option<landlock::RulesetCreated>,
    /// Descriptors init holds for the sandbox's life (locks, `--sync-fd`).
    held: Vec<std::os::fd::RawFd>,
    /// The command's process, once forked: ended if a later step of init's fails.
    cmd: Option<nix::unistd::Pid>,
    /// jail has released the sandbox (the sync pipe's first byte was read).
    released: bool,
    /// The bounding set holds only what the command keeps (`bounding_set`).
    bounding_limited: bool,
}

pub fn main(
    spec: &Spec,
    sync_r: OwnedFd,
    report_w: OwnedFd,
    stops_w: OwnedFd,
    old_mask: SigSet,
    seccomp: &Seccomp,
    ends: Ends,
) -> ! {
    let mut first = First {
        spec,
        sync: Some(sync_r),
        report_w,
        stops_w: Some(stops_w),
        old_mask,
        seccomp,
        proxy: ends.proxy,
        netns: ends.netns,
        share_pid: !spec.namespaces.pid || spec.joins.pidns.is_some(),
        limit: None,
        caller_umask: Mode::empty(),
        ruleset: None,
        for_command: None,
        held: Vec::new(),
        cmd: None,
        released: false,
        bounding_limited: false,
    };
    let e = run_stages(&mut first, spec.as_pid_1).err().unwrap_or_else(|| "the sandbox's stages ended".into());
    if let Some(cmd) = first.cmd {
        let _ = nix::sys::signal::kill(cmd, nix::sys::signal::Signal::SIGKILL);
    }
    report::setup_failed(&first.report_w, &e)
}

impl First<'_> {
    fn command(&mut self) -> exec::Command<'_> {
        let mut c = exec::Command::new(
            self.spec,
            &self.report_w,
            self.old_mask,
            self.caller_umask,
            self.for_command.take().or(self.ruleset.take()),
            &self.seccomp.command,
            self.seccomp.notify.as_ref().map(|(_, sandbox)| sandbox),
        );
        // With limits the command waits for jail's "limits hold" before it runs.
        c.sync = self.sync.take().filter(|_| self.spec.cgroup.is_some());
        c.shared_loaded = self.shared_loaded();
        c.bounding = self.bounding();
        c
    }

    /// What the bounding set holds once `bounding_set` has run (not with `--as-pid-1`, whose
    /// command forks first).
    fn bounding(&self) -> confine::caps::Bounding<'_> {
        if self.bounding_limited {
            confine::caps::Bounding::Only(&self.spec.caps)
        } else {
            confine::caps::Bounding::Full
        }
    }

    /// The built-in filter was loaded by this process before the fork, for init and the
    /// command both (not with `--as-pid-1`, whose command forks first).
    fn shared_loaded(&self) -> bool {
        self.seccomp.shared && !self.spec.as_pid_1
    }
}

impl Stages for First<'_> {
    fn tie_to_jail(&mut self) -> Result<(), String> {
        if self.share_pid {
            let mut alarm = SigSet::empty();
            alarm.add(nix::sys::signal::Signal::SIGALRM);
            let _ = nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&alarm), None);
        }
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, super::death_signal(self.share_pid)) };
        Ok(())
    }

    fn ask_for_netns(&mut self) -> Result<(), String> {
        self.netns.as_ref().map_or(Ok(()), super::netns::ask)
    }

    fn map_ids(&mut self) -> Result<(), String> {
        let Some(sync) = &self.sync else { return Ok(()) };
        let itself = self.spec.maps_itself();
        // jail's maps come with its release; a sandbox that maps itself waits for that later.
        if (!itself && !sync::wait_for(sync, sync::MAPPED)) || parent_gone(sync) {
            // SAFETY: _exit ends the child at once; nothing has been set up yet.
            unsafe { libc::_exit(exit::FAILURE) }
        }
        if itself {
            return super::idmaps::write_direct("/proc/self", self.spec).map_err(|e| format!("{e:#}"));
        }
        self.released = true;
        Ok(())
    }

    fn open_userns_limit(&mut self) -> Result<(), String> {
        self.limit = self.spec.userns_limit.then(UsernsLimit::open).transpose()?;
        Ok(())
    }

    fn enter_pidns(&mut self) -> Result<(), String> {
        match self.spec.joins.pidns {
            Some(fd) => enter_pidns(fd, self.spec.namespaces.pid),
            None => Ok(()),
        }
    }

    fn build_root(&mut self) -> Result<(), String> {
        let spec = self.spec;
        self.caller_umask = umask(Mode::empty());
        // The proxy's listener lives in the sandbox's network; --userns2 and bubblewrap's
        // --disable-userns leave the user namespace that owns it (for another, or a nested
        // one). Otherwise the namespace is entered just before the fork.
        let early = spec.proxy.is_some() || spec.joins.userns2.is_some() || self.limit.is_some();
        let netns = if early { self.netns.take() } else { None };
        setup(spec, self.proxy.as_ref(), netns).map_err(|e| {
            match (spec.personality, e.downcast_ref::<crate::rootfs::StepError>()) {
                (crate::spec::Personality::Bwrap, Some(step)) => step.bwrap_text(),
                _ => format!("{e:#}"),
            }
        })?;
        self.held = after_root(spec, self.limit.as_ref())?;
        self.ruleset = confine::landlock::prepare(&spec.landlock).map_err(|e| format!("{e:#}"))?;
        Ok(())
    }

    fn enter_cgroup(&mut self) -> Result<(), String> {
        let Some(sync) = self.sync.as_ref().filter(|_| self.spec.cgroup.is_some()) else { return Ok(()) };
        // jail sends MOVED after MAPPED: waiting for it is waiting for the release too.
        if !sync::wait_for(sync, sync::MOVED) {
            // SAFETY: _exit ends this process at once; jail is gone.
            unsafe { libc::_exit(exit::FAILURE) }
        }
        self.released = true;
        if self.spec.namespaces.cgroup {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
                .map_err(|e| format!("unshare(CLONE_NEWCGROUP): {}", errno_text(e)))?;
        }
        Ok(())
    }

    fn enter_netns(&mut self) -> Result<(), String> {
        self.netns.take().map_or(Ok(()), |sock| super::netns::enter(&sock))
    }

    fn bounding_set(&mut self) -> Result<(), String> {
        confine::caps::limit_bounding(&self.spec.caps).map_err(|e| format!("{e:#}"))?;
        self.bounding_limited = true;
        Ok(())
    }

    fn no_new_privs(&mut self) -> Result<(), String> {
        exec::set_no_new_privs()
    }

    fn landlock(&mut self) -> Result<(), String> {
        let Some(rs) = self.ruleset.take() else { return Ok(()) };
        self.for_command = Some(rs.try_clone().map_err(|e| format!("landlock: dup ruleset: {e}"))?);
        confine::landlock::restrict(rs, &self.spec.landlock).map(|_| ()).map_err(|e| format!("{e:#}"))
    }

    fn subreaper(&mut self) -> Result<(), String> {
        // SAFETY: prctl with integer arguments only.
        if self.share_pid && unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
            return Err(format!("prctl(PR_SET_CHILD_SUBREAPER): {}", errno_text(nix::errno::Errno::last())));
        }
        Ok(())
    }

    fn shared_seccomp(&mut self) -> Result<(), String> {
        let s = self.seccomp;
        let Some(first) = s.command.list.first().filter(|_| s.shared) else { return Ok(()) };
        let loaded = match (s.command.listener, &s.notify) {
            (Some(0), Some((_, sock))) => super::supervise::send(sock, first),
            (Some(0), None) => Err(anyhow::anyhow!("seccomp: a notifying program without a supervisor")),
            _ => confine::seccomp::load(std::slice::from_ref(first)),
        };
        loaded.map_err(|e| format!("{e:#}"))
    }

    fn non_dumpable(&mut self) -> Result<(), String> {
        // SAFETY: prctl with integer arguments only.
        if !self.spec.init_dumpable() && unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) } != 0 {
            return Err(format!("prctl(PR_SET_DUMPABLE, 0): {}", errno_text(nix::errno::Errno::last())));
        }
        Ok(())
    }

    fn await_release(&mut self) -> Result<(), String> {
        if !self.released {
            if let Some(sync) = &self.sync {
                if !sync::wait_for(sync, sync::MAPPED) {
                    // SAFETY: _exit ends this process at once; jail is gone, nothing was forked.
                    unsafe { libc::_exit(exit::FAILURE) }
                }
            }
            self.released = true;
        }
        // Only limits have more steps to wait for (the command waits for the quota).
        if self.spec.cgroup.is_none() {
            self.sync = None;
        }
        Ok(())
    }

    fn fork(&mut self, own_pidns: bool) -> Result<Side, String> {
        let hands_over = self.seccomp.command_hands_over_listener(self.shared_loaded());
        if !own_pidns && !hands_over {
            // The command's process runs its stages in init's memory, init asleep until the
            // exec: nothing is copied for it, or torn down at its exec. It stays non-dumpable
            // until then (init's memory is); its exec makes it dumpable as any other. init's
            // copies of the descriptors the command took (its Landlock ruleset and, with
            // limits, the sync pipe) close with the rest of init's (init::close_fds).
            let command = self.command();
            let cmd = crate::sys::linux::spawn_sharing_memory(move || command.exec())
                .map_err(|e| format!("clone(CLONE_VM|CLONE_VFORK): {}", errno_text(e)))?;
            self.cmd = Some(cmd);
            return Ok(Side::Init(cmd));
        }
        let forked = if own_pidns {
            crate::sys::linux::fork_with(libc::CLONE_NEWPID)
                .map_err(|e| format!("clone(CLONE_NEWPID): {}", errno_text(e)))
        } else {
            // SAFETY: fork of a single-threaded process.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => Ok(None),
                Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Some(child)),
                Err(e) => Err(format!("fork: {}", errno_text(e))),
            }
        };
        Ok(match forked? {
            None => {
                // The command's process: dumpable again for jail's pidfd_getfd of its listener
                // (see non_dumpable).
                // SAFETY: prctl with integer arguments only.
                if hands_over && !self.spec.init_dumpable() && unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1) } != 0 {
                    return Err(format!("prctl(PR_SET_DUMPABLE, 1): {}", errno_text(nix::errno::Errno::last())));
                }
                Side::Command
            }
            Some(cmd) => {
                self.cmd = Some(cmd);
                Side::Init(cmd)
            }
        })
    }

    fn run_command(&mut self) -> Result<(), String> {
        self.command().exec()
    }

    fn run_init(&mut self, cmd: nix::unistd::Pid) -> Result<(), String> {
        let stops = self.stops_w.take().ok_or("init: no stop pipe")?;
        let report = self.report_w.try_clone().map_err(|e| format!("init: dup report pipe: {e}"))?;
        init::run(init::Init {
            cmd,
            stops,
            report,
            held: &self.held,
            new_session: self.spec.new_session,
            // As pid 1 of the outer namespace (--as-pid-1) init needs no subreaper's care.
            subreaper: self.share_pid && !self.spec.as_pid_1,
            // Shared: init runs under the filter loaded before the fork already.
            seccomp: self.seccomp.init.as_ref().filter(|_| !self.seccomp.shared),
            bounding: self.bounding(),
        })
    }
}

/// True when the parent has died: it keeps its end of the sync pipe open for as long as it
/// lives. Checked after the death signal is armed, this closes the window in which jail could
/// die unnoticed.
fn parent_gone(sync_r: &OwnedFd) -> bool {
    crate::sys::linux::poll_in(sync_r.as_raw_fd(), 0).map_or(true, |r| r & (libc::POLLHUP | libc::POLLERR) != 0)
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
    /// The command's first program is the built-in policy too: the first process loads it
    /// once, before the fork, for init and the command (a load costs tens of microseconds).
    pub shared: bool,
}

impl Seccomp {
    /// The command's process loads a program with a listener and hands it to jail, which
    /// fetches it with pidfd_getfd (so the process must be dumpable, and its own, until then).
    /// Not when the first process loaded that program before the fork (`shared_loaded`).
    pub fn command_hands_over_listener(&self, shared_loaded: bool) -> bool {
        self.command.listener.is_some_and(|i| i > 0 || !shared_loaded)
    }
}

/// The sandbox's ends of jail's socket pairs.
pub struct Ends {
    /// `--allow-host`: the proxy's listener goes to jail over it.
    pub proxy: Option<OwnedFd>,
    /// The network namespace made beside the sandbox comes over it (`launch/netns.rs`).
    pub netns: Option<OwnedFd>,
}

fn setup(spec: &Spec, proxy: Option<&OwnedFd>, netns: Option<OwnedFd>) -> Result<()> {
    super::root::build(&mut Linux, &super::root::Plan::of(spec))?;
    if let Some(sock) = netns {
        // Before the steps that need the sandbox's own network: the proxy's listener.
        super::netns::enter(&sock).map_err(|e| anyhow::anyhow!(e))?;
    }
    if let (Some(p), Some(sock)) = (&spec.proxy, proxy) {
        // The proxy's listening socket lives on this namespace's loopback; jail serves it.
        super::proxy::hand_listener(sock, p.port)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::recorder::Recorder;

    /// The recorder, and which side of the fork it plays.
    struct Fake {
        r: Recorder,
        init: bool,
    }

    impl Stages for Fake {
        fn tie_to_jail(&mut self) -> Result<(), String> {
            self.r.step("tie_to_jail")
        }
        fn ask_for_netns(&mut self) -> Result<(), String> {
            self.r.step("ask_for_netns")
        }
        fn map_ids(&mut self) -> Result<(), String> {
            self.r.step("map_ids")
        }
        fn await_release(&mut self) -> Result<(), String> {
            self.r.step("await_release")
        }
        fn non_dumpable(&mut self) -> Result<(), String> {
            self.r.step("non_dumpable")
        }
        fn open_userns_limit(&mut self) -> Result<(), String> {
            self.r.step("open_userns_limit")
        }
        fn enter_pidns(&mut self) -> Result<(), String> {
            self.r.step("enter_pidns")
        }
        fn build_root(&mut self) -> Result<(), String> {
            self.r.step("build_root")
        }
        fn bounding_set(&mut self) -> Result<(), String> {
            self.r.step("bounding_set")
        }
        fn enter_cgroup(&mut self) -> Result<(), String> {
            self.r.step("enter_cgroup")
        }
        fn no_new_privs(&mut self) -> Result<(), String> {
            self.r.step("no_new_privs")
        }
        fn landlock(&mut self) -> Result<(), String> {
            self.r.step("landlock")
        }
        fn subreaper(&mut self) -> Result<(), String> {
            self.r.step("subreaper")
        }
        fn shared_seccomp(&mut self) -> Result<(), String> {
            self.r.step("shared_seccomp")
        }
        fn enter_netns(&mut self) -> Result<(), String> {
            self.r.step("enter_netns")
        }
        fn fork(&mut self, own_pidns: bool) -> Result<Side, String> {
            self.r.step(if own_pidns { "fork(own pid namespace)" } else { "fork" })?;
            Ok(if self.init { Side::Init(nix::unistd::Pid::from_raw(2)) } else { Side::Command })
        }
        fn run_command(&mut self) -> Result<(), String> {
            self.r.step("run_command")
        }
        fn run_init(&mut self, _: nix::unistd::Pid) -> Result<(), String> {
            self.r.step("run_init")
        }
    }

    fn order(as_pid_1: bool, init: bool) -> Vec<&'static str> {
        let mut f = Fake { r: Recorder::default(), init };
        run_stages(&mut f, as_pid_1).unwrap();
        f.r.calls
    }

    #[test]
    fn the_root_is_built_and_confined_before_the_fork_and_both_sides_take_their_own_stages() {
        let before = ["tie_to_jail", "ask_for_netns", "map_ids", "open_userns_limit", "enter_pidns"];
        let common = [
            &before[..],
            &[
                "build_root",
                "bounding_set",
                "no_new_privs",
                "landlock",
                "subreaper",
                "shared_seccomp",
                "non_dumpable",
                "enter_netns",
                "enter_cgroup",
                "await_release",
                "fork",
            ],
        ]
        .concat();
        assert_eq!(order(false, false), [&common[..], &["run_command"]].concat());
        assert_eq!(order(false, true), [&common[..], &["run_init"]].concat());
    }

    #[test]
    fn as_pid_1_forks_first_into_the_payload_and_the_command_builds_the_root() {
        let before = [
            "tie_to_jail",
            "ask_for_netns",
            "map_ids",
            "open_userns_limit",
            "enter_pidns",
            "enter_cgroup",
            "non_dumpable",
            "await_release",
            "fork(own pid namespace)",
        ];
        assert_eq!(order(true, false), [&before[..], &["build_root", "run_command"]].concat());
        assert_eq!(order(true, true), [&before[..], &["no_new_privs", "run_init"]].concat());
    }

    #[test]
    fn a_failing_stage_ends_the_list_there() {
        let mut f = Fake { r: Recorder { fail_at: Some("build_root"), ..Default::default() }, init: false };
        assert_eq!(run_stages(&mut f, false), Err("build_root".into()));
        assert_eq!(f.r.calls.last(), Some(&"build_root"));
        assert!(!f.r.calls.contains(&"fork"));
    }
}
