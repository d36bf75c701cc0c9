//! The seccomp part of the plan: which built-in level, the families of refused calls, a checked
//! profile, descriptors to stack, and the `--dry-run` summary. Compiled and loaded by
//! `confine::seccomp`.

use std::os::fd::RawFd;
use std::path::PathBuf;

use serde::Serialize;

/// Which built-in policy, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    Default,
    /// `--seccomp-policy off`: no built-in filter (new user namespaces are still refused
    /// unless allowed).
    Off,
    /// A Docker/OCI seccomp profile, read and checked when the plan is made, on the floor.
    Profile {
        path: PathBuf,
        #[serde(skip)]
        profile: profile::Profile,
    },
    /// `--seccomp FD`: that program instead of the default policy, on the floor.
    Replaced,
}

/// The seccomp part of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub policy: Policy,
    /// Refuse clone/unshare with CLONE_NEWUSER (jail's default; `--allow-userns` lifts it).
    pub refuse_userns: bool,
    /// Compiled classic BPF programs to read from these descriptors and stack on top.
    pub fds: Vec<RawFd>,
    /// The default policy's refusals go through jail (a user notification it answers with
    /// EPERM), which counts them for the report at exit; allowed calls never do.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub report_denials: bool,
}

/// What jail says about a refused call: the rule that refused it, and how to allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    pub rule: &'static str,
    pub allow: &'static str,
}

/// The rule of the built-in policy that refuses syscall `nr`, if one does.
pub fn denial(nr: i64) -> Option<Denial> {
    if nr == libc::SYS_clone || nr == libc::SYS_unshare {
        return Some(Denial { rule: "new user namespaces", allow: "--allow-userns" });
    }
    if nr == libc::SYS_ioctl {
        return Some(Denial { rule: "terminal input injection (TIOCSTI, TIOCLINUX)", allow: "--seccomp-policy off" });
    }
    if nr == libc::SYS_personality {
        return Some(Denial { rule: "turning off address randomization", allow: "--seccomp-policy off" });
    }
    DENIED.iter().find(|(_, _, calls)| calls.iter().any(|(_, n)| *n == nr)).map(|(rule, floor, _)| Denial {
        rule,
        allow: if *floor { "--seccomp-policy off" } else { "--seccomp-policy off, or a profile that allows it" },
    })
}

/// A family of refused calls: its name, whether it is in the floor, `(name, number)` pairs.
pub(crate) type Family = (&'static str, bool, &'static [(&'static str, i64)]);

/// Syscalls the built-in policy refuses with EPERM, by family.
pub(crate) const DENIED: &[Family] = &[
    (
        "kernel keyrings",
        true,
        &[("keyctl", libc::SYS_keyctl), ("add_key", libc::SYS_add_key), ("request_key", libc::SYS_request_key)],
    ),
    (
        "mount API",
        true,
        &[
            ("fsopen", libc::SYS_fsopen),
            ("fsconfig", libc::SYS_fsconfig),
            ("fsmount", libc::SYS_fsmount),
            ("fspick", libc::SYS_fspick),
            ("open_tree", libc::SYS_open_tree),
            ("open_tree_attr", SYS_OPEN_TREE_ATTR),
            ("move_mount", libc::SYS_move_mount),
            ("mount_setattr", libc::SYS_mount_setattr),
        ],
    ),
    ("tracing and bpf", false, &[("perf_event_open", libc::SYS_perf_event_open), ("bpf", libc::SYS_bpf)]),
    ("userfaultfd", false, &[("userfaultfd", libc::SYS_userfaultfd)]),
    (
        "kernel images and modules",
        false,
        &[
            ("kexec_load", libc::SYS_kexec_load),
            ("kexec_file_load", libc::SYS_kexec_file_load),
            ("init_module", libc::SYS_init_module),
            ("finit_module", libc::SYS_finit_module),
            ("delete_module", libc::SYS_delete_module),
        ],
    ),
    (
        "host administration",
        false,
        &[
            ("reboot", libc::SYS_reboot),
            ("swapon", libc::SYS_swapon),
            ("swapoff", libc::SYS_swapoff),
            ("acct", libc::SYS_acct),
            ("quotactl", libc::SYS_quotactl),
            ("quotactl_fd", libc::SYS_quotactl_fd),
        ],
    ),
    (
        "file handles",
        false,
        &[("open_by_handle_at", libc::SYS_open_by_handle_at), ("name_to_handle_at", libc::SYS_name_to_handle_at)],
    ),
    (
        "*xattrat and file_*attr",
        false,
        &[
            ("setxattrat", SYS_SETXATTRAT),
            ("getxattrat", SYS_SETXATTRAT + 1),
            ("listxattrat", SYS_SETXATTRAT + 2),
            ("removexattrat", SYS_SETXATTRAT + 3),
            ("file_getattr", SYS_FILE_GETATTR),
            ("file_setattr", SYS_FILE_GETATTR + 1),
        ],
    ),
    (
        "io_uring (bypasses syscall filtering)",
        false,
        &[
            ("io_uring_setup", libc::SYS_io_uring_setup),
            ("io_uring_enter", libc::SYS_io_uring_enter),
            ("io_uring_register", libc::SYS_io_uring_register),
        ],
    ),
    (
        "obsolete",
        false,
        &[("uselib", libc::SYS_uselib), ("lookup_dcookie", libc::SYS_lookup_dcookie), ("_sysctl", libc::SYS__sysctl)],
    ),
];

// Newer than the libc crate; since Linux 5.1 every architecture shares these numbers.
const SYS_SETXATTRAT: i64 = 463;
const SYS_OPEN_TREE_ATTR: i64 = 467;
const SYS_FILE_GETATTR: i64 = 468;

fn families(floor_only: bool) -> String {
    DENIED.iter().filter(|(_, floor, _)| *floor || !floor_only).map(|(f, _, _)| *f).collect::<Vec<_>>().join(", ")
}

/// One line per layer, for `--dry-run`.
pub fn summary(plan: &Plan) -> String {
    let floor = format!(
        "floor: EPERM for {}, ioctl TIOCSTI/TIOCLINUX; ENOSYS for clone3 and numbers above {} (x32, newer calls)",
        families(true),
        super::syscalls::highest().unwrap_or(0)
    );
    let mut parts = Vec::new();
    match &plan.policy {
        Policy::Off => parts.push("no built-in policy (--seccomp-policy off)".to_string()),
        Policy::Profile { path, profile } => {
            parts.push(format!("profile {} ({} rules)", path.display(), profile.rule_count()));
            parts.push(floor);
        }
        Policy::Replaced => parts.push(floor),
        Policy::Default => {
            parts.push(format!("default: EPERM for {}", families(false)));
            parts.push("ioctl TIOCSTI/TIOCLINUX, personality(ADDR_NO_RANDOMIZE)".into());
            parts.push(format!(
                "ENOSYS for clone3 and numbers above {} (x32, newer calls)",
                super::syscalls::highest().unwrap_or(0)
            ));
        }
    }
    if plan.report_denials {
        parts.push("refusals counted by jail and reported at exit".into());
    }
    parts.push(if plan.refuse_userns {
        "EPERM for clone/unshare with CLONE_NEWUSER (--allow-userns lifts it)".into()
    } else {
        "new user namespaces allowed (--allow-userns)".into()
    });
    for fd in &plan.fds {
        parts.push(format!("+ BPF from fd {fd}"));
    }
    parts.join("; ")
}

/// Docker/OCI seccomp profiles: read and checked when the plan is made (so `--dry-run`
/// refuses a bad one), compiled at launch. Semantics are exact or refused: typed fields,
/// errno values the kernel can return, arguments that fit, names this build knows. Rules are
/// grouped by action, one filter per group, stacked: where rules of different actions match
/// the same call, the stricter action wins (the kernel's precedence), not the first listed.
pub mod profile {
    use anyhow::{anyhow, bail, Result};
    use serde::Deserialize;

    use crate::spec::syscalls;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct File {
        default_action: String,
        default_errno_ret: Option<u32>,
        syscalls: Option<Vec<RuleFile>>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RuleFile {
        names: Option<Vec<String>>,
        name: Option<String>,
        action: String,
        errno_ret: Option<u32>,
        args: Option<Vec<ArgFile>>,
        includes: Option<Filter>,
        excludes: Option<Filter>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ArgFile {
        index: u32,
        pub(crate) value: u64,
        value_two: Option<u64>,
        op: String,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Filter {
        caps: Option<Vec<String>>,
        arches: Option<Vec<String>>,
        min_kernel: Option<String>,
    }

    /// What a matching rule does, as the kernel's actions.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Action {
        Allow,
        Log,
        Errno(u32),
        Trap,
        KillThread,
        KillProcess,
    }

    impl Action {
        fn parse(name: &str, errno: u32) -> Result<Action> {
            Ok(match name {
                "SCMP_ACT_ALLOW" => Action::Allow,
                "SCMP_ACT_LOG" => Action::Log,
                "SCMP_ACT_ERRNO" => Action::Errno(errno),
                "SCMP_ACT_TRAP" => Action::Trap,
                "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
                "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
                other => bail!(
                    "action {other} is not supported: use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_LOG, \
                     SCMP_ACT_TRAP, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD or SCMP_ACT_KILL_PROCESS"
                ),
            })
        }
    }

    /// One argument check: argument index, width, comparison, value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ArgCheck {
        pub(crate) index: u8,
        pub(crate) dword: bool,
        pub(crate) op: CmpOp,
        pub(crate) value: u64,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum CmpOp {
        Eq,
        Ne,
        Lt,
        Le,
        Gt,
        Ge,
        MaskedEq(u64),
    }

    /// A checked profile: the default action and, per syscall number, the rules that apply.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Profile {
        pub(crate) default: Option<Action>,
        pub(crate) rules: Vec<(u32, Vec<ArgCheck>, Action)>,
        /// Names in allow rules that this build does not know (a newer kernel's, or a typo).
        pub unknown_allowed: Vec<String>,
    }

    const MAX_ERRNO: u32 = 4095;

    fn kernel_at_least(release: &str, min: &str) -> bool {
        let parse = |s: &str| -> Vec<u32> { s.split(['.', '-']).take(2).filter_map(|x| x.parse().ok()).collect() };
        parse(release) >= parse(min)
    }

    /// Whether a rule applies here: its capability, architecture and kernel conditions.
    fn applies(inc: &Filter, exc: &Filter, caps: &[String], release: &str) -> bool {
        let arch_names = ["amd64", "x86_64", "SCMP_ARCH_X86_64"];
        let has_cap = |c: &String| caps.iter().any(|k| k == c);
        let none = Vec::new();
        if !inc.caps.as_ref().unwrap_or(&none).iter().all(has_cap) {
            return false;
        }
        if exc.caps.as_ref().unwrap_or(&none).iter().any(has_cap) {
            return false;
        }
        let inc_arches = inc.arches.as_ref().unwrap_or(&none);
        if !inc_arches.is_empty() && !inc_arches.iter().any(|a| arch_names.contains(&a.as_str())) {
            return false;
        }
        if exc.arches.as_ref().unwrap_or(&none).iter().any(|a| arch_names.contains(&a.as_str())) {
            return false;
        }
        inc.min_kernel.as_deref().is_none_or(|m| kernel_at_least(release, m))
    }

    fn arg_check(syscall: &str, a: &ArgFile) -> Result<ArgCheck> {
        if a.index > 5 {
            bail!("argument index {} is out of range: syscalls take arguments 0 to 5", a.index);
        }
        let op = match a.op.as_str() {
            "SCMP_CMP_EQ" => CmpOp::Eq,
            "SCMP_CMP_NE" => CmpOp::Ne,
            "SCMP_CMP_LT" => CmpOp::Lt,
            "SCMP_CMP_LE" => CmpOp::Le,
            "SCMP_CMP_GT" => CmpOp::Gt,
            "SCMP_CMP_GE" => CmpOp::Ge,
            "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq(a.value),
            other => {
                bail!("comparison {other:?} is not supported: use SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE or _MASKED_EQ")
            }
        };
        let value = if let CmpOp::MaskedEq(_) = op { a.value_two.unwrap_or(0) } else { a.value };
        // ioctl's request is an unsigned int: the kernel ignores the upper 32 bits, so a
        // 64-bit comparison could be dodged by setting them.
        let dword = syscall == "ioctl" && a.index == 1;
        if dword {
            let mask = if let CmpOp::MaskedEq(m) = op { m } else { 0 };
            if value > u64::from(u32::MAX) || mask > u64::from(u32::MAX) {
                bail!("ioctl's request (argument 1) has 32 bits: {value:#x} does not fit");
            }
        }
        Ok(ArgCheck { index: a.index as u8, dword, op, value })
    }

    impl Profile {
        /// Reads and checks a profile; `caps` are the capabilities the command keeps, `release`
        /// the running kernel's (for minKernel).
        pub fn parse(text: &str, caps: &[String], release: &str) -> Result<Profile> {
            let file: File = serde_json::from_str(text).map_err(|e| anyhow!("not a seccomp profile: {e}"))?;
            let default_errno = file.default_errno_ret.unwrap_or(libc::EPERM as u32);
            if default_errno > MAX_ERRNO {
                bail!("defaultErrnoRet {default_errno} is out of range: errno values go from 0 to {MAX_ERRNO}");
            }
            let default =
                Action::parse(&file.default_action, default_errno).map_err(|e| anyhow!("defaultAction: {e}"))?;
            let mut out = Profile { default: Some(default), ..Default::default() };
            for (i, r) in file.syscalls.unwrap_or_default().into_iter().enumerate() {
                let names: Vec<String> =
                    r.names.clone().unwrap_or_default().into_iter().chain(r.name.clone()).collect();
                let at = || format!("syscalls[{i}] ({})", names.join(", "));
                let errno = r.errno_ret.unwrap_or(default_errno);
                if errno > MAX_ERRNO {
                    bail!("{}: errnoRet {errno} is out of range: errno values go from 0 to {MAX_ERRNO}", at());
                }
                let action = Action::parse(&r.action, errno).map_err(|e| anyhow!("{}: {e}", at()))?;
                if !applies(&r.includes.unwrap_or_default(), &r.excludes.unwrap_or_default(), caps, release) {
                    continue;
                }
                for name in &names {
                    let Some(nr) = syscalls::number(name) else {
                        if syscalls::of_another_arch(name) {
                            continue;
                        }
                        if action == Action::Allow {
                            out.unknown_allowed.push(name.clone());
                            continue;
                        }
                        // A refusal that names nothing would leave the call open: fail closed.
                        bail!("{}: unknown syscall {name:?}: this build cannot refuse what it cannot name", at());
                    };
                    let checks = r
                        .args
                        .iter()
                        .flatten()
                        .map(|a| arg_check(name, a))
                        .collect::<Result<Vec<_>>>()
                        .map_err(|e| anyhow!("{}: {e}", at()))?;
                    out.rules.push((nr, checks, action));
                }
            }
            Ok(out)
        }

        pub fn rule_count(&self) -> usize {
            self.rules.len()
        }

        /// True when the profile kills for some call: jail then supervises the notifications.
        pub fn kills(&self) -> bool {
            let kill = |a: Action| matches!(a, Action::KillThread | Action::KillProcess);
            self.default.is_some_and(kill) || self.rules.iter().any(|(_, _, a)| kill(*a))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn parse(text: &str) -> Result<Profile> {
            Profile::parse(text, &[], "6.18.0")
        }

        #[test]
        fn wrong_types_and_out_of_range_values_are_refused() {
            let cases = [
                ("{", "not a seccomp profile"),
                (r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#, "not supported"),
                (
                    r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}"#,
                    "invalid type",
                ),
                (
                    r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": "1"}]}"#,
                    "invalid type",
                ),
                (
                    r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4096}]}"#,
                    "errnoRet 4096 is out of range",
                ),
                (r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}"#, "defaultErrnoRet 70000"),
                (
                    r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}"#,
                    "invalid value: integer `-1`",
                ),
                (
                    r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
                    "argument index 6",
                ),
                (
                    r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 4294988818, "op": "SCMP_CMP_EQ"}]}]}"#,
                    "32 bits",
                ),
                (
                    r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}"#,
                    "unknown syscall \"no_such_call\"",
                ),
            ];
            for (text, want) in cases {
                let e = format!("{:#}", parse(text).unwrap_err());
                assert!(e.contains(want), "{text}: {e}");
            }
        }

        #[test]
        fn unknown_names_in_allow_rules_are_collected_not_fatal() {
            let p = parse(r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "new_call_2030"], "action": "SCMP_ACT_ALLOW"}]}"#).unwrap();
            assert_eq!(p.unknown_allowed, ["new_call_2030"]);
        }

        #[test]
        fn ioctl_requests_compare_on_their_low_32_bits() {
            let p = parse(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_EQ"}]}, {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_EQ"}]}]}"#).unwrap();
            assert!(p.rules[0].1[0].dword && !p.rules[1].1[0].dword);
        }

        #[test]
        fn min_kernel_is_compared_as_numbers() {
            assert!(kernel_at_least("6.18.44-fc", "5.8"));
            assert!(!kernel_at_least("4.19.0", "5.8"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_holds_the_mount_api_and_keyrings() {
        let floor: Vec<&str> =
            DENIED.iter().filter(|(_, f, _)| *f).flat_map(|(_, _, c)| c.iter().map(|(n, _)| *n)).collect();
        for name in ["open_tree", "open_tree_attr", "fsmount", "move_mount", "mount_setattr", "keyctl"] {
            assert!(floor.contains(&name), "{name}");
        }
        // Every name in the table is the kernel's number for it.
        for (_, _, calls) in DENIED {
            for (name, nr) in *calls {
                assert_eq!(crate::spec::syscalls::number(name), Some(*nr as u32), "{name}");
            }
        }
    }

    #[test]
    fn summary_names_the_layers() {
        let plan = Plan { policy: Policy::Default, refuse_userns: true, fds: vec![7], report_denials: false };
        let s = summary(&plan);
        assert!(s.contains("kernel keyrings") && s.contains("CLONE_NEWUSER") && s.contains("fd 7"), "{s}");
        let plan = Plan { policy: Policy::Replaced, refuse_userns: false, fds: vec![], report_denials: false };
        let s = summary(&plan);
        assert!(s.starts_with("floor: EPERM for kernel keyrings, mount API") && s.contains("allowed"), "{s}");
    }
}
