//! The sync pipe, parent to sandbox: one byte per step the sandbox must wait for, in this
//! order. jail keeps its end open for as long as it lives, so EOF means jail died.

use std::os::fd::{AsRawFd, OwnedFd};

/// The id maps are written: the sandbox may build its root.
pub const MAPPED: &[u8] = b"1";
/// With limits: the sandbox's first process is in its payload leaf, so what it forks from
/// now on is born there (and a cgroup namespace it makes is rooted there).
pub const MOVED: &[u8] = b"M";
/// With limits: the payload's own limits (the CPU quota) hold; the command may run. Sent
/// once the command's process reported itself ready (everything but seccomp and exec done).
pub const GO: &[u8] = b"G";

/// Reads until `step`'s byte; false on EOF or error (jail is gone).
pub fn wait_for(pipe: &OwnedFd, step: &[u8]) -> bool {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(pipe.as_raw_fd(), &mut byte) {
            Ok(1) if byte[..] == *step => return true,
            Ok(1) | Err(nix::errno::Errno::EINTR) => {}
            _ => return false,
        }
    }
}
