//! Seccomp kills that say which call it was. A profile's kill actions compile to user
//! notifications; the command hands jail the filter's listener before it execs, and jail, on
//! each notification, names the call and kills the process (the kernel's kill would leave only
//! a bare SIGSYS status). The listener never stays in the sandbox: it is close-on-exec, and
//! jail fetches it with pidfd_getfd (it owns the sandbox's user namespace).
//!
//! Protocol on a SOCK_SEQPACKET pair: the command sends its pidfd and the descriptor number
//! the listener will get, loads the filter, says so with one byte, and waits for one byte;
//! jail fetches the listener once told, then sends its byte. Nobody polls or sleeps. (A
//! profile may refuse sendmsg, and the filter is in force before the listener exists.)
//!
//! The built-in policy, which allows sendmsg, is handed over plainer: the sandbox's first
//! process loads it for itself and the command and sends the listener itself (`send`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use anyhow::{anyhow, bail, Result};
use seccompiler::BpfProgram;

use crate::sys::errno_text;

fn raw_fd(call: &str, ret: libc::c_long) -> Result<OwnedFd> {
    if ret < 0 {
        bail!("{call}: {}", errno_text(nix::errno::Errno::last()));
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// The sandbox's side: loads `prog` with a listener and hands the listener to jail.
pub fn hand_over(sock: &OwnedFd, prog: &BpfProgram) -> Result<()> {
    let pidfd = crate::sys::linux::pidfd_of_self().map_err(|e| anyhow!("{e}"))?;
    // The listener takes the lowest free descriptor: find it now, while nothing is filtered.
    let probe = nix::fcntl::fcntl(pidfd.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(0))
        .map_err(|e| anyhow!("fcntl(F_DUPFD_CLOEXEC): {}", errno_text(e)))?;
    // SAFETY: `probe` was just created here and is owned by nothing else.
    let number = unsafe { OwnedFd::from_raw_fd(probe) }.as_raw_fd();
    crate::sys::linux::send_fd(sock, &number.to_ne_bytes(), Some(pidfd.as_raw_fd()))
        .map_err(|e| anyhow!("sendmsg(seccomp supervisor): {}", errno_text(e)))?;
    let listener = crate::confine::seccomp::load_with_listener(prog)?;
    if listener.as_raw_fd() != number {
        bail!("seccomp listener: got descriptor {}, announced {number}", listener.as_raw_fd());
    }
    if nix::unistd::write(sock, b"L") != Ok(1) {
        bail!("seccomp supervisor: cannot say the listener is loaded");
    }
    let mut ack = [0u8; 1];
    match nix::unistd::read(sock.as_raw_fd(), &mut ack) {
        Ok(1) => {}
        _ => bail!("seccomp supervisor: jail did not take the listener"),
    }
    // From here on every call is filtered: leave the listener and pidfd to close on exec.
    std::mem::forget(listener);
    std::mem::forget(pidfd);
    Ok(())
}

/// The first process's side for the built-in policy: loads `prog` with a listener and sends
/// the listener to jail (the policy lets sendmsg through), without waiting for an answer.
pub fn send(sock: &OwnedFd, prog: &BpfProgram) -> Result<()> {
    let listener = crate::confine::seccomp::load_with_listener(prog)?;
    crate::sys::linux::send_fd(sock, b"L", Some(listener.as_raw_fd()))
        .map_err(|e| anyhow!("sendmsg(seccomp listener): {}", errno_text(e)))
}

/// jail's side of `send`: the listener, or None when the sandbox failed first.
pub fn receive_sent(sock: &OwnedFd) -> Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let (_, listener) = crate::sys::linux::recv_fd(sock, &mut byte)
        .map_err(|e| anyhow!("recvmsg(seccomp listener): {}", errno_text(e)))?;
    Ok(listener)
}

/// jail's side: the listener, or None when the sandbox failed before handing it over (its
/// setup report says why).
pub fn receive(sock: &OwnedFd) -> Result<Option<OwnedFd>> {
    let mut bytes = [0u8; 4];
    let (n, pidfd) = crate::sys::linux::recv_fd(sock, &mut bytes)
        .map_err(|e| anyhow!("recvmsg(seccomp supervisor): {}", errno_text(e)))?;
    let (4, Some(pidfd)) = (n, pidfd) else { return Ok(None) };
    let number = i32::from_ne_bytes(bytes);
    // The command says when the filter is loaded; EOF means it failed first (its report says why).
    let mut loaded = [0u8; 1];
    if nix::unistd::read(sock.as_raw_fd(), &mut loaded) != Ok(1) {
        return Ok(None);
    }
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), number, 0) };
    let listener = raw_fd(&format!("pidfd_getfd(seccomp listener {number})"), ret)?;
    let _ = nix::unistd::write(sock, b"1");
    Ok(Some(listener))
}

/// One notification: the call that a kill action matched, and the process, which jail then
/// kills. Returns `(pid, syscall number)`, or None when there was nothing to read.
pub fn handle(listener: &OwnedFd) -> Option<(u32, i32)> {
    // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: `notif` is a valid out-buffer of the size the request encodes.
    let ret = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) };
    if ret < 0 {
        return None;
    }
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(notif.pid as i32), nix::sys::signal::Signal::SIGKILL);
    Some((notif.pid, notif.data.nr))
}

/// One notification of a refusal of the built-in policy: jail answers EPERM, as the rule
/// would have, and returns the syscall number to count (None when there was nothing to read).
pub fn refuse(listener: &OwnedFd) -> Option<i32> {
    // SAFETY: seccomp_notif is plain data; the kernel wants it zeroed.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: `notif` is a valid out-buffer of the size the request encodes.
    if unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) } < 0 {
        return None;
    }
    let mut resp = libc::seccomp_notif_resp { id: notif.id, val: 0, error: -libc::EPERM, flags: 0 };
    // SAFETY: `resp` is valid for the call; a caller that died meanwhile gives ENOENT, ignored.
    unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    Some(notif.data.nr)
}

/// The line jail prints for a notification.
pub fn message(profile: &std::path::Path, pid: u32, nr: i32) -> String {
    let name = u32::try_from(nr).ok().and_then(crate::confine::syscalls::name).unwrap_or("an unknown call");
    format!(
        "--seccomp-policy {}: the profile kills for {name} (syscall {nr}): process {pid} of the sandbox was killed",
        profile.display()
    )
}
