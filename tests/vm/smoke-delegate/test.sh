#!/bin/bash
# Run as `tester` after root-setup.sh installed the Delegate= drop-in: cpuset
# and io must now be delegated and usable by a transient scope.
set -euo pipefail

failures=0
pass() { echo "PASS $*"; }
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

controllers=$(cat /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers || true)
echo "user@1000 controllers: $controllers"
for c in cpuset io cpu memory pids; do
    if [[ " $controllers " == *" $c "* ]]; then pass "$c delegated"; else fail "$c delegated"; fi
done

# shellcheck disable=SC2016 # expanded by the scope's shell
got=$(systemd-run --user --scope --quiet -p AllowedCPUs=0 -p IOWeight=50 sh -c '
    cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)
    echo "cpuset.cpus=$(cat "$cg/cpuset.cpus") io.weight=$(head -n1 "$cg/io.weight")"
    grep Cpus_allowed_list /proc/self/status' 2>&1 || true)
echo "$got"
if [[ $got == *"cpuset.cpus=0 "* ]]; then pass "AllowedCPUs=0 -> cpuset.cpus"; else fail "AllowedCPUs=0 -> cpuset.cpus"; fi
if [[ $got == *"io.weight=default 50"* ]]; then pass "IOWeight=50 -> io.weight"; else fail "IOWeight=50 -> io.weight"; fi
if [[ $got =~ Cpus_allowed_list:[[:space:]]+0$ ]]; then pass "scope pinned to CPU 0"; else fail "scope pinned to CPU 0"; fi

if ((failures)); then
    echo "smoke-delegate: $failures check(s) failed"
    exit 1
fi
echo "smoke-delegate: all checks passed"
