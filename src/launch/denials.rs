//! What the built-in seccomp policy refused, counted as jail answers each refusal (see
//! `supervise::refuse`), and said at exit: one line per call with the rule and the option that
//! would allow it, or one JSON object for supervisors (`--report=json`).

use std::collections::BTreeMap;

use crate::cgroup::stats::Denied;
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

    /// Says what was refused, as `report` asks.
    pub fn say(&self, report: Report) {
        let list = self.list();
        if list.is_empty() {
            return;
        }
        match report {
            Report::None => {}
            Report::Text => {
                for d in &list {
                    let times = if d.count == 1 { "once".to_string() } else { format!("{} times", d.count) };
                    crate::say::warn(&format!(
                        "seccomp refused {} {times} ({}, EPERM); to allow it: {}",
                        d.syscall, d.rule, d.allow
                    ));
                }
            }
            Report::Json => {
                #[derive(serde::Serialize)]
                struct Report<'a> {
                    denied: &'a [Denied],
                }
                eprintln!("{}", serde_json::to_string(&Report { denied: &list }).unwrap_or_default());
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
