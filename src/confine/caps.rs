//! Capabilities: none by default, even as uid 0 inside; `--cap-add`/`--cap-drop` adjust the set
//! in argv order, as bubblewrap does.
//!
//! Every launch runs this, so syscalls are counted: each bounding-set drop is its own prctl
//! and a new set of credentials. The sandbox's first process drops from the bounding set what
//! neither init nor the command keeps, once, before it forks them (`limit_bounding`); each then
//! only finishes its own sets (`apply`).

use anyhow::{anyhow, Result};
use caps::{CapSet, Capability, CapsHashSet};

pub use crate::spec::caps::parse;

fn errno(e: caps::errors::CapsError) -> String {
    e.to_string()
}

fn parsed(names: &[String]) -> CapsHashSet {
    names.iter().filter_map(|n| parse(n).ok()).collect()
}

/// What the bounding set may still hold when a process finishes its capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bounding<'a> {
    /// Nothing was dropped yet (the sandbox's first process, or a command forked before it
    /// got that far: `--as-pid-1`).
    Full,
    /// Only these: the first process dropped every other before the fork.
    Only(&'a [String]),
}

/// Drops from the bounding set every capability not in `keep`, without reading it first.
/// Needs CAP_SETPCAP (the sandbox's setup process has every capability in its user namespace).
fn drop_bounding<'a>(caps: impl Iterator<Item = &'a Capability>, keep: &CapsHashSet) -> Result<()> {
    for cap in caps.filter(|c| !keep.contains(c)) {
        // SAFETY: prctl with integer arguments only.
        let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap.index()), 0, 0, 0) };
        // EINVAL: a capability this kernel does not know, so nobody can hold it.
        if ret != 0 && nix::errno::Errno::last() != nix::errno::Errno::EINVAL {
            return Err(anyhow!(
                "prctl(PR_CAPBSET_DROP, {cap}): {}",
                crate::sys::errno_text(nix::errno::Errno::last())
            ));
        }
    }
    Ok(())
}

/// Leaves only `keep` in the bounding set: for the processes forked after it.
pub fn limit_bounding(keep: &[String]) -> Result<()> {
    drop_bounding(caps::all().iter(), &parsed(keep))
}

/// Leaves exactly `keep` in the bounding, permitted, effective, inheritable and ambient sets,
/// so the command keeps them across exec whatever its uid.
pub fn apply(keep: &[String], bounding: Bounding) -> Result<()> {
    let keep = parsed(keep);
    match bounding {
        Bounding::Full => drop_bounding(caps::all().iter(), &keep)?,
        Bounding::Only(held) => drop_bounding(parsed(held).iter(), &keep)?,
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| anyhow!("prctl(PR_CAP_AMBIENT_CLEAR_ALL): {}", errno(e)))?;
    set_all(&keep)?;
    for cap in &keep {
        caps::raise(None, CapSet::Ambient, *cap)
            .map_err(|e| anyhow!("prctl(PR_CAP_AMBIENT_RAISE, {cap}): {}", errno(e)))?;
    }
    Ok(())
}

/// The kernel's capset header and one 32-bit half of the sets (version 3: two halves).
#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Sets effective, permitted and inheritable to `keep` in one capset (the caps crate reads and
/// writes each set apart: six calls, three new credentials).
fn set_all(keep: &CapsHashSet) -> Result<()> {
    let data = halves(keep);
    let mut header = Header { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: capset reads a version-3 header and two data structs, both alive for the call.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if ret != 0 {
        return Err(anyhow!("capset: {}", crate::sys::errno_text(nix::errno::Errno::last())));
    }
    Ok(())
}

/// `keep` as capset's two halves: capability N is bit N % 32 of half N / 32, in all three sets.
fn halves(keep: &CapsHashSet) -> [Data; 2] {
    let mut data = [Data::default(); 2];
    for cap in keep {
        let bit = usize::from(cap.index());
        let mask = 1u32 << (bit % 32);
        let half = &mut data[bit / 32];
        half.effective |= mask;
        half.permitted |= mask;
        half.inheritable |= mask;
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capset_halves_follow_the_kernel_layout() {
        // CAP_CHOWN is bit 0 of the first half; CAP_SYSLOG (34) bit 2 of the second.
        let keep: CapsHashSet = [Capability::CAP_CHOWN, Capability::CAP_SYSLOG].into_iter().collect();
        let d = halves(&keep);
        assert_eq!([d[0].effective, d[0].permitted, d[0].inheritable], [1, 1, 1]);
        assert_eq!([d[1].effective, d[1].permitted, d[1].inheritable], [4, 4, 4]);
        assert_eq!(halves(&CapsHashSet::new())[1].permitted, 0);
        assert_eq!(std::mem::size_of::<Data>(), 12);
    }
}
