//! Escape attempts from inside the default sandbox. Each must fail, and the failure is observed
//! (an errno printed from inside, or the host unchanged). Syscalls are issued through Python's
//! ctypes from the host's /usr/bin/python3, visible read-only in the default view.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;

use common::{harness, Harness, Run};

const PY_PRELUDE: &str = r#"
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *a):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) for x in a])
    return "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
"#;

fn py(h: &Harness, args: &[&str], code: &str) -> Run {
    let mut v: Vec<&str> = args.to_vec();
    let script = format!("{PY_PRELUDE}\n{code}");
    v.extend(["--", "/usr/bin/python3", "-c", &script]);
    Run::from(common::output(&mut h.jail(v)))
}

/// Runs `name = sc(...)` lines and returns the printed `name=result` pairs.
fn syscalls(h: &Harness, args: &[&str], calls: &[(&str, &str)]) -> Vec<(String, String)> {
    let code: String = calls.iter().map(|(name, call)| format!("print({name:?} + '=' + {call})\n")).collect();
    let r = py(h, args, &code).ok();
    r.out.lines().filter_map(|l| l.split_once('=')).map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn dangerous_syscalls_fail_with_eperm() {
    let Some(h) = harness() else { return };
    let calls = [
        ("keyctl", "sc(250, 0, 0, 0)"),
        ("add_key", "sc(248, 0, 0, 0, 0, 0)"),
        ("request_key", "sc(249, 0, 0, 0, 0)"),
        ("bpf", "sc(321, 0, 0, 0)"),
        ("perf_event_open", "sc(298, 0, 0, 0, 0, 0)"),
        ("userfaultfd", "sc(323, 0)"),
        ("init_module", "sc(175, 0, 0, 0)"),
        ("finit_module", "sc(313, 0, 0, 0)"),
        ("delete_module", "sc(176, 0, 0)"),
        ("kexec_load", "sc(246, 0, 0, 0, 0)"),
        ("reboot", "sc(169, 0, 0, 0, 0)"),
        ("swapon", "sc(167, 0, 0)"),
        ("acct", "sc(163, 0)"),
        ("open_by_handle_at", "sc(304, 0, 0, 0)"),
        ("fsopen", "sc(430, 0, 0)"),
        ("open_tree", "sc(428, 0, 0, 0)"),
        ("move_mount", "sc(429, 0, 0, 0, 0, 0)"),
        ("mount_setattr", "sc(442, 0, 0, 0, 0, 0)"),
        ("open_tree_attr", "sc(467, 0, 0, 0, 0, 0)"),
        ("setxattrat", "sc(463, 0, 0, 0, 0, 0)"),
        ("getxattrat", "sc(464, 0, 0, 0, 0, 0)"),
        ("listxattrat", "sc(465, 0, 0, 0, 0)"),
        ("removexattrat", "sc(466, 0, 0, 0)"),
        ("file_getattr", "sc(468, 0, 0, 0, 0, 0)"),
        ("file_setattr", "sc(469, 0, 0, 0, 0, 0)"),
        ("io_uring_setup", "sc(425, 1, 0)"),
        ("personality_no_aslr", "sc(135, 0x0040000)"),
    ];
    for (name, result) in syscalls(h, &[], &calls) {
        assert_eq!(result, "EPERM", "{name} was not refused by the policy");
    }
    // Asking for the current persona stays allowed.
    let r = syscalls(h, &[], &[("personality_query", "sc(135, 0xffffffff)")]);
    assert_eq!(r[0].1, "ok");
}

#[test]
fn clone3_x32_and_newer_numbers_get_enosys_and_plain_clone_still_works() {
    let Some(h) = harness() else { return };
    let calls = [
        ("clone3", "sc(435, 0, 0)"),
        ("x32_getpid", "sc(0x40000000 + 39)"),
        ("after_the_highest_known", "sc(470, 0, 0, 0, 0, 0)"),
        ("far_future", "sc(1000, 0, 0, 0, 0, 0)"),
        ("getpid", "sc(39)"),
    ];
    let r = syscalls(h, &[], &calls);
    assert_eq!(r[0].1, "ENOSYS");
    assert_eq!(r[1].1, "ENOSYS");
    assert_eq!(r[2].1, "ENOSYS");
    assert_eq!(r[3].1, "ENOSYS");
    assert_eq!(r[4].1, "ok");
    // fork (clone without namespace flags) works.
    h.sh(&[], "sh -c 'exit 0' && echo forked").ok();
}

#[test]
fn status_shows_every_layer() {
    let Some(h) = harness() else { return };
    let r = h.sh(&[], "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status").ok();
    let want = ["CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2"];
    assert_eq!(r.lines(), want);
    // jail's init too.
    let r = h.sh(&[], "grep -E '^(NoNewPrivs|Seccomp):' /proc/1/status").ok();
    assert_eq!(r.lines(), ["NoNewPrivs:\t1", "Seccomp:\t2"]);
}

#[test]
fn mounting_and_remounting_fail_even_with_all_capabilities() {
    let Some(h) = harness() else { return };
    for args in [&[][..], &["--uid", "0", "--gid", "0", "--cap-add", "ALL"][..]] {
        let r = h.sh(
            args,
            "mount -o remount,rw / 2>&1 | head -1; mount -t tmpfs none /tmp 2>&1 | head -1; \
             mount -t proc proc /mnt 2>&1 | head -1; umount /run 2>&1 | head -1; echo end",
        );
        let l = r.lines();
        assert_eq!(l.len(), 5, "{r:?}");
        for line in &l[..4] {
            assert!(
                line.contains("ermission denied")
                    || line.contains("not permitted")
                    || line.contains("must be superuser"),
                "{args:?}: {line}"
            );
        }
    }
    // And the host's /run stays hidden under the tmpfs.
    let marker = format!("/run/jail-escape-marker-{}", std::process::id());
    if std::fs::write(&marker, "host").is_ok() {
        let r = h
            .sh(&["--uid", "0", "--cap-add", "ALL"], &format!("umount -l /run 2>/dev/null; cat {marker} 2>&1; true"))
            .ok();
        let _ = std::fs::remove_file(&marker);
        assert!(r.out.contains("No such file"), "{r:?}");
    }
}

#[test]
fn pivot_root_and_chroot_lead_nowhere() {
    let Some(h) = harness() else { return };
    let r = syscalls(
        h,
        &[],
        &[
            ("pivot_root", "sc(155, 0, 0)"),
            ("chroot", "str(libc.chroot(b'/tmp') and errno.errorcode[ctypes.get_errno()])"),
        ],
    );
    assert_eq!(r[0].1, "EPERM");
    assert_eq!(r[1].1, "EPERM");
    // With every capability, chroot works but only inside the sandbox: ".." of / is /.
    let code = "os.chroot('/tmp'); os.chdir('/'); print(len(os.listdir('/..')))";
    let r = py(h, &["--uid", "0", "--gid", "0", "--cap-add", "ALL"], code).ok();
    assert_eq!(r.out.trim(), "0", "the chroot's .. is not its own root: {r:?}");
}

#[test]
fn host_files_are_unreachable_through_proc() {
    let Some(h) = harness() else { return };
    let dir = h.dir();
    std::fs::write(dir.join("secret"), "host secret").unwrap();
    std::fs::set_permissions(dir.join("secret"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let secret = dir.join("secret").display().to_string();
    let Some(tree) = common::tree("busybox") else { return };
    let bb = tree.to_str().unwrap();
    let r = h.run(&[
        "--ro-bind",
        bb,
        "/",
        "--",
        "sh",
        "-c",
        &format!("cat {secret}; cat /proc/1/root{secret}; cat /proc/self/root{secret}; ls /proc/1/root/ 2>&1 | head -1; readlink /proc/1/exe; cat /proc/1/environ"),
    ]);
    assert!(!r.out.contains("host secret") && !r.err.contains("host secret"), "{r:?}");
    assert!(
        r.err.contains("Permission denied") || r.out.contains("Permission denied"),
        "init's /proc entries readable: {r:?}"
    );
}

#[test]
fn jails_init_cannot_be_ptraced_or_read() {
    let Some(h) = harness() else { return };
    // Without Landlock too: init is not dumpable from before the command's fork, so this does
    // not rest on Landlock's ptrace rule nor on init winning a race after the fork.
    // (Signals to init are Landlock's scoping; without it init passes them on to the command.)
    for args in [&[][..], &["--landlock=off"][..]] {
        let mut calls = vec![("ptrace_attach", "sc(101, 16, 1, 0, 0)"), ("ptrace_seize", "sc(101, 0x4206, 1, 0, 0)")];
        if args.is_empty() {
            calls.extend([("kill_stop", "sc(62, 1, 19)"), ("kill_term", "sc(62, 1, 15)")]);
        }
        let r = syscalls(h, args, &calls);
        for (name, res) in r {
            assert_eq!(res, "EPERM", "{args:?} {name}");
        }
        let r = h.sh(args, "cat /proc/1/mem 2>&1; cat /proc/1/maps 2>&1 | head -1; echo alive").ok();
        assert!(r.out.contains("Permission denied"), "{args:?} {r:?}");
        // The command itself is dumpable again from its exec: its own /proc files are its.
        let r = h.sh(args, "stat -c %u /proc/self/mem").ok();
        assert_eq!(r.lines(), [h.uid.to_string()], "{args:?}");
    }
}

#[test]
fn leaked_descriptors_do_not_reach_the_command() {
    let Some(h) = harness() else { return };
    use std::os::fd::AsRawFd;
    // A directory descriptor of the host, as a careless parent might leak it (no O_CLOEXEC).
    let host_dir = std::fs::File::open("/").unwrap();
    let mut c = h.jail(["--", "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; ls /proc/self/fd/7/ 2>&1 | head -1"]);
    common::hand_over(&mut c, host_dir.as_raw_fd(), 7);
    let r = Run::from(common::output(&mut c)).ok();
    let l = r.lines();
    assert!(!l[0].split_whitespace().any(|f| f == "7"), "fd 7 leaked: {r:?}");
    assert!(l[1].contains("No such file"), "{r:?}");
}

#[test]
fn proc_self_exe_cannot_be_overwritten() {
    let Some(h) = harness() else { return };
    let r = h.sh(&[], "echo x > /proc/self/exe 2>&1; echo x 2>&1 > /proc/1/exe; echo done");
    assert!(!r.out.is_empty());
    assert!(
        r.out.contains("Text file busy") || r.out.contains("Read-only") || r.out.contains("Permission denied"),
        "{r:?}"
    );
}

#[test]
fn the_callers_processes_cannot_be_signalled_even_with_a_shared_pid_namespace() {
    let Some(h) = harness() else { return };
    // A process of the same user outside the sandbox.
    let mut victim = h.as_user("sleep").arg("60").spawn().unwrap();
    let pid = victim.id().to_string();
    let r = h.sh(&["--share-pid"], &format!("kill -0 {pid} 2>&1; kill -TERM {pid} 2>&1; echo end"));
    assert!(r.out.contains("not permitted"), "{r:?}");
    assert!(victim.try_wait().unwrap().is_none(), "the caller's process was killed from inside");
    let _ = victim.kill();
    let _ = victim.wait();
}

/// Listens on an abstract unix socket in the host's network namespace.
fn abstract_listener(name: &str) -> std::os::unix::net::UnixListener {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    std::os::unix::net::UnixListener::bind_addr(&addr).unwrap()
}

#[test]
fn host_abstract_sockets_are_unreachable_even_with_a_shared_network() {
    let Some(h) = harness() else { return };
    let name = format!("jail-test-{}", std::process::id());
    let _l = abstract_listener(&name);
    let code = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect('\\0{name}'); print('connected')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])"
    );
    let shared = py(h, &["--share-net"], &code).ok();
    assert_eq!(shared.out.trim(), "EPERM", "Landlock scoping missing: {shared:?}");
    let own = py(h, &[], &code).ok();
    assert_eq!(own.out.trim(), "ECONNREFUSED", "{own:?}");
    // The probe itself is sound: without Landlock the shared network reaches the socket.
    let off = py(h, &["--share-net", "--landlock=off"], &code).ok();
    assert_eq!(off.out.trim(), "connected", "{off:?}");
}

#[test]
fn tcp_is_limited_to_allowed_ports() {
    let Some(h) = harness() else { return };
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (pa, pb) = (a.local_addr().unwrap().port(), b.local_addr().unwrap().port());
    let code = format!(
        "import socket\nfor p in ({pa}, {pb}):\n    s = socket.socket()\n    try:\n        s.connect(('127.0.0.1', p)); print(p, 'ok')\n    except OSError as e:\n        print(p, errno.errorcode[e.errno])"
    );
    let pa_s = pa.to_string();
    let r = py(h, &["--share-net", "--allow-connect", &pa_s], &code).ok();
    assert_eq!(r.lines(), [format!("{pa} ok"), format!("{pb} EACCES")]);
    // Binding is restricted the same way.
    let code = "import socket\nfor p in (0, 45871):\n    s = socket.socket()\n    try:\n        s.bind(('127.0.0.1', p)); print('bound')\n    except OSError as e:\n        print(errno.errorcode[e.errno])";
    let r = py(h, &["--share-net", "--allow-bind", "45871"], code).ok();
    assert_eq!(r.lines(), ["EACCES", "bound"]);
}

#[test]
fn terminal_injection_is_refused_on_a_real_terminal() {
    let Some(h) = harness() else { return };
    // `script` gives jail a pty as its terminal. legacy_tiocsti=1 on the host means TIOCSTI
    // would work without the policy: check that first, so the test cannot pass vacuously.
    let code = "import fcntl, termios\nfor req in (termios.TIOCSTI, 0x100000000 | termios.TIOCSTI, 0x541C):\n    try:\n        fcntl.ioctl(0, req, b'\\x00' if req != 0x541C else b'\\x0b')\n        print('ok')\n    except OSError as e:\n        print(errno.errorcode[e.errno])";
    let run = |extra: &[&str]| -> String {
        let mut args: Vec<String> = vec![h.bin.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["--".into(), "/usr/bin/python3".into(), "-c".into(), format!("{PY_PRELUDE}\n{code}")]);
        let cmdline = args.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ");
        let mut c = h.as_user("script");
        c.args(["-qec", &cmdline, "/dev/null"]).current_dir(h.dir()).stdin(std::process::Stdio::null());
        String::from_utf8_lossy(&common::output(&mut c).stdout).replace('\r', "")
    };
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").map(|s| s.trim() == "1").unwrap_or(false);
    if legacy {
        let open = run(&["--seccomp-policy", "off"]);
        assert!(open.lines().next().unwrap_or("").ends_with("ok"), "TIOCSTI refused even without the policy: {open:?}");
    }
    let guarded = run(&[]);
    let l: Vec<&str> = guarded.lines().collect();
    assert_eq!(&l[..3], ["EPERM", "EPERM", "EPERM"], "{guarded:?}");
    // An allow-all profile does not lift the floor.
    let dir = h.dir();
    let allow_all = dir.join("allow-all.json");
    std::fs::write(&allow_all, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    std::fs::set_permissions(&allow_all, std::fs::Permissions::from_mode(0o644)).unwrap();
    let profiled = run(&["--seccomp-policy", allow_all.to_str().unwrap()]);
    let l: Vec<&str> = profiled.lines().collect();
    assert_eq!(&l[..3], ["EPERM", "EPERM", "EPERM"], "{profiled:?}");
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn nested_user_namespaces_are_refused_unless_allowed() {
    let Some(h) = harness() else { return };
    let probe = "unshare -U true 2>&1 && echo nested-ok; unshare -Urn true 2>&1 && echo nested-ok; echo end";
    for args in [&[][..], &["--disable-userns"][..], &["--seccomp-policy", "off"][..]] {
        let r = h.sh(args, probe).ok();
        assert!(r.out.contains("Operation not permitted") && !r.out.contains("nested-ok"), "{args:?}: {r:?}");
    }
    // clone3 cannot carry CLONE_NEWUSER past the check either.
    let r = syscalls(h, &[], &[("clone3_newuser", "sc(435, 0, 0)")]);
    assert_eq!(r[0].1, "ENOSYS");
    // The opt-in, and what it opens: raw sockets in a nested user and network namespace.
    let r = h.sh(&["--allow-userns"], "unshare -U true && echo nested-ok").ok();
    assert_eq!(r.out.trim(), "nested-ok");
    let raw = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\nprint('raw-ok')";
    let r = h.run(&["--allow-userns", "--", "unshare", "-Urn", "/usr/bin/python3", "-c", raw]).ok();
    assert_eq!(r.out.trim(), "raw-ok", "the probe cannot show what the default refuses: {r:?}");
    let r = h.run(&["--allow-userns", "--disable-userns", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.err.starts_with("jail: --allow-userns contradicts --disable-userns"), "{}", r.err);
    let plan = h.run(&["--dry-run", "true"]).ok().out;
    assert!(plan.contains("EPERM for clone/unshare with CLONE_NEWUSER"), "{plan}");
}

#[test]
fn the_mount_api_is_refused_even_with_every_capability() {
    let Some(h) = harness() else { return };
    // open_tree_attr (Linux 6.15) clones a mount like open_tree; with CAP_SYS_ADMIN it would
    // hand the command a writable clone of a read-only bind.
    let code = r#"
for nr, name in ((428, "open_tree"), (467, "open_tree_attr")):
    fd = libc.syscall(ctypes.c_long(nr), ctypes.c_long(-100), ctypes.c_char_p(b"/usr"), ctypes.c_long(1 | 0o2000000), ctypes.c_void_p(0), ctypes.c_long(0))
    print(name + "=" + ("ok" if fd >= 0 else errno.errorcode[ctypes.get_errno()]))
"#;
    for args in [&[][..], &["--uid", "0", "--gid", "0", "--cap-add", "ALL"][..]] {
        let r = py(h, args, code).ok();
        assert_eq!(r.lines(), ["open_tree=EPERM", "open_tree_attr=EPERM"], "{args:?}");
    }
}

#[test]
fn setuid_binaries_gain_nothing() {
    let Some(h) = harness() else { return };
    // A setuid-root copy of id, bound into the sandbox.
    let dir = h.dir();
    let id = dir.join("suid-id");
    std::fs::copy("/usr/bin/id", &id).unwrap();
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let d = dir.display().to_string();
    let r = h.sh(&["--ro-bind", "/", "/", "--tmpfs", "/tmp", "--ro-bind", &d, "/tmp/s"], "/tmp/s/suid-id -u").ok();
    assert_eq!(r.out.trim(), h.uid.to_string());
}

#[test]
fn mknod_fails() {
    let Some(h) = harness() else { return };
    for args in [&[][..], &["--uid", "0", "--cap-add", "ALL"][..]] {
        let r = h.sh(args, "mknod /tmp/null c 1 3 2>&1; echo end");
        assert!(r.out.contains("not permitted"), "{args:?}: {r:?}");
    }
}

#[test]
fn proc_knobs_and_sysrq_are_read_only() {
    let Some(h) = harness() else { return };
    // Some kernels do not show sysrq-trigger to a user namespace at all; where it exists it is
    // read-only.
    let r = h.sh(
        &["--uid", "0", "--cap-add", "ALL"],
        "for f in /proc/sysrq-trigger /proc/sys/kernel/hostname /proc/sys/vm/drop_caches; do \
           if [ -e $f ]; then (echo 1 > $f) 2>&1 && echo WROTE $f; fi; done; echo end",
    );
    assert!(!r.out.contains("WROTE"), "{r:?}");
    assert!(r.out.contains("Read-only file system") || r.err.contains("Read-only file system"), "{r:?}");
}

#[test]
fn seccomp_programs_from_descriptors_stack_on_top() {
    let Some(h) = harness() else { return };
    // A classic BPF program refusing getppid (110) with EPERM, allowing everything else:
    // ld [0]; jeq #110, 0, 1; ret #ERRNO|1; ret #ALLOW.
    let prog: [(u16, u8, u8, u32); 4] =
        [(0x20, 0, 0, 0), (0x15, 0, 1, 110), (0x06, 0, 0, 0x0005_0001), (0x06, 0, 0, 0x7fff_0000)];
    let mut bytes = Vec::new();
    for (code, jt, jf, k) in prog {
        bytes.extend(code.to_ne_bytes());
        bytes.extend([jt, jf]);
        bytes.extend(k.to_ne_bytes());
    }
    let (r, w) = std::io::pipe().unwrap();
    std::io::Write::write_all(&mut &w, &bytes).unwrap();
    drop(w);
    let fd = std::os::fd::AsRawFd::as_raw_fd(&r);
    let script = format!("{PY_PRELUDE}\nprint(sc(110), sc(250, 0, 0, 0), sc(39))");
    let mut c = h.jail(["--add-seccomp-fd", "8", "--", "/usr/bin/python3", "-c", &script]);
    common::hand_over(&mut c, fd, 8);
    let out = Run::from(common::output(&mut c)).ok();
    assert_eq!(out.out.trim(), "EPERM EPERM ok", "{out:?}");
}

#[test]
fn a_docker_profile_is_enforced() {
    let Some(h) = harness() else { return };
    let dir = h.dir();
    let profile = dir.join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                         {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                          "args": [{"index": 1, "value": 21531, "op": "SCMP_CMP_EQ"}]}]}"#,
    )
    .unwrap();
    let p = profile.display().to_string();
    let calls = [
        ("getppid", "sc(110)"),
        ("keyctl", "sc(250, 0, 0, 0)"),
        ("userfaultfd_user", "sc(323, 1)"),
        // FIONREAD (0x541b) with high bits set: the kernel ignores them, so must the rule.
        ("fionread_high_bits", "sc(16, 0, 0x10000541b, 0)"),
    ];
    let r = syscalls(h, &["--seccomp-policy", &p], &calls);
    assert_eq!(r[0].1, "EACCES");
    assert_eq!(r[1].1, "EPERM", "the floor stays under a profile");
    assert_eq!(r[2].1, "ok", "the profile replaces the default policy above the floor");
    assert_eq!(r[3].1, "EACCES", "ioctl's request was compared on 64 bits");
    // A wrongly typed field is refused with where and why, by the plan (so --dry-run too).
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]}"#).unwrap();
    let b = bad.display().to_string();
    for args in [&["--seccomp-policy", &b, "true"][..], &["--dry-run", "--seccomp-policy", &b, "true"][..]] {
        let r = h.run(args);
        assert_eq!(r.code, 125, "{r:?}");
        assert_eq!(r.err, format!("jail: --seccomp-policy {b}: syscalls[0] (read): errnoRet 5000 is out of range: errno values go from 0 to 4095\n"));
    }
    let r = h.run(&["--seccomp-policy", "/no/such/profile.json", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.err.starts_with("jail: --seccomp-policy /no/such/profile.json: ENOENT"), "{}", r.err);
}

#[test]
fn a_profile_that_kills_says_for_which_call() {
    let Some(h) = harness() else { return };
    let dir = h.dir();
    let profile = dir.join("kill.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL"}]}"#,
    )
    .unwrap();
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let p = profile.display().to_string();
    let code = "print('before', flush=True)\nsc(110)\nprint('after', flush=True)";
    for mode in [&[][..], &["--as-pid-1"][..], &["--share-pid"][..]] {
        let mut args = mode.to_vec();
        args.extend(["--seccomp-policy", &p]);
        let r = py(h, &args, code);
        assert_eq!(r.code, 159, "{mode:?}: {r:?}");
        assert_eq!(r.out, "before\n", "{mode:?}: the call ran: {r:?}");
        assert!(
            r.err.starts_with(&format!(
                "jail: --seccomp-policy {p}: the profile kills for getppid (syscall 110): process "
            )),
            "{mode:?}: {}",
            r.err
        );
        assert_eq!(r.err.lines().count(), 1, "{}", r.err);
    }
    // The kernel's own kill (a foreign architecture's call) still gets a line.
    let r = py(h, &[], "import signal\nos.kill(os.getpid(), signal.SIGSYS)");
    assert_eq!(r.code, 159);
    assert!(r.err.starts_with("jail: the command was killed by SIGSYS"), "{}", r.err);
}

#[test]
fn landlock_keeps_writes_inside_writable_mounts() {
    let Some(h) = harness() else { return };
    // With every capability and uid 0 inside, the read-only root is still read-only: the mount
    // flag and Landlock both say no; /tmp stays writable.
    let r = h.sh(&["--uid", "0", "--cap-add", "ALL"], "touch /etc/jail-x 2>&1; touch /tmp/ok && echo tmp-ok").ok();
    assert!(r.out.contains("Read-only file system") || r.out.contains("Permission denied"), "{r:?}");
    assert!(r.out.contains("tmp-ok"));
    // strict on this kernel (ABI >= 6) runs; the plan names the kernel ABI.
    let plan = h.run(&["--dry-run", "--landlock=strict", "true"]).ok().out;
    assert!(plan.contains("landlock:     strict, kernel ABI"), "{plan}");
}

#[test]
fn the_sandboxed_command_sees_only_its_processes_to_attack() {
    let Some(h) = harness() else { return };
    let mut child = h.spawn(&["--", "sh", "-c", "echo ready; ls /proc | grep -cE '^[0-9]+$'"]);
    let _guard = common::kill_after(child.id(), common::LIMIT);
    let out = child.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(out).lines().map_while(Result::ok).collect();
    let _ = child.wait();
    let n: u32 = lines[1].trim().parse().unwrap();
    assert!(n <= 4, "{lines:?}");
}
