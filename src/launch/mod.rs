//! Runs a [`Spec`](crate::spec::Spec). Each process's order is a stage list written once, with
//! a one-line reason per step, and unit-tested as a sequence with a recording fake: jail's
//! own (`parent::Stages`), the sandbox's first process (`child::Stages`), the root it builds
//! (`root::build`, through `Sys`), init's (`init::Stages`) and the command's (`exec::Stages`).
//! Together, and why:
//!
//! ```text
//! parent (jail, outside)                    child (pid 1 of the new pid namespace)
//!  block forwarded signals + SIGCHLD         PR_SET_PDEATHSIG: never outlive jail
//!  limits: cgroup v2 and a backend at hand   wait for the id maps; a hang-up on the sync
//!  --protect placeholders (+ their janitor)    pipe (kept open by jail) = jail died: exit
//!  join --userns; clone(new user, mount, ...) make / rprivate: no propagation either way
//!  limits: ask for the scope (one write)     scratch tmpfs, pivot into it, host at /oldroot
//!  write setgroups/uid_map/gid_map           apply the filesystem steps in order
//!  --info-fd / --json-status-fd: child pid   pivot into the new root, detach the old one
//!  (--userns-block-fd: the caller maps)      hostname, lo up, --allow-host's listener to jail
//!  release the child ───────────────────▶   --userns2, --disable-userns, the block fd, locks
//!  fork the network namespace's helper: it   (made beside: enter the network namespace the
//!    makes one in the sandbox's user ns,       helper sent, lo already up, after the pivot)
//!    lo up, sends it ─────────────────────▶
//!  limits: scope ready, jail → supervisor,   limits: wait until moved, then make the cgroup
//!    child → payload, read back ─────────▶     namespace (rooted at payload)
//!  limits: on "ready", the payload's quota   fork the command; stay as init: reap, forward
//!    (never during jail's setup) ────────▶   init: non-dumpable, no fds, no caps, seccomp;
//!  serve --allow-host's proxy                  then lets the setup report close
//!  take the seccomp listener (reports)
//!  read the setup report (EOF = started)
//!  own process group (+ the terminal)
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
