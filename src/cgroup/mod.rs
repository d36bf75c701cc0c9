//! cgroup v2 limits and usage. jail asks the caller's systemd user manager for a transient
//! scope with the limits as unit properties (`systemd`), or, inside a delegated subtree it may
//! write, creates the cgroups itself (`fs`). Either way it then reads every limit back from the
//! cgroup files: systemd silently ignores limits on controllers it was not delegated.
//!
//! Layout: `<scope>/supervisor` holds jail, `<scope>/payload` the sandbox (cgroup v2 allows
//! processes only in leaves once controllers are enabled below a cgroup). Scope-level limits
//! cover both; the CPU quota sits on `payload` and is written once the sandbox is built, so
//! jail's own setup never waits for it. Then the sandbox's first process, init from there on,
//! joins jail in `supervisor`: the command's process, forked by then, stays in `payload` with
//! everything it starts, and the quota and the usage read from `payload` are the command's
//! alone. (init only waits and reaps: under the quota its exit could end a launch a whole
//! period later, measured in the test VM.)
//!
//! The order overlaps the manager's work with the sandbox's: [`prepare`] checks what needs no
//! sandbox and connects to the manager, the sandbox is cloned, [`Backend::start`] sends the
//! request (one write; the sandbox's setup runs meanwhile), [`Cgroup::ready`] waits for jail
//! and the sandbox to be in the scope and lays out the leaves, and
//! [`Cgroup::apply_after_setup`] sets the rest.

mod dbus;
pub mod fs;
pub mod stats;
pub mod systemd;

use std::path::{Path, PathBuf};

use anyhow::Result;
use nix::unistd::Pid;

use crate::spec::limits::Level;
pub use crate::spec::limits::{Limits, Plan};

/// How this host gives jail a cgroup, found before the sandbox exists.
pub enum Backend {
    /// A transient scope from the systemd user manager, connected to already.
    Systemd { root: PathBuf, manager: systemd::Manager },
    /// A subtree delegated to this user, below jail's own cgroup.
    Delegated { own: PathBuf },
}

/// Finds the backend and checks what can be checked before the sandbox exists; a user manager
/// is connected to now, so that its answer to the authentication is on its way during the clone.
pub fn prepare(plan: &Plan) -> Result<Backend> {
    let root = fs::unified_root()?;
    // The manager's own socket, else the user bus (the session address, else $XDG_RUNTIME_DIR/bus).
    let routes = systemd::user_manager();
    if !routes.is_empty() {
        return Ok(Backend::Systemd { root, manager: systemd::connect(routes)? });
    }
    fs::check_delegated(plan, &root).map(|own| Backend::Delegated { own }).map_err(|e| {
        anyhow::anyhow!(
            "{e:#}; and no systemd user manager to ask ({}): \
             limits need a user session (loginctl enable-linger $USER) or a delegated cgroup",
            systemd::WHERE_LOOKED
        )
    })
}

impl Backend {
    /// Starts getting the cgroup for jail and the sandbox (`child`, cloned and waiting). The
    /// caller keeps the result until the sandbox is reaped, also when a later step fails, so
    /// that what was made can be removed.
    pub fn start(self, plan: &Plan, child: Pid) -> Result<Cgroup> {
        let jail = std::process::id();
        let (backend, unit, via, pending) = match self {
            Backend::Systemd { root, manager } => {
                let unit = format!("jail-{jail}.scope");
                let via = manager.route.clone();
                let answer = systemd::request(manager, plan, &[jail, child.as_raw() as u32], &unit)?;
                ("systemd", Some(unit), Some(via), Pending::Systemd { root, answer })
            }
            Backend::Delegated { own } => ("cgroupfs", None, None, Pending::Delegated { own }),
        };
        let steps = vec![("request", std::time::Instant::now())];
        Ok(Cgroup { dir: None, backend, unit, via, owns_dir: false, child, pending: Some(pending), steps })
    }
}

/// What [`Cgroup::ready`] still has to do.
enum Pending {
    /// Wait for the manager's answer, then for jail and the sandbox to be in the scope.
    Systemd { root: PathBuf, answer: systemd::Answer },
    /// Make `<own>/jail-PID` and write the limits there.
    Delegated { own: PathBuf },
}

/// A live cgroup for one sandbox; removed (or left to systemd to remove) when dropped.
pub struct Cgroup {
    /// The scope (or jail's own cgroup under a delegated subtree), once known.
    dir: Option<PathBuf>,
    pub backend: &'static str,
    pub unit: Option<String>,
    /// Where the request went (the manager's socket or the bus).
    pub via: Option<systemd::Route>,
    owns_dir: bool,
    child: Pid,
    pending: Option<Pending>,
    /// Where the time went, for `-v`: (step, when it ended).
    pub steps: Vec<(&'static str, std::time::Instant)>,
}

impl Cgroup {
    /// The scope's directory.
    pub fn dir(&self) -> &Path {
        self.dir.as_deref().unwrap_or(Path::new("/nonexistent"))
    }

    pub fn payload(&self) -> PathBuf {
        self.dir().join("payload")
    }

    /// jail's leaf, and init's once the command's process is forked.
    pub fn supervisor(&self) -> PathBuf {
        self.dir().join("supervisor")
    }

    /// Waits until jail and the sandbox are in their leaves of the cgroup, with every
    /// scope-level limit read back.
    pub fn ready(&mut self, limits: &Limits) -> Result<()> {
        match self.pending.take() {
            Some(Pending::Systemd { root, answer }) => {
                let unit = self.unit.clone().unwrap_or_default();
                answer.wait(&unit)?;
                self.step("job done");
                self.dir = Some(systemd::wait_until_moved(&root, &unit, self.child)?);
                self.step("in the scope");
                fs::lay_out(&mut fs::Real, self, limits)?;
                self.step("leaves made");
                Ok(())
            }
            Some(Pending::Delegated { own }) => {
                self.dir = Some(own.join(format!("jail-{}", std::process::id())));
                self.owns_dir = true;
                fs::delegate_into(&mut fs::Real, self, &own, limits)?;
                self.step("leaves made");
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The limits that must not hold during setup (the CPU quota), on the payload leaf, read
    /// back; then init out of it. Called once the sandbox is built and the command's process
    /// forked, before its command runs.
    pub fn apply_after_setup(&mut self, limits: &Limits) -> Result<()> {
        self.apply_after_setup_with(&mut fs::Real, limits)?;
        self.step("payload limits set");
        Ok(())
    }

    fn apply_after_setup_with(&self, files: &mut impl fs::Files, limits: &Limits) -> Result<()> {
        let payload = self.payload();
        for (file, value) in limits.files_to_write(Level::Payload) {
            files.write(&payload.join(file), &value)?;
        }
        fs::verify(files, &payload, limits, Level::Payload)?;
        fs::move_process(files, &self.supervisor(), self.child)
    }

    fn step(&mut self, name: &'static str) {
        self.steps.push((name, std::time::Instant::now()));
    }

    /// `-v`'s account of the steps: each with the milliseconds since the one before.
    pub fn timeline(&self) -> String {
        let mut out = Vec::new();
        for w in self.steps.windows(2) {
            out.push(format!("{} +{:.1} ms", w[1].0, (w[1].1 - w[0].1).as_secs_f64() * 1e3));
        }
        out.join(", ")
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let Some(dir) = &self.dir else { return };
        // jail itself still sits in supervisor, so only payload can go now; systemd removes the
        // scope once jail exits. A directory jail made itself in a delegated subtree is
        // removed by moving jail back out first.
        let _ = std::fs::remove_dir(self.payload());
        if self.owns_dir {
            if let Some(parent) = dir.parent() {
                let _ = fs::move_self(&mut fs::Real, parent);
            }
            let _ = std::fs::remove_dir(self.supervisor());
            let _ = std::fs::remove_dir(dir);
        }
    }
}
