#!/bin/bash
# Runs as root inside the VM, started at boot by jail-vm-runner.service from
# the 9p share that tests/vm/run.sh prepared.  Writes everything to share/out:
#   runner-started, started, finished  markers the host polls for timing
#   alive                the guest's clock, rewritten every 10 s while the test
#                        runs: the host's sign that the guest's CPUs still work
#   guest-times          "<phase> <guest uptime s>" lines
#   root-setup.out       output of payload/root-setup.sh, if there is one
#   error                why the test was not run (then there is no test.rc)
#   test.out, test.rc    the test's stdout+stderr and exit status
#   journal.txt          the boot's journal, for debugging
# No set -e: the results must be written whatever fails.
set -uo pipefail

share=/mnt/share
out=$share/out
user=tester
uid=1000
work=/home/$user/work

mkdir -p "$out"
stamp() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" >>"$out/guest-times"; }

finish() {
    journalctl -b --no-pager -o short-monotonic >"$out/journal.txt" 2>&1
    stamp finished
    touch "$out/finished"
    exit 0
}

give_up() {
    echo "$*" >"$out/error"
    echo "guest-runner: $*" >&2
    finish
}

stamp runner-start
touch "$out/runner-started"

# Root hook first: it may change the user manager (e.g. a Delegate= drop-in
# plus a restart of user@1000.service), so wait for the user manager after it.
if [[ -f $share/payload/root-setup.sh ]]; then
    (
        cd "$share/payload" || exit 1
        if [[ -x root-setup.sh ]]; then exec ./root-setup.sh; else exec bash root-setup.sh; fi
    ) >"$out/root-setup.out" 2>&1 </dev/null
    rc=$?
    stamp root-setup-done
    ((rc == 0)) || give_up "payload/root-setup.sh failed with exit status $rc"
fi

# Lingering starts user@1000.service in parallel with this unit.
deadline=$((SECONDS + 180))
until [[ -S /run/user/$uid/bus ]] && systemctl is-active --quiet "user@$uid.service"; do
    ((SECONDS < deadline)) || give_up "user@$uid.service or /run/user/$uid/bus not up after 180 s"
    sleep 0.2
done

as_user() {
    runuser -u "$user" -- env -i HOME="/home/$user" USER="$user" LOGNAME="$user" \
        PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
        XDG_RUNTIME_DIR="/run/user/$uid" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" \
        "$@"
}

# Let the user manager finish its own startup, so tests see a settled state
# ("running" or "degraded"; the exit status of --wait says which, not whether
# it is up, so it is only logged).
state=$(as_user timeout 120 systemctl --user is-system-running --wait 2>&1)
stamp "user-manager-$state"

# Run from the user's home, not the share: share files are owned by host root.
# cp -a keeps modes (executables in the payload stay executable).
rm -rf "$work"
if ! cp -a "$share/payload" "$work" || ! chown -R "$user:$user" "$work"; then
    give_up "copying the payload to $work failed"
fi

stamp test-start
touch "$out/started"
# The heartbeat sleeps in read -t on a FIFO it holds both ends of, and writes
# with a builtin: no process is started for it, so it takes next to nothing
# from what the test measures.
heartbeat() {
    local fd
    mkfifo /run/jail-vm-heartbeat && exec {fd}<>/run/jail-vm-heartbeat || return
    while :; do
        printf '%(%s)T\n' -1 >"$out/alive"
        read -r -t 10 -u "$fd" _
    done
}
heartbeat &
hb=$!
as_user sh -c "cd $work && exec ./test.sh" >"$out/test.out" 2>&1 </dev/null
rc=$?
kill "$hb" 2>/dev/null
stamp test-end
# test.rc is the result flag the host looks for: write it atomically.
echo "$rc" >"$out/test.rc.tmp" && mv "$out/test.rc.tmp" "$out/test.rc"
finish
