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

pub fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| anyhow!("write {:?} to {}: {e}", value, path.display()))
}

pub fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

pub fn move_self(dir: &Path) -> Result<()> {
    write(&dir.join("cgroup.procs"), "0")
}

pub fn mkdir(dir: &Path) -> Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => bail!("mkdir {}: {e}", dir.display()),
        _ => Ok(()),
    }
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
pub fn lay_out(cg: &Cgroup, limits: &Limits) -> Result<()> {
    let dir = cg.dir();
    let available = read(&dir.join("cgroup.controllers")).unwrap_or_default();
    let available: Vec<&str> = available.split_whitespace().collect();
    for c in limits.controllers() {
        if !available.contains(&c) {
            return Err(missing_controller(c, dir, cg.backend));
        }
    }
    make_leaves(cg)?;
    // Usage per leaf needs the controllers enabled below the scope (which is now empty).
    let enable: Vec<String> =
        ["memory", "pids", "cpu"].iter().filter(|c| available.contains(c)).map(|c| format!("+{c}")).collect();
    if !enable.is_empty() {
        write(&dir.join("cgroup.subtree_control"), &enable.join(" "))?;
    }
    verify(dir, limits, Level::Scope)
}

/// `supervisor` with jail in it, `payload` with the sandbox.
fn make_leaves(cg: &Cgroup) -> Result<()> {
    let dir = cg.dir();
    mkdir(&dir.join("supervisor"))?;
    mkdir(&cg.payload())?;
    move_self(&dir.join("supervisor"))?;
    write(&cg.payload().join("cgroup.procs"), &cg.child.to_string())
}

/// Fails unless every limit file at `level` in `dir` holds what was asked.
pub fn verify(dir: &Path, limits: &Limits, level: Level) -> Result<()> {
    for (file, want) in limits.expected_files(level) {
        let got = read(&dir.join(file)).unwrap_or_else(|| "(missing)".into());
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

/// Writes the limit files directly below `own`, in `cg` = `<own>/jail-PID/{supervisor,payload}`.
/// jail and the sandbox leave `own` first, since a cgroup that enables controllers for its
/// children may hold no processes; any other process left in the delegated cgroup makes that
/// fail, and the message says so.
pub fn delegate_into(cg: &Cgroup, own: &Path, limits: &Limits) -> Result<()> {
    make_leaves(cg)?;
    let wanted: Vec<String> = limits.controllers().iter().map(|c| format!("+{c}")).collect();
    if !wanted.is_empty() {
        write(&own.join("cgroup.subtree_control"), &wanted.join(" "))
            .map_err(|e| anyhow!("{e:#} (other processes share jail's delegated cgroup {})", own.display()))?;
    }
    for (file, value) in limits.files_to_write(Level::Scope) {
        write(&cg.dir().join(file), &value)?;
    }
    lay_out(cg, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory laid out like a cgroup, with the files a kernel would show.
    fn fake_cgroup(controllers: &str, files: &[(&str, &str)]) -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("jail-fake-cgroup-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup.controllers"), controllers).unwrap();
        for (f, v) in files {
            std::fs::write(dir.join(f), format!("{v}\n")).unwrap();
        }
        dir
    }

    fn cg(dir: PathBuf, backend: &'static str) -> Cgroup {
        Cgroup {
            dir: Some(dir),
            backend,
            unit: None,
            owns_dir: false,
            child: nix::unistd::Pid::from_raw(4242),
            pending: None,
            steps: Vec::new(),
        }
    }

    fn limits() -> Limits {
        Limits { mem: Some(48 << 20), swap: Some(0), cpu_percent: Some(20), pids: Some(64), ..Limits::default() }
    }

    #[test]
    fn lay_out_makes_the_leaves_enables_controllers_and_accepts_matching_limits() {
        let dir = fake_cgroup(
            "cpu memory pids",
            &[("memory.max", "50331648"), ("memory.swap.max", "0"), ("cpu.max", "20000 100000"), ("pids.max", "64")],
        );
        // Writes to the fake cgroup.procs files stand for moving jail ("0") and the sandbox.
        let mut c = cg(dir.clone(), "systemd");
        lay_out(&c, &limits()).unwrap();
        assert!(dir.join("supervisor").is_dir() && dir.join("payload").is_dir());
        assert_eq!(read(&dir.join("cgroup.subtree_control")).unwrap(), "+memory +pids +cpu");
        assert_eq!(read(&dir.join("supervisor/cgroup.procs")).unwrap(), "0");
        assert_eq!(read(&dir.join("payload/cgroup.procs")).unwrap(), "4242");
        // The quota comes after setup, on the payload leaf.
        assert_eq!(read(&dir.join("payload/cpu.max")), None);
        c.apply_after_setup(&limits()).unwrap();
        assert_eq!(read(&dir.join("payload/cpu.max")).unwrap(), "20000 100000");
    }

    #[test]
    fn a_limit_that_did_not_take_fails_with_the_file_and_both_values() {
        let dir = fake_cgroup(
            "cpu memory pids",
            &[("memory.max", "max"), ("memory.swap.max", "0"), ("cpu.max", "20000 100000"), ("pids.max", "64")],
        );
        let e = lay_out(&cg(dir.clone(), "systemd"), &limits()).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("{}/memory.max reads \"max\", not \"50331648\": the limit is not in force", dir.display())
        );
    }

    #[test]
    fn an_undelegated_controller_fails_before_anything_is_made_and_names_the_fix() {
        let dir = fake_cgroup("cpu memory pids", &[]);
        let l = Limits { cpuset: Some("0".into()), ..Limits::default() };
        let e = lay_out(&cg(dir.clone(), "systemd"), &l).unwrap_err().to_string();
        assert!(e.starts_with("the cpuset controller is not available in"), "{e}");
        assert!(e.contains("Delegate=cpu cpuset io memory pids"), "{e}");
        assert!(!dir.join("payload").exists(), "nothing may be created before the check");
        let e = lay_out(&cg(dir, "cgroupfs"), &Limits { io_weight: Some(5), ..Limits::default() }).unwrap_err();
        assert!(e.to_string().contains("does not delegate this controller"), "{e}");
    }
}
