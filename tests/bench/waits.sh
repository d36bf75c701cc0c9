#!/usr/bin/env bash
# Where a launch's processes wait, for jail and for bwrap on the same work: perf records the
# scheduler's switches with the kernel stack of each process that goes to sleep, over N
# launches of each as the test user, and charges the time until it runs again to a reason read
# from that stack (an RCU grace period inside umount, the vfork until the command's exec, a
# socket or pipe read, poll, wait4...). Prints milliseconds per launch for each process of the
# launch (the launcher, its children in the order they were forked, the command), largest
# first. Not a benchmark (perf adds to each launch): it says what a launch waits for, phases.sh
# how its time splits, profile.sh where its CPU goes.
#
# Usage, as root: tests/bench/waits.sh [JAIL_BINARY]   (default target/release/jail)
# Needs perf (Debian's linux-perf; installed when missing), bwrap and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=${1:-target/release/jail}
# shellcheck source=perf-lib.sh
source tests/bench/perf-lib.sh
perf_ready waits
record_launches "$bin" "${RUNS:-100}" -g -e sched:sched_switch,sched:sched_process_fork,sched:sched_process_exec
for launcher in jail-traced bwrap-traced; do
	perf script -i "$launcher.data" -F pid,time,event,trace,ip,sym 2>/dev/null | python3 -c '
import collections, re, sys
launcher, runs = sys.argv[1], int(sys.argv[2])
head = re.compile(r"\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)")
# The first function of the stack, from the top, that says why a process sleeps.
reasons = [
    ("synchronize_rcu_expedited", "RCU grace period"), ("synchronize_rcu", "RCU grace period"),
    ("wait_for_vfork_done", "vfork: until the child execs"),
    ("kernel_clone", "vfork: until the child execs"), ("do_wait", "wait4"),
    ("unix_stream_read_generic", "socket read"), ("unix_dgram_recvmsg", "socket read"),
    ("__skb_wait_for_more_packets", "socket read"), ("pipe_read", "pipe read"), ("anon_pipe_read", "pipe read"),
    ("do_sys_poll", "poll"), ("do_select", "select"), ("ep_poll", "epoll"),
    ("signalfd_dequeue", "signalfd read"), ("eventfd_read", "eventfd read"),
    ("futex_wait", "futex"), ("do_nanosleep", "sleep"), ("__mutex_lock", "a mutex"),
    ("rwsem_down", "a rwsem"), ("exit_to_user_mode_loop", "preempted"),
]
def reason(syms):
    for s in syms:
        for key, why in reasons:
            if s.startswith(key):
                return why
    for s in syms:
        if s.startswith("__x64_sys_") or s.startswith("__do_sys_"):
            return s.split("sys_", 1)[1]
    return "other: " + (syms[2] if len(syms) > 2 else "?")
role, slept, total = {}, {}, collections.Counter()
for block in sys.stdin.read().split("\n\n"):
    lines = [l for l in block.split("\n") if l.strip()]
    if not lines:
        continue
    m = head.match(lines[0])
    if not m:
        continue
    pid, t, event, rest = m.group(1), float(m.group(2)) * 1e3, m.group(3), m.group(4)
    if event.endswith("process_exec"):
        if "filename=./" + launcher in rest:
            role = {pid: "launcher"}
        elif pid in role:
            role[pid] = "command"
    elif event.endswith("process_fork"):
        f = re.search(r"pid=(\d+) child_comm=\S+ child_pid=(\d+)", rest)
        if f and f.group(1) in role:
            n = sum(1 for r in role.values() if r.startswith("child"))
            role[f.group(2)] = "child %d" % (n + 1) if role[f.group(1)] == "launcher" else role[f.group(1)] + "\x27s child"
    elif event.endswith("sched_switch"):
        s = re.search(r"prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=.* next_pid=(\d+)", rest)
        if not s:
            continue
        prev, state, nxt = s.groups()
        if nxt in slept:
            who, why, since = slept.pop(nxt)
            total[(who, why)] += t - since
        if prev in role and state != "R" and state != "R+":
            syms = [l.split()[1] for l in lines[1:] if len(l.split()) > 1]
            slept[prev] = (role[prev], reason(syms), t)
print("%s: what its processes wait for, ms per launch (%d launches)" % (launcher.split("-")[0], runs))
for (who, why), ms in sorted(total.items(), key=lambda x: -x[1]):
    if ms / runs >= 0.005:
        print("    %-24s %-34s %.3f" % (who, why, ms / runs))
' "$launcher" "${RUNS:-100}"
done
