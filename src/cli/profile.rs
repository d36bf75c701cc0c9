//! `--profile FILE`: jail's options written once in a TOML file, by their long names, turned
//! into the words they stand for. The profile's options come first, so the command line's
//! apply after them (a single-valued option given again wins, a repeatable one adds).
//! Only a file named on the command line is read: a repository cannot loosen its own sandbox.
//!
//! ```toml
//! ro-bind = ["/", "/"]                  # an option with two values: one array
//! bind = [["./src", "/src"], ["./out", "/out"]]   # repeated: an array of them
//! tmpfs = "/tmp"
//! protect = ["/src/.git/hooks", "/src/.git/config"]
//! share-net = true
//! mem = "512M"
//! ```
//!
//! Keys apply in the order the file lists them; the values of one key in their order.

use std::ffi::OsString;
use std::path::Path;

use clap::{ArgAction, Command};
use toml::Value;

/// Options a profile cannot hold: they are about the command line itself.
const NOT_IN_PROFILES: [&str; 4] = ["profile", "dry-run", "help", "version"];

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// The words `path` stands for, checked against `cmd`'s options.
pub fn words(path: &Path, text: &str, cmd: &Command) -> Result<Vec<OsString>, String> {
    let at = |what: String| format!("--profile {}: {what}", path.display());
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| at(e.message().to_string()))?;
    let mut out: Vec<OsString> = Vec::new();
    for (key, value) in &table {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
            .filter(|_| !NOT_IN_PROFILES.contains(&key.as_str()))
            .ok_or_else(|| at(format!("{key} is not an option a profile can set (see jail --help)")))?;
        let flag = format!("--{key}");
        let arity = arg.get_num_args().map_or(1, |r| r.min_values());
        let repeatable = matches!(arg.get_action(), ArgAction::Append);
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            match value {
                Value::Boolean(true) => out.push(flag.into()),
                Value::Boolean(false) => {}
                _ => return Err(at(format!("{key} is a switch: true or false"))),
            }
            continue;
        }
        if arity == 1 && !repeatable && matches!(value, Value::Array(_)) {
            return Err(at(format!("{key} takes one value, not a list")));
        }
        // Each occurrence: `arity` values.
        let occurrences: Vec<Vec<String>> = match (value, arity) {
            (Value::Array(items), 1) if repeatable => items
                .iter()
                .map(|v| scalar(v).map(|s| vec![s]))
                .collect::<Option<_>>()
                .ok_or_else(|| at(format!("{key}: a list of values, each a string or a number")))?,
            (Value::Array(items), n) if n > 1 && items.iter().all(|i| matches!(i, Value::Array(_))) => items
                .iter()
                .map(|i| match i {
                    Value::Array(vals) if vals.len() == n => vals.iter().map(scalar).collect::<Option<Vec<_>>>(),
                    _ => None,
                })
                .collect::<Option<_>>()
                .ok_or_else(|| at(format!("{key}: each entry takes {n} values")))?,
            (Value::Array(vals), n) if n > 1 && vals.len() == n => {
                vec![vals
                    .iter()
                    .map(scalar)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| at(format!("{key}: {n} strings")))?]
            }
            (v, 1) => vec![vec![scalar(v).ok_or_else(|| at(format!("{key}: a string or a number")))?]],
            (_, n) => return Err(at(format!("{key} takes {n} values: [\"...\", ...]"))),
        };
        if occurrences.len() > 1 && !repeatable {
            return Err(at(format!("{key} takes one value, not a list")));
        }
        for vals in occurrences {
            out.push(flag.clone().into());
            out.extend(vals.into_iter().map(OsString::from));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Result<Vec<String>, String> {
        words(Path::new("p.toml"), text, &super::super::command())
            .map(|v| v.into_iter().map(|s| s.to_string_lossy().into_owned()).collect())
    }

    #[test]
    fn keys_become_their_options_in_file_order() {
        let got = w("ro-bind = [\"/\", \"/\"]\nbind = [[\"a\", \"/a\"], [\"b\", \"/b\"]]\ntmpfs = \"/tmp\"\n\
                     protect = [\"/a/.git\"]\nshare-net = true\nshare-ipc = false\npids = 64\n")
        .unwrap();
        assert_eq!(
            got,
            [
                "--ro-bind",
                "/",
                "/",
                "--bind",
                "a",
                "/a",
                "--bind",
                "b",
                "/b",
                "--tmpfs",
                "/tmp",
                "--protect",
                "/a/.git",
                "--share-net",
                "--pids",
                "64"
            ]
        );
    }

    #[test]
    fn what_is_not_an_option_or_has_the_wrong_shape_is_refused() {
        assert!(w("frobnicate = 1").unwrap_err().contains("frobnicate is not an option a profile can set"));
        assert!(w("profile = \"other.toml\"").unwrap_err().contains("profile is not an option"));
        assert!(w("share-net = \"yes\"").unwrap_err().contains("share-net is a switch"));
        assert!(w("bind = \"/a\"").unwrap_err().contains("bind takes 2 values"));
        assert!(w("mem = [\"1M\", \"2M\"]").unwrap_err().contains("mem takes one value"));
        assert!(w("x = ").unwrap_err().starts_with("--profile p.toml: "));
    }
}
