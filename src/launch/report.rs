//! The setup report: the sandbox tells jail why it did not start, over a close-on-exec pipe.
//! EOF with no report means the command was exec'd (and init is confined).

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use crate::sys::linux::{wait_readable, Woke};

use crate::exit;

/// Why the sandbox did not start, as it reports it: what jail says, and the status it exits
/// with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Building or confining the sandbox failed.
    Setup(String),
    /// The command exists in the sandbox but cannot be executed.
    NotExecutable(String),
    /// There is no such command in the sandbox.
    NotFound(String),
}

impl Failure {
    pub fn status(&self) -> i32 {
        match self {
            Failure::Setup(_) => exit::FAILURE,
            Failure::NotExecutable(_) => exit::NOT_EXECUTABLE,
            Failure::NotFound(_) => exit::NOT_FOUND,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Setup(m) | Failure::NotExecutable(m) | Failure::NotFound(m) => m,
        }
    }

    /// A tag byte, then the message.
    fn encode(&self) -> Vec<u8> {
        let tag = match self {
            Failure::Setup(_) => b'S',
            Failure::NotExecutable(_) => b'X',
            Failure::NotFound(_) => b'N',
        };
        let mut buf = vec![tag];
        buf.extend_from_slice(self.message().as_bytes());
        buf
    }

    fn decode(buf: &[u8]) -> Option<Failure> {
        let (&tag, msg) = buf.split_first()?;
        let msg = String::from_utf8_lossy(msg).into_owned();
        Some(match tag {
            b'X' => Failure::NotExecutable(msg),
            b'N' => Failure::NotFound(msg),
            _ => Failure::Setup(msg),
        })
    }
}

/// Why the command did not start: the sandbox said why, or jail stopped waiting for its
/// setup (the setup still runs then, and jail ends it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotStarted {
    Reported(Failure),
    /// `--timeout` passed while the sandbox was still setting up.
    Timeout,
    /// jail got this terminating signal while the sandbox was still setting up.
    Interrupted(i32),
}

impl From<Failure> for NotStarted {
    fn from(f: Failure) -> NotStarted {
        NotStarted::Reported(f)
    }
}

/// Reports `failure`; the caller then ends.
pub fn send(pipe: &OwnedFd, failure: &Failure) {
    if let Ok(dup) = pipe.try_clone() {
        let _ = std::fs::File::from(dup).write_all(&failure.encode());
    }
}

/// Reports `failure` and ends the process with its status: the sandbox's processes never
/// return into the parent's copied state, so no destructor or atexit handler runs.
pub fn fail(pipe: &OwnedFd, failure: Failure) -> ! {
    send(pipe, &failure);
    // SAFETY: _exit ends this process at once.
    unsafe { libc::_exit(failure.status()) }
}

/// A setup step failed: reports `msg` and ends.
pub fn setup_failed(pipe: &OwnedFd, msg: &str) -> ! {
    fail(pipe, Failure::Setup(msg.to_string()))
}

/// The tag of "ready to run the command": sent only with limits, whose last step waits for it.
const READY: u8 = b'R';

/// Tells jail that the command's process has done all of jail's work but seccomp and exec.
pub fn ready(pipe: &OwnedFd) {
    let _ = nix::unistd::write(pipe, &[READY]);
}

/// How long jail waits for the sandbox's setup: until `--timeout`'s deadline, and not past a
/// signal on `interrupts` (a signalfd of the signals that stop jail).
#[derive(Debug, Clone, Copy, Default)]
pub struct SetupWait<'a> {
    pub deadline: Option<Instant>,
    pub interrupts: Option<&'a nix::sys::signalfd::SignalFd>,
}

impl SetupWait<'_> {
    /// Waits until `fd` can be read: `Err` when the wait ended first.
    pub fn until_readable(&self, fd: &OwnedFd) -> Result<(), NotStarted> {
        match wait_readable(fd, self.deadline, self.interrupts) {
            Woke::Readable => Ok(()),
            Woke::Late => Err(NotStarted::Timeout),
            Woke::Interrupted(sig) => Err(NotStarted::Interrupted(sig)),
        }
    }
}

/// Waits for [`ready`]: `Err(Some(why))` when setup failed first (or the wait ended),
/// `Err(None)` when the sandbox ended without a word.
pub fn await_ready(pipe: &OwnedFd, wait: SetupWait) -> Result<(), Option<NotStarted>> {
    let mut tag = [0u8; 1];
    loop {
        wait.until_readable(pipe).map_err(Some)?;
        match nix::unistd::read(pipe.as_raw_fd(), &mut tag) {
            Ok(1) if tag[0] == READY => return Ok(()),
            Ok(1) => break,
            Err(nix::errno::Errno::EINTR) => {}
            _ => return Err(None),
        }
    }
    let mut buf = tag.to_vec();
    read_to_eof(pipe, &mut buf, wait).map_err(Some)?;
    Err(Failure::decode(&buf).map(NotStarted::from))
}

/// Reads to EOF: `None` when the command was exec'd, else why not.
pub fn receive(pipe: OwnedFd, wait: SetupWait) -> Option<NotStarted> {
    let mut buf = Vec::new();
    match read_to_eof(&pipe, &mut buf, wait) {
        Ok(()) => Failure::decode(&buf).map(NotStarted::from),
        Err(why) => Some(why),
    }
}

/// Appends what `pipe` holds until its writers are gone, unless the wait ends first.
fn read_to_eof(pipe: &OwnedFd, buf: &mut Vec<u8>, wait: SetupWait) -> Result<(), NotStarted> {
    let mut chunk = [0u8; 512];
    loop {
        wait.until_readable(pipe)?;
        match nix::unistd::read(pipe.as_raw_fd(), &mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(nix::errno::Errno::EINTR) => {}
            // Nothing more can come.
            Err(_) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_keeps_its_kind_and_message_across_the_pipe() {
        for f in [Failure::Setup("a".into()), Failure::NotExecutable("b: x".into()), Failure::NotFound("ü".into())] {
            assert_eq!(Failure::decode(&f.encode()), Some(f.clone()));
        }
        assert_eq!(Failure::decode(b""), None);
        // A failure before the sandbox is ready keeps its tag through the wait for "ready".
        let (r, w) = nix::unistd::pipe().unwrap();
        ready(&w);
        send(&w, &Failure::NotFound("x".into()));
        drop(w);
        assert_eq!(await_ready(&r, SetupWait::default()), Ok(()));
        assert_eq!(await_ready(&r, SetupWait::default()), Err(Some(Failure::NotFound("x".into()).into())));
        assert_eq!(await_ready(&r, SetupWait::default()), Err(None));
        assert_eq!(Failure::NotFound(String::new()).status(), exit::NOT_FOUND);
    }

    #[test]
    fn a_silent_setup_ends_the_waits_at_the_deadline_and_a_finished_one_does_not() {
        let soon =
            || SetupWait { deadline: Some(Instant::now() + std::time::Duration::from_millis(50)), interrupts: None };
        // The writer stays open and silent, as a setup that hangs.
        let (r, w) = nix::unistd::pipe().unwrap();
        let t = Instant::now();
        assert_eq!(await_ready(&r, soon()), Err(Some(NotStarted::Timeout)));
        assert_eq!(receive(r.try_clone().unwrap(), soon()), Some(NotStarted::Timeout));
        assert!(t.elapsed() >= std::time::Duration::from_millis(100));
        // Half a report, then silence: still bounded.
        nix::unistd::write(&w, b"Sbind").unwrap();
        assert_eq!(receive(r, soon()), Some(NotStarted::Timeout));
        // The writer gone (exec, or a failure sent): what came is the answer, deadline or not.
        let (r, w) = nix::unistd::pipe().unwrap();
        send(&w, &Failure::Setup("bind: ENOENT".into()));
        drop(w);
        assert_eq!(receive(r, soon()), Some(Failure::Setup("bind: ENOENT".into()).into()));
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(w);
        assert_eq!(receive(r, soon()), None);
    }
}
