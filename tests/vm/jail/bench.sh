#!/bin/bash
# Benchmark (not a test), run in the VM as tester by tests/bench/vm.sh: launch cost with three
# limits (memory 48 MiB without swap, 20 % of one CPU, 64 tasks) for jail, systemd-run --user
# --scope, hakoniwa and scope-floor (the least a launcher can do), and without limits. $n timed
# runs of every case, round-robin (the order rotates each round), after one untimed warm-up
# round.
# Output, one line each:   INFO<TAB>key<TAB>value
#                          RESULT<TAB>case<TAB>ms,ms,...   (wall milliseconds per run)
#                          FAILED<TAB>case<TAB>exit status and the output's last line
# then free text (the limits as the cgroup files show them, the mission's example) after a
# line "---". hakoniwa and scope-floor binaries in this directory are optional.
set -uo pipefail
cd "$(dirname "$0")" || exit 125
n=${JAIL_BENCH_RUNS:-20}
mem=48M mem_bytes=$((48 * 1048576)) cpu=20% pids=64
info() { printf 'INFO\t%s\t%s\n' "$1" "$2"; }
info kernel "$(uname -r)"
info systemd "$(systemctl --version | head -n 1)"
info jail "$(./jail --version)"
info runs "$n"

names=(true jail jail-limits jail-no-cpu systemd-run)
declare -A cmd=(
	[true]="/bin/true"
	[jail]="./jail -- true"
	[jail-limits]="./jail --mem $mem --cpu $cpu --pids $pids -- true"
	[jail-no-cpu]="./jail --mem $mem --pids $pids -- true"
	[systemd-run]="systemd-run --user --scope -q -p MemoryMax=$mem -p MemorySwapMax=0 -p CPUQuota=$cpu -p TasksMax=$pids true"
)
# hakoniwa's memory-swap is memory + swap (the OCI v1 form it converts to MemorySwapMax), so
# equal to the memory limit means no swap; its sizes are decimal unless given in bytes.
hk_limits="--cgroup-memory $mem_bytes --cgroup-memory-swap $mem_bytes --cgroup-cpus 0.2 --cgroup-pids-limit $pids"
if [[ -x ./hakoniwa ]]; then
	info hakoniwa "$(./hakoniwa --version)"
	names+=(hakoniwa hakoniwa-limits hakoniwa-limits-unconfined)
	cmd[hakoniwa]="./hakoniwa run --unshare-all -- true"
	cmd[hakoniwa-limits]="./hakoniwa run --unshare-all $hk_limits -- true"
	cmd[hakoniwa-limits-unconfined]="./hakoniwa run --unshare-all --seccomp unconfined $hk_limits -- true"
fi
# The least a launcher can do (scope-floor.c, no sandbox): the same limits, with and without the
# CPU quota.
if [[ -x ./scope-floor ]]; then
	names+=(floor-limits floor-no-cpu)
	cmd[floor-limits]="./scope-floor $mem_bytes ${cpu%\%} $pids true"
	cmd[floor-no-cpu]="./scope-floor $mem_bytes 0 $pids true"
fi
for c in "${names[@]}"; do info "command:$c" "${cmd[$c]}"; done

declare -A times failed
k=${#names[@]}
for ((round = 0; round <= n; round++)); do
	for ((j = 0; j < k; j++)); do
		c=${names[(round + j) % k]}
		[[ -n ${failed[$c]:-} ]] && continue
		t0=${EPOCHREALTIME/[.,]/}
		# The commands are plain words: split on purpose.
		# shellcheck disable=SC2086
		out=$(timeout 60 ${cmd[$c]} 2>&1 </dev/null)
		rc=$?
		t1=${EPOCHREALTIME/[.,]/}
		if ((rc != 0)); then
			failed[$c]="exit $rc: $(tail -n 1 <<<"$out")"
			continue
		fi
		((round == 0)) && continue # warm-up
		us=$((t1 - t0))
		times[$c]+="${times[$c]:+,}$((us / 1000)).$(printf '%03d' $((us % 1000)))"
	done
done
for c in "${names[@]}"; do
	if [[ -n ${failed[$c]:-} ]]; then
		printf 'FAILED\t%s\t%s\n' "$c" "${failed[$c]}"
	else
		printf 'RESULT\t%s\t%s\n' "$c" "${times[$c]}"
	fi
done

# jail -v says how long the scope took to be ready after the clone (systemd's job, the limits
# read back), and how long jail then still waited for the sandbox to finish its own setup.
ready= sandbox=
for _ in 1 2 3 4 5; do
	line=$(./jail -v --mem "$mem" --cpu "$cpu" --pids "$pids" -- true 2>&1 | grep 'limits read back' || true)
	r=$(sed -n 's/.*limits read back, \([0-9]*\) ms after the sandbox was cloned.*/\1/p' <<<"$line")
	s=$(sed -n 's/.*sandbox ready +\([0-9.]*\) ms.*/\1/p' <<<"$line")
	[[ -n $r ]] && ready+="${ready:+,}$r"
	[[ -n $s ]] && sandbox+="${sandbox:+,}$s"
done
info scope-ready-ms "$ready"
info scope-sandbox-wait-ms "$sandbox"

echo "---"
# The limits each launcher set, as the kernel shows them: from the cgroup of a sleep started
# under it, the nearest file up the tree below the user manager whose value is not "max".
limits_of() { # label, command... (the command runs `sleep 5`)
	local label=$1 pid='' cg d f v line
	shift
	"$@" sleep 5 </dev/null >/dev/null 2>&1 &
	for _ in $(seq 50); do
		pid=$(pgrep -n -u "$(id -u)" -x sleep) && break
		sleep 0.1
	done
	if [[ -z $pid ]] || ! cg=$(cut -d: -f3 "/proc/$pid/cgroup" 2>/dev/null); then
		echo "$label: no sleep seen"
		wait
		return
	fi
	line="$label:"
	for f in memory.max memory.swap.max cpu.max pids.max; do
		v=max d=/sys/fs/cgroup$cg
		while [[ $d == */user@*.service/* ]]; do
			if [[ -r $d/$f ]] && [[ $(<"$d/$f") != max* ]]; then
				v=$(<"$d/$f")
				break
			fi
			d=${d%/*}
		done
		line+=" $f=$v"
	done
	echo "$line"
	kill "$pid" 2>/dev/null
	wait
}
echo "The limits in the cgroup files while a sleep runs under each launcher:"
limits_of jail ./jail --mem "$mem" --cpu "$cpu" --pids "$pids" --
limits_of systemd-run systemd-run --user --scope -q -p MemoryMax="$mem" -p MemorySwapMax=0 \
	-p CPUQuota="$cpu" -p TasksMax="$pids"
[[ -x ./scope-floor ]] && limits_of scope-floor ./scope-floor "$mem_bytes" "${cpu%\%}" "$pids"
# shellcheck disable=SC2086 # the limits are words
[[ -x ./hakoniwa ]] && limits_of hakoniwa ./hakoniwa run --unshare-all $hk_limits --
echo
echo "\$ jail -v --mem $mem --cpu $cpu --pids $pids -- true"
./jail -v --mem "$mem" --cpu "$cpu" --pids "$pids" -- true 2>&1 | grep cgroup
echo
echo "The mission's example, with its report:"
echo "\$ jail --mem 48M --cpu 20% --stats -- sh -c 'dd if=/dev/zero bs=16M count=1 status=none | wc -c'"
./jail --mem 48M --cpu 20% --stats -- sh -c 'dd if=/dev/zero bs=16M count=1 status=none | wc -c' 2>&1
echo "0 passed, 0 failed"
