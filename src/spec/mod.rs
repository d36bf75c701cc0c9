//! The plan: everything jail will do, as plain data. Built from a front end's [`Request`] by
//! [`Spec::from_request`] (where every "X requires Y" check lives), printed by `--dry-run`,
//! executed by `launch`. Making it does no I/O of its own: what it needs of the host comes as a
//! [`Host`] value probed once and through [`HostFiles`], so it is unit-tested against fakes.

pub mod caps;
mod defaults;
pub mod landlock;
pub mod limits;
pub mod seccomp;
pub mod syscalls;
pub use defaults::same_path;
mod idmap;
pub mod network;
pub mod render;

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

pub use idmap::{parse_subrange as idmap_range, IdMap};
pub use landlock::Mode as LandlockMode;

/// Which namespaces are new. The mount namespace always is; the user namespace is, except for
/// bubblewrap's root caller without `--unshare-user` and a joined one (`--userns FD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Namespaces {
    #[serde(skip_serializing_if = "is_true")]
    pub user: bool,
    pub pid: bool,
    pub net: bool,
    pub ipc: bool,
    pub uts: bool,
    pub cgroup: bool,
}

fn is_text(r: &Report) -> bool {
    *r == Report::Text
}

fn is_jail(p: &Personality) -> bool {
    *p == Personality::Jail
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The front end that made the plan: its defaults, its voice and its exit statuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Personality {
    /// jail's own: everything new and confined unless the command line says otherwise.
    #[default]
    Jail,
    /// bubblewrap 0.11's: only what the command line asks for; its fd protocol and statuses.
    Bwrap,
}

impl Personality {
    /// The exit status for a failure of jail's own (`exit::FAILURE`, 126, 127): bubblewrap
    /// exits 1 for all of them.
    pub fn failure_status(self, code: i32) -> i32 {
        match self {
            Personality::Jail => code,
            Personality::Bwrap => 1,
        }
    }
}

/// How jail reports what it refused, at exit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Report {
    /// One line per refused call on stderr.
    #[default]
    Text,
    /// One JSON object on stderr, for supervisors.
    Json,
    /// Nothing (and refused calls never reach jail).
    None,
}

/// Namespaces the sandbox joins instead of creating (bubblewrap's `--userns`, `--userns2`,
/// `--pidns`): descriptors of `/proc/PID/ns/*` files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Joins {
    /// Entered by jail before the sandbox is cloned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns: Option<RawFd>,
    /// Entered by the sandbox once its root is built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns2: Option<RawFd>,
    /// The command's pid namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pidns: Option<RawFd>,
}

impl Joins {
    fn is_empty(&self) -> bool {
        *self == Joins::default()
    }
}

/// Descriptors a supervisor hands in to follow or pace the launch (bubblewrap's protocol).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Protocol {
    /// `--info-fd`: `{"child-pid": N, "<ns>-namespace": ID...}` once the sandbox exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_fd: Option<RawFd>,
    /// `--json-status-fd`: the same line, then `{"exit-code": N}` if the command ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_status_fd: Option<RawFd>,
    /// `--block-fd`: the command starts once a byte (or EOF) can be read here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_fd: Option<RawFd>,
    /// `--userns-block-fd`: jail writes no id maps and waits here for the caller's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns_block_fd: Option<RawFd>,
    /// `--sync-fd`: held open by the sandbox's init for as long as the sandbox lives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_fd: Option<RawFd>,
    /// `--lock-file`: paths inside the sandbox that init holds a read lock on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lock_files: Vec<PathBuf>,
}

impl Protocol {
    fn is_empty(&self) -> bool {
        *self == Protocol::default()
    }
}

/// A directory jail makes on the host so that a missing `--protect` path has something to
/// mount over, and removes again when the sandbox ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placeholder {
    /// The host directory a writable bind shows (the bind's source); made beneath it only.
    pub base: PathBuf,
    /// The path to make beneath `base`, every missing component of it a new directory.
    pub rel: PathBuf,
    /// The `--protect` path inside the sandbox.
    pub inside: PathBuf,
}

impl Namespaces {
    pub fn clone_flags(&self) -> libc::c_int {
        let mut f = libc::CLONE_NEWNS;
        for (on, flag) in [
            (self.user, libc::CLONE_NEWUSER),
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
    /// A bind of what the descriptor `fd` has open (a directory or a file).
    BindFd {
        fd: RawFd,
        dest: PathBuf,
        readonly: bool,
    },
    /// `--protect`: DEST and everything below it read-only (a read-only bind of it onto
    /// itself), after every other step; a missing DEST is first made as an empty directory.
    Protect {
        dest: PathBuf,
    },
    /// An overlayfs at DEST over host directories, the last of `lower` on top.
    Overlay {
        lower: Vec<PathBuf>,
        upper: OverlayUpper,
        dest: PathBuf,
    },
}

/// Where an overlay's writes go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverlayUpper {
    /// Host directories: the upper layer keeps the writes, `work` is overlayfs's scratch.
    Dirs { upper: PathBuf, work: PathBuf },
    /// A tmpfs private to the sandbox: writes vanish with it.
    Tmpfs,
    /// None: the overlay is read-only.
    ReadOnly,
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
            | FsOp::BindData { dest, .. }
            | FsOp::BindFd { dest, .. }
            | FsOp::Protect { dest }
            | FsOp::Overlay { dest, .. } => dest,
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
    /// The caller's effective capabilities, when it is uid 0 (else empty).
    pub caps: Vec<String>,
}

/// What a path on the host is, as far as the plan cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dir,
    Other,
}

/// The questions the plan asks of the host's files while it is made, answered by the live
/// system (`host::Live`) or, in unit tests, by a table: the plan itself does no I/O.
pub trait HostFiles {
    /// What `path` is (following symlinks), or why it cannot be seen.
    fn stat(&self, path: &Path) -> Result<FileKind, nix::errno::Errno>;
    fn read(&self, path: &Path) -> Result<String, nix::errno::Errno>;
    /// Whether descriptor `fd` is open in jail.
    fn fd_open(&self, fd: RawFd) -> bool;
    /// The caller's user names and group names (for /etc/subuid and /etc/subgid).
    fn names(&self, uid: u32, gid: u32) -> (Vec<String>, Vec<String>);
    /// A program on jail's PATH.
    fn program(&self, name: &str) -> Option<PathBuf>;
    /// The uid that owns `path` (not following a final symlink).
    fn owner(&self, path: &Path) -> Option<u32>;
    /// SELinux is enabled (asked only when a label is given).
    fn selinux(&self) -> bool;
}

/// What the command line asked for, after parsing and before any check or default.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub personality: Personality,
    /// bubblewrap: `--unshare-user` (a root caller otherwise keeps the host's user namespace).
    pub unshare_user: bool,
    /// bubblewrap: `--unshare-user-try` (also in `--unshare-all`).
    pub unshare_user_try: bool,
    pub joins: Joins,
    pub protocol: Protocol,
    pub die_with_parent: bool,
    /// bubblewrap's `--assert-userns-disabled`.
    pub assert_userns_disabled: bool,
    /// SELinux labels (bubblewrap's `--exec-label`, `--file-label`).
    pub exec_label: Option<String>,
    pub file_label: Option<String>,
    /// `--protect PATH`, in argv order.
    pub protect: Vec<PathBuf>,
    /// `--report`: how jail tells what it refused.
    pub report: Option<Report>,
    /// `--allow-host HOST[:PORT]`, in argv order.
    pub allow_hosts: Vec<String>,
    /// `--profile FILE`s read, with the words each gave (for `--dry-run`).
    pub profiles: Vec<(PathBuf, Vec<String>)>,
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
    #[serde(skip_serializing_if = "is_jail")]
    pub personality: Personality,
    pub namespaces: Namespaces,
    #[serde(skip_serializing_if = "Joins::is_empty")]
    pub joins: Joins,
    #[serde(skip_serializing_if = "Protocol::is_empty")]
    pub protocol: Protocol,
    /// jail itself dies when its parent does (and the sandbox with it).
    #[serde(skip_serializing_if = "is_false")]
    pub die_with_parent: bool,
    /// bubblewrap's `--disable-userns`: `user.max_user_namespaces` is set to 1 and the sandbox
    /// moves into a nested user namespace, so it can neither create one nor raise the limit.
    #[serde(skip_serializing_if = "is_false")]
    pub userns_limit: bool,
    /// Check that a new user namespace cannot be created, else fail.
    #[serde(skip_serializing_if = "is_false")]
    pub assert_userns_disabled: bool,
    /// The command gets the caller's open descriptors (bubblewrap), not only 0, 1 and 2.
    #[serde(skip_serializing_if = "is_false")]
    pub inherit_fds: bool,
    /// Set `PWD` to the directory the command starts in (bubblewrap).
    #[serde(skip_serializing_if = "is_false")]
    pub set_pwd: bool,
    /// Where the command starts when the caller's directory is missing inside and no
    /// `--chdir` was given, before `/` (bubblewrap: `$HOME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_label: Option<String>,
    /// The `--profile` files and the options each gave: shown as text, left out of the JSON
    /// plan (a profile and the same command line make the same plan).
    #[serde(skip)]
    pub profiles: Vec<(PathBuf, Vec<String>)>,
    #[serde(skip_serializing_if = "is_text")]
    pub report: Report,
    /// `--allow-host`: egress only to these hosts, through jail's proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<network::Proxy>,
    /// Directories made on the host for missing `--protect` paths, removed afterwards.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub placeholders: Vec<Placeholder>,
    /// What the caller should know about the plan (said on stderr before the launch).
    #[serde(skip)]
    pub notes: Vec<String>,
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
    pub fn from_request(mut req: Request, host: &Host, files: &dyn HostFiles) -> Result<Spec> {
        let bwrap = req.personality == Personality::Bwrap;
        let namespaces = Namespaces {
            // bubblewrap keeps the host's user namespace only for a root caller who did not
            // ask for one; jail always makes one, unless one is joined.
            user: req.joins.userns.is_none() && (!bwrap || req.unshare_user || req.unshare_user_try || host.uid != 0),
            pid: !req.share_pid,
            net: !req.share_net,
            ipc: !req.share_ipc,
            uts: !req.share_uts,
            cgroup: !req.share_cgroup,
        };
        if bwrap {
            bwrap_checks(&req, &namespaces)?;
        }
        if req.hostname.is_some() && !namespaces.uts {
            if bwrap {
                bail!("Specifying --hostname requires --unshare-uts");
            }
            bail!("--hostname requires a new uts namespace: drop --share-uts");
        }
        if let Some(name) = &req.hostname {
            if name.is_empty() || name.len() > 64 {
                bail!("--hostname {name:?}: a hostname has 1 to 64 bytes, not {}", name.len());
            }
        }
        if req.as_pid_1 && !namespaces.pid {
            if bwrap {
                bail!("Specifying --as-pid-1 requires --unshare-pid");
            }
            bail!("--as-pid-1 requires a new pid namespace: drop --share-pid");
        }
        if req.command.is_empty() {
            bail!("no command given: usage: jail [OPTIONS] [--] COMMAND [ARGS...]");
        }
        for label in [&req.exec_label, &req.file_label].into_iter().flatten() {
            // Without SELinux a label means nothing, as for bubblewrap; with it, jail cannot
            // apply one, and says so rather than run unlabelled.
            if files.selinux() {
                bail!("SELinux label {label:?}: jail does not apply SELinux labels");
            }
        }
        let cwd = host.cwd.clone();

        let mut steps = Vec::with_capacity(req.fs.len() + 8);
        if bwrap && host.uid == 0 {
            // bubblewrap's root caller keeps its capabilities unless it drops them.
            let mut ops: Vec<(bool, String)> = host.caps.iter().map(|c| (true, c.clone())).collect();
            ops.append(&mut req.caps);
            req.caps = ops;
        }
        let caps = caps::resolve(&req.caps)?;
        let mut notes = Vec::new();
        let seccomp = seccomp_plan(&req, &caps, host, files, &mut notes)?;
        let cgroup = cgroup_plan(&req)?;
        if let Some(fd) = req.stats_fd {
            check_fd(files, "--stats-json", fd)?;
        }
        let p = &req.protocol;
        for (flag, fd) in [
            ("--info-fd", p.info_fd),
            ("--json-status-fd", p.json_status_fd),
            ("--block-fd", p.block_fd),
            ("--userns-block-fd", p.userns_block_fd),
            ("--sync-fd", p.sync_fd),
            ("--userns", req.joins.userns),
            ("--userns2", req.joins.userns2),
            ("--pidns", req.joins.pidns),
        ] {
            if let Some(fd) = fd {
                check_fd(files, flag, fd)?;
            }
        }
        for (flag, op) in std::mem::take(&mut req.fs) {
            let op = check_op(files, &flag, op, &cwd, &namespaces, req.personality)?;
            match &op {
                FsOp::File { fd, .. } | FsOp::BindData { fd, .. } | FsOp::BindFd { fd, .. } => {
                    check_fd(files, &flag, *fd)?;
                }
                _ => {}
            }
            steps.push(FsStep { op, added: None });
        }
        let fs = if bwrap {
            steps
        } else {
            let is_dir = |p: &Path| files.stat(p) == Ok(FileKind::Dir);
            let (fs, note) = defaults::complete(steps, &cwd, host.home.as_deref(), &is_dir);
            check_tree_at_root(&fs, &is_dir)?;
            notes.extend(note);
            fs
        };

        let mut fs = fs;
        let placeholders = protect(&req.protect, &mut fs, &cwd, files)?;
        if req.map_subids && host.uid != 0 {
            notes.extend(root_built_tree(&fs, files));
        }

        let (caller_uid, caller_gid) = (host.uid, host.gid);
        let uid = req.uid.unwrap_or(caller_uid);
        let gid = req.gid.unwrap_or(caller_gid);
        let (uid_map, gid_map) = if req.map_subids {
            idmap::with_subids(files, uid, gid, caller_uid, caller_gid)?
        } else {
            (IdMap::single(uid, caller_uid), IdMap::single(gid, caller_gid))
        };

        let proxy = network::plan(&req.allow_hosts, namespaces.net)?;
        if let Some(p) = &proxy {
            // First, so the command line's own --setenv/--unsetenv come after.
            let mut ops = p.environment();
            ops.append(&mut req.env);
            req.env = ops;
        }
        let env = build_env(req.clearenv, &req.env, &host.env);
        let default_landlock = if bwrap { LandlockMode::Off } else { LandlockMode::BestEffort };
        let landlock = landlock::Plan {
            mode: req.landlock.unwrap_or(default_landlock),
            kernel_abi: host.landlock_abi,
            rules: landlock::rules_for(&fs),
            // The proxy is reached over TCP on the sandbox's loopback: a port list must let it.
            connect: (!req.allow_connect.is_empty()).then(|| {
                let mut ports = req.allow_connect.clone();
                if let Some(p) = proxy.as_ref().filter(|p| !ports.contains(&p.port)) {
                    ports.push(p.port);
                }
                ports
            }),
            bind: (!req.allow_bind.is_empty()).then(|| req.allow_bind.clone()),
        };
        if landlock.mode == LandlockMode::Off && (landlock.connect.is_some() || landlock.bind.is_some()) {
            bail!("--allow-connect/--allow-bind need Landlock: drop --landlock=off");
        }
        Ok(Spec {
            personality: req.personality,
            namespaces,
            joins: req.joins,
            protocol: req.protocol,
            die_with_parent: req.die_with_parent,
            userns_limit: bwrap && req.disable_userns,
            assert_userns_disabled: req.assert_userns_disabled,
            inherit_fds: bwrap,
            set_pwd: bwrap,
            fallback_dir: if bwrap { host.home.clone() } else { None },
            exec_label: req.exec_label,
            notes,
            placeholders,
            profiles: req.profiles,
            report: req.report.unwrap_or_default(),
            proxy,
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

impl Spec {
    /// bubblewrap's supervisors open `/proc/PID/ns/*` of the pid jail reports (`--info-fd`,
    /// `--json-status-fd`) to join the sandbox, which a non-dumpable process forbids. Only
    /// then, and only as bubblewrap, init stays dumpable as bubblewrap's pid 1 is.
    pub fn init_dumpable(&self) -> bool {
        self.personality == Personality::Bwrap
            && (self.protocol.info_fd.is_some() || self.protocol.json_status_fd.is_some())
    }

    /// The sandbox's user namespace is a new one that jail owns (not one joined), and no
    /// supervisor is told the sandbox's pid and namespaces while it starts (`--info-fd`,
    /// `--json-status-fd`): what both ways of starting faster below need.
    fn starts_unobserved_in_own_userns(&self) -> bool {
        self.namespaces.user
            && self.joins.userns.is_none()
            && self.protocol.info_fd.is_none()
            && self.protocol.json_status_fd.is_none()
    }

    /// The network namespace is made beside the sandbox by a helper of jail's while the root
    /// is built (`launch/netns.rs`), not by the clone. Not with `--as-pid-1`, which builds the
    /// root in a process forked first.
    pub fn net_beside_root(&self) -> bool {
        self.namespaces.net && !self.as_pid_1 && self.starts_unobserved_in_own_userns()
    }

    /// The sandbox writes its own id maps (the kernel lets a process of a new user namespace
    /// map the one uid and gid it was created with), so its first process goes on building
    /// without waiting for jail. Not with newuidmap's subordinate ranges (jail runs it), nor
    /// when the caller writes them (`--userns-block-fd`).
    pub fn maps_itself(&self) -> bool {
        let single = |m: &IdMap| m.helper.is_none() && m.lines.len() == 1 && m.lines[0].count == 1;
        self.starts_unobserved_in_own_userns()
            && single(&self.uid_map)
            && single(&self.gid_map)
            && self.protocol.userns_block_fd.is_none()
    }

    /// The caller's descriptors that options consumed: never passed on to the command.
    pub fn consumed_fds(&self) -> Vec<RawFd> {
        let p = &self.protocol;
        let mut v: Vec<RawFd> = [p.info_fd, p.json_status_fd, p.block_fd, p.userns_block_fd, p.sync_fd]
            .into_iter()
            .chain([self.joins.userns, self.joins.userns2, self.joins.pidns])
            .flatten()
            .chain(self.seccomp.fds.iter().copied())
            .chain(self.stats_fd)
            .collect();
        for st in &self.fs {
            if let FsOp::File { fd, .. } | FsOp::BindData { fd, .. } | FsOp::BindFd { fd, .. } = st.op {
                v.push(fd);
            }
        }
        v.retain(|fd| *fd > 2);
        v
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

fn seccomp_plan(
    req: &Request,
    caps: &[String],
    host: &Host,
    files: &dyn HostFiles,
    notes: &mut Vec<String>,
) -> Result<seccomp::Plan> {
    use seccomp::{profile::Profile, Plan, Policy};
    if req.personality == Personality::Bwrap {
        // bubblewrap loads exactly the programs it is given, and nothing of its own.
        let fds: Vec<RawFd> = req.seccomp_fd.into_iter().chain(req.add_seccomp_fds.iter().copied()).collect();
        for fd in &fds {
            check_fd(files, "--seccomp", *fd)?;
        }
        return Ok(Plan { policy: Policy::Off, refuse_userns: false, fds, report_denials: false });
    }
    let policy = match (req.seccomp_policy.as_deref(), req.seccomp_fd) {
        (Some(_), Some(_)) => bail!("--seccomp FD replaces the built-in policy: drop --seccomp-policy or --seccomp"),
        (None, Some(_)) => Policy::Replaced,
        (Some("off"), None) => Policy::Off,
        (None | Some("default"), None) => Policy::Default,
        (Some(file), None) => {
            let path = PathBuf::from(file);
            let text = files
                .read(&path)
                .map_err(|e| anyhow::anyhow!("--seccomp-policy {file}: {}", crate::error::errno_text(e)))?;
            let profile = Profile::parse(&text, caps, &host.kernel_release)
                .map_err(|e| anyhow::anyhow!("--seccomp-policy {file}: {e:#}"))?;
            if !profile.unknown_allowed.is_empty() {
                notes.push(format!(
                    "--seccomp-policy {file}: not syscalls of this build, their allow rules skipped \
                     (calls newer than it get ENOSYS): {}",
                    profile.unknown_allowed.join(", ")
                ));
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
        check_fd(files, "--seccomp", *fd)?;
    }
    let report_denials = matches!(policy, Policy::Default) && req.report != Some(Report::None);
    Ok(Plan { policy, refuse_userns: !req.allow_userns, fds, report_denials })
}

/// A read-only tree at `/` must already hold the directories of the mounts jail adds there:
/// nothing can create them. Said now, naming the tree, rather than as a failed mkdirat of an
/// option the user never typed.
fn check_tree_at_root(fs: &[FsStep], is_dir: &dyn Fn(&Path) -> bool) -> Result<()> {
    let Some(FsOp::Bind { src, mode: BindMode::ReadOnly, .. }) =
        fs.iter().rev().find(|s| same_path(s.op.dest(), Path::new("/"))).map(|s| &s.op)
    else {
        return Ok(());
    };
    for step in fs.iter().filter(|s| s.added == Some(defaults::TREE_AT_ROOT)) {
        let dest = step.op.dest();
        let inside = src.join(dest.strip_prefix("/").unwrap_or(dest));
        if !is_dir(&inside) {
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

/// Makes sources absolute (they are resolved later from the host's root, not the caller's
/// directory) and fails early, with the flag named, on a source that does not exist.
fn check_op(
    files: &dyn HostFiles,
    flag: &str,
    op: FsOp,
    cwd: &Path,
    ns: &Namespaces,
    personality: Personality,
) -> Result<FsOp> {
    let bwrap = personality == Personality::Bwrap;
    let absolute = |p: &Path| -> PathBuf {
        // Components drop the "." of "./work", so messages and the plan show /home/u/work.
        if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) }.components().collect()
    };
    let dest = op.dest();
    if !dest.is_absolute() && bwrap {
        // bubblewrap takes a relative destination as relative to the new root.
        let op = with_dest(op, |d| Path::new("/").join(d));
        return check_op(files, flag, op, cwd, ns, personality);
    }
    if !dest.is_absolute() {
        bail!(
            "{flag} {}: the destination must be an absolute path inside the sandbox, such as {}",
            dest.display(),
            Path::new("/").join(dest).display()
        );
    }
    Ok(match op {
        FsOp::Bind { src, dest, mode, optional } => {
            let abs = absolute(&src);
            if !optional {
                if let Err(e) = files.stat(&abs) {
                    if bwrap {
                        bail!("Can't find source path {}: {}", src.display(), e.desc());
                    }
                    bail!(
                        "{flag} {} {}: source {:?}: {}",
                        src.display(),
                        dest.display(),
                        src,
                        crate::error::errno_text(e)
                    );
                }
            }
            FsOp::Bind { src: abs, dest, mode, optional }
        }
        FsOp::Overlay { lower, upper, dest } => {
            let mut abs_lower = Vec::with_capacity(lower.len());
            for l in &lower {
                let a = absolute(l);
                if let Err(e) = files.stat(&a) {
                    if bwrap {
                        bail!("Can't find source path {}: {}", l.display(), e.desc());
                    }
                    bail!("--overlay-src {}: {}", l.display(), crate::error::errno_text(e));
                }
                abs_lower.push(a);
            }
            let upper = match upper {
                OverlayUpper::Dirs { upper, work } => {
                    OverlayUpper::Dirs { upper: absolute(&upper), work: absolute(&work) }
                }
                other => other,
            };
            FsOp::Overlay { lower: abs_lower, upper, dest }
        }
        FsOp::Mqueue { dest } if !ns.ipc && !bwrap => {
            bail!("{flag} {}: needs a new ipc namespace: drop --share-ipc", dest.display())
        }
        other => other,
    })
}

/// A tree at `/` that belongs to the host's root: root is not mapped into the sandbox, so its
/// files show as nobody's there and apt, dpkg and su fail on them. Says how to fix it.
fn root_built_tree(fs: &[FsStep], files: &dyn HostFiles) -> Option<String> {
    let src = fs.iter().rev().find_map(|s| match &s.op {
        FsOp::Bind { src, dest, .. } if same_path(dest, Path::new("/")) => Some(src),
        _ => None,
    })?;
    if same_path(src, Path::new("/")) || files.owner(src) != Some(0) {
        return None;
    }
    let t = src.display();
    Some(format!(
        "--ro-bind {t} /: the tree belongs to the host's root, who is not mapped into the sandbox: its \
         files show as nobody's and apt, dpkg and su fail on them; as root, jail rootfs shift {t} --user YOU \
         re-owns it into your --map-subids mapping (or make trees with jail rootfs import)"
    ))
}

/// Adds the `--protect` steps after every other one, and finds the missing paths that lie in a
/// writable bind of a host directory: they need a placeholder there to mount over.
fn protect(paths: &[PathBuf], fs: &mut Vec<FsStep>, cwd: &Path, files: &dyn HostFiles) -> Result<Vec<Placeholder>> {
    let mut placeholders = Vec::new();
    for p in paths {
        if !p.is_absolute() {
            bail!(
                "--protect {}: the path must be absolute inside the sandbox, such as {}",
                p.display(),
                cwd.join(p).display()
            );
        }
        let inside: PathBuf = p.components().collect();
        // The last step that puts something at or above the path decides what is there.
        let cover = fs.iter().rev().map(|s| &s.op).find(|op| inside.starts_with(op.dest()));
        if let Some(FsOp::Bind { src, dest, mode: BindMode::ReadWrite | BindMode::Devices, .. }) = cover {
            let rel = inside.strip_prefix(dest).unwrap_or(Path::new("")).to_path_buf();
            if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                bail!("--protect {}: the path must not contain . or ..", p.display());
            }
            if files.stat(&src.join(&rel)).is_err() && !rel.as_os_str().is_empty() {
                placeholders.push(Placeholder { base: src.clone(), rel, inside: inside.clone() });
            }
        }
        fs.push(FsStep { op: FsOp::Protect { dest: inside }, added: Some("--protect") });
    }
    Ok(placeholders)
}

/// `op` with its destination replaced by `f(dest)`.
fn with_dest(mut op: FsOp, f: impl FnOnce(&Path) -> PathBuf) -> FsOp {
    let new = f(op.dest());
    match &mut op {
        FsOp::Bind { dest, .. }
        | FsOp::RemountRo { dest }
        | FsOp::Tmpfs { dest, .. }
        | FsOp::Proc { dest }
        | FsOp::Dev { dest }
        | FsOp::Mqueue { dest }
        | FsOp::Dir { dest, .. }
        | FsOp::Symlink { dest, .. }
        | FsOp::File { dest, .. }
        | FsOp::BindData { dest, .. }
        | FsOp::BindFd { dest, .. }
        | FsOp::Protect { dest }
        | FsOp::Overlay { dest, .. }
        | FsOp::Chmod { path: dest, .. } => *dest = new,
    }
    op
}

/// The combinations bubblewrap refuses among its own options, in its words.
fn bwrap_checks(req: &Request, ns: &Namespaces) -> Result<()> {
    let p = &req.protocol;
    if p.userns_block_fd.is_some() && !req.unshare_user {
        bail!("--userns-block-fd requires --unshare-user");
    }
    if p.userns_block_fd.is_some() && p.info_fd.is_none() {
        bail!("--userns-block-fd requires --info-fd");
    }
    if req.joins.userns.is_some() && req.unshare_user {
        bail!("--userns not compatible --unshare-user");
    }
    if req.joins.userns.is_some() && req.unshare_user_try {
        bail!("--userns not compatible --unshare-user-try");
    }
    if req.disable_userns && !req.unshare_user {
        bail!("--disable-userns requires --unshare-user");
    }
    if req.disable_userns && p.userns_block_fd.is_some() {
        bail!("--disable-userns is not compatible with  --userns-block-fd");
    }
    let joined = req.joins.userns.is_some();
    if !ns.user && !joined && req.uid.is_some() {
        bail!("Specifying --uid requires --unshare-user or --userns");
    }
    if !ns.user && !joined && req.gid.is_some() {
        bail!("Specifying --gid requires --unshare-user or --userns");
    }
    if req.as_pid_1 && !p.lock_files.is_empty() {
        bail!("Specifying --as-pid-1 and --lock-file is not permitted");
    }
    Ok(())
}

fn check_fd(files: &dyn HostFiles, flag: &str, fd: RawFd) -> Result<()> {
    if !files.fd_open(fd) {
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
            caps: Vec::new(),
        }
    }

    fn req() -> Request {
        Request { command: vec!["true".into()], ..Default::default() }
    }

    /// A host whose files are a table: paths and their kinds, file contents, open descriptors.
    #[derive(Default)]
    struct Files {
        selinux: bool,
        paths: Vec<(&'static str, FileKind)>,
        texts: Vec<(&'static str, &'static str)>,
        fds: Vec<RawFd>,
    }

    impl HostFiles for Files {
        fn stat(&self, path: &Path) -> Result<FileKind, nix::errno::Errno> {
            let found = self.paths.iter().find(|(p, _)| Path::new(p) == path);
            found.map(|(_, k)| *k).ok_or(nix::errno::Errno::ENOENT)
        }
        fn read(&self, path: &Path) -> Result<String, nix::errno::Errno> {
            let found = self.texts.iter().find(|(p, _)| Path::new(p) == path);
            found.map(|(_, t)| t.to_string()).ok_or(nix::errno::Errno::ENOENT)
        }
        fn fd_open(&self, fd: RawFd) -> bool {
            self.fds.contains(&fd)
        }
        fn names(&self, _: u32, _: u32) -> (Vec<String>, Vec<String>) {
            (vec!["u".into()], vec!["g".into()])
        }
        fn program(&self, name: &str) -> Option<PathBuf> {
            Some(Path::new("/usr/bin").join(name))
        }
        fn owner(&self, path: &Path) -> Option<u32> {
            self.stat(path).ok().map(|_| if path.starts_with("/r") { 0 } else { 1000 })
        }
        fn selinux(&self) -> bool {
            self.selinux
        }
    }

    fn files() -> Files {
        use FileKind::{Dir, Other};
        let paths = vec![
            ("/", Dir),
            ("/run", Dir),
            ("/home", Dir),
            ("/work/project", Dir),
            ("/r", Dir),
            ("/r/proc", Dir),
            ("/r/dev", Dir),
            ("/etc/hosts", Other),
        ];
        Files { paths, fds: vec![0, 1, 2], ..Default::default() }
    }

    fn plan(r: Request) -> Result<Spec> {
        Spec::from_request(r, &host(), &files())
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

    fn bwrap() -> Request {
        Request {
            personality: Personality::Bwrap,
            share_net: true,
            share_pid: true,
            share_ipc: true,
            share_uts: true,
            share_cgroup: true,
            ..req()
        }
    }

    #[test]
    fn bwrap_adds_nothing_and_confines_only_as_asked() {
        let s = plan(bwrap()).unwrap();
        assert!(s.fs.is_empty());
        assert!(s.namespaces.user && !s.namespaces.pid && !s.namespaces.net);
        assert_eq!(s.landlock.mode, LandlockMode::Off);
        assert!(matches!(s.seccomp.policy, seccomp::Policy::Off) && !s.seccomp.refuse_userns);
        assert!(s.inherit_fds && s.set_pwd && !s.die_with_parent && !s.init_dumpable());
        assert_eq!(s.fallback_dir.as_deref(), Some(Path::new("/home/u")));
        // A relative destination is relative to the new root.
        let fs = vec![("--dir".to_string(), FsOp::Dir { dest: "a/b".into(), perms: None })];
        assert_eq!(plan(Request { fs, ..bwrap() }).unwrap().fs[0].op.dest(), Path::new("/a/b"));
        // bubblewrap's root caller keeps the host's user namespace and its capabilities.
        let root = Host { uid: 0, caps: vec!["CAP_CHOWN".into()], ..host() };
        let s = Spec::from_request(bwrap(), &root, &files()).unwrap();
        assert!(!s.namespaces.user);
        assert_eq!(s.caps, ["CAP_CHOWN"]);
    }

    #[test]
    fn bwrap_refusals_are_in_bubblewraps_words() {
        let cases: Vec<(Request, &str)> = vec![
            (Request { hostname: Some("h".into()), ..bwrap() }, "Specifying --hostname requires --unshare-uts"),
            (Request { as_pid_1: true, ..bwrap() }, "Specifying --as-pid-1 requires --unshare-pid"),
            (Request { disable_userns: true, ..bwrap() }, "--disable-userns requires --unshare-user"),
            (
                Request { joins: Joins { userns: Some(0), ..Default::default() }, unshare_user: true, ..bwrap() },
                "--userns not compatible --unshare-user",
            ),
            (
                Request {
                    protocol: Protocol { userns_block_fd: Some(0), ..Default::default() },
                    unshare_user: true,
                    ..bwrap()
                },
                "--userns-block-fd requires --info-fd",
            ),
            (
                Request {
                    as_pid_1: true,
                    share_pid: false,
                    protocol: Protocol { lock_files: vec!["/l".into()], ..Default::default() },
                    ..bwrap()
                },
                "Specifying --as-pid-1 and --lock-file is not permitted",
            ),
            (
                Request {
                    fs: vec![(
                        "--bind".into(),
                        FsOp::Bind {
                            src: "/no/such/src".into(),
                            dest: "/d".into(),
                            mode: BindMode::ReadWrite,
                            optional: false,
                        },
                    )],
                    ..bwrap()
                },
                "Can't find source path /no/such/src: No such file or directory",
            ),
            (Request { exec_label: Some("l".into()), ..bwrap() }, ""),
        ];
        for (r, want) in cases {
            if want.is_empty() {
                // Without SELinux a label means nothing, as for bubblewrap.
                assert!(plan(r.clone()).is_ok());
                let e =
                    format!("{:#}", Spec::from_request(r, &host(), &Files { selinux: true, ..files() }).unwrap_err());
                assert!(e.contains("does not apply SELinux labels"), "{e}");
                continue;
            }
            let e = error(r);
            assert_eq!(e, want);
        }
    }

    #[test]
    fn a_memory_limit_turns_swap_off() {
        let limits = limits::Limits { mem: Some(48 << 20), ..Default::default() };
        let s = plan(Request { limits, ..req() }).unwrap();
        let c = s.cgroup.unwrap();
        assert_eq!((c.limits.swap, c.slice.as_str()), (Some(0), "jail.slice"));
    }

    #[test]
    fn what_the_host_lacks_is_refused_before_anything_exists() {
        let bind = |src: &str, dest: &str| {
            (
                "--ro-bind".to_string(),
                FsOp::Bind { src: src.into(), dest: dest.into(), mode: BindMode::ReadOnly, optional: false },
            )
        };
        let cases: Vec<(Request, &str)> = vec![
            (Request { fs: vec![bind("missing", "/m")], ..req() }, "--ro-bind missing /m: source \"missing\": ENOENT"),
            (
                Request { fs: vec![("--file".into(), FsOp::File { fd: 9, dest: "/f".into(), perms: 0o644 })], ..req() },
                "--file 9: descriptor 9 is not open",
            ),
            (Request { fs: vec![bind("/r", "/")], ..req() }, "--ro-bind /r /: the tree has no /tmp"),
            (Request { stats_fd: Some(7), ..req() }, "--stats-json 7: descriptor 7 is not open"),
            (Request { seccomp_policy: Some("/p.json".into()), ..req() }, "--seccomp-policy /p.json: ENOENT"),
            (Request { map_subids: true, ..req() }, "--map-subids: cannot read /etc/subuid"),
        ];
        for (r, want) in cases {
            let e = error(r);
            assert!(e.contains(want), "{want}: {e}");
        }
        // A relative source is the caller's directory's; --map-subids maps the listed range.
        let f =
            Files { texts: vec![("/etc/subuid", "u:100000:65536\n"), ("/etc/subgid", "g:200000:1000\n")], ..files() };
        let r = Request { uid: Some(0), gid: Some(0), map_subids: true, ..req() };
        let s = Spec::from_request(r, &host(), &f).unwrap();
        assert_eq!(s.uid_map.helper_args(), ["0", "1000", "1", "1", "100000", "65536"]);
        assert_eq!(s.gid_map.helper_args(), ["0", "1000", "1", "1", "200000", "1000"]);
        assert_eq!(s.uid_map.helper.as_deref(), Some(Path::new("/usr/bin/newuidmap")));
        // The default view names the directory it did not bind back, as a note.
        let s = Spec::from_request(req(), &Host { cwd: "/home".into(), ..host() }, &files()).unwrap();
        assert!(s.notes.iter().any(|n| n.contains("/home is not bound back")), "{:?}", s.notes);
    }

    #[test]
    fn protected_paths_come_last_and_missing_ones_in_a_host_bind_get_a_placeholder() {
        let bind = |src: &str, dest: &str, mode| {
            ("--bind".to_string(), FsOp::Bind { src: src.into(), dest: dest.into(), mode, optional: false })
        };
        let mut f = files();
        f.paths.push(("/work/project/.git/config", FileKind::Other));
        f.paths.push(("/r/tmp", FileKind::Dir));
        let r = Request {
            fs: vec![bind("/r", "/", BindMode::ReadOnly), bind("/work/project", "/p", BindMode::ReadWrite)],
            protect: vec!["/p/.git/config".into(), "/p/.vscode".into(), "/etc/x".into()],
            ..req()
        };
        let s = Spec::from_request(r, &host(), &f).unwrap();
        let last: Vec<String> = s.fs.iter().rev().take(3).map(|st| st.op.dest().display().to_string()).collect();
        assert_eq!(last, ["/etc/x", "/p/.vscode", "/p/.git/config"]);
        // Only the missing path inside the writable bind needs one; /etc/x is in a read-only tree.
        assert_eq!(
            s.placeholders,
            [Placeholder { base: "/work/project".into(), rel: ".vscode".into(), inside: "/p/.vscode".into() }]
        );
        let e = error(Request { protect: vec!["rel".into()], ..req() });
        assert!(e.starts_with("--protect rel: the path must be absolute"), "{e}");
    }

    #[test]
    fn a_root_built_tree_with_map_subids_gets_a_note_that_points_to_rootfs_shift() {
        let mut f = files();
        f.paths.push(("/r/tmp", FileKind::Dir));
        f.texts = vec![("/etc/subuid", "u:100000:65536\n"), ("/etc/subgid", "g:100000:65536\n")];
        let tree = (
            "--ro-bind".to_string(),
            FsOp::Bind { src: "/r".into(), dest: "/".into(), mode: BindMode::ReadOnly, optional: false },
        );
        let r = Request { fs: vec![tree.clone()], map_subids: true, uid: Some(0), ..req() };
        let s = Spec::from_request(r, &host(), &f).unwrap();
        assert!(s.notes.iter().any(|n| n.contains("jail rootfs shift /r --user YOU")), "{:?}", s.notes);
        // Not without --map-subids, and not for the host's own root.
        let s = Spec::from_request(Request { fs: vec![tree], ..req() }, &host(), &f).unwrap();
        assert!(s.notes.is_empty());
    }

    #[test]
    fn a_tcp_port_list_lets_the_proxy_through() {
        let r = Request { allow_hosts: vec!["a.org".into()], allow_connect: vec![443], ..req() };
        let s = plan(r).unwrap();
        assert_eq!(s.landlock.connect, Some(vec![443, network::PROXY_PORT]));
        assert!(s.env.set.iter().any(|(k, v)| k == "HTTPS_PROXY" && v == "http://127.0.0.1:3128"));
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
