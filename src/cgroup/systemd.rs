//! The systemd user manager, over D-Bus: a transient scope with the limits as properties.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use zbus::zvariant::{OwnedObjectPath, Value};

use super::{fs, Cgroup, Plan};
pub use crate::spec::limits::{properties, Prop};

/// The address of the user bus, if there is one to try.
pub fn user_bus() -> Option<String> {
    bus_address(
        std::env::var("DBUS_SESSION_BUS_ADDRESS").ok(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        |p| p.exists(),
    )
}

/// $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus when that socket exists (as libsystemd
/// and zbus look it up). Without either, limits fall back to a delegated cgroup.
pub fn bus_address(
    env: Option<String>,
    runtime_dir: Option<PathBuf>,
    exists: impl Fn(&Path) -> bool,
) -> Option<String> {
    if let Some(a) = env.filter(|a| !a.is_empty()) {
        return Some(a);
    }
    let sock = runtime_dir?.join("bus");
    exists(&sock).then(|| format!("unix:path={}", sock.display()))
}

fn value(p: &Prop) -> Value<'_> {
    match p {
        Prop::U64(v) => Value::U64(*v),
        Prop::Bool(b) => Value::Bool(*b),
        Prop::Str(s) => Value::from(s.as_str()),
        Prop::Pids(v) => Value::from(v.clone()),
        Prop::Bytes(v) => Value::from(v.clone()),
    }
}

/// Starts `jail-PID.scope` in the slice with jail in it, waits for the job and for jail to be
/// in the new cgroup, then lays out the leaves and checks every limit.
///
/// The D-Bus conversation runs in a forked helper: the D-Bus client starts threads, and jail
/// must stay single-threaded until it clones the sandbox (a fork-like clone of a threaded
/// process can inherit a lock some other thread held).
pub fn start(plan: &Plan, root: &Path) -> Result<Cgroup> {
    let pid = std::process::id();
    let unit = format!("jail-{pid}.scope");
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;
    // SAFETY: jail is single-threaded here; the helper talks D-Bus, writes one line, _exits.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let msg = match request_scope(plan, pid, &unit) {
                Ok(()) => String::new(),
                Err(e) => format!("{e:#}"),
            };
            let _ = nix::unistd::write(&w, msg.as_bytes());
            // SAFETY: ends the helper without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let answer = read_with_timeout(r, Duration::from_secs(30));
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            match answer {
                Some(msg) if msg.is_empty() => {}
                Some(msg) => bail!("{msg}"),
                None => bail!("the systemd user manager did not start {unit} within 30 s"),
            }
        }
    }
    let dir = wait_until_moved(root, &unit)?;
    let cg = Cgroup { dir, backend: "systemd", unit: Some(unit), owns_dir: false };
    fs::lay_out(&cg, &plan.limits)?;
    Ok(cg)
}

/// Reads the helper's answer to EOF, or gives up after `limit`.
fn read_with_timeout(fd: std::os::fd::OwnedFd, limit: Duration) -> Option<String> {
    use std::os::fd::AsRawFd;
    let deadline = Instant::now() + limit;
    let mut buf = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).as_millis() as i32;
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut pfd, 1, left) } <= 0 {
            return None;
        }
        let mut chunk = [0u8; 4096];
        match nix::unistd::read(fd.as_raw_fd(), &mut chunk) {
            Ok(0) => return Some(String::from_utf8_lossy(&buf).into_owned()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
}

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// The D-Bus part: StartTransientUnit with `pid` in it, then wait for the job to finish. Plain
/// method calls and one match rule: a proxy would add name-owner tracking round trips, which
/// cost more than the rest together on a slow machine.
fn request_scope(plan: &Plan, pid: u32, unit: &str) -> Result<()> {
    let conn = zbus::blocking::Connection::session().context("connecting to the systemd user manager's bus")?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(SYSTEMD)?
        .interface(MANAGER)?
        .member("JobRemoved")?
        .build();
    let mut removed =
        zbus::blocking::MessageIterator::for_match_rule(rule, &conn, Some(64)).context("AddMatch JobRemoved")?;
    // The manager only emits signals once someone subscribed.
    conn.call_method(Some(SYSTEMD), MANAGER_PATH, Some(MANAGER), "Subscribe", &()).context("systemd Subscribe")?;

    let mut props = properties(&plan.limits, pid)?;
    props.insert(1, ("Slice", Prop::Str(plan.slice.clone())));
    let wire: Vec<(&str, Value<'_>)> = props.iter().map(|(k, v)| (*k, value(v))).collect();
    let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
    let reply = conn
        .call_method(Some(SYSTEMD), MANAGER_PATH, Some(MANAGER), "StartTransientUnit", &(unit, "fail", wire, aux))
        .map_err(|e| anyhow!("StartTransientUnit({unit}): {e}"))?;
    let job: OwnedObjectPath = reply.body().deserialize().context("StartTransientUnit reply")?;
    loop {
        let msg = removed
            .next()
            .ok_or_else(|| anyhow!("systemd closed the bus while starting {unit}"))?
            .context("reading JobRemoved")?;
        let (_id, path, _unit, result): (u32, OwnedObjectPath, String, String) =
            msg.body().deserialize().context("JobRemoved arguments")?;
        if path == job {
            if result != "done" {
                bail!("systemd could not start {unit}: job result {result:?}");
            }
            return Ok(());
        }
    }
}

/// Waits until jail's own cgroup is the scope's, and returns the scope's directory.
fn wait_until_moved(root: &Path, unit: &str) -> Result<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let own = fs::own_cgroup()?;
        if own.ends_with(unit) {
            return Ok(root.join(own.trim_start_matches('/')));
        }
        if Instant::now() > deadline {
            bail!("systemd started {unit} but jail is still in {own}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Asks the user manager for its version: proves the bus and the manager answer.
pub fn ping() -> Result<String> {
    let conn = zbus::blocking::Connection::session().context("connect")?;
    let reply = conn
        .call_method(Some(SYSTEMD), MANAGER_PATH, Some("org.freedesktop.DBus.Properties"), "Get", &(MANAGER, "Version"))
        .context("Get Version")?;
    let v: zbus::zvariant::OwnedValue = reply.body().deserialize().context("Version")?;
    Ok(String::try_from(v).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::limits::{cpu_mask, Limits};

    #[test]
    fn the_exact_properties_sent() {
        let limits = Limits {
            mem: Some(48 << 20),
            swap: Some(0),
            cpu_percent: Some(20),
            pids: Some(64),
            cpuset: Some("0,2,4-6".into()),
            io_weight: Some(50),
            ..Limits::default()
        };
        let p = properties(&limits, 4242).unwrap();
        assert_eq!(
            p,
            vec![
                ("Description", Prop::Str("jail sandbox".into())),
                ("PIDs", Prop::Pids(vec![4242])),
                ("Delegate", Prop::Bool(true)),
                ("OOMPolicy", Prop::Str("continue".into())),
                ("CollectMode", Prop::Str("inactive-or-failed".into())),
                ("MemoryMax", Prop::U64(50331648)),
                ("MemorySwapMax", Prop::U64(0)),
                ("CPUQuotaPerSecUSec", Prop::U64(200000)),
                ("TasksMax", Prop::U64(64)),
                ("AllowedCPUs", Prop::Bytes(vec![0b0111_0101])),
                ("IOWeight", Prop::U64(50)),
            ]
        );
    }

    #[test]
    fn the_bus_comes_from_the_environment_or_the_runtime_dir() {
        let yes = |_: &Path| true;
        let no = |_: &Path| false;
        assert_eq!(bus_address(Some("unix:path=/x".into()), None, no).as_deref(), Some("unix:path=/x"));
        assert_eq!(
            bus_address(Some(String::new()), Some("/run/user/7".into()), yes).as_deref(),
            Some("unix:path=/run/user/7/bus")
        );
        assert_eq!(bus_address(None, Some("/run/user/7".into()), no), None);
        assert_eq!(bus_address(None, None, yes), None);
    }

    #[test]
    fn cpu_masks() {
        assert_eq!(cpu_mask("0").unwrap(), [1]);
        assert_eq!(cpu_mask("8-9").unwrap(), [0, 3]);
        assert!(cpu_mask("3-1").is_err());
        assert!(cpu_mask("x").unwrap_err().to_string().contains("--cpuset"));
    }

    #[test]
    fn one_and_a_half_cpus_is_150_percent() {
        let limits = Limits { cpu_percent: Some(150), ..Limits::default() };
        assert_eq!(properties(&limits, 1).unwrap()[5], ("CPUQuotaPerSecUSec", Prop::U64(1_500_000)));
        assert_eq!(limits.expected_files(), [("cpu.max", "150000 100000".to_string())]);
    }
}
