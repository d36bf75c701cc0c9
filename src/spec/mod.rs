//! The plan: everything jail will do, as plain data. Built from the CLI by [`Spec::from_request`]
//! (where every "X requires Y" check lives), printed by `--dry-run`, executed by `launch`.

pub mod caps;
mod defaults;
pub mod landlock;
pub mod limits;
pub mod seccomp;
pub mod syscalls;
pub use defaults::same_path;
mod idmap;
pub mod render;

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

pub use idmap::{parse_subrange as idmap_range, IdMap};
pub use landlock::Mode as LandlockMode;

/// Which namespaces are new. User and mount namespaces are always new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Namespaces {
    pub pid: bool,
    pub net: bool,
    pub ipc: bool,
    pub uts: bool,
    pub cgroup: bool,
}

impl Namespaces {
    pub fn clone_flags(&self) -> libc::c_int {
        let mut f = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;
        for (on, flag) in [
            (self.pid, libc::CLONE_NEWPID),
            (self.net, libc::CLONE_NEWNET),
            (self.ipc, libc::CLONE_NEWIPC),
            (self.uts, libc::CLONE_NEWUTS),
            (self.cgroup, libc::CLONE_NEWCGROUP),
        ] {
            if on {
                f |= flag;
            }
        }
        f
    }
}

/// How a bind mount treats what it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindMode {
    /// Writable; no devices, no setuid.
    ReadWrite,
    /// Read-only all the way down; no devices, no setuid.
    ReadOnly,
    /// Writable, device nodes usable; no setuid.
    Devices,
}

/// One filesystem step. Steps run in command-line order: order is semantics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum FsOp {
    Bind {
        src: PathBuf,
        dest: PathBuf,
        mode: BindMode,
        optional: bool,
    },
    RemountRo {
        dest: PathBuf,
    },
    Tmpfs {
        dest: PathBuf,
        size: Option<u64>,
        perms: u32,
    },
    /// A fresh procfs; the host's `/proc` bound when the pid namespace is shared.
    Proc {
        dest: PathBuf,
    },
    Dev {
        dest: PathBuf,
    },
    Mqueue {
        dest: PathBuf,
    },
    Dir {
        dest: PathBuf,
        perms: Option<u32>,
    },
    Symlink {
        target: PathBuf,
        dest: PathBuf,
    },
    File {
        fd: RawFd,
        dest: PathBuf,
        perms: u32,
    },
    BindData {
        fd: RawFd,
        dest: PathBuf,
        perms: u32,
        readonly: bool,
    },
    Chmod {
        path: PathBuf,
        perms: u32,
    },
}

impl FsOp {
    /// Where the step puts something, inside the sandbox.
    pub fn dest(&self) -> &Path {
        match self {
            FsOp::Bind { dest, .. }
            | FsOp::RemountRo { dest }
            | FsOp::Tmpfs { dest, .. }
            | FsOp::Proc { dest }
            | FsOp::Dev { dest }
            | FsOp::Mqueue { dest }
            | FsOp::Dir { dest, .. }
            | FsOp::Symlink { dest, .. }
            | FsOp::File { dest, .. }
            | FsOp::BindData { dest, .. } => dest,
            FsOp::Chmod { path, .. } => path,
        }
    }
}

/// A step and, for steps jail added itself, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsStep {
    #[serde(flatten)]
    pub op: FsOp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added: Option<&'static str>,
}

/// The sandbox's environment: the final variables, and what the command line changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Env {
    pub cleared: bool,
    pub set: Vec<(String, String)>,
    pub unset: Vec<String>,
    #[serde(skip)]
    pub vars: Vec<(OsString, OsString)>,
}

impl Env {
    /// PATH as the sandbox sees it, for looking up the command.
    pub fn path(&self) -> OsString {
        self.vars
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"))
    }
}

/// What the plan needs to know of the host and the caller, gathered once before it is made
/// (`host::probe`), so that making the plan from a request is testable with any host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// The running kernel's Landlock ABI (0: none).
    pub landlock_abi: i32,
    /// `uname -r`, for profile rules with a minimum kernel.
    pub kernel_release: String,
    /// The caller's working directory.
    pub cwd: PathBuf,
    /// `$HOME`, when it is an absolute path other than `/`.
    pub home: Option<PathBuf>,
    /// The caller's effective uid and gid.
    pub uid: u32,
    pub gid: u32,
    /// The caller's environment.
    pub env: Vec<(OsString, OsString)>,
}

/// What the command line asked for, after parsing and before any check or default.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub share_net: bool,
    pub share_ipc: bool,
    pub share_uts: bool,
    pub share_pid: bool,
    pub share_cgroup: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub map_subids: bool,
    /// Filesystem steps in argv order, with the flag spelling for messages.
    pub fs: Vec<(String, FsOp)>,
    pub hostname: Option<String>,
    pub chdir: Option<PathBuf>,
    pub clearenv: bool,
    /// `Some(value)` sets, `None` unsets; argv order.
    pub env: Vec<(String, Option<String>)>,
    pub argv0: Option<OsString>,
    pub as_pid_1: bool,
    pub new_session: bool,
    /// `(add, name)` in argv order; name is `ALL` or a capability.
    pub caps: Vec<(bool, String)>,
    pub landlock: Option<LandlockMode>,
    pub allow_connect: Vec<u16>,
    pub allow_bind: Vec<u16>,
    pub seccomp_policy: Option<String>,
    /// `--seccomp FD`: this program instead of the built-in policy.
    pub seccomp_fd: Option<RawFd>,
    pub add_seccomp_fds: Vec<RawFd>,
    /// `--disable-userns` (jail's default anyway) and `--allow-userns`.
    pub disable_userns: bool,
    pub allow_userns: bool,
    pub verbose: bool,
    pub limits: limits::Limits,
    pub slice: Option<String>,
    pub timeout: Option<std::time::Duration>,
    pub stats: bool,
    pub stats_fd: Option<RawFd>,
    pub command: Vec<OsString>,
}

/// The validated plan.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    pub namespaces: Namespaces,
    pub uid: u32,
    pub gid: u32,
    pub uid_map: IdMap,
    pub gid_map: IdMap,
    pub fs: Vec<FsStep>,
    pub hostname: Option<String>,
    /// `None`: the caller's directory if it exists inside, else `/`.
    pub chdir: Option<PathBuf>,
    pub caller_cwd: PathBuf,
    pub env: Env,
    pub argv: Vec<String>,
    #[serde(skip)]
    pub argv_os: Vec<OsString>,
    /// Shown as text; the bytes given are what the command gets (`argv0_os`).
    pub argv0: Option<String>,
    #[serde(skip)]
    pub argv0_os: Option<OsString>,
    pub as_pid_1: bool,
    pub new_session: bool,
    /// Capabilities the command keeps (names, sorted); empty by default.
    pub caps: Vec<String>,
    pub landlock: landlock::Plan,
    pub seccomp: seccomp::Plan,
    /// Say on stderr what could not be enforced.
    #[serde(skip)]
    pub verbose: bool,
    /// cgroup limits, when any were asked for.
    pub cgroup: Option<limits::Plan>,
    #[serde(serialize_with = "serialize_secs")]
    pub timeout: Option<std::time::Duration>,
    pub stats: bool,
    pub stats_fd: Option<RawFd>,
}

impl Spec {
    pub fn from_request(mut req: Request, host: &Host) -> Result<Spec> {
        let namespaces = Namespaces {
            pid: !req.share_pid,
            net: !req.share_net,
            ipc: !req.share_ipc,
            uts: !req.share_uts,
            cgroup: !req.share_cgroup,
        };
        if req.hostname.is_some() && !namespaces.uts {
            bail!("--hostname requires a new uts namespace: drop --share-uts");
        }
        if let Some(name) = &req.hostname {
            if name.is_empty() || name.len() > 64 {
                bail!("--hostname {name:?}: a hostname has 1 to 64 bytes, not {}", name.len());
            }
        }
        if req.as_pid_1 && !namespaces.pid {
            bail!("--as-pid-1 requires a new pid namespace: drop --share-pid");
        }
        if req.command.is_empty() {
            bail!("no command given: usage: jail [OPTIONS] [--] COMMAND [ARGS...]");
        }
        let cwd = host.cwd.clone();

        let mut steps = Vec::with_capacity(req.fs.len() + 8);
        let caps = caps::resolve(&req.caps)?;
        let seccomp = seccomp_plan(&req, &caps, host)?;
        let cgroup = cgroup_plan(&req)?;
        if let Some(fd) = req.stats_fd {
            check_fd("--stats-json", fd)?;
        }
        for (flag, op) in std::mem::take(&mut req.fs) {
            let op = check_op(&flag, op, &cwd, &namespaces)?;
            match &op {
                FsOp::File { fd, .. } | FsOp::BindData { fd, .. } => {
                    check_fd(&flag, *fd)?;
                }
                _ => {}
            }
            steps.push(FsStep { op, added: None });
        }
        let (fs, note) = defaults::complete(steps, &cwd, host.home.as_deref());
        check_tree_at_root(&fs)?;
        if let Some(note) = note {
            eprintln!("jail: {note}");
        }

        let (caller_uid, caller_gid) = (host.uid, host.gid);
        let uid = req.uid.unwrap_or(caller_uid);
        let gid = req.gid.unwrap_or(caller_gid);
        let (uid_map, gid_map) = if req.map_subids {
            idmap::with_subids(uid, gid, caller_uid, caller_gid)?
        } else {
            (IdMap::single(uid, caller_uid), IdMap::single(gid, caller_gid))
        };

        let env = build_env(req.clearenv, &req.env, &host.env);
        let landlock = landlock::Plan {
            mode: req.landlock.unwrap_or(LandlockMode::BestEffort),
            kernel_abi: host.landlock_abi,
            rules: landlock::rules_for(&fs),
            connect: (!req.allow_connect.is_empty()).then(|| req.allow_connect.clone()),
            bind: (!req.allow_bind.is_empty()).then(|| req.allow_bind.clone()),
        };
        if landlock.mode == LandlockMode::Off && (landlock.connect.is_some() || landlock.bind.is_some()) {
            bail!("--allow-connect/--allow-bind need Landlock: drop --landlock=off");
        }
        Ok(Spec {
            namespaces,
            uid,
            gid,
            uid_map,
            gid_map,
            fs,
            hostname: req.hostname,
            chdir: req.chdir,
            caller_cwd: cwd,
            env,
            argv: req.command.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
            argv_os: req.command,
            argv0: req.argv0.as_ref().map(|a| a.to_string_lossy().into_owned()),
            argv0_os: req.argv0,
            as_pid_1: req.as_pid_1,
            new_session: req.new_session,
            caps,
            landlock,
            seccomp,
            verbose: req.verbose,
            cgroup,
            timeout: req.timeout,
            stats: req.stats,
            stats_fd: req.stats_fd,
        })
    }
}

fn serialize_secs<S: serde::Serializer>(d: &Option<std::time::Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

fn cgroup_plan(req: &Request) -> Result<Option<limits::Plan>> {
    let mut limits = req.limits.clone();
    if limits.mem.is_some() && limits.swap.is_none() {
        limits.swap = Some(0);
    }
    if let Some(c) = &limits.cpuset {
        limits::cpu_mask(c)?;
    }
    if !limits.any() {
        if req.slice.is_some() {
            bail!("--slice needs a limit (--mem, --cpu, --pids, ...)");
        }
        return Ok(None);
    }
    let slice = req.slice.clone().unwrap_or_else(|| "jail.slice".into());
    if !slice.ends_with(".slice") || slice.contains('/') {
        bail!("--slice {slice}: not a slice unit name like jail.slice");
    }
    Ok(Some(limits::Plan { limits, slice }))
}

fn seccomp_plan(req: &Request, caps: &[String], host: &Host) -> Result<seccomp::Plan> {
    use seccomp::{profile::Profile, Plan, Policy};
    let policy = match (req.seccomp_policy.as_deref(), req.seccomp_fd) {
        (Some(_), Some(_)) => bail!("--seccomp FD replaces the built-in policy: drop --seccomp-policy or --seccomp"),
        (None, Some(_)) => Policy::Replaced,
        (Some("off"), None) => Policy::Off,
        (None | Some("default"), None) => Policy::Default,
        (Some(file), None) => {
            let path = PathBuf::from(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("--seccomp-policy {file}: {}", crate::error::errno_text(errno_of(&e))))?;
            let profile = Profile::parse(&text, caps, &host.kernel_release)
                .map_err(|e| anyhow::anyhow!("--seccomp-policy {file}: {e:#}"))?;
            if !profile.unknown_allowed.is_empty() {
                eprintln!(
                    "jail: --seccomp-policy {file}: not syscalls of this build, their allow rules skipped \
                     (calls newer than it get ENOSYS): {}",
                    profile.unknown_allowed.join(", ")
                );
            }
            Policy::Profile { path, profile }
        }
    };
    if req.allow_userns && req.disable_userns {
        bail!("--allow-userns contradicts --disable-userns: pick one");
    }
    let mut fds: Vec<RawFd> = req.seccomp_fd.into_iter().collect();
    fds.extend(&req.add_seccomp_fds);
    for fd in &fds {
        check_fd("--seccomp", *fd)?;
    }
    Ok(Plan { policy, refuse_userns: !req.allow_userns, fds })
}

/// A read-only tree at `/` must already hold the directories of the mounts jail adds there:
/// nothing can create them. Said now, naming the tree, rather than as a failed mkdirat of an
/// option the user never typed.
fn check_tree_at_root(fs: &[FsStep]) -> Result<()> {
    let Some(FsOp::Bind { src, mode: BindMode::ReadOnly, .. }) =
        fs.iter().rev().find(|s| same_path(s.op.dest(), Path::new("/"))).map(|s| &s.op)
    else {
        return Ok(());
    };
    for step in fs.iter().filter(|s| s.added == Some(defaults::TREE_AT_ROOT)) {
        let dest = step.op.dest();
        let inside = src.join(dest.strip_prefix("/").unwrap_or(dest));
        if !inside.is_dir() {
            bail!(
                "--ro-bind {} /: the tree has no {} for the {} that jail adds at a tree at / \
                 (create the directory in the tree, or mount something there yourself)",
                src.display(),
                dest.display(),
                step.op
            );
        }
    }
    Ok(())
}

pub use crate::error::errno_of;

/// Makes sources absolute (they are resolved later from the host's root, not the caller's
/// directory) and fails early, with the flag named, on a source that does not exist.
fn check_op(flag: &str, op: FsOp, cwd: &Path, ns: &Namespaces) -> Result<FsOp> {
    let dest = op.dest();
    if !dest.is_absolute() {
        bail!(
            "{flag} {}: the destination must be an absolute path inside the sandbox, such as {}",
            dest.display(),
            Path::new("/").join(dest).display()
        );
    }
    Ok(match op {
        FsOp::Bind { src, dest, mode, optional } => {
            // Components drop the "." of "./work", so messages and the plan show /home/u/work.
            let abs: PathBuf = if src.is_absolute() { src.clone() } else { cwd.join(&src) }.components().collect();
            if !optional {
                if let Err(e) = std::fs::metadata(&abs) {
                    bail!(
                        "{flag} {} {}: source {:?}: {}",
                        src.display(),
                        dest.display(),
                        src,
                        crate::error::errno_text(errno_of(&e))
                    );
                }
            }
            FsOp::Bind { src: abs, dest, mode, optional }
        }
        FsOp::Mqueue { dest } if !ns.ipc => {
            bail!("{flag} {}: needs a new ipc namespace: drop --share-ipc", dest.display())
        }
        other => other,
    })
}

fn check_fd(flag: &str, fd: RawFd) -> Result<()> {
    if nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).is_err() {
        bail!("{flag} {fd}: descriptor {fd} is not open");
    }
    Ok(())
}

fn build_env(clear: bool, ops: &[(String, Option<String>)], caller: &[(OsString, OsString)]) -> Env {
    let mut vars: Vec<(OsString, OsString)> = if clear { Vec::new() } else { caller.to_vec() };
    let mut set = Vec::new();
    let mut unset = Vec::new();
    for (k, v) in ops {
        vars.retain(|(name, _)| name != k.as_str());
        match v {
            Some(v) => {
                vars.push((k.into(), v.into()));
                set.push((k.clone(), v.clone()));
            }
            None => unset.push(k.clone()),
        }
    }
    Env { cleared: clear, set, unset, vars }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host {
            landlock_abi: 6,
            kernel_release: "6.18.0".into(),
            cwd: "/work/project".into(),
            home: Some("/home/u".into()),
            uid: 1000,
            gid: 1000,
            env: vec![("PATH".into(), "/usr/bin:/bin".into()), ("SECRET".into(), "x".into())],
        }
    }

    fn req() -> Request {
        Request { command: vec!["true".into()], ..Default::default() }
    }

    fn plan(r: Request) -> Result<Spec> {
        Spec::from_request(r, &host())
    }

    fn error(r: Request) -> String {
        format!("{:#}", plan(r).unwrap_err())
    }

    #[test]
    fn defaults_come_from_the_host() {
        let s = plan(req()).unwrap();
        assert_eq!((s.uid, s.gid), (1000, 1000));
        assert_eq!(s.caller_cwd, Path::new("/work/project"));
        assert!(s.seccomp.refuse_userns);
        assert_eq!(s.landlock.mode, LandlockMode::BestEffort);
        assert_eq!(s.landlock.kernel_abi, 6);
        assert!(matches!(&s.fs.last().unwrap().op, FsOp::Bind { src, .. } if src == Path::new("/work/project")));
        assert_eq!(s.env.path(), "/usr/bin:/bin");
        assert!(s.cgroup.is_none());
        let s = plan(Request { clearenv: true, ..req() }).unwrap();
        assert!(s.env.vars.is_empty());
    }

    #[test]
    fn a_memory_limit_turns_swap_off() {
        let limits = limits::Limits { mem: Some(48 << 20), ..Default::default() };
        let s = plan(Request { limits, ..req() }).unwrap();
        let c = s.cgroup.unwrap();
        assert_eq!((c.limits.swap, c.slice.as_str()), (Some(0), "jail.slice"));
    }

    #[test]
    fn every_x_requires_y_is_refused_with_the_options_named() {
        let cases: Vec<(Request, &str)> = vec![
            (Request { command: vec![], ..req() }, "no command given"),
            (
                Request { hostname: Some("h".into()), share_uts: true, ..req() },
                "--hostname requires a new uts namespace",
            ),
            (Request { hostname: Some("h".repeat(65)), ..req() }, "a hostname has 1 to 64 bytes, not 65"),
            (Request { as_pid_1: true, share_pid: true, ..req() }, "--as-pid-1 requires a new pid namespace"),
            (Request { slice: Some("x.slice".into()), ..req() }, "--slice needs a limit"),
            (
                Request {
                    slice: Some("bad".into()),
                    limits: limits::Limits { pids: Some(5), ..Default::default() },
                    ..req()
                },
                "--slice bad: not a slice unit name",
            ),
            (
                Request { limits: limits::Limits { cpuset: Some("3-1".into()), ..Default::default() }, ..req() },
                "--cpuset 3-1: bad range",
            ),
            (
                Request { allow_userns: true, disable_userns: true, ..req() },
                "--allow-userns contradicts --disable-userns",
            ),
            (
                Request { allow_connect: vec![443], landlock: Some(LandlockMode::Off), ..req() },
                "--allow-connect/--allow-bind need Landlock",
            ),
            (
                Request {
                    fs: vec![("--mqueue".into(), FsOp::Mqueue { dest: "/mq".into() })],
                    share_ipc: true,
                    ..req()
                },
                "--mqueue /mq: needs a new ipc namespace",
            ),
            (
                Request {
                    fs: vec![("--tmpfs".into(), FsOp::Tmpfs { dest: "t".into(), size: None, perms: 0o755 })],
                    ..req()
                },
                "--tmpfs t: the destination must be an absolute path",
            ),
            (Request { caps: vec![(true, "CAP_FLY".into())], ..req() }, "--cap-add CAP_FLY: unknown capability"),
            (
                Request { seccomp_policy: Some("p.json".into()), seccomp_fd: Some(99), ..req() },
                "--seccomp FD replaces the built-in policy",
            ),
        ];
        for (r, want) in cases {
            let e = error(r);
            assert!(e.contains(want), "{want}: {e}");
        }
    }
}
