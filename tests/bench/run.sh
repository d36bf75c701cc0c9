#!/usr/bin/env bash
# Benchmarks (not tests): jail against bubblewrap on the same work, in one run, as ratios.
#   startup     the same view (--ro-bind / / --proc --dev --tmpfs /tmp true): jail with its
#               confinement, without it, as bwrap, and bwrap; jail's default mode; a busybox
#               tree at /; the unshare floor; reports off; an idle --allow-host proxy
#   binds       N read-only binds, N = 0, 10, 100, 1000, 3000
#   seccomp     a syscall-heavy job under no filter, a one-instruction allow-all filter, and
#               jail's default policy
#   memory      PSS and RSS of the launcher's own processes while `sleep` runs inside
#   rate        sandboxes started per second by 2 concurrent launchers
# Usage: tests/bench/run.sh [--markdown FILE] [JAIL_BINARY]  (default target/release/jail;
# runs as the caller, or as $JAIL_TEST_USER when root). Needs hyperfine and bwrap
# (tests/tooling/setup-host.sh installs them). `make bench` writes BENCHMARKS.md.
set -euo pipefail
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
md=
if [[ ${1:-} == --markdown ]]; then
	md=$(realpath -m "$2")
	shift 2
fi
bin=${1:-target/release/jail}
[[ -x $bin ]] || cargo build --release --quiet
for t in hyperfine bwrap python3; do command -v "$t" >/dev/null || { echo "bench: $t not found (tests/tooling/setup-host.sh)" >&2; exit 1; }; done
work=$(mktemp -d /var/tmp/jail-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp "$bin" "$work/jail"
as=()
if ((EUID == 0)); then
	user=${JAIL_TEST_USER:-jailtest}
	as=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups)
	chown "$user" "$work"
fi
cd "$work"
J="${as[*]} ./jail"
B="${as[*]} bwrap"
results=$work/results.tsv # section, case, value, unit, reference, ratio, target
: >"$results"
# Fields split on the unit separator, which (unlike a tab) keeps empty fields apart.
row() { printf '%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\n' "$@" >>"$results"; }
mean_ms() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.3f" % (x["mean"]*1e3) for x in r))' "$1"; }

echo "== startup" >&2
view="--ro-bind / / --proc /proc --dev /dev --tmpfs /tmp"
off="--landlock=off --seccomp-policy off --allow-userns --report=none"
tree=${JAIL_TEST_CACHE:-/var/cache/jail-test}/busybox
cases=("$J $view -- true" "$J $off $view -- true" "$J --bwrap --unshare-all --die-with-parent $view true"
	"$B --unshare-all --die-with-parent $view true" "$J -- true" "$J --report=none -- true"
	"$J --allow-host example.org -- true" "${as[*]} unshare -Urmpf --net --ipc --uts true")
[[ -d $tree/bin ]] && cases+=("$J --ro-bind $tree / -- true")
hyperfine -N --warmup 10 --runs 200 --export-json startup.json "${cases[@]}" >/dev/null 2>&1
read -r -a s <<<"$(mean_ms startup.json)"
r() { python3 -c "print('%.2f' % ($1 / $2))"; }
row startup "the same view, jail with Landlock and seccomp" "${s[0]}" ms "bwrap ${s[3]} ms" "$(r "${s[0]}" "${s[3]}")" "≤ 0.75"
row startup "the same view, jail's confinement off" "${s[1]}" ms "unshare floor ${s[7]} ms" "$(r "${s[1]}" "${s[7]}")" ""
row startup "confinement's own cost (on − off)" "$(python3 -c "print('%.3f' % (${s[0]} - ${s[1]}))")" ms "" "" "≤ 0.2 ms"
row startup "the same view, jail as bwrap" "${s[2]}" ms "bwrap ${s[3]} ms" "$(r "${s[2]}" "${s[3]}")" ""
row startup "jail's default (-- true)" "${s[4]}" ms "bwrap ${s[3]} ms" "$(r "${s[4]}" "${s[3]}")" ""
row startup "jail's default, --report=none" "${s[5]}" ms "default ${s[4]} ms" "$(r "${s[5]}" "${s[4]}")" ""
row startup "jail's default, idle --allow-host proxy" "${s[6]}" ms "default ${s[4]} ms" "$(r "${s[6]}" "${s[4]}")" ""
[[ -n ${s[8]:-} ]] && row startup "a busybox tree at /" "${s[8]}" ms "bwrap ${s[3]} ms" "$(r "${s[8]}" "${s[3]}")" ""

echo "== binds" >&2
mkdir -p src
for n in 0 10 100 1000 3000; do
	: >"binds-$n.args"
	for ((i = 0; i < n; i++)); do
		[[ -d src/d$i ]] || mkdir "src/d$i"
		printf -- '--ro-bind\0%s\0%s\0' "$work/src/d$i" "/tmp/d/d$i" >>"binds-$n.args"
	done
done
chmod -R a+rX src
for n in 0 10 100 1000 3000; do
	runs=20
	((n >= 1000)) && runs=3
	# --args reads the list from a file each run (a shell opens it; hyperfine subtracts the shell).
	# bwrap takes at most 9000 arguments: 3000 binds are beyond it.
	cmds=("$J --bwrap --unshare-all $view --args 3 true 3<binds-$n.args")
	((n < 3000)) && cmds+=("$B --unshare-all $view --args 3 true 3<binds-$n.args")
	hyperfine --warmup 1 --runs "$runs" --export-json "binds-$n.json" "${cmds[@]}" >"binds-$n.log" 2>&1 ||
		{ echo "bench: binds $n:" >&2; tail -5 "binds-$n.log" >&2; exit 1; }
	read -r -a b <<<"$(mean_ms "binds-$n.json")"
	target=""
	((n == 1000)) && target="≤ 30 ms"
	if ((n < 3000)); then
		row binds "$n read-only binds" "${b[0]}" ms "bwrap ${b[1]} ms" "$(r "${b[0]}" "${b[1]}")" "$target"
	else
		row binds "$n read-only binds" "${b[0]}" ms "bwrap refuses (at most 9000 arguments)" "" ""
	fi
done

echo "== seccomp" >&2
printf '\x06\x00\x00\x00\x00\x00\xff\x7f' >allow-all.bpf
count=2000000
ns() { # jail args...: ns per syscall of dd moving 1-byte blocks (2 syscalls a byte), best of 3
	local best=0 t0 t1 v
	for _ in 1 2 3; do
		t0=$(date +%s%N)
		$J "$@" -- dd if=/dev/zero of=/dev/null bs=1 count=$count status=none 9<allow-all.bpf
		t1=$(date +%s%N)
		v=$(((t1 - t0) / (2 * count)))
		((best == 0 || v < best)) && best=$v
	done
	echo "$best"
}
none=$(ns $off --landlock=off) all=$(ns $off --add-seccomp-fd 9) def=$(ns --landlock=off)
row seccomp "ns per syscall, jail's default policy" "$def" ns "allow-all filter $all ns" "$(r "$def" "$all")" ""
row seccomp "ns per syscall, one-instruction allow-all filter" "$all" ns "no filter $none ns" "$(r "$all" "$none")" ""

echo "== memory" >&2
# The launcher's processes: everything between the started process and the sleep inside.
launcher_kib() { # field (Pss/Rss), command...
	local field=$1 pid total=0
	shift
	"$@" sleep 30 &
	pid=$!
	sleep 1
	total=$(python3 - "$pid" "$field" <<'PY'
import os, sys
root, field = int(sys.argv[1]), sys.argv[2]
def kids(p):
    try:
        return [int(c) for t in os.listdir(f"/proc/{p}/task") for c in open(f"/proc/{p}/task/{t}/children").read().split()]
    except OSError:
        return []
total, todo = 0, [root]
while todo:
    p = todo.pop()
    try:
        comm = open(f"/proc/{p}/comm").read().strip()
        if comm != "sleep":
            for l in open(f"/proc/{p}/smaps_rollup"):
                if l.startswith(field + ":"):
                    total += int(l.split()[1])
    except OSError:
        pass
    todo += kids(p)
print(total)
PY
)
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo "$total"
}
# As root the measuring process can read the test user's smaps; setpriv execs, so $! is jail.
jp=$(launcher_kib Pss $J --) bp=$(launcher_kib Pss $B --unshare-all --die-with-parent $view)
jr=$(launcher_kib Rss $J --) br=$(launcher_kib Rss $B --unshare-all --die-with-parent $view)
row memory "PSS of the launcher's processes" "$jp" KiB "bwrap $bp KiB" "$(r "$jp" "$bp")" "≤ 1.00"
row memory "RSS of the launcher's processes" "$jr" KiB "bwrap $br KiB" "$(r "$jr" "$br")" ""

echo "== rate" >&2
rate() { # command...: sandboxes per second, 2 launchers running 100 each
	local t0 t1
	t0=$(date +%s%N)
	for _ in 1 2; do (for _ in $(seq 100); do "$@" true; done) & done
	wait
	t1=$(date +%s%N)
	python3 -c "print('%.0f' % (200 / (($t1 - $t0) / 1e9)))"
}
jrate=$(rate $J --) brate=$(rate $B --unshare-all --die-with-parent $view)
row rate "sandboxes per second, 2 concurrent launchers" "$jrate" "/s" "bwrap $brate /s" "$(r "$jrate" "$brate")" ""

# Console table, and Markdown when asked.
column -t -s $'\x1f' "$results"
if [[ -n $md ]]; then
	{
		echo "# Benchmarks"
		echo
		echo "Written by \`make bench\` (tests/bench/run.sh) on $(date -u +%F): $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), Linux $(uname -r);"
		echo "$(./jail --version), $(bwrap --version), $(hyperfine --version). Means of hyperfine runs (startup: 200)"
		echo "as the unprivileged test user; ratios are jail over the reference in the same run."
		echo
		echo "| section | case | jail | reference | ratio | target |"
		echo "|---|---|---|---|---|---|"
		while IFS=$'\x1f' read -r sec case val unit ref ratio target; do
			echo "| $sec | $case | $val $unit | $ref | $ratio | $target |"
		done <"$results"
		echo
		echo "Not measured here yet: hakoniwa (not installed by this script), and the limits path"
		echo "(\`--mem --cpu --pids\` against \`systemd-run --user --scope\`), which needs the test VM."
		echo
		echo "## What remains where a target is missed"
		echo
		echo "- Startup with confinement (target ≤ 0.75 of bwrap): a profile of jail's user time per launch"
		echo "  (perf, an earlier session) put about 40 % of it in glibc's dynamic loader probing CPU"
		echo "  features (CPUID, which traps in this VM), before any code of jail's runs; a static or"
		echo "  musl build would avoid it (no musl target on this machine kind). Jail as bwrap, which"
		echo "  skips Landlock and the built-in filter, is at parity or ahead."
		echo "- Confinement's own cost (target ≤ 0.2 ms): Landlock's ruleset, compiling the built-in"
		echo "  filter (twice, for init and the command) and handing the refusal report's listener to"
		echo "  jail (about 0.15 ms, \`--report=none\` row); not yet profiled one by one."
		echo "- Memory (target PSS ≤ bwrap): jail's parent and init stay mapped with the whole binary's"
		echo "  pages and the allocator's arenas; bwrap is a small C program. Not yet worked on."
	} >"$md"
	echo "bench: wrote $md" >&2
fi
