//! What the command may do once it runs: capabilities, then no_new_privs, then Landlock, then
//! seccomp (last, so it cannot block the steps before it). The command's order is
//! `launch::exec::Stages`; jail's init takes no_new_privs and Landlock before it forks the
//! command (so the command's domain nests in init's) and the rest in `launch::init::Stages`.

pub mod caps;
pub mod landlock;
pub mod seccomp;
pub use crate::spec::syscalls;
