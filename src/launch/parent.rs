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
        .map_err(|e| anyhow!("write {path} {:?}: {}", text.trim_end(), errno_text(crate::spec::errno_of(&e))))
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
    let notify = match command.listener {
        Some(_) => Some(
            nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::SeqPacket,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| anyhow!("socketpair(AF_UNIX, SOCK_SEQPACKET): {}", errno_text(e)))?,
        ),
        None => None,
    };
    let mut seccomp = child::Seccomp { command, init, notify };
    // jail joins the cgroup first, so the sandbox is born in it (and its cgroup namespace is
    // rooted there); the limits are read back before anything runs.
    let t0 = Instant::now();
    let cgroup = spec
        .cgroup
        .as_ref()
        .map(|plan| crate::cgroup::setup(plan).with_context(|| plan.limits.flags().join(", ")))
        .transpose()?;
    if let (true, Some(cg)) = (spec.verbose, &cgroup) {
        let what = cg.unit.clone().unwrap_or_else(|| cg.dir.display().to_string());
        eprintln!("jail: cgroup: {what} ({}) ready, limits read back, in {} ms", cg.backend, t0.elapsed().as_millis());
    }
    let started = Instant::now();
    let (sync_r, sync_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;
    // init writes the signal number here when the command stops.
    let (stops_r, stops_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;

    let pid = match crate::sys::linux::fork_with(spec.namespaces.clone_flags()) {
        Ok(Some(pid)) => pid,
        Ok(None) => {
            drop(sync_w);
            drop(report_r);
            drop(stops_r);
            child::main(spec, sync_r, report_w, stops_w, old_mask, &seccomp)
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

    let moved = cgroup.as_ref().map(|c| c.leave_payload()).transpose();
    let terminal = moved.and_then(|_| {
        terminal::Terminal::take(pid, spec.new_session).map_err(|e| anyhow!("setpgid({pid}, {pid}): {}", errno_text(e)))
    });
    let mut terminal = match terminal.and_then(|t| write_maps(pid, spec).map(|_| t)) {
        Ok(t) => t,
        Err(e) => {
            let _ = kill(pid, Signal::SIGKILL);
            reap(pid);
            return Err(e);
        }
    };
    let _ = nix::unistd::write(&sync_w, b"1");
    // Kept open until jail exits: the child reads a hang-up as "jail died before my death
    // signal was armed" (see child::main).
    let _alive = sync_w;
    let listener = match seccomp.notify.take() {
        Some((jail_end, sandbox_end)) => {
            drop(sandbox_end);
            supervise::receive(&jail_end).inspect_err(|_| {
                let _ = kill(pid, Signal::SIGKILL);
            })?
        }
        None => None,
    };

    if let Some((code, msg)) = report::receive(report_r) {
        let status = reap(pid);
        eprintln!("jail: {msg}");
        return Ok(if status == 0 { i32::from(code) } else { status });
    }
    let waited = wait_forwarding(pid, mask, spec, listener, &stops_r, &mut terminal)?;
    terminal.give_back();
    let mut status = waited.status;
    if waited.seccomp_kills > 0 && status == exit::signaled(libc::SIGKILL) {
        // What the kernel's kill would have said.
        status = exit::signaled(libc::SIGSYS);
    } else if status == exit::signaled(libc::SIGSYS) {
        eprintln!("jail: the command was killed by SIGSYS, the signal seccomp kills with ({})", sigsys_sources(spec));
    }
    Ok(finish(spec, status, waited.timed_out, started, cgroup.as_ref()))
}

/// Reports what happened (OOM, timeout, usage) and picks jail's exit status.
fn finish(spec: &Spec, status: i32, timed_out: bool, started: Instant, cgroup: Option<&crate::cgroup::Cgroup>) -> i32 {
    use crate::cgroup::stats::{read_usage, Reason, Stats};
    let usage = cgroup.map(|c| read_usage(&c.dir, &c.payload())).unwrap_or_default();
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
        eprintln!(
            "jail: out of memory: the kernel's OOM killer killed {} process(es) in the sandbox at the limit{limit}{peak}",
            usage.oom_kills.unwrap_or(0)
        );
    }
    if timed_out {
        let d = spec.timeout.map_or(0.0, |d| d.as_secs_f64());
        eprintln!("jail: --timeout {d}s: time limit reached; the command was stopped");
    }
    let exit_code = if timed_out { exit::TIMEOUT } else { status };
    if spec.stats || spec.stats_fd.is_some() {
        let rusage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).ok();
        let tv = |t: nix::sys::time::TimeVal| (t.tv_sec() as u64) * 1_000_000 + t.tv_usec() as u64;
        let mut usage = usage;
        // Without a cgroup, the rusage of the reaped sandbox still tells the CPU time.
        usage.cpu_user_usec = usage.cpu_user_usec.or(rusage.map(|r| tv(r.user_time())));
        usage.cpu_system_usec = usage.cpu_system_usec.or(rusage.map(|r| tv(r.system_time())));
        let stats = Stats { exit_code, signal, reason, wall_usec: started.elapsed().as_micros() as u64, usage };
        if spec.stats {
            eprint!("{}", stats.human());
        }
        if let Some(fd) = spec.stats_fd {
            let json = serde_json::to_string(&stats).unwrap_or_default() + "\n";
            // SAFETY: the caller handed this descriptor to jail for the report; it stays open.
            let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
            if let Err(e) = f.write_all(json.as_bytes()) {
                eprintln!("jail: --stats-json {fd}: write: {e}");
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
    let mut timed_out = false;
    let mut seccomp_kills = 0;
    let mut stops_open = true;
    let profile = match &spec.seccomp.policy {
        crate::confine::seccomp::Policy::Profile { path, .. } => path.clone(),
        _ => Default::default(),
    };
    loop {
        if let Ok(ws) = waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            if let Some(status) = status_code(ws) {
                return Ok(Waited { status, timed_out, seccomp_kills });
            }
        }
        let ms = deadline
            .map_or(-1, |d| d.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32);
        let mut pfds = vec![
            libc::pollfd { fd: sfd.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: if stops_open { stops.as_raw_fd() } else { -1 }, events: libc::POLLIN, revents: 0 },
        ];
        if let Some(l) = &listener {
            pfds.push(libc::pollfd { fd: l.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        // SAFETY: valid pollfds for the duration of the call.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
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
            if p.revents & libc::POLLIN != 0 {
                if let Some((victim, nr)) = supervise::handle(l) {
                    seccomp_kills += 1;
                    eprintln!("jail: {}", supervise::message(&profile, victim, nr));
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
