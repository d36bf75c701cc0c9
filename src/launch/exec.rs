//! The last steps before the command runs, in a fixed order that is the security argument:
//! new session → chdir → environment → close descriptors → capabilities → no_new_privs →
//! Landlock → limits → seccomp → exec. The command's own programs come last, so they cannot
//! block the steps before them (the built-in filter, shared with init and loaded before the
//! fork, refuses none of them); Landlock needs no_new_privs; capabilities are set while the
//! process may still set them; the payload's CPU quota is set once jail's own work is done.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use landlock::RulesetCreated;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::stat::Mode;

use super::report::{self, Failure};
use crate::confine;
use crate::spec::Spec;
use crate::sys::errno_text;

/// A failed stage says why, and so which status jail exits with.
pub type StageResult = Result<(), Failure>;

/// The stages, so that their order is written once and tested with a recording fake.
pub trait Stages {
    fn new_session(&mut self) -> StageResult;
    fn chdir(&mut self) -> StageResult;
    fn environment(&mut self) -> StageResult;
    fn close_fds(&mut self) -> StageResult;
    fn capabilities(&mut self) -> StageResult;
    fn no_new_privs(&mut self) -> StageResult;
    fn landlock(&mut self) -> StageResult;
    /// With limits: tells jail the sandbox is ready and waits until the payload's own limits
    /// hold, so that jail's setup never runs under the command's CPU quota.
    fn limits(&mut self) -> StageResult;
    fn seccomp(&mut self) -> StageResult;
    /// Returns only on failure.
    fn exec(&mut self) -> StageResult;
}

/// Runs the stages in order; returns the failure (exec never returns on success).
pub fn run_stages<S: Stages>(s: &mut S) -> Failure {
    let stages: [fn(&mut S) -> StageResult; 10] = [
        S::new_session,
        S::chdir,
        S::environment,
        S::close_fds,
        S::capabilities,
        S::no_new_privs,
        S::landlock,
        S::limits,
        S::seccomp,
        S::exec,
    ];
    for stage in stages {
        if let Err(e) = stage(s) {
            return e;
        }
    }
    Failure::Setup("execve returned".into())
}

pub fn set_no_new_privs() -> Result<(), String> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("prctl(PR_SET_NO_NEW_PRIVS): {}", errno_text(Errno::last())));
    }
    Ok(())
}

pub struct Command<'a> {
    pub spec: &'a Spec,
    pub report_w: &'a OwnedFd,
    pub old_mask: SigSet,
    pub umask: Mode,
    pub ruleset: Option<RulesetCreated>,
    pub seccomp: &'a confine::seccomp::Programs,
    /// The socket to jail's seccomp supervisor, when a program notifies.
    pub notify: Option<&'a OwnedFd>,
    /// With limits: the sync pipe, for jail's "limits hold".
    pub sync: Option<OwnedFd>,
    /// The first program (the built-in policy) was loaded before the fork, for init too.
    pub shared_loaded: bool,
    /// What the bounding set still holds.
    pub bounding: confine::caps::Bounding<'a>,
    cwd: PathBuf,
    env: Vec<CString>,
}

fn cstring(s: &OsStr) -> CString {
    // Interior NULs cannot come from argv or the environment; drop them if they ever do.
    CString::new(s.as_bytes().iter().copied().filter(|b| *b != 0).collect::<Vec<u8>>()).unwrap_or_default()
}

fn failed(msg: String) -> Failure {
    Failure::Setup(msg)
}

impl<'a> Command<'a> {
    pub fn new(
        spec: &'a Spec,
        report_w: &'a OwnedFd,
        old_mask: SigSet,
        umask: Mode,
        ruleset: Option<RulesetCreated>,
        seccomp: &'a confine::seccomp::Programs,
        notify: Option<&'a OwnedFd>,
    ) -> Self {
        Command {
            spec,
            report_w,
            old_mask,
            umask,
            ruleset,
            seccomp,
            notify,
            sync: None,
            shared_loaded: false,
            bounding: confine::caps::Bounding::Full,
            cwd: PathBuf::from("/"),
            env: Vec::new(),
        }
    }

    /// Runs the stages; on failure reports over the pipe and exits with the stage's status.
    pub fn exec(mut self) -> ! {
        let failure = run_stages(&mut self);
        report::fail(self.report_w, failure)
    }

    /// Looks the command up in the sandbox's PATH, as a shell would.
    fn find(&self, name: &OsString, path: &OsStr) -> Result<PathBuf, Failure> {
        if name.as_bytes().contains(&b'/') {
            return Ok(PathBuf::from(name));
        }
        if let Ok(p) = which::which_in(name, Some(path), &self.cwd) {
            return Ok(p);
        }
        // Present but not executable is 126, like a shell; absent is 127.
        match std::env::split_paths(path).map(|d| d.join(name)).find(|p| p.is_file()) {
            Some(p) => Err(Failure::NotExecutable(format!("{}: {}", p.display(), errno_text(Errno::EACCES)))),
            None => Err(Failure::NotFound(format!(
                "{}: command not found in the sandbox (PATH={})",
                name.to_string_lossy(),
                path.to_string_lossy()
            ))),
        }
    }
}

impl Stages for Command<'_> {
    fn new_session(&mut self) -> StageResult {
        if self.spec.new_session {
            nix::unistd::setsid().map_err(|e| failed(format!("--new-session: setsid: {}", errno_text(e))))?;
        }
        Ok(())
    }

    fn chdir(&mut self) -> StageResult {
        let spec = self.spec;
        self.cwd = match &spec.chdir {
            Some(dir) => {
                nix::unistd::chdir(dir.as_path())
                    .map_err(|e| failed(format!("--chdir {}: chdir: {}", dir.display(), errno_text(e))))?;
                dir.clone()
            }
            // The caller's directory when it exists inside, as a shell user expects.
            None if nix::unistd::chdir(spec.caller_cwd.as_path()).is_ok() => spec.caller_cwd.clone(),
            None if spec.fallback_dir.as_ref().is_some_and(|d| nix::unistd::chdir(d.as_path()).is_ok()) => {
                spec.fallback_dir.clone().unwrap_or_default()
            }
            None => {
                let _ = nix::unistd::chdir(Path::new("/"));
                PathBuf::from("/")
            }
        };
        Ok(())
    }

    fn environment(&mut self) -> StageResult {
        let pwd = self.spec.set_pwd.then(|| (OsString::from("PWD"), self.cwd.clone().into_os_string()));
        self.env = self
            .spec
            .env
            .vars
            .iter()
            .filter(|(k, _)| pwd.is_none() || k != "PWD")
            .chain(pwd.iter())
            .map(|(k, v)| {
                let mut kv = k.clone();
                kv.push("=");
                kv.push(v);
                cstring(&kv)
            })
            .collect();
        Ok(())
    }

    fn close_fds(&mut self) -> StageResult {
        if self.spec.inherit_fds {
            // bubblewrap passes the caller's descriptors on, but not those given to options.
            for fd in self.spec.consumed_fds() {
                let _ = nix::unistd::close(fd);
            }
            return Ok(());
        }
        // Only stdin, stdout and stderr reach the command: everything else closes on exec.
        // SAFETY: close_range with integer arguments only.
        let ret = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
        if ret != 0 {
            return Err(failed(format!("close_range(3, ~0, CLOSE_RANGE_CLOEXEC): {}", errno_text(Errno::last()))));
        }
        Ok(())
    }

    fn capabilities(&mut self) -> StageResult {
        confine::caps::apply(&self.spec.caps, self.bounding).map_err(|e| failed(format!("{e:#}")))
    }

    fn no_new_privs(&mut self) -> StageResult {
        set_no_new_privs().map_err(failed)
    }

    fn landlock(&mut self) -> StageResult {
        let Some(rs) = self.ruleset.take() else { return Ok(()) };
        let missing = confine::landlock::restrict(rs, &self.spec.landlock).map_err(|e| failed(format!("{e:#}")))?;
        if self.spec.verbose && !missing.is_empty() {
            crate::say::warn(&format!("landlock: not enforced by this kernel: {}", missing.join(", ")));
        }
        Ok(())
    }

    fn limits(&mut self) -> StageResult {
        let Some(sync) = self.sync.take() else { return Ok(()) };
        report::ready(self.report_w);
        if !super::sync::wait_for(&sync, super::sync::GO) {
            // SAFETY: _exit ends this process at once; jail is gone.
            unsafe { libc::_exit(crate::exit::FAILURE) }
        }
        Ok(())
    }

    fn seccomp(&mut self) -> StageResult {
        let skip = usize::from(self.shared_loaded);
        for (i, prog) in self.seccomp.list.iter().enumerate().skip(skip) {
            let loaded = match (self.seccomp.listener == Some(i), self.notify) {
                (true, Some(sock)) => super::supervise::hand_over(sock, prog),
                (true, None) => Err(anyhow::anyhow!("seccomp: a notifying program without a supervisor")),
                (false, _) => confine::seccomp::load(std::slice::from_ref(prog)),
            };
            loaded.map_err(|e| failed(format!("{e:#}")))?;
        }
        Ok(())
    }

    fn exec(&mut self) -> StageResult {
        let spec = self.spec;
        let bwrap = spec.personality == crate::spec::Personality::Bwrap;
        // bubblewrap's words for a command that cannot run: "execvp NAME: strerror".
        let execvp = |errno: Errno| format!("execvp {}: {}", spec.argv_os[0].to_string_lossy(), errno.desc());
        let program = match self.find(&spec.argv_os[0], &spec.env.path()) {
            Err(Failure::NotFound(_)) if bwrap => return Err(Failure::NotFound(execvp(Errno::ENOENT))),
            Err(Failure::NotExecutable(_)) if bwrap => return Err(Failure::NotExecutable(execvp(Errno::EACCES))),
            r => r?,
        };
        let mut argv: Vec<CString> = spec.argv_os.iter().map(|a| cstring(a)).collect();
        if let Some(a0) = &spec.argv0_os {
            argv[0] = cstring(a0);
        }
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
        nix::sys::stat::umask(self.umask);
        let err = match nix::unistd::execve(&cstring(program.as_os_str()), &argv, &self.env) {
            Err(e) => e,
            Ok(never) => match never {},
        };
        let msg = if bwrap {
            execvp(err)
        } else if err == Errno::EACCES && program.is_dir() {
            format!("{}: is a directory, not a command", program.display())
        } else {
            format!("{}: execve: {}", program.display(), errno_text(err))
        };
        Err(if err == Errno::ENOENT { Failure::NotFound(msg) } else { Failure::NotExecutable(msg) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::launch::recorder::Recorder;

    fn step(r: &mut Recorder, name: &'static str) -> StageResult {
        r.step(name).map_err(Failure::Setup)
    }

    impl Stages for Recorder {
        fn new_session(&mut self) -> StageResult {
            step(self, "new_session")
        }
        fn chdir(&mut self) -> StageResult {
            step(self, "chdir")
        }
        fn environment(&mut self) -> StageResult {
            step(self, "environment")
        }
        fn close_fds(&mut self) -> StageResult {
            step(self, "close_fds")
        }
        fn capabilities(&mut self) -> StageResult {
            step(self, "capabilities")
        }
        fn no_new_privs(&mut self) -> StageResult {
            step(self, "no_new_privs")
        }
        fn landlock(&mut self) -> StageResult {
            step(self, "landlock")
        }
        fn limits(&mut self) -> StageResult {
            step(self, "limits")
        }
        fn seccomp(&mut self) -> StageResult {
            step(self, "seccomp")
        }
        fn exec(&mut self) -> StageResult {
            step(self, "exec")
        }
    }

    #[test]
    fn stages_run_in_the_fixed_order_with_seccomp_last() {
        let mut r = Recorder::default();
        run_stages(&mut r);
        assert_eq!(
            r.calls,
            [
                "new_session",
                "chdir",
                "environment",
                "close_fds",
                "capabilities",
                "no_new_privs",
                "landlock",
                "limits",
                "seccomp",
                "exec"
            ]
        );
    }

    #[test]
    fn a_failing_stage_stops_everything_after_it() {
        let mut r = Recorder { fail_at: Some("no_new_privs"), ..Default::default() };
        assert_eq!(run_stages(&mut r), Failure::Setup("no_new_privs".into()));
        assert_eq!(r.calls.last(), Some(&"no_new_privs"));
        assert!(!r.calls.contains(&"exec"));
    }
}
