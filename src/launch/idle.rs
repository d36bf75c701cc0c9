//! What a launcher process gives back once the sandbox runs. jail's parent and init stay for
//! the sandbox's whole life, but most pages of the binary served only its setup: once the
//! command has run a while, they drop the binary's read-only image from their page tables
//! (it faults back in from the page cache as far as the waiting loop needs it) and return the
//! heap's free memory.

use std::time::Duration;

/// How long the command runs before its launchers trim: commands that end sooner never pay.
pub const AFTER: Duration = Duration::from_millis(50);

extern "C" {
    /// The first byte of the binary's image, and the end of its code (set by the linker).
    static __executable_start: u8;
    static etext: u8;
}

pub fn trim() {
    // Only the addresses of the linker's symbols are taken, never their contents.
    let (start, end) = (std::ptr::addr_of!(__executable_start) as usize, std::ptr::addr_of!(etext) as usize);
    // SAFETY: sysconf with a constant name.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let (start, end) = (start & !(page - 1), (end + page - 1) & !(page - 1));
    // SAFETY: the range is the image's headers, read-only data and code, mapped read-only from
    // the binary and never written: dropping the pages loses nothing (the kernel refuses
    // writes to a running executable, so they come back unchanged).
    unsafe { libc::madvise(start as *mut libc::c_void, end.saturating_sub(start), libc::MADV_DONTNEED) };
    // SAFETY: malloc_trim only hands free heap memory back to the kernel.
    unsafe { libc::malloc_trim(0) };
}
