//! uid/gid maps: a single id needs nothing installed; `--map-subids` adds the caller's
//! subordinate ranges, written by newuidmap/newgidmap.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use serde::Serialize;

/// One line of `/proc/PID/uid_map`: ids `inside..inside+count` are `outside..outside+count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdMapLine {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdMap {
    pub lines: Vec<IdMapLine>,
    /// newuidmap/newgidmap, when the map needs the setuid helper.
    pub helper: Option<PathBuf>,
}

impl IdMap {
    pub fn single(inside: u32, outside: u32) -> IdMap {
        IdMap { lines: vec![IdMapLine { inside, outside, count: 1 }], helper: None }
    }

    /// The text written to `/proc/PID/{u,g}id_map`.
    pub fn proc_text(&self) -> String {
        self.lines.iter().map(|l| format!("{} {} {}\n", l.inside, l.outside, l.count)).collect()
    }

    /// The arguments for newuidmap/newgidmap after the pid.
    pub fn helper_args(&self) -> Vec<String> {
        self.lines.iter().flat_map(|l| [l.inside, l.outside, l.count]).map(|n| n.to_string()).collect()
    }
}

/// Maps `inside` to the caller and fills the rest of `0..=count` from the subordinate range.
pub fn layout(inside: u32, caller: u32, sub_start: u32, sub_count: u32) -> Vec<IdMapLine> {
    let mut lines = Vec::new();
    let below = inside.min(sub_count);
    if below > 0 {
        lines.push(IdMapLine { inside: 0, outside: sub_start, count: below });
    }
    lines.push(IdMapLine { inside, outside: caller, count: 1 });
    if sub_count > inside {
        lines.push(IdMapLine { inside: inside + 1, outside: sub_start + inside, count: sub_count - inside });
    }
    lines
}

/// Finds the caller's first range in /etc/subuid or /etc/subgid (by name or number).
fn subrange(files: &dyn super::HostFiles, file: &str, names: &[String], id: u32) -> Result<(u32, u32)> {
    let text = files.read(std::path::Path::new(file)).map_err(|e| {
        anyhow!("--map-subids: cannot read {file}: {e}; add a range with usermod --add-subuids/--add-subgids")
    })?;
    parse_subrange(&text, names, id)
        .ok_or_else(|| anyhow!("--map-subids: no range for {} in {file}; add one, e.g. usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}", names.first().map_or("the caller", |n| n), names.first().map_or("USER", |n| n)))
}

pub fn parse_subrange(text: &str, names: &[String], id: u32) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?, f.next()?);
        let matches = names.iter().any(|n| n == who) || who.parse::<u32>().ok() == Some(id);
        if !matches {
            return None;
        }
        Some((start.parse().ok()?, count.parse().ok()?))
    })
}

fn helper(files: &dyn super::HostFiles, name: &str) -> Result<PathBuf> {
    files.program(name).ok_or_else(|| anyhow!("--map-subids: {name} not found in PATH; install the uidmap package"))
}

pub fn with_subids(
    files: &dyn super::HostFiles,
    uid: u32,
    gid: u32,
    caller_uid: u32,
    caller_gid: u32,
) -> Result<(IdMap, IdMap)> {
    let (names, groups) = files.names(caller_uid, caller_gid);
    // A group range may be listed under the user's name too.
    let gnames: Vec<String> = groups.into_iter().chain(names.iter().cloned()).collect();
    let (us, uc) = subrange(files, "/etc/subuid", &names, caller_uid)?;
    let (gs, gc) = subrange(files, "/etc/subgid", &gnames, caller_gid)?;
    if uc == 0 || gc == 0 {
        bail!("--map-subids: the subordinate range of the caller is empty");
    }
    let uid_map = IdMap { lines: layout(uid, caller_uid, us, uc), helper: Some(helper(files, "newuidmap")?) };
    let gid_map = IdMap { lines: layout(gid, caller_gid, gs, gc), helper: Some(helper(files, "newgidmap")?) };
    Ok((uid_map, gid_map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_inside_takes_the_caller_and_the_range_follows() {
        let l = layout(0, 1000, 100000, 65536);
        assert_eq!(
            l,
            vec![
                IdMapLine { inside: 0, outside: 1000, count: 1 },
                IdMapLine { inside: 1, outside: 100000, count: 65536 }
            ]
        );
    }

    #[test]
    fn other_uid_inside_splits_the_range_around_it() {
        let l = layout(1000, 1000, 100000, 65536);
        assert_eq!(
            l,
            vec![
                IdMapLine { inside: 0, outside: 100000, count: 1000 },
                IdMapLine { inside: 1000, outside: 1000, count: 1 },
                IdMapLine { inside: 1001, outside: 101000, count: 64536 },
            ]
        );
        let inside: u64 = l.iter().map(|x| x.count as u64).sum();
        assert_eq!(inside, 65537);
    }

    #[test]
    fn subuid_lines_match_by_name_or_number() {
        let text = "alice:100000:65536\n1001:200000:1000\n";
        assert_eq!(parse_subrange(text, &["alice".into()], 1000), Some((100000, 65536)));
        assert_eq!(parse_subrange(text, &["bob".into()], 1001), Some((200000, 1000)));
        assert_eq!(parse_subrange(text, &["carol".into()], 1002), None);
    }

    #[test]
    fn proc_text_and_helper_args() {
        let m = IdMap { lines: layout(0, 1000, 100000, 10), helper: None };
        assert_eq!(m.proc_text(), "0 1000 1\n1 100000 10\n");
        assert_eq!(m.helper_args(), ["0", "1000", "1", "1", "100000", "10"]);
    }
}
