//! `jail rootfs`: root filesystem trees for a normal user, without root.
//!
//! `jail rootfs import ARCHIVE DIR` unpacks a root filesystem tarball (plain, gzip, xz, zstd,
//! bzip2: GNU tar recognises them) into DIR, owned the way `--map-subids` maps ids: 0 is the
//! caller, 1 and up the caller's subordinate range. It does so inside a jail sandbox of its
//! own, as uid 0 of a user namespace with those ids mapped, where DIR is the only writable
//! host directory: so hard links, symlinks, owners and setuid bits are kept as an unprivileged
//! user can keep them, and nothing in the archive can reach outside DIR. Device nodes cannot
//! be made there; they are skipped with a note (`--dev` provides /dev). Inside, jail runs
//! itself as `jail rootfs unpack`, which runs tar and sorts what tar could not do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use crate::spec::{BindMode, FsOp, Request};

/// What `jail rootfs` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Unpack ARCHIVE into DIR, in a sandbox.
    Import { archive: PathBuf, dir: PathBuf },
    /// What `import` runs inside its sandbox.
    Unpack { archive: PathBuf, dir: PathBuf },
    /// As root: re-own a tree root built into USER's `--map-subids` mapping.
    Shift { dir: PathBuf, user: Option<String> },
}

pub const USAGE: &str = "usage: jail rootfs import ARCHIVE DIR | jail rootfs shift DIR [--user USER]";

/// `jail rootfs ...` arguments after `rootfs`.
pub fn parse(args: &[OsString]) -> Result<Action, String> {
    let words: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    match words.as_slice() {
        [cmd, archive, dir] if *cmd == "import" => {
            Ok(Action::Import { archive: PathBuf::from(archive), dir: PathBuf::from(dir) })
        }
        [cmd, archive, dir] if *cmd == "unpack" => {
            Ok(Action::Unpack { archive: PathBuf::from(archive), dir: PathBuf::from(dir) })
        }
        [cmd, dir] if *cmd == "shift" => Ok(Action::Shift { dir: PathBuf::from(dir), user: None }),
        [cmd, dir, flag, user] | [cmd, flag, user, dir] if *cmd == "shift" && *flag == "--user" => {
            Ok(Action::Shift { dir: PathBuf::from(dir), user: Some(user.to_string_lossy().into_owned()) })
        }
        _ => Err(format!("{USAGE} (an archive: .tar, .tar.gz, .tar.xz, .tar.zst)")),
    }
}

/// Where the sandbox sees the archive and the tree.
const ARCHIVE_INSIDE: &str = "/tmp/jail-rootfs/archive";
const TREE_INSIDE: &str = "/tmp/jail-rootfs/tree";

/// The sandbox `import` runs `unpack` in: the host read-only, DIR writable, uid 0 with the
/// caller's subordinate ids, every capability inside.
pub fn import_request(archive: &Path, dir: &Path, exe: &Path) -> Request {
    let bind = |src: &Path, dest: &str, mode| {
        ("--bind".to_string(), FsOp::Bind { src: src.to_path_buf(), dest: dest.into(), mode, optional: false })
    };
    Request {
        map_subids: true,
        uid: Some(0),
        gid: Some(0),
        caps: vec![(true, "ALL".into())],
        fs: vec![
            bind(Path::new("/"), "/", BindMode::ReadOnly),
            ("--proc".into(), FsOp::Proc { dest: "/proc".into() }),
            ("--dev".into(), FsOp::Dev { dest: "/dev".into() }),
            ("--tmpfs".into(), FsOp::Tmpfs { dest: "/tmp".into(), size: None, perms: 0o1777 }),
            bind(archive, ARCHIVE_INSIDE, BindMode::ReadOnly),
            bind(dir, TREE_INSIDE, BindMode::ReadWrite),
        ],
        chdir: Some("/".into()),
        command: vec![exe.into(), "rootfs".into(), "unpack".into(), ARCHIVE_INSIDE.into(), TREE_INSIDE.into()],
        ..Default::default()
    }
}

/// Checks what `import` is given and makes DIR; returns both as absolute paths.
pub fn prepare(archive: &Path, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let archive = std::path::absolute(archive).map_err(|e| anyhow!("rootfs import: {}: {e}", archive.display()))?;
    if !archive.is_file() {
        bail!("rootfs import: {}: not an archive file", archive.display());
    }
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("rootfs import: {} is not empty: unpack into a new directory", dir.display());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| anyhow!("rootfs import: mkdir {}: {e}", dir.display()))?
        }
        Err(e) => bail!("rootfs import: {}: {e}", dir.display()),
    }
    let dir = std::fs::canonicalize(dir).map_err(|e| anyhow!("rootfs import: {}: {e}", dir.display()))?;
    Ok((archive, dir))
}

/// What tar could not do, sorted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Device nodes, which a user namespace cannot make.
    pub devices: Vec<String>,
    /// Members that would land outside the tree.
    pub escaping: Vec<String>,
    /// Extended attributes (file capabilities among them) that could not be set.
    pub xattrs: Vec<String>,
    /// Anything else: the import failed.
    pub errors: Vec<String>,
}

/// Sorts tar's messages (`tar: NAME: WHAT`).
pub fn sort_messages(stderr: &str) -> Outcome {
    let mut o = Outcome::default();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("tar: ") else {
            o.errors.push(line.to_string());
            continue;
        };
        let name = || rest.split(": ").next().unwrap_or(rest).to_string();
        if rest.contains(": Cannot mknod") {
            o.devices.push(name());
        } else if rest.contains("Member name contains '..'")
            || rest.contains("Cannot open: Not a directory") && rest.contains("..")
        {
            o.escaping.push(name());
        } else if rest.contains("Cannot setxattr") || rest.contains("Cannot set xattr") {
            o.xattrs.push(name());
        } else if rest.starts_with("Removing leading")
            || rest.starts_with("Exiting with failure status due to previous errors")
        {
            // Absolute names land inside the tree; the failure status is judged here.
        } else {
            o.errors.push(line.to_string());
        }
    }
    o
}

fn list(names: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut s = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

/// Inside the sandbox: runs tar and says what it could not keep. Returns the exit status.
pub fn unpack(archive: &Path, dir: &Path) -> i32 {
    let out = std::process::Command::new("tar")
        .args(["--extract", "--numeric-owner", "--same-owner", "--preserve-permissions"])
        .args(["--xattrs", "--xattrs-include=*", "--delay-directory-restore"])
        .arg("--file")
        .arg(archive)
        .arg("--directory")
        .arg(dir)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            crate::say::error(&format!("rootfs import: run tar: {e} (Debian package tar)"));
            return crate::exit::FAILURE;
        }
    };
    let o = sort_messages(&String::from_utf8_lossy(&out.stderr));
    if !o.devices.is_empty() {
        crate::say::warn(&format!(
            "rootfs import: skipped {} device node(s), which only root can make (jail's --dev provides /dev): {}",
            o.devices.len(),
            list(&o.devices)
        ));
    }
    if !o.escaping.is_empty() {
        crate::say::warn(&format!(
            "rootfs import: refused {} member(s) that lead outside the tree: {}",
            o.escaping.len(),
            list(&o.escaping)
        ));
    }
    if !o.xattrs.is_empty() {
        crate::say::warn(&format!(
            "rootfs import: could not keep extended attributes (file capabilities) of {} file(s): {}",
            o.xattrs.len(),
            list(&o.xattrs)
        ));
    }
    if !o.errors.is_empty() {
        for e in &o.errors {
            eprintln!("{e}");
        }
        crate::say::error("rootfs import: tar failed (its messages are above)");
        return crate::exit::FAILURE;
    }
    if !out.status.success() && o.devices.is_empty() && o.escaping.is_empty() && o.xattrs.is_empty() {
        crate::say::error(&format!("rootfs import: tar failed ({})", out.status));
        return crate::exit::FAILURE;
    }
    0
}

/// A subordinate range: `start`, `count`.
type Range = (u32, u32);

/// Where id `id` of a root-built tree goes: 0 to the user, N to the user's subordinate N-1
/// (as `--map-subids` maps them back); None when the range is too small for it.
pub fn shifted(id: u32, user: u32, range: Range) -> Option<u32> {
    match id {
        0 => Some(user),
        n if n - 1 < range.1 => Some(range.0 + n - 1),
        _ => None,
    }
}

/// `jail rootfs shift`: as root, re-owns every entry below DIR (not following symlinks, not
/// leaving its filesystem), keeping setuid/setgid bits that chown clears.
pub fn shift(dir: &Path, user: Option<&str>) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        bail!("rootfs shift: needs root (the tree's files belong to root); or make the tree again with jail rootfs import");
    }
    let name = match user.map(str::to_string).or_else(|| std::env::var("SUDO_USER").ok()) {
        Some(n) => n,
        None => bail!("rootfs shift: whose tree? --user USER (or run it through sudo)"),
    };
    let u = nix::unistd::User::from_name(&name)
        .ok()
        .flatten()
        .ok_or_else(|| anyhow!("rootfs shift: --user {name}: no such user"))?;
    let range_of = |file: &str, id: u32| -> Result<Range> {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow!("rootfs shift: {file}: {e}"))?;
        crate::spec::idmap_range(&text, std::slice::from_ref(&name), id).ok_or_else(|| {
            anyhow!("rootfs shift: no range for {name} in {file}; add one with usermod --add-subuids/--add-subgids")
        })
    };
    let (uid, gid) = (u.uid.as_raw(), u.gid.as_raw());
    let (ur, gr) = (range_of("/etc/subuid", uid)?, range_of("/etc/subgid", gid)?);
    let top = std::fs::symlink_metadata(dir).map_err(|e| anyhow!("rootfs shift: {}: {e}", dir.display()))?;
    if top.uid() != 0 {
        bail!(
            "rootfs shift: {} is owned by uid {}, not root: shifted already, or not a root-built tree",
            dir.display(),
            top.uid()
        );
    }
    let (mut done, mut left) = (0u64, Vec::new());
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).map_err(|e| anyhow!("rootfs shift: {}: {e}", p.display()))?;
        if m.dev() != top.dev() {
            continue;
        }
        let (Some(nu), Some(ng)) = (shifted(m.uid(), uid, ur), shifted(m.gid(), gid, gr)) else {
            left.push(p.display().to_string());
            continue;
        };
        std::os::unix::fs::lchown(&p, Some(nu), Some(ng))
            .map_err(|e| anyhow!("rootfs shift: chown {}: {e}", p.display()))?;
        if !m.file_type().is_symlink() && m.mode() & 0o6000 != 0 {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m.mode() & 0o7777))
                .map_err(|e| anyhow!("rootfs shift: chmod {}: {e}", p.display()))?;
        }
        done += 1;
        if m.is_dir() {
            for e in std::fs::read_dir(&p).map_err(|e| anyhow!("rootfs shift: {}: {e}", p.display()))?.flatten() {
                stack.push(e.path());
            }
        }
    }
    crate::say::warn(&format!("rootfs shift: {done} entries of {} now belong to {name}'s mapping", dir.display()));
    if !left.is_empty() {
        crate::say::warn(&format!(
            "rootfs shift: left {} with ids beyond {name}'s subordinate range: {}",
            left.len(),
            list(&left)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_shift_to_the_user_and_the_range_as_map_subids_maps_them_back() {
        assert_eq!(shifted(0, 1000, (100000, 65536)), Some(1000));
        assert_eq!(shifted(1, 1000, (100000, 65536)), Some(100000));
        assert_eq!(shifted(65536, 1000, (100000, 65536)), Some(165535));
        assert_eq!(shifted(65537, 1000, (100000, 65536)), None);
        let a = |v: &[&str]| parse(&v.iter().map(OsString::from).collect::<Vec<_>>());
        assert_eq!(a(&["shift", "d", "--user", "u"]), Ok(Action::Shift { dir: "d".into(), user: Some("u".into()) }));
    }

    #[test]
    fn tars_complaints_are_sorted_into_what_could_not_be_kept() {
        let stderr = "tar: Removing leading `/' from member names\n\
                      tar: ./dev/null: Cannot mknod: Operation not permitted\n\
                      tar: ./dev/zero: Cannot mknod: Operation not permitted\n\
                      tar: ../escape: Member name contains '..'\n\
                      tar: ./bin/ping: Cannot setxattr: 'security.capability': Operation not permitted\n\
                      tar: Exiting with failure status due to previous errors\n";
        let o = sort_messages(stderr);
        assert_eq!(o.devices, ["./dev/null", "./dev/zero"]);
        assert_eq!(o.escaping, ["../escape"]);
        assert_eq!(o.xattrs, ["./bin/ping"]);
        assert!(o.errors.is_empty());
        let o = sort_messages("tar: ./x: Cannot open: No space left on device\n");
        assert_eq!(o.errors.len(), 1);
    }

    #[test]
    fn import_takes_an_archive_and_a_directory() {
        let a = |v: &[&str]| parse(&v.iter().map(OsString::from).collect::<Vec<_>>());
        assert_eq!(a(&["import", "a.tar", "d"]), Ok(Action::Import { archive: "a.tar".into(), dir: "d".into() }));
        assert!(a(&["import", "a.tar"]).unwrap_err().starts_with(USAGE));
        assert!(a(&["debian", "d"]).is_err());
        let r = import_request(Path::new("/a.tar"), Path::new("/d"), Path::new("/usr/bin/jail"));
        assert!(r.map_subids && r.uid == Some(0));
        assert_eq!(
            r.command[1..],
            [OsString::from("rootfs"), "unpack".into(), ARCHIVE_INSIDE.into(), TREE_INSIDE.into()]
        );
    }
}
