//! Seccomp: a built-in policy for untrusted code, a Docker/OCI JSON profile, or none; plus
//! compiled classic BPF handed over on descriptors (bubblewrap's `--seccomp`/`--add-seccomp-fd`).
//!
//! The default policy gives every syscall a constant verdict except the few whose arguments
//! matter (ioctl's request for TIOCSTI/TIOCLINUX, personality's ASLR flag, and with
//! `--disable-userns` clone/unshare's CLONE_NEWUSER), so the kernel's verdict cache keeps hot
//! syscalls cheap. Blocked calls fail with EPERM (ENOSYS for clone3, so libc falls back to
//! clone whose flags can be checked); a foreign architecture kills the process, since a filter
//! cannot judge syscall numbers it does not know.

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::Serialize;

/// Which built-in policy, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    Default,
    Off,
    /// A Docker/OCI seccomp profile (JSON), compiled at launch.
    Profile(PathBuf),
}

/// The seccomp part of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub policy: Policy,
    pub disable_userns: bool,
    /// Compiled classic BPF programs to read from these descriptors and stack on top.
    pub fds: Vec<RawFd>,
}

/// Syscalls the default policy refuses with EPERM, by family.
const DENIED: &[(&str, &[(&str, i64)])] = &[
    (
        "kernel keyrings",
        &[("keyctl", libc::SYS_keyctl), ("add_key", libc::SYS_add_key), ("request_key", libc::SYS_request_key)],
    ),
    ("tracing and bpf", &[("perf_event_open", libc::SYS_perf_event_open), ("bpf", libc::SYS_bpf)]),
    ("userfaultfd", &[("userfaultfd", libc::SYS_userfaultfd)]),
    (
        "kernel images and modules",
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
        &[("open_by_handle_at", libc::SYS_open_by_handle_at), ("name_to_handle_at", libc::SYS_name_to_handle_at)],
    ),
    (
        "new mount API",
        &[
            ("fsopen", libc::SYS_fsopen),
            ("fsconfig", libc::SYS_fsconfig),
            ("fsmount", libc::SYS_fsmount),
            ("fspick", libc::SYS_fspick),
            ("open_tree", libc::SYS_open_tree),
            ("move_mount", libc::SYS_move_mount),
            ("mount_setattr", libc::SYS_mount_setattr),
        ],
    ),
    (
        "io_uring (bypasses syscall filtering)",
        &[
            ("io_uring_setup", libc::SYS_io_uring_setup),
            ("io_uring_enter", libc::SYS_io_uring_enter),
            ("io_uring_register", libc::SYS_io_uring_register),
        ],
    ),
    (
        "obsolete",
        &[("uselib", libc::SYS_uselib), ("lookup_dcookie", libc::SYS_lookup_dcookie), ("_sysctl", libc::SYS__sysctl)],
    ),
];

const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;
const ADDR_NO_RANDOMIZE: u64 = 0x0040000;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

fn cond(arg: u8, len: Len, op: Op, val: u64) -> Result<Cond> {
    Cond::new(arg, len, op, val).map_err(|e| anyhow!("seccomp condition: {e}"))
}

fn rule(conds: Vec<Cond>) -> Result<SeccompRule> {
    SeccompRule::new(conds).map_err(|e| anyhow!("seccomp rule: {e}"))
}

fn arch() -> Result<TargetArch> {
    std::env::consts::ARCH.try_into().map_err(|e| anyhow!("seccomp: unsupported architecture: {e:?}"))
}

/// The built-in policy, as one program.
pub fn default_program(disable_userns: bool) -> Result<BpfProgram> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, calls) in DENIED {
        for (_, nr) in *calls {
            rules.insert(*nr, vec![]);
        }
    }
    // Only the low 32 bits of the request count (the kernel truncates it), so compare those.
    rules.insert(
        libc::SYS_ioctl,
        vec![rule(vec![cond(1, Len::Dword, Op::Eq, TIOCSTI)?])?, rule(vec![cond(1, Len::Dword, Op::Eq, TIOCLINUX)?])?],
    );
    // 0xffffffff only queries the persona.
    rules.insert(
        libc::SYS_personality,
        vec![rule(vec![
            cond(0, Len::Dword, Op::MaskedEq(ADDR_NO_RANDOMIZE), ADDR_NO_RANDOMIZE)?,
            cond(0, Len::Dword, Op::Ne, 0xffff_ffff)?,
        ])?],
    );
    if disable_userns {
        let newuser = libc::CLONE_NEWUSER as u64;
        for nr in [libc::SYS_clone, libc::SYS_unshare] {
            rules.insert(nr, vec![rule(vec![cond(0, Len::Qword, Op::MaskedEq(newuser), newuser)?])?]);
        }
    }
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch()?)
        .map_err(|e| anyhow!("seccomp filter: {e}"))?;
    let body: BpfProgram = filter.try_into().map_err(|e| anyhow!("seccomp compile: {e}"))?;
    let mut prog = prefix()?;
    prog.extend(body);
    Ok(prog)
}

/// Checks seccompiler's filters cannot express: a foreign architecture, x32 syscall numbers
/// (which would otherwise slip past every rule), and clone3.
fn prefix() -> Result<BpfProgram> {
    use seccompiler::sock_filter as I;
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    const KILL_PROCESS: u32 = 0x8000_0000;
    let enosys = 0x0005_0000 | libc::ENOSYS as u32;
    if std::env::consts::ARCH != "x86_64" {
        return Ok(vec![
            I { code: LD_W_ABS, jt: 0, jf: 0, k: 0 },
            I { code: JEQ_K, jt: 0, jf: 1, k: libc::SYS_clone3 as u32 },
            I { code: RET_K, jt: 0, jf: 0, k: enosys },
        ]);
    }
    Ok(vec![
        I { code: LD_W_ABS, jt: 0, jf: 0, k: 4 },
        I { code: JEQ_K, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 },
        I { code: RET_K, jt: 0, jf: 0, k: KILL_PROCESS },
        I { code: LD_W_ABS, jt: 0, jf: 0, k: 0 },
        I { code: JGE_K, jt: 1, jf: 0, k: X32_SYSCALL_BIT },
        I { code: JEQ_K, jt: 0, jf: 1, k: libc::SYS_clone3 as u32 },
        I { code: RET_K, jt: 0, jf: 0, k: enosys },
    ])
}

/// One line per family, for `--dry-run`.
pub fn summary(plan: &Plan) -> String {
    let mut parts = Vec::new();
    match &plan.policy {
        Policy::Off => parts.push("no built-in policy".to_string()),
        Policy::Profile(p) => parts.push(format!("profile {}", p.display())),
        Policy::Default => {
            let fams: Vec<&str> = DENIED.iter().map(|(f, _)| *f).collect();
            parts.push(format!("default: EPERM for {}", fams.join(", ")));
            parts.push("ioctl TIOCSTI/TIOCLINUX, personality(ADDR_NO_RANDOMIZE)".into());
            parts.push("ENOSYS for clone3 and x32 calls".into());
            if plan.disable_userns {
                parts.push("EPERM for clone/unshare with CLONE_NEWUSER".into());
            }
        }
    }
    for fd in &plan.fds {
        parts.push(format!("+ BPF from fd {fd}"));
    }
    parts.join("; ")
}

/// Every denied syscall name, for documentation and tests.
pub fn denied_names() -> Vec<&'static str> {
    DENIED.iter().flat_map(|(_, c)| c.iter().map(|(n, _)| *n)).collect()
}

/// The built-in policy as this plan needs it (for the command and for jail's init), or None
/// with `--seccomp-policy off`.
pub fn builtin(plan: &Plan) -> Result<Option<BpfProgram>> {
    match plan.policy {
        Policy::Off => Ok(None),
        _ => default_program(plan.disable_userns).map(Some),
    }
}

/// Compiles what the plan asks for; the programs are loaded later, in order. `builtin` is
/// [`builtin`]'s program, compiled once per launch and shared with init.
pub fn compile(plan: &Plan, caps: &[String], builtin: Option<&BpfProgram>) -> Result<Vec<BpfProgram>> {
    let mut progs = Vec::new();
    let builtin = || builtin.cloned().ok_or_else(|| anyhow!("seccomp: the built-in policy was not compiled"));
    match &plan.policy {
        Policy::Off => {}
        Policy::Default => progs.push(builtin()?),
        Policy::Profile(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("--seccomp-policy {}: read", path.display()))?;
            progs.extend(
                profile::compile(&text, caps).map_err(|e| anyhow!("--seccomp-policy {}: {e:#}", path.display()))?,
            );
            // --disable-userns stacks the built-in policy (which then refuses CLONE_NEWUSER).
            if plan.disable_userns {
                progs.push(builtin()?);
            }
        }
    }
    for fd in &plan.fds {
        progs.push(read_program(*fd)?);
    }
    Ok(progs)
}

/// Reads a compiled classic BPF program (as `seccomp_export_bpf` writes it) from `fd`.
fn read_program(fd: RawFd) -> Result<BpfProgram> {
    let mut sys = crate::sys::linux::Linux;
    let bytes = crate::sys::Sys::read_all(&mut sys, fd).map_err(|e| anyhow!("seccomp fd {fd}: {e}"))?;
    if bytes.is_empty() || bytes.len() % 8 != 0 || bytes.len() / 8 > 4096 {
        bail!(
            "seccomp fd {fd}: {} bytes is not a classic BPF program (8 bytes per instruction, at most 4096)",
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| seccompiler::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// Loads the programs in order (each stacks on the previous). Needs no_new_privs.
pub fn load(progs: &[BpfProgram]) -> Result<()> {
    for p in progs {
        seccompiler::apply_filter(p).map_err(|e| anyhow!("seccomp(SECCOMP_SET_MODE_FILTER): {e}"))?;
    }
    Ok(())
}

/// Docker/OCI seccomp profiles, translated into seccompiler filters. Rules are grouped by
/// action, one filter per group, stacked: where two rules of different actions match the same
/// call, the stricter one wins (the kernel's precedence), not the first listed.
mod profile {
    use std::collections::BTreeMap;

    use anyhow::{anyhow, bail, Result};
    use seccompiler::{BpfProgram, TargetArch};
    use serde_json::{json, Value};

    fn action(name: &str, errno: u32) -> Result<Value> {
        Ok(match name {
            "SCMP_ACT_ALLOW" => json!("allow"),
            "SCMP_ACT_ERRNO" => json!({ "errno": errno }),
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => json!("kill_thread"),
            "SCMP_ACT_KILL_PROCESS" => json!("kill_process"),
            "SCMP_ACT_TRAP" => json!("trap"),
            "SCMP_ACT_LOG" => json!("log"),
            other => bail!("unsupported action {other}"),
        })
    }

    fn arg(a: &Value) -> Result<Value> {
        let index = a["index"].as_u64().ok_or_else(|| anyhow!("argument without index"))?;
        let value = a["value"].as_u64().unwrap_or(0);
        let two = a["valueTwo"].as_u64().unwrap_or(0);
        let (op, val) = match a["op"].as_str().unwrap_or("") {
            "SCMP_CMP_EQ" => (json!("eq"), value),
            "SCMP_CMP_NE" => (json!("ne"), value),
            "SCMP_CMP_LT" => (json!("lt"), value),
            "SCMP_CMP_LE" => (json!("le"), value),
            "SCMP_CMP_GT" => (json!("gt"), value),
            "SCMP_CMP_GE" => (json!("ge"), value),
            "SCMP_CMP_MASKED_EQ" => (json!({ "masked_eq": value }), two),
            other => bail!("unsupported comparison {other:?}"),
        };
        Ok(json!({ "index": index, "type": "qword", "op": op, "val": val }))
    }

    fn strings(v: &Value) -> Vec<&str> {
        v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    }

    fn kernel_at_least(min: &str) -> bool {
        let release =
            nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
        let parse = |s: &str| -> Vec<u32> { s.split(['.', '-']).take(2).filter_map(|x| x.parse().ok()).collect() };
        parse(&release) >= parse(min)
    }

    /// Whether a rule applies here: its capability, architecture and kernel conditions.
    fn applies(rule: &Value, caps: &[String]) -> bool {
        let arch_names = ["amd64", "x86_64", "SCMP_ARCH_X86_64"];
        let inc = &rule["includes"];
        let exc = &rule["excludes"];
        let has_cap = |c: &str| caps.iter().any(|k| k == c);
        if !strings(&inc["caps"]).iter().all(|c| has_cap(c)) {
            return false;
        }
        if strings(&exc["caps"]).iter().any(|c| has_cap(c)) {
            return false;
        }
        let inc_arches = strings(&inc["arches"]);
        if !inc_arches.is_empty() && !inc_arches.iter().any(|a| arch_names.contains(a)) {
            return false;
        }
        if strings(&exc["arches"]).iter().any(|a| arch_names.contains(a)) {
            return false;
        }
        inc["minKernel"].as_str().is_none_or(kernel_at_least)
    }

    fn known(name: &str, arch: TargetArch) -> bool {
        let probe =
            json!({ "p": { "mismatch_action": "allow", "match_action": "log", "filter": [{ "syscall": name }] } });
        seccompiler::compile_from_json(probe.to_string().as_bytes(), arch).is_ok()
    }

    pub fn compile(text: &str, caps: &[String]) -> Result<Vec<BpfProgram>> {
        let arch: TargetArch =
            std::env::consts::ARCH.try_into().map_err(|e| anyhow!("unsupported architecture: {e:?}"))?;
        let p: Value = serde_json::from_str(text).map_err(|e| anyhow!("not JSON: {e}"))?;
        let default_errno = p["defaultErrnoRet"].as_u64().unwrap_or(libc::EPERM as u64) as u32;
        let default = action(p["defaultAction"].as_str().ok_or_else(|| anyhow!("no defaultAction"))?, default_errno)?;
        let mut groups: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
        let mut all = Vec::new();
        for rule in p["syscalls"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if !applies(rule, caps) {
                continue;
            }
            let errno = rule["errnoRet"].as_u64().map_or(default_errno, |e| e as u32);
            let act = action(rule["action"].as_str().ok_or_else(|| anyhow!("rule without action"))?, errno)?;
            let args: Vec<Value> =
                rule["args"].as_array().map(|a| a.iter().map(arg).collect()).transpose()?.unwrap_or_default();
            for name in strings(&rule["names"]).into_iter().chain(rule["name"].as_str()) {
                if !known(name, arch) {
                    continue;
                }
                let mut r = json!({ "syscall": name });
                if !args.is_empty() {
                    r["args"] = json!(args);
                }
                all.push(r.clone());
                if act != json!("allow") {
                    groups.entry(act.to_string()).or_insert_with(|| (act.clone(), Vec::new())).1.push(r);
                }
            }
        }
        let mut filters = serde_json::Map::new();
        if default != json!("allow") {
            filters
                .insert("0-base".into(), json!({ "mismatch_action": default, "match_action": "allow", "filter": all }));
        }
        for (i, (_, (act, rules))) in groups.into_iter().enumerate() {
            filters.insert(
                format!("{}-group", i + 1),
                json!({ "mismatch_action": "allow", "match_action": act, "filter": rules }),
            );
        }
        let map = seccompiler::compile_from_json(Value::Object(filters).to_string().as_bytes(), arch)
            .map_err(|e| anyhow!("compile: {e}"))?;
        let mut named: Vec<(String, BpfProgram)> = map.into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(named.into_iter().map(|(_, p)| p).collect())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn docker_style_profile_compiles_into_a_base_and_a_group() {
            let text = r#"{
                "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "syscalls": [
                    {"names": ["read", "write", "exit_group", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
                ]}"#;
            let progs = compile(text, &[]).unwrap();
            assert_eq!(progs.len(), 2);
            assert!(compile(text, &["CAP_SYS_ADMIN".into()]).unwrap()[0].len() > progs[0].len());
        }

        #[test]
        fn bad_profiles_say_why() {
            assert!(compile("{", &[]).unwrap_err().to_string().contains("not JSON"));
            let e = compile(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#, &[]).unwrap_err();
            assert!(e.to_string().contains("unsupported action"), "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_compiles_and_starts_with_the_arch_and_x32_checks() {
        let p = default_program(false).unwrap();
        assert!(p.len() > 40);
        assert_eq!(p[1].k, AUDIT_ARCH_X86_64);
        assert_eq!(p[4].k, X32_SYSCALL_BIT);
        assert!(default_program(true).unwrap().len() > p.len());
    }

    #[test]
    fn summary_names_the_families() {
        let plan = Plan { policy: Policy::Default, disable_userns: true, fds: vec![7] };
        let s = summary(&plan);
        assert!(s.contains("kernel keyrings") && s.contains("CLONE_NEWUSER") && s.contains("fd 7"), "{s}");
    }
}
