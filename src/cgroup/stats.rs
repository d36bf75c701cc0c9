//! The usage report: `--stats` (a few lines on stderr) and `--stats-json FD` (one object).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::fs::read;

/// Why the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    Exited,
    Signaled,
    Oom,
    Timeout,
}

/// A call the built-in seccomp policy refused: which, how often, the rule, how to allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denied {
    pub syscall: String,
    pub number: i32,
    pub count: u64,
    pub rule: &'static str,
    pub allow: &'static str,
}

/// A connection `--allow-host` refused: where to, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedHost {
    pub host: String,
    pub port: u16,
    pub count: u64,
    pub rule: &'static str,
}

/// Usage of one run: how it ended, then what it used, and what was refused.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: Reason,
    pub wall_usec: u64,
    #[serde(flatten)]
    pub usage: Usage,
    pub denied: Vec<Denied>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_hosts: Vec<RefusedHost>,
}

/// `key value` lines (cpu.stat, memory.events): the value of `key`.
pub fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

fn number(dir: &Path, file: &str) -> Option<u64> {
    read(&dir.join(file))?.parse().ok()
}

/// What the run used. `None` (JSON null) where the kernel cannot tell, e.g. without a cgroup.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Usage {
    pub cpu_user_usec: Option<u64>,
    pub cpu_system_usec: Option<u64>,
    pub cpu_throttled_usec: Option<u64>,
    pub memory_peak_bytes: Option<u64>,
    pub swap_peak_bytes: Option<u64>,
    pub pids_peak: Option<u64>,
    pub oom_kills: Option<u64>,
}

/// Usage of the command and what it started, from its leaf (`payload`), where the CPU quota
/// sits too; OOM kills from the whole cgroup (`scope`, the memory limit's level: its
/// memory.events counts its leaves' too), so that one of jail's own processes counts as well.
pub fn read_usage(scope: &Path, payload: &Path) -> Usage {
    let cpu = read(&payload.join("cpu.stat")).unwrap_or_default();
    let events = read(&scope.join("memory.events")).unwrap_or_default();
    Usage {
        cpu_user_usec: field(&cpu, "user_usec"),
        cpu_system_usec: field(&cpu, "system_usec"),
        cpu_throttled_usec: field(&cpu, "throttled_usec"),
        memory_peak_bytes: number(payload, "memory.peak"),
        swap_peak_bytes: number(payload, "memory.swap.peak"),
        pids_peak: number(payload, "pids.peak"),
        oom_kills: field(&events, "oom_kill"),
    }
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
}

impl Stats {
    pub fn human(&self) -> String {
        let mut s = String::new();
        let how = match self.reason {
            Reason::Exited => format!("exited with {}", self.exit_code),
            Reason::Signaled => format!("killed by signal {}", self.signal.unwrap_or(0)),
            Reason::Oom => "killed by the OOM killer".to_string(),
            Reason::Timeout => "stopped at the time limit".to_string(),
        };
        let _ = writeln!(s, "jail: stats: {how}, wall {:.3} s", self.wall_usec as f64 / 1e6);
        let u = &self.usage;
        if let (Some(user), Some(sys)) = (u.cpu_user_usec, u.cpu_system_usec) {
            let _ = write!(s, "jail: stats: cpu user {:.3} s, system {:.3} s", user as f64 / 1e6, sys as f64 / 1e6);
            if let Some(t) = u.cpu_throttled_usec {
                let _ = write!(s, ", throttled {:.3} s", t as f64 / 1e6);
            }
            s.push('\n');
        }
        let mut mem = Vec::new();
        if let Some(m) = u.memory_peak_bytes {
            mem.push(format!("memory peak {}", mib(m)));
        }
        if let Some(m) = u.swap_peak_bytes {
            mem.push(format!("swap peak {}", mib(m)));
        }
        if let Some(p) = u.pids_peak {
            mem.push(format!("tasks peak {p}"));
        }
        if let Some(o) = u.oom_kills {
            mem.push(format!("oom kills {o}"));
        }
        if !mem.is_empty() {
            let _ = writeln!(s, "jail: stats: {}", mem.join(", "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_files() {
        let cpu = "usage_usec 1200\nuser_usec 1000\nsystem_usec 200\nnr_throttled 3\nthrottled_usec 450\n";
        assert_eq!(field(cpu, "user_usec"), Some(1000));
        assert_eq!(field(cpu, "throttled_usec"), Some(450));
        assert_eq!(field(cpu, "nope"), None);
        assert_eq!(field("low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n", "oom_kill"), Some(1));
    }

    #[test]
    fn json_has_every_key_with_nulls_where_unknown() {
        let s = Stats {
            exit_code: 0,
            signal: None,
            reason: Reason::Exited,
            wall_usec: 5,
            usage: Usage::default(),
            denied: Vec::new(),
            refused_hosts: Vec::new(),
        };
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        for k in [
            "exit_code",
            "signal",
            "reason",
            "wall_usec",
            "cpu_user_usec",
            "cpu_system_usec",
            "cpu_throttled_usec",
            "memory_peak_bytes",
            "swap_peak_bytes",
            "pids_peak",
            "oom_kills",
        ] {
            assert!(v.get(k).is_some(), "{k} missing");
        }
        assert_eq!(v["reason"], "exited");
        assert!(v["oom_kills"].is_null());
    }
}
