//! The setup report: the child tells the parent why it failed, over a close-on-exec pipe. EOF
//! with no message means the command was exec'd.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

/// Writes `code` and a one-line message, then the caller exits with `code`.
pub fn send(pipe: &OwnedFd, code: u8, msg: &str) {
    let mut buf = Vec::with_capacity(msg.len() + 1);
    buf.push(code);
    buf.extend_from_slice(msg.as_bytes());
    if let Ok(dup) = pipe.try_clone() {
        let _ = std::fs::File::from(dup).write_all(&buf);
    }
}

/// Reports `msg` and ends the process with `code`: the sandbox's processes never return into
/// the parent's copied state, so no destructor or atexit handler runs.
pub fn fail(pipe: &OwnedFd, code: i32, msg: &str) -> ! {
    send(pipe, code as u8, msg);
    // SAFETY: _exit ends this process at once.
    unsafe { libc::_exit(code) }
}

/// Reads to EOF: `None` when the command was exec'd, else `(code, message)`.
pub fn receive(pipe: OwnedFd) -> Option<(u8, String)> {
    let mut buf = Vec::new();
    let _ = std::fs::File::from(pipe).read_to_end(&mut buf);
    let (&code, msg) = buf.split_first()?;
    Some((code, String::from_utf8_lossy(msg).into_owned()))
}
