//! The host probe: what the plan needs to know of the running system and the caller, gathered
//! once, before the plan is made.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use std::os::fd::RawFd;

use nix::errno::Errno;

use crate::error::{errno_of, errno_text};
use crate::spec::{FileKind, Host, HostFiles};

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
        caps: if nix::unistd::geteuid().is_root() {
            caps::read(None, caps::CapSet::Effective)
                .map(|s| s.iter().map(|c| c.to_string()).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        },
    })
}

/// The live host's answers to the plan's questions ([`HostFiles`]).
pub struct Live;

impl HostFiles for Live {
    fn stat(&self, path: &Path) -> Result<FileKind, Errno> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Ok(FileKind::Dir),
            Ok(_) => Ok(FileKind::Other),
            Err(e) => Err(errno_of(&e)),
        }
    }

    fn read(&self, path: &Path) -> Result<String, Errno> {
        std::fs::read_to_string(path).map_err(|e| errno_of(&e))
    }

    fn fd_open(&self, fd: RawFd) -> bool {
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_ok()
    }

    fn names(&self, uid: u32, gid: u32) -> (Vec<String>, Vec<String>) {
        let found = nix::unistd::User::from_uid(uid.into()).ok().flatten().map(|u| u.name);
        let user = user_name(found, std::env::var("USER").ok());
        let group = nix::unistd::Group::from_gid(gid.into()).ok().flatten().map(|g| g.name);
        (user.into_iter().collect(), group.into_iter().collect())
    }

    fn program(&self, name: &str) -> Option<PathBuf> {
        which::which(name).ok()
    }

    fn selinux(&self) -> bool {
        Path::new("/sys/fs/selinux/enforce").exists()
    }

    fn owner(&self, path: &Path) -> Option<u32> {
        std::os::unix::fs::MetadataExt::uid(&std::fs::symlink_metadata(path).ok()?).into()
    }
}

/// The caller's user name, to find their lines in /etc/subuid: the password database's, else
/// the login's `$USER`. A musl build has no NSS (it reads /etc/passwd and asks nscd), so a
/// user known only through LDAP or sss has no name there. A wrong `$USER` gains nothing:
/// newuidmap checks the ranges against its own lookup and refuses.
fn user_name(found: Option<String>, env_user: Option<String>) -> Option<String> {
    found.or(env_user.filter(|n| !n.is_empty() && !n.contains([':', '\n'])))
}

#[cfg(test)]
mod tests {
    use super::user_name;

    #[test]
    fn the_database_wins_and_user_stands_in_only_when_it_has_no_answer() {
        assert_eq!(user_name(Some("ann".into()), Some("bob".into())), Some("ann".into()));
        assert_eq!(user_name(None, Some("bob".into())), Some("bob".into()));
        assert_eq!(user_name(None, Some(String::new())), None);
        assert_eq!(user_name(None, Some("a:b".into())), None);
        assert_eq!(user_name(None, None), None);
    }
}
