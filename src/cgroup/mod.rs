//! cgroup v2 limits and usage. jail asks the caller's systemd user manager for a transient
//! scope with the limits as unit properties (`systemd`), or, inside a delegated subtree it may
//! write, creates the cgroups itself (`fs`). Either way it then reads every limit back from the
//! cgroup files: systemd silently ignores limits on controllers it was not delegated.
//!
//! Layout: `<scope>/supervisor` holds jail, `<scope>/payload` the sandbox (cgroup v2 allows
//! processes only in leaves once controllers are enabled below a cgroup). Limits sit on the
//! scope, so they cover both; usage is read from `payload`.

pub mod fs;
pub mod stats;
pub mod systemd;

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

/// Requested limits. `None` leaves a limit alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// memory.max, bytes.
    pub mem: Option<u64>,
    /// memory.high, bytes.
    pub mem_high: Option<u64>,
    /// memory.swap.max, bytes; 0 whenever `mem` is set and `--swap` is not.
    pub swap: Option<u64>,
    /// cpu.max as percent of one CPU.
    pub cpu_percent: Option<u32>,
    pub cpu_weight: Option<u64>,
    pub pids: Option<u64>,
    pub cpuset: Option<String>,
    pub io_weight: Option<u64>,
}

impl Limits {
    pub fn any(&self) -> bool {
        *self != Limits::default()
    }

    /// The options that asked for these limits, for messages (`--swap 0` implied by `--mem`
    /// is not one).
    pub fn flags(&self) -> Vec<&'static str> {
        let implied_swap = self.mem.is_some() && self.swap == Some(0);
        [
            (self.mem.is_some(), "--mem"),
            (self.mem_high.is_some(), "--mem-high"),
            (self.swap.is_some() && !implied_swap, "--swap"),
            (self.cpu_percent.is_some(), "--cpu"),
            (self.cpu_weight.is_some(), "--cpu-weight"),
            (self.pids.is_some(), "--pids"),
            (self.cpuset.is_some(), "--cpuset"),
            (self.io_weight.is_some(), "--io-weight"),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect()
    }

    /// Controllers these limits need, in cgroup.controllers spelling.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.mem.is_some() || self.mem_high.is_some() || self.swap.is_some() {
            v.push("memory");
        }
        if self.cpu_percent.is_some() || self.cpu_weight.is_some() {
            v.push("cpu");
        }
        if self.pids.is_some() {
            v.push("pids");
        }
        if self.cpuset.is_some() {
            v.push("cpuset");
        }
        if self.io_weight.is_some() {
            v.push("io");
        }
        v
    }

    /// The files and values that must read back after setup: `(file, expected)`.
    pub fn expected_files(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        if let Some(m) = self.mem {
            v.push(("memory.max", m.to_string()));
        }
        if let Some(m) = self.mem_high {
            v.push(("memory.high", m.to_string()));
        }
        if let Some(s) = self.swap {
            v.push(("memory.swap.max", s.to_string()));
        }
        if let Some(p) = self.cpu_percent {
            v.push(("cpu.max", format!("{} 100000", u64::from(p) * 1000)));
        }
        if let Some(w) = self.cpu_weight {
            v.push(("cpu.weight", w.to_string()));
        }
        if let Some(p) = self.pids {
            v.push(("pids.max", p.to_string()));
        }
        if let Some(c) = &self.cpuset {
            v.push(("cpuset.cpus", c.clone()));
        }
        if let Some(w) = self.io_weight {
            v.push(("io.weight", format!("default {w}")));
        }
        v
    }
}

/// The cgroup part of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub limits: Limits,
    /// The user manager's slice for the scope.
    pub slice: String,
}

/// A live cgroup for one sandbox; removed (or left to systemd to remove) when dropped.
pub struct Cgroup {
    /// The scope (or jail's own cgroup under a delegated subtree).
    pub dir: PathBuf,
    pub backend: &'static str,
    pub unit: Option<String>,
    owns_dir: bool,
}

impl Cgroup {
    pub fn payload(&self) -> PathBuf {
        self.dir.join("payload")
    }

    /// Moves jail into `payload` so the sandbox is born there (and its cgroup namespace is
    /// rooted there); [`Cgroup::leave_payload`] moves jail out again after the clone.
    pub fn enter_payload(&self) -> Result<()> {
        fs::move_self(&self.payload())
    }

    pub fn leave_payload(&self) -> Result<()> {
        fs::move_self(&self.dir.join("supervisor"))
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // jail itself still sits in supervisor, so only payload can go now; systemd removes the
        // scope once jail exits. A directory jail made itself in a delegated subtree is
        // removed by moving jail back out first.
        let _ = std::fs::remove_dir(self.payload());
        if self.owns_dir {
            if let Some(parent) = self.dir.parent() {
                let _ = fs::move_self(parent);
            }
            let _ = std::fs::remove_dir(self.dir.join("supervisor"));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Creates the cgroup for `plan` (with jail already inside, in `payload`).
pub fn setup(plan: &Plan) -> Result<Cgroup> {
    let root = fs::unified_root()?;
    if let Some(bus) = systemd::user_bus() {
        return systemd::start(plan, &root, &bus);
    }
    fs::delegated(plan, &root).map_err(|e| {
        anyhow::anyhow!(
            "{e:#}; and no systemd user manager to ask (no $DBUS_SESSION_BUS_ADDRESS, no $XDG_RUNTIME_DIR/bus): \
             limits need a user session (loginctl enable-linger $USER) or a delegated cgroup"
        )
    })
}
