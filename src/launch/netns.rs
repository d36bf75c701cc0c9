//! The sandbox's network namespace, made by a helper process beside the sandbox while the
//! sandbox sets itself up. Making one is the costliest step of a launch (the kernel registers
//! the namespace's devices, sysctls and protocols: about 0.6 ms of CPU here, where all of jail's
//! own code takes 0.3), and nothing needs it before the fork (the proxy's listener aside);
//! made by clone it would hold up everything after it.
//!
//! jail forks the helper just before it clones the sandbox; the helper waits. The sandbox's
//! first step hands it its user namespace, which jail owns (it has the owner's uid in the
//! parent namespace): so the helper may enter it and make a network namespace there, with
//! every capability over it. The helper brings `lo` up, sends the
//! namespace back over the same socket and exits; the sandbox enters it as its last step
//! before the fork (right after the root when a step needs it: the proxy's listener, and
//! `--userns2` and bubblewrap's `--disable-userns`, which leave the user namespace that owns
//! it), so that it waits for the helper only once its own work is done.
//! The sandbox, not jail, starts the helper's work: a new process often runs first on its
//! parent's CPU, and jail may not run again until the sandbox sleeps. Measured over 200
//! traced launches: forked by jail after the clone, the helper started 0.35 ms after the
//! sandbox, which then waited for the namespace; forked first, the command's exec came 0.19 ms
//! sooner. (Where the scheduler keeps a launch's processes on one CPU, as the benchmark
//! machine's mostly does, both orders take the same time.)
//!
//! A process of its own, not a thread of the sandbox's: each copy-on-write fault the sandbox
//! takes after the clone would interrupt a thread sharing its memory (measured: a thread gained
//! nothing).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{anyhow, Result};
use nix::sched::CloneFlags;
use nix::unistd::Pid;

use crate::sys::{errno_text, linux};

/// `ioctl(socket, SIOCGSKNSFD)`: a descriptor for the socket's network namespace
/// (linux/sockios.h; not in the libc crate).
const SIOCGSKNSFD: libc::c_ulong = 0x894C;

/// The helper process, ended (if it is still there) and reaped when dropped: by then the
/// sandbox has the namespace, or has failed.
pub struct Helper(Pid);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.0, None);
    }
}

impl Helper {
    /// Waits for the helper to end on its own, as it does once it has answered the sandbox
    /// (or heard that the sandbox is gone): it needs nothing from jail.
    pub fn reap(self) {
        let _ = nix::sys::wait::waitpid(self.0, None);
        std::mem::forget(self);
    }
}

/// jail's side, before the clone: forks the helper, which keeps `helper_end` (and closes
/// `sandbox_end`, the end the sandbox is cloned with). jail must be single-threaded (it is: no
/// thread is ever started).
pub fn start(helper_end: OwnedFd, sandbox_end: &OwnedFd) -> Result<Helper> {
    let jail = nix::unistd::getpid();
    // SAFETY: fork of a single-threaded process.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Helper(child)),
        Ok(nix::unistd::ForkResult::Child) => {
            // Never outlive jail, not even one that died before the death signal was armed.
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            // The sandbox's end closed here too, so that a sandbox that dies unheard is an EOF.
            // SAFETY: this process holds the descriptor and never uses it again.
            unsafe { libc::close(sandbox_end.as_raw_fd()) };
            if nix::unistd::getppid() == jail {
                serve(&helper_end);
            }
            // SAFETY: _exit ends the helper at once; it holds nothing that needs unwinding.
            unsafe { libc::_exit(0) }
        }
        Err(e) => Err(anyhow!("fork (the network namespace's helper): {}", errno_text(e))),
    }
}

/// In the helper: waits for the sandbox's user namespace, then answers with the network
/// namespace or why not. Nothing to answer when the sandbox ended first.
fn serve(sock: &OwnedFd) {
    let mut buf = [0u8; 1];
    let Ok((_, Some(sandbox))) = linux::recv_fd(sock, &mut buf) else { return };
    let _ = match make(&sandbox) {
        Ok(ns) => send(sock, b"", Some(ns.as_raw_fd())),
        Err(e) => send(sock, e.as_bytes(), None),
    };
}

/// The sandbox's first step: its user namespace to the helper, which starts on the network
/// namespace. A descriptor of the namespace itself, not a pidfd of the sandbox: setns through a
/// pidfd needs ptrace access to the process, which the sandbox gives up (not dumpable) before
/// it takes the network namespace, and so possibly before the helper gets to it.
pub fn ask(sock: &OwnedFd) -> Result<(), String> {
    // The host's /proc is still in view: this runs before the root is built.
    let me = std::fs::File::open("/proc/self/ns/user")
        .map_err(|e| format!("network namespace: open(\"/proc/self/ns/user\"): {e}"))?;
    linux::send_fd(sock, b"U", Some(me.as_raw_fd()))
        .map_err(|e| format!("network namespace: sendmsg to its helper: {}", errno_text(e)))
}

/// In the helper: into the sandbox's user namespace, a network namespace of its own there, `lo`
/// up, and a descriptor for the namespace.
fn make(sandbox: &OwnedFd) -> Result<OwnedFd, String> {
    nix::sched::setns(sandbox, CloneFlags::CLONE_NEWUSER)
        .map_err(|e| format!("setns(the sandbox's user namespace): {}", errno_text(e)))?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {}", errno_text(e)))?;
    let sock = linux::inet_socket().map_err(|e| format!("bringing up lo: {e}"))?;
    linux::loopback_up(&sock).map_err(|e| format!("bringing up lo: {e}"))?;
    // SAFETY: SIOCGSKNSFD takes no argument and returns a new descriptor or -1.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCGSKNSFD as _) };
    linux::fd_result("ioctl(SIOCGSKNSFD)", ret.into()).map_err(|e| e.to_string())
}

/// One message: the namespace (no text), or why there is none.
fn send(sock: &OwnedFd, text: &[u8], ns: Option<RawFd>) -> nix::Result<()> {
    linux::send_fd(sock, if text.is_empty() { b"N" } else { text }, ns)
}

/// The sandbox's side, once its root is built: receives the namespace and enters it.
pub fn enter(sock: &OwnedFd) -> Result<(), String> {
    let mut buf = [0u8; 512];
    let (n, ns) =
        linux::recv_fd(sock, &mut buf).map_err(|e| format!("network namespace: recvmsg: {}", errno_text(e)))?;
    let Some(ns) = ns else {
        return Err(if n == 0 {
            "network namespace: its helper ended without sending it".into()
        } else {
            format!("network namespace: {}", String::from_utf8_lossy(&buf[..n]))
        });
    };
    nix::sched::setns(&ns, CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("setns(network namespace, CLONE_NEWNET): {}", errno_text(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (OwnedFd, OwnedFd) {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap()
    }

    #[test]
    fn the_helpers_failure_reaches_the_sandbox_as_its_words() {
        let (helper, sandbox) = pair();
        send(&helper, b"unshare(CLONE_NEWNET): EPERM (Operation not permitted)", None).unwrap();
        assert_eq!(
            enter(&sandbox),
            Err("network namespace: unshare(CLONE_NEWNET): EPERM (Operation not permitted)".into())
        );
    }

    #[test]
    fn a_helper_that_ends_without_a_word_is_a_failure_too() {
        let (helper, sandbox) = pair();
        drop(helper);
        assert_eq!(enter(&sandbox), Err("network namespace: its helper ended without sending it".into()));
    }
}
