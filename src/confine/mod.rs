//! What the command may do once it runs: capabilities now; Landlock and seccomp follow the
//! same shape (a resolved plan in the Spec, applied in a fixed order just before exec).

pub mod caps;
