//! The host probe: what the plan needs to know of the running system and the caller, gathered
//! once, before the plan is made.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use crate::error::{errno_of, errno_text};
use crate::spec::Host;

pub fn probe() -> Result<Host> {
    let cwd = std::env::current_dir().map_err(|e| anyhow!("getcwd: {}", errno_text(errno_of(&e))))?;
    Ok(Host {
        landlock_abi: crate::confine::landlock::kernel_abi(),
        kernel_release: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cwd,
        home: std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_absolute() && h != Path::new("/")),
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
        env: std::env::vars_os().collect(),
        selinux: Path::new("/sys/fs/selinux/enforce").exists(),
        caps: if nix::unistd::geteuid().is_root() {
            caps::read(None, caps::CapSet::Effective)
                .map(|s| s.iter().map(|c| c.to_string()).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        },
    })
}
