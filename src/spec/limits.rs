//! The limits part of the plan: what was asked, the controllers and files it needs, and the
//! unit properties a systemd scope gets for it. Executed by `cgroup`.

use anyhow::{anyhow, bail, Result};
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

/// One unit property as sent: name and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    U64(u64),
    Bool(bool),
    Str(String),
    Pids(Vec<u32>),
    Bytes(Vec<u8>),
}

/// `0,2,4-6` as systemd's AllowedCPUs bitmask (byte i holds CPUs 8i..8i+7).
pub fn cpu_mask(list: &str) -> Result<Vec<u8>> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (
            a.parse().map_err(|_| anyhow!("--cpuset {list}: {a:?} is not a CPU number"))?,
            b.parse().map_err(|_| anyhow!("--cpuset {list}: {b:?} is not a CPU number"))?,
        );
        if a > b || b > 4095 {
            bail!("--cpuset {list}: bad range {part:?}");
        }
        cpus.extend(a..=b);
    }
    if cpus.is_empty() {
        bail!("--cpuset: empty CPU list");
    }
    let mut mask = vec![0u8; cpus.iter().max().map_or(0, |m| m / 8 + 1)];
    for c in cpus {
        mask[c / 8] |= 1 << (c % 8);
    }
    Ok(mask)
}

/// The properties of the scope, in the order they are sent.
pub fn properties(limits: &Limits, pid: u32) -> Result<Vec<(&'static str, Prop)>> {
    let mut p = vec![
        ("Description", Prop::Str("jail sandbox".into())),
        ("PIDs", Prop::Pids(vec![pid])),
        ("Delegate", Prop::Bool(true)),
        // After an OOM kill only the killed process dies; jail stays to report it.
        ("OOMPolicy", Prop::Str("continue".into())),
        ("CollectMode", Prop::Str("inactive-or-failed".into())),
    ];
    if let Some(m) = limits.mem {
        p.push(("MemoryMax", Prop::U64(m)));
    }
    if let Some(m) = limits.mem_high {
        p.push(("MemoryHigh", Prop::U64(m)));
    }
    if let Some(s) = limits.swap {
        p.push(("MemorySwapMax", Prop::U64(s)));
    }
    if let Some(c) = limits.cpu_percent {
        p.push(("CPUQuotaPerSecUSec", Prop::U64(u64::from(c) * 10_000)));
    }
    if let Some(w) = limits.cpu_weight {
        p.push(("CPUWeight", Prop::U64(w)));
    }
    if let Some(t) = limits.pids {
        p.push(("TasksMax", Prop::U64(t)));
    }
    if let Some(c) = &limits.cpuset {
        p.push(("AllowedCPUs", Prop::Bytes(cpu_mask(c)?)));
    }
    if let Some(w) = limits.io_weight {
        p.push(("IOWeight", Prop::U64(w)));
    }
    Ok(p)
}

/// For `--dry-run`: the properties as `Name=value`.
pub fn describe(limits: &Limits) -> Vec<String> {
    let props = properties(limits, 0).unwrap_or_default();
    let mut out = Vec::new();
    for (k, v) in &props {
        if matches!(*k, "Description" | "PIDs" | "CollectMode") {
            continue;
        }
        let text = match v {
            Prop::U64(n) => n.to_string(),
            Prop::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Prop::Str(s) => s.clone(),
            Prop::Pids(p) => format!("{p:?}"),
            Prop::Bytes(b) => format!("{b:02x?}"),
        };
        out.push(format!("{k}={text}"));
    }
    out
}
