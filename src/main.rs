//! The binary: argv to [`jail::run`], its status to the exit code.
//!
//! No Rust `main`: the runtime's start-up would set SIGPIPE to ignored before any code of
//! jail's runs, and an ignored signal stays ignored across exec. Taking the C entry point
//! leaves every disposition as jail received it, so the command starts with them too.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use std::ffi::{c_char, c_int, CStr, OsString};
#[cfg(not(test))]
use std::os::unix::ffi::OsStringExt;

/// dlmalloc rather than the C library's malloc. A launch makes about 900 allocations, 800 frees
/// and 300 reallocations across jail's processes; musl's malloc (make's build) hands emptied
/// pages back to the kernel at once, so a launch paid munmap calls and fresh page faults for
/// memory it used again a moment later, besides the allocator's own bookkeeping: 0.25-0.33 ms
/// of a 3 ms launch in interleaved runs here. dlmalloc keeps what it was given (it trims only
/// past 2 MiB free), and jail's launcher stays as small (PSS unchanged, `make bench`). Its lock
/// is a plain mutex: jail never starts a thread, so no fork or clone can copy it held.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let args: Vec<OsString> = (0..argc.max(0) as usize)
        .map(|i| {
            // SAFETY: the C runtime passes argc valid, NUL-terminated strings in argv.
            let arg = unsafe { CStr::from_ptr(*argv.add(i)) };
            OsString::from_vec(arg.to_bytes().to_vec())
        })
        .collect();
    // process::exit flushes std's buffered stdout, which returning to C would not.
    std::process::exit(jail::run(args))
}
