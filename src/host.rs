//! The host probe: what the plan needs to know of the running system, gathered once.

use crate::spec::Host;

pub fn probe() -> Host {
    Host {
        landlock_abi: crate::confine::landlock::kernel_abi(),
        kernel_release: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}
