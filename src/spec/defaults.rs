//! The steps jail adds on its own, so the common cases need no filesystem options.
//!
//! - No filesystem option at all: the host, read-only, with fresh /proc, /dev, /tmp and /run,
//!   /home and /root hidden behind empty tmpfs, and the caller's directory bound back read-only,
//!   unless that directory holds something the view hides (it is `$HOME`, `/home`, `/`, ...):
//!   binding it back would undo the hiding, so jail says so instead.
//! - A tree at `/` (`--ro-bind ./rootfs /`): /proc, /dev and /tmp right after it, unless the
//!   command line already puts something at that path.

use std::path::{Component, Path};

use super::{BindMode, FsOp, FsStep};

/// True when two sandbox paths name the same place (`/tmp/` is `/tmp`, `tmp` is `/tmp`).
/// Compared component by component, without allocating: the plan asks this of every step.
pub fn same_path(a: &Path, b: &Path) -> bool {
    fn normal(p: &Path) -> impl Iterator<Item = &std::ffi::OsStr> {
        p.components().filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
    }
    normal(a).eq(normal(b))
}

/// Why jail added a step after a tree at `/`.
pub const TREE_AT_ROOT: &str = "tree at /";

fn step(op: FsOp, why: &'static str) -> FsStep {
    FsStep { op, added: Some(why) }
}

/// The steps with jail's own added, and a note for the user when the current directory was
/// left out of the default view.
/// `is_dir` answers for the host (which of the directories the view hides exist).
pub fn complete(
    steps: Vec<FsStep>,
    cwd: &Path,
    home: Option<&Path>,
    is_dir: &dyn Fn(&Path) -> bool,
) -> (Vec<FsStep>, Option<String>) {
    if steps.is_empty() {
        return host_view(cwd, home, is_dir);
    }
    (complete_tree(steps), None)
}

fn complete_tree(steps: Vec<FsStep>) -> Vec<FsStep> {
    let mounts_root = |s: &FsStep| {
        matches!(s.op, FsOp::Bind { .. } | FsOp::Tmpfs { .. } | FsOp::Overlay { .. })
            && same_path(s.op.dest(), Path::new("/"))
    };
    let Some(root_at) = steps.iter().rposition(mounts_root) else {
        return steps;
    };
    let taken = |p: &str| steps.iter().any(|s| same_path(s.op.dest(), Path::new(p)));
    let mut extra = Vec::new();
    if !taken("/proc") {
        extra.push(step(FsOp::Proc { dest: "/proc".into() }, TREE_AT_ROOT));
    }
    if !taken("/dev") {
        extra.push(step(FsOp::Dev { dest: "/dev".into() }, TREE_AT_ROOT));
    }
    if !taken("/tmp") {
        extra.push(step(FsOp::Tmpfs { dest: "/tmp".into(), size: None, perms: 0o1777 }, TREE_AT_ROOT));
    }
    let mut out = steps;
    out.splice(root_at + 1..root_at + 1, extra);
    out
}

fn host_view(cwd: &Path, home: Option<&Path>, is_dir: &dyn Fn(&Path) -> bool) -> (Vec<FsStep>, Option<String>) {
    const WHY: &str = "no filesystem option";
    let ro = |p: &Path| FsOp::Bind {
        src: p.to_path_buf(),
        dest: p.to_path_buf(),
        mode: BindMode::ReadOnly,
        optional: false,
    };
    let tmpfs = |p: &str, perms| FsOp::Tmpfs { dest: p.into(), size: None, perms };
    let mut v = vec![
        step(ro(Path::new("/")), WHY),
        step(FsOp::Proc { dest: "/proc".into() }, WHY),
        step(FsOp::Dev { dest: "/dev".into() }, WHY),
        step(tmpfs("/tmp", 0o1777), WHY),
    ];
    for (dir, why) in
        [("/run", "hides the host's sockets"), ("/home", "hides home directories"), ("/root", "hides root's home")]
    {
        if is_dir(Path::new(dir)) {
            v.push(step(tmpfs(dir, 0o755), why));
        }
    }
    let replaced_by_defaults = ["/proc", "/dev"].iter().any(|p| cwd.starts_with(p));
    // Binding back a directory that holds a hidden one would show it again.
    let hidden: Vec<(&Path, &str)> = [
        (Some(Path::new("/home")), "/home"),
        (Some(Path::new("/root")), "/root"),
        (Some(Path::new("/run")), "/run"),
        (home, "your home directory"),
    ]
    .into_iter()
    .filter_map(|(p, what)| p.map(|p| (p, what)))
    .collect();
    let holds = hidden.iter().find(|(p, _)| p.starts_with(cwd) && cwd != Path::new("/"));
    let mut note = None;
    if let Some((_, what)) = holds {
        let c = cwd.display();
        note = Some(format!(
            "the current directory {c} is not bound back: it holds {what}, which the default view hides; \
             to show it, bind it yourself: --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp --ro-bind {c} {c}"
        ));
    } else if cwd != Path::new("/") && !replaced_by_defaults {
        v.push(step(ro(cwd), "the current directory, read-only"));
    }
    (v, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(op: FsOp) -> FsStep {
        FsStep { op, added: None }
    }

    /// A host with /run and /home, but no /root.
    fn host_dirs(p: &Path) -> bool {
        p == Path::new("/run") || p == Path::new("/home")
    }

    fn complete(steps: Vec<FsStep>, cwd: &Path) -> Vec<FsStep> {
        super::complete(steps, cwd, Some(Path::new("/home/u")), &host_dirs).0
    }

    #[test]
    fn only_directories_the_host_has_are_hidden() {
        let v = complete(vec![], Path::new("/"));
        let hidden: Vec<String> = v
            .iter()
            .filter(|s| matches!(s.op, FsOp::Tmpfs { .. }))
            .map(|s| s.op.dest().display().to_string())
            .collect();
        assert_eq!(hidden, ["/tmp", "/run", "/home"]);
    }

    #[test]
    fn a_directory_holding_a_hidden_one_is_not_bound_back() {
        for cwd in ["/home/u", "/home", "/home/", "/run", "/root"] {
            let (v, note) = super::complete(vec![], Path::new(cwd), Some(Path::new("/home/u")), &host_dirs);
            assert!(v.iter().all(|s| !matches!(&s.op, FsOp::Bind { src, .. } if src != Path::new("/"))), "{cwd}");
            assert!(note.is_some_and(|n| n.contains("is not bound back")), "{cwd}");
        }
        let (v, note) = super::complete(vec![], Path::new("/home/u/project"), Some(Path::new("/home/u")), &host_dirs);
        assert!(matches!(&v.last().unwrap().op, FsOp::Bind { src, .. } if src == Path::new("/home/u/project")));
        assert!(note.is_none());
        // "/" is the root bind itself: no note.
        assert!(super::complete(vec![], Path::new("/"), Some(Path::new("/home/u")), &host_dirs).1.is_none());
    }

    #[test]
    fn no_options_gives_the_host_view() {
        let v = complete(vec![], Path::new("/work/src"));
        assert!(matches!(&v[0].op, FsOp::Bind { dest, mode: BindMode::ReadOnly, .. } if dest == Path::new("/")));
        assert!(matches!(&v[1].op, FsOp::Proc { .. }));
        let last = v.last().unwrap();
        assert!(matches!(&last.op, FsOp::Bind { src, .. } if src == Path::new("/work/src")));
        assert!(v.iter().all(|s| s.added.is_some()));
    }

    #[test]
    fn cwd_at_root_is_not_bound_twice() {
        let v = complete(vec![], Path::new("/"));
        assert_eq!(v.iter().filter(|s| same_path(s.op.dest(), Path::new("/"))).count(), 1);
    }

    #[test]
    fn tree_at_root_gets_proc_dev_tmp_right_after_it() {
        let steps = vec![
            user(FsOp::Bind { src: "/r".into(), dest: "/".into(), mode: BindMode::ReadOnly, optional: false }),
            user(FsOp::Bind { src: "/x".into(), dest: "/tmp/x".into(), mode: BindMode::ReadWrite, optional: false }),
        ];
        let v = complete(steps, Path::new("/"));
        let dests: Vec<_> = v.iter().map(|s| s.op.dest().display().to_string()).collect();
        assert_eq!(dests, ["/", "/proc", "/dev", "/tmp", "/tmp/x"]);
    }

    #[test]
    fn tree_at_root_keeps_what_the_user_put_there() {
        let steps = vec![
            user(FsOp::Bind { src: "/r".into(), dest: "/".into(), mode: BindMode::ReadOnly, optional: false }),
            user(FsOp::Bind { src: "/dev".into(), dest: "/dev/".into(), mode: BindMode::Devices, optional: false }),
        ];
        let v = complete(steps, Path::new("/"));
        let dests: Vec<_> = v.iter().map(|s| s.op.dest().display().to_string()).collect();
        assert_eq!(dests, ["/", "/proc", "/tmp", "/dev/"]);
    }

    #[test]
    fn remounting_the_root_is_not_a_tree_at_root() {
        let steps = vec![
            user(FsOp::Tmpfs { dest: "/".into(), size: None, perms: 0o755 }),
            user(FsOp::RemountRo { dest: "/".into() }),
        ];
        let v = complete(steps, Path::new("/"));
        let dests: Vec<_> = v.iter().map(|s| s.op.to_string()).collect();
        assert_eq!(dests, ["tmpfs / (mode 0755)", "proc /proc", "dev /dev", "tmpfs /tmp (mode 1777)", "remount-ro /"]);
    }

    #[test]
    fn no_tree_at_root_adds_nothing() {
        let steps = vec![user(FsOp::Tmpfs { dest: "/".into(), size: None, perms: 0o755 })];
        // A tmpfs at / is also "something at /": it gets the usual mounts.
        assert_eq!(complete(steps, Path::new("/")).len(), 4);
        let steps = vec![user(FsOp::Dir { dest: "/a".into(), perms: None })];
        assert_eq!(complete(steps, Path::new("/")).len(), 1);
    }
}
