//! jail's side, outside the sandbox: create it, map ids, wait, pass on signals and the status.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{child, diagnose, idmaps, report, supervise, terminal, FORWARDED, SI_KERNEL};
use crate::exit;
use crate::spec::Spec;
use crate::sys::errno_text;

/// Writes to a descriptor the caller handed in, without taking it over.
fn status_line(fd: std::os::fd::RawFd, text: &str) -> bool {
    // SAFETY: the caller handed this descriptor to jail for reports; it stays open.
    let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    f.write_all(text.as_bytes()).is_ok()
}

/// The namespaces of the sandbox's first process, as bubblewrap reports them: those made new
/// (the mount namespace always), by inode number.
fn namespace_ids(pid: Pid, spec: &Spec) -> Vec<(&'static str, u64)> {
    let ns = &spec.namespaces;
    let new_pid = ns.pid && spec.joins.pidns.is_none();
    [("cgroup", ns.cgroup), ("ipc", ns.ipc), ("mnt", true), ("net", ns.net), ("pid", new_pid), ("uts", ns.uts)]
        .into_iter()
        .filter(|(_, on)| *on)
        .filter_map(|(name, _)| {
            let st = nix::sys::stat::stat(format!("/proc/{pid}/ns/{name}").as_str()).ok()?;
            Some((name, st.st_ino))
        })
        .collect()
}

/// Maps the sandbox's ids, then tells a supervisor the sandbox exists (`--info-fd`,
/// `--json-status-fd`) before it is released.
fn announce(pid: Pid, spec: &Spec) -> Result<()> {
    if spec.namespaces.user && spec.protocol.userns_block_fd.is_none() && !spec.maps_itself() {
        idmaps::write(pid, spec)?;
    }
    let p = &spec.protocol;
    if p.info_fd.is_none() && p.json_status_fd.is_none() {
        return Ok(());
    }
    let ids = namespace_ids(pid, spec);
    // --info-fd gets an indented object and is closed; --json-status-fd a line, kept for the
    // exit code.
    for (fd, flag, pretty) in [(p.info_fd, "--info-fd", true), (p.json_status_fd, "--json-status-fd", false)] {
        let Some(fd) = fd else { continue };
        let (sep, open, close) = if pretty { (",\n    ", "{\n    ", "\n}\n") } else { (", ", "{ ", " }\n") };
        let mut s = format!("{open}\"child-pid\": {pid}");
        for (name, id) in &ids {
            s.push_str(&format!("{sep}\"{name}-namespace\": {id}"));
        }
        s.push_str(close);
        if !status_line(fd, &s) {
            bail!("{flag} {fd}: write failed");
        }
        if pretty {
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| anyhow!("socketpair(AF_UNIX, SOCK_SEQPACKET): {}", errno_text(e)))
}

fn status_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(exit::signaled(s as i32)),
        _ => None,
    }
}

fn reap(pid: Pid) -> i32 {
    loop {
        match waitpid(pid, None) {
            Ok(ws) => {
                if let Some(c) = status_code(ws) {
                    return c;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return exit::FAILURE,
        }
    }
}

/// jail's own steps, outside the sandbox, in [`run_stages`]'s order.
pub trait Stages {
    // Before the sandbox exists: a failure here leaves nothing behind.

    /// Blocks the forwarded signals and SIGCHLD: none is lost while the sandbox starts, and
    /// the sandbox begins with them blocked (its init reads them from a signalfd).
    fn block_signals(&mut self) -> Result<()>;
    /// Compiles the filters (and reads profiles and descriptors) while the host is in view:
    /// a bad profile fails before anything exists.
    fn compile_seccomp(&mut self) -> Result<()>;
    /// Limits: cgroup v2 and a backend at hand (a user manager connected to), before anything
    /// is asked for.
    fn prepare_cgroup(&mut self) -> Result<()>;
    /// `--die-with-parent`: jail dies with its caller, and the sandbox with jail.
    fn die_with_parent(&mut self) -> Result<()>;
    /// `--userns`: jail enters it itself, so the sandbox is cloned inside it.
    fn join_userns(&mut self) -> Result<()>;
    /// `--protect` placeholders, removed again by a janitor however jail ends.
    fn make_placeholders(&mut self) -> Result<()>;
    /// The helper that makes the sandbox's network namespace while the sandbox sets itself
    /// up, forked first: it waits for the sandbox to hand it its user namespace.
    fn start_netns(&mut self) -> Result<()>;
    fn clone_sandbox(&mut self) -> Result<()>;

    // The sandbox exists and waits: a failure from here on ends it.

    /// Limits: the scope request goes out first, so the manager works while the sandbox builds.
    fn request_cgroup(&mut self) -> Result<()>;
    /// The sandbox's own process group (and the terminal's foreground, when jail had it).
    fn take_terminal(&mut self) -> Result<()>;
    /// Writes the id maps, then tells a supervisor the sandbox exists (`--info-fd`,
    /// `--json-status-fd`).
    fn announce(&mut self) -> Result<()>;
    /// `--userns-block-fd`: the caller writes the maps itself, then lets the sandbox go on.
    fn await_caller_maps(&mut self) -> Result<()>;
    /// The sandbox may build its root.
    fn release(&mut self) -> Result<()>;
    /// Limits: the scope ready, both processes into their leaves; the sandbox may fork.
    /// `Some(status)` when the sandbox failed first.
    fn cgroup_ready(&mut self) -> Result<Option<i32>>;
    /// The seccomp listener (refusal reports, profiles that kill): `shared` from the first
    /// process, which loads the built-in filter before it forks; otherwise from the command,
    /// at its last step.
    fn take_listener(&mut self, shared: bool) -> Result<()>;
    /// Limits: the payload's quota once the command's process is ready, then "go".
    /// `Some(status)` when the sandbox failed first.
    fn cgroup_quota(&mut self) -> Result<Option<i32>>;
    /// `--allow-host`: serves the proxy on the listener the sandbox hands over.
    fn serve_proxy(&mut self) -> Result<()>;
    /// Reads the setup report: EOF means the command runs; `Some(status)` when it does not.
    fn await_start(&mut self) -> Result<Option<i32>>;
    /// Forwards signals, mirrors stops, answers seccomp, waits; reports and returns the status.
    fn supervise(&mut self) -> Result<i32>;
    /// After a failure: kills and reaps the sandbox, if not reaped already.
    fn end_sandbox(&mut self);
}

/// The order, written once.
pub fn run_stages<S: Stages>(s: &mut S) -> Result<i32> {
    s.block_signals()?;
    s.compile_seccomp()?;
    s.prepare_cgroup()?;
    s.die_with_parent()?;
    s.join_userns()?;
    s.make_placeholders()?;
    s.start_netns()?;
    s.clone_sandbox()?;
    let r = with_sandbox(s);
    if r.is_err() {
        s.end_sandbox();
    }
    r
}

fn with_sandbox<S: Stages>(s: &mut S) -> Result<i32> {
    s.request_cgroup()?;
    s.take_terminal()?;
    s.announce()?;
    s.await_caller_maps()?;
    s.release()?;
    if let Some(status) = s.cgroup_ready()? {
        return Ok(status);
    }
    s.take_listener(true)?;
    if let Some(status) = s.cgroup_quota()? {
        return Ok(status);
    }
    s.serve_proxy()?;
    s.take_listener(false)?;
    if let Some(status) = s.await_start()? {
        return Ok(status);
    }
    s.supervise()
}

/// Creates the sandbox, runs the command in it, and returns the exit status for jail.
pub fn launch(spec: &Spec) -> Result<i32> {
    run_stages(&mut Launch::new(spec))
}

/// `--timeout`'s deadline for a launch cloned at `started` (see [`Launch::deadline`]).
fn deadline(spec: &Spec, started: Instant) -> Option<Instant> {
    spec.timeout.map(|t| started + t)
}

/// What jail holds while it works through its stages.
struct Launch<'a> {
    spec: &'a Spec,
    mask: SigSet,
    old_mask: SigSet,
    seccomp: Option<child::Seccomp>,
    backend: Option<crate::cgroup::Backend>,
    _placeholders: Option<super::placeholder::Janitor>,
    /// From just before the clone: the wall time `--stats` reports.
    started: Instant,
    sync_w: Option<OwnedFd>,
    report_r: Option<OwnedFd>,
    stops_r: Option<OwnedFd>,
    /// jail's end of the proxy's socket pair.
    proxy_end: Option<OwnedFd>,
    /// The sandbox's end of the network namespace's socket pair (the helper has the other),
    /// until the clone hands it over.
    netns_end: Option<OwnedFd>,
    netns_helper: Option<super::netns::Helper>,
    pid: Option<Pid>,
    reaped: bool,
    cgroup: Option<crate::cgroup::Cgroup>,
    terminal: Option<terminal::Terminal>,
    /// Why the command will not start, learnt while jail waited for the sandbox to be ready:
    /// its report, or the wait's end (`--timeout`, a signal).
    early: Option<report::NotStarted>,
    /// The signals that stop jail (SIGINT, SIGTERM, SIGHUP, SIGQUIT), from the clone until the
    /// command runs: jail waits for the sandbox's setup no longer than until one comes.
    interrupts: Option<SignalFd>,
    proxy: Option<super::proxy::Running>,
    listener: Option<OwnedFd>,
}

impl<'a> Launch<'a> {
    fn new(spec: &'a Spec) -> Self {
        Launch {
            spec,
            mask: SigSet::empty(),
            old_mask: SigSet::empty(),
            seccomp: None,
            backend: None,
            _placeholders: None,
            started: Instant::now(),
            sync_w: None,
            report_r: None,
            stops_r: None,
            proxy_end: None,
            netns_end: None,
            netns_helper: None,
            pid: None,
            reaped: false,
            cgroup: None,
            terminal: None,
            early: None,
            interrupts: None,
            proxy: None,
            listener: None,
        }
    }

    fn pid(&self) -> Pid {
        self.pid.unwrap_or_else(|| unreachable!("the sandbox's stages come after the clone"))
    }

    fn limits_context(&self) -> String {
        self.spec.cgroup.as_ref().map_or(String::new(), |p| p.limits.flags().join(", "))
    }

    /// Reaps the sandbox's first process, once.
    fn reap(&mut self) -> i32 {
        self.reaped = true;
        reap(self.pid())
    }

    /// A cgroup step's failure ends the sandbox; when the sandbox's own setup failed first (and
    /// so made the scope fail: its pid was gone), its report is the cause.
    fn cgroup_failed(&mut self, step: Result<()>) -> Result<Option<i32>> {
        let Err(e) = step else { return Ok(None) };
        let pid = self.pid();
        let _ = kill(pid, Signal::SIGKILL);
        self.reap();
        if let Some(r) = &self.report_r {
            if let Err(Some(report::NotStarted::Reported(failure))) =
                report::await_ready(r, report::SetupWait::default())
            {
                crate::say::error(failure.message());
                return Ok(Some(self.spec.personality.failure_status(failure.status())));
            }
        }
        Err(e.context(self.limits_context()))
    }

    /// When `--timeout` ends the launch: it counts from the clone, the sandbox's setup
    /// included, so a setup that hangs (a bind source on a stuck FUSE mount, a `--file`
    /// descriptor whose writer never closes) is bounded too.
    fn deadline(&self) -> Option<Instant> {
        deadline(self.spec, self.started)
    }

    /// How long jail waits for the sandbox's setup: until the deadline, and until a signal
    /// tells jail to stop.
    fn setup_wait(&self) -> report::SetupWait<'_> {
        report::SetupWait { deadline: self.deadline(), interrupts: self.interrupts.as_ref() }
    }

    /// Whether `fd`, on which the sandbox hands jail something during its setup, has it before
    /// `--timeout` passes or a signal stops jail. If not, the launch ends there
    /// ([`Self::await_start`]) and no later stage waits for the sandbox.
    fn in_time(&mut self, fd: &OwnedFd) -> bool {
        if matches!(self.early, Some(report::NotStarted::Timeout | report::NotStarted::Interrupted(_))) {
            return false;
        }
        match self.setup_wait().until_readable(fd) {
            Ok(()) => true,
            Err(f) => {
                self.early = Some(f);
                false
            }
        }
    }

    /// Says why the command did not start, and picks jail's status for it.
    fn failed(&mut self, why: report::NotStarted) -> i32 {
        use report::NotStarted;
        let (why, status) = match why {
            NotStarted::Reported(failure) => {
                let status = self.reap();
                crate::say::error(failure.message());
                let status = if status == 0 { failure.status() } else { status };
                return self.spec.personality.failure_status(status);
            }
            NotStarted::Timeout => (
                format!("--timeout {}s: time limit reached", self.spec.timeout.map_or(0.0, |d| d.as_secs_f64())),
                exit::TIMEOUT,
            ),
            NotStarted::Interrupted(sig) => {
                (Signal::try_from(sig).map_or(format!("signal {sig}"), |s| s.as_str().to_string()), exit::signaled(sig))
            }
        };
        // jail stopped waiting while the setup still runs: end it. The command never started,
        // so no grace.
        let _ = kill(self.pid(), Signal::SIGKILL);
        self.reap();
        crate::say::error(&format!("{why}; the sandbox's setup had not finished, the command never started"));
        status
    }
}

impl Stages for Launch<'_> {
    fn block_signals(&mut self) -> Result<()> {
        for s in FORWARDED {
            self.mask.add(s);
        }
        self.mask.add(Signal::SIGCHLD);
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&self.mask), Some(&mut self.old_mask))
            .context("sigprocmask")
    }

    fn compile_seccomp(&mut self) -> Result<()> {
        let init = crate::confine::seccomp::builtin(&self.spec.seccomp)?;
        let command = crate::confine::seccomp::compile(&self.spec.seccomp, init.as_ref())?;
        let notify = command.listener.map(|_| seqpacket_pair()).transpose()?;
        // The command's first program is init's built-in policy (or its notifying twin, which
        // jail answers the same way): one load before the fork serves both. Not with
        // --as-pid-1, whose command builds the root (with calls the policy refuses) after it.
        let shared = !self.spec.as_pid_1
            && matches!(self.spec.seccomp.policy, crate::confine::seccomp::Policy::Default)
            && init.is_some()
            && !command.list.is_empty();
        self.seccomp = Some(child::Seccomp { command, init, notify, shared });
        Ok(())
    }

    fn prepare_cgroup(&mut self) -> Result<()> {
        self.backend =
            self.spec.cgroup.as_ref().map(crate::cgroup::prepare).transpose().with_context(|| self.limits_context())?;
        Ok(())
    }

    fn die_with_parent(&mut self) -> Result<()> {
        if self.spec.die_with_parent {
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        }
        Ok(())
    }

    fn join_userns(&mut self) -> Result<()> {
        let Some(fd) = self.spec.joins.userns else { return Ok(()) };
        // SAFETY: setns on a descriptor the caller handed in; jail is single-threaded.
        if unsafe { libc::setns(fd, libc::CLONE_NEWUSER) } != 0 {
            let e = Errno::last();
            if e == Errno::EINVAL {
                bail!("Joining the specified user namespace failed, it might not be a descendant of the current user namespace.");
            }
            bail!("--userns {fd}: joining the user namespace failed: setns: {}", errno_text(e));
        }
        Ok(())
    }

    fn make_placeholders(&mut self) -> Result<()> {
        self._placeholders = super::placeholder::guard(super::placeholder::make(&self.spec.placeholders)?)?;
        Ok(())
    }

    fn clone_sandbox(&mut self) -> Result<()> {
        let spec = self.spec;
        self.started = Instant::now();
        let (sync_r, sync_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;
        let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;
        // init writes the signal number here when the command stops.
        let (stops_r, stops_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;
        let proxy_pair = spec.proxy.as_ref().map(|_| seqpacket_pair()).transpose()?;
        let mut flags = spec.namespaces.clone_flags();
        if spec.joins.pidns.is_some() {
            // The sandbox enters the given pid namespace (and makes its own inside it) itself.
            flags &= !libc::CLONE_NEWPID;
        }
        if self.backend.is_some() {
            // Made by the sandbox once it is in its payload leaf, so that it is rooted there.
            flags &= !libc::CLONE_NEWCGROUP;
        }
        if self.netns_end.is_some() {
            // Made beside the sandbox while it builds its root (start_netns).
            flags &= !libc::CLONE_NEWNET;
        }
        let seccomp = self.seccomp.as_ref().ok_or_else(|| anyhow!("seccomp programs not compiled"))?;
        match crate::sys::linux::fork_with(flags) {
            Ok(Some(pid)) => self.pid = Some(pid),
            Ok(None) => {
                drop(sync_w);
                drop(report_r);
                drop(stops_r);
                let ends =
                    child::Ends { proxy: proxy_pair.map(|(_, child_end)| child_end), netns: self.netns_end.take() };
                child::main(spec, sync_r, report_w, stops_w, self.old_mask, seccomp, ends)
            }
            Err(e) => bail!("clone({}): {}{}", flag_names(spec), errno_text(e), diagnose::userns_hint(e)),
        }
        // Made after the clone, so the sandbox holds no copy. These signals are blocked, so
        // one sent before stays pending and shows here too.
        let mut stop = SigSet::empty();
        for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT] {
            stop.add(sig);
        }
        self.interrupts =
            Some(SignalFd::with_flags(&stop, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).context("signalfd")?);
        self.sync_w = Some(sync_w);
        self.report_r = Some(report_r);
        self.stops_r = Some(stops_r);
        self.proxy_end = proxy_pair.map(|(jail_end, _)| jail_end);
        // The sandbox's end: jail keeps no copy, so the helper hears of a sandbox that died.
        self.netns_end = None;
        // The sandbox was cloned with the dispositions jail received. jail itself takes EPIPE on
        // its own writes (messages, --stats-json) instead of dying of SIGPIPE mid-supervision.
        // SAFETY: SIG_IGN installs no handler; this process is single-threaded.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        Ok(())
    }

    fn request_cgroup(&mut self) -> Result<()> {
        if let (Some(b), Some(plan)) = (self.backend.take(), &self.spec.cgroup) {
            self.cgroup = Some(b.start(plan, self.pid()).with_context(|| self.limits_context())?);
        }
        Ok(())
    }

    fn take_terminal(&mut self) -> Result<()> {
        let pid = self.pid();
        let t = terminal::Terminal::take(pid, self.spec.new_session)
            .map_err(|e| anyhow!("setpgid({pid}, {pid}): {}", errno_text(e)))?;
        self.terminal = Some(t);
        Ok(())
    }

    fn announce(&mut self) -> Result<()> {
        announce(self.pid(), self.spec)
    }

    fn await_caller_maps(&mut self) -> Result<()> {
        if let Some(fd) = self.spec.protocol.userns_block_fd {
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(fd, &mut b);
            let _ = nix::unistd::close(fd);
        }
        Ok(())
    }

    fn release(&mut self) -> Result<()> {
        // Kept open until jail exits: the sandbox reads a hang-up as "jail died".
        if let Some(w) = &self.sync_w {
            let _ = nix::unistd::write(w, super::sync::MAPPED);
        }
        Ok(())
    }

    fn start_netns(&mut self) -> Result<()> {
        if self.spec.net_beside_root() {
            let (helper_end, sandbox_end) = seqpacket_pair()?;
            self.netns_helper = Some(super::netns::start(helper_end, &sandbox_end)?);
            self.netns_end = Some(sandbox_end);
        }
        Ok(())
    }

    fn cgroup_ready(&mut self) -> Result<Option<i32>> {
        if self.cgroup.is_some() {
            // The helper was forked in jail's cgroup, and a delegated cgroup takes controllers
            // only once no process is left in it: it ends first.
            if let Some(h) = self.netns_helper.take() {
                h.reap();
            }
        }
        let (Some(cg), Some(plan), Some(sync_w)) = (self.cgroup.as_mut(), &self.spec.cgroup, &self.sync_w) else {
            return Ok(None);
        };
        let ready = cg.ready(&plan.limits).map(|_| {
            let _ = nix::unistd::write(sync_w, super::sync::MOVED);
        });
        self.cgroup_failed(ready)
    }

    fn take_listener(&mut self, shared: bool) -> Result<()> {
        let Some(s) = self.seccomp.as_mut().filter(|s| s.shared == shared) else { return Ok(()) };
        if let Some((jail_end, sandbox_end)) = s.notify.take() {
            drop(sandbox_end);
            if !self.in_time(&jail_end) {
                return Ok(());
            }
            self.listener = if shared { supervise::receive_sent(&jail_end)? } else { supervise::receive(&jail_end)? };
        }
        Ok(())
    }

    fn cgroup_quota(&mut self) -> Result<Option<i32>> {
        // From the fields (not setup_wait): the cgroup is borrowed mutably below.
        let wait =
            report::SetupWait { deadline: deadline(self.spec, self.started), interrupts: self.interrupts.as_ref() };
        let (Some(cg), Some(plan), Some(sync_w), Some(report_r)) =
            (self.cgroup.as_mut(), &self.spec.cgroup, &self.sync_w, &self.report_r)
        else {
            return Ok(None);
        };
        let quota = match report::await_ready(report_r, wait) {
            // Without a failure, a sandbox that ended meanwhile is reaped as usual.
            Err(failure) => {
                self.early = failure;
                return Ok(None);
            }
            Ok(()) => {
                cg.steps.push(("sandbox ready", Instant::now()));
                cg.apply_after_setup(&plan.limits).map(|_| {
                    let _ = nix::unistd::write(sync_w, super::sync::GO);
                })
            }
        };
        if let Some(status) = self.cgroup_failed(quota)? {
            return Ok(Some(status));
        }
        if let (true, Some(cg)) = (self.spec.verbose, &self.cgroup) {
            let what = cg.unit.clone().unwrap_or_else(|| cg.dir().display().to_string());
            let via = cg.via.as_ref().map_or(String::new(), |v| format!(" at {v}"));
            crate::say::warn(&format!(
                "cgroup: {what} ({}{via}) ready, limits read back, {} ms after the sandbox was cloned ({})",
                cg.backend,
                self.started.elapsed().as_millis(),
                cg.timeline()
            ));
        }
        Ok(None)
    }

    fn serve_proxy(&mut self) -> Result<()> {
        let Some(end) = self.proxy_end.take() else { return Ok(()) };
        if !self.in_time(&end) {
            return Ok(());
        }
        if let Some(plan) = &self.spec.proxy {
            self.proxy = super::proxy::receive_listener(&end).map(|l| super::proxy::start(l, plan.clone()));
        }
        Ok(())
    }

    fn await_start(&mut self) -> Result<Option<i32>> {
        let failure = match self.early.take() {
            Some(f) => Some(f),
            None => {
                let report_r = self.report_r.take();
                report_r.and_then(|r| report::receive(r, self.setup_wait()))
            }
        };
        // The command runs (or never will): from here on signals are passed on to it.
        self.interrupts = None;
        // The sandbox is in its network namespace, or failed: the helper is done either way.
        self.netns_helper = None;
        Ok(failure.map(|f| self.failed(f)))
    }

    fn supervise(&mut self) -> Result<i32> {
        let spec = self.spec;
        let pid = self.pid();
        let stops = self.stops_r.take().ok_or_else(|| anyhow!("no stop pipe"))?;
        let mut terminal = self.terminal.take().ok_or_else(|| anyhow!("no terminal state"))?;
        let deadline = self.deadline();
        let waited = wait_forwarding(pid, self.mask, spec, deadline, self.listener.take(), &stops, &mut terminal)?;
        self.reaped = true;
        if let Some(fd) = spec.protocol.json_status_fd {
            // Only a command that ran has an exit code to report.
            status_line(fd, &format!("{{ \"exit-code\": {} }}\n", waited.status));
        }
        terminal.give_back();
        let mut status = waited.status;
        if waited.seccomp_kills > 0 && status == exit::signaled(libc::SIGKILL) {
            // What the kernel's kill would have said.
            status = exit::signaled(libc::SIGSYS);
        } else if status == exit::signaled(libc::SIGSYS) {
            crate::say::error(&format!(
                "the command was killed by SIGSYS, the signal seccomp kills with ({})",
                sigsys_sources(spec)
            ));
        }
        let refused_hosts = self.proxy.take().map(|p| p.refused()).unwrap_or_default();
        waited.denials.say(spec.report, &refused_hosts);
        Ok(finish(spec, status, &waited, &refused_hosts, self.started, self.cgroup.as_ref()))
    }

    fn end_sandbox(&mut self) {
        if let (Some(pid), false) = (self.pid, self.reaped) {
            let _ = kill(pid, Signal::SIGKILL);
            self.reap();
        }
    }
}

/// Reports what happened (OOM, timeout, usage) and picks jail's exit status.
fn finish(
    spec: &Spec,
    status: i32,
    waited: &Waited,
    refused_hosts: &[crate::cgroup::stats::RefusedHost],
    started: Instant,
    cgroup: Option<&crate::cgroup::Cgroup>,
) -> i32 {
    let timed_out = waited.timed_out;
    use crate::cgroup::stats::{read_usage, Reason, Stats};
    let usage = cgroup.map(|c| read_usage(c.dir(), &c.payload())).unwrap_or_default();
    let signal = exit::signal_of(status);
    let oom = usage.oom_kills.unwrap_or(0) > 0;
    let reason = if timed_out {
        Reason::Timeout
    } else if oom && signal == Some(libc::SIGKILL) {
        Reason::Oom
    } else if signal.is_some() {
        Reason::Signaled
    } else {
        Reason::Exited
    };
    if oom {
        let limit =
            spec.cgroup.as_ref().and_then(|p| p.limits.mem).map_or(String::new(), |m| format!(" of --mem {m} bytes"));
        let peak = usage.memory_peak_bytes.map_or(String::new(), |p| format!(", peak {p} bytes"));
        crate::say::error(&format!(
            "out of memory: the kernel's OOM killer killed {} process(es) in the sandbox at the limit{limit}{peak}",
            usage.oom_kills.unwrap_or(0)
        ));
    }
    if timed_out {
        let d = spec.timeout.map_or(0.0, |d| d.as_secs_f64());
        crate::say::error(&format!("--timeout {d}s: time limit reached; the command was stopped"));
    }
    let exit_code = if timed_out { exit::TIMEOUT } else { status };
    if spec.stats || spec.stats_fd.is_some() {
        let rusage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).ok();
        let tv = |t: nix::sys::time::TimeVal| (t.tv_sec() as u64) * 1_000_000 + t.tv_usec() as u64;
        let mut usage = usage;
        // Without a cgroup, the rusage of the reaped sandbox still tells the CPU time.
        usage.cpu_user_usec = usage.cpu_user_usec.or(rusage.map(|r| tv(r.user_time())));
        usage.cpu_system_usec = usage.cpu_system_usec.or(rusage.map(|r| tv(r.system_time())));
        let wall_usec = started.elapsed().as_micros() as u64;
        let stats = Stats {
            exit_code,
            signal,
            reason,
            wall_usec,
            usage,
            denied: waited.denials.list(),
            refused_hosts: refused_hosts.to_vec(),
        };
        if spec.stats {
            eprint!("{}", stats.human());
        }
        if let Some(fd) = spec.stats_fd {
            let json = serde_json::to_string(&stats).unwrap_or_default() + "\n";
            // SAFETY: the caller handed this descriptor to jail for the report; it stays open.
            let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
            if let Err(e) = f.write_all(json.as_bytes()) {
                crate::say::error(&format!("--stats-json {fd}: write: {e}"));
            }
        }
    }
    exit_code
}

/// After SIGTERM at the time limit, how long the sandbox gets before SIGKILL.
const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// How the wait ended.
struct Waited {
    status: i32,
    timed_out: bool,
    /// Processes jail killed for a profile's kill action.
    seccomp_kills: usize,
    /// Calls the built-in policy refused, through jail.
    denials: super::denials::Denials,
}

/// Which filters could have killed with SIGSYS, for the message.
fn sigsys_sources(spec: &Spec) -> String {
    use crate::confine::seccomp::Policy;
    let mut v = vec!["jail's floor kills for calls of another architecture, such as i386's int 0x80"];
    if matches!(spec.seccomp.policy, Policy::Profile { .. }) {
        v.push("the profile's SCMP_ACT_TRAP rules send SIGSYS");
    }
    if !spec.seccomp.fds.is_empty() {
        v.push("the programs from --seccomp/--add-seccomp-fd");
    }
    v.join("; ")
}

/// Waits for the sandbox's first process, passing on the forwarded signals, enforcing the time
/// limit and answering the seccomp listener.
fn wait_forwarding(
    pid: Pid,
    mask: SigSet,
    spec: &Spec,
    mut deadline: Option<Instant>,
    mut listener: Option<OwnedFd>,
    stops: &OwnedFd,
    terminal: &mut terminal::Terminal,
) -> Result<Waited> {
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).context("signalfd")?;
    let mut trim_at = Some(Instant::now() + super::idle::AFTER);
    let mut timed_out = false;
    let mut seccomp_kills = 0;
    let mut denials = super::denials::Denials::default();
    let mut stops_open = true;
    let profile = match &spec.seccomp.policy {
        crate::confine::seccomp::Policy::Profile { path, .. } => path.clone(),
        _ => Default::default(),
    };
    loop {
        if let Ok(ws) = waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            if let Some(status) = status_code(ws) {
                return Ok(Waited { status, timed_out, seccomp_kills, denials });
            }
        }
        let wake = match (deadline, trim_at) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        };
        let ms = crate::sys::linux::poll_timeout(wake);
        // No allocation: once jail has trimmed, this loop is all it runs, and every part of
        // the binary it touches (here malloc's) maps back in.
        let mut pfds = [
            libc::pollfd { fd: sfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: if stops_open { stops.as_raw_fd() } else { -1 }, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: listener.as_ref().map_or(-1, |l| l.as_raw_fd()), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: valid pollfds for the duration of the call.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if n == 0 && deadline.is_none_or(|d| Instant::now() < d) {
            if trim_at.take().is_some() {
                // The command runs on: jail only waits from now on.
                super::idle::trim();
            }
            continue;
        }
        if n == 0 {
            // Time is up: ask politely, then insist.
            let sig = if timed_out { Signal::SIGKILL } else { Signal::SIGTERM };
            let _ = kill(pid, sig);
            deadline = if timed_out { None } else { Some(Instant::now() + TIMEOUT_GRACE) };
            timed_out = true;
            continue;
        }
        if n < 0 {
            continue;
        }
        if pfds[1].revents & libc::POLLIN != 0 {
            let mut sig = [0u8; 1];
            if matches!(nix::unistd::read(stops.as_raw_fd(), &mut sig), Ok(1)) {
                terminal.mirror_stop(spec.new_session);
            }
        } else if pfds[1].revents & libc::POLLHUP != 0 {
            stops_open = false;
        }
        if let (Some(l), Some(p)) = (&listener, pfds.get(2)) {
            if p.revents & libc::POLLIN != 0 && spec.seccomp.report_denials {
                if let Some(nr) = supervise::refuse(l) {
                    denials.record(nr);
                }
            } else if p.revents & libc::POLLIN != 0 {
                if let Some((victim, nr)) = supervise::handle(l) {
                    seccomp_kills += 1;
                    crate::say::error(&supervise::message(&profile, victim, nr));
                }
            } else if p.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                // No process is left under the filter.
                listener = None;
            }
        }
        if pfds[0].revents & libc::POLLIN == 0 {
            continue;
        }
        let info = match sfd.read_signal() {
            Ok(Some(info)) => info,
            Ok(None) | Err(Errno::EINTR) => continue,
            Err(e) => bail!("read(signalfd {}): {}", sfd.as_raw_fd(), errno_text(e)),
        };
        if info.ssi_signo == Signal::SIGCHLD as u32 {
            continue;
        }
        if info.ssi_code == SI_KERNEL && !spec.new_session {
            continue;
        }
        if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
            let _ = kill(pid, sig);
        }
    }
}

fn flag_names(spec: &Spec) -> String {
    let ns = &spec.namespaces;
    let mut v = vec!["CLONE_NEWUSER", "CLONE_NEWNS"];
    for (on, n) in [
        (ns.pid, "CLONE_NEWPID"),
        (ns.net, "CLONE_NEWNET"),
        (ns.ipc, "CLONE_NEWIPC"),
        (ns.uts, "CLONE_NEWUTS"),
        (ns.cgroup, "CLONE_NEWCGROUP"),
    ] {
        if on {
            v.push(n);
        }
    }
    v.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::recorder::Recorder;

    /// The recorder; `stop_at` names a stage that ends the launch with a status (the sandbox
    /// reported a failure), as `fail_at` names one that fails.
    struct Fake {
        r: Recorder,
        stop_at: Option<&'static str>,
        ended: bool,
    }

    impl Fake {
        fn step(&mut self, name: &'static str) -> Result<()> {
            self.r.step(name).map_err(|e| anyhow!(e))
        }
        fn stop(&mut self, name: &'static str) -> Result<Option<i32>> {
            self.step(name)?;
            Ok((self.stop_at == Some(name)).then_some(125))
        }
    }

    impl Stages for Fake {
        fn block_signals(&mut self) -> Result<()> {
            self.step("block_signals")
        }
        fn compile_seccomp(&mut self) -> Result<()> {
            self.step("compile_seccomp")
        }
        fn prepare_cgroup(&mut self) -> Result<()> {
            self.step("prepare_cgroup")
        }
        fn die_with_parent(&mut self) -> Result<()> {
            self.step("die_with_parent")
        }
        fn join_userns(&mut self) -> Result<()> {
            self.step("join_userns")
        }
        fn make_placeholders(&mut self) -> Result<()> {
            self.step("make_placeholders")
        }
        fn clone_sandbox(&mut self) -> Result<()> {
            self.step("clone_sandbox")
        }
        fn request_cgroup(&mut self) -> Result<()> {
            self.step("request_cgroup")
        }
        fn take_terminal(&mut self) -> Result<()> {
            self.step("take_terminal")
        }
        fn announce(&mut self) -> Result<()> {
            self.step("announce")
        }
        fn await_caller_maps(&mut self) -> Result<()> {
            self.step("await_caller_maps")
        }
        fn release(&mut self) -> Result<()> {
            self.step("release")
        }
        fn start_netns(&mut self) -> Result<()> {
            self.step("start_netns")
        }
        fn cgroup_ready(&mut self) -> Result<Option<i32>> {
            self.stop("cgroup_ready")
        }
        fn take_listener(&mut self, shared: bool) -> Result<()> {
            self.step(if shared { "take_listener(shared)" } else { "take_listener" })
        }
        fn cgroup_quota(&mut self) -> Result<Option<i32>> {
            self.stop("cgroup_quota")
        }
        fn serve_proxy(&mut self) -> Result<()> {
            self.step("serve_proxy")
        }
        fn await_start(&mut self) -> Result<Option<i32>> {
            self.stop("await_start")
        }
        fn supervise(&mut self) -> Result<i32> {
            self.step("supervise").map(|_| 0)
        }
        fn end_sandbox(&mut self) {
            self.ended = true;
        }
    }

    fn fake(fail_at: Option<&'static str>, stop_at: Option<&'static str>) -> Fake {
        Fake { r: Recorder { fail_at, ..Default::default() }, stop_at, ended: false }
    }

    const BEFORE: [&str; 8] = [
        "block_signals",
        "compile_seccomp",
        "prepare_cgroup",
        "die_with_parent",
        "join_userns",
        "make_placeholders",
        "start_netns",
        "clone_sandbox",
    ];

    #[test]
    fn everything_that_can_fail_alone_comes_before_the_clone_and_the_cgroup_is_asked_for_first_after_it() {
        let mut f = fake(None, None);
        assert_eq!(run_stages(&mut f).unwrap(), 0);
        let after = [
            "request_cgroup",
            "take_terminal",
            "announce",
            "await_caller_maps",
            "release",
            "cgroup_ready",
            "take_listener(shared)",
            "cgroup_quota",
            "serve_proxy",
            "take_listener",
            "await_start",
            "supervise",
        ];
        assert_eq!(f.r.calls, [&BEFORE[..], &after[..]].concat());
        assert!(!f.ended);
    }

    #[test]
    fn a_failure_before_the_clone_leaves_no_sandbox_to_end_and_one_after_it_ends_the_sandbox() {
        let mut f = fake(Some("make_placeholders"), None);
        assert!(run_stages(&mut f).is_err());
        assert!(!f.r.calls.contains(&"clone_sandbox") && !f.ended);
        let mut f = fake(Some("announce"), None);
        assert!(run_stages(&mut f).is_err());
        assert!(f.ended, "a sandbox that exists is ended on failure");
        assert!(!f.r.calls.contains(&"release"), "a sandbox is never released after a failure");
    }

    #[test]
    fn a_sandbox_that_reports_a_failure_ends_the_launch_with_its_status() {
        let mut f = fake(None, Some("cgroup_quota"));
        assert_eq!(run_stages(&mut f).unwrap(), 125);
        assert_eq!(f.r.calls.last(), Some(&"cgroup_quota"));
        let mut f = fake(None, Some("await_start"));
        assert_eq!(run_stages(&mut f).unwrap(), 125);
        assert!(!f.r.calls.contains(&"supervise") && !f.ended);
    }
}
