#!/usr/bin/env bash
# Benchmark (not a test): the limits path inside the systemd test VM (tests/vm), jail against
# systemd-run --user --scope and hakoniwa with the same limits, each also without limits, and
# against the least any launcher can do (tests/bench/scope-floor.c).
# tests/vm/jail/bench.sh runs in the guest and prints per-run wall times; this side turns them
# into medians, spread and ratios.
# Usage: tests/bench/vm.sh [--markdown FILE] [--save RAW | --from RAW] [JAIL_BINARY]  (root:
# boots the VM; default target/release/jail). --markdown rewrites only the VM section of FILE
# (between its "bench:vm" marker comments), so `make bench`'s host section stays; --save keeps
# the guest's raw output, --from renders one without booting. `make bench-vm` writes
# BENCHMARKS.md. Env: JAIL_BENCH_RUNS (runs per case, default 20), JAIL_BENCH_CACHE (see
# tests/bench/hakoniwa.sh), and tests/vm/run.sh's JAIL_VM_*.
set -euo pipefail
trap 'echo "bench-vm: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
md='' save='' from=''
while [[ ${1:-} == --* ]]; do
	case $1 in
	--markdown) md=$(realpath -m "$2") ;;
	--save) save=$(realpath -m "$2") ;; # keep the guest's raw output there
	--from) from=$(realpath "$2") ;;    # render a saved raw output, without the VM
	*) echo "bench-vm: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done
bin=${1:-target/release/jail}
[[ -n $from || -x $bin ]] || make --no-print-directory build
command -v python3 >/dev/null || { echo "bench-vm: python3 not found" >&2; exit 1; }
dir=$(mktemp -d /var/tmp/jail-vm-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
if [[ -n $from ]]; then
	cp "$from" "$dir/out"
else
	payload=$dir/payload
	mkdir "$payload"
	cp "$bin" "$payload/jail"
	# The guest is Debian 12 like the host: the host's build runs there (it needs libseccomp2,
	# which the guest's systemd pulls in).
	if hk=$(tests/bench/hakoniwa.sh); then
		cp "$hk" "$payload/hakoniwa"
	else
		echo "bench-vm: hakoniwa could not be installed; measuring without it" >&2
	fi
	# The least a launcher can do, as a static program (no loader to run in the guest).
	cc -O2 -static -o "$payload/scope-floor" tests/bench/scope-floor.c ||
		{ echo "bench-vm: cannot build tests/bench/scope-floor.c (cc with a static libc)" >&2; exit 1; }
	cp tests/vm/jail/bench.sh "$payload/test.sh"
	if [[ -n ${JAIL_BENCH_RUNS:-} ]]; then
		# The guest gets exactly the runner's environment: pass the count in the payload.
		sed -i "s/^n=\${JAIL_BENCH_RUNS:-20}/n=$JAIL_BENCH_RUNS/" "$payload/test.sh"
	fi
	rc=0
	tests/vm/run.sh "$payload" 1800 >"$dir/out" 2> >(tee "$dir/err" >&2) || rc=$?
	wait # for tee
	if ((rc != 0)); then
		echo "bench-vm: the VM run failed (exit $rc)" >&2
		cat "$dir/out" >&2
		exit 1
	fi
	# The accelerator (kvm or tcg) and how jail was linked are the host side's to tell; they go
	# first in the raw output, so that --from renders them too.
	{
		printf 'INFO\taccel\t%s\n' "$(sed -n 's/^vm-run: accel: //p' "$dir/err")"
		printf 'INFO\tlinkage\t%s\n' "$(packaging/linkage.sh --describe "$bin")"
		cat "$dir/out"
	} >"$dir/raw"
	mv "$dir/raw" "$dir/out"
	[[ -z $save ]] || cp "$dir/out" "$save"
fi
host="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), Linux $(uname -r)"
python3 - "$dir/out" "$md" "$host" "${JAIL_VM_SMP:-2}" "${JAIL_VM_MEM:-1024}" <<'PY'
import datetime, re, statistics, subprocess, sys
out, md, host, smp, mem = sys.argv[1:6]
info, res, failed, text, after = {}, {}, {}, [], False
for line in open(out).read().splitlines():
    if after:
        text.append(line)
    elif line == "---":
        after = True
    elif line.startswith("INFO\t"):
        _, k, v = line.split("\t", 2)
        info[k] = v
    elif line.startswith("RESULT\t"):
        _, k, v = line.split("\t", 2)
        res[k] = [float(x) for x in v.split(",") if x]
    elif line.startswith("FAILED\t"):
        _, k, v = line.split("\t", 2)
        failed[k] = v
while text and text[-1] in ("", "0 passed, 0 failed"):
    text.pop()

def med(k): return statistics.median(res[k])
def cell(k):
    if k in failed: return "failed (%s)" % failed[k], ""
    if k not in res: return "not measured", ""
    v = res[k]
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return "%.1f ms" % med(k), "mean %.1f; %.1f–%.1f, ± %.1f" % (statistics.mean(v), min(v), max(v), sd)
def ratio(a, b):
    return "%.2f" % (med(a) / med(b)) if a in res and b in res else ""
def target(r, t):
    if not r: return t + ": not measured"
    return "%s: %s" % (t, "met" if float(r) <= float(t.split()[-1]) else "missed")

labels = {
    "true": "`/bin/true` (the fork and exec floor)",
    "jail": "`jail -- true`",
    "jail-limits": "`jail --mem 48M --cpu 20% --pids 64 -- true`",
    "jail-no-cpu": "`jail --mem 48M --pids 64 -- true` (no CPU quota)",
    "systemd-run": "`systemd-run --user --scope` with MemoryMax=48M MemorySwapMax=0 CPUQuota=20% TasksMax=64",
    "hakoniwa": "`hakoniwa run --unshare-all -- true`",
    "hakoniwa-limits": "hakoniwa, the same three limits",
    "hakoniwa-limits-unconfined": "hakoniwa, the same limits, `--seccomp unconfined`",
    "floor-limits": "the least a launcher can do (`scope-floor`: the request, the job, exec; no sandbox), "
                    "the same three limits",
    "floor-no-cpu": "`scope-floor` without the CPU quota",
}
rows = []  # case, median, spread, reference, ratio, target
def row(k, ref=None, t=""):
    m, s = cell(k)
    rr = ratio(k, ref) if ref else ""
    refcell = ""
    if ref:
        rm, rs = cell(ref)
        refcell = "%s %s" % ({"systemd-run": "systemd-run", "hakoniwa-limits": "hakoniwa limits",
                               "hakoniwa": "hakoniwa", "jail": "jail"}.get(ref, ref), rm)
    rows.append((labels[k], m, s, refcell, rr, target(rr, t) if t else ""))
row("true")
row("jail", "hakoniwa")
row("jail-limits", "systemd-run", "≤ 0.5")
rows.append(("the same, against hakoniwa",) + tuple(rows[-1][1:3]) + (
    "hakoniwa limits %s" % cell("hakoniwa-limits")[0], ratio("jail-limits", "hakoniwa-limits"), ""))
if "floor-limits" in res:
    rows.append(("the same, against the least a launcher can do",) + cell("jail-limits") + (
        "scope-floor %s" % cell("floor-limits")[0], ratio("jail-limits", "floor-limits"), ""))
row("jail-no-cpu", "systemd-run")
row("floor-limits", "systemd-run")
row("floor-no-cpu", "systemd-run")
row("systemd-run")
row("hakoniwa")
row("hakoniwa-limits")
row("hakoniwa-limits-unconfined")
def cost(a, b):
    return "%.1f ms" % (med(a) - med(b)) if a in res and b in res else "not measured"
costs = [("jail", cost("jail-limits", "jail")), ("systemd-run over /bin/true", cost("systemd-run", "true")),
         ("scope-floor over /bin/true", cost("floor-limits", "true")),
         ("hakoniwa", cost("hakoniwa-limits", "hakoniwa"))]

def table():
    yield "| case | median | spread (mean; min–max, ± stddev) | reference | ratio | target |"
    yield "|---|---|---|---|---|---|"
    for r in rows:
        yield "| " + " | ".join(r) + " |"

try:
    qv = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
    qemu = "QEMU " + re.search(r"version (\S+)", qv).group(1)
except Exception:
    qemu = "QEMU"
for line in table():
    print(line)
print("limits' own cost (limits − none): " + ", ".join("%s %s" % c for c in costs))
if not md:
    sys.exit(0)
jr = ratio("jail-limits", "systemd-run")
sec = []
sec.append("## In the test VM: the limits path (`make bench-vm`)")
sec.append("")
sec.append("Written by `make bench-vm` (tests/bench/vm.sh) on %s in the test VM: Debian 12, Linux %s,"
           % (datetime.date.today().isoformat(), info.get("kernel", "?")))
sec.append("%s; %s (%s), %s vCPUs, %s MiB, on a host with %s;"
           % (info.get("systemd", "?"), qemu, info.get("accel") or "?", smp, mem, host))
sec.append("%s%s. Medians of %s wall-clock runs of each case, round-robin with the order"
           % (info.get("jail", "?") + (" (%s)" % info["linkage"] if "linkage" in info else ""), ", " + info["hakoniwa"] if "hakoniwa" in info else ", hakoniwa not measured",
              info.get("runs", "?")))
sec.append("rotating each round, as the user `tester` with its systemd user manager; ratios are the case's")
sec.append("median over the reference's in the same run. Every hakoniwa case unshares all namespaces, as jail")
sec.append("does; its default seccomp profile (podman's) is on unless `--seccomp unconfined`. The limits are")
sec.append("the same for every launcher (the cgroup files, below).")
sec.append("")
sec += list(table())
sec.append("")
sec.append("The limits' own cost (median with limits − median without): " + "; ".join("%s %s" % c for c in costs) + ".")
if "jail-limits" in res and "systemd-run" in res:
    sec.append("With the CPU quota a launch ends in the first, second or third period of the quota (100 ms), so "
               "its times fall in bands about a period apart and the median moves by up to a band from one run "
               "of the benchmark to the next; the ratio of the means, %.2f here, moves less."
               % (statistics.mean(res["jail-limits"]) / statistics.mean(res["systemd-run"])))
sec.append("Emulated CPUs are slow: absolute times here are not the host's; compare ratios.")
ready = [float(x) for x in info.get("scope-ready-ms", "").split(",") if x]
sandbox_wait = [float(x) for x in info.get("scope-sandbox-wait-ms", "").split(",") if x]
if jr and float(jr) > 0.5:
    sec.append("")
    sec.append("### What remains: the limits path (target ≤ 0.5 of `systemd-run --user --scope`, here %s)" % jr)
    sec.append("")
    why = []
    if "jail" in res and "systemd-run" in res:
        why.append("jail without any limit takes %s (%s of systemd-run's launch)"
                   % (cell("jail")[0], ratio("jail", "systemd-run")))
    if ready:
        why.append("jail's scope is ready (systemd's job done, the limits read back) in a median %.0f ms "
                   "of %d `jail -v` runs, against %s for the whole of systemd-run's"
                   % (statistics.median(ready), len(ready), cell("systemd-run")[0]))
    if "jail-no-cpu" in res and "jail-limits" in res:
        why.append("without `--cpu` jail's launch takes %s (%s of systemd-run's): the difference is the "
                   "command itself (here `true`, an exec) running under the 20 %% quota, which "
                   "systemd-run's `true` pays too; jail's own setup is done before the quota is set"
                   % (cell("jail-no-cpu")[0], ratio("jail-no-cpu", "systemd-run")))
    sec.append("Measured here: " + ("; ".join(why) if why else "no breakdown") + ".")
    sec.append("")
    if all(k in res for k in ("true", "floor-limits", "floor-no-cpu", "systemd-run")):
        job, quota = med("floor-no-cpu") - med("true"), med("floor-limits") - med("floor-no-cpu")
        fr = ratio("floor-limits", "systemd-run")
        sec.append("The least a launcher can do, measured in the same run: `scope-floor` "
                   "(tests/bench/scope-floor.c, a static C program written for this benchmark) asks the "
                   "manager for a scope with the same limits in one write on its own socket, as jail "
                   "does, waits for the job's end and execs `true` in the scope, with no sandbox and no "
                   "checks. It takes "
                   "%s, %s of systemd-run's launch (%.2f by the means): %s. Of that, `/bin/true`'s fork "
                   "and exec take %s, systemd's job %.1f ms (`scope-floor` without the quota − "
                   "`/bin/true`) and the quota's cost to `true` %.1f ms (with − without it). The "
                   "command must run in the scope under the quota, so neither can overlap it."
                   % (cell("floor-limits")[0], fr,
                      statistics.mean(res["floor-limits"]) / statistics.mean(res["systemd-run"]),
                      "the target is below what any launcher takes here" if float(fr) > 0.5
                      else "the target is within reach of a launcher that does nothing else",
                      cell("true")[0], job, quota))
        if "jail" in res and "jail-limits" in res:
            over_floor, own = med("jail-limits") - med("floor-limits"), med("jail") - med("true")
            sec.append("")
            sec.append("jail with the limits takes %.1f ms more than `scope-floor` with them, where jail "
                       "without limits takes %.1f ms more than `/bin/true`: building the sandbox while "
                       "the manager works hides %s of jail's own launch behind the job."
                       % (over_floor, own, "%.1f ms" % (own - over_floor) if own > over_floor else "none"))
        if sandbox_wait:
            sec.append("")
            sec.append("Once the job is done and the leaves are made, jail still waits a median %.1f ms for "
                       "the sandbox to finish its own setup (%d `jail -v` runs): in this 2-vCPU emulated "
                       "guest the sandbox, systemd and the system manager (which moves the processes from "
                       "the caller's session into the scope) share the CPUs, so a shorter job leaves the "
                       "sandbox's setup on the critical path rather than ending the launch sooner."
                       % (statistics.median(sandbox_wait), len(sandbox_wait)))
    else:
        sec.append("So the target is below jail's own launch in this emulated VM, where every exec and "
                   "page fault is costly. What the limits add is the manager's job (the `-v` line: the "
                   "request is one write, made while the sandbox builds its root), laying out "
                   "the leaves and the quota; the limits' own cost is the line above the table.")
if text:
    sec.append("")
    sec.append("```")
    sec += text
    sec.append("```")
body = "\n".join(sec) + "\n"

# Rewrite only this section of the file, keeping the others.
sys.path.insert(0, "tests/bench")
import sections  # noqa: E402

sections.write(md, "vm", body)
print("bench-vm: wrote %s" % md, file=sys.stderr)
PY
