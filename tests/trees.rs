//! The two fixture trees (tests/tooling/fixtures.sh): a static busybox tree and a debootstrap
//! minbase tree of Debian bookworm, each bound read-only at `/`.

mod common;

use common::{harness, tree};

/// jail's arguments for running as root of `tree` at `/` in the caller's subordinate mapping,
/// then `rest` (more options, `--`, the command).
fn as_tree_root<'a>(tree: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--map-subids", "--uid", "0", "--gid", "0", "--ro-bind", tree, "/"];
    v.extend_from_slice(rest);
    v
}

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
    let r = h.run(&as_tree_root(&t, &["--cap-add", "ALL", "--", "su", "-s", "/bin/sh", "nobody", "-c", "id"])).ok();
    assert!(r.out.starts_with("uid=65534(nobody) gid=65534(nogroup)"), "{r:?}");
    // Files keep their owners: root inside owns /etc/shadow.
    let r = h.run(&as_tree_root(&t, &["--", "stat", "-c", "%u:%g", "/etc/shadow"])).ok();
    assert_eq!(r.out.trim(), "0:42");
}

/// A tarball made the way `docker export` or a distribution's minirootfs is: owners, modes,
/// links, a device node, and one member that tries to leave the tree.
const MAKE_TARBALL: &str = r##"
import io, sys, tarfile, time
def add(t, name, data=b"", **kw):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = time.time()
    for k, v in kw.items(): setattr(ti, k, v)
    t.addfile(ti, io.BytesIO(data) if data else None)
with tarfile.open(sys.argv[1], "w:gz") as t:
    for d in ["etc", "bin", "dev", "proc", "tmp", "home", "usr", "lib", "lib64"]:
        add(t, d, type=tarfile.DIRTYPE, mode=0o755)
    add(t, "home/u", type=tarfile.DIRTYPE, mode=0o700, uid=1000, gid=1000)
    add(t, "etc/passwd", b"root:x:0:0::/root:/bin/sh\n", mode=0o644)
    add(t, "home/u/notes", b"hi\n", mode=0o600, uid=1000, gid=1000)
    add(t, "bin/su", b"#!/bin/sh\n", mode=0o4755)
    add(t, "bin/su-again", type=tarfile.LNKTYPE, linkname="bin/su")
    add(t, "bin/link", type=tarfile.SYMTYPE, linkname="/bin/su")
    add(t, "dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
    add(t, "../escaped", b"x", mode=0o644)
"##;

#[test]
fn rootfs_import_unpacks_a_tarball_owned_as_map_subids_maps_it() {
    use std::os::unix::fs::MetadataExt;
    let Some(h) = harness() else { return };
    let d = h.dir();
    let tarball = d.join("root.tar.gz");
    let made =
        std::process::Command::new("/usr/bin/python3").arg("-c").arg(MAKE_TARBALL).arg(&tarball).status().unwrap();
    assert!(made.success());
    let tree = d.join("tree");
    let (a, t) = (tarball.display().to_string(), tree.display().to_string());
    let r = h.run(&["rootfs", "import", &a, &t]).ok();
    assert!(
        r.err.contains("skipped 1 device node(s), which only root can make (jail's --dev provides /dev): dev/null"),
        "{}",
        r.err
    );
    assert!(r.err.contains("refused 1 member(s) that lead outside the tree: ../escaped"), "{}", r.err);
    assert!(!d.join("escaped").exists(), "a member escaped the tree");
    // Root's files are the caller's; uid 1000 inside is the caller's subordinate id 999.
    let meta = |p: &str| std::fs::symlink_metadata(tree.join(p)).unwrap();
    assert_eq!(meta("etc/passwd").uid(), h.uid);
    let name = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&h.uid.to_string().as_str())).then(|| f[0].to_string())
        })
        .unwrap_or_default();
    let sub_start = std::fs::read_to_string("/etc/subuid")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && (f[0] == name || f[0] == h.uid.to_string())).then(|| f[1].parse::<u32>().ok())?
        })
        .expect("a subordinate range for the test user");
    assert_eq!(meta("home/u/notes").uid(), sub_start + 999);
    assert_eq!(meta("home/u").mode() & 0o7777, 0o700);
    assert_eq!(meta("bin/su").mode() & 0o7777, 0o4755, "the setuid bit is kept");
    assert_eq!(meta("bin/su").ino(), meta("bin/su-again").ino(), "the hard link is kept");
    assert_eq!(std::fs::read_link(tree.join("bin/link")).unwrap(), std::path::Path::new("/bin/su"));
    assert!(!tree.join("dev/null").exists());
    // Inside, with --map-subids, the owners are the archive's again.
    let r = h
        .run(&as_tree_root(
            &t,
            &[
                "--ro-bind",
                "/usr",
                "/usr",
                "--ro-bind",
                "/lib",
                "/lib",
                "--ro-bind",
                "/lib64",
                "/lib64",
                "--",
                "/usr/bin/stat",
                "-c",
                "%n %u %a",
                "/etc/passwd",
                "/home/u",
                "/bin/su",
            ],
        ))
        .ok();
    assert_eq!(r.lines(), ["/etc/passwd 0 644", "/home/u 1000 700", "/bin/su 0 4755"]);
    // Only into a new or empty directory.
    let r = h.run(&["rootfs", "import", &a, &t]);
    assert_eq!(r.code, 125);
    assert!(r.err.contains("is not empty"), "{}", r.err);
}

#[test]
fn rootfs_import_of_the_busybox_tree_runs_at_root() {
    let Some(h) = harness() else { return };
    let Some(src) = tree("busybox") else { return };
    let d = h.dir();
    let tarball = d.join("busybox.tar.zst");
    let made = std::process::Command::new("tar")
        .args(["--zstd", "--numeric-owner", "-cf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(made.success());
    let t = d.join("tree").display().to_string();
    h.run(&["rootfs", "import", &tarball.display().to_string(), &t]).ok();
    let r = h.run(&["--ro-bind", &t, "/", "--", "sh", "-c", "ls /bin/busybox && echo in-tree"]).ok();
    assert_eq!(r.lines(), ["/bin/busybox", "in-tree"]);
}

#[test]
fn rootfs_shift_reowns_a_root_built_tree_into_the_users_mapping() {
    use std::os::unix::fs::MetadataExt;
    let Some(h) = harness() else { return };
    let Some(src) = tree("busybox") else { return };
    if h.user.is_none() {
        // jail rootfs shift needs root, which the suite has only when it runs as root.
        eprintln!("SKIP: rootfs shift needs the suite to run as root");
        assert!(!common::must_work(), "JAIL_TEST_MUST_WORK=1 but the suite does not run as root");
        return;
    }
    let d = h.dir();
    let t = d.join("tree");
    assert!(std::process::Command::new("cp").arg("-a").arg(&src).arg(&t).status().unwrap().success());
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let ts = t.display().to_string();
    // The plan says what is wrong with it, and how to fix it.
    let r = h.run(&["--dry-run", "--map-subids", "--uid", "0", "--ro-bind", &ts, "/", "--", "true"]).ok();
    assert!(r.err.contains(&format!("jail rootfs shift {ts} --user YOU")), "{}", r.err);
    let r = h.run(&["doctor", "--map-subids", "--ro-bind", &ts, "/"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.out.contains(&format!("fix: as root: jail rootfs shift {ts} --user YOU")), "{}", r.out);
    // As root.
    let user = std::env::var("JAIL_TEST_USER").unwrap_or_else(|_| "jailtest".into());
    let out = common::output(std::process::Command::new(&h.bin).args(["rootfs", "shift", &ts, "--user", &user]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::symlink_metadata(t.join("bin/busybox")).unwrap().uid(), h.uid);
    let r = h.run(&["--dry-run", "--map-subids", "--uid", "0", "--ro-bind", &ts, "/", "--", "true"]).ok();
    assert!(!r.err.contains("rootfs shift"), "{}", r.err);
    let r = h.run(&as_tree_root(&ts, &["--", "stat", "-c", "%u %g", "/bin/busybox"])).ok();
    assert_eq!(r.out, "0 0\n");
    // Twice would shift again: refused.
    let out = common::output(std::process::Command::new(&h.bin).args(["rootfs", "shift", &ts, "--user", &user]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("shifted already"));
}

/// Two image layers, the second deleting a file and emptying a directory of the first, as
/// `docker save` (manifest.json) and as an OCI image layout directory (index.json, gzip blobs).
const MAKE_IMAGES: &str = r##"
import hashlib, io, json, os, sys, tarfile
def layer(entries, gz=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            if data is None:
                ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
            else:
                ti.size = len(data); ti.mode = 0o644; t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()
one = [("etc", None), ("etc/a", b"a"), ("etc/b", b"b"), ("var", None), ("var/cache", None), ("var/cache/x", b"x")]
two = [("etc/.wh.a", b""), ("var/cache/.wh..wh..opq", b""), ("var/cache/y", b"y"), ("etc/c", b"c")]
out = sys.argv[1]
with tarfile.open(out + "/docker.tar", "w") as t:
    for name, data in [("one/layer.tar", layer(one)), ("two/layer.tar", layer(two)),
                       ("manifest.json", json.dumps([{"Layers": ["one/layer.tar", "two/layer.tar"]}]).encode())]:
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
lay = out + "/oci"
os.makedirs(lay + "/blobs/sha256")
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(lay + "/blobs/sha256/" + h, "wb").write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
layers = [put(layer(one, True)), put(layer(two, True))]
manifest = put(json.dumps({"schemaVersion": 2, "layers": layers}).encode())
manifest["platform"] = {"architecture": "amd64", "os": "linux"}
open(lay + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [manifest]}))
open(lay + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
"##;

#[test]
fn rootfs_import_applies_image_layers_in_order_with_their_whiteouts() {
    let Some(h) = harness() else { return };
    let d = h.dir();
    let made = std::process::Command::new("/usr/bin/python3").arg("-c").arg(MAKE_IMAGES).arg(&d).status().unwrap();
    assert!(made.success());
    let _ = std::process::Command::new("chmod").args(["-R", "a+rX"]).arg(&d).status();
    for image in ["docker.tar", "oci"] {
        let t = d.join(format!("tree-{image}"));
        let r = h.run(&["rootfs", "import", &d.join(image).display().to_string(), &t.display().to_string()]).ok();
        assert!(r.err.contains("2 image layer(s) applied, 2 whiteout(s)"), "{image}: {}", r.err);
        let mut got: Vec<String> = Vec::new();
        for p in ["etc/a", "etc/b", "etc/c", "var/cache/x", "var/cache/y", ".jail-image"] {
            got.push(format!("{p} {}", t.join(p).exists()));
        }
        assert_eq!(
            got,
            ["etc/a false", "etc/b true", "etc/c true", "var/cache/x false", "var/cache/y true", ".jail-image false"],
            "{image}"
        );
    }
}

#[test]
fn rootfs_debian_builds_a_tree_without_root_where_apt_dpkg_and_su_work() {
    let Some(h) = harness() else { return };
    // The fixture's downloads, so the test fetches only the archive's index.
    let cache = std::env::var("JAIL_TEST_CACHE").unwrap_or_else(|_| "/var/cache/jail-test".into());
    let debs = std::path::Path::new(&cache).join("debs");
    if !debs.is_dir() {
        assert!(!common::must_work(), "JAIL_TEST_MUST_WORK=1 but no {} (tests/tooling/fixtures.sh)", debs.display());
        eprintln!("SKIP: no {} (run tests/tooling/fixtures.sh as root)", debs.display());
        return;
    }
    let d = h.dir();
    let copy = d.join("debs");
    assert!(std::process::Command::new("cp").arg("-r").arg(&debs).arg(&copy).status().unwrap().success());
    if h.user.is_some() {
        let _ = std::process::Command::new("chown").arg("-R").arg(format!("{}:{}", h.uid, h.gid)).arg(&copy).status();
    }
    let t = d.join("tree").display().to_string();
    let r = h.run(&["rootfs", "debian", &t, "--cache-dir", &copy.display().to_string(), "--include", "procps"]);
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.out.contains("I: Base system installed successfully."), "{}", r.out);
    // As root of the tree, with the caller's subordinate ids: apt, dpkg and su work.
    let r = h
        .run(&as_tree_root(
            &t,
            &[
            "--cap-add",
            "ALL",
            "--",
            "bash",
            "-c",
            "apt-get --version | head -1; dpkg -l | grep -c ^ii; su -s /bin/sh -c id nobody; stat -c %u /usr/bin/su",
            ],
        ))
        .ok();
    let l = r.lines();
    assert!(l[0].starts_with("apt "), "{l:?}");
    assert!(l[1].parse::<u32>().unwrap() > 50, "{l:?}");
    assert_eq!(l[2], "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)");
    assert_eq!(l[3], "0");
    // As the caller, it reads like any root-owned tree.
    let r = h.run(&["--ro-bind", &t, "/", "--", "cat", "/etc/debian_version"]).ok();
    assert!(r.out.trim().starts_with(|c: char| c.is_ascii_digit()), "{}", r.out);
}

#[test]
fn an_imported_tree_takes_writes_on_a_tmpfs_overlay_and_stays_as_it_was() {
    let Some(h) = harness() else { return };
    let Some(src) = tree("busybox") else { return };
    let d = h.dir();
    let tarball = d.join("busybox.tar");
    let made = std::process::Command::new("tar")
        .args(["--numeric-owner", "-cf"])
        .arg(&tarball)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(made.success());
    let t = d.join("tree").display().to_string();
    h.run(&["rootfs", "import", &tarball.display().to_string(), &t]).ok();
    // The tree at / read-write for the command, jail's /proc, /dev and /tmp added as for any tree.
    let r = h
        .run(&[
            "--overlay-src",
            &t,
            "--tmp-overlay",
            "/",
            "--",
            "sh",
            "-c",
            "echo built > /etc/out && cat /etc/out && ls /proc/self/ns | wc -l",
        ])
        .ok();
    assert_eq!(r.lines()[0], "built");
    assert!(r.lines()[1].trim().parse::<u32>().unwrap() > 5, "{r:?}");
    assert!(!d.join("tree/etc/out").exists(), "the tree changed");
}
