//! Builds the new root from the plan's filesystem steps, in order.
//!
//! During setup the process root is a scratch tmpfs holding `newroot` (the sandbox's root, a
//! tmpfs of its own) and `oldroot` (the host). Sources are resolved beneath `oldroot`,
//! destinations beneath the top of `newroot`, both with `RESOLVE_IN_ROOT`, so a symlink planted
//! in a tree can never send a mount outside it. Binds use the new mount API: one clone, one
//! attribute change and one move per bind, however many mounts lie beneath the source.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::spec::{BindMode, FsOp, FsStep, OverlayUpper};
use crate::sys::{errno_text, Attrs, Kind, Sys, SysError};

/// A failed step: the step, the call, the path it was about, the errno.
#[derive(Debug)]
pub struct StepError {
    pub step: String,
    pub call: &'static str,
    pub path: PathBuf,
    pub errno: Errno,
    pub hint: Option<String>,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--{}: {}({:?}): {}", self.step, self.call, self.path, errno_text(self.errno))?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl StepError {
    /// The failure in bubblewrap's words, where scripts match on them.
    pub fn bwrap_text(&self) -> String {
        match (self.call, &self.hint) {
            ("symlinkat", Some(h)) => format!("Can't make symlink at {}: {h}", self.path.display()),
            _ => format!("{}: {}({:?}): {}", self.step, self.call, self.path, self.errno.desc()),
        }
    }
}

impl std::error::Error for StepError {}

/// A syscall error tagged with the path it concerned, before the step is known.
struct Failure {
    call: &'static str,
    path: PathBuf,
    errno: Errno,
    hint: Option<String>,
}

type R<T> = Result<T, Failure>;

trait At<T> {
    fn at(self, path: &Path) -> R<T>;
}

impl<T> At<T> for Result<T, SysError> {
    fn at(self, path: &Path) -> R<T> {
        self.map_err(|e| Failure { call: e.call, path: path.to_path_buf(), errno: e.errno, hint: None })
    }
}

const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
const DEV_LINKS: [(&str, &str); 6] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
    ("ptmx", "pts/ptmx"),
];
/// procfs entries that would let uid 0 inside reconfigure the host's kernel: read-only.
const PROC_READONLY: [&str; 4] = ["sys", "sysrq-trigger", "irq", "bus"];

pub struct Builder<'a, S: Sys> {
    sys: &'a mut S,
    base: S::Fd,
    host: S::Fd,
    root: S::Fd,
    /// With the caller's pid namespace, procfs cannot be mounted: the host's is bound.
    share_pid: bool,
    data_files: usize,
    overlays: usize,
}

/// The mode of the parents `--dir` creates for a directory of `mode`: the owner may always
/// enter them, group and others may where the directory lets them in at all (bubblewrap's rule).
fn parent_mode(mode: u32) -> u32 {
    let mut m = 0o700;
    if mode & 0o070 != 0 {
        m |= 0o050;
    }
    if mode & 0o007 != 0 {
        m |= 0o005;
    }
    m
}

fn is_root(p: &Path) -> bool {
    crate::spec::same_path(p, Path::new("/"))
}

fn name_of(p: &Path) -> R<&OsStr> {
    p.file_name().ok_or(Failure {
        call: "mkdirat",
        path: p.to_path_buf(),
        errno: Errno::EINVAL,
        hint: Some("not a name".into()),
    })
}

impl<'a, S: Sys> Builder<'a, S> {
    /// `base` is the scratch root (holding `newroot`), `host` the host's root.
    pub fn new(sys: &'a mut S, base: S::Fd, host: S::Fd) -> Result<Self, StepError> {
        let root = sys.resolve(&base, Path::new("newroot")).map_err(|e| StepError {
            step: "tmpfs /".into(),
            call: e.call,
            path: "/".into(),
            errno: e.errno,
            hint: None,
        })?;
        Ok(Builder { sys, base, host, root, share_pid: false, data_files: 0, overlays: 0 })
    }

    pub fn share_pid(mut self, yes: bool) -> Self {
        self.share_pid = yes;
        self
    }

    pub fn run(&mut self, steps: &[FsStep]) -> Result<(), StepError> {
        for st in steps {
            self.step(&st.op).map_err(|f| StepError {
                step: st.op.to_string(),
                call: f.call,
                path: f.path,
                errno: f.errno,
                hint: f.hint,
            })?;
            if is_root(st.op.dest()) {
                // Something now covers the root: later steps must build on top of it.
                self.root = self.sys.resolve(&self.base, Path::new("newroot")).map_err(|e| StepError {
                    step: st.op.to_string(),
                    call: e.call,
                    path: "/".into(),
                    errno: e.errno,
                    hint: None,
                })?;
            }
        }
        Ok(())
    }

    fn step(&mut self, op: &FsOp) -> R<()> {
        match op {
            FsOp::Bind { src, dest, mode, optional } => {
                let src_fd = match self.sys.resolve(&self.host, src) {
                    Err(e) if *optional && e.errno == Errno::ENOENT => return Ok(()),
                    r => r.at(src)?,
                };
                let attrs = Attrs {
                    rdonly: *mode == BindMode::ReadOnly,
                    nosuid: true,
                    nodev: *mode != BindMode::Devices,
                    noexec: false,
                };
                self.bind(&src_fd, src, dest, attrs, true)
            }
            FsOp::RemountRo { dest } => {
                let fd = self.sys.resolve(&self.root, dest).at(dest)?;
                if !self.sys.is_mount_root(&fd).at(dest)? {
                    return Err(Failure {
                        call: "mount_setattr",
                        path: dest.clone(),
                        errno: Errno::EINVAL,
                        hint: Some("not a mount point".into()),
                    });
                }
                self.sys.set_attrs(&fd, Attrs { rdonly: true, ..Attrs::default() }, true).at(dest)
            }
            FsOp::Tmpfs { dest, size, perms } => {
                let mut opts = vec![("mode", format!("{perms:o}"))];
                if let Some(s) = size {
                    opts.push(("size", s.to_string()));
                }
                self.mount_new("tmpfs", &opts, dest, Attrs { nosuid: true, nodev: true, ..Attrs::default() }).map(drop)
            }
            FsOp::Proc { dest } => self.proc(dest),
            FsOp::Dev { dest } => self.dev(dest),
            FsOp::Mqueue { dest } => {
                let attrs = Attrs { nosuid: true, nodev: true, noexec: true, ..Attrs::default() };
                self.mount_new("mqueue", &[], dest, attrs).map(drop)
            }
            // An existing directory keeps its mode (--chmod changes it), as in bubblewrap.
            FsOp::Dir { dest, perms } => match self.sys.resolve(&self.root, dest) {
                Ok(_) => Ok(()),
                Err(e) if e.errno == Errno::ENOENT => {
                    let mode = perms.unwrap_or(0o755);
                    let parent = self.ensure_dir_mode(dest.parent().unwrap_or(Path::new("/")), parent_mode(mode))?;
                    self.sys.mkdir_at(&parent, name_of(dest)?, mode).at(dest)
                }
                Err(e) => Err(e).at(dest),
            },
            FsOp::Symlink { target, dest } => {
                let parent = self.ensure_dir(dest.parent().unwrap_or(Path::new("/")))?;
                let name = name_of(dest)?;
                match self.sys.symlink_at(target, &parent, name) {
                    Err(e) if e.errno == Errno::EEXIST => match self.sys.read_link_at(&parent, name) {
                        // The same link again is no conflict: re-running a sandbox is idempotent.
                        Ok(existing) if existing == *target => Ok(()),
                        Ok(existing) => Err(Failure {
                            call: e.call,
                            path: dest.clone(),
                            errno: e.errno,
                            hint: Some(format!("existing destination is {}", existing.display())),
                        }),
                        Err(_) => Err(Failure {
                            call: e.call,
                            path: dest.clone(),
                            errno: e.errno,
                            hint: Some("destination exists and is not a symlink".into()),
                        }),
                    },
                    r => r.at(dest),
                }
            }
            FsOp::File { fd, dest, perms } => {
                let data = self.sys.read_all(*fd).at(Path::new(&format!("fd {fd}")))?;
                let parent = self.ensure_dir(dest.parent().unwrap_or(Path::new("/")))?;
                self.sys.create_file_at(&parent, name_of(dest)?, *perms, &data).map(drop).at(dest)
            }
            FsOp::BindData { fd, dest, perms, readonly } => {
                let data = self.sys.read_all(*fd).at(Path::new(&format!("fd {fd}")))?;
                self.data_files += 1;
                let name = PathBuf::from(format!("data{}", self.data_files));
                let src = self.sys.create_file_at(&self.base, name.as_os_str(), *perms, &data).at(&name)?;
                let attrs = Attrs { rdonly: *readonly, nosuid: true, nodev: true, noexec: false };
                self.bind(&src, &name, dest, attrs, false)
            }
            FsOp::Chmod { path, perms } => {
                let fd = self.sys.resolve(&self.root, path).at(path)?;
                self.sys.chmod(&fd, *perms).at(path)
            }
            FsOp::BindFd { fd, dest, readonly } => {
                let what = PathBuf::from(format!("fd {fd}"));
                let src = self.sys.handed(&self.host, *fd).at(&what)?;
                let attrs = Attrs { rdonly: *readonly, nosuid: true, nodev: true, noexec: false };
                self.bind(&src, &what, dest, attrs, true)
            }
            FsOp::Overlay { lower, upper, dest } => self.overlay(lower, upper, dest),
            FsOp::Protect { dest } => self.protect(dest),
        }
    }

    /// A read-only bind of `dest` onto itself; a missing `dest` first becomes an empty
    /// directory (in a host bind, jail's placeholder is already there).
    fn protect(&mut self, dest: &Path) -> R<()> {
        let ro = Attrs { rdonly: true, ..Attrs::default() };
        if is_root(dest) {
            return self.sys.set_attrs(&self.root, ro, true).at(dest);
        }
        // Below a read-only mount nothing can be made: protected already.
        let Some(parent) = self.dir_unless_read_only(dest.parent().unwrap_or(Path::new("/")))? else {
            return Ok(());
        };
        if self.sys.read_link_at(&parent, name_of(dest)?).is_ok() {
            // A link could be replaced by the sandbox, and protecting its target is not
            // what was asked.
            return Err(Failure {
                call: "readlinkat",
                path: dest.to_path_buf(),
                errno: Errno::ELOOP,
                hint: Some("a symbolic link: protect the path it points to".into()),
            });
        }
        let Some(fd) = self.dir_unless_read_only(dest)? else { return Ok(()) };
        let tree = self.sys.clone_tree(&fd, true).at(dest)?;
        self.sys.set_attrs(&tree, ro, true).at(dest)?;
        self.sys.attach(&tree, &fd).at(dest)
    }

    fn overlay(&mut self, lower: &[PathBuf], upper: &OverlayUpper, dest: &Path) -> R<()> {
        let mut layers = Vec::with_capacity(lower.len());
        for l in lower {
            layers.push(self.sys.open_dir(&self.host, l).at(l)?);
        }
        let dirs = match upper {
            OverlayUpper::Dirs { upper, work } => {
                Some((self.sys.open_dir(&self.host, upper).at(upper)?, self.sys.open_dir(&self.host, work).at(work)?))
            }
            OverlayUpper::Tmpfs => {
                // On the scratch tmpfs, which vanishes with the sandbox's setup root.
                self.overlays += 1;
                let mut pair = Vec::with_capacity(2);
                for part in ["upper", "work"] {
                    let name = PathBuf::from(format!("overlay{}-{part}", self.overlays));
                    self.sys.mkdir_at(&self.base, name.as_os_str(), 0o755).at(&name)?;
                    pair.push(self.sys.open_dir(&self.base, &name).at(&name)?);
                }
                let work = pair.pop();
                pair.pop().zip(work)
            }
            OverlayUpper::ReadOnly => None,
        };
        let dest_fd = self.ensure_dir(dest)?;
        let mnt = self.sys.new_overlay(&layers, dirs.as_ref().map(|(u, w)| (u, w))).at(dest)?;
        self.sys.attach(&mnt, &dest_fd).at(dest)
    }

    /// Clones the tree at `src_fd`, applies `attrs`, and attaches it at `dest`.
    fn bind(&mut self, src_fd: &S::Fd, src: &Path, dest: &Path, attrs: Attrs, recursive: bool) -> R<()> {
        let kind = self.sys.kind(src_fd).at(src)?;
        let dest_fd = self.mount_point(dest, kind)?;
        let tree = self.sys.clone_tree(src_fd, recursive).at(src)?;
        self.sys.set_attrs(&tree, attrs, recursive).at(src)?;
        self.sys.attach(&tree, &dest_fd).at(dest)
    }

    fn mount_new(&mut self, fstype: &str, opts: &[(&str, String)], dest: &Path, attrs: Attrs) -> R<S::Fd> {
        let dest_fd = self.ensure_dir(dest)?;
        let fs = self.sys.new_fs(fstype, opts, attrs).at(dest)?;
        self.sys.attach(&fs, &dest_fd).at(dest)?;
        self.sys.resolve(&self.root, dest).at(dest)
    }

    fn proc(&mut self, dest: &Path) -> R<()> {
        let attrs = Attrs { nosuid: true, nodev: true, noexec: true, ..Attrs::default() };
        if self.share_pid {
            let src = Path::new("/proc");
            let fd = self.sys.resolve(&self.host, src).at(src)?;
            return self.bind(&fd, src, dest, attrs, true);
        }
        self.mount_new("proc", &[], dest, attrs).map_err(|mut f| {
            if f.errno == Errno::EPERM {
                f.hint = Some("procfs needs a fully visible /proc on the host".into());
            }
            f
        })?;
        for name in PROC_READONLY {
            let p = dest.join(name);
            let fd = match self.sys.resolve(&self.root, &p) {
                Err(e) if e.errno == Errno::ENOENT => continue,
                r => r.at(&p)?,
            };
            let tree = self.sys.clone_tree(&fd, true).at(&p)?;
            self.sys.set_attrs(&tree, Attrs { rdonly: true, ..attrs }, true).at(&p)?;
            self.sys.attach(&tree, &fd).at(&p)?;
        }
        Ok(())
    }

    fn dev(&mut self, dest: &Path) -> R<()> {
        let tmpfs = Attrs { nosuid: true, nodev: true, ..Attrs::default() };
        let dev = self.mount_new("tmpfs", &[("mode", "755".into())], dest, tmpfs)?;
        for name in DEVICES {
            let host_path = Path::new("/dev").join(name);
            let src = match self.sys.resolve(&self.host, &host_path) {
                Err(e) if e.errno == Errno::ENOENT && name == "tty" => continue,
                r => r.at(&host_path)?,
            };
            let p = dest.join(name);
            let target = self.sys.create_file_at(&dev, OsStr::new(name), 0o666, b"").at(&p)?;
            let tree = self.sys.clone_tree(&src, false).at(&host_path)?;
            self.sys
                .set_attrs(&tree, Attrs { nosuid: true, noexec: true, ..Attrs::default() }, false)
                .at(&host_path)?;
            self.sys.attach(&tree, &target).at(&p)?;
        }
        for (name, target) in DEV_LINKS {
            self.sys.symlink_at(Path::new(target), &dev, OsStr::new(name)).at(&dest.join(name))?;
        }
        self.sys.mkdir_at(&dev, OsStr::new("shm"), 0o1777).at(&dest.join("shm"))?;
        self.mount_new("tmpfs", &[("mode", "1777".into())], &dest.join("shm"), tmpfs)?;
        self.sys.mkdir_at(&dev, OsStr::new("pts"), 0o755).at(&dest.join("pts"))?;
        let pts = [("newinstance", String::new()), ("ptmxmode", "0666".into()), ("mode", "620".into())];
        self.mount_new("devpts", &pts, &dest.join("pts"), Attrs { nosuid: true, noexec: true, ..Attrs::default() })?;
        Ok(())
    }

    /// What is at `path`, or a new directory there; None when it is missing below a read-only
    /// mount, where nothing can appear.
    fn dir_unless_read_only(&mut self, path: &Path) -> R<Option<S::Fd>> {
        match self.sys.resolve(&self.root, path) {
            Err(e) if e.errno == Errno::ENOENT => match self.ensure_dir(path) {
                Ok(fd) => Ok(Some(fd)),
                Err(f) if f.errno == Errno::EROFS => Ok(None),
                Err(f) => Err(f),
            },
            r => r.at(path).map(Some),
        }
    }

    /// Resolves `path` in the new root, creating missing directories (mode 0755) on the way.
    fn ensure_dir(&mut self, path: &Path) -> R<S::Fd> {
        self.ensure_dir_mode(path, 0o755)
    }

    fn ensure_dir_mode(&mut self, path: &Path, mode: u32) -> R<S::Fd> {
        match self.sys.resolve(&self.root, path) {
            Err(e) if e.errno == Errno::ENOENT => {
                let parent = self.ensure_dir_mode(path.parent().unwrap_or(Path::new("/")), mode)?;
                self.sys.mkdir_at(&parent, name_of(path)?, mode).at(path)?;
                self.sys.resolve(&self.root, path).at(path)
            }
            r => r.at(path),
        }
    }

    /// Resolves or creates a mount point of the right kind for a bind of `kind`.
    fn mount_point(&mut self, dest: &Path, kind: Kind) -> R<S::Fd> {
        if kind == Kind::Dir {
            return self.ensure_dir(dest);
        }
        match self.sys.resolve(&self.root, dest) {
            Err(e) if e.errno == Errno::ENOENT => {
                let parent = self.ensure_dir(dest.parent().unwrap_or(Path::new("/")))?;
                self.sys.create_file_at(&parent, name_of(dest)?, 0o444, b"").at(dest)
            }
            r => r.at(dest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::Recorder;

    fn fake() -> Recorder {
        let mut r = Recorder::scratch();
        for p in ["/r", "/r/proc", "/r/dev", "/r/tmp", "/dev", "/src"] {
            r.add("host", p, Kind::Dir);
        }
        for d in DEVICES {
            r.add("host", &format!("/dev/{d}"), Kind::NonDir);
        }
        r.add("host", "/etc/hosts", Kind::NonDir);
        r
    }

    fn run(r: &mut Recorder, steps: Vec<FsOp>, share_pid: bool) -> Result<(), StepError> {
        let steps: Vec<FsStep> = steps.into_iter().map(|op| FsStep { op, added: None }).collect();
        let mut b = Builder::new(r, Recorder::root("base"), Recorder::root("host"))?.share_pid(share_pid);
        b.run(&steps)
    }

    fn mounts(r: &Recorder) -> Vec<String> {
        r.calls.iter().filter(|c| !c.starts_with("resolve")).cloned().collect()
    }

    #[test]
    fn read_only_bind_is_one_clone_one_setattr_one_move() {
        let mut r = fake();
        let op = FsOp::Bind { src: "/src".into(), dest: "/a/b".into(), mode: BindMode::ReadOnly, optional: false };
        run(&mut r, vec![op], false).unwrap();
        assert_eq!(
            mounts(&r),
            [
                "mkdir(base:/newroot/a 755)",
                "mkdir(base:/newroot/a/b 755)",
                "clone_tree(host:/src recursive)",
                "set_attrs(mnt1 ro,nosuid,nodev recursive)",
                "attach(mnt1 on base:/newroot/a/b)",
            ]
        );
    }

    #[test]
    fn file_bind_gets_a_file_mount_point_and_devices_stay_usable_with_dev_bind() {
        let mut r = fake();
        let op = FsOp::Bind {
            src: "/etc/hosts".into(),
            dest: "/etc/hosts".into(),
            mode: BindMode::Devices,
            optional: false,
        };
        run(&mut r, vec![op], false).unwrap();
        assert_eq!(
            mounts(&r),
            [
                "mkdir(base:/newroot/etc 755)",
                "create_file(base:/newroot/etc/hosts 444 0B)",
                "clone_tree(host:/etc/hosts recursive)",
                "set_attrs(mnt1 nosuid recursive)",
                "attach(mnt1 on base:/newroot/etc/hosts)",
            ]
        );
    }

    #[test]
    fn optional_bind_of_a_missing_source_does_nothing() {
        let mut r = fake();
        let op = FsOp::Bind { src: "/nope".into(), dest: "/x".into(), mode: BindMode::ReadOnly, optional: true };
        run(&mut r, vec![op], false).unwrap();
        assert!(mounts(&r).is_empty());
    }

    #[test]
    fn steps_after_a_root_bind_build_on_top_of_it() {
        let mut r = fake();
        let steps = vec![
            FsOp::Bind { src: "/r".into(), dest: "/".into(), mode: BindMode::ReadOnly, optional: false },
            FsOp::Tmpfs { dest: "/tmp".into(), size: Some(1024), perms: 0o1777 },
        ];
        run(&mut r, steps, false).unwrap();
        let calls = r.calls.join("\n");
        let attach_root = calls.find("attach(mnt1 on base:/newroot)").unwrap();
        let reopen = calls[attach_root..].find("resolve(base:/newroot)").unwrap();
        let tmpfs = calls.find("new_fs(tmpfs [mode=1777,size=1024] nosuid,nodev)").unwrap();
        assert!(attach_root + reopen < tmpfs, "{calls}");
    }

    #[test]
    fn proc_is_fresh_with_kernel_knobs_read_only() {
        let mut r = fake();
        r.add("base", "/newroot/proc/sys", Kind::Dir);
        r.add("base", "/newroot/proc", Kind::Dir);
        run(&mut r, vec![FsOp::Proc { dest: "/proc".into() }], false).unwrap();
        assert_eq!(
            mounts(&r),
            [
                "new_fs(proc [] nosuid,nodev,noexec)",
                "attach(mnt1 on base:/newroot/proc)",
                "clone_tree(base:/newroot/proc/sys recursive)",
                "set_attrs(mnt2 ro,nosuid,nodev,noexec recursive)",
                "attach(mnt2 on base:/newroot/proc/sys)",
            ]
        );
    }

    #[test]
    fn proc_with_shared_pid_namespace_binds_the_hosts() {
        let mut r = fake();
        r.add("host", "/proc", Kind::Dir);
        run(&mut r, vec![FsOp::Proc { dest: "/proc".into() }], true).unwrap();
        assert_eq!(mounts(&r)[1], "clone_tree(host:/proc recursive)");
    }

    #[test]
    fn dev_has_the_six_devices_pts_and_shm() {
        let mut r = fake();
        run(&mut r, vec![FsOp::Dev { dest: "/dev".into() }], false).unwrap();
        let m = mounts(&r);
        assert_eq!(m.iter().filter(|c| c.starts_with("clone_tree(host:/dev/")).count(), 6);
        assert!(m.contains(&"new_fs(devpts [newinstance=,ptmxmode=0666,mode=620] nosuid,noexec)".to_string()));
        assert!(m.contains(&"symlink(/newroot/dev/ptmx -> pts/ptmx)".to_string()));
        assert!(m.contains(&"new_fs(tmpfs [mode=1777] nosuid,nodev)".to_string()));
    }

    #[test]
    fn an_injected_failure_names_the_step_the_call_and_the_errno() {
        let mut r = fake();
        r.failures.push(("attach", "base:/newroot/proc".into(), Errno::EPERM));
        let steps =
            vec![FsOp::Tmpfs { dest: "/a".into(), size: None, perms: 0o755 }, FsOp::Proc { dest: "/proc".into() }];
        let e = run(&mut r, steps, false).unwrap_err().to_string();
        assert_eq!(
            e,
            "--proc /proc: move_mount(\"/proc\"): EPERM (Operation not permitted) (procfs needs a fully visible /proc on the host)"
        );
        // Nothing after the failing call was attempted.
        assert!(r.calls.last().unwrap().starts_with("attach(mnt2 on base:/newroot/proc"));
    }

    #[test]
    fn remount_ro_and_dir_and_symlink() {
        let mut r = fake();
        let steps = vec![
            FsOp::Dir { dest: "/d".into(), perms: Some(0o700) },
            FsOp::Symlink { target: "/d".into(), dest: "/l".into() },
            FsOp::RemountRo { dest: "/".into() },
        ];
        run(&mut r, steps, false).unwrap();
        assert_eq!(
            mounts(&r),
            [
                "mkdir(base:/newroot/d 700)",
                "symlink(/newroot/l -> /d)",
                "is_mount_root(base:/newroot)",
                "set_attrs(base:/newroot ro recursive)",
            ]
        );
    }

    #[test]
    fn dir_parents_take_the_access_the_directory_allows_and_an_existing_dir_keeps_its_mode() {
        let mut r = fake();
        let steps = vec![
            FsOp::Dir { dest: "/p/q".into(), perms: Some(0o604) },
            FsOp::Dir { dest: "/p".into(), perms: Some(0o777) },
            FsOp::Dir { dest: "/s/t".into(), perms: Some(0o1777) },
        ];
        run(&mut r, steps, false).unwrap();
        assert_eq!(
            mounts(&r),
            [
                "mkdir(base:/newroot/p 705)",
                "mkdir(base:/newroot/p/q 604)",
                "mkdir(base:/newroot/s 755)",
                "mkdir(base:/newroot/s/t 1777)",
            ]
        );
        assert_eq!(
            [parent_mode(0o750), parent_mode(0o720), parent_mode(0), parent_mode(0o644)],
            [0o750, 0o750, 0o700, 0o755]
        );
    }

    #[test]
    fn overlay_layers_go_to_the_kernel_as_open_directories() {
        let mut r = fake();
        r.add("host", "/up", Kind::Dir);
        r.add("host", "/work", Kind::Dir);
        let steps = vec![
            FsOp::Overlay { lower: vec!["/src".into(), "/r".into()], upper: OverlayUpper::Tmpfs, dest: "/o".into() },
            FsOp::Overlay {
                lower: vec!["/src".into()],
                upper: OverlayUpper::Dirs { upper: "/up".into(), work: "/work".into() },
                dest: "/w".into(),
            },
        ];
        run(&mut r, steps, false).unwrap();
        assert_eq!(
            mounts(&r),
            [
                "mkdir(base:/overlay1-upper 755)",
                "mkdir(base:/overlay1-work 755)",
                "mkdir(base:/newroot/o 755)",
                "new_overlay([host:/src,host:/r] upper base:/overlay1-upper work base:/overlay1-work)",
                "attach(mnt1 on base:/newroot/o)",
                "mkdir(base:/newroot/w 755)",
                "new_overlay([host:/src] upper host:/up work host:/work)",
                "attach(mnt2 on base:/newroot/w)",
            ]
        );
        let mut r = fake();
        let bad = vec![FsOp::Overlay { lower: vec!["/nope".into()], upper: OverlayUpper::ReadOnly, dest: "/o".into() }];
        let e = run(&mut r, bad, false).unwrap_err();
        assert_eq!((e.call, e.errno), ("openat2", Errno::ENOENT));
    }

    #[test]
    fn protect_binds_a_path_read_only_onto_itself_and_makes_a_missing_one_first() {
        let mut r = fake();
        r.add("base", "/newroot/etc", Kind::Dir);
        r.add("base", "/newroot/etc/passwd", Kind::NonDir);
        let steps = vec![FsOp::Protect { dest: "/etc/passwd".into() }, FsOp::Protect { dest: "/etc/new".into() }];
        run(&mut r, steps, false).unwrap();
        assert_eq!(
            mounts(&r),
            [
                "clone_tree(base:/newroot/etc/passwd recursive)",
                "set_attrs(mnt1 ro recursive)",
                "attach(mnt1 on base:/newroot/etc/passwd)",
                "mkdir(base:/newroot/etc/new 755)",
                "clone_tree(base:/newroot/etc/new recursive)",
                "set_attrs(mnt2 ro recursive)",
                "attach(mnt2 on base:/newroot/etc/new)",
            ]
        );
        // Below a read-only mount nothing can appear: nothing to do.
        let mut r = fake();
        r.failures.push(("mkdir", "/x".into(), Errno::EROFS));
        run(&mut r, vec![FsOp::Protect { dest: "/x/y".into() }], false).unwrap();
        assert!(!mounts(&r).iter().any(|c| c.starts_with("attach")));
    }

    #[test]
    fn a_conflicting_symlink_names_what_is_there_in_bubblewraps_words() {
        let e = StepError {
            step: "symlink /x -> /dev/full".into(),
            call: "symlinkat",
            path: "/x".into(),
            errno: Errno::EEXIST,
            hint: Some("existing destination is /dev/null".into()),
        };
        assert_eq!(e.bwrap_text(), "Can't make symlink at /x: existing destination is /dev/null");
        assert!(e.to_string().starts_with("--symlink /x -> /dev/full: symlinkat(\"/x\"): EEXIST"));
    }

    #[test]
    fn bind_data_goes_through_a_scratch_file() {
        let mut r = fake();
        r.data.insert(5, b"hello".to_vec());
        let steps = vec![FsOp::BindData { fd: 5, dest: "/etc/x".into(), perms: 0o600, readonly: true }];
        run(&mut r, steps, false).unwrap();
        let m = mounts(&r);
        assert_eq!(m[0], "read_all(5)");
        assert_eq!(m[1], "create_file(base:/data1 600 5B)");
        assert!(m.contains(&"set_attrs(mnt1 ro,nosuid,nodev)".to_string()), "{m:?}");
    }
}
