//! What the command may do once it runs, applied in a fixed order just before exec:
//! capabilities, then no_new_privs, then Landlock, then seccomp (last, so it cannot block the
//! steps before it).

pub mod caps;
pub mod landlock;
pub mod seccomp;
pub use crate::spec::syscalls;
