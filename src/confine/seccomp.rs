//! Seccomp: a built-in policy for untrusted code, a Docker/OCI JSON profile, or none; plus
//! compiled classic BPF handed over on descriptors (bubblewrap's `--seccomp`/`--add-seccomp-fd`).
//!
//! The built-in policy has two levels. The *floor* is what no sandbox should ever allow: a
//! foreign architecture (killed: a filter cannot judge numbers it does not know), syscall
//! numbers newer than this build (ENOSYS, so a newer kernel never opens a gap; this covers the
//! x32 ABI too), `clone3` (ENOSYS, so libc falls back to `clone`, whose flags can be checked),
//! terminal injection, the kernel keyrings (shared with the host user) and the mount API (it
//! clones and re-flags mounts past the plan). The *default* policy adds tracing, modules,
//! host administration and the other families below. A profile or a `--seccomp FD` program is
//! stacked on the floor; only `--seccomp-policy off` removes it.
//!
//! Every syscall gets a constant verdict except the few whose arguments matter (ioctl's
//! request for TIOCSTI/TIOCLINUX, personality's ASLR flag, clone/unshare's CLONE_NEWUSER), so
//! the kernel's verdict cache keeps hot syscalls cheap.

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
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
}

/// Which built-in rules a program holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// Only the prefix and, if asked, the user-namespace rules.
    Bare,
    Floor,
    Default,
}

/// A family of refused calls: its name, whether it is in the floor, `(name, number)` pairs.
type Family = (&'static str, bool, &'static [(&'static str, i64)]);

/// Syscalls the built-in policy refuses with EPERM, by family.
const DENIED: &[Family] = &[
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

const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;
const ADDR_NO_RANDOMIZE: u64 = 0x0040000;
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

/// A built-in program: the prefix, then the rules of `level`.
fn builtin_program(level: Level, refuse_userns: bool) -> Result<BpfProgram> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    if level != Level::Bare {
        for (_, floor, calls) in DENIED {
            if *floor || level == Level::Default {
                for (_, nr) in *calls {
                    rules.insert(*nr, vec![]);
                }
            }
        }
        // Only the low 32 bits of the request count (the kernel truncates it), so compare those.
        rules.insert(
            libc::SYS_ioctl,
            vec![
                rule(vec![cond(1, Len::Dword, Op::Eq, TIOCSTI)?])?,
                rule(vec![cond(1, Len::Dword, Op::Eq, TIOCLINUX)?])?,
            ],
        );
    }
    if level == Level::Default {
        // 0xffffffff only queries the persona.
        rules.insert(
            libc::SYS_personality,
            vec![rule(vec![
                cond(0, Len::Dword, Op::MaskedEq(ADDR_NO_RANDOMIZE), ADDR_NO_RANDOMIZE)?,
                cond(0, Len::Dword, Op::Ne, 0xffff_ffff)?,
            ])?],
        );
    }
    if refuse_userns {
        let newuser = libc::CLONE_NEWUSER as u64;
        for nr in [libc::SYS_clone, libc::SYS_unshare] {
            rules.insert(nr, vec![rule(vec![cond(0, Len::Qword, Op::MaskedEq(newuser), newuser)?])?]);
        }
    }
    let mut prog = prefix()?;
    if rules.is_empty() {
        prog.push(seccompiler::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000 });
        return Ok(prog);
    }
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch()?)
        .map_err(|e| anyhow!("seccomp filter: {e}"))?;
    let body: BpfProgram = filter.try_into().map_err(|e| anyhow!("seccomp compile: {e}"))?;
    prog.extend(body);
    Ok(prog)
}

/// Checks seccompiler's filters cannot express: a foreign architecture, numbers above the
/// highest this build knows (newer calls, and the x32 ABI), and clone3.
fn prefix() -> Result<BpfProgram> {
    use seccompiler::sock_filter as I;
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGT_K: u16 = 0x25;
    const RET_K: u16 = 0x06;
    const KILL_PROCESS: u32 = 0x8000_0000;
    let enosys = 0x0005_0000 | libc::ENOSYS as u32;
    match (std::env::consts::ARCH, super::syscalls::highest()) {
        ("x86_64", Some(highest)) => Ok(vec![
            I { code: LD_W_ABS, jt: 0, jf: 0, k: 4 },
            I { code: JEQ_K, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 },
            I { code: RET_K, jt: 0, jf: 0, k: KILL_PROCESS },
            I { code: LD_W_ABS, jt: 0, jf: 0, k: 0 },
            I { code: JGT_K, jt: 1, jf: 0, k: highest },
            I { code: JEQ_K, jt: 0, jf: 1, k: libc::SYS_clone3 as u32 },
            I { code: RET_K, jt: 0, jf: 0, k: enosys },
        ]),
        // No table for this architecture yet: seccompiler's own check kills a foreign one.
        _ => Ok(vec![
            I { code: LD_W_ABS, jt: 0, jf: 0, k: 0 },
            I { code: JEQ_K, jt: 0, jf: 1, k: libc::SYS_clone3 as u32 },
            I { code: RET_K, jt: 0, jf: 0, k: enosys },
        ]),
    }
}

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

/// The program for jail's init, or None with `--seccomp-policy off`: init needs none of what
/// the default policy refuses, whatever the command's plan.
pub fn builtin(plan: &Plan) -> Result<Option<BpfProgram>> {
    match plan.policy {
        Policy::Off => Ok(None),
        _ => builtin_program(Level::Default, plan.refuse_userns).map(Some),
    }
}

/// What the command loads, in order, and which program (a profile that kills) is loaded with
/// a listener for jail to supervise.
#[derive(Debug, Default)]
pub struct Programs {
    pub list: Vec<BpfProgram>,
    pub listener: Option<usize>,
}

/// Compiles what the command loads, in order: the built-in layer (`init_program` when the
/// level is the default one, so it is compiled once per launch), the profile, the descriptors.
pub fn compile(plan: &Plan, init_program: Option<&BpfProgram>) -> Result<Programs> {
    let mut out = Programs::default();
    match &plan.policy {
        Policy::Default => match init_program {
            Some(p) => out.list.push(p.clone()),
            None => out.list.push(builtin_program(Level::Default, plan.refuse_userns)?),
        },
        Policy::Off if plan.refuse_userns => out.list.push(builtin_program(Level::Bare, true)?),
        Policy::Off => {}
        Policy::Replaced => out.list.push(builtin_program(Level::Floor, plan.refuse_userns)?),
        Policy::Profile { profile, .. } => {
            out.list.push(builtin_program(Level::Floor, plan.refuse_userns)?);
            let program = profile.compile()?;
            if program.len() > 4096 {
                bail!(
                    "--seccomp-policy: the profile compiles to {} instructions; the kernel takes 4096",
                    program.len()
                );
            }
            out.listener = profile.kills().then_some(out.list.len());
            out.list.push(program);
        }
    }
    for fd in &plan.fds {
        out.list.push(read_program(*fd)?);
    }
    Ok(out)
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

/// Loads one program and returns its notification listener (close-on-exec).
pub fn load_with_listener(prog: &BpfProgram) -> Result<std::os::fd::OwnedFd> {
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        let e = nix::errno::Errno::last();
        bail!("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER): {}", crate::sys::errno_text(e));
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(ret as i32) })
}

/// Docker/OCI seccomp profiles: read and checked when the plan is made (so `--dry-run`
/// refuses a bad one), compiled at launch. Semantics are exact or refused: typed fields,
/// errno values the kernel can return, arguments that fit, names this build knows. Rules are
/// grouped by action, one filter per group, stacked: where rules of different actions match
/// the same call, the stricter action wins (the kernel's precedence), not the first listed.
pub mod profile {
    use std::collections::BTreeMap;

    use anyhow::{anyhow, bail, Result};
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond,
        SeccompFilter, SeccompRule,
    };
    use serde::Deserialize;

    use crate::confine::syscalls;

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
        value: u64,
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

        fn seccompiler(self) -> SeccompAction {
            match self {
                Action::Allow => SeccompAction::Allow,
                Action::Log => SeccompAction::Log,
                Action::Errno(e) => SeccompAction::Errno(e),
                Action::Trap => SeccompAction::Trap,
                Action::KillThread => SeccompAction::KillThread,
                Action::KillProcess => SeccompAction::KillProcess,
            }
        }
    }

    /// One argument check: argument index, width, comparison, value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ArgCheck {
        index: u8,
        dword: bool,
        op: CmpOp,
        value: u64,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum CmpOp {
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
        default: Option<Action>,
        rules: Vec<(u32, Vec<ArgCheck>, Action)>,
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
        /// Reads and checks a profile; `caps` are the capabilities the command keeps.
        pub fn parse(text: &str, caps: &[String]) -> Result<Profile> {
            let release =
                nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
            Self::parse_for(text, caps, &release)
        }

        fn parse_for(text: &str, caps: &[String], release: &str) -> Result<Profile> {
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

        /// One program: a filter per action (the default one, and one per action of the rules),
        /// run strictest first; the first that does not allow decides, as the kernel decides
        /// between stacked filters. Kill actions become user notifications, so that jail can
        /// say which call it was before it kills the process (see `launch::supervise`).
        pub fn compile(&self) -> Result<BpfProgram> {
            let default = self.default.ok_or_else(|| anyhow!("seccomp profile: not parsed"))?;
            let arch = super::arch()?;
            let rule_of = |checks: &[ArgCheck]| -> Result<Option<SeccompRule>> {
                if checks.is_empty() {
                    return Ok(None);
                }
                let conds = checks
                    .iter()
                    .map(|c| {
                        let len = if c.dword { Len::Dword } else { Len::Qword };
                        let op = match c.op {
                            CmpOp::Eq => Op::Eq,
                            CmpOp::Ne => Op::Ne,
                            CmpOp::Lt => Op::Lt,
                            CmpOp::Le => Op::Le,
                            CmpOp::Gt => Op::Gt,
                            CmpOp::Ge => Op::Ge,
                            CmpOp::MaskedEq(m) => Op::MaskedEq(m),
                        };
                        Cond::new(c.index, len, op, c.value).map_err(|e| anyhow!("seccomp condition: {e}"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                SeccompRule::new(conds).map(Some).map_err(|e| anyhow!("seccomp rule: {e}"))
            };
            // Per syscall, the rules that match it; an unconditional rule matches every call.
            let collect = |pick: &dyn Fn(Action) -> bool| -> Result<BTreeMap<i64, Vec<SeccompRule>>> {
                let mut map: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
                for (nr, checks, act) in &self.rules {
                    if !pick(*act) {
                        continue;
                    }
                    let entry = map.entry(i64::from(*nr)).or_insert_with(|| Some(Vec::new()));
                    match (rule_of(checks)?, entry.as_mut()) {
                        (Some(r), Some(v)) => v.push(r),
                        (None, _) => *entry = None,
                        (Some(_), None) => {}
                    }
                }
                Ok(map.into_iter().map(|(nr, v)| (nr, v.unwrap_or_default())).collect())
            };
            let filter = |rules, mismatch: Action, matched: Action| -> Result<BpfProgram> {
                let f = SeccompFilter::new(rules, mismatch.seccompiler(), matched.seccompiler(), arch)
                    .map_err(|e| anyhow!("seccomp profile: {e}"))?;
                f.try_into().map_err(|e| anyhow!("seccomp profile: compile: {e}"))
            };
            // (what the filter returns when it does not allow, the filter)
            let mut parts: Vec<(Action, BpfProgram)> = Vec::new();
            if default != Action::Allow {
                parts.push((default, filter(collect(&|_| true)?, default, Action::Allow)?));
            }
            let mut actions: Vec<Action> =
                self.rules.iter().map(|(_, _, a)| *a).filter(|a| *a != Action::Allow).collect();
            actions.sort();
            actions.dedup();
            for act in actions {
                parts.push((act, filter(collect(&|a| a == act)?, Action::Allow, act)?));
            }
            parts.sort_by_key(|p| std::cmp::Reverse(p.0));
            Ok(chain(parts.into_iter().map(|(_, p)| p).collect()))
        }

        /// True when the profile kills for some call: jail then supervises the notifications.
        pub fn kills(&self) -> bool {
            let kill = |a: Action| matches!(a, Action::KillThread | Action::KillProcess);
            self.default.is_some_and(kill) || self.rules.iter().any(|(_, _, a)| kill(*a))
        }
    }

    const RET_K: u16 = 0x06;
    const JA: u16 = 0x05;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_KILL_THREAD: u32 = 0;
    const RET_KILL_PROCESS: u32 = 0x8000_0000;

    /// Joins programs into one: where one allows, the next one runs; kills notify instead.
    fn chain(parts: Vec<BpfProgram>) -> BpfProgram {
        let n = parts.len();
        let mut out = Vec::new();
        for (i, mut p) in parts.into_iter().enumerate() {
            let len = p.len();
            for (at, ins) in p.iter_mut().enumerate() {
                if ins.code != RET_K {
                    continue;
                }
                match ins.k {
                    RET_ALLOW if i + 1 < n => {
                        *ins = seccompiler::sock_filter { code: JA, jt: 0, jf: 0, k: (len - at - 1) as u32 }
                    }
                    RET_KILL_THREAD | RET_KILL_PROCESS => ins.k = libc::SECCOMP_RET_USER_NOTIF,
                    _ => {}
                }
            }
            out.extend(p);
        }
        if out.is_empty() {
            out.push(seccompiler::sock_filter { code: RET_K, jt: 0, jf: 0, k: RET_ALLOW });
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn parse(text: &str) -> Result<Profile> {
            Profile::parse_for(text, &[], "6.18.0")
        }

        #[test]
        fn docker_style_profile_compiles_into_a_base_and_a_group() {
            let text = r#"{
                "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "syscalls": [
                    {"names": ["read", "write", "exit_group", "_llseek"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                    {"names": ["open_tree_attr"], "action": "SCMP_ACT_ALLOW", "args": null}
                ]}"#;
            let p = parse(text).unwrap();
            assert!(p.unknown_allowed.is_empty(), "{:?}", p.unknown_allowed);
            let prog = p.compile().unwrap();
            let eperm = 0x0005_0000 | 1;
            assert_eq!(run(&prog, 0, [0; 6]), RET_ALLOW, "read");
            assert_eq!(run(&prog, 135, [0; 6]), RET_ALLOW, "personality(0)");
            assert_eq!(run(&prog, 135, [8, 0, 0, 0, 0, 0]), eperm, "personality(8)");
            assert_eq!(run(&prog, 435, [0; 6]), 0x0005_0000 | 38, "clone3");
            assert_eq!(run(&prog, 165, [0; 6]), eperm, "mount without the capability");
            assert_eq!(run(&prog, 110, [0; 6]), eperm, "getppid, by default");
            assert!(!p.kills());
            let with_cap = Profile::parse_for(text, &["CAP_SYS_ADMIN".into()], "6.18.0").unwrap();
            assert_eq!(run(&with_cap.compile().unwrap(), 165, [0; 6]), RET_ALLOW);
        }

        /// Runs a classic BPF program on a seccomp_data for x86_64 (the few opcodes used).
        fn run(prog: &BpfProgram, nr: u32, args: [u64; 6]) -> u32 {
            let mut data = Vec::new();
            data.extend(nr.to_le_bytes());
            data.extend(0xc000_003e_u32.to_le_bytes());
            data.extend(0u64.to_le_bytes());
            for a in args {
                data.extend(a.to_le_bytes());
            }
            let word = |k: u32| u32::from_le_bytes(data[k as usize..k as usize + 4].try_into().unwrap());
            let (mut a, mut pc) = (0u32, 0usize);
            loop {
                let i = &prog[pc];
                pc += 1;
                let jump = |cond: bool| if cond { i.jt as usize } else { i.jf as usize };
                match i.code {
                    0x20 => a = word(i.k),
                    0x54 => a &= i.k,
                    0x05 => pc += i.k as usize,
                    0x15 => pc += jump(a == i.k),
                    0x25 => pc += jump(a > i.k),
                    0x35 => pc += jump(a >= i.k),
                    0x45 => pc += jump(a & i.k != 0),
                    0x06 => return i.k,
                    c => panic!("opcode {c:#x} at {}", pc - 1),
                }
            }
        }

        #[test]
        fn the_strictest_action_wins_and_kills_notify() {
            let text = r#"{"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
                {"names": ["read", "write", "getppid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["write"], "action": "SCMP_ACT_KILL", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                {"names": ["write"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ]}"#;
            let p = parse(text).unwrap();
            assert!(p.kills());
            let prog = p.compile().unwrap();
            let notify = libc::SECCOMP_RET_USER_NOTIF;
            assert_eq!(run(&prog, 0, [0; 6]), RET_ALLOW, "read");
            assert_eq!(run(&prog, 110, [0; 6]), 0x0005_0000 | 13, "getppid: errno beats allow");
            assert_eq!(run(&prog, 1, [2, 0, 0, 0, 0, 0]), notify, "write(2): kill beats allow");
            assert_eq!(run(&prog, 1, [1, 0, 0, 0, 0, 0]), 0x7ffc_0000, "write(1): log");
            assert_eq!(run(&prog, 1, [3, 0, 0, 0, 0, 0]), RET_ALLOW, "write(3)");
            assert_eq!(run(&prog, 39, [0; 6]), notify, "getpid: the default kills");
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
    fn every_level_starts_with_the_arch_check_and_the_newer_than_this_build_rule() {
        let p = builtin_program(Level::Default, false).unwrap();
        assert!(p.len() > 40);
        assert_eq!(p[1].k, AUDIT_ARCH_X86_64);
        assert_eq!(p[4].k, 469, "x32 numbers and calls newer than this build get ENOSYS");
        assert!(builtin_program(Level::Default, true).unwrap().len() > p.len());
        let floor = builtin_program(Level::Floor, false).unwrap();
        assert!(floor.len() < p.len() && floor[..7] == p[..7]);
        assert_eq!(builtin_program(Level::Bare, false).unwrap().len(), 8);
    }

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
                assert_eq!(crate::confine::syscalls::number(name), Some(*nr as u32), "{name}");
            }
        }
    }

    #[test]
    fn summary_names_the_layers() {
        let plan = Plan { policy: Policy::Default, refuse_userns: true, fds: vec![7] };
        let s = summary(&plan);
        assert!(s.contains("kernel keyrings") && s.contains("CLONE_NEWUSER") && s.contains("fd 7"), "{s}");
        let plan = Plan { policy: Policy::Replaced, refuse_userns: false, fds: vec![] };
        let s = summary(&plan);
        assert!(s.starts_with("floor: EPERM for kernel keyrings, mount API") && s.contains("allowed"), "{s}");
    }

    #[test]
    fn off_keeps_only_the_user_namespace_rule() {
        let plan = Plan { policy: Policy::Off, refuse_userns: true, fds: vec![] };
        assert_eq!(compile(&plan, None).unwrap().list.len(), 1);
        let plan = Plan { policy: Policy::Off, refuse_userns: false, fds: vec![] };
        assert!(compile(&plan, None).unwrap().list.is_empty());
        assert!(builtin(&plan).unwrap().is_none());
    }
}
