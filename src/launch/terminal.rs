//! The sandbox's process group and the terminal. The sandbox leads a process group of its own,
//! so `kill(0, sig)` from inside reaches only the sandbox, never the caller's shell or job, on
//! every kernel. When jail runs in the foreground of a terminal, it makes that group the
//! foreground one (keyboard signals and terminal reads go to the sandbox) and takes it back on
//! exit. A stop of the command is mirrored: jail takes the terminal back and stops itself, so
//! the caller's shell sees its job stopped; when continued, jail continues the sandbox.

use nix::sys::signal::{kill, killpg, SigSet, SigmaskHow, Signal};
use nix::unistd::{getpgrp, getpid, tcgetpgrp, tcsetpgrp, Pid};

pub struct Terminal {
    sandbox: Pid,
    /// jail handed the terminal (stdin) to the sandbox and owes it back.
    handed: bool,
}

fn foreground() -> bool {
    nix::unistd::isatty(0).unwrap_or(false) && tcgetpgrp(std::io::stdin()).is_ok_and(|g| g == getpgrp())
}

impl Terminal {
    /// Puts the sandbox's first process `sandbox` (not yet running) in its own process group
    /// and, unless the command gets a session of its own, gives it the terminal.
    pub fn take(sandbox: Pid, new_session: bool) -> nix::Result<Terminal> {
        nix::unistd::setpgid(sandbox, sandbox)?;
        // Background writes and the hand-back below would stop jail with SIGTTOU otherwise.
        let mut ttou = SigSet::empty();
        ttou.add(Signal::SIGTTOU);
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), None)?;
        let mut t = Terminal { sandbox, handed: false };
        if !new_session {
            t.hand_over();
        }
        Ok(t)
    }

    fn hand_over(&mut self) {
        if foreground() && tcsetpgrp(std::io::stdin(), self.sandbox).is_ok() {
            self.handed = true;
        }
    }

    /// Gives the terminal back to jail's group, if jail handed it away.
    pub fn give_back(&mut self) {
        if self.handed {
            let _ = tcsetpgrp(std::io::stdin(), getpgrp());
            self.handed = false;
        }
    }

    /// The command stopped: stop jail the same way; once continued, continue the sandbox
    /// (in the foreground again if jail is).
    pub fn mirror_stop(&mut self, new_session: bool) {
        self.give_back();
        let _ = kill(getpid(), Signal::SIGSTOP);
        // Continued (fg or bg in the caller's shell).
        if !new_session {
            self.hand_over();
        }
        let _ = killpg(self.sandbox, Signal::SIGCONT);
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.give_back();
    }
}
