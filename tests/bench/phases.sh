#!/usr/bin/env bash
# Where a launch's time goes, by phase, for jail and for bwrap on the same work: perf records
# only the scheduler's fork, exec and exit events (cheap enough not to move the launches around)
# while N launches of each run as the test user, then prints medians of
#   start -> exec     from the launcher's exec to the command's (the launcher's setup)
#   command           from the command's exec to its exit (`true`: the same program under both)
#   exit -> return    from the command's exit to the launcher's (jail waits until the sandbox's
#                     processes and mounts are gone; bwrap's monitor until pid 1 reports)
# Not a benchmark (perf adds to each launch): it says where the time is, BENCHMARKS.md how long
# it takes.
#
# Usage, as root: tests/bench/phases.sh [JAIL_BINARY]   (default target/release/jail)
# Needs perf (Debian's linux-perf; installed when missing), bwrap and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=${1:-target/release/jail}
# shellcheck source=perf-lib.sh
source tests/bench/perf-lib.sh
perf_ready phases
record_launches "$bin" "${RUNS:-200}" -e sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit
for launcher in jail-traced bwrap-traced; do
	perf script -i "$launcher.data" -F pid,time,event,trace 2>/dev/null | python3 -c '
import re, statistics, sys
launcher = sys.argv[1]
line = re.compile(r"\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)")
launches, cur = [], None
for l in sys.stdin:
    m = line.match(l)
    if not m:
        continue
    pid, t, event, rest = m.group(1), float(m.group(2)) * 1e3, m.group(3), m.group(4)
    if event.endswith("process_exec") and "filename=./" + launcher in rest:
        cur = {"start": t, "launcher": pid, "pids": {pid}}
        launches.append(cur)
    elif cur is None:
        continue
    elif event.endswith("process_fork"):
        f = re.search(r"pid=(\d+) child_comm=\S+ child_pid=(\d+)", rest)
        if f and f.group(1) in cur["pids"]:
            cur["pids"].add(f.group(2))
    elif pid in cur["pids"] and event.endswith("process_exec") and "true" in rest:
        cur["command"], cur["exec"] = pid, t
    elif pid in cur["pids"] and event.endswith("process_exit"):
        if pid == cur.get("command"):
            cur["command_exit"] = t
        elif pid == cur["launcher"]:
            cur["end"] = t
done = [c for c in launches[5:] if {"exec", "command_exit", "end"} <= c.keys()]
if not done:
    sys.exit(launcher + ": no complete launch seen")
med = lambda f: statistics.median(f(c) for c in done)
print("%-6s %d launches: start -> exec %.3f ms, command %.3f ms, exit -> return %.3f ms, all %.3f ms" % (
    launcher.split("-")[0], len(done), med(lambda c: c["exec"] - c["start"]),
    med(lambda c: c["command_exit"] - c["exec"]), med(lambda c: c["end"] - c["command_exit"]),
    med(lambda c: c["end"] - c["start"])))
' "$launcher"
done
