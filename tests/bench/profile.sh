#!/usr/bin/env bash
# Where a launch's CPU goes: perf samples every CPU while N launches run as the test user, then
# charges each sample of jail's processes (jail, its helper, the sandbox until the command's
# exec) to one bucket: the syscall it was in, a page fault, or the user-space object it ran in
# (ld.so, libc, jail). Prints milliseconds of CPU per launch, largest first; the command's own
# process after its exec is summed apart. Not a benchmark (perf slows what it samples): it says
# where the time is, BENCHMARKS.md says how long it takes.
#
# Usage, as root: tests/bench/profile.sh [JAIL_BINARY] [-- JAIL_ARGS...]
#   default binary target/release/jail; default args: the benchmark's "same view" with true.
# Needs perf (Debian's linux-perf; installed when missing) and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=target/release/jail
[[ ${1:-} != -- && -n ${1:-} ]] && { bin=$1; shift; }
[[ ${1:-} == -- ]] && shift
args=("$@")
((${#args[@]})) || args=(--ro-bind / / --proc /proc --dev /dev --tmpfs /tmp -- true)
# shellcheck source=perf-lib.sh
source tests/bench/perf-lib.sh
perf_ready profile
user=${JAIL_TEST_USER:-jailtest}
runs=${RUNS:-300}
freq=${FREQ:-20000}
work=$(mktemp -d /var/tmp/jail-profile.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
# A name of its own, so that its samples are told from everything else's.
cp "$bin" "$work/jail-profiled"
as=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups)
cd "$work"
timeout 600 perf record -q -F "$freq" -g -a -o perf.data -- "${as[@]}" bash -c \
	'for _ in $(seq "$1"); do "${@:2}" >/dev/null; done' run "$runs" ./jail-profiled "${args[@]}" 2>/dev/null
perf script -i perf.data -F comm,ip,sym,dso 2>/dev/null | python3 -c '
import collections, sys
runs, freq = int(sys.argv[1]), int(sys.argv[2])
ms = 1000.0 / freq / runs  # one sample, in milliseconds of CPU per launch
ours = {"jail-profiled": collections.Counter(), "command": collections.Counter()}
for block in sys.stdin.read().split("\n\n"):
    lines = [l.strip() for l in block.split("\n") if l.strip()]
    if len(lines) < 2:
        continue
    comm = lines[0]
    # Jail'"'"'s processes keep its name until the command execs; its helper has it too.
    if comm == "jail-profiled":
        bucket = ours["jail-profiled"]
    elif comm == sys.argv[3]:
        bucket = ours["command"]
    else:
        continue
    frames = [l.split(None, 1)[1] if " " in l else l for l in lines[1:]]
    syms = [f.split()[0] for f in frames]
    if "do_syscall_64" in syms:
        i = syms.index("do_syscall_64")
        key = syms[i - 1] if i else "syscall"
        if key == "x64_sys_call" and i >= 2:
            key = syms[i - 2]
        key = "syscall " + key.replace("__x64_sys_", "").replace("__do_sys_", "").replace("ksys_", "")
    elif any("page_fault" in s for s in syms):
        key = "page faults"
    elif "[kernel" in frames[0]:
        key = "kernel, other (interrupts, scheduling)"
    else:
        key = "user " + frames[0].rsplit("(", 1)[-1].rstrip(")").rsplit("/", 1)[-1]
    bucket[key] += 1
for name, c in (("jail (its processes up to the command'"'"'s exec)", ours["jail-profiled"]), ("the command after its exec", ours["command"])):
    total = sum(c.values()) * ms
    print(f"{name}: {total:.3f} ms of CPU per launch")
    for k, v in c.most_common(18):
        print(f"  {v * ms:7.3f} ms  {k}")
' "$runs" "$freq" "$(basename "${args[-1]}")"
