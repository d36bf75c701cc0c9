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

/// Where, and so from when, a limit holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// On the scope (or jail's own delegated cgroup), from before the sandbox's setup on: asked
    /// of systemd as a unit property, or written by jail in a delegated subtree.
    Scope,
    /// On the payload leaf, written by jail once the sandbox is built and before the command
    /// runs: a CPU quota in force during setup would make jail's own work wait for it.
    Payload,
}

/// One limit: its option, the cgroup controller and file it sets, the value written there
/// (and read back from it), where it is set, and the systemd unit property that asks for it
/// (scope-level rows only). Adding a limit is adding a field, a row and a clap argument.
pub struct Row {
    pub flag: &'static str,
    pub controller: &'static str,
    pub file: &'static str,
    pub level: Level,
    /// The file's contents once the limit holds, as read back.
    pub read_back: fn(&Limits) -> Option<String>,
    /// What a delegated-cgroup backend writes (usually the read-back form).
    pub write: fn(&Limits) -> Option<String>,
    /// Empty for payload-level rows.
    pub property: &'static str,
    pub prop: fn(&Limits) -> Option<Result<Prop>>,
}

pub const TABLE: &[Row] = &[
    Row {
        flag: "--mem",
        controller: "memory",
        file: "memory.max",
        level: Level::Scope,
        read_back: |l| l.mem.map(|v| v.to_string()),
        write: |l| l.mem.map(|v| v.to_string()),
        property: "MemoryMax",
        prop: |l| l.mem.map(|v| Ok(Prop::U64(v))),
    },
    Row {
        flag: "--mem-high",
        controller: "memory",
        file: "memory.high",
        level: Level::Scope,
        read_back: |l| l.mem_high.map(|v| v.to_string()),
        write: |l| l.mem_high.map(|v| v.to_string()),
        property: "MemoryHigh",
        prop: |l| l.mem_high.map(|v| Ok(Prop::U64(v))),
    },
    Row {
        flag: "--swap",
        controller: "memory",
        file: "memory.swap.max",
        level: Level::Scope,
        read_back: |l| l.swap.map(|v| v.to_string()),
        write: |l| l.swap.map(|v| v.to_string()),
        property: "MemorySwapMax",
        prop: |l| l.swap.map(|v| Ok(Prop::U64(v))),
    },
    Row {
        flag: "--cpu",
        controller: "cpu",
        file: "cpu.max",
        level: Level::Payload,
        read_back: |l| l.cpu_percent.map(|p| format!("{} 100000", u64::from(p) * 1000)),
        write: |l| l.cpu_percent.map(|p| format!("{} 100000", u64::from(p) * 1000)),
        // Never sent: the scope's CPUQuota would hold during setup too.
        property: "",
        prop: |_| None,
    },
    Row {
        flag: "--cpu-weight",
        controller: "cpu",
        file: "cpu.weight",
        level: Level::Scope,
        read_back: |l| l.cpu_weight.map(|v| v.to_string()),
        write: |l| l.cpu_weight.map(|v| v.to_string()),
        property: "CPUWeight",
        prop: |l| l.cpu_weight.map(|v| Ok(Prop::U64(v))),
    },
    Row {
        flag: "--pids",
        controller: "pids",
        file: "pids.max",
        level: Level::Scope,
        read_back: |l| l.pids.map(|v| v.to_string()),
        write: |l| l.pids.map(|v| v.to_string()),
        property: "TasksMax",
        prop: |l| l.pids.map(|v| Ok(Prop::U64(v))),
    },
    Row {
        flag: "--cpuset",
        controller: "cpuset",
        file: "cpuset.cpus",
        level: Level::Scope,
        read_back: |l| l.cpuset.clone(),
        write: |l| l.cpuset.clone(),
        property: "AllowedCPUs",
        prop: |l| l.cpuset.as_ref().map(|c| cpu_mask(c).map(Prop::Bytes)),
    },
    Row {
        flag: "--io-weight",
        controller: "io",
        file: "io.weight",
        level: Level::Scope,
        // The kernel shows the default weight with its name; it takes the bare number.
        read_back: |l| l.io_weight.map(|w| format!("default {w}")),
        write: |l| l.io_weight.map(|w| w.to_string()),
        property: "IOWeight",
        prop: |l| l.io_weight.map(|v| Ok(Prop::U64(v))),
    },
];

impl Limits {
    pub fn any(&self) -> bool {
        *self != Limits::default()
    }

    fn rows(&self) -> impl Iterator<Item = &'static Row> + '_ {
        TABLE.iter().filter(|r| (r.read_back)(self).is_some())
    }

    /// The options that asked for these limits, for messages (`--swap 0` implied by `--mem`
    /// is not one).
    pub fn flags(&self) -> Vec<&'static str> {
        let implied_swap = self.mem.is_some() && self.swap == Some(0);
        self.rows().map(|r| r.flag).filter(|f| !(implied_swap && *f == "--swap")).collect()
    }

    /// Controllers these limits need, in cgroup.controllers spelling, each once.
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        for r in self.rows() {
            if !v.contains(&r.controller) {
                v.push(r.controller);
            }
        }
        v
    }

    /// The files at `level` and the values they must read back: `(file, expected)`.
    pub fn expected_files(&self, level: Level) -> Vec<(&'static str, String)> {
        self.rows().filter(|r| r.level == level).filter_map(|r| (r.read_back)(self).map(|v| (r.file, v))).collect()
    }

    /// The files at `level` that jail writes itself, and their values: `(file, value)`. At
    /// scope level only a delegated-cgroup backend writes them (systemd sets those).
    pub fn files_to_write(&self, level: Level) -> Vec<(&'static str, String)> {
        self.rows().filter(|r| r.level == level).filter_map(|r| (r.write)(self).map(|v| (r.file, v))).collect()
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

/// The properties of the scope, in the order they are sent; `pids` go into it.
pub fn properties(limits: &Limits, pids: &[u32]) -> Result<Vec<(&'static str, Prop)>> {
    let mut p = vec![
        ("Description", Prop::Str("jail sandbox".into())),
        ("PIDs", Prop::Pids(pids.to_vec())),
        ("Delegate", Prop::Bool(true)),
        // After an OOM kill only the killed process dies; jail stays to report it.
        ("OOMPolicy", Prop::Str("continue".into())),
        ("CollectMode", Prop::Str("inactive-or-failed".into())),
    ];
    for r in TABLE {
        if let Some(v) = (r.prop)(limits) {
            p.push((r.property, v?));
        }
    }
    Ok(p)
}

/// For `--dry-run`: the properties as `Name=value`.
pub fn describe(limits: &Limits) -> Vec<String> {
    let props = properties(limits, &[]).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Limits {
        Limits {
            mem: Some(1),
            mem_high: Some(2),
            swap: Some(3),
            cpu_percent: Some(4),
            cpu_weight: Some(5),
            pids: Some(6),
            cpuset: Some("0".into()),
            io_weight: Some(7),
        }
    }

    #[test]
    fn every_limit_has_a_row_and_each_row_one_limit() {
        let l = all();
        assert_eq!(l.flags().len(), TABLE.len());
        assert_eq!(l.expected_files(Level::Scope).len() + l.expected_files(Level::Payload).len(), TABLE.len());
        // A row is sent to systemd exactly when it is set on the scope.
        for r in TABLE {
            assert_eq!((r.prop)(&l).is_some(), r.level == Level::Scope, "{}", r.flag);
            assert_eq!(r.property.is_empty(), r.level == Level::Payload, "{}", r.flag);
        }
        assert_eq!(l.controllers(), ["memory", "cpu", "pids", "cpuset", "io"]);
        // One field set lights exactly one row.
        let one = Limits { pids: Some(6), ..Default::default() };
        assert_eq!(one.flags(), ["--pids"]);
        assert_eq!(properties(&one, &[1]).unwrap().len(), 6);
    }

    #[test]
    fn write_and_read_back_forms_differ_only_where_the_kernel_does() {
        let l = all();
        let both = |f: fn(&Limits, Level) -> Vec<(&'static str, String)>| {
            let mut v = f(&l, Level::Scope);
            v.extend(f(&l, Level::Payload));
            v
        };
        let written = both(Limits::files_to_write);
        let read = both(Limits::expected_files);
        let differ: Vec<&str> = written.iter().zip(&read).filter(|(w, r)| w != r).map(|(w, _)| w.0).collect();
        assert_eq!(differ, ["io.weight"]);
        assert_eq!(Limits { mem: Some(1), swap: Some(0), ..Default::default() }.flags(), ["--mem"]);
    }
}
