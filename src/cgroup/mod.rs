//! cgroup v2 limits and usage. jail asks the caller's systemd user manager for a transient
//! scope with the limits as unit properties (`systemd`), or, inside a delegated subtree it may
//! write, creates the cgroups itself (`fs`). Either way it then reads every limit back from the
//! cgroup files: systemd silently ignores limits on controllers it was not delegated.
//!
//! Layout: `<scope>/supervisor` holds jail, `<scope>/payload` the sandbox (cgroup v2 allows
//! processes only in leaves once controllers are enabled below a cgroup). Limits sit on the
//! scope, so they cover both; usage is read from `payload`.

pub mod fs;
pub mod stats;
pub mod systemd;

use std::path::PathBuf;

use anyhow::Result;

pub use crate::spec::limits::{Limits, Plan};

/// A live cgroup for one sandbox; removed (or left to systemd to remove) when dropped.
pub struct Cgroup {
    /// The scope (or jail's own cgroup under a delegated subtree).
    pub dir: PathBuf,
    pub backend: &'static str,
    pub unit: Option<String>,
    owns_dir: bool,
}

impl Cgroup {
    pub fn payload(&self) -> PathBuf {
        self.dir.join("payload")
    }

    pub fn leave_payload(&self) -> Result<()> {
        fs::move_self(&self.dir.join("supervisor"))
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // jail itself still sits in supervisor, so only payload can go now; systemd removes the
        // scope once jail exits. A directory jail made itself in a delegated subtree is
        // removed by moving jail back out first.
        let _ = std::fs::remove_dir(self.payload());
        if self.owns_dir {
            if let Some(parent) = self.dir.parent() {
                let _ = fs::move_self(parent);
            }
            let _ = std::fs::remove_dir(self.dir.join("supervisor"));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Creates the cgroup for `plan` (with jail already inside, in `payload`).
pub fn setup(plan: &Plan) -> Result<Cgroup> {
    let root = fs::unified_root()?;
    // The D-Bus client finds the same bus (the session address, else $XDG_RUNTIME_DIR/bus).
    if systemd::user_bus().is_some() {
        return systemd::start(plan, &root);
    }
    fs::delegated(plan, &root).map_err(|e| {
        anyhow::anyhow!(
            "{e:#}; and no systemd user manager to ask (no $DBUS_SESSION_BUS_ADDRESS, no $XDG_RUNTIME_DIR/bus): \
             limits need a user session (loginctl enable-linger $USER) or a delegated cgroup"
        )
    })
}
