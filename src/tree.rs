//! `jail rootfs`: root filesystem trees for a normal user, without root.
//!
//! `jail rootfs import ARCHIVE DIR` unpacks a root filesystem tarball (plain, gzip, xz, zstd,
//! bzip2: GNU tar recognises them), or an image (`docker save`, an OCI image layout as a
//! directory or a tarball: layers in order, whiteouts applied) into DIR, owned the way `--map-subids` maps ids: 0 is the
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
    /// A Debian (or Ubuntu) tree by debootstrap, run in a sandbox of jail's mapping.
    Debian(Debian),
}

/// `jail rootfs debian DIR [--suite S] [--variant V] [--include PKGS] [--mirror URL]
/// [--arch ARCH] [--cache-dir DIR]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Debian {
    pub dir: PathBuf,
    pub suite: Option<String>,
    pub variant: Option<String>,
    pub include: Option<String>,
    pub mirror: Option<String>,
    pub arch: Option<String>,
    pub cache_dir: Option<PathBuf>,
}

pub const USAGE: &str = "usage: jail rootfs import ARCHIVE DIR | jail rootfs debian DIR [--suite SUITE] \
                         [--variant VARIANT] [--include PKGS] [--mirror URL] [--arch ARCH] [--cache-dir DIR] | \
                         jail rootfs shift DIR [--user USER]";

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
        [cmd, rest @ ..] if *cmd == "debian" => debian_args(rest).map(Action::Debian),
        [cmd, dir] if *cmd == "shift" => Ok(Action::Shift { dir: PathBuf::from(dir), user: None }),
        [cmd, dir, flag, user] | [cmd, flag, user, dir] if *cmd == "shift" && *flag == "--user" => {
            Ok(Action::Shift { dir: PathBuf::from(dir), user: Some(user.to_string_lossy().into_owned()) })
        }
        _ => Err(format!("{USAGE} (an archive: .tar, .tar.gz, .tar.xz, .tar.zst)")),
    }
}

fn debian_args(words: &[&std::ffi::OsStr]) -> Result<Debian, String> {
    let mut d = Debian::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let w = w.to_string_lossy();
        let mut value =
            || it.next().map(|v| v.to_string_lossy().into_owned()).ok_or(format!("{w} takes a value ({USAGE})"));
        match w.as_ref() {
            "--suite" => d.suite = Some(value()?),
            "--variant" => d.variant = Some(value()?),
            "--include" => d.include = Some(value()?),
            "--mirror" => d.mirror = Some(value()?),
            "--arch" => d.arch = Some(value()?),
            "--cache-dir" => d.cache_dir = Some(value()?.into()),
            f if f.starts_with('-') => return Err(format!("rootfs debian: unknown option {f} ({USAGE})")),
            dir if d.dir.as_os_str().is_empty() => d.dir = PathBuf::from(dir),
            extra => return Err(format!("rootfs debian: one DIR, not also {extra} ({USAGE})")),
        }
    }
    if d.dir.as_os_str().is_empty() {
        return Err(format!("rootfs debian: which DIR? ({USAGE})"));
    }
    Ok(d)
}

/// The first Debian (or Ubuntu) archive in apt's sources, in apt's order, skipping security
/// and -updates/-backports style suites: one-line `deb URI SUITE ...` and deb822 `URIs:`.
pub fn apt_mirror(files: &[(String, String)]) -> Option<String> {
    let plain = |suite: &str| !suite.contains('-') && !suite.contains('/');
    for (name, text) in files {
        if name.ends_with(".sources") {
            for para in text.split("\n\n") {
                let field = |k: &str| para.lines().find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()));
                let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:")) else { continue };
                if field("Enabled:").is_some_and(|e| e.eq_ignore_ascii_case("no"))
                    || !field("Types:").unwrap_or_default().split_whitespace().any(|t| t == "deb")
                {
                    continue;
                }
                if suites.split_whitespace().any(plain) {
                    if let Some(u) = uris.split_whitespace().find(|u| !u.contains("security")) {
                        return Some(u.to_string());
                    }
                }
            }
        } else {
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                let mut w = line.split_whitespace();
                if w.next() != Some("deb") {
                    continue;
                }
                let mut uri = w.next()?;
                if uri.starts_with('[') {
                    // Options: `[arch=amd64 signed-by=...]` up to the closing bracket.
                    let mut rest = uri;
                    while !rest.ends_with(']') {
                        rest = w.next()?;
                    }
                    uri = w.next()?;
                }
                if w.next().is_some_and(plain) && !uri.contains("security") {
                    return Some(uri.to_string());
                }
            }
        }
    }
    None
}

/// apt's source files as apt reads them: sources.list, then sources.list.d in name order.
fn apt_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        out.push(("sources.list".into(), t));
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for p in names {
        let n = p.display().to_string();
        if n.ends_with(".list") || n.ends_with(".sources") {
            if let Ok(t) = std::fs::read_to_string(&p) {
                out.push((n, t));
            }
        }
    }
    out
}

/// The sandbox debootstrap runs in: the host read-only and its network, DIR writable at its
/// own path, uid 0 with the caller's subordinate ids. debootstrap is told it runs in a
/// container (`container=lxc`), so it binds device nodes instead of making them, and may
/// mount in the tree (Landlock would forbid that; seccomp stays on).
pub fn debian_request(d: &Debian, dir: &Path) -> Result<Request> {
    let debootstrap = which::which("debootstrap").map_err(|_| {
        anyhow!(
            "rootfs debian: debootstrap not found; install the Debian package debootstrap (it runs without root here)"
        )
    })?;
    let mirror = match &d.mirror {
        Some(m) => m.clone(),
        None => apt_mirror(&apt_sources())
            .ok_or_else(|| anyhow!("rootfs debian: no Debian archive in apt's sources: give --mirror URL"))?,
    };
    let suite = d.suite.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| l.strip_prefix("VERSION_CODENAME=").map(|v| v.trim_matches('"').to_string()))
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "stable".into())
    });
    let bind = |src: &Path, dest: &Path, mode| {
        ("--bind".to_string(), FsOp::Bind { src: src.to_path_buf(), dest: dest.to_path_buf(), mode, optional: false })
    };
    let mut fs = vec![
        bind(Path::new("/"), Path::new("/"), BindMode::ReadOnly),
        ("--proc".into(), FsOp::Proc { dest: "/proc".into() }),
        ("--dev".into(), FsOp::Dev { dest: "/dev".into() }),
        ("--tmpfs".into(), FsOp::Tmpfs { dest: "/tmp".into(), size: None, perms: 0o1777 }),
        bind(dir, dir, BindMode::ReadWrite),
    ];
    let mut command: Vec<OsString> = vec![debootstrap.into()];
    command.push(format!("--variant={}", d.variant.as_deref().unwrap_or("minbase")).into());
    if let Some(i) = &d.include {
        command.push(format!("--include={i}").into());
    }
    if let Some(a) = &d.arch {
        command.push(format!("--arch={a}").into());
    }
    if let Some(c) = &d.cache_dir {
        let c = std::fs::canonicalize(c).map_err(|e| anyhow!("rootfs debian: --cache-dir {}: {e}", c.display()))?;
        fs.push(bind(&c, &c, BindMode::ReadWrite));
        let mut a = OsString::from("--cache-dir=");
        a.push(&c);
        command.push(a);
    }
    command.extend([suite.into(), dir.as_os_str().to_owned(), mirror.into()]);
    Ok(Request {
        map_subids: true,
        uid: Some(0),
        gid: Some(0),
        caps: vec![(true, "ALL".into())],
        share_net: true,
        landlock: Some(crate::spec::LandlockMode::Off),
        fs,
        env: vec![("container".into(), Some("lxc".into())), ("HOME".into(), Some("/tmp".into()))],
        chdir: Some("/".into()),
        command,
        ..Default::default()
    })
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
    let oci_layout = archive.join("oci-layout").is_file();
    if !archive.is_file() && !oci_layout {
        bail!("rootfs import: {}: not an archive file or an OCI image layout", archive.display());
    }
    Ok((archive, prepare_dir("rootfs import", dir)?))
}

/// DIR, new or empty, made if missing; as an absolute path.
pub fn prepare_dir(what: &str, dir: &Path) -> Result<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{what}: {} is not empty: make the tree in a new directory", dir.display());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| anyhow!("{what}: mkdir {}: {e}", dir.display()))?
        }
        Err(e) => bail!("{what}: {}: {e}", dir.display()),
    }
    std::fs::canonicalize(dir).map_err(|e| anyhow!("{what}: {}: {e}", dir.display()))
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

/// Runs tar to extract `archive` into `dir`, leaving out whiteouts when `layer`.
fn extract(archive: &Path, dir: &Path, layer: bool) -> Result<(Outcome, std::process::ExitStatus)> {
    let mut tar = std::process::Command::new("tar");
    tar.args(["--extract", "--numeric-owner", "--same-owner", "--preserve-permissions"]).args([
        "--xattrs",
        "--xattrs-include=*",
        "--delay-directory-restore",
    ]);
    if layer {
        tar.arg("--exclude=.wh.*");
    }
    let out = tar
        .arg("--file")
        .arg(archive)
        .arg("--directory")
        .arg(dir)
        .output()
        .map_err(|e| anyhow!("rootfs import: run tar: {e} (Debian package tar)"))?;
    Ok((sort_messages(&String::from_utf8_lossy(&out.stderr)), out.status))
}

/// The names in a tar archive (whatever its compression).
fn members(archive: &Path) -> Result<Vec<String>> {
    let out = std::process::Command::new("tar")
        .args(["--list", "--quoting-style=literal", "--file"])
        .arg(archive)
        .output()
        .map_err(|e| anyhow!("rootfs import: run tar: {e}"))?;
    if !out.status.success() {
        bail!("rootfs import: {}: cannot list it: {}", archive.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_start_matches("./").to_string()).collect())
}

/// A member's path below the tree, if it stays below it.
fn below(name: &str) -> Option<PathBuf> {
    let p = Path::new(name.trim_end_matches('/'));
    p.components().all(|c| matches!(c, std::path::Component::Normal(_))).then(|| p.to_path_buf())
}

/// Applies a layer's whiteouts to what the layers before it left in `dir`: `.wh.NAME` removes
/// NAME, `.wh..wh..opq` empties its directory. Returns how many it applied.
fn whiteouts(layer: &Path, dir: &Path) -> Result<usize> {
    let mut n = 0;
    for name in members(layer)? {
        let Some(rel) = below(&name) else { continue };
        let Some(base) = rel.file_name().and_then(|b| b.to_str()) else { continue };
        let Some(hidden) = base.strip_prefix(".wh.") else { continue };
        let parent = dir.join(rel.parent().unwrap_or(Path::new("")));
        let targets: Vec<PathBuf> = if hidden == ".wh..opq" {
            std::fs::read_dir(&parent).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
        } else {
            vec![parent.join(hidden)]
        };
        for t in targets {
            let gone = match std::fs::symlink_metadata(&t) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&t),
                Ok(_) => std::fs::remove_file(&t),
                Err(_) => Ok(()),
            };
            gone.map_err(|e| anyhow!("rootfs import: whiteout {name}: remove {}: {e}", t.display()))?;
        }
        n += 1;
    }
    Ok(n)
}

/// The blob a descriptor (`{"digest": "sha256:HEX", ...}`) names in an OCI layout.
fn blob(layout: &Path, desc: &serde_json::Value) -> Result<PathBuf> {
    let digest = desc["digest"].as_str().ok_or_else(|| anyhow!("rootfs import: a descriptor without a digest"))?;
    let (algo, hex) = digest.split_once(':').ok_or_else(|| anyhow!("rootfs import: digest {digest:?}"))?;
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) || !algo.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("rootfs import: digest {digest:?}");
    }
    Ok(layout.join("blobs").join(algo).join(hex))
}

fn json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("rootfs import: {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow!("rootfs import: {}: {e}", path.display()))
}

/// An OCI layout's layers, bottom first: index → (an index per platform →) manifest → layers.
fn oci_layers(layout: &Path) -> Result<Vec<PathBuf>> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let mut doc = json(&layout.join("index.json"))?;
    for _ in 0..4 {
        if let Some(layers) = doc["layers"].as_array() {
            return layers.iter().map(|l| blob(layout, l)).collect();
        }
        let manifests = doc["manifests"].as_array().cloned().unwrap_or_default();
        let pick = manifests
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .or_else(|| manifests.first())
            .ok_or_else(|| anyhow!("rootfs import: {}: no image manifest in the layout", layout.display()))?;
        doc = json(&blob(layout, pick)?)?;
    }
    bail!("rootfs import: {}: nested too deep to find the layers", layout.display())
}

/// The layers of an image archive (`docker save`, an OCI layout, as a directory or a tarball),
/// bottom first, unpacked into a scratch directory; None for a plain root filesystem tarball.
fn image_layers(archive: &Path, scratch: &Path) -> Result<Option<Vec<PathBuf>>> {
    if archive.is_dir() {
        return oci_layers(archive).map(Some);
    }
    let names = members(archive)?;
    let is_image = names.iter().any(|n| n == "manifest.json") || names.iter().any(|n| n == "oci-layout");
    if !is_image {
        return Ok(None);
    }
    std::fs::create_dir_all(scratch).map_err(|e| anyhow!("rootfs import: mkdir {}: {e}", scratch.display()))?;
    let (o, status) = extract(archive, scratch, false)?;
    if !status.success() || !o.errors.is_empty() {
        bail!("rootfs import: {}: cannot unpack the image archive: {}", archive.display(), o.errors.join("; "));
    }
    // docker save lists its layers in manifest.json (paths in the archive), OCI in index.json.
    let manifest = scratch.join("manifest.json");
    if manifest.is_file() {
        let m = json(&manifest)?;
        let layers =
            m[0]["Layers"].as_array().ok_or_else(|| anyhow!("rootfs import: manifest.json lists no Layers"))?;
        return layers
            .iter()
            .map(|l| {
                let rel = l.as_str().and_then(below).ok_or_else(|| anyhow!("rootfs import: layer path {l}"))?;
                Ok(scratch.join(rel))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some);
    }
    oci_layers(scratch).map(Some)
}

/// Inside the sandbox: unpacks (an image's layers in order, whiteouts applied) and says what
/// could not be kept. Returns the exit status.
pub fn unpack(archive: &Path, dir: &Path) -> i32 {
    let scratch = dir.join(".jail-image");
    let result = (|| -> Result<Outcome> {
        let Some(layers) = image_layers(archive, &scratch)? else {
            let (o, status) = extract(archive, dir, false)?;
            if !status.success()
                && o.devices.is_empty()
                && o.escaping.is_empty()
                && o.xattrs.is_empty()
                && o.errors.is_empty()
            {
                bail!("rootfs import: tar failed ({status})");
            }
            return Ok(o);
        };
        let mut all = Outcome::default();
        let mut wh = 0;
        for layer in &layers {
            wh += whiteouts(layer, dir)?;
            let (o, _) = extract(layer, dir, true)?;
            all.devices.extend(o.devices);
            all.escaping.extend(o.escaping);
            all.xattrs.extend(o.xattrs);
            all.errors.extend(o.errors);
        }
        crate::say::warn(&format!("rootfs import: {} image layer(s) applied, {wh} whiteout(s)", layers.len()));
        Ok(all)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let o = match result {
        Ok(o) => o,
        Err(e) => {
            crate::say::error(&format!("{e:#}"));
            return crate::exit::FAILURE;
        }
    };
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
    fn the_mirror_is_aptsfirst_debian_archive() {
        let files = vec![(
            "sources.list".to_string(),
            "# deb http://old/ x main\ndeb [arch=amd64 signed-by=/k.gpg] http://m1/debian bookworm main\n".to_string(),
        )];
        assert_eq!(apt_mirror(&files).as_deref(), Some("http://m1/debian"));
        let deb822 = "Types: deb\nURIs: http://sec/debian-security\nSuites: bookworm-security\n\n\
                      Types: deb\nURIs: http://m2/debian\nSuites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(apt_mirror(&[("debian.sources".into(), deb822.into())]).as_deref(), Some("http://m2/debian"));
        assert_eq!(apt_mirror(&[("x.list".into(), "deb http://m/d bookworm-updates main\n".into())]), None);
        let a = |v: &[&str]| parse(&v.iter().map(OsString::from).collect::<Vec<_>>());
        let want = Debian { dir: "d".into(), suite: Some("trixie".into()), ..Default::default() };
        assert_eq!(a(&["debian", "d", "--suite", "trixie"]), Ok(Action::Debian(want)));
        assert!(a(&["debian", "--frob"]).is_err());
    }

    #[test]
    fn member_paths_must_stay_below_the_tree() {
        assert_eq!(below("etc/.wh.a"), Some(PathBuf::from("etc/.wh.a")));
        assert_eq!(below("var/cache/"), Some(PathBuf::from("var/cache")));
        assert_eq!(below("../x"), None);
        assert_eq!(below("/etc/x"), None);
        assert_eq!(below("a/../../x"), None);
    }

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
        assert!(a(&["frob", "d"]).is_err());
        let r = import_request(Path::new("/a.tar"), Path::new("/d"), Path::new("/usr/bin/jail"));
        assert!(r.map_subids && r.uid == Some(0));
        assert_eq!(
            r.command[1..],
            [OsString::from("rootfs"), "unpack".into(), ARCHIVE_INSIDE.into(), TREE_INSIDE.into()]
        );
    }
}
