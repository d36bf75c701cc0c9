//! The filesystem options, one row each: flag, value names, help, the modifiers it takes and
//! how it becomes a plan step. Adding an option is adding a row (and its executor and tests).

use std::ffi::OsString;
use std::path::PathBuf;

use super::values;
use crate::spec::{BindMode, FsOp, OverlayUpper};

/// `--perms`, `--size` and `--overlay-src` given right before the option.
#[derive(Default)]
pub struct Modifiers {
    pub perms: Option<u32>,
    pub size: Option<u64>,
    /// Overlay layers, bottom first.
    pub lower: Vec<PathBuf>,
}

pub struct FsOption {
    pub flag: &'static str,
    pub values: &'static [&'static str],
    pub help: &'static str,
    /// Empty: the short help is all.
    pub long: &'static str,
    /// Takes a preceding `--perms` / `--size`.
    pub perms: bool,
    pub size: bool,
    /// An overlay: how many `--overlay-src` it needs at least (0: it takes none).
    pub layers: usize,
    /// The step, from exactly `values.len()` values (clap guarantees the count).
    pub build: fn(&[OsString], Modifiers) -> Result<FsOp, String>,
}

fn path(v: &OsString) -> PathBuf {
    PathBuf::from(v)
}

fn fd(flag: &str, v: &OsString) -> Result<i32, String> {
    values::fd(&v.to_string_lossy()).map_err(|e| format!("--{flag}: {e}"))
}

fn bind(v: &[OsString], mode: BindMode, optional: bool) -> FsOp {
    FsOp::Bind { src: path(&v[0]), dest: path(&v[1]), mode, optional }
}

const SRC_DEST: &[&str] = &["SRC", "DEST"];
const DEST: &[&str] = &["DEST"];

/// A row with no modifiers and no long help.
const fn row(
    flag: &'static str,
    values: &'static [&'static str],
    help: &'static str,
    build: fn(&[OsString], Modifiers) -> Result<FsOp, String>,
) -> FsOption {
    FsOption { flag, values, help, long: "", perms: false, size: false, layers: 0, build }
}

pub const TABLE: &[FsOption] = &[
    FsOption {
        long: "Bind the host path SRC (a directory or a file) at DEST inside the sandbox, writable, with \
               everything mounted beneath it. Setuid bits and device nodes have no effect.",
        ..row("bind", SRC_DEST, "Bind SRC at DEST, writable", |v, _| Ok(bind(v, BindMode::ReadWrite, false)))
    },
    row("bind-try", SRC_DEST, "Like --bind, but skip if SRC does not exist", |v, _| {
        Ok(bind(v, BindMode::ReadWrite, true))
    }),
    FsOption {
        long: "Bind SRC at DEST read-only, including every mount beneath SRC. Costs the same for any \
               number of submounts (one open_tree, one mount_setattr, one move_mount).",
        ..row("ro-bind", SRC_DEST, "Bind SRC at DEST, read-only all the way down", |v, _| {
            Ok(bind(v, BindMode::ReadOnly, false))
        })
    },
    row("ro-bind-try", SRC_DEST, "Like --ro-bind, but skip if SRC does not exist", |v, _| {
        Ok(bind(v, BindMode::ReadOnly, true))
    }),
    row("dev-bind", SRC_DEST, "Bind SRC at DEST, writable, device nodes usable", |v, _| {
        Ok(bind(v, BindMode::Devices, false))
    }),
    row("dev-bind-try", SRC_DEST, "Like --dev-bind, but skip if SRC does not exist", |v, _| {
        Ok(bind(v, BindMode::Devices, true))
    }),
    row("remount-ro", DEST, "Make the mount at DEST (and beneath it) read-only", |v, _| {
        Ok(FsOp::RemountRo { dest: path(&v[0]) })
    }),
    FsOption {
        perms: true,
        size: true,
        ..row("tmpfs", DEST, "Mount an empty tmpfs at DEST (see --size, --perms)", |v, m| {
            Ok(FsOp::Tmpfs { dest: path(&v[0]), size: m.size, perms: m.perms.unwrap_or(0o755) })
        })
    },
    FsOption {
        long: "Mount a procfs for the sandbox's pid namespace at DEST. With --share-pid the host's /proc \
               is bound instead.",
        ..row("proc", DEST, "Mount a fresh procfs at DEST", |v, _| Ok(FsOp::Proc { dest: path(&v[0]) }))
    },
    FsOption {
        long: "Mount a tmpfs at DEST holding null, zero, full, random, urandom and tty, a private devpts \
               at pts, a tmpfs at shm, and the usual fd, stdin, stdout, stderr and ptmx links.",
        ..row("dev", DEST, "Mount a minimal /dev at DEST", |v, _| Ok(FsOp::Dev { dest: path(&v[0]) }))
    },
    row("mqueue", DEST, "Mount a POSIX message queue filesystem at DEST", |v, _| {
        Ok(FsOp::Mqueue { dest: path(&v[0]) })
    }),
    FsOption {
        perms: true,
        ..row("dir", DEST, "Create a directory at DEST (see --perms)", |v, m| {
            Ok(FsOp::Dir { dest: path(&v[0]), perms: m.perms })
        })
    },
    row("symlink", &["TARGET", "DEST"], "Create a symbolic link at DEST pointing to TARGET", |v, _| {
        Ok(FsOp::Symlink { target: path(&v[0]), dest: path(&v[1]) })
    }),
    FsOption {
        perms: true,
        ..row("file", &["FD", "DEST"], "Copy the data read from FD into a new file at DEST", |v, m| {
            Ok(FsOp::File { fd: fd("file", &v[0])?, dest: path(&v[1]), perms: m.perms.unwrap_or(0o644) })
        })
    },
    FsOption {
        perms: true,
        ..row("bind-data", &["FD", "DEST"], "Bind a file holding the data read from FD at DEST", |v, m| {
            let fd = fd("bind-data", &v[0])?;
            Ok(FsOp::BindData { fd, dest: path(&v[1]), perms: m.perms.unwrap_or(0o644), readonly: false })
        })
    },
    FsOption {
        perms: true,
        ..row("ro-bind-data", &["FD", "DEST"], "Like --bind-data, read-only", |v, m| {
            let fd = fd("ro-bind-data", &v[0])?;
            Ok(FsOp::BindData { fd, dest: path(&v[1]), perms: m.perms.unwrap_or(0o644), readonly: true })
        })
    },
    row("chmod", &["OCTAL", "PATH"], "Change the mode of PATH inside the sandbox", |v, _| {
        let mode = values::octal(&v[0].to_string_lossy()).map_err(|e| format!("--chmod: {e}"))?;
        Ok(FsOp::Chmod { path: path(&v[1]), perms: mode })
    }),
    FsOption {
        long: "Bind what the descriptor FD has open (a directory or a file, opened by the caller) at \
               DEST, writable. The path FD was opened at must still name the same file.",
        ..row("bind-fd", &["FD", "DEST"], "Bind what descriptor FD has open at DEST, writable", |v, _| {
            Ok(FsOp::BindFd { fd: fd("bind-fd", &v[0])?, dest: path(&v[1]), readonly: false })
        })
    },
    row("ro-bind-fd", &["FD", "DEST"], "Like --bind-fd, read-only", |v, _| {
        Ok(FsOp::BindFd { fd: fd("ro-bind-fd", &v[0])?, dest: path(&v[1]), readonly: true })
    }),
    FsOption {
        layers: 1,
        long: "Mount an overlay at DEST: the directories given with --overlay-src before it (the \
               last one on top) under the host directory RWSRC, which receives every change; \
               WORKDIR is overlayfs's scratch directory on the same filesystem as RWSRC.",
        ..row(
            "overlay",
            &["RWSRC", "WORKDIR", "DEST"],
            "Overlay at DEST, changes kept in RWSRC (see --overlay-src)",
            |v, m| {
                let upper = OverlayUpper::Dirs { upper: path(&v[0]), work: path(&v[1]) };
                Ok(FsOp::Overlay { lower: m.lower, upper, dest: path(&v[2]) })
            },
        )
    },
    FsOption {
        layers: 1,
        long: "Mount an overlay at DEST over the --overlay-src directories before it, with changes \
               on a tmpfs that vanishes with the sandbox: a build writes freely over a read-only \
               tree, and the tree is never changed.",
        ..row("tmp-overlay", DEST, "Overlay at DEST, changes on a tmpfs (see --overlay-src)", |v, m| {
            Ok(FsOp::Overlay { lower: m.lower, upper: OverlayUpper::Tmpfs, dest: path(&v[0]) })
        })
    },
    FsOption {
        layers: 2,
        ..row("ro-overlay", DEST, "Read-only overlay at DEST of two or more --overlay-src", |v, m| {
            Ok(FsOp::Overlay { lower: m.lower, upper: OverlayUpper::ReadOnly, dest: path(&v[0]) })
        })
    },
];

/// The message for an overlay given too few layers.
pub fn too_few_layers(o: &FsOption) -> String {
    let n = if o.layers == 1 { "one" } else { "two" };
    format!("--{} requires at least {n} --overlay-src", o.flag)
}

/// What an `--overlay-src` not followed by an overlay is told.
pub const LONE_OVERLAY_SRC: &str =
    "--overlay-src must be followed by another --overlay-src or one of --overlay, --tmp-overlay, or --ro-overlay";

/// "--tmpfs, --dir or --file": the options a modifier may precede.
pub fn taking(which: fn(&FsOption) -> bool) -> String {
    let names: Vec<String> = TABLE.iter().filter(|o| which(o)).map(|o| format!("--{}", o.flag)).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_builds_a_step_whose_destination_is_its_last_value() {
        for o in TABLE {
            let vals: Vec<OsString> = o
                .values
                .iter()
                .map(|v| if matches!(*v, "FD" | "OCTAL") { "7".into() } else { format!("/{v}").into() })
                .collect();
            let m = Modifiers { lower: vec!["/a".into(), "/b".into()], ..Default::default() };
            let op = (o.build)(&vals, m).unwrap_or_else(|e| panic!("--{}: {e}", o.flag));
            assert_eq!(op.dest().as_os_str(), vals.last().unwrap().as_os_str(), "--{}", o.flag);
        }
        assert_eq!(taking(|o| o.size), "--tmpfs");
    }
}
