# shellcheck shell=bash
# Shared by the jail test payloads run in the VM as `tester` (see ../jail-tests.sh).
# Each check prints PASS/FAIL; the payload ends with the summary line and its status.

passed=0
failed=0
# shellcheck disable=SC2034 # used by the payloads
J=./jail

pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# The longest one check may run: far above any check's time in the emulated guest (the
# slowest, a Debian tree's import, takes seconds), far below the VM runner's limit, so a check
# that stalls fails with what was waiting where, and the payload still reports the rest.
CHECK_LIMIT=${CHECK_LIMIT:-300}

# kill_tree PID: kills PID and every process below it, the deepest first (killed first, a
# parent's children would be reparented out of reach).
kill_tree() {
	local c
	for c in $(pgrep -P "$1"); do kill_tree "$c"; done
	kill -KILL "$1" 2>/dev/null || true
}

# bounded CMD...: runs CMD (with the caller's stdin); past CHECK_LIMIT seconds, prints the
# user's processes with the kernel function each sleeps in, and kills CMD and all below it.
bounded() {
	local pid dog rc=0
	"$@" <&0 &
	pid=$!
	{
		sleep "$CHECK_LIMIT" &
		trap 'kill $! 2>/dev/null; wait $!; exit 0' TERM
		wait $!
		echo "STALLED: still running after $CHECK_LIMIT s, killed: $*"
		ps -u "$(id -u)" -o pid,ppid,stat,wchan:32,etime,args --forest
		kill_tree "$pid"
	} &
	dog=$!
	wait "$pid" || rc=$?
	kill "$dog" 2>/dev/null || true
	wait "$dog" 2>/dev/null || true
	return "$rc"
}

# expect NAME WANT_STATUS CMD...: runs CMD (bounded), keeps its output in $out, checks the
# status.
expect() {
	local name=$1 want=$2 rc=0
	shift 2
	out=$(bounded "$@" 2>&1) || rc=$?
	if [[ $rc == "$want" ]]; then
		pass "$name (exit $rc)"
	else
		fail "$name: exit $rc, wanted $want"
		printf '%s\n' "$out" | sed 's/^/    /' | tail -20
	fi
}

# contains NAME TEXT: $out must contain TEXT.
contains() {
	if grep -qF -- "$2" <<<"$out"; then pass "$1"; else
		fail "$1: output lacks '$2'"
		printf '%s\n' "$out" | sed 's/^/    /' | tail -20
	fi
}

# json FILE KEY: a number (or null) from a --stats-json report.
json() { grep -o "\"$2\":[^,}]*" "$1" | cut -d: -f2; }

# No jail scope may remain once jail is gone (systemd collects empty scopes).
no_scopes_left() {
	local name=$1 left
	for _ in $(seq 50); do
		left=$(systemctl --user list-units --all --plain --no-legend 'jail-*.scope' | wc -l)
		[[ $left == 0 ]] && break
		sleep 0.2
	done
	if [[ $left == 0 ]]; then pass "$name: no jail scope left"; else
		fail "$name: $left jail scope(s) left"
		systemctl --user list-units --all --plain --no-legend 'jail-*.scope' | sed 's/^/    /'
	fi
}

finish() {
	echo "$passed passed, $failed failed"
	[[ $failed == 0 ]]
}
