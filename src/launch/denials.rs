//! What the built-in seccomp policy refused, counted as jail answers each refusal (see
//! `supervise::refuse`), and said at exit: one line per call with the rule and the option that
//! would allow it, or one JSON object for supervisors (`--report=json`).

use std::collections::BTreeMap;

use crate::cgroup::stats::{Denied, RefusedHost};
use crate::spec::Report;

#[derive(Debug, Default)]
pub struct Denials {
    counts: BTreeMap<i32, u64>,
}

impl Denials {
    pub fn record(&mut self, nr: i32) {
        *self.counts.entry(nr).or_default() += 1;
    }

    /// Most frequent first.
    pub fn list(&self) -> Vec<Denied> {
        let mut v: Vec<Denied> = self
            .counts
            .iter()
            .map(|(&nr, &count)| {
                let rule = crate::spec::seccomp::denial(i64::from(nr));
                Denied {
                    syscall: u32::try_from(nr)
                        .ok()
                        .and_then(crate::spec::syscalls::name)
                        .unwrap_or("unknown")
                        .to_string(),
                    number: nr,
                    count,
                    rule: rule.map_or("the built-in policy", |d| d.rule),
                    allow: rule.map_or("--seccomp-policy off", |d| d.allow),
                }
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.number.cmp(&b.number)));
        v
    }

    /// Says what was refused (these calls, and the connections `--allow-host` refused), as
    /// `report` asks: one line each, or one JSON object.
    pub fn say(&self, report: Report, hosts: &[RefusedHost]) {
        let list = self.list();
        if list.is_empty() && hosts.is_empty() {
            return;
        }
        let times = |n: u64| if n == 1 { "once".to_string() } else { format!("{n} times") };
        match report {
            Report::None => {}
            Report::Text => {
                for d in &list {
                    crate::say::warn(&format!(
                        "seccomp refused {} {} ({}, EPERM); to allow it: {}",
                        d.syscall,
                        times(d.count),
                        d.rule,
                        d.allow
                    ));
                }
                for h in hosts {
                    let target = if h.host.contains(':') {
                        format!("[{}]:{}", h.host, h.port)
                    } else {
                        format!("{}:{}", h.host, h.port)
                    };
                    crate::say::warn(&format!(
                        "--allow-host refused {target} {} (not in the allow list); to allow it: --allow-host {target}",
                        times(h.count)
                    ));
                }
            }
            Report::Json => {
                #[derive(serde::Serialize)]
                struct Report<'a> {
                    denied: &'a [Denied],
                    refused_hosts: &'a [RefusedHost],
                }
                eprintln!(
                    "{}",
                    serde_json::to_string(&Report { denied: &list, refused_hosts: hosts }).unwrap_or_default()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_named_counted_and_say_how_to_allow_them() {
        let mut d = Denials::default();
        for nr in [libc::SYS_bpf, libc::SYS_keyctl, libc::SYS_keyctl, libc::SYS_unshare] {
            d.record(nr as i32);
        }
        let l = d.list();
        assert_eq!(l[0].syscall, "keyctl");
        assert_eq!((l[0].count, l[0].rule, l[0].allow), (2, "kernel keyrings", "--seccomp-policy off"));
        // Equal counts: by syscall number.
        assert_eq!((l[1].syscall.as_str(), l[1].allow), ("unshare", "--allow-userns"));
        assert_eq!((l[2].syscall.as_str(), l[2].rule), ("bpf", "tracing and bpf"));
    }
}
