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
