//! The sandbox's user namespace maps: written directly (one uid, one gid), by jail or by the
//! sandbox's first process itself, or by newuidmap/newgidmap for `--map-subids`.

use std::io::Write;
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use nix::unistd::Pid;

use crate::spec::{IdMap, Spec};
use crate::sys::errno_text;

fn write_proc(dir: &str, file: &str, text: &str) -> Result<()> {
    let path = format!("{dir}/{file}");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| anyhow!("write {path} {:?}: {}", text.trim_end(), errno_text(crate::error::errno_of(&e))))
}

fn run_helper(map: &IdMap, pid: Pid, name: &str) -> Result<()> {
    let Some(helper) = &map.helper else { bail!("--map-subids: {name} not found") };
    let out = Command::new(helper)
        .arg(pid.to_string())
        .args(map.helper_args())
        .output()
        .with_context(|| format!("--map-subids: run {}", helper.display()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        bail!("--map-subids: {} {} failed: {}", helper.display(), map.helper_args().join(" "), msg.trim());
    }
    Ok(())
}

/// jail maps the sandbox's first process `pid`: through the helpers, or directly.
pub fn write(pid: Pid, spec: &Spec) -> Result<()> {
    if spec.uid_map.helper.is_some() {
        run_helper(&spec.uid_map, pid, "newuidmap")?;
        run_helper(&spec.gid_map, pid, "newgidmap")?;
        return Ok(());
    }
    write_direct(&format!("/proc/{pid}"), spec)
}

/// The maps written without a helper, in the /proc directory `dir` of the sandbox's first
/// process (by jail, or by that process itself as /proc/self): the kernel insists that
/// setgroups be denied before gid_map is written.
pub fn write_direct(dir: &str, spec: &Spec) -> Result<()> {
    write_proc(dir, "setgroups", "deny")?;
    write_proc(dir, "uid_map", &spec.uid_map.proc_text())?;
    write_proc(dir, "gid_map", &spec.gid_map.proc_text())
}
