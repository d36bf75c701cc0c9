//! `jail doctor [OPTIONS]`: what this host offers jail, one line per item, with the fix for what
//! is missing. Exits 125 when something jail's defaults need is missing, or something the given
//! options ask for (limits, --map-subids, --landlock=strict); 0 otherwise.

use std::path::Path;

use crate::cgroup;
use crate::confine::landlock::kernel_abi;

struct Report {
    lines: Vec<String>,
    needed_missing: bool,
}

impl Report {
    fn ok(&mut self, what: &str, detail: &str) {
        self.lines.push(format!("ok       {what}: {detail}"));
    }

    /// `needed`: jail's defaults cannot work without it.
    fn missing(&mut self, what: &str, detail: &str, fix: &str, needed: bool) {
        self.needed_missing |= needed;
        let tag = if needed { "MISSING " } else { "missing " };
        self.lines.push(format!("{tag} {what}: {detail}; fix: {fix}"));
    }
}

fn read_file(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A 65536-id range from 100000 up that no line of either file overlaps (`name:start:count`).
fn free_subid_range(subuid: &str, subgid: &str) -> (u64, u64) {
    const SIZE: u64 = 65536;
    let taken: Vec<(u64, u64)> = subuid
        .lines()
        .chain(subgid.lines())
        .filter_map(|l| {
            let mut f = l.split(':').skip(1);
            let start = f.next()?.trim().parse::<u64>().ok()?;
            let count = f.next()?.trim().parse::<u64>().ok()?;
            Some((start, start.saturating_add(count)))
        })
        .collect();
    let mut lo = 100_000;
    // Each move goes past an overlapping range, so this ends after at most one pass per range.
    while let Some(&(_, end)) = taken.iter().find(|(s, e)| *s < lo + SIZE && lo < *e) {
        lo = end.div_ceil(SIZE) * SIZE;
    }
    (lo, lo + SIZE - 1)
}

fn sysctl(name: &str) -> Option<String> {
    std::fs::read_to_string(Path::new("/proc/sys").join(name.replace('.', "/"))).ok().map(|s| s.trim().to_string())
}

/// Tries to create a user namespace in a short-lived child.
fn userns_works() -> Result<(), nix::errno::Errno> {
    // doctor is single-threaded here: the D-Bus check comes later.
    match crate::sys::linux::fork_with(libc::CLONE_NEWUSER)? {
        // SAFETY: the child ends at once.
        None => unsafe { libc::_exit(0) },
        Some(pid) => {
            let _ = nix::sys::wait::waitpid(pid, None);
            Ok(())
        }
    }
}

/// What the options given to `jail doctor` ask of the host, beyond the defaults.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Wants {
    pub limits: bool,
    pub map_subids: bool,
    pub strict_landlock: bool,
    /// `--allow-host` entries: each name should resolve here, where the proxy connects from.
    pub allow_hosts: Vec<String>,
    /// `--protect` paths, as the host sees them.
    pub protect: Vec<std::path::PathBuf>,
    /// The tree bound at `/`, if any (other than the host's own root).
    pub root_tree: Option<std::path::PathBuf>,
}

/// The tree at `/`: whose it is, and whether `--map-subids` can show its owners.
fn root_tree(r: &mut Report, w: &Wants) {
    use std::os::unix::fs::MetadataExt;
    let Some(t) = &w.root_tree else { return };
    let what = format!("tree {}", t.display());
    match std::fs::symlink_metadata(t) {
        Err(e) => r.missing(&what, &e.to_string(), "give the path of a root filesystem tree", true),
        Ok(m) if m.uid() == 0 && nix::unistd::getuid().as_raw() != 0 => r.missing(
            &what,
            "belongs to the host's root, who is not mapped into the sandbox (files show as nobody's; \
             apt, dpkg and su fail with --map-subids)",
            &format!(
                "as root: jail rootfs shift {} --user YOU; or make trees with jail rootfs import/debian",
                t.display()
            ),
            w.map_subids,
        ),
        Ok(m) => r.ok(&what, &format!("owned by uid {}, as --map-subids maps it", m.uid())),
    }
}

/// The network lines: the policy, and whether each allowed name resolves on this host.
fn network(r: &mut Report, w: &Wants) {
    if w.allow_hosts.is_empty() {
        r.ok("network", "the sandbox's own, loopback only; --allow-host HOST reaches named hosts through jail's proxy");
        return;
    }
    r.ok(
        "network",
        &format!(
            "the sandbox's own, loopback only, with jail's proxy on 127.0.0.1:{} for: {}",
            crate::spec::network::PROXY_PORT,
            w.allow_hosts.join(" ")
        ),
    );
    for entry in &w.allow_hosts {
        let what = format!("--allow-host {entry}");
        let rule = match crate::spec::network::HostRule::parse(entry) {
            Ok(rule) => rule,
            Err(e) => {
                r.missing(&what, &format!("{e:#}"), "write HOST, HOST:PORT or *.DOMAIN", true);
                continue;
            }
        };
        if rule.host.starts_with("*.") {
            r.ok(&what, "every name below it, each checked when the sandbox asks for it");
            continue;
        }
        match std::net::ToSocketAddrs::to_socket_addrs(&(rule.host.as_str(), rule.port.unwrap_or(443))) {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => r.ok(&what, &format!("resolves here to {}", a.ip())),
                None => r.missing(&what, "resolves to no address here", "check the name, or this host's DNS", true),
            },
            Err(e) => {
                r.missing(&what, &format!("does not resolve here: {e}"), "check the name, or this host's DNS", true)
            }
        }
    }
}

/// The `--protect` lines: what each path is now on the host.
fn protected(r: &mut Report, w: &Wants) {
    for p in &w.protect {
        let what = format!("--protect {}", p.display());
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                r.missing(&what, "a symbolic link", "protect the path it points to", true)
            }
            Ok(m) => r.ok(
                &what,
                if m.is_dir() { "a directory: it and everything below it read-only" } else { "a file: read-only" },
            ),
            Err(_) => r.ok(
                &what,
                "missing: in a writable bind jail makes an empty placeholder directory there for the \
                 sandbox's life, so nothing can be created at it, and removes it afterwards",
            ),
        }
    }
}

pub fn run(w: Wants) -> i32 {
    let mut r = Report { lines: Vec::new(), needed_missing: false };
    let uid = nix::unistd::getuid().as_raw();
    let user =
        nix::unistd::User::from_uid(uid.into()).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string());

    // User namespaces: everything depends on them.
    match userns_works() {
        Ok(()) => r.ok("user namespaces", "an unprivileged user namespace can be created"),
        Err(e) => {
            let fix = if sysctl("kernel.apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
                "AppArmor restricts them (Ubuntu 23.10+): install packaging/apparmor/jail to /etc/apparmor.d/ and \
                 apparmor_parser -r it, or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
            } else if sysctl("kernel.unprivileged_userns_clone").as_deref() == Some("0") {
                "sysctl -w kernel.unprivileged_userns_clone=1"
            } else if sysctl("user.max_user_namespaces").as_deref() == Some("0") {
                "sysctl -w user.max_user_namespaces=15000"
            } else {
                "check the kernel's CONFIG_USER_NS and security modules"
            };
            r.missing("user namespaces", &format!("clone(CLONE_NEWUSER): {}", crate::sys::errno_text(e)), fix, true);
        }
    }
    if sysctl("kernel.apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        r.lines.push("note     AppArmor restricts user namespaces; jail works where its profile is installed".into());
    }

    // Subordinate ids for --map-subids.
    let names = vec![user.clone()];
    let helpers = ["newuidmap", "newgidmap"].iter().all(|h| which::which(h).is_ok());
    let ranges = ["/etc/subuid", "/etc/subgid"]
        .iter()
        .all(|f| std::fs::read_to_string(f).ok().and_then(|t| crate::spec::idmap_range(&t, &names, uid)).is_some());
    match (helpers, ranges) {
        (true, true) => r.ok("--map-subids", "newuidmap/newgidmap and subordinate ranges present"),
        (false, _) => {
            r.missing("--map-subids", "newuidmap/newgidmap not found", "install the uidmap package", w.map_subids)
        }
        (true, false) => r.missing(
            "--map-subids",
            &format!("no range for {user} in /etc/subuid or /etc/subgid"),
            &{
                let (lo, hi) = free_subid_range(&read_file("/etc/subuid"), &read_file("/etc/subgid"));
                format!("as root: usermod --add-subuids {lo}-{hi} --add-subgids {lo}-{hi} {user}")
            },
            w.map_subids,
        ),
    }

    // cgroup v2 and the user manager, for limits.
    match cgroup::fs::unified_root() {
        Err(e) => r.missing("cgroup v2", "limits (--mem, --cpu, --pids, ...) need it", &format!("{e:#}"), w.limits),
        Ok(root) => {
            let own = cgroup::fs::own_cgroup().unwrap_or_default();
            r.ok("cgroup v2", &format!("unified tree, jail runs in {own}"));
            let mgr = root.join(format!("user.slice/user-{uid}.slice/user@{uid}.service"));
            match cgroup::fs::read(&mgr.join("cgroup.controllers")) {
                Some(c) => {
                    let all = ["cpu", "memory", "pids", "cpuset", "io"];
                    let missing: Vec<&str> =
                        all.iter().copied().filter(|x| !c.split_whitespace().any(|y| y == *x)).collect();
                    if missing.is_empty() {
                        r.ok("delegated controllers", &c);
                    } else {
                        r.missing(
                            "delegated controllers",
                            &format!("{c} (not {})", missing.join(" ")),
                            "as root: /etc/systemd/system/user@.service.d/delegate.conf with [Service] \
                             Delegate=cpu cpuset io memory pids, then systemctl daemon-reload and log in again",
                            false,
                        );
                    }
                }
                None => {
                    r.missing("delegated controllers", "no user manager cgroup", "see the user manager line", false)
                }
            }
        }
    }
    let routes = cgroup::systemd::user_manager();
    let any_route = !routes.is_empty();
    match cgroup::systemd::ping(routes) {
        Ok((v, route)) => r.ok("systemd user manager", &format!("reachable at {route} (systemd {v})")),
        Err(e) if any_route => {
            r.missing("systemd user manager", &format!("{e:#}"), "systemctl --user start dbus.socket", w.limits)
        }
        Err(_) => r.missing(
            "systemd user manager",
            cgroup::systemd::WHERE_LOOKED,
            "log in through a systemd session, or loginctl enable-linger USER (or run jail in a cgroup v2 \
             subtree delegated to you)",
            w.limits,
        ),
    }

    // Confinement.
    match kernel_abi() {
        0 => r.missing(
            "Landlock",
            "not enabled in this kernel",
            "boot with lsm=...,landlock (the default is best effort)",
            w.strict_landlock,
        ),
        abi if abi < 6 => r.missing(
            "Landlock",
            &format!("ABI {abi}: socket and signal scoping need ABI 6 (Linux 6.12)"),
            "a newer kernel; jail enforces what this one offers",
            false,
        ),
        abi => r.ok("Landlock", &format!("ABI {abi}")),
    }
    // SAFETY: prctl with integer arguments only.
    let seccomp = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if seccomp < 0 {
        r.missing("seccomp", "PR_GET_SECCOMP fails", "a kernel with CONFIG_SECCOMP_FILTER", true);
    } else {
        r.ok("seccomp", "filters available");
    }
    r.ok(
        "nested user namespaces",
        "refused inside the sandbox by default (clone/unshare CLONE_NEWUSER: EPERM); --allow-userns opts in",
    );
    network(&mut r, &w);
    protected(&mut r, &w);
    root_tree(&mut r, &w);

    for l in &r.lines {
        println!("{l}");
    }
    if r.needed_missing {
        println!("jail cannot run here as asked: fix the MISSING lines above");
        crate::exit::FAILURE
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suggested_subid_range_overlaps_no_existing_entry() {
        assert_eq!(free_subid_range("", ""), (100000, 165535));
        assert_eq!(free_subid_range("alice:100000:65536\n", ""), (196608, 262143));
        let taken = "alice:100000:65536\nbob:165536:65536\n";
        assert_eq!(free_subid_range(taken, "carol:231072:10\n"), (262144, 327679));
        // Lines that are not ranges are skipped.
        assert_eq!(free_subid_range("# comment\nbad\n", ""), (100000, 165535));
    }
}
