//! Runs the built jail binary as an unprivileged user and reports what it saw.
//!
//! As root (CI), every run goes through `setpriv` to the test user (`JAIL_TEST_USER`, default
//! `jailtest`, created by tests/tooling/setup-host.sh), from a copy of the binary and a working
//! directory that user can reach. As a normal user, jail runs as that user. Kernel tests skip
//! with a reason when user namespaces are unavailable, unless `JAIL_TEST_MUST_WORK=1`.
//! `JAIL_TEST_BIN=path` runs that binary instead of cargo's test build (tests/run.sh passes
//! make's release binary, the one that ships).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub struct Harness {
    pub bin: PathBuf,
    /// Some((uid, gid)) when runs switch to the test user.
    pub user: Option<(u32, u32)>,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub scratch: PathBuf,
}

pub fn must_work() -> bool {
    std::env::var("JAIL_TEST_MUST_WORK").is_ok_and(|v| v == "1")
}

fn skip(why: &str) -> Option<&'static Harness> {
    assert!(!must_work(), "JAIL_TEST_MUST_WORK=1 but: {why}");
    eprintln!("SKIP: {why}");
    None
}

fn lookup_user(name: &str) -> Option<(u32, u32, PathBuf)> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || f[0] != name {
            return None;
        }
        Some((f[2].parse().ok()?, f[3].parse().ok()?, PathBuf::from(f[5])))
    })
}

fn setup() -> Result<Harness, String> {
    let euid = unsafe_free_geteuid();
    let built =
        std::env::var_os("JAIL_TEST_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_jail")), PathBuf::from);
    let root = PathBuf::from("/var/tmp/jail-kernel-tests");
    let scratch = root.join(std::process::id().to_string());
    // Leftovers of earlier runs whose process is gone.
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !Path::new("/proc").join(&pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    std::fs::create_dir_all(&scratch).map_err(|e| format!("mkdir {}: {e}", scratch.display()))?;
    // Removed when the test process exits (leftovers of killed runs go at the next start).
    let _ = SCRATCH.set(scratch.clone());
    // SAFETY: registers a plain function; atexit is called once per process here.
    unsafe { atexit(remove_scratch) };
    for d in [&root, &scratch] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    }
    let bin = scratch.join("jail");
    std::fs::copy(&built, &bin).map_err(|e| format!("copy {}: {e}", built.display()))?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;

    if euid == 0 {
        let name = std::env::var("JAIL_TEST_USER").unwrap_or_else(|_| "jailtest".into());
        let (uid, gid, home) = lookup_user(&name)
            .ok_or_else(|| format!("test user {name} does not exist (run tests/tooling/setup-host.sh as root)"))?;
        Ok(Harness { bin, user: Some((uid, gid)), uid, gid, home, scratch })
    } else {
        let (uid, gid) = (euid, current_gid());
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/".into());
        Ok(Harness { bin, user: None, uid, gid, home, scratch })
    }
}

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_scratch() {
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// How long one run of jail may take before its test fails: the suite must never hang.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Kills process `pid` (a spawned jail) if it still runs after `limit`, unless the returned
/// guard was dropped first.
pub fn kill_after(pid: u32, limit: Duration) -> KillGuard {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !flag.load(Ordering::SeqCst) {
            eprintln!("test watchdog: process {pid} still running after {limit:?}: killed");
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    });
    KillGuard(done)
}

pub struct KillGuard(Arc<AtomicBool>);

impl Drop for KillGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// `cmd.output()` with a bound: after [`LIMIT`] the process is killed and the test fails.
pub fn output(cmd: &mut Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let t0 = Instant::now();
    let guard = kill_after(child.id(), LIMIT);
    let out = child.wait_with_output().expect("wait");
    drop(guard);
    assert!(t0.elapsed() < LIMIT, "{cmd:?} did not finish within {LIMIT:?} and was killed");
    out
}

fn unsafe_free_geteuid() -> u32 {
    // The test process's own /proc entry holds its ids; no libc call needed.
    status_field("Uid:", 1)
}

fn current_gid() -> u32 {
    status_field("Gid:", 1)
}

fn status_field(key: &str, idx: usize) -> u32 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(idx))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX)
}

/// The harness, or None (after saying why) when kernel tests cannot run here.
pub fn harness() -> Option<&'static Harness> {
    static H: OnceLock<Result<Harness, String>> = OnceLock::new();
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let h = match H.get_or_init(setup) {
        Ok(h) => h,
        Err(e) => return skip(e),
    };
    let probe = PROBE.get_or_init(|| {
        let out = output(&mut h.jail(["--", "true"]));
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("jail cannot create a sandbox here: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
    });
    match probe {
        Ok(()) => Some(h),
        Err(e) => skip(e),
    }
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

impl Harness {
    /// A command running jail with `args` as the test user, in a fresh directory it owns.
    pub fn jail<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let dir = self.dir();
        self.jail_in(&dir, args)
    }

    pub fn jail_in<I, S>(&self, dir: &Path, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut c = self.as_user(&self.bin);
        c.args(args).current_dir(dir).env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
        c.env("HOME", &self.home).env("LANG", "C").stdin(Stdio::null());
        default_signals(&mut c);
        c
    }

    /// `program` run as the test user (through setpriv when the tests run as root).
    pub fn as_user(&self, program: impl AsRef<OsStr>) -> Command {
        match self.user {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}")).arg(format!("--regid={gid}")).arg("--clear-groups").arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// A new empty directory owned by the test user.
    pub fn dir(&self) -> PathBuf {
        let d = self.scratch.join(format!("d{}", DIRS.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&d).expect("mkdir scratch");
        if self.user.is_some() {
            chown(&d, Some(self.uid), Some(self.gid)).expect("chown scratch");
        }
        d
    }

    /// Runs `sh -c script` in the default sandbox plus `args`.
    pub fn sh(&self, args: &[&str], script: &str) -> Run {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(["--", "sh", "-c", script]);
        Run::from(output(&mut self.jail(v)))
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(output(&mut self.jail(args)))
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.jail(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn jail")
    }
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        let code = o.status.code().unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0));
        Run {
            code,
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "jail failed: stdout={:?} stderr={:?}", self.out, self.err);
        self
    }

    pub fn lines(&self) -> Vec<&str> {
        self.out.lines().collect()
    }
}

/// A fixture tree built by tests/tooling/fixtures.sh, or None (after saying why).
pub fn tree(name: &str) -> Option<PathBuf> {
    let cache = std::env::var("JAIL_TEST_CACHE").unwrap_or_else(|_| "/var/cache/jail-test".into());
    let p = Path::new(&cache).join(name);
    if p.join("bin").exists() {
        return Some(p);
    }
    let why = format!("fixture tree {} missing (run tests/tooling/fixtures.sh as root)", p.display());
    assert!(!must_work(), "JAIL_TEST_MUST_WORK=1 but: {why}");
    eprintln!("SKIP: {why}");
    None
}

extern "C" {
    fn dup2(old: i32, new: i32) -> i32;
    fn fcntl(fd: i32, cmd: i32, arg: i32) -> i32;
    fn atexit(cb: extern "C" fn()) -> i32;
    fn signal(sig: i32, handler: usize) -> usize;
}

/// Starts `c` with every signal at its default disposition, as from a login shell, so the
/// suite behaves the same when run under nohup or with signals ignored.
pub fn default_signals(c: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal() is async-signal-safe and runs in the forked child before exec.
    unsafe {
        c.pre_exec(|| {
            for sig in 1..32 {
                if sig != 9 && sig != 19 {
                    signal(sig, 0);
                }
            }
            Ok(())
        });
    }
}

/// Makes `fd` of the test process descriptor `target` of the spawned jail (a descriptor handed
/// over on purpose, like `--file 9`, or leaked by a careless parent).
pub fn hand_over(c: &mut Command, fd: i32, target: i32) {
    use std::os::unix::process::CommandExt;
    // SAFETY: dup2 and fcntl are async-signal-safe and touch no memory; they run in the forked child.
    unsafe {
        c.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec: clear the flag instead.
            const F_SETFD: i32 = 2;
            let ok = if fd == target { fcntl(fd, F_SETFD, 0) >= 0 } else { dup2(fd, target) >= 0 };
            if !ok {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The host's view of a namespace of this test process.
pub fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}")).map(|p| p.display().to_string()).unwrap_or_default()
}
