//! The sandbox's init: reaps orphans, passes signals on to the command, and exits with the
//! command's status. In a pid namespace it is pid 1 and the kernel ends whatever is left when
//! it exits; with `--share-pid` it is a subreaper and ends the rest itself, also when jail dies.

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{FORWARDED, SI_KERNEL};
use crate::exit;

pub fn die(cmd: Pid, msg: &str) -> ! {
    let _ = kill(cmd, Signal::SIGKILL);
    crate::say::error(&format!("init: {msg}"));
    std::process::exit(exit::FAILURE)
}

/// init's own confinement, in a fixed order: it becomes unreachable first (no descriptors),
/// stays awake for job control, then drops what it could misuse; seccomp last, so it cannot
/// refuse the steps before it. Not being dumpable, no_new_privs and Landlock came before the
/// fork.
pub trait Stages {
    /// No descriptor but the stop reports: nothing for the command to reach through init.
    fn close_fds(&mut self) -> Result<(), String>;
    /// Never stopped by the terminal: init must stay awake to report the command's stops.
    fn ignore_terminal_stops(&mut self) -> Result<(), String>;
    fn drop_capabilities(&mut self) -> Result<(), String>;
    fn seccomp(&mut self) -> Result<(), String>;
}

pub fn run_stages<S: Stages>(s: &mut S) -> Result<(), String> {
    s.close_fds()?;
    s.ignore_terminal_stops()?;
    s.drop_capabilities()?;
    s.seccomp()
}

struct Setup<'a> {
    stops: &'a std::os::fd::OwnedFd,
    report: &'a std::os::fd::OwnedFd,
    /// Descriptors init holds for the sandbox's life (lock files, `--sync-fd`).
    held: &'a [std::os::fd::RawFd],
    seccomp: Option<&'a seccompiler::BpfProgram>,
    bounding: crate::confine::caps::Bounding<'a>,
}

impl Stages for Setup<'_> {
    fn close_fds(&mut self) -> Result<(), String> {
        use std::os::fd::AsRawFd;
        let mut keep: Vec<u32> = self.held.iter().map(|f| *f as u32).collect();
        keep.push(self.stops.as_raw_fd() as u32);
        keep.push(self.report.as_raw_fd() as u32);
        keep.sort_unstable();
        // Close the gaps between the kept descriptors, from 3 on.
        let mut from = 3u32;
        for k in keep.into_iter().chain([u32::MAX]) {
            if k > from {
                // SAFETY: close_range with integer arguments only.
                unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0u32) };
            }
            from = from.max(k.saturating_add(1));
        }
        Ok(())
    }

    fn ignore_terminal_stops(&mut self) -> Result<(), String> {
        for sig in [Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU] {
            // SAFETY: SIG_IGN installs no handler.
            unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) }
                .map_err(|e| format!("signal({sig}, SIG_IGN): {e}"))?;
        }
        Ok(())
    }

    fn drop_capabilities(&mut self) -> Result<(), String> {
        crate::confine::caps::apply(&[], self.bounding).map_err(|e| format!("{e:#}"))
    }

    fn seccomp(&mut self) -> Result<(), String> {
        match self.seccomp {
            Some(p) => crate::confine::seccomp::load(std::slice::from_ref(p)).map_err(|e| format!("{e:#}")),
            None => Ok(()),
        }
    }
}

/// What init is given when it takes over after forking the command.
pub struct Init<'a> {
    pub cmd: Pid,
    /// Where init reports a stop of the command (its signal number), for jail to mirror.
    pub stops: std::os::fd::OwnedFd,
    /// The setup report: held until init's own confinement is done, so that jail counts the
    /// sandbox as started only then, and learns why if it fails.
    pub report: std::os::fd::OwnedFd,
    /// Descriptors held for the sandbox's life (lock files, `--sync-fd`).
    pub held: &'a [std::os::fd::RawFd],
    pub new_session: bool,
    /// init shares the caller's pid namespace (`--share-pid`), is the subreaper of the sandbox,
    /// and ends every process in it before it exits.
    pub subreaper: bool,
    pub seccomp: Option<&'a seccompiler::BpfProgram>,
    /// What the bounding set still holds (the command's capabilities, when the first process
    /// dropped the rest before the fork).
    pub bounding: crate::confine::caps::Bounding<'a>,
}

pub fn run(init: Init) -> ! {
    let Init { cmd, stops, report, held, new_session, subreaper, seccomp, bounding } = init;
    let mut stages = Setup { stops: &stops, report: &report, held, seccomp, bounding };
    if let Err(e) = run_stages(&mut stages) {
        let _ = kill(cmd, Signal::SIGKILL);
        super::report::setup_failed(&report, &format!("init: {e}"));
    }
    drop(report);
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(s);
    }
    mask.add(Signal::SIGCHLD);
    let parent_died = Signal::try_from(super::death_signal(true)).unwrap_or(Signal::SIGALRM);
    if subreaper {
        mask.add(parent_died);
        if let Err(e) = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None) {
            die(cmd, &format!("sigprocmask: {e}"));
        }
    }
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC) {
        Ok(s) => s,
        Err(e) => die(cmd, &format!("signalfd: {e}")),
    };
    let leave = |code: i32| -> ! {
        if subreaper {
            end_descendants();
        }
        std::process::exit(code)
    };
    let mut trimmed = false;
    loop {
        // Reap everything that has exited; leave when the command has.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED)) {
                Ok(WaitStatus::Stopped(pid, sig)) if pid == cmd => {
                    let _ = nix::unistd::write(&stops, &[sig as u8]);
                }
                Ok(WaitStatus::Exited(pid, code)) if pid == cmd => leave(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == cmd => leave(exit::signaled(sig as i32)),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        if !trimmed {
            // Once the command has run a while, init only waits: it gives back what setup used.
            let sfd_raw = std::os::fd::AsRawFd::as_raw_fd(&sfd);
            if crate::sys::linux::poll_in(sfd_raw, super::idle::AFTER.as_millis() as i32) == Ok(0) {
                super::idle::trim();
                trimmed = true;
            }
        }
        let Ok(Some(info)) = sfd.read_signal() else { continue };
        if subreaper && info.ssi_signo == parent_died as u32 {
            // jail is gone (its death signal), or the command asks to be ended: either way.
            leave(exit::signaled(libc::SIGKILL));
        }
        if info.ssi_signo == Signal::SIGCHLD as u32 || (info.ssi_code == SI_KERNEL && !new_session) {
            continue;
        }
        if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
            let _ = kill(cmd, sig);
        }
    }
}

/// The pids of this process's children, from every thread's `children` list in /proc.
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| s.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<i32>>())
        .collect()
}

/// Ends every descendant. As their subreaper, init inherits each orphan, so rounds of "kill
/// every descendant /proc shows, reap" converge even while some of them fork.
fn end_descendants() {
    let me = std::process::id() as i32;
    for _ in 0..10_000 {
        let mut stack = children(me);
        if stack.is_empty() {
            return;
        }
        while let Some(p) = stack.pop() {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            stack.extend(children(p));
        }
        while let Ok(ws) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            if ws == WaitStatus::StillAlive {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::launch::recorder::Recorder;

    impl Stages for Recorder {
        fn close_fds(&mut self) -> Result<(), String> {
            self.step("close_fds")
        }
        fn ignore_terminal_stops(&mut self) -> Result<(), String> {
            self.step("ignore_terminal_stops")
        }
        fn drop_capabilities(&mut self) -> Result<(), String> {
            self.step("drop_capabilities")
        }
        fn seccomp(&mut self) -> Result<(), String> {
            self.step("seccomp")
        }
    }

    #[test]
    fn init_becomes_unreachable_first_and_loads_seccomp_last() {
        let mut r = Recorder::default();
        assert_eq!(run_stages(&mut r), Ok(()));
        assert_eq!(r.calls, ["close_fds", "ignore_terminal_stops", "drop_capabilities", "seccomp"]);
        let mut r = Recorder { fail_at: Some("drop_capabilities"), ..Default::default() };
        assert_eq!(run_stages(&mut r), Err("drop_capabilities".into()));
        assert!(!r.calls.contains(&"seccomp"));
    }
}
