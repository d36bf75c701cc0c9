//! The two fixture trees (tests/tooling/fixtures.sh): a static busybox tree and a debootstrap
//! minbase tree of Debian bookworm, each bound read-only at `/`.

mod common;

use common::{harness, tree};

#[test]
fn busybox_tree_runs_sh_ls_ps() {
    let Some(h) = harness() else { return };
    let Some(t) = tree("busybox") else { return };
    let t = t.display().to_string();
    let r = h.run(&["--ro-bind", &t, "/", "--", "sh", "-c", "ls /; echo ---; ps; echo ---; ls /tmp | wc -l"]).ok();
    let parts: Vec<&str> = r.out.split("---\n").collect();
    for d in ["bin", "proc", "dev", "tmp", "etc"] {
        assert!(parts[0].lines().any(|l| l == d), "/{d} missing: {}", parts[0]);
    }
    // ps reads the sandbox's own /proc: jail's init and the shell, nothing of the host.
    let ps: Vec<&str> = parts[1].lines().skip(1).collect();
    assert!(ps.len() <= 3, "{ps:?}");
    assert!(ps.iter().any(|l| l.contains("jail")), "{ps:?}");
    assert_eq!(parts[2].trim(), "0", "/tmp is a fresh tmpfs");
}

#[test]
fn busybox_tree_is_read_only_with_a_writable_tmp() {
    let Some(h) = harness() else { return };
    let Some(t) = tree("busybox") else { return };
    let t = t.display().to_string();
    let r = h.run(&["--ro-bind", &t, "/", "--", "sh", "-c", "touch /etc/x 2>&1; touch /tmp/y && echo tmp-ok"]).ok();
    assert!(r.out.contains("Read-only file system"), "{r:?}");
    assert!(r.out.contains("tmp-ok"), "{r:?}");
}

#[test]
fn bookworm_tree_runs_sh_ls_ps_apt_dpkg() {
    let Some(h) = harness() else { return };
    let Some(t) = tree("bookworm") else { return };
    let t = t.display().to_string();
    let r = h
        .run(&[
            "--ro-bind",
            &t,
            "/",
            "--",
            "bash",
            "-c",
            "ls / | tr '\\n' ' '; echo; ps -e -o pid=,comm= | wc -l; apt-get --version | head -1; dpkg -l | grep -c '^ii'",
        ])
        .ok();
    let l = r.lines();
    assert!(l[0].contains("usr") && l[0].contains("var"), "{l:?}");
    assert!(l[1].trim().parse::<u32>().unwrap() <= 4, "ps sees host processes: {l:?}");
    assert!(l[2].starts_with("apt "), "{l:?}");
    assert!(l[3].parse::<u32>().unwrap() > 50, "dpkg -l lists too few packages: {l:?}");
}

#[test]
fn bookworm_su_works_with_subordinate_ids() {
    let Some(h) = harness() else { return };
    let Some(t) = tree("bookworm") else { return };
    let t = t.display().to_string();
    let args = ["--map-subids", "--uid", "0", "--gid", "0", "--cap-add", "ALL", "--ro-bind", &t, "/", "--"];
    let mut v: Vec<&str> = args.to_vec();
    v.extend(["su", "-s", "/bin/sh", "nobody", "-c", "id"]);
    let r = h.run(&v).ok();
    assert!(r.out.starts_with("uid=65534(nobody) gid=65534(nogroup)"), "{r:?}");
    // Files keep their owners: root inside owns /etc/shadow.
    let r = h
        .run(&[
            "--map-subids",
            "--uid",
            "0",
            "--gid",
            "0",
            "--ro-bind",
            &t,
            "/",
            "--",
            "stat",
            "-c",
            "%u:%g",
            "/etc/shadow",
        ])
        .ok();
    assert_eq!(r.out.trim(), "0:42");
}
