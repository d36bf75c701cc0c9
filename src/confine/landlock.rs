//! Landlock, derived from the plan: read-only where the mounts are read-only, read-write for
//! writable binds and tmpfs, device ioctls only where `--dev`/`--dev-bind` put devices; TCP
//! ports when asked; abstract unix sockets and signals scoped to the sandbox. The kernel's ABI
//! decides what can be enforced: best effort says what was not, strict refuses to run.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use serde::Serialize;

use crate::spec::{BindMode, FsOp, FsStep};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Off,
    BestEffort,
    Strict,
}

/// What a rule grants beneath its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grant {
    /// Read and execute.
    Read,
    /// Everything but device ioctls.
    ReadWrite,
    /// Everything, device ioctls included.
    Devices,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub path: PathBuf,
    pub grant: Grant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub mode: Mode,
    pub rules: Vec<Rule>,
    /// `Some`: TCP connect/bind restricted to these ports.
    pub connect: Option<Vec<u16>>,
    pub bind: Option<Vec<u16>>,
}

/// The newest ABI whose rights jail asks for; older kernels get a subset (best effort).
const TARGET: ABI = ABI::V6;

/// Rules for the sandbox's final filesystem, one per mount the plan makes.
pub fn rules_for(fs: &[FsStep]) -> Vec<Rule> {
    let mut rules = Vec::new();
    let root_mounted = fs.iter().any(|s| {
        matches!(s.op, FsOp::Bind { .. } | FsOp::Tmpfs { .. }) && crate::spec::same_path(s.op.dest(), Path::new("/"))
    });
    if !root_mounted {
        // The root is jail's own tmpfs.
        rules.push(Rule { path: "/".into(), grant: Grant::ReadWrite });
    }
    for s in fs {
        let grant = match &s.op {
            FsOp::Bind { mode: BindMode::ReadOnly, .. } => Grant::Read,
            FsOp::Bind { mode: BindMode::ReadWrite, .. } => Grant::ReadWrite,
            FsOp::Bind { mode: BindMode::Devices, .. } | FsOp::Dev { .. } => Grant::Devices,
            FsOp::Tmpfs { .. } | FsOp::Mqueue { .. } | FsOp::Proc { .. } => Grant::ReadWrite,
            FsOp::BindData { readonly, .. } => {
                if *readonly {
                    Grant::Read
                } else {
                    Grant::ReadWrite
                }
            }
            FsOp::RemountRo { .. }
            | FsOp::Dir { .. }
            | FsOp::Symlink { .. }
            | FsOp::File { .. }
            | FsOp::Chmod { .. } => continue,
        };
        let path = Path::new("/").join(s.op.dest());
        rules.push(Rule { path, grant });
    }
    rules
}

/// The Landlock ABI of the running kernel (0 when unavailable).
pub fn kernel_abi() -> i32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) only queries.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    if v < 0 {
        0
    } else {
        v as i32
    }
}

/// What this kernel cannot enforce of the plan, for `--dry-run` and `-v`.
pub fn missing(plan: &Plan) -> Vec<&'static str> {
    let abi = kernel_abi();
    let mut v = Vec::new();
    if abi < 1 {
        v.push("Landlock (not enabled in this kernel)");
        return v;
    }
    if abi < 2 {
        v.push("cross-directory rename/link control (ABI 2)");
    }
    if abi < 3 {
        v.push("truncate control (ABI 3)");
    }
    if abi < 4 && (plan.connect.is_some() || plan.bind.is_some()) {
        v.push("TCP port rules (ABI 4)");
    }
    if abi < 5 {
        v.push("device ioctl control (ABI 5)");
    }
    if abi < 6 {
        v.push("abstract unix socket and signal scoping (ABI 6)");
    }
    v
}

fn fs_access(grant: Grant) -> BitFlags<AccessFs> {
    match grant {
        Grant::Read => AccessFs::from_read(TARGET),
        Grant::ReadWrite => AccessFs::from_all(TARGET) & !AccessFs::IoctlDev,
        Grant::Devices => AccessFs::from_all(TARGET),
    }
}

/// Builds the ruleset; `restrict` then enforces it on the calling thread (and its children).
pub fn prepare(plan: &Plan) -> Result<Option<RulesetCreated>> {
    if plan.mode == Mode::Off {
        return Ok(None);
    }
    let level = if plan.mode == Mode::Strict { CompatLevel::HardRequirement } else { CompatLevel::BestEffort };
    let err = |what: &str, e: &dyn std::fmt::Display| anyhow!("landlock: {what}: {e}");
    let mut rs = Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(TARGET))
        .map_err(|e| err("handle filesystem access", &e))?
        .scope(Scope::from_all(TARGET))
        .map_err(|e| err("scope", &e))?;
    if plan.connect.is_some() || plan.bind.is_some() {
        let mut net = BitFlags::<AccessNet>::empty();
        if plan.connect.is_some() {
            net |= AccessNet::ConnectTcp;
        }
        if plan.bind.is_some() {
            net |= AccessNet::BindTcp;
        }
        rs = rs.handle_access(net).map_err(|e| err("handle network access", &e))?;
    }
    let mut created = rs.create().map_err(|e| err("create ruleset", &e))?;
    for rule in &plan.rules {
        let fd = match PathFd::new(&rule.path) {
            Ok(fd) => fd,
            // An optional bind whose source was missing leaves nothing to grant.
            Err(_) if !rule.path.exists() => continue,
            Err(e) => return Err(err(&format!("open {}", rule.path.display()), &e)),
        };
        let mut access = fs_access(rule.grant);
        if !rule.path.is_dir() {
            access &= AccessFs::from_file(TARGET);
        }
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| err(&format!("rule for {}", rule.path.display()), &e))?;
    }
    for port in plan.connect.iter().flatten() {
        created = created.add_rule(NetPort::new(*port, AccessNet::ConnectTcp)).map_err(|e| err("connect rule", &e))?;
    }
    for port in plan.bind.iter().flatten() {
        created = created.add_rule(NetPort::new(*port, AccessNet::BindTcp)).map_err(|e| err("bind rule", &e))?;
    }
    Ok(Some(created))
}

/// Enforces a prepared ruleset. Best effort returns what the kernel could not enforce.
pub fn restrict(created: RulesetCreated, plan: &Plan) -> Result<Vec<&'static str>> {
    let status = created.restrict_self().map_err(|e| anyhow!("landlock: restrict_self: {e}"))?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => Ok(Vec::new()),
        _ if plan.mode == Mode::Strict => {
            bail!("--landlock=strict: the kernel cannot enforce every rule (Landlock ABI {})", kernel_abi())
        }
        _ => Ok(missing(plan)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(op: FsOp) -> FsStep {
        FsStep { op, added: None }
    }

    #[test]
    fn rules_follow_the_mounts() {
        let fs = vec![
            step(FsOp::Bind { src: "/r".into(), dest: "/".into(), mode: BindMode::ReadOnly, optional: false }),
            step(FsOp::Tmpfs { dest: "/tmp".into(), size: None, perms: 0o1777 }),
            step(FsOp::Dev { dest: "/dev".into() }),
            step(FsOp::Dir { dest: "/x".into(), perms: None }),
        ];
        let r = rules_for(&fs);
        assert_eq!(
            r,
            vec![
                Rule { path: "/".into(), grant: Grant::Read },
                Rule { path: "/tmp".into(), grant: Grant::ReadWrite },
                Rule { path: "/dev".into(), grant: Grant::Devices },
            ]
        );
    }

    #[test]
    fn an_unmounted_root_is_jails_writable_tmpfs() {
        let fs = vec![step(FsOp::Bind {
            src: "/usr".into(),
            dest: "usr".into(),
            mode: BindMode::ReadOnly,
            optional: false,
        })];
        let r = rules_for(&fs);
        assert_eq!(r[0], Rule { path: "/".into(), grant: Grant::ReadWrite });
        assert_eq!(r[1], Rule { path: "/usr".into(), grant: Grant::Read });
    }

    #[test]
    fn read_grants_no_write_and_devices_only_where_asked() {
        assert!(!fs_access(Grant::Read).contains(AccessFs::WriteFile));
        assert!(!fs_access(Grant::ReadWrite).contains(AccessFs::IoctlDev));
        assert!(fs_access(Grant::Devices).contains(AccessFs::IoctlDev));
    }
}
