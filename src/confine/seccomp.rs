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

use crate::spec::seccomp::DENIED;
pub use crate::spec::seccomp::{Plan, Policy};
use anyhow::{anyhow, bail, Result};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Which built-in rules a program holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// Only the architecture check, ENOSYS for unknown numbers and clone3 and, if asked, the
    /// user-namespace rules.
    Bare,
    Floor,
    Default,
}

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

/// A built-in program: the rules of `level`, compiled by [`searched`].
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
    searched(rules)
}

/// What a stretch of syscall numbers gets in the built-in program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    Refuse,
    /// ENOSYS: numbers newer than this build knows (and the x32 ABI's), and clone3, so that
    /// libc falls back to clone, whose flags a filter can see.
    Unknown,
    /// The rules of one call that look at its arguments: the `n`th program after the search.
    Rules(usize),
}

/// The built-in program: a foreign architecture is killed (a filter cannot judge numbers it
/// does not know), then a binary search on the syscall number. The kernel emulates a program
/// for every syscall number when it loads it (to cache the constant verdicts), so each step a
/// call takes to its verdict is paid about 470 times per load: here a call takes four steps
/// and one comparison per level of the search, where one chain of the forty-odd rules took up
/// to a hundred (137 µs per load on the benchmark's machine) and buckets of six behind a
/// linear dispatch up to forty (66 µs). Numbers are split into stretches of one verdict (a run
/// of consecutive refused numbers is one stretch); calls whose rules look at arguments jump to
/// their own seccompiler program after the search.
fn searched(rules: BTreeMap<i64, Vec<SeccompRule>>) -> Result<BpfProgram> {
    use seccompiler::sock_filter as I;
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const JA: u16 = 0x05;
    const KILL_PROCESS: u32 = 0x8000_0000;
    let native = match std::env::consts::ARCH {
        "x86_64" => AUDIT_ARCH_X86_64,
        "aarch64" => 0xc000_00b7,
        "riscv64" => 0xc000_00f3,
        other => bail!("seccomp: unsupported architecture {other}"),
    };
    let mut points: BTreeMap<u32, Verdict> = BTreeMap::new();
    let mut tails: Vec<BpfProgram> = Vec::new();
    for (nr, call_rules) in rules {
        let n = u32::try_from(nr).map_err(|_| anyhow!("seccomp: syscall number {nr}"))?;
        let verdict = if call_rules.is_empty() {
            Verdict::Refuse
        } else {
            let one = BTreeMap::from([(nr, call_rules)]);
            let filter =
                SeccompFilter::new(one, SeccompAction::Allow, SeccompAction::Errno(libc::EPERM as u32), arch()?)
                    .map_err(|e| anyhow!("seccomp filter: {e}"))?;
            tails.push(filter.try_into().map_err(|e| anyhow!("seccomp compile: {e}"))?);
            Verdict::Rules(tails.len() - 1)
        };
        points.insert(n, verdict);
    }
    points.insert(libc::SYS_clone3 as u32, Verdict::Unknown);
    // (first number, verdict) for every stretch, each up to the next one's first number.
    let mut stretches: Vec<(u32, Verdict)> = vec![(0, Verdict::Allow)];
    for (n, verdict) in points {
        // The Allow stretch opened after the number before this one is empty if it is n.
        if stretches.last().is_some_and(|s| s.0 == n) {
            stretches.pop();
        }
        // A number right after one of the same constant verdict extends its stretch.
        if !(matches!(verdict, Verdict::Refuse | Verdict::Unknown) && stretches.last().is_some_and(|s| s.1 == verdict))
        {
            stretches.push((n, verdict));
        }
        stretches.push((n + 1, Verdict::Allow));
    }
    if let Some(highest) = super::syscalls::highest() {
        match stretches.last_mut() {
            Some(last) if last.0 == highest + 1 => last.1 = Verdict::Unknown,
            _ => stretches.push((highest + 1, Verdict::Unknown)),
        }
    }
    let mut out = vec![
        I { code: LD_W_ABS, jt: 0, jf: 0, k: 4 },
        I { code: JEQ_K, jt: 1, jf: 0, k: native },
        I { code: RET, jt: 0, jf: 0, k: KILL_PROCESS },
        I { code: LD_W_ABS, jt: 0, jf: 0, k: 0 },
    ];
    let mut to_tail: Vec<(usize, usize)> = Vec::new();
    search(&stretches, &mut out, &mut to_tail)?;
    let mut starts = Vec::new();
    for t in tails {
        starts.push(out.len());
        out.extend(t);
    }
    for (at, tail) in to_tail {
        out[at].k = (starts[tail] - (at + 1)) as u32;
    }
    return Ok(out);

    /// Emits the search over `s` (stretches in order, the first starting where the caller's
    /// comparisons left off): "number >= the middle stretch's first?", the lower half, then
    /// the upper half.
    fn search(s: &[(u32, Verdict)], out: &mut BpfProgram, to_tail: &mut Vec<(usize, usize)>) -> Result<()> {
        if let [(_, v)] = s {
            out.push(match v {
                Verdict::Allow => I { code: RET, jt: 0, jf: 0, k: RET_ALLOW },
                Verdict::Refuse => I { code: RET, jt: 0, jf: 0, k: RET_EPERM },
                Verdict::Unknown => I { code: RET, jt: 0, jf: 0, k: RET_ENOSYS },
                Verdict::Rules(t) => {
                    to_tail.push((out.len(), *t));
                    I { code: JA, jt: 0, jf: 0, k: 0 }
                }
            });
            return Ok(());
        }
        let mid = s.len() / 2;
        let at = out.len();
        out.push(I { code: JGE_K, jt: 0, jf: 0, k: s[mid].0 });
        search(&s[..mid], out, to_tail)?;
        out[at].jt = u8::try_from(out.len() - (at + 1)).map_err(|_| anyhow!("seccomp: search branch too long"))?;
        search(&s[mid..], out, to_tail)
    }
}

/// The program for jail's init, or None with `--seccomp-policy off`: init needs none of what
/// the default policy refuses, whatever the command's plan.
pub fn builtin(plan: &Plan) -> Result<Option<BpfProgram>> {
    match plan.policy {
        Policy::Off => Ok(None),
        _ => builtin_program(Level::Default, plan.refuse_userns).map(Some),
    }
}

const RET: u16 = 0x06;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;
/// `SECCOMP_RET_ERRNO | EPERM`: what the built-in rules return.
const RET_EPERM: u32 = 0x0005_0000 | libc::EPERM as u32;

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
        Policy::Default if plan.report_denials => {
            // init's program (compiled once per launch), each refusal a notification jail
            // answers with EPERM and counts.
            let mut p = match init_program {
                Some(p) => p.clone(),
                None => builtin_program(Level::Default, plan.refuse_userns)?,
            };
            for ins in p.iter_mut().filter(|i| i.code == RET && i.k == RET_EPERM) {
                ins.k = libc::SECCOMP_RET_USER_NOTIF;
            }
            out.listener = Some(0);
            out.list.push(p);
        }
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

/// Profiles compile into one program: a filter per action (the default one, and one per
/// action of the rules), run strictest first; the first that does not allow decides, as the
/// kernel decides between stacked filters. Kill actions become user notifications, so that
/// jail can say which call it was before it kills the process (see `launch::supervise`).
pub mod profile {
    use std::collections::BTreeMap;

    use anyhow::{anyhow, Result};
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition as Cond,
        SeccompFilter, SeccompRule,
    };

    pub use crate::spec::seccomp::profile::{Action, Profile};
    use crate::spec::seccomp::profile::{ArgCheck, CmpOp};

    fn seccompiler_action(a: Action) -> SeccompAction {
        match a {
            Action::Allow => SeccompAction::Allow,
            Action::Log => SeccompAction::Log,
            Action::Errno(e) => SeccompAction::Errno(e),
            Action::Trap => SeccompAction::Trap,
            Action::KillThread => SeccompAction::KillThread,
            Action::KillProcess => SeccompAction::KillProcess,
        }
    }

    impl Profile {
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
                let f = SeccompFilter::new(rules, seccompiler_action(mismatch), seccompiler_action(matched), arch)
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
        use crate::confine::seccomp::tests::run;

        fn parse(text: &str) -> Result<Profile> {
            Profile::parse(text, &[], "6.18.0")
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
            let with_cap = Profile::parse(text, &["CAP_SYS_ADMIN".into()], "6.18.0").unwrap();
            assert_eq!(run(&with_cap.compile().unwrap(), 165, [0; 6]), RET_ALLOW);
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn run(prog: &BpfProgram, nr: u32, args: [u64; 6]) -> u32 {
        exec(prog, nr, args).0
    }

    /// Runs a classic BPF program on a seccomp_data for x86_64 (the few opcodes used): the
    /// verdict, and how many instructions it took.
    fn exec(prog: &BpfProgram, nr: u32, args: [u64; 6]) -> (u32, usize) {
        exec_as(prog, AUDIT_ARCH_X86_64, nr, args)
    }

    fn exec_as(prog: &BpfProgram, arch: u32, nr: u32, args: [u64; 6]) -> (u32, usize) {
        let mut data = Vec::new();
        data.extend(nr.to_le_bytes());
        data.extend(arch.to_le_bytes());
        data.extend(0u64.to_le_bytes());
        for a in args {
            data.extend(a.to_le_bytes());
        }
        let word = |k: u32| u32::from_le_bytes(data[k as usize..k as usize + 4].try_into().unwrap());
        let (mut a, mut pc, mut steps) = (0u32, 0usize, 0usize);
        loop {
            let i = &prog[pc];
            pc += 1;
            steps += 1;
            let jump = |cond: bool| if cond { i.jt as usize } else { i.jf as usize };
            match i.code {
                0x20 => a = word(i.k),
                0x54 => a &= i.k,
                0x05 => pc += i.k as usize,
                0x15 => pc += jump(a == i.k),
                0x25 => pc += jump(a > i.k),
                0x35 => pc += jump(a >= i.k),
                0x45 => pc += jump(a & i.k != 0),
                0x06 => return (i.k, steps),
                c => panic!("opcode {c:#x} at {}", pc - 1),
            }
        }
    }

    /// The checks before the rules as the earlier program made them (x86_64): the reference's.
    fn prefix() -> BpfProgram {
        use seccompiler::sock_filter as I;
        let highest = crate::confine::syscalls::highest().unwrap();
        vec![
            I { code: 0x20, jt: 0, jf: 0, k: 4 },
            I { code: 0x15, jt: 1, jf: 0, k: AUDIT_ARCH_X86_64 },
            I { code: RET, jt: 0, jf: 0, k: 0x8000_0000 },
            I { code: 0x20, jt: 0, jf: 0, k: 0 },
            I { code: 0x25, jt: 1, jf: 0, k: highest },
            I { code: 0x15, jt: 0, jf: 1, k: libc::SYS_clone3 as u32 },
            I { code: RET, jt: 0, jf: 0, k: RET_ENOSYS },
        ]
    }

    #[test]
    fn the_searched_program_gives_every_call_the_verdict_one_chain_gives() {
        for refuse_userns in [false, true] {
            let searched = builtin_program(Level::Default, refuse_userns).unwrap();
            // The same rules as one chain, behind the earlier program's prefix.
            let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
            for (_, _, calls) in DENIED {
                for (_, nr) in *calls {
                    rules.insert(*nr, vec![]);
                }
            }
            rules.insert(
                libc::SYS_ioctl,
                vec![
                    rule(vec![cond(1, Len::Dword, Op::Eq, TIOCSTI).unwrap()]).unwrap(),
                    rule(vec![cond(1, Len::Dword, Op::Eq, TIOCLINUX).unwrap()]).unwrap(),
                ],
            );
            rules.insert(
                libc::SYS_personality,
                vec![rule(vec![
                    cond(0, Len::Dword, Op::MaskedEq(ADDR_NO_RANDOMIZE), ADDR_NO_RANDOMIZE).unwrap(),
                    cond(0, Len::Dword, Op::Ne, 0xffff_ffff).unwrap(),
                ])
                .unwrap()],
            );
            if refuse_userns {
                let newuser = libc::CLONE_NEWUSER as u64;
                for nr in [libc::SYS_clone, libc::SYS_unshare] {
                    let r = rule(vec![cond(0, Len::Qword, Op::MaskedEq(newuser), newuser).unwrap()]).unwrap();
                    rules.insert(nr, vec![r]);
                }
            }
            let filter = SeccompFilter::new(
                rules,
                SeccompAction::Allow,
                SeccompAction::Errno(libc::EPERM as u32),
                arch().unwrap(),
            )
            .unwrap();
            let mut chain = prefix();
            chain.extend(BpfProgram::try_from(filter).unwrap());
            let args = [
                [0u64; 6],
                [0, TIOCSTI, 0, 0, 0, 0],
                [0, TIOCLINUX, 0, 0, 0, 0],
                [0, 0x5401, 0, 0, 0, 0],
                [ADDR_NO_RANDOMIZE, 0, 0, 0, 0, 0],
                [0xffff_ffff, 0, 0, 0, 0, 0],
                [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0],
                [(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64, 0, 0, 0, 0, 0],
                // High words: ioctl's request and personality compare their low 32 bits only.
                [1 << 40 | libc::CLONE_NEWUSER as u64, 1 << 32 | TIOCSTI, 0, 0, 0, 0],
                [1 << 32 | ADDR_NO_RANDOMIZE, 1 << 33, 0, 0, 0, 0],
                [u64::MAX; 6],
            ];
            let mut denied = 0;
            for nr in 0..=470u32 {
                for a in args {
                    let want = run(&chain, nr, a);
                    assert_eq!(run(&searched, nr, a), want, "syscall {nr} args {a:?}");
                    denied += usize::from(want == RET_EPERM);
                }
            }
            assert!(denied > 35 * args.len(), "the rules refuse what they should ({denied})");
        }
        // A call takes one comparison per level of the search, not one per rule: the kernel's
        // emulation of the program for each syscall number at load time is what this saves.
        let p = builtin_program(Level::Default, true).unwrap();
        let steps: Vec<usize> = (0..=470).map(|nr| exec(&p, nr, [0; 6]).1).collect();
        let (worst, all) = (steps.iter().max().copied().unwrap_or(0), steps.iter().sum::<usize>());
        // A constant verdict: the architecture, the number and the search; the calls whose
        // arguments matter walk their own rules after it.
        assert!(all < 12 * steps.len(), "{all} steps over {} numbers", steps.len());
        assert!(worst <= 24, "a call walks up to {worst} instructions");
    }

    #[test]
    fn every_level_kills_a_foreign_architecture_and_refuses_unknown_numbers_and_clone3() {
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        const KILL_PROCESS: u32 = 0x8000_0000;
        let refused = |p: &BpfProgram| (0..=469).filter(|nr| run(p, *nr, [0; 6]) == RET_EPERM).count();
        for level in [Level::Bare, Level::Floor, Level::Default] {
            for userns in [false, true] {
                let p = builtin_program(level, userns).unwrap();
                for nr in [0, 1, 59, 435, 469, 470] {
                    assert_eq!(exec_as(&p, AUDIT_ARCH_I386, nr, [0; 6]).0, KILL_PROCESS, "{level:?} i386 {nr}");
                }
                for nr in [libc::SYS_clone3 as u32, 470, 1000, 0x4000_0000, 0x4000_0001] {
                    assert_eq!(run(&p, nr, [0; 6]), RET_ENOSYS, "{level:?}: syscall {nr}");
                }
                assert_eq!(run(&p, libc::SYS_read as u32, [0; 6]), RET_ALLOW, "{level:?}");
                let highest = crate::confine::syscalls::highest().unwrap_or(0);
                assert_ne!(run(&p, highest, [0; 6]), RET_ENOSYS, "{level:?}: the highest known number");
            }
        }
        let (bare, floor, default) = (
            builtin_program(Level::Bare, false).unwrap(),
            builtin_program(Level::Floor, false).unwrap(),
            builtin_program(Level::Default, false).unwrap(),
        );
        assert_eq!(refused(&bare), 0);
        assert!(0 < refused(&floor) && refused(&floor) < refused(&default));
        assert!(default.len() < 200, "{} instructions", default.len());
    }

    #[test]
    fn off_keeps_only_the_user_namespace_rule() {
        let plan = Plan { policy: Policy::Off, refuse_userns: true, fds: vec![], report_denials: false };
        assert_eq!(compile(&plan, None).unwrap().list.len(), 1);
        let plan = Plan { policy: Policy::Off, refuse_userns: false, fds: vec![], report_denials: false };
        assert!(compile(&plan, None).unwrap().list.is_empty());
        assert!(builtin(&plan).unwrap().is_none());
    }
}
