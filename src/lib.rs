//! jail: a rootless sandbox.
//!
//! ```text
//! argv ─┬─ jail's options (clap, --profile FILE first) ─┐
//!       └─ as bwrap: bubblewrap 0.11's command line ─────┴▶ Request
//! Request + Host (probed once) + HostFiles ─Spec::from_request─▶ Spec
//!       ├─ --dry-run: print it, exit 0
//!       └─ launch::launch(&Spec)
//! ```
//!
//! - [`cli`]: the two front ends (jail's clap options with `--profile`, and
//!   [`cli::bwrap`]); argv-order recovery; both produce the same `Request`.
//! - [`spec`]: the validated plan (namespaces, id maps, ordered filesystem steps, env, argv,
//!   capabilities, limits, Landlock, seccomp and network plans) and its rendering. It owns
//!   every plan type, imports nothing that executes a plan and does no I/O: [`host`] probes
//!   the host once and answers the plan's questions about files.
//! - [`launch`]: the stage lists of jail's parent, the sandbox's first process, its root,
//!   init and the command, each written once and tested in order (see the diagram there).
//! - [`rootfs`]: executes the filesystem steps through [`sys::Sys`].
//! - [`sys`]: the syscalls that build the root behind a trait, real and recording.
//! - [`confine`]: applies capabilities, Landlock and seccomp; [`cgroup`]: applies limits (a
//!   scope from the systemd user manager over a small D-Bus client, or a delegated subtree).
//! - [`error`]: how system errors read in messages; [`exit`]: jail's exit statuses;
//!   [`say`]: the voice of messages (`jail:` or `bwrap:`).
//! - [`doctor`]: `jail doctor`; [`tree`]: `jail rootfs`, trees made without root.
//! - [`heap`]: the allocator of every program built on this crate.

mod cgroup;
pub mod cli;
mod confine;
mod doctor;
mod error;
mod exit;
mod heap;
mod host;
mod launch;
mod rootfs;
mod say;
mod spec;
mod sys;
mod tree;

use std::ffi::OsString;
use std::io::Write;

/// Runs jail with `args` (argv including `argv[0]`) and returns the process exit status.
pub fn run(args: Vec<OsString>) -> i32 {
    let bwrap = cli::bwrap_personality(&args);
    let personality = if bwrap.is_some() { spec::Personality::Bwrap } else { spec::Personality::Jail };
    let (parsed, bwrap_dry_run) = match bwrap {
        Some((args, dry_run)) => {
            say::as_bwrap(false);
            (cli::bwrap::parse(args), dry_run)
        }
        None => (cli::parse(args), None),
    };
    let fail = |msg: &str| {
        say::error(msg);
        personality.failure_status(exit::FAILURE)
    };
    let (request, dry_run) = match parsed {
        Ok(cli::Parsed::Print(text)) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            return 0;
        }
        Ok(cli::Parsed::Run { request, dry_run }) => (request, dry_run.or(bwrap_dry_run)),
        Ok(cli::Parsed::Doctor(wants)) => return doctor::run(wants),
        Ok(cli::Parsed::Rootfs(tree::Action::Unpack { archive, dir })) => return tree::unpack(&archive, &dir),
        Ok(cli::Parsed::Rootfs(tree::Action::Debian(d))) => {
            match tree::prepare_dir("rootfs debian", &d.dir).and_then(|dir| tree::debian_request(&d, &dir)) {
                Ok(r) => (Box::new(r), None),
                Err(e) => return fail(&format!("{e:#}")),
            }
        }
        Ok(cli::Parsed::Rootfs(tree::Action::Shift { dir, user })) => {
            return match tree::shift(&dir, user.as_deref()) {
                Ok(()) => 0,
                Err(e) => fail(&format!("{e:#}")),
            };
        }
        Ok(cli::Parsed::Rootfs(tree::Action::Import { archive, dir })) => {
            let exe = match std::env::current_exe() {
                Ok(e) => e,
                Err(e) => return fail(&format!("rootfs import: where am I: {e}")),
            };
            match tree::prepare(&archive, &dir) {
                Ok((archive, dir)) => (Box::new(tree::import_request(&archive, &dir, &exe)), None),
                Err(e) => return fail(&format!("{e:#}")),
            }
        }
        Err(cli::UsageError(msg)) => return fail(&msg),
    };
    let spec = match host::probe().and_then(|h| spec::Spec::from_request(*request, &h, &host::Live)) {
        Ok(s) => s,
        Err(e) => return fail(&format!("{e:#}")),
    };
    for note in &spec.notes {
        say::warn(note);
    }
    match dry_run {
        Some(cli::DryRun::Text) => {
            print!("{}", spec.to_text());
            return 0;
        }
        Some(cli::DryRun::Json) => {
            println!("{}", spec.to_json());
            return 0;
        }
        None => {}
    }
    match launch::launch(&spec) {
        Ok(code) => code,
        Err(e) => fail(&format!("{e:#}")),
    }
}
