//! The bubblewrap personality: jail called as `bwrap`, driven the way bwrap's callers drive it
//! (shell scripts with descriptors on redirections), as the test user, effects observed from
//! inside the sandbox and on the host.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;

use common::{default_signals, harness, host_ns, output, Harness, Run};

/// A directory holding `bwrap`: the jail under test under that name (a hard link, or a copy
/// across filesystems), so that `/proc/self/exe` names it `bwrap` too, as for a packaged one.
fn links(h: &Harness) -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = h.dir();
        let b = d.join("bwrap");
        if std::fs::hard_link(&h.bin, &b).is_err() {
            std::fs::copy(&h.bin, &b).expect("copy jail as bwrap");
        }
        d
    })
}

/// Runs `sh -c script` as the test user in a fresh directory it owns, with `bwrap` on PATH
/// naming jail. `$D` is that directory.
fn bw(h: &Harness, script: &str) -> Run {
    let dir = h.dir();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", links(h).display());
    let mut c = h.as_user("/bin/sh");
    c.arg("-c").arg(script).current_dir(&dir).env_clear().env("PATH", path).env("D", &dir);
    c.env("HOME", &h.home).env("LANG", "C").stdin(Stdio::null());
    default_signals(&mut c);
    Run::from(output(&mut c))
}

#[test]
fn called_as_bwrap_it_speaks_bubblewraps_usage_and_errors() {
    let Some(h) = harness() else { return };
    let r = bw(h, "bwrap --help; bwrap --version").ok();
    assert!(r.out.starts_with("usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]"), "{}", r.out);
    assert!(r.out.contains("--json-status-fd FD") && r.out.contains("bubblewrap 0.11.1"), "{}", r.out);
    let r = bw(h, "bwrap --frobnicate true");
    assert_eq!((r.code, r.err.as_str()), (1, "bwrap: Unknown option --frobnicate\n"));
    let r = bw(h, "bwrap --unshare-pid --bind /source-enoent /dest true");
    assert_eq!(r.code, 1);
    assert_eq!(r.err, "bwrap: Can't find source path /source-enoent: No such file or directory\n");
    // The same through jail's own name.
    let r = bw(h, &format!("{} --bwrap --bind / / --chdir / --chdir / true", h.bin.display())).ok();
    assert_eq!(r.err, "bwrap: Only the last --chdir option will take effect\n");
    let r = bw(h, "bwrap --level-prefix --bind / / --chdir / --chdir / true").ok();
    assert_eq!(r.err, "<4>bwrap: Only the last --chdir option will take effect\n");
    // An option after "--" is the command's name, not an option.
    let r = bw(h, "bwrap --bind / / -- --dev-bind /dev /dev sh -c 'echo ran'");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.out.contains("ran") && r.err.starts_with("bwrap: execvp --dev-bind:"), "{r:?}");
}

#[test]
fn namespaces_are_the_callers_unless_unshared_and_nothing_is_added() {
    let Some(h) = harness() else { return };
    let script = "for n in user mnt pid net ipc uts cgroup; do readlink /proc/self/ns/$n; done";
    let shared = bw(h, &format!("bwrap --bind / / sh -c '{script}'")).ok();
    let got: Vec<&str> = shared.lines();
    let names = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"];
    for (n, g) in names.iter().zip(&got) {
        match *n {
            "user" | "mnt" => assert_ne!(*g, host_ns(n), "{n} must be new"),
            _ => assert_eq!(*g, host_ns(n), "{n} must be the caller's"),
        }
    }
    let all = bw(h, &format!("bwrap --unshare-all --share-net --bind / / sh -c '{script}'")).ok();
    for (n, g) in names.iter().zip(all.lines()) {
        if *n == "net" {
            assert_eq!(g, host_ns(n), "--share-net keeps the network");
        } else {
            assert_ne!(g, host_ns(n), "{n} must be new with --unshare-all");
        }
    }
    // No Landlock, no seccomp, no implicit mounts: the host's /tmp is the sandbox's.
    let r = bw(h, "echo hi > /tmp/bwrap-test.$$; bwrap --bind / / sh -c 'grep ^Seccomp: /proc/self/status; cat /tmp/bwrap-test.'$$; rm /tmp/bwrap-test.$$").ok();
    assert_eq!(r.lines(), ["Seccomp:\t0", "hi"]);
    let r = bw(h, "bwrap --dev-bind / / sh -c 'test -e /tmp/oldroot || test -e /tmp/newroot || echo clean'").ok();
    assert_eq!(r.out, "clean\n");
}

#[test]
fn info_and_json_status_report_the_child_its_namespaces_and_the_exit_code() {
    let Some(h) = harness() else { return };
    let r = bw(
        h,
        "bwrap --unshare-all --proc /proc --bind / / --info-fd 3 --json-status-fd 4 -- \
         sh -c 'for n in ipc mnt net pid uts; do stat -L -c \"$n %i\" /proc/self/ns/$n; done; exit 42' \
         3>info.json 4>status.json; echo rc=$?; cat info.json status.json",
    );
    let lines = r.lines();
    assert!(lines.contains(&"rc=42"), "{r:?}");
    let info = r.out.split("rc=42\n").nth(1).unwrap_or_default();
    assert!(info.starts_with("{\n    \"child-pid\": "), "{info}");
    for l in lines.iter().take(5) {
        let (ns, id) = l.split_once(' ').unwrap_or_default();
        assert!(info.contains(&format!("\"{ns}-namespace\": {id}")), "{ns} {id} missing: {info}");
    }
    let status: Vec<&str> = info.lines().filter(|l| l.starts_with("{ ")).collect();
    assert_eq!(status.len(), 2, "{info}");
    assert!(status[0].starts_with("{ \"child-pid\": ") && status[0].contains("\"pid-namespace\": "), "{info}");
    assert_eq!(status[1], "{ \"exit-code\": 42 }");
    // A command that never ran has no exit code.
    let r = bw(h, "bwrap --bind / / --json-status-fd 4 / 4>status.json; echo rc=$?; cat status.json");
    assert!(r.out.starts_with("rc=1\n{ \"child-pid\": ") && !r.out.contains("exit-code"), "{r:?}");
    assert!(r.err.contains("bwrap: execvp /: Permission denied"), "{r:?}");
}

#[test]
fn arguments_come_from_descriptors_in_place() {
    let Some(h) = harness() else { return };
    let r = bw(
        h,
        "printf -- '--dir\\0/tmp/a/b\\0' > a1; printf -- '--dir\\0/tmp/c\\0--setenv\\0X\\0y z\\0' > a2; \
         bwrap --bind / / --tmpfs /tmp --args 3 --args 4 sh -c 'test -d /tmp/a/b && test -d /tmp/c && echo \"$X\"' 3<a1 4<a2",
    )
    .ok();
    assert_eq!(r.out, "y z\n");
    let r = bw(h, "printf -- '--args\\0' > a; bwrap --args 3 --bind / / true 3<a");
    assert_eq!((r.code, r.err.trim()), (1, "bwrap: --args not supported in arguments file"));
}

#[test]
fn symlinks_are_idempotent_and_a_conflict_names_the_existing_target() {
    let Some(h) = harness() else { return };
    let r = bw(
        h,
        "bwrap --ro-bind / / --bind $D $D --symlink /dev/null $D/l true && readlink l && \
         bwrap --ro-bind / / --bind $D $D --symlink /dev/null $D/l true && echo again && \
         bwrap --ro-bind / / --bind $D $D --symlink /dev/full $D/l true",
    );
    assert_eq!(r.lines(), ["/dev/null", "again"]);
    assert_eq!(r.code, 1);
    assert!(
        r.err.starts_with("bwrap: Can't make symlink at ") && r.err.ends_with(": existing destination is /dev/null\n"),
        "{}",
        r.err
    );
    // A bind onto a symlink lands where the link points, inside the sandbox.
    let r = bw(h, "bwrap --bind / / --tmpfs /tmp --dir /tmp/dir --symlink dir /tmp/link --bind /etc /tmp/link test -f /tmp/dir/passwd && echo ok").ok();
    assert_eq!(r.out, "ok\n");
}

#[test]
fn created_paths_get_bubblewraps_modes() {
    let Some(h) = harness() else { return };
    let r = bw(
        h,
        "umask 022; mkdir keep && chmod 0710 keep; touch f; mkdir sd; \
         bwrap --bind / / --bind $D/sd $D/mp-dir --bind $D/f $D/mp-file \
           --perms 1741 --dir $D/new --perms 0741 --dir $D/keep --dir $D/dflt \
           --perms 0604 --dir $D/p1/x --perms 0750 --dir $D/p2/x --perms 0000 --dir $D/p3/x \
           --dir $D/c --chmod 1755 $D/c true && \
         stat -c '%n %a' mp-dir mp-file new keep dflt p1 p2 p3 c",
    )
    .ok();
    assert_eq!(
        r.lines(),
        ["mp-dir 755", "mp-file 444", "new 1741", "keep 710", "dflt 755", "p1 705", "p2 750", "p3 700", "c 1755"]
    );
    let r = bw(
        h,
        "bwrap --bind / / --tmpfs /tmp --file 0 /tmp/a --perms 0640 --file 0 /tmp/b --bind-data 0 /tmp/c \
         --ro-bind-data 0 /tmp/d --perms 01777 --size 1048576 --tmpfs /tmp/e \
         sh -c 'stat -c \"%n %a\" /tmp/a /tmp/b /tmp/c /tmp/d /tmp/e; df --output=size --block-size=1K /tmp/e | tail -1 | tr -d \" \"; touch /tmp/d' </dev/null",
    );
    assert_eq!(r.lines(), ["/tmp/a 666", "/tmp/b 640", "/tmp/c 600", "/tmp/d 600", "/tmp/e 1777", "1024"], "{r:?}");
    assert!(r.err.contains("Read-only file system"), "--ro-bind-data must be read-only: {r:?}");
}

#[test]
fn bad_sizes_and_repeated_modifiers_are_refused() {
    let Some(h) = harness() else { return };
    for bad in ["0", "123bogus", "''", "-12345678", "' -1'", "18446744073709551616", "9223372036854775809"] {
        let r = bw(h, &format!("bwrap --bind / / --size {bad} --tmpfs /tmp/a true"));
        assert_eq!(r.code, 1, "--size {bad}: {r:?}");
        assert!(r.err.starts_with("bwrap: --size "), "{r:?}");
    }
    let r = bw(h, "bwrap --bind / / --perms 0640 --perms 0640 --tmpfs /tmp/a true");
    assert_eq!(r.err, "bwrap: --perms given twice for the same action\n");
    let r = bw(h, "bwrap --bind / / --size 1 --dir /tmp/a true");
    assert_eq!(r.err, "bwrap: --size must be followed by --tmpfs\n");
}

#[test]
fn environment_argv0_directory_and_descriptors() {
    let Some(h) = harness() else { return };
    let r = bw(
        h,
        "FOO=wrong BAR=baz bwrap --bind / / --setenv FOO bar --unsetenv BAR sh -c 'echo \"$FOO-$BAR\"'; \
         FOO=x bwrap --bind / / --clearenv /usr/bin/env; \
         bwrap --bind / / --argv0 right sh -c 'echo $0'; \
         echo data > file; bwrap --bind / / --bind-fd 5 /mnt cat /mnt/file 5<.; \
         bwrap --bind / / --ro-bind-fd 5 /mnt sh -c 'touch /mnt/x 2>/dev/null || echo ro' 5<.; \
         bwrap --bind / / sh -c 'ls /proc/self/fd' 7</dev/null",
    )
    .ok();
    let dir = r.lines()[1].trim_start_matches("PWD=").to_string();
    assert_eq!(&r.lines()[..5], ["bar-", &format!("PWD={dir}"), "right", "data", "ro"]);
    // The caller's descriptors reach the command, as with bubblewrap.
    assert!(r.lines()[5..].contains(&"7"), "{r:?}");
}

#[test]
fn overlays_layer_left_to_right_and_keep_writes_where_asked() {
    let Some(h) = harness() else { return };
    let r = bw(
        h,
        "mkdir l1 l2 up wk 'odd \":,\\' odd-up odd-wk; printf 1 > l1/a; printf 2 > l1/b; printf 3 > l2/b; printf 9 > 'odd \":,\\'/z; \
         R='bwrap --bind / / --tmpfs /tmp'; \
         $R --overlay-src l1 --overlay-src l2 --ro-overlay /tmp/x sh -c 'cat /tmp/x/a /tmp/x/b; echo; echo w > /tmp/x/b 2>/dev/null || echo ro'; \
         $R --overlay-src l1 --overlay-src l2 --tmp-overlay /tmp/x sh -c 'echo t > /tmp/x/b; cat /tmp/x/b'; cat l2/b; echo; \
         $R --overlay-src l1 --overlay up wk /tmp/x/y sh -c 'echo kept > /tmp/x/y/a'; cat up/a l1/a; echo; \
         $R --overlay-src 'odd \":,\\' --overlay odd-up odd-wk /tmp/o cat /tmp/o/z; echo",
    )
    .ok();
    assert_eq!(r.lines(), ["13", "ro", "t", "3", "kept", "1", "9"], "{r:?}");
    let r = bw(h, "bwrap --bind / / --overlay up wk /tmp true");
    assert_eq!(r.err, "bwrap: --overlay requires at least one --overlay-src\n");
    let r = bw(h, "bwrap --bind / / --overlay-src /tmp --ro-overlay /tmp true");
    assert_eq!(r.err, "bwrap: --ro-overlay requires at least two --overlay-src\n");
    let r = bw(h, "bwrap --bind / / --overlay-src /tmp --chdir / true");
    assert!(r.err.starts_with("bwrap: --overlay-src must be followed by another --overlay-src"), "{r:?}");
}

/// Starts a sandbox that waits on a fifo, and runs `then` (which may use $P, the child pid
/// from --info-fd) against it; everything bounded.
fn with_running_sandbox(h: &Harness, unshare: &str, then: &str) -> Run {
    bw(
        h,
        &format!(
            "mkfifo go; bwrap {unshare} --bind / / --info-fd 3 sh -c 'readlink /proc/self/ns/user > u1; readlink /proc/self/ns/pid > p1; read x < go' 3>info.json & \
             i=0; while ! test -s p1; do i=$((i+1)); [ $i -lt 300 ] || {{ echo sandbox never started; exit 9; }}; sleep 0.1; done; \
             P=$(sed -n 's/.*\"child-pid\": \\([0-9]*\\).*/\\1/p' info.json); {then}; echo > go; wait"
        ),
    )
}

#[test]
fn a_second_sandbox_joins_the_first_ones_user_and_pid_namespaces() {
    let Some(h) = harness() else { return };
    let r = with_running_sandbox(
        h,
        "--unshare-user --unshare-pid",
        "bwrap --userns 5 --pidns 6 --bind / / sh -c 'readlink /proc/self/ns/user; readlink /proc/self/ns/pid' 5</proc/$P/ns/user 6</proc/$P/ns/pid; cat u1 p1",
    )
    .ok();
    let l = r.lines();
    assert_eq!(l.len(), 4, "{r:?}");
    assert_eq!((l[0], l[1]), (l[2], l[3]), "joined namespaces differ: {r:?}");
    assert_ne!(l[0], host_ns("user"));
}

#[test]
fn user_namespaces_can_be_disabled_for_good_and_the_assertion_checks_it() {
    let Some(h) = harness() else { return };
    let r = bw(
        h,
        "bwrap --unshare-user --disable-userns --dev-bind / / sh -c \
           'echo 100 > /proc/sys/user/max_user_namespaces 2>/dev/null; unshare -U true 2>/dev/null && echo nested; \
            bwrap --dev-bind / / true 2>/dev/null && echo inner; echo done'; \
         bwrap --assert-userns-disabled --dev-bind / / true; echo assert=$?; \
         bwrap --unshare-user --disable-userns --assert-userns-disabled --dev-bind / / true; echo both=$?; \
         bwrap --unshare-all --unshare-user --disable-userns --dev-bind / / sh -c 'unshare -U true 2>/dev/null || echo net-too'",
    );
    // With a network namespace of its own too (its helper's, taken before the nested one).
    assert_eq!(r.lines(), ["done", "assert=1", "both=0", "net-too"], "{r:?}");
    assert!(r.err.contains("bwrap: creation of new user namespaces was not disabled as requested"), "{r:?}");
    // Without the option, a nested sandbox works, as with bubblewrap.
    let r = bw(h, "bwrap --unshare-user --uid 0 --gid 0 --cap-add ALL --bind / / --bind /proc /proc /proc/self/exe --unshare-all --bind / / --bind /proc /proc echo hello").ok();
    assert_eq!(r.out, "hello\n");
}

#[test]
fn die_with_parent_ends_the_sandbox_and_releases_its_lock() {
    let Some(h) = harness() else { return };
    // The caller's shell holds bwrap; killing it must end bwrap, the sleep, and the lock.
    // The check asks (F_GETLK) whether a write lock could be taken, without taking one: a
    // lock of its own, however brief, would make bwrap's non-blocking read lock fail.
    let check = "import fcntl,struct,sys; f=open('lock','a'); \
                 r=fcntl.fcntl(f, fcntl.F_GETLK, struct.pack('hhqqii', fcntl.F_WRLCK, 0, 0, 0, 0, 0)); \
                 sys.exit(struct.unpack('hhqqii', r)[0] != fcntl.F_UNLCK)";
    for extra in ["", "--unshare-pid"] {
        let r = bw(
            h,
            &format!(
                "touch lock; sh -c 'bwrap --die-with-parent {extra} --bind / / --lock-file $D/lock sleep 1234; true' & S=$!; \
                 i=0; while python3 -c \"{check}\" 2>/dev/null; do i=$((i+1)); [ $i -lt 300 ] || {{ echo never locked; exit 9; }}; sleep 0.1; done; \
                 echo locked; kill -9 $S; \
                 i=0; until python3 -c \"{check}\" 2>/dev/null; do i=$((i+1)); [ $i -lt 300 ] || {{ echo never released; exit 9; }}; sleep 0.1; done; \
                 echo released; sleep 0.2; pgrep -u $(id -u) -x -f 'sleep 1234' || echo gone"
            ),
        );
        // The kill hits the shell, bwrap's parent: bwrap, its init and the sleep must follow.
        assert_eq!(r.lines(), ["locked", "released", "gone"], "{extra}: {r:?}");
    }
}

#[test]
fn no_capabilities_remain_and_pid_1_is_the_command_with_as_pid_1() {
    let Some(h) = harness() else { return };
    for extra in ["", "--as-pid-1", "--unshare-user-try"] {
        let r = bw(h, &format!("bwrap --unshare-pid {extra} --bind / / --proc /proc sh -c 'grep ^CapEff /proc/1/status /proc/self/status'"))
            .ok();
        for l in r.lines() {
            assert!(l.ends_with("\t0000000000000000"), "{extra}: {l}");
        }
    }
    let r = bw(h, "bwrap --unshare-pid --as-pid-1 --bind / / sh -c 'echo $$'").ok();
    assert_eq!(r.out, "1\n");
    let r = bw(h, "bwrap --unshare-pid --ro-bind / / --dev /dev ls -d /dev/stdin /dev/stdout /dev/stderr /dev/null /dev/random /dev/urandom /dev/fd /dev/core").ok();
    assert_eq!(r.lines().len(), 8);
}
