//! pid 1 of the sandbox: reaps orphans, passes signals on to the command, and exits with the
//! command's status (the kernel then kills whatever is left in the namespace).

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{FORWARDED, SI_KERNEL};
use crate::exit;

fn die(cmd: Pid, msg: &str) -> ! {
    let _ = kill(cmd, Signal::SIGKILL);
    eprintln!("jail: init: {msg}");
    std::process::exit(exit::FAILURE)
}

pub fn run(cmd: Pid, new_session: bool, seccomp: Option<&seccompiler::BpfProgram>) -> ! {
    // Not dumpable: the command (same uid) can neither ptrace nor read the memory of init.
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0) } != 0 {
        die(cmd, "prctl(PR_SET_DUMPABLE, 0) failed");
    }
    // Init holds nothing the command could reach: no descriptors, no capabilities.
    // SAFETY: close_range with integer arguments only.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if let Err(e) = crate::confine::caps::apply(&[]) {
        die(cmd, &format!("{e:#}"));
    }
    // no_new_privs and Landlock were set before the fork; seccomp is the last layer.
    if let Some(p) = seccomp {
        if let Err(e) = crate::confine::seccomp::load(std::slice::from_ref(p)) {
            die(cmd, &format!("{e:#}"));
        }
    }
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(s);
    }
    mask.add(Signal::SIGCHLD);
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC) {
        Ok(s) => s,
        Err(e) => die(cmd, &format!("signalfd: {e}")),
    };
    loop {
        // Reap everything that has exited; leave when the command has.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == cmd => std::process::exit(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == cmd => std::process::exit(128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
        let Ok(Some(info)) = sfd.read_signal() else { continue };
        if info.ssi_signo == Signal::SIGCHLD as u32 || (info.ssi_code == SI_KERNEL && !new_session) {
            continue;
        }
        if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
            let _ = kill(cmd, sig);
        }
    }
}
