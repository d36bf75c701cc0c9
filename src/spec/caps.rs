//! The capabilities part of the plan: `--cap-add`/`--cap-drop` applied in argv order, as
//! bubblewrap does, to the names the command keeps. Applied by `confine::caps`.

use std::collections::BTreeSet;
use std::str::FromStr;

use anyhow::{anyhow, Result};
use caps::Capability;

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
