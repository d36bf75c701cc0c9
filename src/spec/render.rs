//! `--dry-run`: the plan as text for people, or as JSON for tools.

use std::fmt::{self, Write as _};

use super::{BindMode, FsOp, IdMap, OverlayUpper, Spec};

fn q(p: &std::path::Path) -> String {
    shell_words::quote(&p.to_string_lossy()).into_owned()
}

impl fmt::Display for FsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsOp::Bind { src, dest, mode, optional } => {
                let flag = match mode {
                    BindMode::ReadWrite => "bind",
                    BindMode::ReadOnly => "ro-bind",
                    BindMode::Devices => "dev-bind",
                };
                write!(f, "{flag}{} {} {}", if *optional { "-try" } else { "" }, q(src), q(dest))
            }
            FsOp::RemountRo { dest } => write!(f, "remount-ro {}", q(dest)),
            FsOp::Tmpfs { dest, size, perms } => {
                write!(f, "tmpfs {} (mode {perms:04o}", q(dest))?;
                if let Some(s) = size {
                    write!(f, ", size {s}")?;
                }
                f.write_str(")")
            }
            FsOp::Proc { dest } => write!(f, "proc {}", q(dest)),
            FsOp::Dev { dest } => write!(f, "dev {}", q(dest)),
            FsOp::Mqueue { dest } => write!(f, "mqueue {}", q(dest)),
            FsOp::Dir { dest, perms } => match perms {
                Some(p) => write!(f, "dir {} (mode {p:04o})", q(dest)),
                None => write!(f, "dir {}", q(dest)),
            },
            FsOp::Symlink { target, dest } => write!(f, "symlink {} -> {}", q(dest), q(target)),
            FsOp::File { fd, dest, perms } => write!(f, "file {} from fd {fd} (mode {perms:04o})", q(dest)),
            FsOp::BindData { fd, dest, perms, readonly } => {
                write!(f, "{}bind-data {} from fd {fd} (mode {perms:04o})", if *readonly { "ro-" } else { "" }, q(dest))
            }
            FsOp::Chmod { path, perms } => write!(f, "chmod {perms:04o} {}", q(path)),
            FsOp::Protect { dest } => write!(f, "protect {} (read-only, cannot be created)", q(dest)),
            FsOp::BindFd { fd, dest, readonly } => {
                write!(f, "{}bind-fd {fd} {}", if *readonly { "ro-" } else { "" }, q(dest))
            }
            FsOp::Overlay { lower, upper, dest } => {
                let lower: Vec<String> = lower.iter().map(|l| q(l)).collect();
                match upper {
                    OverlayUpper::Dirs { upper, work } => {
                        write!(f, "overlay {} over {} (upper {}, work {})", q(dest), lower.join(" "), q(upper), q(work))
                    }
                    OverlayUpper::Tmpfs => write!(f, "tmp-overlay {} over {}", q(dest), lower.join(" ")),
                    OverlayUpper::ReadOnly => write!(f, "ro-overlay {} over {}", q(dest), lower.join(" ")),
                }
            }
        }
    }
}

fn map_text(m: &IdMap) -> String {
    let lines: Vec<String> = m.lines.iter().map(|l| format!("{}->{} ({})", l.inside, l.outside, l.count)).collect();
    let via = m.helper.as_ref().map_or(String::new(), |h| format!(" via {}", h.display()));
    format!("{}{via}", lines.join(", "))
}

fn landlock_text(p: &super::landlock::Plan) -> String {
    use super::landlock::{missing, Grant, Mode};
    let mode = match p.mode {
        Mode::Off => return "landlock:     off\n".into(),
        Mode::BestEffort => "best-effort",
        Mode::Strict => "strict",
    };
    let mut s = format!("landlock:     {mode}, kernel ABI {}, scoped abstract sockets and signals\n", p.kernel_abi);
    for r in &p.rules {
        let g = match r.grant {
            Grant::Read => "read, execute",
            Grant::ReadWrite => "read, write, execute",
            Grant::Devices => "read, write, execute, device ioctl",
        };
        let _ = writeln!(s, "  {} ({g})", q(&r.path));
    }
    let ports = |v: &Option<Vec<u16>>| v.as_ref().map(|v| v.iter().map(u16::to_string).collect::<Vec<_>>().join(","));
    if let Some(c) = ports(&p.connect) {
        let _ = writeln!(s, "  tcp connect only to: {c}");
    }
    if let Some(b) = ports(&p.bind) {
        let _ = writeln!(s, "  tcp bind only to: {b}");
    }
    let gaps = missing(p);
    if !gaps.is_empty() {
        let _ = writeln!(s, "  not enforceable on this kernel: {}", gaps.join(", "));
    }
    s
}

impl Spec {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for (file, words) in &self.profiles {
            let words: Vec<String> = words.iter().map(|w| shell_words::quote(w).into_owned()).collect();
            let _ = writeln!(s, "profile:      {} gave: {}", q(file), words.join(" "));
        }
        let ns = &self.namespaces;
        let mut new = vec![];
        let mut shared = Vec::new();
        if ns.user && self.joins.userns.is_none() {
            new.push("user");
        } else if self.joins.userns.is_none() {
            shared.push("user");
        }
        new.push("mount");
        for (on, name) in [(ns.pid, "pid"), (ns.net, "net"), (ns.ipc, "ipc"), (ns.uts, "uts"), (ns.cgroup, "cgroup")] {
            if on {
                new.push(name)
            } else {
                shared.push(name)
            }
        }
        let _ = writeln!(
            s,
            "namespaces:   new {}{}",
            new.join(" "),
            if shared.is_empty() { String::new() } else { format!("; shared {}", shared.join(" ")) }
        );
        if let Some(fd) = self.joins.userns {
            let _ = writeln!(s, "joins:        user namespace of fd {fd}");
        }
        if let Some(fd) = self.joins.pidns {
            let _ = writeln!(s, "joins:        pid namespace of fd {fd} (for the command)");
        }
        if let Some(fd) = self.joins.userns2 {
            let _ = writeln!(s, "joins:        user namespace of fd {fd} once the root is built");
        }
        match (&self.proxy, ns.net) {
            (Some(p), _) => {
                let hosts: Vec<String> = p.allow.iter().map(ToString::to_string).collect();
                let _ = writeln!(
                    s,
                    "network:      loopback only; jail's proxy on 127.0.0.1:{} (HTTP, CONNECT, SOCKS5) reaches only: {}",
                    p.port,
                    hosts.join(" ")
                );
            }
            (None, true) => {
                let _ = writeln!(s, "network:      loopback only (lo up)");
            }
            (None, false) => {}
        }
        let _ = writeln!(s, "uid:          {} (map {})", self.uid, map_text(&self.uid_map));
        let _ = writeln!(s, "gid:          {} (map {})", self.gid, map_text(&self.gid_map));
        let _ = writeln!(s, "filesystem:   new tmpfs root, then in order:");
        let width = self.fs.len().to_string().len();
        for (i, st) in self.fs.iter().enumerate() {
            let why = st.added.map_or(String::new(), |w| format!("    [added: {w}]"));
            let _ = writeln!(s, "  {:>width$}. {}{why}", i + 1, st.op);
        }
        let _ = writeln!(s, "              then pivot_root, old root detached");
        for ph in &self.placeholders {
            let _ = writeln!(
                s,
                "placeholder:  {} made on the host for --protect {}, removed when the sandbox ends",
                q(&ph.base.join(&ph.rel)),
                q(&ph.inside)
            );
        }
        if let Some(h) = &self.hostname {
            let _ = writeln!(s, "hostname:     {h}");
        }
        let cwd = match &self.chdir {
            Some(d) => d.display().to_string(),
            None => format!("{} if present inside, else /", self.caller_cwd.display()),
        };
        let _ = writeln!(s, "directory:    {cwd}");
        let mut env = Vec::new();
        if self.env.cleared {
            env.push("cleared".to_string());
        } else {
            env.push("inherited".to_string());
        }
        env.extend(self.env.set.iter().map(|(k, v)| format!("set {k}={}", shell_words::quote(v))));
        env.extend(self.env.unset.iter().map(|k| format!("unset {k}")));
        let _ = writeln!(s, "environment:  {}", env.join(", "));
        let pid1 = if !ns.pid {
            "none (pid namespace shared)"
        } else if self.as_pid_1 {
            "the command"
        } else if self.init_dumpable() {
            "jail's init (reaps orphans, forwards signals; dumpable, as its pid is published)"
        } else {
            "jail's init (reaps orphans, forwards signals, not ptraceable)"
        };
        let _ = writeln!(s, "pid 1:        {pid1}");
        if self.new_session {
            let _ = writeln!(s, "session:      new (setsid)");
        }
        let p = &self.protocol;
        for (fd, what) in [
            (p.info_fd, "info: child pid and namespace ids as JSON"),
            (p.json_status_fd, "json status: child pid and namespace ids, then the exit code"),
            (p.block_fd, "block: the command waits for a byte"),
            (p.userns_block_fd, "userns block: the caller writes the id maps, then a byte"),
            (p.sync_fd, "sync: held open by init while the sandbox lives"),
        ] {
            if let Some(fd) = fd {
                let _ = writeln!(s, "fd {fd}:{:width$}{what}", "", width = 9usize.saturating_sub(fd.to_string().len()));
            }
        }
        for l in &p.lock_files {
            let _ = writeln!(s, "lock file:    {} (read lock held by init)", q(l));
        }
        if self.die_with_parent {
            let _ = writeln!(s, "lifetime:     jail dies with its parent (--die-with-parent)");
        }
        if self.userns_limit {
            let _ = writeln!(s, "user ns:      max_user_namespaces=1 in a nested user namespace (--disable-userns)");
        }
        if self.inherit_fds {
            let _ = writeln!(s, "descriptors:  the caller's reach the command, except those given to options");
        }
        let caps = if self.caps.is_empty() { "none".to_string() } else { self.caps.join(" ") };
        let _ = writeln!(s, "capabilities: {caps}");
        let _ = writeln!(s, "no_new_privs: yes");
        s.push_str(&landlock_text(&self.landlock));
        if self.personality == super::Personality::Bwrap {
            let n = self.seccomp.fds.len();
            let what = if n == 0 {
                "none (bubblewrap loads only programs it is given)".to_string()
            } else {
                format!("the {n} program(s) from --seccomp/--add-seccomp-fd, nothing of jail's")
            };
            let _ = writeln!(s, "seccomp:      {what}");
        } else {
            let _ = writeln!(s, "seccomp:      {}", super::seccomp::summary(&self.seccomp));
        }
        match &self.cgroup {
            None => {
                let _ = writeln!(s, "limits:       none (no cgroup)");
            }
            Some(p) => {
                let _ = writeln!(
                    s,
                    "limits:       transient scope jail-PID.scope in {} from the systemd user manager \
                     (else a delegated cgroup v2 subtree), command in its payload leaf",
                    p.slice
                );
                let _ = writeln!(s, "  {}", super::limits::describe(&p.limits).join(" "));
                use super::limits::Level;
                let files: Vec<String> =
                    p.limits.expected_files(Level::Scope).iter().map(|(f, v)| format!("{f}={v}")).collect();
                let after: Vec<String> =
                    p.limits.expected_files(Level::Payload).iter().map(|(f, v)| format!("payload/{f}={v}")).collect();
                let mut line = files.join(" ");
                if !after.is_empty() {
                    line.push_str(&format!("; once jail's setup in the sandbox is done: {}", after.join(" ")));
                }
                let _ = writeln!(s, "  read back: {line}");
            }
        }
        if let Some(t) = self.timeout {
            let _ = writeln!(s, "timeout:      {:.3} s, then SIGTERM, SIGKILL 5 s later (exit 124)", t.as_secs_f64());
        }
        let argv: Vec<&str> = self.argv.iter().map(String::as_str).collect();
        let _ = write!(s, "command:      {}", shell_words::join(argv));
        if let Some(a0) = &self.argv0 {
            let _ = write!(s, " (argv[0] {a0})");
        }
        s.push('\n');
        s
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
