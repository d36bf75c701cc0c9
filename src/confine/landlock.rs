//! Landlock, derived from the plan: read-only where the mounts are read-only, read-write for
//! writable binds and tmpfs, device ioctls only where `--dev`/`--dev-bind` put devices; TCP
//! ports when asked; abstract unix sockets and signals scoped to the sandbox. The kernel's ABI
//! decides what can be enforced: best effort says what was not, strict refuses to run.

pub use crate::spec::landlock::{missing, Grant, Mode, Plan};
use anyhow::{anyhow, bail, Result};
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

/// The newest ABI whose rights jail asks for; older kernels get a subset (best effort).
const TARGET: ABI = ABI::V6;

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

    #[test]
    fn read_grants_no_write_and_devices_only_where_asked() {
        assert!(!fs_access(Grant::Read).contains(AccessFs::WriteFile));
        assert!(!fs_access(Grant::ReadWrite).contains(AccessFs::IoctlDev));
        assert!(fs_access(Grant::Devices).contains(AccessFs::IoctlDev));
    }
}
