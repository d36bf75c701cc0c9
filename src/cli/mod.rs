//! The command line: clap definitions (also the source of `--help`, the man page and the
//! completions) and the recovery of argv order for the options whose order is semantics.

pub mod bwrap;
mod fs_ops;
mod profile;
pub mod values;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command, ValueHint};

use crate::spec::{FsOp, Request};

/// What `--dry-run` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    Text,
    Json,
}

/// A parsed command line.
#[derive(Debug)]
pub enum Parsed {
    Run {
        request: Box<Request>,
        dry_run: Option<DryRun>,
    },
    /// `--help` or `--version`: print this, exit 0.
    Print(String),
    /// `jail doctor [OPTIONS]`: what the options ask of the host.
    Doctor(crate::doctor::Wants),
    /// `jail rootfs ...`: make a root filesystem tree.
    Rootfs(crate::tree::Action),
}

const NS: &str = "Namespaces (all new by default)";
const IDS: &str = "User and group ids";
const FS: &str = "Filesystem (applied in command-line order)";
const PROC: &str = "Process";
const CAPS: &str = "Capabilities (none by default)";
const OUT: &str = "Plan";
const CONFINE: &str = "Confinement";
const LIMITS: &str = "Resource limits (cgroup v2, through the systemd user manager)";

fn fs_arg(id: &'static str, names: &'static [&'static str], help: &'static str, long: &'static str) -> Arg {
    let hint = match names.last() {
        Some(&"DEST") | Some(&"PATH") if names.first() != Some(&"FD") => ValueHint::AnyPath,
        _ => ValueHint::Other,
    };
    let mut a = Arg::new(id)
        .long(id)
        .num_args(names.len())
        .value_names(names.iter().copied())
        .value_parser(clap::value_parser!(OsString))
        .action(ArgAction::Append)
        .help(help)
        .help_heading(FS);
    if matches!(names.first(), Some(&"SRC")) {
        a = a.value_hint(ValueHint::AnyPath);
    } else {
        a = a.value_hint(hint);
    }
    if !long.is_empty() {
        a = a.long_help(long);
    }
    a
}

fn size_arg(id: &'static str, help: &'static str) -> Arg {
    value(id, "SIZE", LIMITS, help).value_parser(values::size)
}

fn flag(id: &'static str, heading: &'static str, help: &'static str) -> Arg {
    Arg::new(id).long(id).action(ArgAction::SetTrue).help(help).help_heading(heading)
}

fn value(id: &'static str, name: &'static str, heading: &'static str, help: &'static str) -> Arg {
    Arg::new(id).long(id).value_name(name).help(help).help_heading(heading).value_hint(ValueHint::Other)
}

/// The whole command line, for `--help`, the man page, the completions and error messages.
pub fn command() -> Command {
    command_with(|_| true)
}

/// The command line with only the options `args` names (and the command): it parses those
/// words exactly as the whole one does, since an option that is not named cannot match,
/// without building the ninety it does not use (measured: building and dropping them all was
/// most of a launch's parsing). What it refuses (help, a mistake) is parsed again by the whole
/// one, for clap's full messages.
fn command_naming(args: &[OsString]) -> Command {
    let named = named_options(args);
    command_with(|id| named.contains(&id))
}

/// The option ids that `args` could name: every `--NAME` and `--NAME=...` word (a command's own
/// words may add some, which only adds options), and `verbose` for a word of short flags.
fn named_options(args: &[OsString]) -> Vec<&str> {
    let mut named = Vec::new();
    for a in args.iter().skip(1).filter_map(|a| a.to_str()) {
        if let Some(long) = a.strip_prefix("--") {
            named.push(long.split('=').next().unwrap_or(long));
        } else if a.len() > 1 && a.starts_with('-') && a.contains('v') {
            named.push("verbose");
        }
    }
    named
}

fn command_with(keep: impl Fn(&str) -> bool) -> Command {
    let mut cmd = Command::new("jail")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Run a command in a rootless sandbox: fresh namespaces, a tmpfs root built from bind mounts")
        .long_about(
            "Run COMMAND in new user, mount, pid, network, ipc, uts and cgroup namespaces, on a \
             fresh tmpfs root assembled from bind mounts, with no capabilities. No setuid helper, \
             no daemon, no root.\n\n\
             With no filesystem option the sandbox sees the host read-only, with a fresh /proc, a \
             minimal /dev, empty /tmp and /run, /home and /root hidden, and the current directory \
             bound back read-only (unless it holds a hidden directory, such as your home). With a tree bound at / (--ro-bind ./rootfs /) jail adds /proc, \
             /dev and /tmp unless the command line puts something there. --dry-run shows every step.",
        )
        .override_usage("jail [OPTIONS] [--] COMMAND [ARGS...]")
        .after_help(
            "Examples:\n  jail -- sh\n  jail --ro-bind ./rootfs / --hostname box bash\n  jail --dry-run -- make\n\n\
             jail doctor [OPTIONS] checks this host for jail's defaults and for what OPTIONS ask \
             (limits, --map-subids, --landlock=strict); it exits 125 when something is missing.\n\n\
             jail rootfs import ARCHIVE DIR unpacks a root filesystem tarball into DIR without \
             root, owned as --map-subids maps ids (0 is you, 1 and up your subordinate range), for \
             jail --ro-bind DIR / --map-subids --uid 0 ...; device nodes are skipped.\n\n\
             Called as bwrap (a link or copy of that name, such as /usr/libexec/jail/bwrap), or as \
             jail --bwrap ..., jail takes bubblewrap 0.11's command line with bubblewrap's meaning; \
             jail --dry-run --bwrap ... prints the plan such a command line makes.",
        )
        .disable_help_subcommand(true)
        // A single-valued option given again wins: the command line over a --profile.
        .args_override_self(true)
        .max_term_width(100);
    for (id, make) in OPTIONS_BEFORE_FS {
        if keep(id) {
            cmd = cmd.arg(make());
        }
    }
    for o in fs_ops::TABLE {
        if keep(o.flag) {
            cmd = cmd.arg(fs_arg(o.flag, o.values, o.help, o.long));
        }
    }
    for (id, make) in OPTIONS_AFTER_FS {
        if keep(id) {
            cmd = cmd.arg(make());
        }
    }
    cmd.arg(
        Arg::new("command")
            .value_name("COMMAND")
            .num_args(1..)
            .trailing_var_arg(true)
            .value_parser(clap::value_parser!(OsString))
            .value_hint(ValueHint::CommandWithArguments)
            .help("The command and its arguments, looked up in the sandbox's PATH"),
    )
}

/// An option's id and how to build it.
type NamedOption = (&'static str, fn() -> Arg);

/// The options before the filesystem table's, in `--help` order, each by its id (its long
/// name, which `every_option_is_named_by_its_id` checks), built only when wanted.
const OPTIONS_BEFORE_FS: &[NamedOption] = &[
    ("dry-run", || {
        Arg::new("dry-run")
            .long("dry-run")
            .value_name("FORMAT")
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("text")
            .value_parser(["text", "json"])
            .help("Print the plan (text or json) and exit without touching anything")
            .help_heading(OUT)
    }),
    ("profile", || {
        Arg::new("profile")
            .long("profile")
            .value_name("FILE")
            .action(ArgAction::Append)
            .value_parser(clap::value_parser!(PathBuf))
            .help("Read options from a TOML file first (repeatable); the command line's apply after them")
            .long_help(
                "Read options from FILE, a TOML table of jail's long option names: a switch is \
                     true or false, an option's value a string or number, a repeatable option's \
                     values a list, an option with two values (--bind SRC DEST) an array of two, or \
                     a list of such arrays. They apply first, in the file's order; the command \
                     line's options come after them (a single-valued option given again wins). \
                     --dry-run names what each profile gave. jail never reads a profile it was not \
                     given, so a repository cannot loosen its own sandbox.",
            )
            .help_heading(OUT)
            .value_hint(ValueHint::FilePath)
    }),
    ("share-net", || {
        flag("share-net", NS, "Keep the caller's network namespace").long_help(
            "Keep the caller's network namespace. Without it the sandbox has its own network with \
             only the loopback interface, up.",
        )
    }),
    ("share-ipc", || flag("share-ipc", NS, "Keep the caller's ipc namespace")),
    ("share-uts", || flag("share-uts", NS, "Keep the caller's uts namespace (hostname)")),
    ("share-pid", || {
        flag("share-pid", NS, "Keep the caller's pid namespace").long_help(
            "Keep the caller's pid namespace. jail's init is then the sandbox's subreaper: when the \
         command exits or jail dies it kills every process of the sandbox that /proc inside lists. \
         Without Landlock's signal scoping (Linux before 6.12, --landlock=off) the command can \
         kill that init first; a pid namespace of its own (the default) has no such gap.",
        )
    }),
    ("share-cgroup", || flag("share-cgroup", NS, "Keep the caller's cgroup namespace")),
    ("uid", || {
        value("uid", "UID", IDS, "The uid inside the sandbox (default: the caller's)")
            .value_parser(clap::value_parser!(u32))
    }),
    ("gid", || {
        value("gid", "GID", IDS, "The gid inside the sandbox (default: the caller's)")
            .value_parser(clap::value_parser!(u32))
    }),
    ("map-subids", || {
        flag("map-subids", IDS, "Also map the caller's /etc/subuid and /etc/subgid ranges").long_help(
            "Also map the caller's subordinate ids from /etc/subuid and /etc/subgid (through \
             newuidmap and newgidmap, package uidmap), so that package managers and su work in a \
             full distribution tree. The uid given by --uid maps to the caller; the others follow \
             from the range.",
        )
    }),
];

/// The options after the filesystem table's, as above.
const OPTIONS_AFTER_FS: &[NamedOption] = &[
    ("perms", || {
        Arg::new("perms")
            .long("perms")
            .value_name("OCTAL")
            .action(ArgAction::Append)
            .value_parser(values::octal)
            .help("Mode for the next --tmpfs, --dir, --file, --bind-data or --ro-bind-data")
            .help_heading(FS)
            .value_hint(ValueHint::Other)
    }),
    ("protect", || {
        Arg::new("protect")
            .long("protect")
            .value_name("PATH")
            .action(ArgAction::Append)
            .value_parser(clap::value_parser!(PathBuf))
            .help("Keep PATH and everything below it read-only, even inside a writable bind (repeatable)")
            .long_help(
                "Keep PATH (inside the sandbox) and everything below it read-only, even inside a \
                 writable bind: a read-only bind of PATH onto itself after every other step. A \
                 PATH that does not exist cannot be created: in a writable bind of a host \
                 directory jail makes an empty directory there to cover, and removes it (restoring \
                 its parent's times) when the sandbox ends. For .git/hooks, .git/config, shell rc \
                 files, editor settings inside a writable project.",
            )
            .help_heading(FS)
            .value_hint(ValueHint::AnyPath)
    }),
    ("overlay-src", || {
        Arg::new("overlay-src")
            .long("overlay-src")
            .value_name("SRC")
            .action(ArgAction::Append)
            .value_parser(clap::value_parser!(OsString))
            .help("A lower layer for the next --overlay, --tmp-overlay or --ro-overlay (the last on top)")
            .help_heading(FS)
            .value_hint(ValueHint::DirPath)
    }),
    ("size", || {
        Arg::new("size")
            .long("size")
            .value_name("BYTES")
            .action(ArgAction::Append)
            .value_parser(values::size)
            .help("Size limit of the next --tmpfs (K, M, G suffixes)")
            .help_heading(FS)
            .value_hint(ValueHint::Other)
    }),
    ("hostname", || value("hostname", "NAME", PROC, "Set the hostname inside the sandbox")),
    ("chdir", || {
        value(
            "chdir",
            "DIR",
            PROC,
            "Change to DIR inside the sandbox (default: the current directory if present, else /)",
        )
        .value_parser(clap::value_parser!(PathBuf))
        .value_hint(ValueHint::DirPath)
    }),
    ("setenv", || {
        Arg::new("setenv")
            .long("setenv")
            .num_args(2)
            .value_names(["VAR", "VALUE"])
            .action(ArgAction::Append)
            .value_parser(clap::value_parser!(OsString))
            .help("Set an environment variable")
            .help_heading(PROC)
            .value_hint(ValueHint::Other)
    }),
    ("unsetenv", || {
        Arg::new("unsetenv")
            .long("unsetenv")
            .value_name("VAR")
            .action(ArgAction::Append)
            .help("Unset an environment variable")
            .help_heading(PROC)
            .value_hint(ValueHint::Other)
    }),
    ("clearenv", || flag("clearenv", PROC, "Start from an empty environment (then --setenv applies)")),
    ("argv0", || {
        value("argv0", "NAME", PROC, "Run the command with NAME as argv[0]").value_parser(clap::value_parser!(OsString))
    }),
    ("as-pid-1", || {
        flag("as-pid-1", PROC, "Run the command as pid 1 instead of jail's init").long_help(
            "Run the command itself as pid 1 of a pid namespace (nested beneath jail's init, which it \
         cannot see and which still ends everything when jail dies). By default jail's own small \
         init is pid 1: it reaps orphans, forwards signals, and cannot be ptraced by the command.",
        )
    }),
    ("new-session", || {
        flag("new-session", PROC, "Start a new session (no controlling terminal)").long_help(
            "Call setsid() before running the command, so it has no controlling terminal and cannot \
         inject input into the caller's terminal. Job control in an interactive shell is lost.",
        )
    }),
    ("cap-add", || {
        Arg::new("cap-add")
            .long("cap-add")
            .value_name("CAP")
            .action(ArgAction::Append)
            .value_parser(CapName)
            .ignore_case(true)
            .help("Keep a capability (e.g. CAP_NET_ADMIN, or ALL)")
            .help_heading(CAPS)
    }),
    ("cap-drop", || {
        Arg::new("cap-drop")
            .long("cap-drop")
            .value_name("CAP")
            .action(ArgAction::Append)
            .value_parser(CapName)
            .ignore_case(true)
            .help("Drop a capability added earlier (or ALL)")
            .help_heading(CAPS)
    }),
    ("landlock", || {
        Arg::new("landlock")
            .long("landlock")
            .value_name("MODE")
            .value_parser(["off", "best-effort", "strict"])
            .help("Landlock: off, best-effort (default) or strict")
            .long_help(
                "Landlock rules derived from the plan: read-only where mounts are read-only, \
                 read-write for writable binds and tmpfs, device ioctls only under --dev and \
                 --dev-bind; abstract unix sockets and signals scoped to the sandbox. \
                 best-effort (the default) uses what the kernel offers and says what it could \
                 not enforce in --dry-run and with -v; strict refuses to run instead. Landlock \
                 also forbids mounting inside the sandbox, even with --cap-add CAP_SYS_ADMIN.",
            )
            .help_heading(CONFINE)
    }),
    ("allow-host", || {
        Arg::new("allow-host")
            .long("allow-host")
            .value_name("HOST[:PORT]")
            .action(ArgAction::Append)
            .help("Reach HOST (or *.domain) through jail's proxy; nothing else leaves (repeatable)")
            .long_help(
                "Let the sandbox reach HOST[:PORT] (any port without one; *.example.org for every \
                 name below example.org; an address in brackets for IPv6) and nothing else: it \
                 keeps its own network with only loopback, where jail's proxy listens on \
                 127.0.0.1:3128 (HTTP CONNECT, plain HTTP and SOCKS5) and HTTP_PROXY, HTTPS_PROXY \
                 and ALL_PROXY (both cases) point at it. jail checks each name against the list \
                 before resolving it outside; a refused host gets HTTP 403 and a line on jail's \
                 stderr. Programs that ignore the proxy variables reach nothing.",
            )
            .help_heading(CONFINE)
            .value_hint(ValueHint::Hostname)
    }),
    ("allow-connect", || {
        Arg::new("allow-connect")
            .long("allow-connect")
            .value_name("PORT")
            .action(ArgAction::Append)
            .value_parser(clap::value_parser!(u16))
            .help("Allow TCP connections to PORT only (repeatable; Landlock ABI 4)")
            .help_heading(CONFINE)
            .value_hint(ValueHint::Other)
    }),
    ("allow-bind", || {
        Arg::new("allow-bind")
            .long("allow-bind")
            .value_name("PORT")
            .action(ArgAction::Append)
            .value_parser(clap::value_parser!(u16))
            .help("Allow binding TCP PORT only (repeatable; Landlock ABI 4)")
            .help_heading(CONFINE)
            .value_hint(ValueHint::Other)
    }),
    ("seccomp-policy", || {
        Arg::new("seccomp-policy")
            .long("seccomp-policy")
            .value_name("POLICY")
            .help("Seccomp: default (built-in policy), off, or a Docker/OCI JSON profile file")
            .long_help(
                "Seccomp policy: default (the built-in policy), off (no built-in filter; new user \
                 namespaces stay refused unless --allow-userns), or the path of a Docker/OCI \
                 JSON profile. A profile is stacked on the built-in floor (foreign architectures, \
                 calls newer than this build, clone3, terminal injection, keyrings, the mount API), \
                 checked when the plan is made, and when it kills for a call jail names the call.",
            )
            .help_heading(CONFINE)
            .value_hint(ValueHint::FilePath)
    }),
    ("seccomp", || {
        Arg::new("seccomp")
            .long("seccomp")
            .value_name("FD")
            .value_parser(values::fd)
            .help("Use the compiled classic BPF program read from FD instead of the built-in policy")
            .help_heading(CONFINE)
            .value_hint(ValueHint::Other)
    }),
    ("add-seccomp-fd", || {
        Arg::new("add-seccomp-fd")
            .long("add-seccomp-fd")
            .value_name("FD")
            .action(ArgAction::Append)
            .value_parser(values::fd)
            .help("Stack the compiled classic BPF program read from FD (repeatable)")
            .help_heading(CONFINE)
            .value_hint(ValueHint::Other)
    }),
    ("allow-userns", || {
        flag("allow-userns", CONFINE, "Allow the command to create user namespaces (refused by default)").long_help(
            "Allow the command to create nested user namespaces, for builds that run a sandbox of \
         their own. By default clone and unshare with CLONE_NEWUSER fail with EPERM (and clone3 \
         with ENOSYS): inside a nested user namespace the command would hold every capability \
         over new network and mount namespaces, the kernel surface behind most recent local \
         privilege escalations.",
        )
    }),
    ("disable-userns", || {
        flag("disable-userns", CONFINE, "Refuse new user namespaces inside the sandbox (the default)")
    }),
    ("mem", || {
        size_arg("mem", "Memory limit (memory.max); swap is off unless --swap").long_help(
            "Memory limit for everything in the sandbox (memory.max), with K, M, G suffixes. Swap is \
         off for the sandbox unless --swap is given. When the limit is hit the kernel's OOM killer \
         stops the largest process; jail says so and exits 137.",
        )
    }),
    ("mem-high", || size_arg("mem-high", "Memory throttling threshold (memory.high)")),
    ("swap", || size_arg("swap", "Swap limit (memory.swap.max)")),
    ("cpu", || {
        value("cpu", "PCT", LIMITS, "CPU limit as percent of one CPU: 20%, 150% (cpu.max)")
            .long_help(
                "CPU limit as percent of one CPU: 20%, 150% (cpu.max on the sandbox's leaf cgroup). \
                 It holds from the moment the command starts: jail sets it once its own setup in the \
                 sandbox is done, so the setup never waits for the quota.",
            )
            .value_parser(values::percent)
    }),
    ("cpu-weight", || {
        value("cpu-weight", "N", LIMITS, "CPU weight, 1 to 10000 (cpu.weight)")
            .value_parser(clap::value_parser!(u64).range(1..=10000))
    }),
    ("pids", || {
        value("pids", "N", LIMITS, "Limit on processes and threads (pids.max)")
            .value_parser(clap::value_parser!(u64).range(1..))
    }),
    ("cpuset", || value("cpuset", "LIST", LIMITS, "CPUs the sandbox may run on, e.g. 0,2,4-6 (cpuset.cpus)")),
    ("io-weight", || {
        value("io-weight", "N", LIMITS, "IO weight, 1 to 10000 (io.weight)")
            .value_parser(clap::value_parser!(u64).range(1..=10000))
    }),
    ("slice", || value("slice", "NAME", LIMITS, "The user manager's slice for the scope (default jail.slice)")),
    ("timeout", || {
        value(
            "timeout",
            "DURATION",
            LIMITS,
            "Stop the command after DURATION (30s, 5m), counted from the launch: SIGTERM, then SIGKILL; exit 124. A setup still running then is killed",
        )
        .value_parser(values::duration)
    }),
    ("report", || {
        Arg::new("report")
            .long("report")
            .value_name("FORMAT")
            .value_parser(["text", "json", "none"])
            .help("How jail says at exit what it refused: text (default), json, or none")
            .long_help(
                "How jail says at exit what the sandbox was refused. text (the default): one line \
                 on stderr per refused call, with the rule and the option that would allow it. \
                 json: one JSON object on stderr ({\"denied\": [{\"syscall\", \"number\", \"count\", \
                 \"rule\", \"allow\"}]}), for supervisors. none: nothing, and refused calls get \
                 EPERM from the filter itself instead of through jail. --stats-json lists them too.",
            )
            .help_heading(OUT)
            .value_hint(ValueHint::Other)
    }),
    ("stats", || flag("stats", OUT, "Print a usage report on stderr when the command ends")),
    ("stats-json", || {
        value("stats-json", "FD", OUT, "Write the usage report as one JSON object to FD").value_parser(values::fd)
    }),
    ("verbose", || {
        Arg::new("verbose")
            .short('v')
            .long("verbose")
            .action(ArgAction::SetTrue)
            .help("Say on stderr what the kernel could not enforce")
            .help_heading(OUT)
    }),
];

/// `--cap-add`/`--cap-drop` values: CAP_NAME or NAME in any case, or ALL. A good name is
/// checked without the list of every name, which is made only when clap shows it (help,
/// completions, the error for a bad name): making it for every launch cost more than the rest
/// of the parse.
#[derive(Clone)]
struct CapName;

impl clap::builder::TypedValueParser for CapName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        if let Some(v) = value.to_str() {
            let upper = v.to_ascii_uppercase();
            let full = if upper.starts_with("CAP_") { upper.clone() } else { format!("CAP_{upper}") };
            if upper == "ALL" || full.parse::<caps::Capability>().is_ok() {
                return Ok(v.to_string());
            }
        }
        cap_names().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let all: Vec<clap::builder::PossibleValue> = cap_names().possible_values()?.collect();
        Some(Box::new(all.into_iter()))
    }
}

/// Capability names offered for completion; any spelling `caps` knows is accepted.
fn cap_names() -> clap::builder::PossibleValuesParser {
    let mut names: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    names.sort();
    names.push("ALL".into());
    // Matched ignoring case (see the args); NET_ADMIN names CAP_NET_ADMIN too.
    let values: Vec<clap::builder::PossibleValue> = names
        .into_iter()
        .map(|n| {
            let short = n.strip_prefix("CAP_").map(str::to_string);
            let v = clap::builder::PossibleValue::new(n);
            match short {
                Some(s) => v.alias(s),
                None => v,
            }
        })
        .collect();
    clap::builder::PossibleValuesParser::new(values)
}

/// Whether the matches hold `id`: never for an option the parsed command line did not define
/// (a launch's parse defines only those its words name, see `command_naming`).
fn given(m: &ArgMatches, id: &str) -> bool {
    m.try_contains_id(id).unwrap_or(false)
}

fn flag_set(m: &ArgMatches, id: &str) -> bool {
    given(m, id) && m.get_flag(id)
}

fn one<'m, T: Clone + Send + Sync + 'static>(m: &'m ArgMatches, id: &str) -> Option<&'m T> {
    given(m, id).then(|| m.get_one::<T>(id)).flatten()
}

fn many<'m, T: Clone + Send + Sync + 'static>(m: &'m ArgMatches, id: &str) -> Option<clap::parser::ValuesRef<'m, T>> {
    given(m, id).then(|| m.get_many::<T>(id)).flatten()
}

/// Occurrences of `id` with the argv index of each: `(index, values)`.
fn occurrences(m: &ArgMatches, id: &str) -> Vec<(usize, Vec<OsString>)> {
    if !given(m, id) {
        return Vec::new();
    }
    let (Some(idx), Some(occ)) = (m.indices_of(id), m.get_occurrences::<OsString>(id)) else {
        return Vec::new();
    };
    let idx: Vec<usize> = idx.collect();
    let mut out = Vec::new();
    let mut at = 0;
    for o in occ {
        let vals: Vec<OsString> = o.cloned().collect();
        let n = vals.len();
        out.push((idx.get(at).copied().unwrap_or(usize::MAX), vals));
        at += n;
    }
    out
}

fn typed_occurrences<T: Clone + Send + Sync + 'static>(m: &ArgMatches, id: &str) -> Vec<(usize, T)> {
    if !given(m, id) {
        return Vec::new();
    }
    match (m.indices_of(id), m.get_many::<T>(id)) {
        (Some(i), Some(v)) => i.zip(v.cloned()).collect(),
        _ => Vec::new(),
    }
}

/// Whether jail was called as bubblewrap: by a name `bwrap` (a link, or a copy of the binary,
/// which `/proc/self/exe` names) or as `jail [--dry-run[=FORMAT]] --bwrap ...`. Returns the
/// arguments to parse as bubblewrap's, and the `--dry-run` asked for before `--bwrap`.
pub fn bwrap_personality(args: &[OsString]) -> Option<(Vec<OsString>, Option<DryRun>)> {
    let named = |p: &std::path::Path| p.file_name().is_some_and(|n| n == "bwrap");
    let (dry_run, at) = match args.get(1).and_then(|a| a.to_str()) {
        Some("--dry-run" | "--dry-run=text") => (Some(DryRun::Text), 2),
        Some("--dry-run=json") => (Some(DryRun::Json), 2),
        _ => (None, 1),
    };
    if args.get(at).is_some_and(|a| a == "--bwrap") {
        let mut v = vec![OsString::from("bwrap")];
        v.extend(args[at + 1..].iter().cloned());
        return Some((v, dry_run));
    }
    let argv0 = std::path::Path::new(args.first()?);
    if named(argv0) {
        return Some((args.to_vec(), None));
    }
    if argv0.file_name().is_some_and(|n| n == "jail") {
        return None;
    }
    // `/proc/self/exe` as argv[0] (a sandbox re-running itself) keeps the personality.
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    named(&exe).then(|| (args.to_vec(), None))
}

/// A clap or jail usage error, already worded for the one `jail: ...` line.
#[derive(Debug)]
pub struct UsageError(pub String);

pub fn parse(args: Vec<OsString>) -> Result<Parsed, UsageError> {
    // `jail doctor [OPTIONS]` is the one subcommand; a command named doctor runs as
    // `jail -- doctor`. The options are jail's, checked against this host.
    if args.get(1).is_some_and(|a| a == "doctor") {
        let mut v: Vec<OsString> = vec![args[0].clone()];
        v.extend(args[2..].iter().cloned());
        if v.iter().any(|a| a == "--") {
            return Err(UsageError("jail doctor takes options, not a command (see jail --help)".into()));
        }
        v.extend(["--".into(), "true".into()]);
        return match parse(v)? {
            Parsed::Run { request, .. } => Ok(Parsed::Doctor(crate::doctor::Wants {
                limits: request.limits.any(),
                map_subids: request.map_subids,
                strict_landlock: request.landlock == Some(crate::spec::LandlockMode::Strict),
                allow_hosts: request.allow_hosts.clone(),
                protect: request.protect.clone(),
                root_tree: request.fs.iter().rev().find_map(|(_, op)| match op {
                    FsOp::Bind { src, dest, .. }
                        if crate::spec::same_path(dest, std::path::Path::new("/"))
                            && !crate::spec::same_path(src, std::path::Path::new("/")) =>
                    {
                        Some(src.clone())
                    }
                    _ => None,
                }),
            })),
            other => Ok(other),
        };
    }
    // `jail rootfs ...`: trees for --ro-bind DIR /, made without root.
    if args.get(1).is_some_and(|a| a == "rootfs") {
        return crate::tree::parse(&args[2..]).map(Parsed::Rootfs).map_err(UsageError);
    }
    // clap reads the arguments by reference; the raw words stay for the --dry-run check.
    let raw = &args;
    // The options the words name first; anything it refuses goes to the whole command line.
    let parsed =
        command_naming(raw).try_get_matches_from(raw.iter()).or_else(|_| command().try_get_matches_from(raw.iter()));
    let m = match parsed {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
                    let colour = wants_colour(tty, std::env::var_os("NO_COLOR"));
                    let text = if colour { e.render().ansi().to_string() } else { e.render().to_string() };
                    Ok(Parsed::Print(text))
                }
                _ => {
                    let text = e.render().to_string();
                    let first = text.lines().next().unwrap_or("invalid command line");
                    let first = first.strip_prefix("error: ").unwrap_or(first);
                    Err(UsageError(format!("{first}{} (see jail --help)", valid_values(&e))))
                }
            };
        }
    };
    let dry_run = one::<String>(&m, "dry-run").map(|f| if f == "json" { DryRun::Json } else { DryRun::Text });
    // `--dry-run json` would plan a command named json; nobody means that without a `--`.
    if let (Some(_), Some(first)) =
        (given(&m, "dry-run").then(|| m.index_of("dry-run")).flatten(), one::<OsString>(&m, "command"))
    {
        let options = raw.iter().skip(1).take_while(|a| *a != "--").collect::<Vec<_>>();
        let bare = options.windows(2).any(|w| w[0] == "--dry-run" && w[1] == first);
        if bare && (first == "json" || first == "text") {
            return Err(UsageError(format!(
                "--dry-run {0}: the format needs an equals sign (--dry-run={0}); to plan a command named {0}, \
                 write --dry-run -- {0}",
                first.to_string_lossy()
            )));
        }
    }
    if given(&m, "profile") && m.value_source("profile") == Some(clap::parser::ValueSource::CommandLine) {
        return with_profiles(raw, &m);
    }
    let request = request(&m).map_err(UsageError)?;
    Ok(Parsed::Run { request: Box::new(request), dry_run })
}

/// Re-parses with each `--profile`'s words first and the command line (without its
/// `--profile` options) after them.
fn with_profiles(raw: &[OsString], m: &ArgMatches) -> Result<Parsed, UsageError> {
    let mut drop = std::collections::BTreeSet::new();
    let mut front: Vec<OsString> = Vec::new();
    let mut given = Vec::new();
    for (_, path) in typed_occurrences::<PathBuf>(m, "profile") {
        // The first unclaimed `--profile FILE` (two words) or `--profile=FILE` (one).
        let joined = {
            let mut w = OsString::from("--profile=");
            w.push(path.as_os_str());
            w
        };
        let at = (1..raw.len()).filter(|j| !drop.contains(j)).find(|&j| {
            raw.get(j) == Some(&joined)
                || (raw.get(j).map(|w| w.as_os_str()) == Some(path.as_os_str())
                    && j > 0
                    && raw.get(j - 1).is_some_and(|f| f == "--profile"))
        });
        match at {
            Some(j) if raw[j] == joined => {
                drop.insert(j);
            }
            Some(j) => drop.extend([j - 1, j]),
            None => {
                return Err(UsageError(format!("--profile {}: cannot find it on the command line", path.display())))
            }
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            UsageError(format!(
                "--profile {}: {}",
                path.display(),
                crate::error::errno_text(crate::error::errno_of(&e))
            ))
        })?;
        let words = profile::words(&path, &text, &command()).map_err(UsageError)?;
        given.push((path, words.iter().map(|w| w.to_string_lossy().into_owned()).collect::<Vec<_>>()));
        front.extend(words);
    }
    let mut args: Vec<OsString> = vec![raw[0].clone()];
    args.extend(front);
    args.extend(raw.iter().enumerate().skip(1).filter(|(i, _)| !drop.contains(i)).map(|(_, w)| w.clone()));
    match parse(args)? {
        Parsed::Run { mut request, dry_run } => {
            request.profiles = given;
            Ok(Parsed::Run { request, dry_run })
        }
        other => Ok(other),
    }
}

/// Colour only on a terminal, and never with a non-empty NO_COLOR (no-color.org).
fn wants_colour(stdout_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// `: valid values: a, b` for an invalid value, from clap's own list.
fn valid_values(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(v)) if !v.is_empty() => {
            let case = if e.get(ContextKind::InvalidArg).is_some_and(|a| a.to_string().contains("--cap-")) {
                "; case does not matter, the CAP_ prefix is optional"
            } else {
                ""
            };
            format!("; valid values: {}{case}", v.join(", "))
        }
        _ => String::new(),
    }
}

/// Pairs each modifier with the operation right after it, as bubblewrap does.
fn filesystem(m: &ArgMatches) -> Result<Vec<(String, FsOp)>, String> {
    enum Item {
        Op(&'static fs_ops::FsOption, Vec<OsString>),
        Perms(u32),
        Size(u64),
        Layer(OsString),
    }
    let mut items: Vec<(usize, Item)> = Vec::new();
    for o in fs_ops::TABLE {
        for (i, vals) in occurrences(m, o.flag) {
            items.push((i, Item::Op(o, vals)));
        }
    }
    items.extend(typed_occurrences::<u32>(m, "perms").into_iter().map(|(i, p)| (i, Item::Perms(p))));
    items.extend(typed_occurrences::<u64>(m, "size").into_iter().map(|(i, s)| (i, Item::Size(s))));
    items.extend(typed_occurrences::<OsString>(m, "overlay-src").into_iter().map(|(i, s)| (i, Item::Layer(s))));
    items.sort_by_key(|(i, _)| *i);

    let mut ops = Vec::new();
    let (mut perms, mut size, mut lower) = (None, None, Vec::new());
    for (_, item) in items {
        match item {
            Item::Perms(p) => perms = Some(p),
            Item::Size(s) => size = Some(s),
            Item::Layer(l) => lower.push(PathBuf::from(l)),
            Item::Op(o, vals) => {
                if !lower.is_empty() && o.layers == 0 {
                    return Err(fs_ops::LONE_OVERLAY_SRC.into());
                }
                if lower.len() < o.layers {
                    return Err(fs_ops::too_few_layers(o));
                }
                let id = o.flag;
                if perms.is_some() && !o.perms {
                    return Err(format!("--perms must be followed by {}, not --{id}", fs_ops::taking(|o| o.perms)));
                }
                if size.is_some() && !o.size {
                    return Err(format!("--size must be followed by {}, not --{id}", fs_ops::taking(|o| o.size)));
                }
                let modifiers =
                    fs_ops::Modifiers { perms: perms.take(), size: size.take(), lower: std::mem::take(&mut lower) };
                ops.push((format!("--{id}"), (o.build)(&vals, modifiers)?));
            }
        }
    }
    if !lower.is_empty() {
        return Err(fs_ops::LONE_OVERLAY_SRC.into());
    }
    if perms.is_some() {
        return Err("--perms must be followed by the option it applies to".into());
    }
    if size.is_some() {
        return Err(format!("--size must be followed by {}", fs_ops::taking(|o| o.size)));
    }
    Ok(ops)
}

fn request(m: &ArgMatches) -> Result<Request, String> {
    let mut env: Vec<(usize, (String, Option<String>))> = Vec::new();
    for (i, v) in occurrences(m, "setenv") {
        let name = v[0].to_string_lossy().into_owned();
        if name.is_empty() || name.contains('=') {
            return Err(format!("--setenv {name:?}: not a valid variable name"));
        }
        env.push((i, (name, Some(v[1].to_string_lossy().into_owned()))));
    }
    for (i, v) in typed_occurrences::<String>(m, "unsetenv") {
        env.push((i, (v, None)));
    }
    env.sort_by_key(|(i, _)| *i);

    let mut caps: Vec<(usize, (bool, String))> = typed_occurrences::<String>(m, "cap-add")
        .into_iter()
        .map(|(i, c)| (i, (true, c)))
        .chain(typed_occurrences::<String>(m, "cap-drop").into_iter().map(|(i, c)| (i, (false, c))))
        .collect();
    caps.sort_by_key(|(i, _)| *i);

    Ok(Request {
        share_net: flag_set(m, "share-net"),
        share_ipc: flag_set(m, "share-ipc"),
        share_uts: flag_set(m, "share-uts"),
        share_pid: flag_set(m, "share-pid"),
        share_cgroup: flag_set(m, "share-cgroup"),
        uid: one::<u32>(m, "uid").copied(),
        gid: one::<u32>(m, "gid").copied(),
        map_subids: flag_set(m, "map-subids"),
        fs: filesystem(m)?,
        hostname: one::<String>(m, "hostname").cloned(),
        chdir: one::<PathBuf>(m, "chdir").cloned(),
        clearenv: flag_set(m, "clearenv"),
        env: env.into_iter().map(|(_, e)| e).collect(),
        argv0: one::<OsString>(m, "argv0").cloned(),
        as_pid_1: flag_set(m, "as-pid-1"),
        new_session: flag_set(m, "new-session"),
        caps: caps.into_iter().map(|(_, c)| c).collect(),
        landlock: one::<String>(m, "landlock").map(|v| match v.as_str() {
            "off" => crate::spec::LandlockMode::Off,
            "strict" => crate::spec::LandlockMode::Strict,
            _ => crate::spec::LandlockMode::BestEffort,
        }),
        allow_connect: many::<u16>(m, "allow-connect").map(|v| v.copied().collect()).unwrap_or_default(),
        allow_bind: many::<u16>(m, "allow-bind").map(|v| v.copied().collect()).unwrap_or_default(),
        seccomp_policy: one::<String>(m, "seccomp-policy").cloned(),
        seccomp_fd: one::<i32>(m, "seccomp").copied(),
        add_seccomp_fds: many::<i32>(m, "add-seccomp-fd").map(|v| v.copied().collect()).unwrap_or_default(),
        disable_userns: flag_set(m, "disable-userns"),
        allow_userns: flag_set(m, "allow-userns"),
        verbose: flag_set(m, "verbose"),
        limits: crate::spec::limits::Limits {
            mem: one::<u64>(m, "mem").copied(),
            mem_high: one::<u64>(m, "mem-high").copied(),
            swap: one::<u64>(m, "swap").copied(),
            cpu_percent: one::<u32>(m, "cpu").copied(),
            cpu_weight: one::<u64>(m, "cpu-weight").copied(),
            pids: one::<u64>(m, "pids").copied(),
            cpuset: one::<String>(m, "cpuset").cloned(),
            io_weight: one::<u64>(m, "io-weight").copied(),
        },
        slice: one::<String>(m, "slice").cloned(),
        timeout: one::<std::time::Duration>(m, "timeout").copied(),
        stats: flag_set(m, "stats"),
        stats_fd: one::<i32>(m, "stats-json").copied(),
        protect: many::<PathBuf>(m, "protect").map(|v| v.cloned().collect()).unwrap_or_default(),
        allow_hosts: many::<String>(m, "allow-host").map(|v| v.cloned().collect()).unwrap_or_default(),
        report: one::<String>(m, "report").map(|r| match r.as_str() {
            "json" => crate::spec::Report::Json,
            "none" => crate::spec::Report::None,
            _ => crate::spec::Report::Text,
        }),
        command: many::<OsString>(m, "command").map(|v| v.cloned().collect()).unwrap_or_default(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(args: &[&str]) -> Result<Request, String> {
        let mut v = vec![OsString::from("jail")];
        v.extend(args.iter().map(OsString::from));
        match parse(v) {
            Ok(Parsed::Run { request, .. }) => Ok(*request),
            Ok(Parsed::Print(_)) => Err("printed".into()),
            Ok(Parsed::Doctor(_)) => Err("doctor".into()),
            Ok(Parsed::Rootfs(_)) => Err("rootfs".into()),
            Err(UsageError(e)) => Err(e),
        }
    }

    #[test]
    fn overlay_sources_bind_to_the_next_overlay_in_argv_order() {
        use crate::spec::OverlayUpper;
        let r = req(&[
            "--overlay-src",
            "/a",
            "--overlay-src",
            "/b",
            "--tmp-overlay",
            "/x",
            "--ro-bind-fd",
            "3",
            "/y",
            "--",
            "true",
        ])
        .unwrap();
        assert!(matches!(&r.fs[0].1, FsOp::Overlay { lower, upper: OverlayUpper::Tmpfs, .. }
            if lower == &[PathBuf::from("/a"), PathBuf::from("/b")]));
        assert!(matches!(&r.fs[1].1, FsOp::BindFd { fd: 3, readonly: true, .. }));
        assert_eq!(
            req(&["--overlay-src", "/a", "--ro-overlay", "/x", "true"]).unwrap_err(),
            "--ro-overlay requires at least two --overlay-src"
        );
        assert!(req(&["--overlay-src", "/a", "--tmpfs", "/x", "true"])
            .unwrap_err()
            .starts_with("--overlay-src must be followed"));
        assert!(req(&["--overlay-src", "/a", "true"]).unwrap_err().starts_with("--overlay-src must be followed"));
    }

    #[test]
    fn bwrap_is_chosen_by_name_or_by_flag() {
        let v = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(bwrap_personality(&v(&["jail", "--", "true"])).is_none());
        let (args, dry) = bwrap_personality(&v(&["/usr/bin/bwrap", "--bind", "/", "/", "true"])).unwrap();
        assert_eq!((args.len(), dry), (5, None));
        let (args, dry) = bwrap_personality(&v(&["jail", "--dry-run=json", "--bwrap", "true"])).unwrap();
        assert_eq!((args, dry), (v(&["bwrap", "true"]), Some(DryRun::Json)));
    }

    #[test]
    fn doctor_is_the_only_subcommand() {
        let doctor = |a: &[&str]| parse(a.iter().map(OsString::from).collect());
        assert!(matches!(doctor(&["jail", "doctor"]), Ok(Parsed::Doctor(w)) if w == Default::default()));
        let Ok(Parsed::Doctor(w)) = doctor(&["jail", "doctor", "--mem", "48M", "--map-subids"]) else { panic!() };
        assert!(w.limits && w.map_subids && !w.strict_landlock);
        assert!(doctor(&["jail", "doctor", "--", "sh"]).is_err());
        assert_eq!(req(&["--", "doctor"]).unwrap().command, [OsString::from("doctor")]);
    }

    #[test]
    fn limits_parse_with_units() {
        let r = req(&["--mem", "48M", "--cpu", "20%", "--pids", "64", "--timeout", "5m", "true"]).unwrap();
        assert_eq!(r.limits.mem, Some(48 << 20));
        assert_eq!(r.limits.cpu_percent, Some(20));
        assert_eq!(r.limits.pids, Some(64));
        assert_eq!(r.timeout, Some(std::time::Duration::from_secs(300)));
        let e = req(&["--mem", "48Q", "true"]).unwrap_err();
        assert!(e.contains("--mem"), "{e}");
        let e = req(&["--cpu", "0%", "true"]).unwrap_err();
        assert!(e.contains("--cpu"), "{e}");
    }

    fn dests(r: &Request) -> Vec<String> {
        r.fs.iter().map(|(f, op)| format!("{f} {}", op.dest().display())).collect()
    }

    #[test]
    fn filesystem_options_keep_argv_order_across_kinds() {
        let r = req(&[
            "--tmpfs",
            "/a",
            "--ro-bind",
            "/x",
            "/b",
            "--dir",
            "/c",
            "--bind",
            "/y",
            "/d",
            "--tmpfs",
            "/e",
            "--",
            "true",
        ])
        .unwrap();
        assert_eq!(dests(&r), ["--tmpfs /a", "--ro-bind /b", "--dir /c", "--bind /d", "--tmpfs /e"]);
        assert_eq!(r.command, [OsString::from("true")]);
    }

    #[test]
    fn modifiers_bind_to_the_next_operation() {
        let r =
            req(&["--tmpfs", "/a", "--size", "1M", "--perms", "700", "--tmpfs", "/b", "--dir", "/c", "true"]).unwrap();
        assert_eq!(r.fs[0].1, FsOp::Tmpfs { dest: "/a".into(), size: None, perms: 0o755 });
        assert_eq!(r.fs[1].1, FsOp::Tmpfs { dest: "/b".into(), size: Some(1 << 20), perms: 0o700 });
        assert_eq!(r.fs[2].1, FsOp::Dir { dest: "/c".into(), perms: None });
    }

    #[test]
    fn modifiers_must_precede_an_operation_that_takes_them() {
        assert!(req(&["--perms", "0700", "--bind", "/a", "/b", "true"])
            .unwrap_err()
            .contains("--perms must be followed"));
        assert!(req(&["--size", "1M", "--dir", "/a", "true"]).unwrap_err().contains("--size must be followed"));
        assert!(req(&["--dir", "/a", "--perms", "0700", "true"]).unwrap_err().contains("--perms"));
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = req(&["--size", "12Q", "--tmpfs", "/a", "true"]).unwrap_err();
        assert!(e.contains("--size"), "{e}");
        let e = req(&["--uid", "x", "true"]).unwrap_err();
        assert!(e.contains("--uid"), "{e}");
        let e = req(&["--no-such-option", "true"]).unwrap_err();
        assert!(e.contains("--no-such-option"), "{e}");
        let e = req(&["--file", "x", "/a", "true"]).unwrap_err();
        assert!(e.contains("--file"), "{e}");
    }

    #[test]
    fn env_and_caps_keep_order() {
        let r = req(&[
            "--setenv",
            "A",
            "1",
            "--unsetenv",
            "B",
            "--setenv",
            "B",
            "2",
            "--cap-add",
            "ALL",
            "--cap-drop",
            "cap_sys_admin",
            "env",
        ])
        .unwrap();
        assert_eq!(r.env, [("A".into(), Some("1".into())), ("B".into(), None), ("B".into(), Some("2".into()))]);
        assert_eq!(r.caps, [(true, "ALL".into()), (false, "cap_sys_admin".into())]);
    }

    #[test]
    fn command_arguments_are_not_options() {
        let r = req(&["sh", "-c", "echo --bind"]).unwrap();
        assert_eq!(r.command.len(), 3);
        assert!(r.fs.is_empty());
    }

    #[test]
    fn dry_run_formats() {
        let p = parse(["jail", "--dry-run=json", "true"].iter().map(OsString::from).collect()).unwrap();
        assert!(matches!(p, Parsed::Run { dry_run: Some(DryRun::Json), .. }));
        let p = parse(["jail", "--dry-run", "true"].iter().map(OsString::from).collect()).unwrap();
        assert!(matches!(p, Parsed::Run { dry_run: Some(DryRun::Text), .. }));
    }

    #[test]
    fn dry_run_without_equals_before_a_format_word_is_an_error() {
        let e = req(&["--dry-run", "json"]).unwrap_err();
        assert!(e.starts_with("--dry-run json: the format needs an equals sign"), "{e}");
        assert_eq!(req(&["--dry-run", "--", "json"]).unwrap().command, [OsString::from("json")]);
        assert_eq!(req(&["--dry-run=json", "json"]).unwrap().command, [OsString::from("json")]);
    }

    #[test]
    fn invalid_values_list_the_valid_ones() {
        let e = req(&["--dry-run=yaml", "true"]).unwrap_err();
        assert!(e.contains("; valid values: text, json"), "{e}");
        let e = req(&["--cap-add", "nope", "true"]).unwrap_err();
        assert!(e.contains("CAP_NET_ADMIN") && e.contains("case does not matter"), "{e}");
        for spelling in ["net_admin", "NET_ADMIN", "cap_net_admin", "Cap_Net_Admin"] {
            assert_eq!(req(&["--cap-add", spelling, "true"]).unwrap().caps, [(true, spelling.to_string())]);
        }
    }

    #[test]
    fn help_has_colour_only_on_a_terminal_without_no_color() {
        assert!(wants_colour(true, None));
        assert!(wants_colour(true, Some("".into())));
        assert!(!wants_colour(true, Some("1".into())));
        assert!(!wants_colour(false, None));
    }

    #[test]
    fn command_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_option_is_named_by_its_id_so_a_launch_never_leaves_out_one_it_names() {
        for (id, make) in OPTIONS_BEFORE_FS.iter().chain(OPTIONS_AFTER_FS) {
            let a = make();
            assert_eq!(a.get_id().as_str(), *id);
            assert_eq!(a.get_long(), Some(*id), "{id}");
            assert!(a.get_all_aliases().is_none(), "{id} has an alias the launch's parse would not see");
        }
        let whole = command();
        let ours = OPTIONS_BEFORE_FS.len() + fs_ops::TABLE.len() + OPTIONS_AFTER_FS.len() + 1;
        assert_eq!(whole.get_arguments().count(), ours, "an option outside the tables");
        let shorts: Vec<char> = whole.get_arguments().filter_map(|a| a.get_short()).collect();
        assert_eq!(shorts, ['v'], "named_options knows only -v");
    }

    /// A value each option accepts, by its value name or its first possible value.
    fn sample(a: &Arg, name: &str) -> String {
        if let Some(v) = a.get_possible_values().first() {
            return v.get_name().to_string();
        }
        match name {
            "FD" => "3",
            "OCTAL" => "700",
            "SIZE" | "BYTES" => "1M",
            "N" | "PORT" | "UID" | "GID" => "5",
            "PCT" => "20%",
            "CAP" => "net_admin",
            "DURATION" => "5s",
            "HOST" => "example.org",
            "LIST" => "0",
            _ => "/tmp",
        }
        .to_string()
    }

    /// Parses `words` as a launch does (only the options named) and with the whole command line.
    fn both(words: &[String]) -> (Result<String, String>, Result<String, String>) {
        let mut v = vec![OsString::from("jail")];
        v.extend(words.iter().map(OsString::from));
        let plan = |c: Command| match c.try_get_matches_from(v.iter()) {
            Ok(m) => request(&m).map(|r| format!("{r:?}")),
            Err(e) => Err(e.kind().to_string()),
        };
        (plan(command_naming(&v)), plan(command()))
    }

    #[test]
    fn a_launch_parses_every_option_as_the_whole_command_line_does() {
        let mut all: Vec<String> = Vec::new();
        for a in command().get_arguments().filter(|a| a.get_long().is_some()) {
            let mut words = vec![format!("--{}", a.get_long().unwrap_or_default())];
            let names: Vec<String> = a.get_value_names().unwrap_or_default().iter().map(|n| n.to_string()).collect();
            if a.get_action().takes_values() {
                let names = if names.is_empty() { vec!["VALUE".to_string()] } else { names };
                words.extend(names.iter().map(|n| sample(a, n)));
            }
            all.extend(words.clone());
            words.extend(["--".into(), "true".into()]);
            let (launch, whole) = both(&words);
            assert_eq!(launch.is_ok(), whole.is_ok(), "{words:?}: {launch:?} / {whole:?}");
            if let (Ok(l), Ok(w)) = (&launch, &whole) {
                assert_eq!(l, w, "{words:?}");
            }
        }
        // All of them at once, a word that names no option, a value like an option, short flags.
        for extra in [
            vec![],
            vec!["--nope".to_string()],
            vec!["-vv".into()],
            vec!["--setenv".into(), "A".into(), "--dev".into()],
        ] {
            let words: Vec<String> = all.iter().cloned().chain(extra).chain(["--".into(), "true".into()]).collect();
            let (launch, whole) = both(&words);
            assert!(launch.is_err() || whole.is_ok(), "the launch accepts what the whole refuses: {whole:?}");
            if let (Ok(l), Ok(w)) = (&launch, &whole) {
                assert_eq!(l, w);
            }
        }
    }
}
