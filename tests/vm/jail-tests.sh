#!/usr/bin/env bash
# jail's limit tests in the systemd VM: two boots, one with the default delegation (cpu memory
# pids) and one with the Delegate drop-in (cpuset io too). Usage: tests/vm/jail-tests.sh JAIL_BIN
# Prints each payload's PASS/FAIL lines and a total "N passed, N failed" line.
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
bin=${1:?usage: $0 JAIL_BINARY}
work=$(mktemp -d /var/tmp/jail-vm-payload.XXXXXX)
trap 'rm -rf "$work"' EXIT

total_pass=0 total_fail=0 status=0
for payload in limits delegated; do
	dir=$work/$payload
	mkdir -p "$dir"
	cp "$bin" "$dir/jail"
	cp "$here/jail/common.sh" "$dir/"
	cp "$here/jail/$payload.sh" "$dir/test.sh"
	[[ $payload == delegated ]] && cp "$here/jail/delegate-setup.sh" "$dir/root-setup.sh"
	echo "== VM: $payload"
	rc=0
	out=$("$here/run.sh" "$dir" 1200) || rc=$?
	printf '%s\n' "$out"
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -1 || true)
	if [[ -z $summary ]]; then
		echo "FAIL $payload: no result from the VM (exit $rc)"
		total_fail=$((total_fail + 1))
		status=1
		continue
	fi
	total_pass=$((total_pass + ${summary%% passed*}))
	f=${summary#*passed, }
	total_fail=$((total_fail + ${f%% failed}))
	((rc == 0)) || status=1
done
echo "vm: $total_pass passed, $total_fail failed"
exit "$status"
