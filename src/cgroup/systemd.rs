//! The systemd user manager, over D-Bus: a transient scope with the limits as properties.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::dbus::{Bus, Call, Writer};
use anyhow::{anyhow, bail, Context, Result};

use super::{fs, Plan};
pub use crate::spec::limits::{properties, Prop};

/// How jail reaches the user manager.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// The manager's own socket, `$XDG_RUNTIME_DIR/systemd/private`, as `systemctl --user` and
    /// `systemd-run --user --scope` reach it: no broker relays the messages, there is no Hello,
    /// and the manager sends its job signals to every direct peer unasked.
    Direct(PathBuf),
    /// The user bus (a broker): Hello, and a match for the job's end.
    Bus(String),
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Direct(p) => write!(f, "{}", p.display()),
            Route::Bus(a) => write!(f, "{a}"),
        }
    }
}

/// Where [`user_manager`] looks, for messages when it finds nothing.
pub const WHERE_LOOKED: &str =
    "no $XDG_RUNTIME_DIR/systemd/private, no $DBUS_SESSION_BUS_ADDRESS, no $XDG_RUNTIME_DIR/bus";

/// The ways to the user manager to try, in order (none: no user manager to ask).
pub fn user_manager() -> Vec<Route> {
    routes(
        std::env::var("DBUS_SESSION_BUS_ADDRESS").ok(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        |p| p.exists(),
    )
}

/// The manager's private socket when it exists, then the bus: $DBUS_SESSION_BUS_ADDRESS, else
/// $XDG_RUNTIME_DIR/bus when that socket exists (as libsystemd and D-Bus clients look it up).
pub fn routes(env: Option<String>, runtime_dir: Option<PathBuf>, exists: impl Fn(&Path) -> bool) -> Vec<Route> {
    let mut out = Vec::new();
    if let Some(dir) = &runtime_dir {
        let private = dir.join("systemd/private");
        if exists(&private) {
            out.push(Route::Direct(private));
        }
    }
    if let Some(a) = env.filter(|a| !a.is_empty()) {
        out.push(Route::Bus(a));
    } else if let Some(sock) = runtime_dir.map(|d| d.join("bus")).filter(|s| exists(s)) {
        out.push(Route::Bus(format!("unix:path={}", sock.display())));
    }
    out
}

/// The manager's answer to a scope request, on its way.
pub struct Answer {
    bus: Bus,
    /// (serial, what) of the calls whose replies matter.
    calls: Vec<(u32, &'static str)>,
    start: u32,
    sent: Instant,
}

/// How long the user manager may take to start a scope.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// A connection to the user manager, opened before the sandbox is cloned: the authentication
/// (and on a bus Hello and the match for the job's end) is on its way while jail clones.
pub struct Manager {
    bus: Bus,
    pub route: Route,
    /// (serial, what) of the calls sent so far whose replies matter.
    calls: Vec<(u32, &'static str)>,
}

/// Connects to the first of `routes` (from [`user_manager`]) that takes it.
pub fn connect(routes: Vec<Route>) -> Result<Manager> {
    let mut last = anyhow!("no user manager to ask ({WHERE_LOOKED})");
    for route in routes {
        let bus = match &route {
            Route::Direct(path) => Bus::connect_peer(path),
            Route::Bus(address) => Bus::connect(address),
        };
        match bus.and_then(|bus| Manager::over(bus, route.clone())) {
            Ok(m) => return Ok(m),
            Err(e) => last = e.context(format!("connecting to the systemd user manager at {route}")),
        }
    }
    Err(last)
}

impl Manager {
    fn over(mut bus: Bus, route: Route) -> Result<Manager> {
        let mut calls = Vec::new();
        if !bus.is_peer() {
            // (The manager sends JobRemoved to a job's requester on the bus without Subscribe,
            // and to every direct peer unasked.)
            let rule = format!(
                "type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',interface='{MANAGER}',member='JobRemoved'"
            );
            calls.push((1, "Hello"));
            calls.push((bus.add_match(&rule), "AddMatch JobRemoved"));
        }
        bus.flush(Instant::now() + ANSWER_TIMEOUT)?;
        Ok(Manager { bus, route, calls })
    }
}

/// Asks for `unit` with `pids` in it and the scope-level limits in one write (StartTransientUnit),
/// and the sandbox builds its root while the manager works.
pub fn request(mut m: Manager, plan: &Plan, pids: &[u32], unit: &str) -> Result<Answer> {
    let bus = &mut m.bus;
    let mut props = properties(&plan.limits, pids)?;
    props.insert(1, ("Slice", Prop::Str(plan.slice.clone())));
    let mut body = Writer::default();
    body.str(unit);
    body.str("fail");
    body.array(8, |w| {
        for (name, value) in &props {
            w.open_struct();
            w.str(name);
            w.variant(value);
        }
    });
    // No auxiliary units: a(sa(sv)), empty.
    body.array(8, |_| {});
    let start = bus.queue(&Call {
        destination: SYSTEMD,
        path: MANAGER_PATH,
        interface: MANAGER,
        member: "StartTransientUnit",
        signature: "ssa(sv)a(sa(sv))",
        body: body.into_bytes(),
    });
    bus.flush(Instant::now() + ANSWER_TIMEOUT)?;
    m.calls.push((start, "StartTransientUnit"));
    Ok(Answer { bus: m.bus, calls: m.calls, start, sent: Instant::now() })
}

impl Answer {
    /// Waits (bounded) for the job's end: the replies come first, then JobRemoved.
    pub fn wait(mut self, unit: &str) -> Result<()> {
        let deadline = self.sent + ANSWER_TIMEOUT;
        let mut job = None;
        // Jobs that ended, ours perhaps among them before its path is known.
        let mut ended: Vec<(String, String)> = Vec::new();
        loop {
            let m = self.bus.next(deadline).map_err(|e| {
                anyhow!("{e:#}: the systemd user manager did not start {unit} within {} s", ANSWER_TIMEOUT.as_secs())
            })?;
            if m.is_reply() {
                let Some((serial, what)) = self.calls.iter().find(|(s, _)| Some(*s) == m.reply_serial).copied() else {
                    continue;
                };
                if let Some(e) = m.error() {
                    bail!("{what}({unit}): {e}");
                }
                if serial == self.start {
                    job = Some(m.body().str().context("StartTransientUnit's reply")?);
                }
            } else if m.is_signal("JobRemoved") {
                let mut r = m.body();
                let (_id, path, _unit, result) = (r.u32()?, r.str()?, r.str()?, r.str()?);
                ended.push((path, result));
            }
            if let Some(job) = &job {
                if let Some((_, result)) = ended.iter().find(|(p, _)| p == job) {
                    if result != "done" {
                        bail!("systemd could not start {unit}: job result {result:?}");
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// Waits until jail and the sandbox (`child`) are in the scope (a manager that must ask the
/// system manager to move them finishes the job first), and returns the scope's directory.
pub fn wait_until_moved(root: &Path, unit: &str, child: nix::unistd::Pid) -> Result<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let child_file = format!("/proc/{child}/cgroup");
    loop {
        let own = fs::own_cgroup()?;
        let theirs = std::fs::read_to_string(&child_file).unwrap_or_default();
        if own.ends_with(unit) && theirs.lines().any(|l| l.strip_prefix("0::") == Some(&own)) {
            return Ok(root.join(own.trim_start_matches('/')));
        }
        if Instant::now() > deadline {
            bail!("systemd started {unit} but jail is still in {own} and the sandbox in {}", theirs.trim());
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Asks the user manager on `routes` for its version: proves the route and the manager answer.
pub fn ping(routes: Vec<Route>) -> Result<(String, Route)> {
    let Manager { mut bus, route, .. } = connect(routes)?;
    let mut body = Writer::default();
    body.str(MANAGER);
    body.str("Version");
    let serial = bus.queue(&Call {
        destination: SYSTEMD,
        path: MANAGER_PATH,
        interface: "org.freedesktop.DBus.Properties",
        member: "Get",
        signature: "ss",
        body: body.into_bytes(),
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    bus.flush(deadline)?;
    loop {
        let m = bus.next(deadline)?;
        if !m.is_reply() {
            continue;
        }
        if let Some(e) = m.error() {
            bail!("{}: {e}", if m.reply_serial == Some(serial) { "Get Version" } else { "Hello" });
        }
        if m.reply_serial == Some(serial) {
            return Ok((m.body().variant_str()?, route));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::limits::{cpu_mask, Level, Limits};

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
        let p = properties(&limits, &[4242, 4243]).unwrap();
        assert_eq!(
            p,
            vec![
                ("Description", Prop::Str("jail sandbox".into())),
                ("PIDs", Prop::Pids(vec![4242, 4243])),
                ("Delegate", Prop::Bool(true)),
                ("OOMPolicy", Prop::Str("continue".into())),
                ("CollectMode", Prop::Str("inactive-or-failed".into())),
                ("MemoryMax", Prop::U64(50331648)),
                ("MemorySwapMax", Prop::U64(0)),
                ("TasksMax", Prop::U64(64)),
                ("AllowedCPUs", Prop::Bytes(vec![0b0111_0101])),
                ("IOWeight", Prop::U64(50)),
            ]
        );
    }

    #[test]
    fn the_managers_own_socket_comes_first_then_the_bus_from_the_environment_or_the_runtime_dir() {
        let yes = |_: &Path| true;
        let no = |_: &Path| false;
        let only_bus = |p: &Path| p.ends_with("bus");
        let direct = || Route::Direct("/run/user/7/systemd/private".into());
        assert_eq!(routes(Some("unix:path=/x".into()), None, yes), [Route::Bus("unix:path=/x".into())]);
        assert_eq!(
            routes(Some("unix:path=/x".into()), Some("/run/user/7".into()), yes),
            [direct(), Route::Bus("unix:path=/x".into())]
        );
        assert_eq!(
            routes(Some(String::new()), Some("/run/user/7".into()), yes),
            [direct(), Route::Bus("unix:path=/run/user/7/bus".into())]
        );
        assert_eq!(
            routes(None, Some("/run/user/7".into()), only_bus),
            [Route::Bus("unix:path=/run/user/7/bus".into())]
        );
        assert_eq!(routes(None, Some("/run/user/7".into()), no), []);
        assert_eq!(routes(None, None, yes), []);
    }

    /// A private dbus-daemon (the real one, which validates every message it is sent) and
    /// its address; killed on drop.
    struct Daemon(std::process::Child, PathBuf);

    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = std::fs::remove_file(&self.1);
            let _ = std::fs::remove_file(self.1.with_extension("conf"));
        }
    }

    fn daemon() -> Option<Daemon> {
        let sock = std::env::temp_dir().join(format!("jail-test-bus-{}", std::process::id()));
        // A session bus without service activation: a call to a name nobody owns is refused.
        let config = sock.with_extension("conf");
        let rest = r#"<auth>EXTERNAL</auth><policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>"#;
        let listen = format!("<listen>unix:path={}</listen>", sock.display());
        std::fs::write(&config, format!("<busconfig><type>session</type>{listen}{rest}</busconfig>")).unwrap();
        let child = std::process::Command::new("dbus-daemon")
            .args(["--nofork", "--nopidfile"])
            .arg(format!("--config-file={}", config.display()))
            .stdout(std::process::Stdio::null())
            // It warns that it cannot raise its descriptor limit when not root.
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            assert!(std::env::var_os("JAIL_TEST_MUST_WORK").is_none(), "dbus-daemon not found");
            eprintln!("SKIP: dbus-daemon not found (tests/tooling/setup-host.sh installs it)");
            return None;
        };
        let mut d = Daemon(child, sock);
        let deadline = Instant::now() + Duration::from_secs(10);
        // The socket's file exists from bind(), before listen(): wait until it takes connections.
        while std::os::unix::net::UnixStream::connect(&d.1).is_err() {
            assert!(Instant::now() < deadline, "dbus-daemon took no connection within 10 s");
            assert!(matches!(d.0.try_wait(), Ok(None)), "dbus-daemon exited");
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(d)
    }

    #[test]
    fn a_real_bus_takes_the_pipelined_request_and_routes_it() {
        let Some(d) = daemon() else { return };
        let bus = Bus::connect(&format!("unix:path={}", d.1.display())).unwrap();
        let manager = Manager::over(bus, Route::Bus("test".into())).unwrap();
        let limits = Limits {
            mem: Some(48 << 20),
            swap: Some(0),
            pids: Some(64),
            cpuset: Some("0".into()),
            ..Limits::default()
        };
        let plan = Plan { limits, slice: "jail.slice".into() };
        let answer = request(manager, &plan, &[1, 2], "jail-1.scope").unwrap();
        // Authentication, Hello and AddMatch passed, and the bus parsed the request well enough
        // to route it: nobody owns systemd's name on this bus.
        let e = answer.wait("jail-1.scope").unwrap_err().to_string();
        assert!(e.starts_with("StartTransientUnit(jail-1.scope): org.freedesktop.DBus.Error.ServiceUnknown"), "{e}");
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
        // Not a unit property: jail writes it on the payload once the sandbox is built.
        assert_eq!(properties(&limits, &[1]).unwrap().len(), 5);
        assert_eq!(limits.expected_files(Level::Payload), [("cpu.max", "150000 100000".to_string())]);
    }
}
