//! Runs a [`Spec`](crate::spec::Spec). Each process's order is a stage list written once, with
//! a one-line reason per step, and unit-tested as a sequence with a recording fake: jail's
//! own (`parent::Stages`), the sandbox's first process (`child::Stages`), the root it builds
//! (`root::build`, through `Sys`), init's (`init::Stages`) and the command's (`exec::Stages`).
//! Together, and why:
//!
//! ```text
//! parent (jail, outside)                    child (pid 1 of the new pid namespace)
//!  block forwarded signals + SIGCHLD         PR_SET_PDEATHSIG: never outlive jail
//!  limits: cgroup v2, connect to the user    hand the helper its user namespace ──▶ helper
//!    manager (or a delegated cgroup)
//!  --protect placeholders (+ their janitor)  map its own ids (one uid, one gid) or wait for
//!  join --userns                               jail's; a hang-up on the sync pipe (kept open
//!  fork the network namespace's helper: it     by jail) = jail died: exit
//!    waits for the sandbox's user ns, enters make / rprivate: no propagation either way
//!    its user namespace, makes one, lo up,   scratch tmpfs, pivot into it, host at /oldroot
//!    sends it back ──────────────────────▶   apply the filesystem steps in order
//!  clone(new user, mount, pid, ...)          pivot into the new root, detach the old one
//!  limits: ask for the scope (one write)     lo up (no helper); --allow-host, --userns2: the
//!  own process group (+ the terminal)          helper's namespace now; hostname, the proxy's
//!                                              listener to jail
//!  the maps, if the sandbox cannot write     --userns2, --disable-userns, the block fd, locks
//!    its own; --info-fd: child pid           the bounding set, once for init and the command;
//!                                            no_new_privs, init's Landlock domain, the shared
//!  (--userns-block-fd: the caller maps)        seccomp filter (its listener sent to jail);
//!  release the child ───────────────────▶      not dumpable; the helper's network namespace
//!  limits: (helper reaped) scope ready,      limits: wait until moved, then make the cgroup
//!    jail → supervisor, child → payload,       namespace (rooted at payload)
//!    read back ──────────────────────────▶   wait for the release; start the command in its
//!  take the seccomp listener (reports)         memory (a fork if it hands jail a listener);
//!  limits: on "ready", the payload's quota     stay as init: reap, forward; init: no fds, no
//!    (never during jail's setup), init →       caps; then lets the setup report close
//!    supervisor ─────────────────────────▶
//!  serve --allow-host's proxy
//!  read the setup report (EOF = started)
//!  forward signals, mirror stops, answer
//!  seccomp notifications, wait; report
//! command: new session → chdir → env → close fds → capabilities → no_new_privs → Landlock
//!          → limits: "ready", wait for the quota → seccomp (hands its listener to jail)
//!          → exec (errors go back over the report)
//! ```
//!
//! `--as-pid-1`: the child forks the command into a pid namespace of its own first, so the
//! command is pid 1 there while the child, out of its reach, stays init of the outer one and
//! dies with jail. `--share-pid` (and a joined `--pidns`): the child is a subreaper whose death
//! signal it catches; it ends every process of the sandbox when the command exits or jail dies.

mod child;
mod denials;
mod diagnose;
mod exec;
mod idle;
mod idmaps;
mod init;
mod netns;
mod parent;
mod placeholder;
mod proxy;
#[cfg(test)]
mod recorder;
mod report;
mod root;
mod supervise;
mod sync;
mod terminal;

pub use parent::launch;

/// Signals jail and its init pass on to the command.
pub const FORWARDED: [nix::sys::signal::Signal; 7] = {
    use nix::sys::signal::Signal::*;
    [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]
};

/// Signal `si_code` for signals the kernel sends itself, e.g. a terminal's ^C to its
/// foreground process group: the command, in that group too, already got it.
pub const SI_KERNEL: i32 = 0x80;

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
