//! jail's messages on stderr, one line each, in the voice of the front end that was called:
//! `jail: ...`, or `bwrap: ...` when invoked as bubblewrap, where `--level-prefix` puts the
//! syslog level first (`<3>` for errors, `<4>` for warnings) as bubblewrap does.
//!
//! The voice is chosen once, before anything forks, so every process of the launch speaks it.

use std::sync::atomic::{AtomicU8, Ordering};

const BWRAP: u8 = 1;
const LEVELS: u8 = 2;

static VOICE: AtomicU8 = AtomicU8::new(0);

/// Speak as bubblewrap (`bwrap: `), with or without syslog levels.
pub fn as_bwrap(level_prefix: bool) {
    VOICE.store(BWRAP | if level_prefix { LEVELS } else { 0 }, Ordering::Relaxed);
}

/// The program name messages start with.
pub fn name() -> &'static str {
    if VOICE.load(Ordering::Relaxed) & BWRAP != 0 {
        "bwrap"
    } else {
        "jail"
    }
}

fn line(level: u8, msg: &str) -> String {
    let v = VOICE.load(Ordering::Relaxed);
    let level = if v & LEVELS != 0 { format!("<{level}>") } else { String::new() };
    format!("{level}{}: {msg}\n", name())
}

/// Something failed.
pub fn error(msg: &str) {
    eprint!("{}", line(3, msg));
}

/// Something worth knowing that does not stop the launch.
pub fn warn(msg: &str) {
    eprint!("{}", line(4, msg));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_name_and_with_levels_the_syslog_level() {
        assert_eq!(line(3, "x"), "jail: x\n");
        as_bwrap(true);
        assert_eq!(
            line(4, "Only the last --chdir option will take effect"),
            "<4>bwrap: Only the last --chdir option will take effect\n"
        );
        as_bwrap(false);
        assert_eq!(line(3, "x"), "bwrap: x\n");
        VOICE.store(0, Ordering::Relaxed);
    }
}
