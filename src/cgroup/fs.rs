//! cgroup v2 files: where the tree is, moving jail, laying out the leaves, reading limits back,
//! and the delegated-subtree backend.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use super::{Cgroup, Limits, Plan};

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

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| anyhow!("write {:?} to {}: {e}", value, path.display()))
}

pub fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

pub fn move_self(dir: &Path) -> Result<()> {
    write(&dir.join("cgroup.procs"), "0")
}

fn mkdir(dir: &Path) -> Result<()> {
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

/// Creates `supervisor` and `payload`, moves jail into `payload`, enables the controllers the
/// limits need below the cgroup, and reads every limit back.
pub fn lay_out(cg: &Cgroup, limits: &Limits) -> Result<()> {
    let available = read(&cg.dir.join("cgroup.controllers")).unwrap_or_default();
    let available: Vec<&str> = available.split_whitespace().collect();
    for c in limits.controllers() {
        if !available.contains(&c) {
            return Err(missing_controller(c, &cg.dir, cg.backend));
        }
    }
    mkdir(&cg.dir.join("supervisor"))?;
    mkdir(&cg.payload())?;
    move_self(&cg.payload())?;
    // Usage per leaf needs the controllers enabled below the scope (which is now empty).
    let enable: Vec<String> =
        ["memory", "pids", "cpu"].iter().filter(|c| available.contains(c)).map(|c| format!("+{c}")).collect();
    if !enable.is_empty() {
        write(&cg.dir.join("cgroup.subtree_control"), &enable.join(" "))?;
    }
    verify(&cg.dir, limits)
}

/// Fails unless every limit file holds what was asked.
pub fn verify(dir: &Path, limits: &Limits) -> Result<()> {
    for (file, want) in limits.expected_files() {
        let got = read(&dir.join(file)).unwrap_or_else(|| "(missing)".into());
        if got != want {
            bail!("{}/{file} reads {got:?}, not {want:?}: the limit is not in force", dir.display());
        }
    }
    Ok(())
}

/// Writes the limit files directly, in a subtree jail may write (e.g. a service or container
/// with Delegate=yes): `<own cgroup>/jail-PID/{supervisor,payload}`. jail first moves itself
/// into its own leaf, since a cgroup that enables controllers for its children may hold no
/// processes; any other process left in the delegated cgroup makes that fail, and the message
/// says so.
pub fn delegated(plan: &Plan, root: &Path) -> Result<Cgroup> {
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
    let dir = own.join(format!("jail-{}", std::process::id()));
    mkdir(&dir)?;
    let cg = Cgroup { dir, backend: "cgroupfs", unit: None, owns_dir: true };
    mkdir(&cg.dir.join("supervisor"))?;
    move_self(&cg.dir.join("supervisor"))?;
    let wanted: Vec<String> = plan.limits.controllers().iter().map(|c| format!("+{c}")).collect();
    if !wanted.is_empty() {
        write(&own.join("cgroup.subtree_control"), &wanted.join(" "))
            .map_err(|e| anyhow!("{e:#} (other processes share jail's delegated cgroup {})", own.display()))?;
    }
    for (file, value) in plan.limits.files_to_write() {
        write(&cg.dir.join(file), &value)?;
    }
    lay_out(&cg, &plan.limits)?;
    Ok(cg)
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
        Cgroup { dir, backend, unit: None, owns_dir: false }
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
        // Writing "0" to the fake cgroup.procs files stands for moving jail.
        let c = cg(dir.clone(), "systemd");
        lay_out(&c, &limits()).unwrap();
        assert!(dir.join("supervisor").is_dir() && dir.join("payload").is_dir());
        assert_eq!(read(&dir.join("cgroup.subtree_control")).unwrap(), "+memory +pids +cpu");
        assert_eq!(read(&dir.join("payload/cgroup.procs")).unwrap(), "0");
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
