#!/bin/bash
# shellcheck disable=SC2015,SC2016 # "cond && pass || fail": pass always succeeds; sh -c scripts are quoted on purpose
# The mission's own command line, for real, as the unprivileged user with no root step: a Debian
# tree made with `jail rootfs import` from the archive this payload carries, then
#   jail --ro-bind ./rootfs / --mem 48M --cpu 20% bash -c '...'
# observed from inside and outside, and an interactive bash on a pty in that tree.
set -uo pipefail
cd "$(dirname "$0")" || exit 125
# shellcheck source=common.sh
. ./common.sh
J=$PWD/jail
archive=$PWD/bookworm.tar.gz

# The tree goes to the user's home (the VM's disk), not the payload's 9p share.
T=$HOME/rootfs
rm -rf "$T"
expect "jail rootfs import of a Debian tree, as the user" 0 $J rootfs import "$archive" "$T"
[[ $(stat -c %u "$T/usr/bin/su") == "$(id -u)" ]] && pass "the tree's root files are the user's" ||
	fail "$T/usr/bin/su is owned by $(stat -c %u "$T/usr/bin/su")"
cd "$HOME" || exit 125

M=(--ro-bind ./rootfs / --mem 48M --cpu 20%)
expect "the mission's line runs the tree's Debian" 0 $J "${M[@]}" bash -c '. /etc/os-release; echo "$ID $VERSION_CODENAME"'
contains "the tree's /etc/os-release" "debian bookworm"

expect "a memory hog under the mission's line is killed" 137 $J "${M[@]}" bash -c 'tail /dev/zero'
contains "the OOM kill is reported" "jail: out of memory"
no_scopes_left "after the OOM kill"

expect "a busy loop under the mission's line stops at --timeout" 124 $J "${M[@]}" --timeout 6s --stats-json 3 \
	bash -c 'while :; do :; done' 3>cpu.json
user=$(json cpu.json cpu_user_usec) sys=$(json cpu.json cpu_system_usec) wall=$(json cpu.json wall_usec)
pct=$(((user + sys) * 100 / wall))
((pct >= 15 && pct <= 25)) && pass "20% held: ${pct}% of one CPU" || fail "cpu share ${pct}% ($(cat cpu.json))"
no_scopes_left "after the mission's line"
left=$(pgrep -u "$(id -u)" -f 'tail /dev/zero|while :' | wc -l)
((left == 0)) && pass "nothing of the sandboxes left" || fail "$left processes left"

# On a terminal (script(1) gives jail a pty): the prompt, job control, the exit status.
rc=0
out=$(printf 'echo hi-$((6*7))\nsleep 100 &\njobs\nexit 3\n' |
	timeout 120 script -qec "$J --ro-bind ./rootfs / bash -i" /dev/null 2>&1) || rc=$?
[[ $rc == 3 ]] && pass "interactive bash on a pty exits with its status (3)" || fail "interactive bash: exit $rc"
grep -q 'hi-42' <<<"$out" && pass "interactive bash runs commands" || fail "interactive bash: $out"
grep -q 'Running.*sleep 100' <<<"$out" && pass "job control: jobs lists the background job" ||
	fail "job control: $(tail -5 <<<"$out")"
grep -qE 'root@|\$ |# ' <<<"$out" && pass "a prompt" || fail "no prompt: $(tail -5 <<<"$out")"

echo "$passed passed, $failed failed"
((failed == 0))
