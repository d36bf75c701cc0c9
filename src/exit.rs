//! jail's exit statuses. Otherwise jail exits with the command's status, or 128+N when the
//! command died of signal N.

/// jail itself failed: bad usage, or the sandbox could not be set up.
pub const FAILURE: i32 = 125;
/// The command was found but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The command was not found inside the sandbox.
pub const NOT_FOUND: i32 = 127;
