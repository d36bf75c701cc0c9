//! The last steps before the command runs, in a fixed order:
//! new session → chdir → environment → close descriptors → capabilities → exec.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::stat::Mode;

use super::report;
use crate::exit;
use crate::spec::Spec;
use crate::sys::errno_text;

pub struct Command<'a> {
    pub spec: &'a Spec,
    pub report_w: &'a OwnedFd,
    pub old_mask: SigSet,
    pub umask: Mode,
}

fn cstring(s: &OsStr) -> CString {
    // Interior NULs cannot come from argv or the environment; drop them if they ever do.
    CString::new(s.as_bytes().iter().copied().filter(|b| *b != 0).collect::<Vec<u8>>()).unwrap_or_default()
}

impl Command<'_> {
    fn fail(&self, code: i32, msg: &str) -> ! {
        report::send(self.report_w, code as u8, msg);
        // SAFETY: ends this process without unwinding into the copied parent state.
        unsafe { libc::_exit(code) }
    }

    pub fn exec(self) -> ! {
        let spec = self.spec;
        if spec.new_session {
            if let Err(e) = nix::unistd::setsid() {
                self.fail(exit::FAILURE, &format!("--new-session: setsid: {}", errno_text(e)));
            }
        }
        let cwd = match &spec.chdir {
            Some(dir) => match nix::unistd::chdir(dir.as_path()) {
                Ok(()) => dir.clone(),
                Err(e) => self.fail(exit::FAILURE, &format!("--chdir {}: chdir: {}", dir.display(), errno_text(e))),
            },
            // The caller's directory when it exists inside, as a shell user expects.
            None if nix::unistd::chdir(spec.caller_cwd.as_path()).is_ok() => spec.caller_cwd.clone(),
            None => PathBuf::from("/"),
        };
        let env: Vec<CString> = spec
            .env
            .vars
            .iter()
            .map(|(k, v)| {
                let mut kv = k.clone();
                kv.push("=");
                kv.push(v);
                cstring(&kv)
            })
            .collect();
        let program = self.find(&spec.argv_os[0], &spec.env.path(), &cwd);

        // Only stdin, stdout and stderr reach the command.
        // SAFETY: close_range with integer arguments only.
        unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
        if let Err(e) = crate::confine::caps::apply(&spec.caps) {
            self.fail(exit::FAILURE, &format!("{e:#}"));
        }
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
        nix::sys::stat::umask(self.umask);

        let mut argv: Vec<CString> = spec.argv_os.iter().map(|a| cstring(a)).collect();
        if let Some(a0) = &spec.argv0 {
            argv[0] = cstring(OsStr::new(a0));
        }
        let path = cstring(program.as_os_str());
        let err = nix::unistd::execve(&path, &argv, &env).unwrap_err();
        let code = if err == Errno::ENOENT { exit::NOT_FOUND } else { exit::NOT_EXECUTABLE };
        self.fail(code, &format!("{}: execve: {}", program.display(), errno_text(err)))
    }

    /// Looks the command up in the sandbox's PATH, as a shell would.
    fn find(&self, name: &OsString, path: &OsStr, cwd: &Path) -> PathBuf {
        if name.as_bytes().contains(&b'/') {
            return PathBuf::from(name);
        }
        if let Ok(p) = which::which_in(name, Some(path), cwd) {
            return p;
        }
        // Present but not executable is 126, like a shell; absent is 127.
        let present = std::env::split_paths(path).map(|d| d.join(name)).find(|p| p.is_file());
        match present {
            Some(p) => self.fail(exit::NOT_EXECUTABLE, &format!("{}: {}", p.display(), errno_text(Errno::EACCES))),
            None => self.fail(
                exit::NOT_FOUND,
                &format!(
                    "{}: command not found in the sandbox (PATH={})",
                    name.to_string_lossy(),
                    path.to_string_lossy()
                ),
            ),
        }
    }
}
