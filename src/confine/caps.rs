//! Capabilities: none by default, even as uid 0 inside; `--cap-add`/`--cap-drop` adjust the set
//! in argv order, as bubblewrap does.

use std::collections::BTreeSet;
use std::str::FromStr;

use anyhow::{anyhow, Result};
use caps::{CapSet, Capability, CapsHashSet};

/// Accepts `CAP_NET_ADMIN`, `cap_net_admin` and `net_admin`.
pub fn parse(name: &str) -> Result<Capability> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    Capability::from_str(&full).map_err(|_| anyhow!("unknown capability {name:?} (see capabilities(7))"))
}

/// Applies `(add, name)` operations in order and returns the kept set, by name.
pub fn resolve(ops: &[(bool, String)]) -> Result<Vec<String>> {
    let mut kept: BTreeSet<String> = BTreeSet::new();
    for (add, name) in ops {
        let flag = if *add { "--cap-add" } else { "--cap-drop" };
        if name.eq_ignore_ascii_case("ALL") {
            if *add {
                kept.extend(caps::all().iter().map(|c| c.to_string()));
            } else {
                kept.clear();
            }
            continue;
        }
        let cap = parse(name).map_err(|e| anyhow!("{flag} {name}: {e}"))?;
        if *add {
            kept.insert(cap.to_string());
        } else {
            kept.remove(&cap.to_string());
        }
    }
    Ok(kept.into_iter().collect())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(v: &[(bool, &str)]) -> Vec<(bool, String)> {
        v.iter().map(|(a, n)| (*a, n.to_string())).collect()
    }

    #[test]
    fn none_by_default() {
        assert!(resolve(&[]).unwrap().is_empty());
    }

    #[test]
    fn order_matters() {
        let r = resolve(&ops(&[(true, "ALL"), (false, "CAP_SYS_ADMIN")])).unwrap();
        assert!(!r.contains(&"CAP_SYS_ADMIN".to_string()));
        assert!(r.contains(&"CAP_NET_ADMIN".to_string()));
        let r = resolve(&ops(&[(false, "ALL"), (true, "net_admin")])).unwrap();
        assert_eq!(r, ["CAP_NET_ADMIN"]);
    }

    #[test]
    fn unknown_names_are_errors_naming_the_flag() {
        let e = resolve(&ops(&[(true, "CAP_FLY")])).unwrap_err().to_string();
        assert!(e.starts_with("--cap-add CAP_FLY: unknown capability"), "{e}");
    }
}
