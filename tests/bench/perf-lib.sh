# shellcheck shell=bash
# For the scripts that record with perf (profile.sh, phases.sh, waits.sh).

# Root (perf records every CPU) and Debian's perf at hand, installed when missing.
perf_ready() { # the calling script's name, for its message
	((EUID == 0)) || { echo "$1: run as root (perf records every CPU)" >&2; exit 1; }
	command -v perf >/dev/null && return
	timeout 600 apt-get install -y -q linux-perf >&2 ||
		{ timeout 300 apt-get update -q >&2 && timeout 600 apt-get install -y -q linux-perf >&2; }
}

# Records $runs launches of jail ($1) and of Debian's bwrap on the same view, as the test
# user, each binary under a name of its own (jail-traced, bwrap-traced) so that its events are
# told from everything else's. The rest of the arguments are perf record's (the events). Leaves
# the current directory in a scratch directory, removed at exit, with jail-traced.data and
# bwrap-traced.data.
record_launches() { # jail binary, runs, perf record options...
	local bin=$1 runs=$2 user=${JAIL_TEST_USER:-jailtest} launcher
	shift 2
	work=$(mktemp -d /var/tmp/jail-perf.XXXXXX)
	trap 'rm -rf "$work"' EXIT
	chmod 755 "$work"
	cp "$bin" "$work/jail-traced"
	cp "$(command -v bwrap)" "$work/bwrap-traced"
	local as=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups)
	local view=(--ro-bind / / --proc /proc --dev /dev --tmpfs /tmp) args
	cd "$work"
	for launcher in jail-traced bwrap-traced; do
		args=("${view[@]}" -- true)
		[[ $launcher == bwrap-traced ]] && args=(--unshare-all --die-with-parent "${view[@]}" true)
		timeout 600 perf record -q -a "$@" -o "$launcher.data" -- "${as[@]}" \
			bash -c 'for _ in $(seq "$1"); do "${@:2}" >/dev/null; done' run "$runs" "./$launcher" "${args[@]}" 2>/dev/null
	done
}
