//! Kernel tests: the built binary, run as an unprivileged user, observed from inside.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::{harness, host_ns, Run};

const NAMESPACES: [&str; 7] = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"];

fn ns_inside(h: &common::Harness, args: &[&str]) -> Vec<String> {
    let script: String = NAMESPACES.iter().map(|n| format!("readlink /proc/self/ns/{n}; ")).collect();
    h.sh(args, &script).ok().out.lines().map(str::to_string).collect()
}

#[test]
fn every_namespace_is_new_by_default() {
    let Some(h) = harness() else { return };
    let inside = ns_inside(h, &[]);
    for (n, got) in NAMESPACES.iter().zip(&inside) {
        assert_ne!(got, &host_ns(n), "{n} namespace is the host's");
    }
}

#[test]
fn shared_namespaces_are_the_hosts() {
    let Some(h) = harness() else { return };
    let args = ["--share-net", "--share-ipc", "--share-uts", "--share-pid", "--share-cgroup"];
    let inside = ns_inside(h, &args);
    for (n, got) in NAMESPACES.iter().zip(&inside) {
        match *n {
            "user" | "mnt" => assert_ne!(got, &host_ns(n), "{n} must stay new"),
            _ => assert_eq!(got, &host_ns(n), "{n} should be shared"),
        }
    }
    // One at a time: only that one is shared.
    let inside = ns_inside(h, &["--share-net"]);
    assert_eq!(inside[3], host_ns("net"));
    assert_ne!(inside[4], host_ns("ipc"));
}

#[test]
fn the_new_network_has_only_loopback_up() {
    let Some(h) = harness() else { return };
    // /sys is the host's, so ask the network namespace itself (/proc/net follows it).
    let r = h.sh(&[], "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ip -o link show lo").ok();
    let lines = r.lines();
    assert_eq!(lines[0], "lo", "{r:?}");
    assert!(lines[1].contains("UP"), "lo is not up: {r:?}");
    assert_eq!(lines.len(), 2, "only lo expected: {r:?}");
}

#[test]
fn jails_init_is_pid_1_and_the_command_pid_2() {
    let Some(h) = harness() else { return };
    let r = h.sh(&[], "echo $$; cat /proc/1/comm").ok();
    assert_eq!(r.lines(), ["2", "jail"]);
    let r = h.sh(&["--as-pid-1"], "echo $$").ok();
    assert_eq!(r.lines(), ["1"]);
}

#[test]
fn proc_lists_only_sandbox_processes() {
    let Some(h) = harness() else { return };
    let r = h.sh(&[], "ls /proc | grep -E '^[0-9]+$'").ok();
    let pids: Vec<u32> = r.lines().iter().map(|p| p.parse().unwrap()).collect();
    assert!(pids.len() <= 4 && pids.iter().all(|p| *p < 10), "host processes visible: {pids:?}");
    assert!(pids.contains(&1));
}

#[test]
fn ids_and_maps() {
    let Some(h) = harness() else { return };
    let r = h.sh(&[], "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map").ok();
    let l: Vec<Vec<&str>> = r.lines().iter().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(l[0], [h.uid.to_string()]);
    assert_eq!(l[1], [h.gid.to_string()]);
    assert_eq!(l[2], [h.uid.to_string(), h.uid.to_string(), "1".into()]);
    assert_eq!(l[3], [h.gid.to_string(), h.gid.to_string(), "1".into()]);

    let r = h.sh(&["--uid", "0", "--gid", "0"], "id -u; id -g; cat /proc/self/uid_map").ok();
    let l = r.lines();
    assert_eq!(&l[..2], ["0", "0"]);
    assert_eq!(l[2].split_whitespace().collect::<Vec<_>>(), ["0", &h.uid.to_string(), "1"]);

    let r = h.sh(&["--uid", "4242", "--gid", "77"], "id -u; id -g").ok();
    assert_eq!(r.lines(), ["4242", "77"]);
}

#[test]
fn hostname_is_set_in_the_new_uts_namespace() {
    let Some(h) = harness() else { return };
    let r = h.sh(&["--hostname", "box"], "hostname; cat /proc/sys/kernel/hostname").ok();
    assert_eq!(r.lines(), ["box", "box"]);
    let r = h.run(&["--share-uts", "--hostname", "box", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.err.starts_with("jail: --hostname requires a new uts namespace"), "{}", r.err);
}

#[test]
fn read_only_binds_are_read_only_all_the_way_down() {
    let Some(h) = harness() else { return };
    let dir = h.dir();
    let d = dir.display().to_string();
    // Writable as a plain bind: the user owns it.
    h.sh(&["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--bind", &d, "/tmp/w"], "touch /tmp/w/ok").ok();
    assert!(dir.join("ok").exists());
    // Read-only bind: EROFS, not EACCES.
    let r = h
        .sh(&["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--ro-bind", &d, "/tmp/w"], "touch /tmp/w/no 2>&1; echo rc=$?");
    assert!(r.out.contains("Read-only file system"), "{r:?}");
    assert!(!dir.join("no").exists());
    // A writable host submount (/dev/shm under /dev) stays read-only beneath a read-only bind.
    let r = h.sh(
        &["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--ro-bind", "/dev", "/tmp/hostdev"],
        "touch /tmp/hostdev/shm/jail-test 2>&1; echo rc=$?",
    );
    assert!(r.out.contains("Read-only file system"), "{r:?}");
    // The default view: the host root and its submounts are read-only.
    let r = h.sh(&[], "touch /var/tmp/jail-ro-test 2>&1; touch /sys/fs/x 2>&1; echo done");
    assert_eq!(r.out.matches("Read-only file system").count(), 2, "{r:?}");
}

/// `before`, then the host's /usr read-only with the usual /bin, /lib, /lib64 links (enough to
/// run a shell in an otherwise empty root), then `after`.
fn with_host_usr<'a>(before: &[&'a str], after: &[&'a str]) -> Vec<&'a str> {
    let usr = ["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib"];
    let mut v = before.to_vec();
    v.extend(usr);
    v.extend(["--symlink", "usr/lib64", "/lib64"]);
    v.extend(after);
    v
}

#[test]
fn remount_ro_tmpfs_size_and_perms() {
    let Some(h) = harness() else { return };
    let r = h.sh(
        &["--tmpfs", "/", "--size", "1M", "--perms", "0700", "--tmpfs", "/t", "--dir", "/ro", "--remount-ro", "/"],
        "stat -c %a /t; df -k /t | tail -1; touch /x 2>&1; touch /t/ok && echo t-ok",
    );
    assert_eq!(r.code, 127, "no sh in an empty root: {r:?}");
    // The same with the host's /usr and /bin to run a shell in.
    let r = h
        .sh(
            &with_host_usr(
                &["--tmpfs", "/"],
                &["--dir", "/t", "--remount-ro", "/", "--size", "1M", "--perms", "0700", "--tmpfs", "/t"],
            ),
            "stat -c %a /t; df -k /t | tail -1 | tr -s ' ' | cut -d' ' -f2; touch /x 2>&1; touch /t/ok && echo t-ok",
        )
        .ok();
    let l = r.lines();
    assert_eq!(l[0], "700");
    assert_eq!(l[1], "1024");
    assert!(l[2].contains("Read-only file system"), "{l:?}");
    assert_eq!(l[3], "t-ok");
}

#[test]
fn host_files_outside_the_binds_are_invisible() {
    let Some(h) = harness() else { return };
    // The default view hides homes and the host's /run.
    let marker = h.home.join(".jail-test-marker");
    if std::fs::write(&marker, "secret").is_ok() {
        let r = h.sh(&[], &format!("cat {} 2>&1; ls -A /home /root; ls -A /run | wc -l", marker.display()));
        assert!(!r.out.contains("secret"), "{r:?}");
        assert!(r.out.trim_end().ends_with('0'), "/run not empty: {r:?}");
        let _ = std::fs::remove_file(&marker);
    }
    // With a tree at /, nothing of the host is there.
    let r = h.sh(&with_host_usr(&[], &[]), "ls / | sort | tr '\\n' ' '").ok();
    assert_eq!(r.out.trim_end(), "bin lib lib64 usr");
}

#[test]
fn the_current_directory_is_bound_back_read_only() {
    let Some(h) = harness() else { return };
    let dir = h.dir();
    std::fs::write(dir.join("src.txt"), "source\n").unwrap();
    let r = Run::from(common::output(&mut h.jail_in(&dir, ["--", "sh", "-c", "pwd; cat src.txt; touch new 2>&1"])));
    let l = r.lines();
    assert_eq!(l[0], dir.display().to_string());
    assert_eq!(l[1], "source");
    assert!(l[2].contains("Read-only file system"), "{l:?}");
}

#[test]
fn exit_statuses() {
    let Some(h) = harness() else { return };
    assert_eq!(h.sh(&[], "exit 3").code, 3);
    assert_eq!(h.sh(&[], "kill -9 $$").code, 137);
    assert_eq!(h.sh(&[], "kill -TERM $$").code, 143);
    let r = h.run(&["--", "no-such-command-here"]);
    assert_eq!(r.code, 127);
    assert!(r.err.starts_with("jail: no-such-command-here: command not found"), "{}", r.err);
    let r = h.run(&["--", "/etc/passwd"]);
    assert_eq!(r.code, 126, "{r:?}");
    assert!(r.err.contains("EACCES"), "{}", r.err);
    let r = h.run(&["--", "/usr"]);
    assert_eq!(r.code, 126, "{r:?}");
    assert_eq!(r.err, "jail: /usr: is a directory, not a command\n");
    // Paths in messages come without "." components.
    let r = h.run(&["--ro-bind", "./missing/./x", "/x", "true"]);
    assert!(r.err.contains("./missing/./x"), "what the user typed is quoted as typed: {}", r.err);
    let plan = h.run(&["--dry-run", "--ro-bind", "/", "/", "--ro-bind", "./", "/w", "true"]).ok().out;
    assert!(!plan.contains("/./") && !plan.contains("/. "), "{plan}");
    let r = h.run(&["--no-such-option", "true"]);
    assert_eq!(r.code, 125);
    assert_eq!(r.err.lines().count(), 1, "{}", r.err);
    assert!(r.err.starts_with("jail: unexpected argument '--no-such-option'"), "{}", r.err);
    // Also with the command as pid 1.
    assert_eq!(h.sh(&["--as-pid-1"], "exit 5").code, 5);
    assert_eq!(h.run(&["--as-pid-1", "--", "no-such-command-here"]).code, 127);
}

#[test]
fn the_command_is_looked_up_in_the_sandbox_path() {
    let Some(h) = harness() else { return };
    // `sh` exists on the host, but not in an empty tmpfs root.
    let r = h.run(&["--tmpfs", "/", "--", "sh", "-c", "true"]);
    assert_eq!(r.code, 127, "{r:?}");
    let r = h.run(&["--setenv", "PATH", "/nowhere", "--", "sh", "-c", "true"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.err.contains("PATH=/nowhere"), "{}", r.err);
}

#[test]
fn environment_options() {
    let Some(h) = harness() else { return };
    let r =
        h.sh(&["--setenv", "A", "1", "--unsetenv", "LANG", "--argv0", "custom"], "echo $A; echo ${LANG-unset}").ok();
    assert_eq!(r.lines(), ["1", "unset"]);
    let r = h.run(&["--clearenv", "--setenv", "B", "2", "--", "/usr/bin/env"]).ok();
    assert_eq!(r.out.trim(), "B=2");
    let r = h.run(&["--argv0", "renamed", "--", "sh", "-c", "echo $0"]).ok();
    assert_eq!(r.out.trim(), "renamed", "sh -c reports its argv[0] as $0");
    let r = h.run(&["--argv0", "renamed", "--", "/bin/sh", "-c", "cat /proc/$$/cmdline | tr '\\0' ' '"]).ok();
    assert!(r.out.starts_with("renamed "), "{r:?}");
}

#[test]
fn chdir_and_new_session() {
    let Some(h) = harness() else { return };
    let r = h.sh(&["--chdir", "/usr"], "pwd").ok();
    assert_eq!(r.out.trim(), "/usr");
    let r = h.run(&["--chdir", "/nonexistent", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.err.starts_with("jail: --chdir /nonexistent: chdir: ENOENT"), "{}", r.err);
    // A new session: the command leads its own session.
    let r = h.sh(&["--new-session"], "ps -o sid= -p $$; echo $$").ok();
    let l = r.lines();
    assert_eq!(l[0].trim(), l[1].trim());
}

fn caps_of(r: &Run) -> Vec<(String, u64)> {
    r.out
        .lines()
        .filter(|l| l.starts_with("Cap"))
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap())
        })
        .collect()
}

#[test]
fn capabilities_are_empty_even_as_root_inside() {
    let Some(h) = harness() else { return };
    for args in [&[][..], &["--uid", "0", "--gid", "0"][..]] {
        let r = h.sh(args, "grep ^Cap /proc/self/status").ok();
        let caps = caps_of(&r);
        assert_eq!(caps.len(), 5, "{r:?}");
        for (k, v) in caps {
            assert_eq!(v, 0, "{k} not empty with {args:?}");
        }
    }
    // --cap-add keeps exactly that capability, for a non-root uid too.
    let r = h
        .sh(&["--cap-add", "CAP_NET_ADMIN"], "grep ^Cap /proc/self/status; ip link set lo mtu 1500 && echo admin-ok")
        .ok();
    for (k, v) in caps_of(&r) {
        assert_eq!(v, 1 << 12, "{k}");
    }
    assert!(r.out.contains("admin-ok"), "{r:?}");
    let r =
        h.sh(&["--cap-add", "ALL", "--cap-drop", "CAP_SYS_ADMIN", "--uid", "0"], "grep ^CapEff /proc/self/status").ok();
    let eff = caps_of(&r)[0].1;
    assert_eq!(eff & (1 << 21), 0, "CAP_SYS_ADMIN kept");
    assert_ne!(eff & (1 << 12), 0, "CAP_NET_ADMIN dropped");
}

/// Reads the child's stdout up to the line `want`, then gives the pipe back (open, so the
/// command's later writes do not meet a closed pipe).
fn wait_for_line(child: &mut std::process::Child, want: &str) -> Vec<String> {
    // Bounded: the watchdog kills jail, and the pipe's EOF ends the loop.
    let _guard = common::kill_after(child.id(), common::LIMIT);
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        let l = line.trim_end_matches('\n').to_string();
        line.clear();
        let done = l == want;
        lines.push(l);
        if done {
            break;
        }
    }
    child.stdout = Some(reader.into_inner());
    lines
}

#[test]
fn signals_are_forwarded_to_the_command() {
    let Some(h) = harness() else { return };
    for sig in ["TERM", "INT", "HUP", "USR1"] {
        let script = format!("trap 'echo got-{sig}; exit 7' {sig}; echo ready; while :; do sleep 0.05; done");
        let mut child = h.spawn(&["--", "sh", "-c", &script]);
        assert_eq!(wait_for_line(&mut child, "ready").last().map(String::as_str), Some("ready"), "{sig}");
        let _guard = common::kill_after(child.id(), common::LIMIT);
        let _ = std::process::Command::new("kill").arg(format!("-{sig}")).arg(child.id().to_string()).status();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(7), "{sig}: {out:?}");
    }
}

#[test]
fn orphans_are_reaped() {
    let Some(h) = harness() else { return };
    let r = h
        .sh(&[], "sh -c 'sleep 0.2 & exit 0'; sleep 0.6; grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l; ls /proc | grep -cE '^[0-9]+$'")
        .ok();
    let l = r.lines();
    assert_eq!(l[0], "0", "zombies left: {r:?}");
}

fn host_pids_with(arg: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            if cmd.split(|b| *b == 0).any(|a| a == arg.as_bytes()) {
                v.push(pid);
            }
        }
    }
    v
}

/// Waits (bounded) until no host process has `arg` in its command line.
fn wait_gone(arg: &str, what: &str) {
    let t = Instant::now();
    while !host_pids_with(arg).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(10), "{what}: {:?} still running", host_pids_with(arg));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_sandbox_dies_with_jail_even_on_sigkill() {
    let Some(h) = harness() else { return };
    // The command clears its own death signal, and leaves a grandchild in a session of its own.
    let code = "import ctypes, os, sys, time\n\
                ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)\n\
                if os.fork() == 0:\n    os.setsid(); os.execvp('sleep', ['sleep', sys.argv[1]])\n\
                print('ready', flush=True)\n\
                time.sleep(600)";
    for (i, mode) in [&[][..], &["--as-pid-1"][..], &["--share-pid"][..]].iter().enumerate() {
        let marker = format!("{}", 900_000 + (std::process::id() * 3 + i as u32) % 99_999);
        let mut args: Vec<&str> = mode.to_vec();
        args.extend(["--", "/usr/bin/python3", "-c", code, &marker]);
        let mut child = h.spawn(&args);
        assert_eq!(wait_for_line(&mut child, "ready").last().map(String::as_str), Some("ready"), "{mode:?}");
        let t = Instant::now();
        while host_pids_with(&marker).len() < 2 {
            assert!(t.elapsed() < Duration::from_secs(10), "{mode:?}: sandboxed processes not seen from the host");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The jail process itself (setpriv execs it, so the child's pid is jail's).
        nix_kill(child.id(), 9);
        let _ = child.wait();
        wait_gone(&marker, &format!("{mode:?}: the sandbox outlived jail"));
    }
}

#[test]
fn with_a_shared_pid_namespace_nothing_outlives_the_command() {
    let Some(h) = harness() else { return };
    let marker = format!("{}", 800_000 + std::process::id() % 99_999);
    let r = h.sh(
        &["--share-pid"],
        &format!("setsid sleep {marker} >/dev/null 2>&1 & sleep {marker} >/dev/null 2>&1 & exit 3"),
    );
    assert_eq!(r.code, 3, "{r:?}");
    wait_gone(&marker, "background processes outlived the command");
}

fn nix_kill(pid: u32, sig: i32) {
    let _ = std::process::Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status();
}

fn host_mounts() -> usize {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count()
}

#[test]
fn a_failed_start_leaves_nothing_behind() {
    let Some(h) = harness() else { return };
    let before = host_mounts();
    // Fails inside the sandbox, after mounts were made: a directory in a read-only tree.
    let r = h.run(&["--ro-bind", "/", "/", "--dir", "/no-such-dir-here", "--", "sleep", "912345"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert_eq!(r.err.lines().count(), 1, "{}", r.err);
    assert!(r.err.starts_with("jail: --dir /no-such-dir-here: mkdirat(\"/no-such-dir-here\"): EROFS"), "{}", r.err);
    // Fails before anything is created: a missing source.
    let r = h.run(&["--ro-bind", "/no/such/source", "/x", "--", "sleep", "912345"]);
    assert_eq!(r.code, 125);
    assert!(r.err.starts_with("jail: --ro-bind /no/such/source /x: source \"/no/such/source\": ENOENT"), "{}", r.err);
    assert_eq!(host_mounts(), before, "host mount table changed");
    assert!(host_pids_with("912345").is_empty(), "stray processes");
}

#[test]
fn dev_has_the_usual_devices_and_a_private_devpts() {
    let Some(h) = harness() else { return };
    let r = h
        .sh(&[], "ls /dev | tr '\\n' ' '; echo; echo x > /dev/null && head -c 4 /dev/zero | wc -c; ls /dev/pts; touch /dev/shm/a && echo shm-ok")
        .ok();
    let l = r.lines();
    for d in ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx", "fd", "stdin"] {
        assert!(l[0].split_whitespace().any(|x| x == d), "/dev/{d} missing: {}", l[0]);
    }
    assert_eq!(l[1], "4");
    assert_eq!(l[2], "ptmx", "devpts is not a new instance");
    assert_eq!(l[3], "shm-ok");
}

#[test]
fn files_symlinks_and_data_from_descriptors() {
    let Some(h) = harness() else { return };
    let (r, w) = std::io::pipe().unwrap();
    std::io::Write::write_all(&mut &w, b"hello from fd\n").unwrap();
    drop(w);
    let mut c = h.jail([
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/tmp",
        "--file",
        "9",
        "/tmp/from-fd",
        "--symlink",
        "/tmp/from-fd",
        "/tmp/link",
        "--chmod",
        "0600",
        "/tmp/from-fd",
        "--",
        "sh",
        "-c",
        "cat /tmp/link; stat -c %a /tmp/from-fd; ls /proc/self/fd | tr '\\n' ' '",
    ]);
    common::hand_over(&mut c, std::os::fd::AsRawFd::as_raw_fd(&r), 9);
    let r = Run::from(common::output(&mut c)).ok();
    let l = r.lines();
    assert_eq!(l[0], "hello from fd");
    assert_eq!(l[1], "600");
    // Descriptor 9 was consumed and is not passed on.
    assert!(!l[2].split_whitespace().any(|f| f == "9"), "fd 9 leaked: {}", l[2]);
}

/// jail (with `extra` options first) on a setup that waits for the end of a `--file` pipe
/// whose writer stays open and silent, as it would on a bind source on a stuck FUSE mount. The
/// test keeps the pipe's ends until jail has ended.
fn hanging_setup(h: &common::Harness, extra: &[&str]) -> (std::process::Command, [std::os::fd::OwnedFd; 2]) {
    let (r, w) = std::io::pipe().unwrap();
    let tail = ["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--file", "9", "/tmp/x", "--", "true"];
    let mut c = h.jail(extra.iter().chain(tail.iter()));
    common::hand_over(&mut c, std::os::fd::AsRawFd::as_raw_fd(&r), 9);
    (c, [r.into(), w.into()])
}

const SETUP_UNFINISHED: &str = "the sandbox's setup had not finished, the command never started";

#[test]
fn timeout_also_bounds_a_setup_that_hangs() {
    let Some(h) = harness() else { return };
    let (mut c, _pipe) = hanging_setup(h, &["--timeout", "1s"]);
    let run = Run::from(common::output(&mut c));
    assert_eq!(run.code, 124, "{run:?}");
    assert_eq!(run.err.trim(), format!("jail: --timeout 1s: time limit reached; {SETUP_UNFINISHED}"), "{run:?}");
}

#[test]
fn a_terminating_signal_stops_a_setup_that_hangs() {
    let Some(h) = harness() else { return };
    // No --timeout: SIGTERM to jail must end the setup (jail holds the signals it passes on to
    // the command until the command runs).
    let (mut c, _pipe) = hanging_setup(h, &[]);
    c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    let _guard = common::kill_after(child.id(), common::LIMIT);
    // jail has children once it holds those signals (it blocks them first): then it waits.
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let t = Instant::now();
    while std::fs::read_to_string(&children).map_or(true, |c| c.trim().is_empty()) {
        assert!(t.elapsed() < common::LIMIT, "jail never started the sandbox");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, 143, "{run:?}");
    assert_eq!(run.err.trim(), format!("jail: SIGTERM; {SETUP_UNFINISHED}"), "{run:?}");
}

#[test]
fn symlinks_in_a_tree_cannot_redirect_mounts_outside_it() {
    let Some(h) = harness() else { return };
    let tree = h.dir();
    let outside = h.dir();
    // /evil -> the outside directory, by absolute host path: inside the tree it must resolve
    // within the tree, never to the host path.
    std::os::unix::fs::symlink(&outside, tree.join("evil")).unwrap();
    let t = tree.display().to_string();
    let r = h.run(&["--bind", &t, "/", "--tmpfs", "/evil/x", "--", "/proc/self/exe", "--version"]);
    let _ = r;
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "mount point created outside the tree");
}

#[test]
fn dry_run_shows_the_plan_and_touches_nothing() {
    let Some(h) = harness() else { return };
    let r = h.run(&["--dry-run", "--ro-bind", "/", "/", "--hostname", "x", "--", "sh"]).ok();
    let plan = r.out;
    assert!(plan.contains("1. ro-bind / /"), "{plan}");
    assert!(plan.contains("proc /proc    [added: tree at /]"), "{plan}");
    assert!(plan.contains("hostname:     x"), "{plan}");
    let r = h.run(&["--dry-run=json", "--tmpfs", "/", "--", "sh", "-c", "x"]).ok();
    assert!(r.out.contains("\"op\": \"tmpfs\""), "{}", r.out);
    assert!(r.out.contains("\"argv\": ["), "{}", r.out);
}

#[test]
fn an_interactive_shell_on_a_terminal_keeps_job_control() {
    let Some(h) = harness() else { return };
    // `script` runs jail on a pty, as a terminal user would.
    let inner = format!(
        "{} -- bash --norc -i -c 'set -o | grep ^monitor; sleep 0.2 & jobs; fg >/dev/null; echo fg-rc=$?'",
        h.bin.display()
    );
    let mut c = h.as_user("script");
    c.args(["-qec", &inner, "/dev/null"]).current_dir(h.dir()).stdin(std::process::Stdio::null());
    let out = String::from_utf8_lossy(&common::output(&mut c).stdout).replace('\r', "");
    assert!(out.lines().any(|l| l.starts_with("monitor") && l.ends_with("on")), "{out}");
    assert!(out.contains("Running") && out.contains("sleep 0.2"), "{out}");
    assert!(out.contains("fg-rc=0"), "{out}");
}

/// Unmounts what a test mounted on the host, whatever the test's outcome.
struct HostMounts(Vec<std::path::PathBuf>);

impl Drop for HostMounts {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = std::process::Command::new("umount").arg("-l").arg(p).status();
        }
    }
}

fn host_mount(args: &[&str]) {
    let st = std::process::Command::new("mount").args(args).status().expect("spawn mount");
    assert!(st.success(), "mount {args:?} failed");
}

#[test]
fn host_mounts_made_after_start_do_not_appear_inside() {
    let Some(h) = harness() else { return };
    if h.user.is_none() {
        assert!(!common::must_work(), "JAIL_TEST_MUST_WORK=1 but: host mounts need root");
        eprintln!("SKIP: making host mounts needs root");
        return;
    }
    // A shared mount on the host, as systemd makes /: the sandbox's copy would be its slave.
    let dir = h.dir();
    std::fs::create_dir(dir.join("sub")).unwrap();
    let d = dir.display().to_string();
    let sub = format!("{d}/sub");
    let mut guard = HostMounts(Vec::new());
    host_mount(&["--bind", &d, &d]);
    guard.0.push(dir.clone());
    host_mount(&["--make-shared", &d]);
    let script =
        format!("echo ready; read go; grep -c ' {sub} ' /proc/self/mountinfo; touch {sub}/x 2>&1; ls {sub}; echo end");
    let mut child = h
        .jail(["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--", "sh", "-c", &script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = common::kill_after(child.id(), common::LIMIT);
    let mut stdin = child.stdin.take().unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
    // Mounted after the sandbox started: writable, without nosuid or nodev.
    host_mount(&["-t", "tmpfs", "-o", "mode=1777", "jail-propagation-test", &sub]);
    guard.0.push(dir.join("sub"));
    std::io::Write::write_all(&mut stdin, b"go\n").unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let _ = child.wait();
    assert_eq!(rest.first().map(String::as_str), Some("0"), "the host's new mount propagated in: {rest:?}");
    assert!(rest.iter().any(|l| l.contains("Read-only file system")), "{rest:?}");
    assert!(!dir.join("sub").join("x").exists());
    drop(guard);
}

extern "C" {
    fn signal(sig: i32, handler: usize) -> usize;
}

fn sig_fields(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.starts_with("SigIgn:") || l.starts_with("SigBlk:")).map(str::to_string).collect()
}

#[test]
fn the_command_starts_with_the_signal_state_jail_received() {
    let Some(h) = harness() else { return };
    // A pipeline's writer dies of SIGPIPE (141), as outside any sandbox.
    let r = h.run(&["--", "bash", "-c", "yes | head -1 >/dev/null; echo ${PIPESTATUS[0]}"]).ok();
    assert_eq!(r.out.trim(), "141", "{r:?}");
    let show = "grep -E '^Sig(Ign|Blk):' /proc/self/status";
    // What a process started the same way outside sees...
    let plain = {
        let mut c = std::process::Command::new("sh");
        c.args(["-c", show]).env_clear().stdin(std::process::Stdio::null());
        common::default_signals(&mut c);
        sig_fields(&String::from_utf8_lossy(&common::output(&mut c).stdout))
    };
    let inside = sig_fields(&h.run(&["--", "sh", "-c", show]).ok().out);
    assert_eq!(inside, plain);
    let ignored = |fields: &[String]| -> u64 {
        let line = fields.iter().find(|l| l.starts_with("SigIgn:")).expect("SigIgn line");
        u64::from_str_radix(line["SigIgn:".len()..].trim(), 16).expect("hex")
    };
    assert_eq!(ignored(&inside) & (1 << 12), 0, "SIGPIPE ignored inside: {inside:?}");
    // ...and with SIGHUP and SIGPIPE ignored, as under nohup or a careless parent.
    let mut c = h.jail(["--", "sh", "-c", show]);
    use std::os::unix::process::CommandExt;
    // SAFETY: signal() is async-signal-safe; it runs in the forked child before exec.
    unsafe {
        c.pre_exec(|| {
            signal(1, 1);
            signal(13, 1);
            Ok(())
        });
    }
    let r = Run::from(common::output(&mut c)).ok();
    assert_eq!(ignored(&sig_fields(&r.out)), ignored(&plain) | 0x1001, "{r:?}");
}

#[test]
fn kill_zero_from_inside_reaches_only_the_sandbox() {
    let Some(h) = harness() else { return };
    use std::os::unix::process::CommandExt;
    // A shell without job control runs jail in its own process group; without Landlock's
    // signal scoping, kill(0, SIGTERM) from the command would reach that shell.
    let script = format!(
        "{} --landlock=off -- /usr/bin/python3 -c 'import os, signal; os.kill(0, signal.SIGTERM)'; echo caller-alive rc=$?",
        h.bin.display()
    );
    let mut c = h.as_user("sh");
    // Its own group, so that a failure cannot take the test runner with it.
    c.args(["-c", &script]).current_dir(h.dir()).stdin(std::process::Stdio::null()).process_group(0);
    common::default_signals(&mut c);
    let r = Run::from(common::output(&mut c));
    assert_eq!(r.out.trim(), "caller-alive rc=143", "{r:?}");
}

#[test]
fn a_stopped_command_stops_jail_and_fg_resumes_it() {
    let Some(h) = harness() else { return };
    // An interactive bash on a pty runs jail; the command stops itself as ^Z would stop it.
    let lines =
        format!("{} -- sh -c 'kill -TSTP $$; echo resumed'\necho status=$?\nfg\necho done\nexit\n", h.bin.display());
    let mut c = h.as_user("timeout");
    c.args(["20", "script", "-qec", "bash --norc -i", "/dev/null"]).current_dir(h.dir());
    c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    common::default_signals(&mut c);
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), lines.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(out.status.success(), "bash hung on the stopped command (timeout): {text}");
    assert!(text.contains("Stopped"), "{text}");
    assert!(text.contains("status=147"), "{text}");
    assert!(text.lines().any(|l| l == "resumed") && text.lines().any(|l| l.ends_with("done")), "{text}");
}

#[test]
fn the_home_directory_stays_hidden_when_jail_starts_there() {
    let Some(h) = harness() else { return };
    let secret = h.home.join(format!(".jail-test-secret-{}", std::process::id()));
    std::fs::write(&secret, "credential").unwrap();
    if let Some((uid, gid)) = h.user {
        std::os::unix::fs::chown(&secret, Some(uid), Some(gid)).unwrap();
    }
    let s = secret.display().to_string();
    let r = Run::from(common::output(
        &mut h.jail_in(&h.home, ["--", "sh", "-c", &format!("cat {s} 2>&1; ls -A /home | wc -l")]),
    ));
    let _ = std::fs::remove_file(&secret);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.out.contains("credential"), "the home directory was bound back: {r:?}");
    assert!(r.out.contains("No such file"), "{r:?}");
    assert_eq!(r.out.lines().last(), Some("0"), "{r:?}");
    assert!(
        r.err.starts_with(&format!("jail: the current directory {} is not bound back", h.home.display())),
        "{}",
        r.err
    );
    // A project below the home is bound back as before.
    let project = h.dir();
    let r = Run::from(common::output(&mut h.jail_in(&project, ["--", "sh", "-c", "pwd"]))).ok();
    assert_eq!(r.out.trim(), project.display().to_string());
}

#[test]
fn the_plan_refuses_what_it_can_know_and_names_the_option() {
    let Some(h) = harness() else { return };
    let empty = h.dir();
    std::fs::set_permissions(&empty, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let e = empty.display().to_string();
    let long = "h".repeat(300);
    let cases: [(&[&str], String); 3] = [
        (&["--tmpfs", "relative/path"], "jail: --tmpfs relative/path: the destination must be an absolute path inside the sandbox, such as /relative/path".into()),
        (&["--ro-bind", &e, "/"], format!("jail: --ro-bind {e} /: the tree has no /proc for the proc /proc that jail adds at a tree at /")),
        (&["--hostname", &long], "jail: --hostname \"hhh".into()),
    ];
    for (args, want) in cases {
        for dry in [true, false] {
            let mut v: Vec<&str> = if dry { vec!["--dry-run"] } else { vec![] };
            v.extend(args);
            v.extend(["--", "true"]);
            let r = h.run(&v);
            assert_eq!(r.code, 125, "{v:?}: {r:?}");
            assert!(r.err.starts_with(&want), "{v:?}: {}", r.err);
            assert_eq!(r.err.lines().count(), 1, "{}", r.err);
        }
    }
}

#[test]
fn help_piped_has_no_colour_codes() {
    let Some(h) = harness() else { return };
    let r = h.run(&["--help"]).ok();
    assert!(r.out.contains("Usage: jail") && !r.out.contains('\x1b'), "{}", r.out);
}

#[test]
fn limits_on_a_host_without_cgroup_v2_say_what_is_missing_and_the_ways_out() {
    let Some(h) = harness() else { return };
    let fs = std::process::Command::new("stat").args(["-f", "-c", "%T", "/sys/fs/cgroup"]).output().unwrap();
    if String::from_utf8_lossy(&fs.stdout).trim() == "cgroup2fs" {
        eprintln!("not applicable: this host has cgroup v2 (the VM tier tests limits there)");
        return;
    }
    let r = h.run(&["--mem", "48M", "--pids", "64", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.err.starts_with("jail: --mem, --pids: limits need cgroup v2"), "{}", r.err);
    assert!(r.err.contains("drop the limit"), "{}", r.err);
    assert_eq!(r.err.lines().count(), 1, "{}", r.err);
    // doctor agrees, and fails only when asked for limits.
    assert_eq!(h.run(&["doctor"]).code, 0);
    let r = h.run(&["doctor", "--mem", "48M"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.out.contains("MISSING  cgroup v2"), "{}", r.out);
}

#[test]
fn argv0_reaches_the_command_byte_for_byte() {
    let Some(h) = harness() else { return };
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"name-\xff-x");
    let mut c = h.jail([
        std::ffi::OsStr::new("--argv0"),
        name,
        "--".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        "printf %s \"$0\"".as_ref(),
    ]);
    let out = common::output(&mut c);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"name-\xff-x");
}

/// Names, kinds, modes, sizes, modification times and contents of everything below `dir`
/// (leaving out `skip`): what "left as it was" means for a tree.
fn tree_state(dir: &std::path::Path, skip: &str) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    // Entries may vanish while this reads (a placeholder being removed): they are left out.
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == skip) {
                continue;
            }
            let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
            let data = if m.is_file() { std::fs::read(&p).unwrap_or_default() } else { Vec::new() };
            out.push(format!(
                "{} {:o} {} {} {:?}",
                p.display(),
                m.mode(),
                m.len(),
                m.mtime_nsec() + m.mtime() * 1_000_000_000,
                data
            ));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn protected_paths_stay_read_only_in_a_writable_bind_and_the_host_tree_is_left_as_it_was() {
    let Some(h) = harness() else { return };
    let d = h.dir();
    let proj = d.join("proj");
    let script = format!(
        "mkdir -p {p}/.git/hooks {p}/out && echo cfg > {p}/.git/config && echo run > {p}/.git/hooks/post-checkout",
        p = proj.display()
    );
    let mut c = h.as_user("/bin/sh");
    c.arg("-c").arg(&script);
    assert!(common::output(&mut c).status.success());
    let before = tree_state(&proj, "out");
    let p = proj.display().to_string();
    let prot = |rel: &str| format!("{p}/{rel}");
    let (cfg, hooks, vscode, idea) =
        (prot(".git/config"), prot(".git/hooks"), prot(".vscode"), prot(".idea/workspace.xml"));
    let attempts = "try() { if sh -c \"$1\" 2>/dev/null; then echo \"allowed: $1\"; else echo \"denied: $1\"; fi; }; \
        try 'echo x >> .git/config'; try 'rm .git/config'; try 'touch .git/hooks/pre-commit'; \
        try 'echo x > .git/hooks/post-checkout'; try 'mkdir .vscode/x'; try 'echo {} > .vscode/settings.json'; \
        try 'rmdir .vscode'; try 'echo x > .idea/workspace.xml'; try 'rm -r .idea'; try 'echo fine > out/result'";
    let args = [
        "--ro-bind",
        "/",
        "/",
        "--bind",
        &p,
        &p,
        "--chdir",
        &p,
        "--protect",
        &cfg,
        "--protect",
        &hooks,
        "--protect",
        &vscode,
        "--protect",
        &idea,
        "--",
        "sh",
        "-c",
        attempts,
    ];
    let r = h.run(&args).ok();
    let lines = r.lines();
    assert_eq!(lines.len(), 10, "{r:?}");
    for l in &lines[..9] {
        assert!(l.starts_with("denied: "), "{l}");
    }
    assert_eq!(lines[9], "allowed: echo fine > out/result");
    assert_eq!(std::fs::read_to_string(proj.join("out/result")).unwrap(), "fine\n");
    assert_eq!(tree_state(&proj, "out"), before, "the protected tree changed on the host");
    // The same when the command is never found, and when jail is stopped by a signal.
    let mut failed = args.to_vec();
    failed.truncate(failed.len() - 3);
    failed.push("no-such-command-here");
    assert_eq!(h.run(&failed).code, 127);
    assert_eq!(tree_state(&proj, "out"), before, "a failed start left placeholders");
    let mut slow = args.to_vec();
    slow.truncate(slow.len() - 3);
    slow.extend(["sh", "-c", "echo up; exec sleep 60"]);
    let mut child = h.spawn(&slow);
    assert_eq!(wait_for_line(&mut child, "up").last().map(String::as_str), Some("up"));
    assert!(proj.join(".vscode").is_dir(), "the placeholder is there while the sandbox runs");
    nix_kill(child.id(), 15);
    let _ = child.wait();
    assert_eq!(tree_state(&proj, "out"), before, "SIGTERM left placeholders");
    // Even SIGKILL, which jail cannot catch: the placeholders' own process removes them.
    let mut child = h.spawn(&slow);
    assert_eq!(wait_for_line(&mut child, "up").last().map(String::as_str), Some("up"));
    nix_kill(child.id(), 9);
    let _ = child.wait();
    let t = Instant::now();
    while tree_state(&proj, "out") != before {
        assert!(t.elapsed() < Duration::from_secs(10), "SIGKILL left placeholders: {:?}", tree_state(&proj, "out"));
        std::thread::sleep(Duration::from_millis(20));
    }
    // A symbolic link on the way is refused before anything is made.
    std::os::unix::fs::symlink("/etc", proj.join("out/link")).unwrap();
    let linked = prot("out/link/newdir");
    let r = h.run(&["--ro-bind", "/", "/", "--bind", &p, &p, "--protect", &linked, "--", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.err.contains("is a symbolic link; jail makes no placeholder through one"), "{}", r.err);
}

#[test]
fn a_profile_and_the_same_command_line_make_the_same_plan() {
    let Some(h) = harness() else { return };
    let d = h.dir();
    let profile = d.join("agent.toml");
    std::fs::write(
        &profile,
        "ro-bind = [\"/\", \"/\"]\ntmpfs = [\"/tmp\", \"/run\"]\nbind = [[\"/var/tmp\", \"/var/tmp\"]]\n\
         protect = [\"/var/tmp/.git\"]\nshare-net = true\nhostname = \"from-profile\"\npids = 64\n",
    )
    .unwrap();
    let p = profile.display().to_string();
    let words = [
        "--ro-bind",
        "/",
        "/",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
        "--bind",
        "/var/tmp",
        "/var/tmp",
        "--protect",
        "/var/tmp/.git",
        "--share-net",
        "--hostname",
        "from-profile",
        "--pids",
        "64",
    ];
    let mut direct = vec!["--dry-run=json"];
    direct.extend(words);
    direct.extend(["--hostname", "box", "--", "true"]);
    let from_profile = Run::from(common::output(
        &mut h.jail_in(&d, ["--dry-run=json", "--profile", &p, "--hostname", "box", "--", "true"]),
    ))
    .ok();
    let by_hand = Run::from(common::output(&mut h.jail_in(&d, &direct))).ok();
    assert_eq!(from_profile.out, by_hand.out);
    assert!(from_profile.out.contains("\"hostname\": \"box\""), "the command line comes after the profile");
    // The text plan says what came from the profile.
    let text = h.run(&["--dry-run", "--profile", &p, "--", "true"]).ok();
    assert_eq!(text.lines()[0], format!("profile:      {p} gave: {}", words.join(" ")));
    // A profile is read only when named: one in the current directory changes nothing.
    std::fs::write(d.join("jail.toml"), "share-pid = true\n").unwrap();
    let here = common::output(&mut h.jail_in(&d, ["--dry-run=json", "--", "true"]));
    assert!(String::from_utf8_lossy(&here.stdout).contains("\"pid\": true"));
    let r = h.run(&["--profile", "/no/such/profile.toml", "--", "true"]);
    assert_eq!(
        (r.code, r.err.trim()),
        (125, "jail: --profile /no/such/profile.toml: ENOENT (No such file or directory)")
    );
}

#[test]
fn refused_syscalls_are_named_at_exit_with_the_option_that_allows_them() {
    let Some(h) = harness() else { return };
    let code = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n\
                for nr in (250, 250, 321):\n    r = libc.syscall(nr, 0, 0, 0, 0, 0)\n    print(nr, r, ctypes.get_errno())";
    let r = h.run(&["--", "/usr/bin/python3", "-c", code]).ok();
    // Refused as the rule says (EPERM) ...
    assert_eq!(r.lines(), ["250 -1 1", "250 -1 1", "321 -1 1"]);
    // ... and said: each call by name, how often, the rule, and the option that allows it.
    let err: Vec<&str> = r.err.lines().collect();
    assert_eq!(
        err,
        [
            "jail: seccomp refused keyctl 2 times (kernel keyrings, EPERM); to allow it: --seccomp-policy off",
            "jail: seccomp refused bpf once (tracing and bpf, EPERM); to allow it: --seccomp-policy off, or a profile that allows it",
        ]
    );
    let r = h.run(&["--report=json", "--", "/usr/bin/python3", "-c", code]).ok();
    let v: serde_json::Value = serde_json::from_str(r.err.trim()).expect("one JSON object on stderr");
    assert_eq!(v["denied"][0]["syscall"], "keyctl");
    assert_eq!(v["denied"][0]["count"], 2);
    assert_eq!(v["denied"][1]["syscall"], "bpf");
    // --report=none: still refused, nothing said.
    let r = h.run(&["--report=none", "--", "/usr/bin/python3", "-c", code]).ok();
    assert_eq!((r.lines().len(), r.err.as_str()), (3, ""));
    // Nothing refused, nothing said.
    let r = h.run(&["--", "true"]).ok();
    assert_eq!(r.err, "");
}

/// A tiny HTTP server on the host's loopback answering every request with `body`.
fn http_server(body: &'static str) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            use std::io::{Read, Write};
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = write!(c, "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        }
    });
    port
}

#[test]
fn only_allowed_hosts_answer_through_the_proxy_and_nothing_connects_directly() {
    let Some(h) = harness() else { return };
    let (a, b) = (http_server("server-a"), http_server("server-b"));
    let code = "import sys, socket, urllib.request\n\
                for p in sys.argv[1:]:\n    u = 'http://127.0.0.1:%s/' % p\n\
                \x20   try: print(p, urllib.request.urlopen(u, timeout=10).read().decode())\n\
                \x20   except Exception as e: print(p, 'error', getattr(e, 'code', e))\n\
                for p in sys.argv[1:]:\n\
                \x20   try: socket.create_connection(('127.0.0.1', int(p)), timeout=5); print(p, 'direct connected')\n\
                \x20   except OSError: print(p, 'direct refused')";
    let allow = format!("127.0.0.1:{a}");
    let (pa, pb) = (a.to_string(), b.to_string());
    let r = h.run(&["--allow-host", &allow, "--", "/usr/bin/python3", "-c", code, &pa, &pb]).ok();
    assert_eq!(
        r.lines(),
        [
            format!("{a} server-a"),
            format!("{b} error 403"),
            format!("{a} direct refused"),
            format!("{b} direct refused")
        ]
    );
    // Said when it happens, and again at exit with the option that allows it.
    assert_eq!(
        r.err,
        format!(
            "jail: --allow-host: refused a connection to 127.0.0.1:{b}: not in the allow list\n\
             jail: --allow-host refused 127.0.0.1:{b} once (not in the allow list); to allow it: --allow-host 127.0.0.1:{b}\n"
        )
    );
    // For supervisors: the refusal in the JSON report.
    let r = h.run(&["--allow-host", &allow, "--report=json", "--", "/usr/bin/python3", "-c", code, &pb]).ok();
    let json = r.err.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(json).expect("a JSON report");
    assert_eq!(v["refused_hosts"][0]["port"], b);
    assert_eq!(v["refused_hosts"][0]["host"], "127.0.0.1");
    // The proxy needs the sandbox's own network.
    let r = h.run(&["--allow-host", &allow, "--share-net", "--", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.err.contains("--allow-host needs the sandbox's own network"), "{}", r.err);
}

#[test]
fn doctor_shows_the_network_policy_and_the_protected_paths() {
    let Some(h) = harness() else { return };
    let d = h.dir();
    let missing = d.join("not-yet");
    let m = missing.display().to_string();
    let r = h.run(&[
        "doctor",
        "--allow-host",
        "localhost:80",
        "--allow-host",
        "*.example.org",
        "--protect",
        &m,
        "--protect",
        "/etc",
    ]);
    let line = |start: &str| r.out.lines().find(|l| l.starts_with(start)).map(str::to_string).unwrap_or_default();
    assert!(
        line("ok       network: ").contains("proxy on 127.0.0.1:3128 for: localhost:80 *.example.org"),
        "{}",
        r.out
    );
    assert!(line("ok       --allow-host localhost:80: resolves here to ").len() > 40, "{}", r.out);
    assert!(line("ok       --allow-host *.example.org: every name below it").len() > 20, "{}", r.out);
    assert!(line(&format!("ok       --protect {m}: missing")).contains("placeholder"), "{}", r.out);
    assert!(line("ok       --protect /etc: a directory").len() > 20, "{}", r.out);
    let r = h.run(&["doctor", "--allow-host", "not a host"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.out.contains("MISSING  --allow-host not a host: --allow-host not a host: not a host name"), "{}", r.out);
}
