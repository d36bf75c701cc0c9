//! The sandbox's root, from the first mount to the last, every step through [`Sys`] so that
//! the order is unit-tested with the recording fake: all mounts private, a scratch tmpfs with
//! the host put aside in it, the filesystem steps, the pivot into the new root and the host
//! detached; then the hostname and the loopback interface.

use std::path::Path;

use anyhow::{anyhow, Context, Result};

use super::diagnose;
use crate::rootfs::Builder;
use crate::spec::{FsStep, Spec};
use crate::sys::{errno_text, Sys, SysError};

/// What the root is built from.
pub struct Plan<'a> {
    pub steps: &'a [FsStep],
    /// The sandbox shares the caller's pid namespace (its /proc is the host's view).
    pub share_pid: bool,
    pub hostname: Option<&'a str>,
    /// A network namespace of its own, whose loopback comes up.
    pub loopback: bool,
}

impl<'a> Plan<'a> {
    pub fn of(spec: &'a Spec) -> Self {
        Plan {
            steps: &spec.fs,
            share_pid: !spec.namespaces.pid,
            hostname: spec.hostname.as_deref(),
            // Made beside the sandbox, lo already up (launch/netns.rs), and entered after this.
            loopback: spec.namespaces.net && !spec.net_beside_root(),
        }
    }
}

/// `call(args): ERRNO (meaning)`, the way every step of this file reports.
fn said(what: &str) -> impl Fn(SysError) -> anyhow::Error + '_ {
    move |e| anyhow!("{what}: {}", errno_text(e.errno))
}

pub fn build<S: Sys>(sys: &mut S, plan: &Plan<'_>) -> Result<()> {
    // Every mount private: nothing the sandbox mounts reaches the host, and nothing the host
    // mounts later appears inside (a slave would receive it, writable, under a read-only bind).
    sys.make_private().map_err(|e| {
        anyhow!("mount(\"/\", MS_PRIVATE|MS_REC): {}{}", errno_text(e.errno), diagnose::userns_hint(e.errno))
    })?;

    // A scratch root: the host goes to /oldroot (sources), the new root is /newroot, a mount of
    // its own on the same tmpfs (a bind of itself), so that detaching the scratch root at the
    // end frees no filesystem: a second tmpfs would be torn down there, on the launch's path.
    sys.mount_tmpfs(Path::new("/tmp")).map_err(said("mount(tmpfs, \"/tmp\")"))?;
    for d in ["/tmp/newroot", "/tmp/oldroot"] {
        sys.mkdir(Path::new(d), 0o755).map_err(said(&format!("mkdir({d:?})")))?;
    }
    sys.bind_self(Path::new("/tmp/newroot")).map_err(said("mount(\"/tmp/newroot\", MS_BIND)"))?;
    sys.chdir(Path::new("/tmp")).map_err(said("chdir(\"/tmp\")"))?;
    sys.pivot_root(Path::new("."), Path::new("oldroot")).map_err(said("pivot_root(\"/tmp\", \"oldroot\")"))?;
    sys.chdir(Path::new("/")).map_err(said("chdir(\"/\")"))?;

    let base = sys.open_root(Path::new("/")).map_err(said("open(\"/\")"))?;
    let host = sys.open_root(Path::new("/oldroot")).map_err(said("open(\"/oldroot\")"))?;
    Builder::new(sys, base, host)?.share_pid(plan.share_pid).run(plan.steps)?;

    // Enter the new root and drop every path back to the host.
    sys.chdir(Path::new("/newroot")).map_err(said("chdir(\"/newroot\")"))?;
    sys.pivot_root(Path::new("."), Path::new(".")).map_err(said("pivot_root(new root)"))?;
    sys.detach(Path::new(".")).map_err(said("umount2(old root, MNT_DETACH)"))?;
    sys.chdir(Path::new("/")).map_err(said("chdir(\"/\")"))?;

    if let Some(name) = plan.hostname {
        sys.set_hostname(name).map_err(said(&format!("--hostname {name}: sethostname")))?;
    }
    if plan.loopback {
        sys.loopback_up().map_err(|e| anyhow!("{e}")).context("bringing up lo")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{BindMode, FsOp};
    use crate::sys::fake::Recorder;
    use crate::sys::Kind;

    fn fake() -> Recorder {
        let mut r = Recorder::scratch();
        r.add("host", "/usr", Kind::Dir);
        r
    }

    fn usr() -> Vec<FsStep> {
        let op = FsOp::Bind { src: "/usr".into(), dest: "/usr".into(), mode: BindMode::ReadOnly, optional: false };
        vec![FsStep { op, added: None }]
    }

    /// The calls outside the filesystem steps, and a marker where the steps ran.
    fn frame(r: &Recorder) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &r.calls {
            let step = c.contains("base:")
                || c.contains("host:")
                || c.starts_with("clone_tree")
                || c.starts_with("set_attrs")
                || c.starts_with("attach");
            if !step {
                out.push(c.clone());
            } else if out.last().map(String::as_str) != Some("(the filesystem steps)") {
                out.push("(the filesystem steps)".into());
            }
        }
        out
    }

    #[test]
    fn the_root_is_built_aside_then_pivoted_into_with_the_host_detached() {
        let mut r = fake();
        let steps = usr();
        build(&mut r, &Plan { steps: &steps, share_pid: false, hostname: Some("box"), loopback: true }).unwrap();
        assert_eq!(
            frame(&r),
            [
                "make_private(/)",
                "mount_tmpfs(/tmp)",
                "mkdir(/tmp/newroot 755)",
                "mkdir(/tmp/oldroot 755)",
                "bind_self(/tmp/newroot)",
                "chdir(/tmp)",
                "pivot_root(. oldroot)",
                "chdir(/)",
                "open_root(/)",
                "open_root(/oldroot)",
                "(the filesystem steps)",
                "chdir(/newroot)",
                "pivot_root(. .)",
                "detach(.)",
                "chdir(/)",
                "set_hostname(box)",
                "loopback_up(lo)",
            ]
        );
    }

    #[test]
    fn a_failing_step_stops_the_build_and_names_its_call() {
        let mut r = fake();
        r.failures.push(("make_private", String::new(), nix::errno::Errno::EPERM));
        let steps = usr();
        let e = build(&mut r, &Plan { steps: &steps, share_pid: false, hostname: None, loopback: false }).unwrap_err();
        assert!(format!("{e:#}").starts_with("mount(\"/\", MS_PRIVATE|MS_REC): EPERM"), "{e:#}");
        assert_eq!(r.calls, ["make_private(/)"]);

        // Without a hostname or a network namespace of its own, neither is touched; a failing
        // pivot into the new root leaves the host attached and says so.
        let mut r = fake();
        r.failures.push(("pivot_root", ". .".into(), nix::errno::Errno::EINVAL));
        let e = build(&mut r, &Plan { steps: &steps, share_pid: false, hostname: None, loopback: false }).unwrap_err();
        assert_eq!(format!("{e:#}"), "pivot_root(new root): EINVAL (Invalid argument)");
        assert!(!r
            .calls
            .iter()
            .any(|c| c.starts_with("detach") || c.starts_with("set_hostname") || c.starts_with("loopback")));
    }
}
