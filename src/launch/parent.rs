//! jail's side, outside the sandbox: create it, map ids, wait, pass on signals and the status.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{child, diagnose, report, supervise, terminal, FORWARDED, SI_KERNEL};
use crate::exit;
use crate::spec::{IdMap, Spec};
use crate::sys::errno_text;

fn write_proc(pid: Pid, file: &str, text: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| anyhow!("write {path} {:?}: {}", text.trim_end(), errno_text(crate::error::errno_of(&e))))
}

fn run_helper(map: &IdMap, pid: Pid, name: &str) -> Result<()> {
    let Some(helper) = &map.helper else { bail!("--map-subids: {name} not found") };
    let out = Command::new(helper)
        .arg(pid.to_string())
        .args(map.helper_args())
        .output()
        .with_context(|| format!("--map-subids: run {}", helper.display()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        bail!("--map-subids: {} {} failed: {}", helper.display(), map.helper_args().join(" "), msg.trim());
    }
    Ok(())
}

fn write_maps(pid: Pid, spec: &Spec) -> Result<()> {
    if spec.uid_map.helper.is_some() {
        run_helper(&spec.uid_map, pid, "newuidmap")?;
        run_helper(&spec.gid_map, pid, "newgidmap")?;
        return Ok(());
    }
    // Without a helper the kernel insists that setgroups be denied before gid_map is written.
    write_proc(pid, "setgroups", "deny")?;
    write_proc(pid, "uid_map", &spec.uid_map.proc_text())?;
    write_proc(pid, "gid_map", &spec.gid_map.proc_text())
}

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
    if spec.namespaces.user && spec.protocol.userns_block_fd.is_none() {
        write_maps(pid, spec)?;
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

/// Creates the sandbox, runs the command in it, and returns the exit status for jail.
pub fn launch(spec: &Spec) -> Result<i32> {
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(s);
    }
    mask.add(Signal::SIGCHLD);
    let mut old_mask = SigSet::empty();
    // Blocked before clone: no signal is lost while the sandbox starts, and the child begins
    // with them blocked (its init reads them from a signalfd).
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old_mask)).context("sigprocmask")?;

    // Compiled (and profile files and descriptors read) while the host is in view; a bad
    // profile fails here, before anything exists.
    let init = crate::confine::seccomp::builtin(&spec.seccomp)?;
    let command = crate::confine::seccomp::compile(&spec.seccomp, init.as_ref())?;
    let notify = command.listener.map(|_| seqpacket_pair()).transpose()?;
    let mut seccomp = child::Seccomp { command, init, notify };
    // What needs no sandbox is checked first; the cgroup itself is asked for once the
    // sandbox exists, and made while it builds its root.
    let limits_context = || spec.cgroup.as_ref().map_or(String::new(), |p| p.limits.flags().join(", "));
    let backend = spec.cgroup.as_ref().map(crate::cgroup::prepare).transpose().with_context(limits_context)?;
    if spec.die_with_parent {
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    }
    if let Some(fd) = spec.joins.userns {
        // jail enters the namespace itself, so the sandbox is cloned inside it.
        // SAFETY: setns on a descriptor the caller handed in; jail is single-threaded.
        if unsafe { libc::setns(fd, libc::CLONE_NEWUSER) } != 0 {
            let e = Errno::last();
            if e == Errno::EINVAL {
                bail!("Joining the specified user namespace failed, it might not be a descendant of the current user namespace.");
            }
            bail!("--userns {fd}: joining the user namespace failed: setns: {}", errno_text(e));
        }
    }
    // Removed again when jail ends, whichever way it does (by a janitor process of their own).
    let _placeholders = super::placeholder::guard(super::placeholder::make(&spec.placeholders)?)?;
    let started = Instant::now();
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
    if backend.is_some() {
        // Made by the sandbox once it is in its payload leaf, so that it is rooted there.
        flags &= !libc::CLONE_NEWCGROUP;
    }
    let t0 = Instant::now();
    let pid = match crate::sys::linux::fork_with(flags) {
        Ok(Some(pid)) => pid,
        Ok(None) => {
            drop(sync_w);
            drop(report_r);
            drop(stops_r);
            let proxy_child = proxy_pair.map(|(_, child_end)| child_end);
            child::main(spec, sync_r, report_w, stops_w, old_mask, &seccomp, proxy_child)
        }
        Err(e) => bail!("clone({}): {}{}", flag_names(spec), errno_text(e), diagnose::userns_hint(e)),
    };
    drop(sync_r);
    drop(report_w);
    drop(stops_w);
    // The sandbox was cloned with the dispositions jail received. jail itself takes EPIPE on
    // its own writes (messages, --stats-json) instead of dying of SIGPIPE mid-supervision.
    // SAFETY: SIG_IGN installs no handler; this process is single-threaded.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };

    // The request goes out first: the manager works while the sandbox is released and builds.
    let mut cgroup = None;
    let requested = match (backend, &spec.cgroup) {
        (Some(b), Some(plan)) => b.start(plan, pid).map(|c| cgroup = Some(c)).with_context(limits_context),
        _ => Ok(()),
    };
    let terminal = requested.and_then(|_| {
        terminal::Terminal::take(pid, spec.new_session).map_err(|e| anyhow!("setpgid({pid}, {pid}): {}", errno_text(e)))
    });
    let mut terminal = match terminal.and_then(|t| announce(pid, spec).map(|_| t)) {
        Ok(t) => t,
        Err(e) => {
            let _ = kill(pid, Signal::SIGKILL);
            reap(pid);
            return Err(e);
        }
    };
    if let Some(fd) = spec.protocol.userns_block_fd {
        // The caller writes the id maps now, then lets the sandbox go on.
        let mut b = [0u8; 1];
        let _ = nix::unistd::read(fd, &mut b);
        let _ = nix::unistd::close(fd);
    }
    let _ = nix::unistd::write(&sync_w, super::sync::MAPPED);
    let mut early = None;
    if let (Some(cg), Some(plan)) = (cgroup.as_mut(), &spec.cgroup) {
        match enter_cgroup(cg, &plan.limits, &sync_w, &report_r) {
            // Without a failure, a sandbox that ended meanwhile is reaped as usual.
            Ok(failure) => early = failure,
            Err(e) => {
                let _ = kill(pid, Signal::SIGKILL);
                reap(pid);
                // A sandbox whose setup failed first can make the scope fail too (its pid was
                // gone): its own report is the cause.
                if let Err(Some(failure)) = report::await_ready(&report_r) {
                    crate::say::error(failure.message());
                    return Ok(spec.personality.failure_status(failure.status()));
                }
                return Err(e.context(limits_context()));
            }
        }
        if spec.verbose {
            let what = cg.unit.clone().unwrap_or_else(|| cg.dir().display().to_string());
            crate::say::warn(&format!(
                "cgroup: {what} ({}) ready, limits read back, {} ms after the sandbox was cloned ({})",
                cg.backend,
                t0.elapsed().as_millis(),
                cg.timeline()
            ));
        }
    }
    // Kept open until jail exits: the child reads a hang-up as "jail died before my death
    // signal was armed" (see child::main).
    let _alive = sync_w;
    let proxy = match proxy_pair {
        Some((jail_end, child_end)) => {
            drop(child_end);
            let plan = spec.proxy.clone().unwrap_or_else(|| unreachable!("a proxy pair only with a proxy plan"));
            super::proxy::receive_listener(&jail_end).map(|l| super::proxy::start(l, plan))
        }
        None => None,
    };
    let listener = match seccomp.notify.take() {
        Some((jail_end, sandbox_end)) => {
            drop(sandbox_end);
            supervise::receive(&jail_end).inspect_err(|_| {
                let _ = kill(pid, Signal::SIGKILL);
            })?
        }
        None => None,
    };

    if let Some(failure) = early.or_else(|| report::receive(report_r)) {
        let status = reap(pid);
        crate::say::error(failure.message());
        let status = if status == 0 { failure.status() } else { status };
        return Ok(spec.personality.failure_status(status));
    }
    let waited = wait_forwarding(pid, mask, spec, listener, &stops_r, &mut terminal)?;
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
    let refused_hosts = proxy.map(|p| p.refused()).unwrap_or_default();
    waited.denials.say(spec.report, &refused_hosts);
    Ok(finish(spec, status, &waited, &refused_hosts, started, cgroup.as_ref()))
}

/// The sandbox's side of the limits: once the scope is ready with both processes in their
/// leaves, the sandbox may fork ([`MOVED`](super::sync::MOVED)); once the command's process
/// has done all of jail's work, the payload's own limits are set and it may run the command
/// ([`GO`](super::sync::GO)). Returns the sandbox's failure if it reported one first.
fn enter_cgroup(
    cg: &mut crate::cgroup::Cgroup,
    limits: &crate::cgroup::Limits,
    sync_w: &OwnedFd,
    report_r: &OwnedFd,
) -> Result<Option<report::Failure>> {
    cg.ready(limits)?;
    let _ = nix::unistd::write(sync_w, super::sync::MOVED);
    if let Err(failure) = report::await_ready(report_r) {
        return Ok(failure);
    }
    cg.steps.push(("sandbox ready", Instant::now()));
    cg.apply_after_setup(limits)?;
    let _ = nix::unistd::write(sync_w, super::sync::GO);
    Ok(None)
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
    let usage = cgroup.map(|c| read_usage(&c.payload())).unwrap_or_default();
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
    mut listener: Option<OwnedFd>,
    stops: &OwnedFd,
    terminal: &mut terminal::Terminal,
) -> Result<Waited> {
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC).context("signalfd")?;
    let mut deadline = spec.timeout.map(|t| Instant::now() + t);
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
        // Rounded up: poll never wakes before the time it waits for.
        let ms = wake.map_or(-1, |d| {
            d.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
        });
        let mut pfds = vec![
            libc::pollfd { fd: sfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: if stops_open { stops.as_raw_fd() } else { -1 }, events: libc::POLLIN, revents: 0 },
        ];
        if let Some(l) = &listener {
            pfds.push(libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
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
