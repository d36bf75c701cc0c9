//! Capabilities: none by default, even as uid 0 inside; `--cap-add`/`--cap-drop` adjust the set
//! in argv order, as bubblewrap does.

use anyhow::{anyhow, Result};
use caps::{CapSet, CapsHashSet};

pub use crate::spec::caps::parse;

fn errno(e: caps::errors::CapsError) -> String {
    e.to_string()
}

/// Leaves exactly `keep` in the bounding, permitted, effective, inheritable and ambient sets,
/// so the command keeps them across exec whatever its uid. Needs CAP_SETPCAP (the sandbox's
/// setup process has every capability in its own user namespace). Syscalls are counted here:
/// this runs on every launch, so the bounding set is dropped without reading it first.
pub fn apply(keep: &[String]) -> Result<()> {
    let keep: CapsHashSet = keep.iter().filter_map(|n| parse(n).ok()).collect();
    for cap in caps::all() {
        if keep.contains(&cap) {
            continue;
        }
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
    caps::clear(None, CapSet::Ambient).map_err(|e| anyhow!("prctl(PR_CAP_AMBIENT_CLEAR_ALL): {}", errno(e)))?;
    caps::set(None, CapSet::Inheritable, &keep).map_err(|e| anyhow!("capset(inheritable): {}", errno(e)))?;
    caps::set(None, CapSet::Effective, &keep).map_err(|e| anyhow!("capset(effective): {}", errno(e)))?;
    caps::set(None, CapSet::Permitted, &keep).map_err(|e| anyhow!("capset(permitted): {}", errno(e)))?;
    for cap in &keep {
        caps::raise(None, CapSet::Ambient, *cap)
            .map_err(|e| anyhow!("prctl(PR_CAP_AMBIENT_RAISE, {cap}): {}", errno(e)))?;
    }
    Ok(())
}
