//! Runs a [`Spec`](crate::spec::Spec). The stages, in order, and why:
//!
//! ```text
//! parent (jail, outside)                    child (pid 1 of the new pid namespace)
//!  block forwarded signals + SIGCHLD         PR_SET_PDEATHSIG: never outlive jail
//!  cgroup scope (limits), read back          wait for the id maps; a hang-up on the sync
//!  --protect placeholders (+ their janitor)    pipe (kept open by jail) = jail died: exit
//!  join --userns; clone(new user, mount, ...) make / rprivate: no propagation either way
//!  write setgroups/uid_map/gid_map           scratch tmpfs, pivot into it, host at /oldroot
//!  --info-fd / --json-status-fd: child pid   apply the filesystem steps in order
//!  (--userns-block-fd: the caller maps)      pivot into the new root, detach the old one
//!  release the child ───────────────────▶   hostname, lo up, --allow-host's listener to jail
//!  serve --allow-host's proxy                --userns2, --disable-userns, the block fd, locks
//!  take the seccomp listener (reports)       fork the command; stay as init: reap, forward
//!  read the setup report (EOF = started)     init: non-dumpable, no fds, no caps, seccomp;
//!  own process group (+ the terminal)          then lets the setup report close
//!  forward signals, mirror stops, answer
//!  seccomp notifications, wait; report
//! command: new session → chdir → env → close fds → capabilities → no_new_privs → Landlock
//!          → seccomp (hands its listener to jail) → exec (errors go back over the report)
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
mod init;
mod parent;
mod placeholder;
mod proxy;
#[cfg(test)]
mod recorder;
mod report;
mod supervise;
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
