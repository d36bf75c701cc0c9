//! Runs a [`Spec`](crate::spec::Spec). Each process's order is a stage list written once, with
//! a one-line reason per step, and unit-tested as a sequence with a recording fake: jail's
//! own (`parent::Stages`), the sandbox's first process (`child::Stages`), the root it builds
//! (`root::build`, through `Sys`), init's (`init::Stages`) and the command's (`exec::Stages`).
//! Together, and why:
//!
//! ```text
//! parent (jail, outside)                    child (pid 1 of the new pid namespace)
//!  block forwarded signals + SIGCHLD         PR_SET_PDEATHSIG: never outlive jail
//!  limits: cgroup v2 and a backend at hand   map its own ids (one uid, one gid) or wait for
//!  --protect placeholders (+ their janitor)    jail's; a hang-up on the sync pipe (kept open
//!  join --userns; clone(new user, mount, ...)  by jail) = jail died: exit
//!  limits: ask for the scope (one write)     make / rprivate: no propagation either way
//!  fork the network namespace's helper: it   scratch tmpfs, pivot into it, host at /oldroot
//!    enters the sandbox's user namespace,    apply the filesystem steps in order
//!    makes one, lo up, sends it ─────────▶   pivot into the new root, detach the old one
//!  own process group (+ the terminal)        enter the helper's network namespace (or lo up)
//!  the maps, if the sandbox cannot write     hostname, --allow-host's listener to jail
//!    its own; --info-fd: child pid           --userns2, --disable-userns, the block fd, locks
//!  (--userns-block-fd: the caller maps)      limits: wait until moved, then make the cgroup
//!  release the child ───────────────────▶      namespace (rooted at payload)
//!  limits: scope ready, jail → supervisor,   not dumpable; wait for the release, fork the
//!    child → payload, read back ─────────▶     command (dumpable again); stay as init: reap,
//!  limits: on "ready", the payload's quota     forward; init: no fds, no caps, seccomp;
//!    (never during jail's setup) ────────▶     then lets the setup report close
//!  serve --allow-host's proxy
//!  take the seccomp listener (reports)
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
