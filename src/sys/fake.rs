//! A recording stand-in for [`Sys`]: a tiny model of which paths exist, a log of every call in
//! order, and errors injected by call name and argument. Used by unit tests only.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::{Attrs, Kind, Sys, SysError, SysResult};

/// A handle: what it names, for the log.
#[derive(Debug, Clone)]
pub struct Handle {
    pub name: String,
    /// For directories and files: the path in the tree the handle was resolved in.
    pub path: PathBuf,
    /// Which tree (`host` or `new`) a resolved path belongs to.
    pub tree: String,
}

#[derive(Default)]
pub struct Recorder {
    /// Existing paths per tree (`"host"`, `"new"`), with their kinds.
    pub paths: BTreeMap<(String, PathBuf), Kind>,
    pub calls: Vec<String>,
    /// `(call, argument substring)` that fails with the errno.
    pub failures: Vec<(&'static str, String, Errno)>,
    pub data: BTreeMap<RawFd, Vec<u8>>,
    next_tree: u32,
}

impl Recorder {
    pub fn new() -> Self {
        let mut r = Recorder::default();
        r.add("host", "/", Kind::Dir);
        r.add("new", "/", Kind::Dir);
        r
    }

    /// A fake whose scratch root (`base`) holds the empty new root, as the builder finds it.
    pub fn scratch() -> Self {
        let mut r = Recorder::new();
        r.add("base", "/", Kind::Dir);
        r.add("base", "/newroot", Kind::Dir);
        r
    }

    pub fn add(&mut self, tree: &str, path: &str, kind: Kind) {
        self.paths.insert((tree.to_string(), PathBuf::from(path)), kind);
    }

    pub fn root(tree: &str) -> Handle {
        Handle { name: tree.to_string(), path: PathBuf::from("/"), tree: tree.to_string() }
    }

    fn check(&mut self, call: &'static str, arg: &str) -> SysResult<()> {
        self.calls.push(format!("{call}({arg})"));
        for (c, a, e) in &self.failures {
            if *c == call && arg.contains(a.as_str()) {
                return Err(SysError::new(real_call(call), *e));
            }
        }
        Ok(())
    }

    fn tree(&mut self, what: String) -> Handle {
        self.next_tree += 1;
        Handle { name: format!("mnt{}", self.next_tree), path: PathBuf::from(what), tree: String::new() }
    }
}

/// The syscall a fake call stands for, so error messages read as the real ones do.
fn real_call(call: &str) -> &'static str {
    match call {
        "resolve" => "openat2",
        "mkdir" => "mkdirat",
        "create_file" => "openat",
        "symlink" => "symlinkat",
        "chmod" => "fchmodat2",
        "clone_tree" => "open_tree",
        "new_fs" => "fsmount",
        "set_attrs" => "mount_setattr",
        "attach" => "move_mount",
        "is_mount_root" => "statx",
        "new_overlay" => "fsconfig",
        "handed" => "fcntl",
        "make_private" | "mount_tmpfs" => "mount",
        "pivot_root" => "pivot_root",
        "detach" => "umount2",
        "chdir" => "chdir",
        "open_root" => "openat2",
        "set_hostname" => "sethostname",
        "loopback_up" => "ioctl",
        _ => "read",
    }
}

fn join(base: &Path, rel: &Path) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in rel.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

impl Sys for Recorder {
    type Fd = Handle;

    fn resolve(&mut self, root: &Handle, path: &Path) -> SysResult<Handle> {
        let full = join(&root.path, path);
        self.check("resolve", &format!("{}:{}", root.tree, full.display()))?;
        if !self.paths.contains_key(&(root.tree.clone(), full.clone())) {
            return Err(SysError::new("openat2", Errno::ENOENT));
        }
        Ok(Handle { name: format!("{}:{}", root.tree, full.display()), path: full, tree: root.tree.clone() })
    }

    fn kind(&mut self, fd: &Handle) -> SysResult<Kind> {
        Ok(*self.paths.get(&(fd.tree.clone(), fd.path.clone())).unwrap_or(&Kind::NonDir))
    }

    fn mkdir_at(&mut self, dir: &Handle, name: &OsStr, mode: u32) -> SysResult<()> {
        let p = dir.path.join(name);
        self.check("mkdir", &format!("{}:{} {mode:o}", dir.tree, p.display()))?;
        self.paths.insert((dir.tree.clone(), p), Kind::Dir);
        Ok(())
    }

    fn create_file_at(&mut self, dir: &Handle, name: &OsStr, mode: u32, data: &[u8]) -> SysResult<Handle> {
        let p = dir.path.join(name);
        self.check("create_file", &format!("{}:{} {mode:o} {}B", dir.tree, p.display(), data.len()))?;
        self.paths.insert((dir.tree.clone(), p.clone()), Kind::NonDir);
        Ok(Handle { name: format!("{}:{}", dir.tree, p.display()), path: p, tree: dir.tree.clone() })
    }

    fn symlink_at(&mut self, target: &Path, dir: &Handle, name: &OsStr) -> SysResult<()> {
        let p = dir.path.join(name);
        self.check("symlink", &format!("{} -> {}", p.display(), target.display()))?;
        self.paths.insert((dir.tree.clone(), p), Kind::NonDir);
        Ok(())
    }

    fn read_link_at(&mut self, _dir: &Handle, _name: &OsStr) -> SysResult<PathBuf> {
        Err(SysError::new("readlinkat", Errno::EINVAL))
    }

    fn chmod(&mut self, fd: &Handle, mode: u32) -> SysResult<()> {
        self.check("chmod", &format!("{} {mode:o}", fd.name))
    }

    fn clone_tree(&mut self, src: &Handle, recursive: bool) -> SysResult<Handle> {
        self.check("clone_tree", &format!("{}{}", src.name, if recursive { " recursive" } else { "" }))?;
        Ok(self.tree(src.name.clone()))
    }

    fn new_fs(&mut self, fstype: &str, options: &[(&str, String)], attrs: Attrs) -> SysResult<Handle> {
        let opts: Vec<String> = options.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.check("new_fs", &format!("{fstype} [{}] {attrs}", opts.join(",")))?;
        Ok(self.tree(fstype.to_string()))
    }

    fn set_attrs(&mut self, mnt: &Handle, attrs: Attrs, recursive: bool) -> SysResult<()> {
        self.check("set_attrs", &format!("{} {attrs}{}", mnt.name, if recursive { " recursive" } else { "" }))
    }

    fn attach(&mut self, mnt: &Handle, dest: &Handle) -> SysResult<()> {
        self.check("attach", &format!("{} on {}", mnt.name, dest.name))
    }

    fn is_mount_root(&mut self, fd: &Handle) -> SysResult<bool> {
        self.check("is_mount_root", &fd.name)?;
        Ok(true)
    }

    fn read_all(&mut self, fd: RawFd) -> SysResult<Vec<u8>> {
        self.check("read_all", &fd.to_string())?;
        Ok(self.data.get(&fd).cloned().unwrap_or_default())
    }

    fn open_dir(&mut self, root: &Handle, path: &Path) -> SysResult<Handle> {
        let h = self.resolve(root, path)?;
        if self.kind(&h)? != Kind::Dir {
            return Err(SysError::new("openat2", Errno::ENOTDIR));
        }
        Ok(h)
    }

    fn new_overlay(&mut self, lower: &[Handle], upper: Option<(&Handle, &Handle)>) -> SysResult<Handle> {
        let names: Vec<&str> = lower.iter().map(|h| h.name.as_str()).collect();
        let up = upper.map_or("none".to_string(), |(u, w)| format!("{} work {}", u.name, w.name));
        self.check("new_overlay", &format!("[{}] upper {up}", names.join(",")))?;
        Ok(self.tree("overlay".into()))
    }

    fn handed(&mut self, _host: &Handle, fd: RawFd) -> SysResult<Handle> {
        self.check("handed", &fd.to_string())?;
        self.paths.insert(("fd".into(), PathBuf::from(format!("/{fd}"))), Kind::Dir);
        Ok(Handle { name: format!("fd{fd}"), path: PathBuf::from(format!("/{fd}")), tree: "fd".into() })
    }

    fn make_private(&mut self) -> SysResult<()> {
        self.check("make_private", "/")
    }

    fn mount_tmpfs(&mut self, path: &Path) -> SysResult<()> {
        self.check("mount_tmpfs", &path.display().to_string())
    }

    fn bind_self(&mut self, path: &Path) -> SysResult<()> {
        self.check("bind_self", &path.display().to_string())
    }

    fn mkdir(&mut self, path: &Path, mode: u32) -> SysResult<()> {
        self.check("mkdir", &format!("{} {mode:o}", path.display()))
    }

    fn chdir(&mut self, path: &Path) -> SysResult<()> {
        self.check("chdir", &path.display().to_string())
    }

    fn pivot_root(&mut self, new_root: &Path, put_old: &Path) -> SysResult<()> {
        self.check("pivot_root", &format!("{} {}", new_root.display(), put_old.display()))
    }

    fn detach(&mut self, path: &Path) -> SysResult<()> {
        self.check("detach", &path.display().to_string())
    }

    /// The scratch root is the tree `base`; the host, put aside below it, the tree `host`.
    fn open_root(&mut self, path: &Path) -> SysResult<Handle> {
        self.check("open_root", &path.display().to_string())?;
        Ok(Recorder::root(if path == Path::new("/oldroot") { "host" } else { "base" }))
    }

    fn set_hostname(&mut self, name: &str) -> SysResult<()> {
        self.check("set_hostname", name)
    }

    fn loopback_up(&mut self) -> SysResult<()> {
        self.check("loopback_up", "lo")
    }
}
