//! jail's exit statuses. Otherwise jail exits with the command's status, or 128+N when the
//! command died of signal N.

/// jail itself failed: bad usage, or the sandbox could not be set up.
pub const FAILURE: i32 = 125;
/// The command was found but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The command was not found inside the sandbox.
pub const NOT_FOUND: i32 = 127;
/// `--timeout` stopped the command.
pub const TIMEOUT: i32 = 124;

/// The status of a process killed by signal `sig`, as a shell reports it.
pub const fn signaled(sig: i32) -> i32 {
    128 + sig
}

/// The signal behind a status of [`signaled`], if it is one.
pub fn signal_of(status: i32) -> Option<i32> {
    (129..160).contains(&status).then_some(status - 128)
}
