//! cgroup v2 files: where the tree is, moving jail, laying out the leaves, reading limits back,
//! and the delegated-subtree backend.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use super::{Cgroup, Limits, Plan};
use crate::spec::limits::Level;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// `/sys/fs/cgroup` when it is a unified cgroup v2 tree.
pub fn unified_root() -> Result<PathBuf> {
    let root = PathBuf::from("/sys/fs/cgroup");
    let st = nix::sys::statfs::statfs(&root).map_err(|e| anyhow!("statfs(/sys/fs/cgroup): {e}"))?;
    if st.filesystem_type().0 as i64 != CGROUP2_SUPER_MAGIC {
        // The real ways out depend on whether systemd runs this host.
        let fix = if Path::new("/run/systemd/system").is_dir() {
            "drop the limit, or boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2"
        } else {
            "this host does not run systemd; drop the limit, run jail inside a cgroup v2 subtree \
             delegated to you (cgroup2 at /sys/fs/cgroup), or use a host that boots systemd with cgroup v2"
        };
        bail!("limits need cgroup v2, but /sys/fs/cgroup is a cgroup v1 or hybrid tree: {fix}");
    }
    Ok(root)
}

/// jail's own cgroup, as in /proc/self/cgroup (`0::/path`).
pub fn own_cgroup() -> Result<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| anyhow!("read /proc/self/cgroup: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
        .ok_or_else(|| anyhow!("/proc/self/cgroup has no cgroup v2 entry"))
}

/// The cgroup files jail reads and writes, behind a trait so that the order of the layout is
/// unit-tested against a fake that keeps the kernel's rules.
pub trait Files {
    fn read(&mut self, path: &Path) -> Option<String>;
    fn write(&mut self, path: &Path, value: &str) -> Result<()>;
    /// Creates a cgroup; one that exists already is fine.
    fn mkdir(&mut self, dir: &Path) -> Result<()>;
}

/// The real cgroup filesystem.
pub struct Real;

impl Files for Real {
    fn read(&mut self, path: &Path) -> Option<String> {
        read(path)
    }

    fn write(&mut self, path: &Path, value: &str) -> Result<()> {
        std::fs::write(path, value).map_err(|e| anyhow!("write {:?} to {}: {e}", value, path.display()))
    }

    fn mkdir(&mut self, dir: &Path) -> Result<()> {
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => bail!("mkdir {}: {e}", dir.display()),
            _ => Ok(()),
        }
    }
}

pub fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Moves jail itself into the cgroup `dir`.
pub fn move_self(files: &mut impl Files, dir: &Path) -> Result<()> {
    files.write(&dir.join("cgroup.procs"), "0")
}

/// Moves the process `pid` (not its children) into the cgroup `dir`.
pub fn move_process(files: &mut impl Files, dir: &Path, pid: nix::unistd::Pid) -> Result<()> {
    files.write(&dir.join("cgroup.procs"), &pid.to_string())
}

/// The fix for a controller the cgroup was not given.
fn missing_controller(c: &str, dir: &Path, backend: &str) -> anyhow::Error {
    let fix = if backend == "systemd" && matches!(c, "cpuset" | "io") {
        "systemd 252 delegates only cpu, memory and pids to users by default; as root add \
         /etc/systemd/system/user@.service.d/delegate.conf with [Service] Delegate=cpu cpuset io memory pids, \
         then systemctl daemon-reload and log in again"
    } else {
        "the cgroup above it does not delegate this controller"
    };
    anyhow!("the {c} controller is not available in {} ({fix})", dir.display())
}

/// Creates `supervisor` and `payload`, moves jail into the one and the sandbox into the other,
/// enables the controllers the limits need below the cgroup, and reads every scope-level
/// limit back.
pub fn lay_out(files: &mut impl Files, cg: &Cgroup, limits: &Limits) -> Result<()> {
    let dir = cg.dir();
    let available = files.read(&dir.join("cgroup.controllers")).unwrap_or_default();
    let available: Vec<&str> = available.split_whitespace().collect();
    for c in limits.controllers() {
        if !available.contains(&c) {
            return Err(missing_controller(c, dir, cg.backend));
        }
    }
    make_leaves(files, cg)?;
    // Usage per leaf needs the controllers enabled below the scope (which is now empty).
    let enable: Vec<String> =
        ["memory", "pids", "cpu"].iter().filter(|c| available.contains(c)).map(|c| format!("+{c}")).collect();
    if !enable.is_empty() {
        files.write(&dir.join("cgroup.subtree_control"), &enable.join(" "))?;
    }
    verify(files, dir, limits, Level::Scope)
}

/// `supervisor` with jail in it, `payload` with the sandbox.
fn make_leaves(files: &mut impl Files, cg: &Cgroup) -> Result<()> {
    files.mkdir(&cg.supervisor())?;
    files.mkdir(&cg.payload())?;
    move_self(files, &cg.supervisor())?;
    move_process(files, &cg.payload(), cg.child)
}

/// Fails unless every limit file at `level` in `dir` holds what was asked.
pub fn verify(files: &mut impl Files, dir: &Path, limits: &Limits, level: Level) -> Result<()> {
    for (file, want) in limits.expected_files(level) {
        let got = files.read(&dir.join(file)).unwrap_or_else(|| "(missing)".into());
        if got != want {
            bail!("{}/{file} reads {got:?}, not {want:?}: the limit is not in force", dir.display());
        }
    }
    Ok(())
}

/// jail's own cgroup when it is a subtree jail may write (e.g. a service or container with
/// Delegate=yes) offering every controller the limits need.
pub fn check_delegated(plan: &Plan, root: &Path) -> Result<PathBuf> {
    let own = root.join(own_cgroup()?.trim_start_matches('/'));
    if nix::unistd::access(&own.join("cgroup.procs"), nix::unistd::AccessFlags::W_OK).is_err() {
        bail!("jail's cgroup {} is not delegated to this user", own.display());
    }
    let available = read(&own.join("cgroup.controllers")).unwrap_or_default();
    for c in plan.limits.controllers() {
        if !available.split_whitespace().any(|a| a == c) {
            return Err(missing_controller(c, &own, "cgroupfs"));
        }
    }
    Ok(own)
}

/// Makes `cg` = `<own>/jail-PID/{supervisor,payload}` and writes the limit files there itself.
/// jail and the sandbox leave `own` first, since a cgroup that enables controllers for its
/// children may hold no processes; any other process left in the delegated cgroup makes that
/// fail, and the message says so.
pub fn delegate_into(files: &mut impl Files, cg: &Cgroup, own: &Path, limits: &Limits) -> Result<()> {
    files.mkdir(cg.dir())?;
    make_leaves(files, cg)?;
    let wanted: Vec<String> = limits.controllers().iter().map(|c| format!("+{c}")).collect();
    if !wanted.is_empty() {
        files
            .write(&own.join("cgroup.subtree_control"), &wanted.join(" "))
            .map_err(|e| anyhow!("{e:#} (other processes share jail's delegated cgroup {})", own.display()))?;
    }
    for (file, value) in limits.files_to_write(Level::Scope) {
        files.write(&cg.dir().join(file), &value)?;
    }
    let available = files.read(&cg.dir().join("cgroup.controllers")).unwrap_or_default();
    let enable: Vec<String> = ["memory", "pids", "cpu"]
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if !enable.is_empty() {
        files.write(&cg.dir().join("cgroup.subtree_control"), &enable.join(" "))?;
    }
    verify(files, cg.dir(), limits, Level::Scope)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A cgroup tree that keeps the kernel's rules jail relies on: a process is in one cgroup
    /// at a time ("0" is the writer, jail), a cgroup with processes cannot enable controllers
    /// for its children, and a limit file exists only once its controller is enabled above.
    #[derive(Default)]
    struct Tree {
        files: BTreeMap<PathBuf, String>,
        /// Which cgroup each process is in.
        procs: BTreeMap<String, PathBuf>,
        log: Vec<String>,
    }

    impl Tree {
        /// A cgroup `dir` with `controllers` available and `procs` in it.
        fn with(dir: &str, controllers: &str, procs: &[&str]) -> Tree {
            let mut t = Tree::default();
            t.files.insert(Path::new(dir).join("cgroup.controllers"), controllers.into());
            for p in procs {
                t.procs.insert(p.to_string(), dir.into());
            }
            t
        }

        fn in_(&self, pid: &str) -> String {
            self.procs.get(pid).map_or("-".into(), |d| d.display().to_string())
        }
    }

    impl Files for Tree {
        fn read(&mut self, path: &Path) -> Option<String> {
            self.files.get(path).cloned()
        }

        fn write(&mut self, path: &Path, value: &str) -> Result<()> {
            self.log.push(format!("write {} {value}", path.display()));
            let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !self.files.contains_key(&dir.join("cgroup.controllers")) {
                bail!("write {}: ENOENT", path.display());
            }
            match name {
                "cgroup.procs" => {
                    let pid = if value == "0" { "jail" } else { value };
                    self.procs.insert(pid.to_string(), dir);
                }
                "cgroup.subtree_control" => {
                    if self.procs.values().any(|d| *d == dir) {
                        bail!("write {}: EBUSY (processes in {})", path.display(), dir.display());
                    }
                    let on: Vec<&str> = value.split_whitespace().map(|c| c.trim_start_matches('+')).collect();
                    let children: Vec<PathBuf> = self
                        .files
                        .keys()
                        .filter(|k| {
                            k.ends_with("cgroup.controllers") && k.parent().and_then(Path::parent) == Some(&dir)
                        })
                        .cloned()
                        .collect();
                    for c in children {
                        self.files.insert(c, on.join(" "));
                    }
                    self.files.insert(path.to_path_buf(), value.into());
                }
                _ => {
                    let controller = name.split('.').next().unwrap_or("");
                    let enabled = self.files.get(&dir.join("cgroup.controllers")).cloned().unwrap_or_default();
                    if !enabled.split_whitespace().any(|c| c == controller) {
                        bail!("write {}: ENOENT (no {controller} controller here)", path.display());
                    }
                    self.files.insert(path.to_path_buf(), value.into());
                }
            }
            Ok(())
        }

        fn mkdir(&mut self, dir: &Path) -> Result<()> {
            self.log.push(format!("mkdir {}", dir.display()));
            let parent = dir.parent().unwrap_or(Path::new("/"));
            let above = self.files.get(&parent.join("cgroup.subtree_control")).cloned().unwrap_or_default();
            let on: Vec<&str> = above.split_whitespace().map(|c| c.trim_start_matches('+')).collect();
            self.files.entry(dir.join("cgroup.controllers")).or_insert(on.join(" "));
            Ok(())
        }
    }

    fn cg(dir: &str, backend: &'static str) -> Cgroup {
        Cgroup {
            dir: Some(dir.into()),
            backend,
            unit: None,
            via: None,
            owns_dir: false,
            child: nix::unistd::Pid::from_raw(4242),
            pending: None,
            steps: Vec::new(),
        }
    }

    fn limits() -> Limits {
        Limits { mem: Some(48 << 20), swap: Some(0), cpu_percent: Some(20), pids: Some(64), ..Limits::default() }
    }

    /// A scope as systemd leaves it: jail and the sandbox inside, the scope-level limits set.
    fn scope() -> Tree {
        let mut t = Tree::with("/s", "cpu memory pids", &["jail", "4242"]);
        for (f, v) in [("memory.max", "50331648"), ("memory.swap.max", "0"), ("pids.max", "64")] {
            t.files.insert(Path::new("/s").join(f), v.into());
        }
        t
    }

    #[test]
    fn a_scope_is_laid_out_leaves_first_then_the_quota_once_the_sandbox_is_ready() {
        let mut t = scope();
        let c = cg("/s", "systemd");
        lay_out(&mut t, &c, &limits()).unwrap();
        assert_eq!(
            t.log,
            [
                "mkdir /s/supervisor",
                "mkdir /s/payload",
                "write /s/supervisor/cgroup.procs 0",
                "write /s/payload/cgroup.procs 4242",
                "write /s/cgroup.subtree_control +memory +pids +cpu",
            ]
        );
        assert_eq!((t.in_("jail"), t.in_("4242")), ("/s/supervisor".into(), "/s/payload".into()));
        // No quota yet: jail's own work in the sandbox is not held to it.
        assert_eq!(t.read(Path::new("/s/payload/cpu.max")), None);
        c.apply_after_setup_with(&mut t, &limits()).unwrap();
        assert_eq!(
            t.log[5..],
            ["write /s/payload/cpu.max 20000 100000", "write /s/supervisor/cgroup.procs 4242"],
            "the quota first, then init (the sandbox's first process) out from under it"
        );
        assert_eq!(t.in_("4242"), "/s/supervisor");
        assert!(t.read(Path::new("/s/cpu.max")).is_none(), "the scope itself has no quota");
    }

    #[test]
    fn a_limit_that_did_not_take_fails_with_the_file_and_both_values() {
        let mut t = scope();
        t.files.insert("/s/memory.max".into(), "max".into());
        let e = lay_out(&mut t, &cg("/s", "systemd"), &limits()).unwrap_err().to_string();
        assert_eq!(e, "/s/memory.max reads \"max\", not \"50331648\": the limit is not in force");
    }

    #[test]
    fn an_undelegated_controller_fails_before_anything_is_made_and_names_the_fix() {
        let mut t = scope();
        let l = Limits { cpuset: Some("0".into()), ..Limits::default() };
        let e = lay_out(&mut t, &cg("/s", "systemd"), &l).unwrap_err().to_string();
        assert!(e.starts_with("the cpuset controller is not available in /s"), "{e}");
        assert!(e.contains("Delegate=cpu cpuset io memory pids"), "{e}");
        assert!(t.log.is_empty(), "nothing may be made before the check: {:?}", t.log);
        let e =
            lay_out(&mut t, &cg("/s", "cgroupfs"), &Limits { io_weight: Some(5), ..Limits::default() }).unwrap_err();
        assert!(e.to_string().contains("does not delegate this controller"), "{e}");
    }

    #[test]
    fn a_delegated_subtree_is_left_by_both_processes_before_its_controllers_are_enabled() {
        let mut t = Tree::with("/own", "cpu memory pids", &["jail", "4242"]);
        let c = cg("/own/jail-1", "cgroupfs");
        delegate_into(&mut t, &c, Path::new("/own"), &limits()).unwrap();
        assert_eq!(
            t.log,
            [
                "mkdir /own/jail-1",
                "mkdir /own/jail-1/supervisor",
                "mkdir /own/jail-1/payload",
                "write /own/jail-1/supervisor/cgroup.procs 0",
                "write /own/jail-1/payload/cgroup.procs 4242",
                "write /own/cgroup.subtree_control +memory +cpu +pids",
                "write /own/jail-1/memory.max 50331648",
                "write /own/jail-1/memory.swap.max 0",
                "write /own/jail-1/pids.max 64",
                "write /own/jail-1/cgroup.subtree_control +memory +pids +cpu",
            ]
        );
        c.apply_after_setup_with(&mut t, &limits()).unwrap();
        assert_eq!(t.read(Path::new("/own/jail-1/payload/cpu.max")).as_deref(), Some("20000 100000"));
        assert_eq!(t.in_("4242"), "/own/jail-1/supervisor");

        // Another process in the delegated cgroup: the kernel refuses, and the message says why.
        let mut t = Tree::with("/own", "cpu memory pids", &["jail", "4242", "77"]);
        let e = delegate_into(&mut t, &c, Path::new("/own"), &limits()).unwrap_err().to_string();
        assert!(e.contains("EBUSY") && e.contains("other processes share jail's delegated cgroup /own"), "{e}");
    }
}
