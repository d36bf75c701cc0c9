//! The man page and the shell completions, generated from `jail::cli::command()` (the same
//! definitions as `--help`, so they cannot disagree) and committed. This test fails when the
//! committed files drift from the CLI; `JAIL_REGENERATE=1 cargo test --test generated` rewrites
//! them.
//!
//! The man page is clap_mangen's NAME, DESCRIPTION and OPTIONS (one subsection per help heading)
//! around the hand-written sections in `man/sections.roff` (doctor, defaults, examples, exit
//! status, environment, files, security, see also). The completions are clap_complete's, with
//! what clap cannot say added from the same definitions: a flag has one value hint for all its
//! values, so each value of a two-value flag (`--bind SRC DEST`, `--file FD DEST`, `--chmod
//! OCTAL PATH`) is completed by what its value name says it is, a path or nothing (numbers,
//! descriptors, names); and in bash, a walk over the words (from each flag's number of values)
//! tells a flag's value from the command and its arguments, which complete as that command's.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::{Arg, Command, ValueHint};
use clap_complete::Shell;

const STALE: &str = "generated files are stale; regenerate with: JAIL_REGENERATE=1 cargo test --test generated";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn built(mut cmd: Command) -> Command {
    cmd.build();
    cmd
}

// ---------------------------------------------------------------------------------------------
// Man page

/// Roff-escapes plain text for use on a text line or as a macro argument.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            _ => out.push(c),
        }
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// One usage line in roff: the program and subcommand words bold, placeholders italic.
fn usage_line(usage: &str) -> String {
    let mut words = Vec::new();
    for (i, w) in usage.split_whitespace().enumerate() {
        let bare = w.trim_matches(|c: char| "[]<>.".contains(c));
        let upper = !bare.is_empty() && bare.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        let word = if upper {
            let at = w.find(bare).unwrap_or(0);
            format!("{}\\fI{}\\fR{}", esc(&w[..at]), esc(bare), esc(&w[at + bare.len()..]))
        } else if i == 0 || (!w.starts_with('[') && !w.starts_with('-') && !w.starts_with('<')) {
            format!("\\fB{}\\fR", esc(w))
        } else {
            w.split_inclusive(['[', ']'])
                .map(|p| {
                    let (core, tail) = p.strip_suffix(']').map_or((p, ""), |c| (c, "]"));
                    let (head, core) = core.strip_prefix('[').map_or(("", core), |c| ("[", c));
                    if core.starts_with('-') {
                        format!("{head}\\fB{}\\fR{tail}", esc(core))
                    } else {
                        format!("{head}{}{tail}", esc(core))
                    }
                })
                .collect()
        };
        words.push(word);
    }
    words.join(" ")
}

fn usage_of(cmd: &Command) -> String {
    let mut cmd = cmd.clone();
    let text = cmd.render_usage().to_string();
    text.strip_prefix("Usage: ").unwrap_or(&text).trim().to_string()
}

/// clap_mangen's option sections with each help heading demoted to a subsection of OPTIONS.
fn options_section(cmd: &Command) -> String {
    let mut raw = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render_options_section(&mut raw).expect("render options");
    let raw = String::from_utf8(raw).expect("utf-8 man page");
    let headings: Vec<&str> = cmd.get_arguments().filter_map(Arg::get_help_heading).collect();
    let mut out = String::new();
    for line in raw.lines() {
        match line.strip_prefix(".SH ") {
            Some("OPTIONS") => out.push_str(".SS General\n"),
            Some(h) => {
                let h = h.trim_matches('"');
                let original = headings.iter().find(|o| o.to_uppercase() == h).copied().unwrap_or(h);
                out.push_str(&format!(".SS \"{}\"\n", esc(original)));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// The subcommands, each with its usage, description and options, in one COMMANDS section.
fn commands_section(cmd: &Command) -> String {
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    if subs.is_empty() {
        return String::new();
    }
    let mut out = String::from(".SH COMMANDS\n");
    for sc in subs {
        out.push_str(&format!(".SS \"{}\"\n", esc(&usage_of(sc))));
        let mut desc = Vec::new();
        clap_mangen::Man::new(sc.clone()).render_description_section(&mut desc).expect("render description");
        let desc = String::from_utf8(desc).expect("utf-8");
        out.extend(desc.lines().filter(|l| !l.starts_with(".SH")).map(|l| format!("{l}\n")));
        if sc.get_arguments().any(|a| !a.is_hide_set() && a.get_id() != "help") {
            let opts = options_section(sc);
            // Inside a subsection, headings become bold paragraphs.
            for line in opts.lines() {
                match line.strip_prefix(".SS ") {
                    Some(h) => out.push_str(&format!(".PP\n.B {h}\n")),
                    None => {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

/// Command-line forms that clap does not define: `jail doctor` is recognized before clap parses
/// (src/cli/mod.rs); man/sections.roff describes it.
const OTHER_FORMS: &[&str] = &["jail doctor"];

/// `man/jail.1`: generated sections around the hand-written ones in `man/sections.roff`.
fn man_page(cmd: &Command, sections: &str) -> String {
    let cmd = built(cmd.clone());
    let man = clap_mangen::Man::new(cmd.clone()).date("");
    let mut out = String::new();
    // The first line asks man to run tbl (the DEFAULTS tables).
    out.push_str(
        "'\\\" t\n\
         .\\\" Generated from jail::cli::command() and man/sections.roff by tests/generated.rs;\n\
         .\\\" do not edit: change those and run JAIL_REGENERATE=1 cargo test --test generated\n",
    );
    let mut buf = Vec::new();
    man.render_title(&mut buf).expect("render title");
    man.render_name_section(&mut buf).expect("render name");
    out.push_str(&String::from_utf8(buf).expect("utf-8"));

    out.push_str(".SH SYNOPSIS\n");
    let mut lines = vec![usage_of(&cmd)];
    lines.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(usage_of));
    for form in OTHER_FORMS {
        if !lines.iter().any(|l| l.starts_with(form)) {
            lines.push(form.to_string());
        }
    }
    lines.push("jail --help | --version".to_string());
    out.push_str(&lines.iter().map(|l| usage_line(l)).collect::<Vec<_>>().join("\n.br\n"));
    out.push('\n');

    let mut buf = Vec::new();
    man.render_description_section(&mut buf).expect("render description");
    out.push_str(&String::from_utf8(buf).expect("utf-8"));

    out.push_str(".SH OPTIONS\n");
    out.push_str(&options_section(&cmd));
    out.push_str(&commands_section(&cmd));
    out.push_str(sections.trim_end());
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------------------------
// Completions

/// Value names that name a path, and value names that name anything else (numbers,
/// descriptors, variables): no files offered.
const PATH_VALUES: &[&str] = &["SRC", "DEST", "PATH", "TARGET", "DIR", "FILE"];
const OTHER_VALUES: &[&str] = &[
    "FD", "OCTAL", "VAR", "VALUE", "UID", "GID", "BYTES", "SIZE", "NAME", "CAP", "N", "PORT", "PCT", "DURATION", "LIST",
];

/// Whether each value of `arg` is a path, by its value name, else by the flag's value hint.
fn value_kinds(arg: &Arg) -> Vec<bool> {
    let hint_is_path = matches!(arg.get_value_hint(), ValueHint::AnyPath | ValueHint::FilePath | ValueHint::DirPath);
    let names: Vec<String> =
        arg.get_value_names().map(|n| n.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    names
        .iter()
        .map(|n| {
            if PATH_VALUES.contains(&n.as_str()) {
                true
            } else if OTHER_VALUES.contains(&n.as_str()) {
                false
            } else {
                hint_is_path
            }
        })
        .collect()
}

/// Options taking several values in separate words, with the kind of each value.
fn multi_value_opts(cmd: &Command) -> Vec<(&Arg, Vec<bool>)> {
    cmd.get_opts()
        .filter(|a| a.get_long().is_some() && a.get_possible_values().is_empty())
        .filter(|a| a.get_num_args().is_some_and(|n| n.min_values() == n.max_values() && n.max_values() > 1))
        .map(|a| (a, value_kinds(a)))
        .collect()
}

/// Options and how many words of values follow them (0 for `--opt=value` only).
fn words_after(cmd: &Command) -> Vec<(String, usize)> {
    cmd.get_opts()
        .filter_map(|a| {
            let n = a.get_num_args()?;
            let words = if a.is_require_equals_set() { 0 } else { n.max_values() };
            Some((a.get_long()?.to_string(), words))
        })
        .collect()
}

fn completion(shell: Shell, cmd: &Command) -> String {
    let mut cmd = cmd.clone();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "jail", &mut buf);
    let text = String::from_utf8(buf).expect("utf-8 completion");
    let cmd = built(cmd);
    let header = "Generated from jail::cli::command() by tests/generated.rs; do not edit: \
                  regenerate with JAIL_REGENERATE=1 cargo test --test generated";
    match shell {
        Shell::Bash => format!("# {header}\n\n{}", fix_bash(&text, &cmd)),
        Shell::Zsh => {
            // zsh reads `#compdef` only from the first line.
            let (first, rest) = text.split_once('\n').expect("zsh completion has lines");
            format!("{first}\n# {header}\n{}", fix_zsh(rest, &cmd))
        }
        Shell::Fish => format!("# {header}\n\n{}", fix_fish(&text, &cmd)),
        _ => text,
    }
}

/// Bash: clap's function (renamed `_jail_clap`) completes options and the word right after a
/// flag. `_jail` in front of it walks the words to find where the completed word is: a value
/// of a flag (which one, and the how-manyth), an option, the command, or the command's
/// arguments (completed as for that command, through bash-completion's `_command_offset`).
fn fix_bash(text: &str, cmd: &Command) -> String {
    let clap = text.replace("_jail()", "_jail_clap()");
    let complete_at = clap.find("\nif [[ \"${BASH_VERSINFO[0]}\"").expect("bash completion ends with complete -F");
    let (function, registration) = clap.split_at(complete_at);

    let mut by_words: Vec<(usize, Vec<String>)> = Vec::new();
    for (long, n) in words_after(cmd) {
        if n == 0 {
            continue;
        }
        match by_words.iter_mut().find(|(w, _)| *w == n) {
            Some((_, v)) => v.push(format!("--{long}")),
            None => by_words.push((n, vec![format!("--{long}")])),
        }
    }
    by_words.sort();
    let mut walk = String::new();
    for (n, flags) in &by_words {
        walk.push_str(&format!("            {})\n                n={n}\n                ;;\n", flags.join("|")));
    }

    let (mut paths, mut others) = (Vec::new(), Vec::new());
    for (arg, kinds) in multi_value_opts(cmd) {
        for (i, is_path) in kinds.iter().enumerate() {
            let key = format!("--{},{}", arg.get_long().unwrap(), i + 1);
            if *is_path {
                paths.push(key);
            } else {
                others.push(key);
            }
        }
    }
    let mut values = String::new();
    if !paths.is_empty() {
        values.push_str(&format!(
            "        {})\n            COMPREPLY=($(compgen -f -- \"$cur\"))\n            compopt -o filenames 2>/dev/null\n            ;;\n",
            paths.join("|")
        ));
    }
    if !others.is_empty() {
        values.push_str(&format!(
            "        {})\n            COMPREPLY=(\"$cur\")\n            compopt -o nospace 2>/dev/null\n            ;;\n",
            others.join("|")
        ));
    }

    format!(
        "{function}
# Completes $3 as value number $2 of flag $1: by what that value is, else as clap does the
# word after the flag.
_jail_value() {{
    local cur=\"$3\"
    case \"$1,$2\" in
{values}        *)
            _jail_clap jail \"$cur\" \"$1\"
            ;;
    esac
}}

# Completes the command name at word $1, or its arguments after it as that command's.
_jail_command() {{
    local cur=\"$2\"
    if [[ $1 -lt $COMP_CWORD ]] && declare -F _command_offset >/dev/null; then
        _command_offset \"$1\"
    elif [[ $1 -eq $COMP_CWORD ]]; then
        COMPREPLY=($(compgen -c -- \"$cur\"))
    fi
}}

# Walks the words before the one being completed to find what it is: an option, the value
# of a flag (--flag VALUE, or --flag=VALUE, which bash splits at the =), the command, or one
# of the command's arguments.
_jail() {{
    local cur=\"${{COMP_WORDS[COMP_CWORD]}}\" i=1 n eq
    COMPREPLY=()
    if [[ $cur == = ]]; then
        _jail_value \"${{COMP_WORDS[COMP_CWORD-1]}}\" 1 \"\"
        return 0
    fi
    while [[ $i -lt $COMP_CWORD ]]; do
        case \"${{COMP_WORDS[i]}}\" in
            --)
                _jail_command $((i + 1)) \"$cur\"
                return 0
                ;;
{walk}            -*)
                n=0
                ;;
            *)
                _jail_command \"$i\" \"$cur\"
                return 0
                ;;
        esac
        eq=0
        if [[ ${{COMP_WORDS[i+1]}} == = ]]; then
            eq=1
            [[ $n -eq 0 ]] && n=1
        fi
        if [[ $((i + n + eq)) -ge $COMP_CWORD ]]; then
            _jail_value \"${{COMP_WORDS[i]}}\" $((COMP_CWORD - i - eq)) \"$cur\"
            return 0
        fi
        i=$((i + n + eq + 1))
    done
    if [[ $cur == -* ]]; then
        _jail_clap jail \"$cur\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"
    else
        _jail_command \"$COMP_CWORD\" \"$cur\"
    fi
}}
{registration}"
    )
}

/// zsh: clap gives every value of a flag the flag's hint and the first value's name; give each
/// value its own name and kind.
fn fix_zsh(text: &str, cmd: &Command) -> String {
    let mut out = text.to_string();
    for (arg, kinds) in multi_value_opts(cmd) {
        let long = arg.get_long().unwrap();
        let names = arg.get_value_names().unwrap();
        let Some(start) = out.find(&format!("--{long}=[")) else { continue };
        let end = start + out[start..].find("' \\\n").expect("zsh option spec ends the line");
        let help_end = start + out[start..end].rfind("]:").expect("zsh option spec has values") + 1;
        let tail: String = names
            .iter()
            .zip(&kinds)
            .map(|(name, path)| format!(":{name}:{}", if *path { "_files" } else { " " }))
            .collect();
        out.replace_range(help_end..end, &tail);
    }
    out
}

/// fish: clap says `-r -F` (files) or `-r -f` (no files) for the word after a flag, by its hint.
/// Follow each value's kind instead, the later values through a condition on the flag before.
fn fix_fish(text: &str, cmd: &Command) -> String {
    let mut out = String::new();
    let opts = multi_value_opts(cmd);
    for line in text.split_inclusive('\n') {
        let found =
            opts.iter().find(|(a, _)| line.starts_with(&format!("complete -c jail -l {} ", a.get_long().unwrap())));
        match found {
            Some((_, kinds)) => {
                let body = line.trim_end_matches('\n');
                let body = body.strip_suffix(" -r -F").or_else(|| body.strip_suffix(" -r -f")).unwrap_or(body);
                out.push_str(&format!("{body} -r {}\n", if kinds[0] { "-F" } else { "-f" }));
            }
            None => out.push_str(line),
        }
    }
    let mut extra = String::new();
    for (arg, kinds) in &opts {
        for (i, path) in kinds.iter().enumerate().skip(1) {
            extra.push_str(&format!(
                "complete -c jail -n '__fish_jail_value --{} {}' {}\n",
                arg.get_long().unwrap(),
                i + 1,
                if *path { "-F" } else { "-f" }
            ));
        }
    }
    if extra.is_empty() {
        return out;
    }
    format!(
        "{out}\n# The later values of flags taking several: true when the word being completed is\n\
         # value number $argv[2] of flag $argv[1].\n\
         function __fish_jail_value\n    set -l tokens (commandline -opc)\n    \
         set -l at (math (count $tokens) + 1 - $argv[2])\n    \
         test $at -ge 2; and test \"$tokens[$at]\" = $argv[1]\nend\n{extra}"
    )
}

// ---------------------------------------------------------------------------------------------
// The files

fn sections() -> String {
    std::fs::read_to_string(root().join("man/sections.roff")).expect("read man/sections.roff")
}

fn generated() -> Vec<(&'static str, String)> {
    let cmd = jail::cli::command();
    vec![
        ("man/jail.1", man_page(&cmd, &sections())),
        ("completions/jail.bash", completion(Shell::Bash, &cmd)),
        ("completions/_jail", completion(Shell::Zsh, &cmd)),
        ("completions/jail.fish", completion(Shell::Fish, &cmd)),
    ]
}

#[test]
fn generated_files_match_the_cli() {
    let regenerate = std::env::var("JAIL_REGENERATE").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (path, text) in generated() {
        let file = root().join(path);
        let current = std::fs::read_to_string(&file).unwrap_or_default();
        if current == text {
            continue;
        }
        if regenerate {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &text).unwrap_or_else(|e| panic!("write {path}: {e}"));
            eprintln!("regenerated {path}");
        } else {
            stale.push(path);
        }
    }
    if !stale.is_empty() {
        eprintln!("differ from the CLI: {}", stale.join(", "));
        panic!("{STALE}");
    }
}

// ---------------------------------------------------------------------------------------------
// What the generated files must say, checked on freshly generated text.

fn long_flags(cmd: &Command) -> Vec<String> {
    cmd.get_arguments().filter(|a| !a.is_hide_set()).filter_map(|a| a.get_long().map(str::to_string)).collect()
}

#[test]
fn man_page_has_every_section_and_flag() {
    let cmd = built(jail::cli::command());
    let page = man_page(&cmd, &sections());
    for s in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "DOCTOR",
        "DEFAULTS",
        "EXAMPLES",
        "\"EXIT STATUS\"",
        "ENVIRONMENT",
        "FILES",
        "SECURITY",
        "\"SEE ALSO\"",
    ] {
        assert!(page.lines().any(|l| l == format!(".SH {s}")), "man page lacks .SH {s}");
    }
    for long in long_flags(&cmd) {
        assert!(page.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))), "man page lacks --{long}");
    }
    for see in ["bwrap", "systemd\\-run", "unshare", "namespaces", "landlock", "seccomp"] {
        assert!(page.contains(&format!(".BR {see} (")), "SEE ALSO lacks {see}");
    }
}

#[test]
fn subcommands_get_a_commands_section() {
    // jail has no subcommand yet; this is what one (e.g. doctor) will look like.
    let cmd = jail::cli::command().subcommand(
        Command::new("doctor")
            .about("Check this host")
            .long_about("Check this host for what jail needs.")
            .arg(Arg::new("json").long("json").action(clap::ArgAction::SetTrue).help("Print JSON")),
    );
    let page = man_page(&cmd, ".SH DEFAULTS\nx\n");
    assert!(page.contains(".SH COMMANDS\n.SS \"jail doctor [OPTIONS]\"\n"), "{page}");
    assert!(page.contains("\\-\\-json"), "{page}");
    assert!(page.contains("\\fBjail\\fR \\fBdoctor\\fR"), "{page}");
    if let Some(warnings) = groff_warnings(&page) {
        assert!(warnings.is_empty(), "groff warns:\n{warnings}");
    }
}

/// groff's warnings for a page, or None (with a note) when groff is not installed.
fn groff_warnings(page: &str) -> Option<String> {
    use std::io::Write;
    let child = Process::new("groff")
        .args(["-ww", "-z", "-t", "-man"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if std::env::var("JAIL_TEST_MUST_WORK").is_ok_and(|v| v == "1") => panic!("groff: {e}"),
        Err(e) => {
            eprintln!("skipped: groff: {e} (install groff-base)");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn man_page_renders_without_warnings() {
    let page = man_page(&jail::cli::command(), &sections());
    if let Some(warnings) = groff_warnings(&page) {
        assert!(warnings.is_empty(), "groff -ww -z -t -man warns:\n{warnings}");
    }
}

#[test]
fn completions_offer_what_each_value_is() {
    let cmd = jail::cli::command();
    let fish = completion(Shell::Fish, &cmd);
    let zsh = completion(Shell::Zsh, &cmd);
    let bash = completion(Shell::Bash, &cmd);
    // Capability names for --cap-add and --cap-drop.
    for text in [&fish, &zsh, &bash] {
        assert!(text.contains("CAP_NET_ADMIN"), "no capability names");
    }
    // Numbers and descriptors: no files. Paths: files.
    let fish_line = |long: &str| fish.lines().find(|l| l.contains(&format!("-l {long} "))).unwrap().to_string();
    for long in ["uid", "gid", "size", "perms", "file", "bind-data", "chmod"] {
        assert!(fish_line(long).contains(" -r -f"), "fish offers files for --{long}: {}", fish_line(long));
    }
    // Every flag whose values are numbers, descriptors or names (by value name), including
    // flags added later: a flag without ValueHint::Other would offer files here.
    for arg in built(jail::cli::command()).get_opts() {
        let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) else { continue };
        if names.iter().all(|n| OTHER_VALUES.contains(&n.as_str())) && arg.get_possible_values().is_empty() {
            assert!(fish_line(long).contains(" -r -f"), "--{long} offers files; give it .value_hint(ValueHint::Other)");
        }
    }
    for long in ["bind", "ro-bind", "tmpfs", "symlink"] {
        assert!(fish_line(long).ends_with(" -r -F"), "fish offers no files for --{long}: {}", fish_line(long));
    }
    assert!(fish.contains("complete -c jail -n '__fish_jail_value --file 2' -F\n"), "fish --file FD DEST");
    assert!(zsh.contains("--file=[") && zsh.contains(":FD: :DEST:_files'"), "zsh --file FD DEST");
    assert!(zsh.contains(":OCTAL: :PATH:_files'"), "zsh --chmod OCTAL PATH");
    assert!(zsh.contains(":SRC:_files:DEST:_files'"), "zsh --bind SRC DEST");
    assert!(zsh.contains("--uid=[") && zsh.contains(":UID:'"), "zsh --uid");
}

/// Runs the bash completion function for `words` (the last one being completed).
fn bash_complete(script: &Path, words: &[&str]) -> Option<Vec<String>> {
    let list = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
    let last = words.len() - 1;
    let prev = if last > 0 { words[last - 1] } else { "" };
    let program = format!(
        "source '{}'; cd /; COMP_WORDS=({list}); COMP_CWORD={last}; _jail jail '{}' '{prev}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words[last]
    );
    let out = Process::new("bash").args(["--norc", "--noprofile", "-c", &program]).output().ok()?;
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
}

#[test]
fn bash_completes_each_value_by_its_kind() {
    let dir = std::env::temp_dir().join(format!("jail-generated-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("jail.bash");
    std::fs::write(&script, completion(Shell::Bash, &jail::cli::command())).unwrap();
    let Some(ro) = bash_complete(&script, &["jail", "--ro"]) else {
        eprintln!("skipped: bash not found");
        return;
    };
    assert!(ro.contains(&"--ro-bind".to_string()), "{ro:?}");
    let caps = bash_complete(&script, &["jail", "--cap-add", "CAP_NET_A"]).unwrap();
    assert_eq!(caps, ["CAP_NET_ADMIN"]);
    // Paths: both values of --bind, the DEST of --file.
    assert!(bash_complete(&script, &["jail", "--bind", "/et"]).unwrap().contains(&"/etc".to_string()));
    assert!(bash_complete(&script, &["jail", "--bind", "/x", "/et"]).unwrap().contains(&"/etc".to_string()));
    assert!(bash_complete(&script, &["jail", "--file", "3", "/et"]).unwrap().contains(&"/etc".to_string()));
    // Numbers and descriptors: nothing from the filesystem.
    for words in
        [&["jail", "--uid", ""][..], &["jail", "--file", ""], &["jail", "--size", ""], &["jail", "--chmod", ""]]
    {
        let got = bash_complete(&script, words).unwrap();
        assert!(got.iter().all(|w| !w.starts_with('/') && !w.contains("etc")), "{words:?} offers {got:?}");
    }
    // The command: command names, after options and their values, or after --.
    let sh = bash_complete(&script, &["jail", "--bind", "/a", "/b", "--uid", "0", "bas"]).unwrap();
    assert!(sh.contains(&"bash".to_string()), "{sh:?}");
    assert!(bash_complete(&script, &["jail", "--", "bas"]).unwrap().contains(&"bash".to_string()));
    // --flag=value, which bash splits at the =.
    assert_eq!(bash_complete(&script, &["jail", "--dry-run", "=", "j"]).unwrap(), ["json"]);
    assert_eq!(bash_complete(&script, &["jail", "--dry-run", "="]).unwrap(), ["text", "json"]);
    let sh = bash_complete(&script, &["jail", "--uid", "=", "0", "--dry-run", "=", "json", "bas"]).unwrap();
    assert!(sh.contains(&"bash".to_string()), "{sh:?}");
    // A flag-looking word after the command is the command's, not jail's.
    assert!(bash_complete(&script, &["jail", "sh", "--ro"]).unwrap().is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

/// Command lines whose `--dry-run=json` plan is pinned in tests/golden/plans.json, so a change
/// to how the plan is built shows up as a diff (run from `/`, with a fixed environment; the
/// caller's ids are left out, they differ between machines).
const PLANS: &[&[&str]] = &[
    &["--", "true"],
    &[
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--hostname",
        "box",
        "--setenv",
        "A",
        "1",
        "--unsetenv",
        "B",
        "--cap-add",
        "CAP_NET_ADMIN",
        "--mem",
        "48M",
        "--cpu",
        "20%",
        "--pids",
        "64",
        "--timeout",
        "5s",
        "--",
        "sh",
        "-c",
        "x",
    ],
    &[
        "--share-net",
        "--share-pid",
        "--landlock=strict",
        "--allow-connect",
        "443",
        "--seccomp-policy",
        "off",
        "--allow-userns",
        "--tmpfs",
        "/",
        "--dir",
        "/a",
        "--perms",
        "0700",
        "--tmpfs",
        "/b",
        "--size",
        "1M",
        "--tmpfs",
        "/c",
        "--symlink",
        "x",
        "/d",
        "--remount-ro",
        "/",
        "--",
        "true",
    ],
    &["--clearenv", "--setenv", "PATH", "/bin", "--as-pid-1", "--new-session", "--argv0", "foo", "--", "true"],
    &[
        "--ro-bind",
        "/",
        "/",
        "--bind-try",
        "/no/such/dir",
        "/x",
        "--dev-bind",
        "/dev",
        "/dev",
        "--mqueue",
        "/mq",
        "--",
        "true",
    ],
    &[
        "--ro-bind",
        "/",
        "/",
        "--overlay-src",
        "/usr",
        "--tmp-overlay",
        "/usr",
        "--overlay-src",
        "/usr",
        "--overlay-src",
        "/etc",
        "--ro-overlay",
        "/mnt",
        "--ro-bind-fd",
        "2",
        "/fd",
        "--",
        "true",
    ],
    // bubblewrap's command line, as an agent's wrapper would give it.
    &[
        "--bwrap",
        "--unshare-all",
        "--share-net",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "01777",
        "--tmpfs",
        "/tmp",
        "--file",
        "2",
        "/etc/motd",
        "--overlay-src",
        "/usr",
        "--overlay",
        "/tmp",
        "/tmp",
        "/usr",
        "--info-fd",
        "2",
        "--disable-userns",
        "--unshare-user",
        "--",
        "true",
    ],
];

#[test]
fn dry_run_plans_match_the_golden_file() {
    let mut all = Vec::new();
    for args in PLANS {
        let out = Process::new(env!("CARGO_BIN_EXE_jail"))
            .arg("--dry-run=json")
            .args(*args)
            .current_dir("/")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", "/nonexistent")
            .output()
            .expect("run jail");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let mut plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
        for key in ["uid", "gid", "uid_map", "gid_map"] {
            plan[key] = serde_json::Value::Null;
        }
        if plan["personality"] == "bwrap" {
            // bubblewrap's root caller keeps its capabilities: they depend on who runs this.
            plan["caps"] = serde_json::Value::Null;
        }
        all.push(serde_json::json!({ "args": args, "plan": plan }));
    }
    let text = serde_json::to_string_pretty(&all).unwrap() + "\n";
    let path = root().join("tests/golden/plans.json");
    if std::env::var("JAIL_REGENERATE").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(want == text, "{}: the plans changed; if that is meant, {STALE}", path.display());
}
