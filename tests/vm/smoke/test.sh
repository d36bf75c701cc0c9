#!/bin/bash
# Smoke test of the VM itself, run as `tester` by tests/vm/run.sh: is this
# the environment jail's systemd/cgroup-v2 code expects?
set -euo pipefail

failures=0
check() { # NAME COMMAND...: PASS/FAIL line per check
    local name=$1 output
    shift
    if output=$("$@" 2>&1); then
        echo "PASS $name"
        [[ -z $output ]] || printf '%s\n' "$output" | sed 's/^/    /'
    else
        echo "FAIL $name"
        [[ -z $output ]] || printf '%s\n' "$output" | sed 's/^/    /'
        failures=$((failures + 1))
    fi
}

user_manager_up() {
    local state
    state=$(systemctl --user is-system-running)
    echo "state: $state"
    [[ $state == running || $state == degraded ]]
}

cgroup2() {
    local fs
    fs=$(stat -f -c %T /sys/fs/cgroup)
    echo "fs: $fs"
    [[ $fs == cgroup2fs ]]
}

delegated() {
    local f=/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers
    local have c
    have=" $(cat "$f") "
    echo "controllers: $have"
    for c in cpu memory pids; do
        [[ $have == *" $c "* ]] || return 1
    done
}

# Move a child shell into a transient scope with limits over raw D-Bus, the
# way jail's Rust client does it, and read the limits back from its cgroup.
transient_scope() {
    local unit=smoke-$$.scope
    # shellcheck disable=SC2016 # $$ and $cg are expanded by the inner shell
    sh -c '
        busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
            org.freedesktop.systemd1.Manager StartTransientUnit "ssa(sv)a(sa(sv))" \
            "$1" fail 4 PIDs au 1 $$ MemoryMax t 50331648 \
            CPUQuotaPerSecUSec t 200000 TasksMax t 64 0 || exit 1
        # The job that moves us may still be running when the call returns.
        for _ in $(seq 50); do
            cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)
            case $cg in */"$1") break ;; esac
            sleep 0.1
        done
        echo "cgroup: $cg"
        case $cg in */app.slice/"$1") ;; *) exit 1 ;; esac
        echo "memory.max=$(cat "$cg/memory.max") cpu.max=$(cat "$cg/cpu.max") pids.max=$(cat "$cg/pids.max")"
        [ "$(cat "$cg/memory.max")" = 50331648 ] &&
            [ "$(cat "$cg/cpu.max")" = "20000 100000" ] &&
            [ "$(cat "$cg/pids.max")" = 64 ]
    ' sh "$unit"
}

check "user manager running or degraded" user_manager_up
check "/sys/fs/cgroup is cgroup2" cgroup2
check "cpu memory pids delegated to user@1000" delegated
check "StartTransientUnit scope with limits over D-Bus" transient_scope
check "unprivileged user namespace" unshare -Ur true

if ((failures)); then
    echo "smoke: $failures check(s) failed"
    exit 1
fi
echo "smoke: all checks passed"
