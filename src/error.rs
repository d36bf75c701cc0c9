//! How system errors read in jail's messages, shared by the plan and what executes it.

use nix::errno::Errno;

/// `ENOENT (No such file or directory)`.
pub fn errno_text(errno: Errno) -> String {
    format!("{errno:?} ({})", errno.desc())
}

/// The errno of an I/O error (EIO when it carries none).
pub fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}
