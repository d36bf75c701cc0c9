//! The Landlock part of the plan: the mode, one rule per mount, TCP ports, and what the
//! running kernel cannot enforce of it. Executed by `confine::landlock`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{BindMode, FsOp, FsStep};

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
    /// The running kernel's Landlock ABI, from the host probe (0: none).
    #[serde(skip)]
    pub kernel_abi: i32,
    pub rules: Vec<Rule>,
    /// `Some`: TCP connect/bind restricted to these ports.
    pub connect: Option<Vec<u16>>,
    pub bind: Option<Vec<u16>>,
}

/// Rules for the sandbox's final filesystem, one per mount the plan makes.
pub fn rules_for(fs: &[FsStep]) -> Vec<Rule> {
    let mut rules = Vec::new();
    let root_mounted = fs.iter().any(|s| {
        matches!(s.op, FsOp::Bind { .. } | FsOp::Tmpfs { .. } | FsOp::Overlay { .. })
            && super::same_path(s.op.dest(), Path::new("/"))
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
            FsOp::Overlay { upper: super::OverlayUpper::ReadOnly, .. } => Grant::Read,
            FsOp::Overlay { .. } => Grant::ReadWrite,
            FsOp::BindData { readonly, .. } | FsOp::BindFd { readonly, .. } => {
                if *readonly {
                    Grant::Read
                } else {
                    Grant::ReadWrite
                }
            }
            FsOp::RemountRo { .. }
            | FsOp::Protect { .. }
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

/// What this kernel cannot enforce of the plan, for `--dry-run` and `-v`.
pub fn missing(plan: &Plan) -> Vec<&'static str> {
    let abi = plan.kernel_abi;
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
}
