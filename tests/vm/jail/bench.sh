#!/bin/bash
# Benchmark (not a test), run in the VM as tester: launch cost with three limits, next to
# systemd-run --user --scope doing the same work, and jail without limits.
set -uo pipefail
cd "$(dirname "$0")" || exit 125
n=20
ms() { # label, command...: mean wall milliseconds over $n runs
	local label=$1 t0 t1
	shift
	"$@" >/dev/null 2>&1 # warm up
	t0=$(date +%s%N)
	for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 || { echo "$label: failed"; return; }; done
	t1=$(date +%s%N)
	echo "$label: $(((t1 - t0) / n / 1000000)) ms per launch (mean of $n)"
}
ms "true (fork+exec)" /bin/true
ms "jail -- true" ./jail -- true
ms "jail --mem 48M --cpu 20% --pids 64 -- true" ./jail --mem 48M --cpu 20% --pids 64 -- true
ms "systemd-run --user --scope (same limits) true" systemd-run --user --scope -q -p MemoryMax=48M -p CPUQuota=20% -p TasksMax=64 true
echo
./jail -v --mem 48M --cpu 20% --pids 64 -- true 2>&1 | grep cgroup
echo
echo "The mission's example, with its report:"
./jail --mem 48M --cpu 20% --stats -- sh -c 'dd if=/dev/zero bs=16M count=1 status=none | wc -c' 2>&1
echo "0 passed, 0 failed"
