//! The bubblewrap personality's command line: bwrap 0.11's options, read left to right as
//! bubblewrap reads them (`--args FD` splices NUL-separated words in place; `--perms`,
//! `--size` and `--overlay-src` bind to the option after them; the first word that is not an
//! option starts the command). It produces the same [`Request`] as jail's own options, with
//! bubblewrap's defaults: namespaces shared unless unshared, no implicit mounts, no Landlock,
//! no seccomp but the programs given.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::{fs_ops, Parsed, UsageError};
#[cfg(test)]
use crate::spec::{FsOp, OverlayUpper};
use crate::spec::{Personality, Request};

/// The bubblewrap release whose interface this personality implements.
pub const BWRAP_VERSION: &str = "0.11.1";

/// bubblewrap caps `--args` input; so does jail.
const MAX_ARGS: usize = 9000;

fn err(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

fn text(v: &OsStr) -> String {
    v.to_string_lossy().into_owned()
}

fn fd(v: &OsStr) -> Result<RawFd, UsageError> {
    let s = text(v);
    match s.parse::<RawFd>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(err(format!("Invalid fd: {s}"))),
    }
}

fn id(what: &str, v: &OsStr) -> Result<u32, UsageError> {
    let s = text(v);
    s.parse::<u32>().ok().filter(|n| *n != u32::MAX).ok_or_else(|| err(format!("Invalid {what}: {s}")))
}

fn octal(flag: &str, v: &OsStr) -> Result<u32, UsageError> {
    let s = text(v);
    match u32::from_str_radix(&s, 8) {
        Ok(n) if n <= 0o7777 && !s.is_empty() => Ok(n),
        _ => Err(err(format!("{flag} takes an octal argument <= 07777"))),
    }
}

/// A tmpfs size in bytes: digits only, not zero, at most half the address space.
fn size(v: &OsStr) -> Result<u64, UsageError> {
    let s = text(v);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("--size takes a non-zero number of bytes"));
    }
    let max = u64::MAX / 2;
    match s.parse::<u64>() {
        Ok(0) => Err(err("--size takes a non-zero number of bytes")),
        Ok(n) if n <= max => Ok(n),
        _ => Err(err(format!("--size (for tmpfs) is limited to {max}"))),
    }
}

/// Reads the NUL-separated words of an `--args` descriptor, and closes it.
fn args_from_fd(fd: RawFd) -> Result<Vec<OsString>, UsageError> {
    if nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_err() {
        return Err(err(format!("Invalid fd: {fd}")));
    }
    // SAFETY: the caller handed this descriptor to jail for the arguments; jail owns it now
    // and closes it after reading, as bubblewrap does.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut data = Vec::new();
    f.read_to_end(&mut data).map_err(|e| err(format!("Can't read --args data: {e}")))?;
    if data.last() == Some(&0) {
        data.pop();
    }
    if data.is_empty() {
        return Ok(Vec::new());
    }
    Ok(data.split(|b| *b == 0).map(|w| OsStr::from_bytes(w).to_os_string()).collect())
}

/// The usage text, shaped like bubblewrap's (`usage: NAME [OPTIONS...] [--] COMMAND [ARGS...]`).
pub fn usage(argv0: &str) -> String {
    let mut s = format!("usage: {argv0} [OPTIONS...] [--] COMMAND [ARGS...]\n\n");
    for (opt, help) in OPTIONS {
        s.push_str(&format!("    {opt:<30} {help}\n"));
    }
    s
}

const OPTIONS: &[(&str, &str)] = &[
    ("--help", "Print this help"),
    ("--version", "Print the bubblewrap version this implements"),
    ("--args FD", "Read NUL-separated arguments from FD"),
    ("--argv0 VALUE", "Run the command with VALUE as argv[0]"),
    ("--level-prefix", "Start each message with its syslog level"),
    ("--unshare-all", "New user (if possible), ipc, pid, net, uts and cgroup (if possible) namespaces"),
    ("--share-net", "Keep the network namespace (after --unshare-all)"),
    ("--unshare-user", "New user namespace"),
    ("--unshare-user-try", "New user namespace if possible"),
    ("--unshare-ipc", "New ipc namespace"),
    ("--unshare-pid", "New pid namespace"),
    ("--unshare-net", "New network namespace"),
    ("--unshare-uts", "New uts namespace"),
    ("--unshare-cgroup", "New cgroup namespace"),
    ("--unshare-cgroup-try", "New cgroup namespace if possible"),
    ("--userns FD", "Join the user namespace open at FD"),
    ("--userns2 FD", "Move into the user namespace open at FD once set up"),
    ("--disable-userns", "Forbid new user namespaces in the sandbox"),
    ("--assert-userns-disabled", "Fail unless new user namespaces are impossible in the sandbox"),
    ("--pidns FD", "Join the pid namespace open at FD"),
    ("--uid UID", "The uid in the sandbox (needs a new user namespace)"),
    ("--gid GID", "The gid in the sandbox (needs a new user namespace)"),
    ("--hostname NAME", "The hostname in the sandbox (needs --unshare-uts)"),
    ("--chdir DIR", "Change to DIR in the sandbox"),
    ("--clearenv", "Start from an empty environment"),
    ("--setenv VAR VALUE", "Set an environment variable"),
    ("--unsetenv VAR", "Unset an environment variable"),
    ("--lock-file DEST", "Hold a read lock on DEST while the sandbox runs"),
    ("--sync-fd FD", "Keep FD open while the sandbox runs"),
    ("--bind SRC DEST", "Bind SRC at DEST, writable"),
    ("--bind-try SRC DEST", "Like --bind, nothing if SRC is missing"),
    ("--dev-bind SRC DEST", "Bind SRC at DEST, devices usable"),
    ("--dev-bind-try SRC DEST", "Like --dev-bind, nothing if SRC is missing"),
    ("--ro-bind SRC DEST", "Bind SRC at DEST, read-only"),
    ("--ro-bind-try SRC DEST", "Like --ro-bind, nothing if SRC is missing"),
    ("--bind-fd FD DEST", "Bind what FD has open at DEST, writable"),
    ("--ro-bind-fd FD DEST", "Bind what FD has open at DEST, read-only"),
    ("--remount-ro DEST", "Make the mount at DEST read-only"),
    ("--overlay-src SRC", "A lower layer for the next overlay"),
    ("--overlay RWSRC WORKDIR DEST", "Overlay at DEST, writes kept in RWSRC"),
    ("--tmp-overlay DEST", "Overlay at DEST, writes on a tmpfs"),
    ("--ro-overlay DEST", "Read-only overlay at DEST"),
    ("--exec-label LABEL", "SELinux label for the command"),
    ("--file-label LABEL", "SELinux label for files created"),
    ("--proc DEST", "Mount procfs at DEST"),
    ("--dev DEST", "Mount a minimal /dev at DEST"),
    ("--tmpfs DEST", "Mount a tmpfs at DEST"),
    ("--mqueue DEST", "Mount mqueue at DEST"),
    ("--dir DEST", "Create a directory at DEST"),
    ("--file FD DEST", "Copy FD's data to a file at DEST"),
    ("--bind-data FD DEST", "Bind a file holding FD's data at DEST"),
    ("--ro-bind-data FD DEST", "Like --bind-data, read-only"),
    ("--symlink SRC DEST", "Create a symlink at DEST pointing to SRC"),
    ("--seccomp FD", "Load the seccomp program read from FD"),
    ("--add-seccomp-fd FD", "Also load the seccomp program read from FD (repeatable)"),
    ("--block-fd FD", "Wait for data on FD before running the command"),
    ("--userns-block-fd FD", "Wait for data on FD before setting up (the caller maps ids)"),
    ("--info-fd FD", "Write information about the sandbox as JSON to FD"),
    ("--json-status-fd FD", "Write the sandbox's status as JSON lines to FD"),
    ("--new-session", "Create a new terminal session"),
    ("--die-with-parent", "End the sandbox when the caller dies"),
    ("--as-pid-1", "Run the command as pid 1 (needs --unshare-pid)"),
    ("--cap-add CAP", "Keep CAP (or ALL)"),
    ("--cap-drop CAP", "Drop CAP (or ALL)"),
    ("--perms OCTAL", "Mode for the next --bind-data, --ro-bind-data, --file, --dir or --tmpfs"),
    ("--size BYTES", "Size of the next --tmpfs"),
    ("--chmod OCTAL PATH", "Change the mode of PATH"),
];

/// The options that take one descriptor, and where it goes in the request.
type FdSlot = fn(&mut Request) -> &mut Option<RawFd>;
const FD_OPTIONS: &[(&str, FdSlot)] = &[
    ("--userns", |r| &mut r.joins.userns),
    ("--userns2", |r| &mut r.joins.userns2),
    ("--pidns", |r| &mut r.joins.pidns),
    ("--sync-fd", |r| &mut r.protocol.sync_fd),
    ("--block-fd", |r| &mut r.protocol.block_fd),
    ("--userns-block-fd", |r| &mut r.protocol.userns_block_fd),
    ("--info-fd", |r| &mut r.protocol.info_fd),
    ("--json-status-fd", |r| &mut r.protocol.json_status_fd),
];

/// Default mode of a created file, bubblewrap's: `--file` 0666, the data binds 0600.
fn default_perms(flag: &str) -> Option<u32> {
    match flag {
        "file" => Some(0o666),
        "bind-data" | "ro-bind-data" => Some(0o600),
        _ => None,
    }
}

/// Parses `args` (argv with `argv[0]`) as bubblewrap would.
pub fn parse(args: Vec<OsString>) -> Result<Parsed, UsageError> {
    let argv0 = args.first().map(|a| text(a)).unwrap_or_else(|| "bwrap".into());
    // Each word with whether it came from an `--args` descriptor.
    let mut words: std::collections::VecDeque<(OsString, bool)> =
        args.into_iter().skip(1).map(|a| (a, false)).collect();
    let mut r = Request { personality: Personality::Bwrap, ..Default::default() };
    for s in [&mut r.share_net, &mut r.share_ipc, &mut r.share_uts, &mut r.share_pid, &mut r.share_cgroup] {
        *s = true;
    }
    let (mut perms, mut size_mod): (Option<u32>, Option<u64>) = (None, None);
    let mut lower: Vec<PathBuf> = Vec::new();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut spliced = 0usize;

    while let Some((arg, from_file)) = words.pop_front() {
        let a = arg.as_bytes();
        if a == b"--" {
            break;
        }
        if a.first() != Some(&b'-') {
            words.push_front((arg, from_file));
            break;
        }
        let name = text(&arg);
        // The values an option takes, or bubblewrap's complaint.
        let mut take = |n: usize, what: &str| -> Result<Vec<OsString>, UsageError> {
            if words.len() < n {
                return Err(err(format!("{name} takes {what}")));
            }
            Ok(words.drain(..n).map(|(w, _)| w).collect())
        };
        if !lower.is_empty()
            && !matches!(name.as_str(), "--overlay-src" | "--overlay" | "--tmp-overlay" | "--ro-overlay")
        {
            return Err(err(fs_ops::LONE_OVERLAY_SRC));
        }
        // bubblewrap warns when a single-valued option is given again.
        let mut once = |flag: &'static str| {
            if seen.contains(&flag) {
                crate::say::warn(&format!("Only the last {flag} option will take effect"));
            } else {
                seen.push(flag);
            }
        };
        if let Some((flag, slot)) = FD_OPTIONS.iter().find(|(f, _)| *f == name) {
            let v = take(1, "an argument")?;
            once(flag);
            *slot(&mut r) = Some(fd(&v[0])?);
            continue;
        }
        match name.as_str() {
            "--help" => return Ok(Parsed::Print(usage(&argv0))),
            "--version" => {
                return Ok(Parsed::Print(format!(
                    "bubblewrap {BWRAP_VERSION} (jail {} in bubblewrap mode)\n",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            "--args" => {
                let v = take(1, "an argument")?;
                if from_file {
                    return Err(err("--args not supported in arguments file"));
                }
                let more = args_from_fd(fd(&v[0])?)?;
                spliced += more.len();
                if spliced > MAX_ARGS {
                    return Err(err(format!("Exceeded maximum number of arguments {MAX_ARGS}")));
                }
                for w in more.into_iter().rev() {
                    words.push_front((w, true));
                }
            }
            "--argv0" => {
                let v = take(1, "one argument")?;
                if r.argv0.is_some() {
                    return Err(err("--argv0 used multiple times"));
                }
                r.argv0 = Some(v[0].clone());
            }
            "--level-prefix" => crate::say::as_bwrap(true),
            "--unshare-all" => {
                r.unshare_user_try = true;
                r.share_ipc = false;
                r.share_pid = false;
                r.share_net = false;
                r.share_uts = false;
                r.share_cgroup = false;
            }
            "--share-net" => r.share_net = true,
            "--unshare-user" => r.unshare_user = true,
            "--unshare-user-try" => r.unshare_user_try = true,
            "--unshare-ipc" => r.share_ipc = false,
            "--unshare-pid" => r.share_pid = false,
            "--unshare-net" => r.share_net = false,
            "--unshare-uts" => r.share_uts = false,
            "--unshare-cgroup" | "--unshare-cgroup-try" => r.share_cgroup = false,
            "--disable-userns" => r.disable_userns = true,
            "--assert-userns-disabled" => r.assert_userns_disabled = true,
            "--uid" => {
                let v = take(1, "an argument")?;
                once("--uid");
                r.uid = Some(id("uid", &v[0])?);
            }
            "--gid" => {
                let v = take(1, "an argument")?;
                once("--gid");
                r.gid = Some(id("gid", &v[0])?);
            }
            "--hostname" => {
                let v = take(1, "an argument")?;
                once("--hostname");
                r.hostname = Some(text(&v[0]));
            }
            "--chdir" => {
                let v = take(1, "one argument")?;
                once("--chdir");
                r.chdir = Some(PathBuf::from(&v[0]));
            }
            "--clearenv" => {
                r.clearenv = true;
                r.env.clear();
            }
            "--setenv" => {
                let v = take(2, "two arguments")?;
                r.env.push((text(&v[0]), Some(text(&v[1]))));
            }
            "--unsetenv" => {
                let v = take(1, "an argument")?;
                r.env.push((text(&v[0]), None));
            }
            "--lock-file" => {
                let v = take(1, "an argument")?;
                r.protocol.lock_files.push(PathBuf::from(&v[0]));
            }
            "--exec-label" => {
                let v = take(1, "an argument")?;
                once("--exec-label");
                r.exec_label = Some(text(&v[0]));
            }
            "--file-label" => {
                let v = take(1, "an argument")?;
                once("--file-label");
                r.file_label = Some(text(&v[0]));
            }
            "--seccomp" => {
                let v = take(1, "an argument")?;
                once("--seccomp");
                if !r.add_seccomp_fds.is_empty() {
                    return Err(err("--seccomp cannot be combined with --add-seccomp-fd"));
                }
                r.seccomp_fd = Some(fd(&v[0])?);
            }
            "--add-seccomp-fd" => {
                let v = take(1, "an argument")?;
                if r.seccomp_fd.is_some() {
                    return Err(err("--add-seccomp-fd cannot be combined with --seccomp"));
                }
                r.add_seccomp_fds.push(fd(&v[0])?);
            }
            "--new-session" => r.new_session = true,
            "--die-with-parent" => r.die_with_parent = true,
            "--as-pid-1" => r.as_pid_1 = true,
            "--cap-add" | "--cap-drop" => {
                let v = take(1, "an argument")?;
                let cap = text(&v[0]);
                if !cap.eq_ignore_ascii_case("ALL") && crate::spec::caps::parse(&cap).is_err() {
                    return Err(err(format!("unknown cap: {cap}")));
                }
                r.caps.push((name == "--cap-add", cap));
            }
            "--perms" => {
                let v = take(1, "an argument")?;
                if perms.is_some() {
                    return Err(err("--perms given twice for the same action"));
                }
                perms = Some(octal("--perms", &v[0])?);
            }
            "--size" => {
                let v = take(1, "an argument")?;
                if size_mod.is_some() {
                    return Err(err("--size given twice for the same action"));
                }
                size_mod = Some(size(&v[0])?);
            }
            "--overlay-src" => {
                let v = take(1, "an argument")?;
                lower.push(PathBuf::from(&v[0]));
            }
            _ => {
                let Some(row) = name.strip_prefix("--").and_then(|f| fs_ops::TABLE.iter().find(|o| o.flag == f)) else {
                    return Err(err(format!("Unknown option {name}")));
                };
                let what = match row.values.len() {
                    1 => "an argument",
                    2 => "two arguments",
                    _ => "three arguments",
                };
                let v = take(row.values.len(), what)?;
                if lower.len() < row.layers {
                    return Err(err(fs_ops::too_few_layers(row)));
                }
                if perms.is_some() && !row.perms {
                    return Err(err("--perms must be followed by an option that creates a file"));
                }
                if size_mod.is_some() && !row.size {
                    return Err(err("--size must be followed by --tmpfs"));
                }
                let m = fs_ops::Modifiers {
                    perms: perms.take().or(default_perms(row.flag)),
                    size: size_mod.take(),
                    lower: std::mem::take(&mut lower),
                };
                let op = (row.build)(&v, m).map_err(|e| {
                    if row.flag == "chmod" {
                        err("--chmod takes an octal argument <= 07777")
                    } else {
                        err(e)
                    }
                })?;
                r.fs.push((name.clone(), op));
            }
        }
    }
    if !lower.is_empty() {
        return Err(err(fs_ops::LONE_OVERLAY_SRC));
    }
    if perms.is_some() {
        return Err(err("--perms must be followed by an option that creates a file"));
    }
    if size_mod.is_some() {
        return Err(err("--size must be followed by --tmpfs"));
    }
    r.command = words.into_iter().map(|(w, _)| w).collect();
    if r.command.is_empty() {
        return Err(UsageError(format!("no command given\n{}", usage(&argv0).trim_end())));
    }
    Ok(Parsed::Run { request: Box::new(r), dry_run: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Request, String> {
        let mut v = vec![OsString::from("bwrap")];
        v.extend(args.iter().map(OsString::from));
        match parse(v) {
            Ok(Parsed::Run { request, .. }) => Ok(*request),
            Ok(_) => Err("printed".into()),
            Err(UsageError(e)) => Err(e),
        }
    }

    #[test]
    fn namespaces_are_shared_unless_unshared() {
        let r = run(&["true"]).unwrap();
        assert!(r.share_net && r.share_pid && r.share_ipc && r.share_uts && r.share_cgroup);
        let r = run(&["--unshare-all", "--share-net", "true"]).unwrap();
        assert!(r.share_net && !r.share_pid && !r.share_ipc && !r.share_uts && !r.share_cgroup);
        assert!(!r.unshare_user && r.unshare_user_try);
    }

    #[test]
    fn modifiers_bind_to_the_next_option_with_bubblewraps_defaults() {
        let r = run(&["--perms", "0640", "--file", "0", "/a", "--file", "0", "/b", "--ro-bind-data", "0", "/c", "x"])
            .unwrap();
        let perms: Vec<u32> =
            r.fs.iter()
                .map(|(_, op)| match op {
                    FsOp::File { perms, .. } | FsOp::BindData { perms, .. } => *perms,
                    _ => 0,
                })
                .collect();
        assert_eq!(perms, [0o640, 0o666, 0o600]);
        assert_eq!(
            run(&["--perms", "1", "--perms", "1", "--tmpfs", "/a", "x"]).unwrap_err(),
            "--perms given twice for the same action"
        );
        assert_eq!(run(&["--size", "1", "--dir", "/a", "x"]).unwrap_err(), "--size must be followed by --tmpfs");
    }

    #[test]
    fn bogus_sizes_are_refused() {
        for bad in ["0", "123bogus", "", "-12345678", " -12345678", "18446744073709551616", "9223372036854775809"] {
            assert!(run(&["--size", bad, "--tmpfs", "/a", "x"]).is_err(), "{bad:?}");
        }
        let r = run(&["--size", "1048576", "--tmpfs", "/a", "x"]).unwrap();
        assert!(matches!(r.fs[0].1, FsOp::Tmpfs { size: Some(1048576), perms: 0o755, .. }));
    }

    #[test]
    fn overlay_sources_gather_for_the_next_overlay() {
        let r = run(&["--overlay-src", "a", "--overlay-src", "b", "--ro-overlay", "/x", "true"]).unwrap();
        assert!(matches!(&r.fs[0].1, FsOp::Overlay { lower, upper: OverlayUpper::ReadOnly, .. } if lower.len() == 2));
        assert_eq!(
            run(&["--overlay", "u", "w", "/t", "x"]).unwrap_err(),
            "--overlay requires at least one --overlay-src"
        );
        assert_eq!(
            run(&["--overlay-src", "a", "--ro-overlay", "/t", "x"]).unwrap_err(),
            "--ro-overlay requires at least two --overlay-src"
        );
        let e = run(&["--overlay-src", "/tmp", "--chdir", "/", "true"]).unwrap_err();
        assert!(e.starts_with("--overlay-src must be followed by another --overlay-src"), "{e}");
        assert!(run(&["--overlay-src", "/tmp", "true"]).unwrap_err().starts_with("--overlay-src must be followed"));
    }

    #[test]
    fn the_command_starts_at_the_first_word_or_after_the_double_dash() {
        let r = run(&["--", "--dev-bind", "/dev", "/dev"]).unwrap();
        assert_eq!(r.command, ["--dev-bind", "/dev", "/dev"]);
        assert!(r.fs.is_empty());
        assert_eq!(run(&["--frobnicate", "x"]).unwrap_err(), "Unknown option --frobnicate");
        assert_eq!(run(&["--bind", "/a"]).unwrap_err(), "--bind takes two arguments");
        assert!(run(&["--dir", "/a"]).unwrap_err().starts_with("no command given"));
    }
}
