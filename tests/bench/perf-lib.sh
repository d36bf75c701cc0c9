# shellcheck shell=bash
# For the scripts that record with perf (profile.sh, phases.sh).

# Root (perf records every CPU) and Debian's perf at hand, installed when missing.
perf_ready() { # the calling script's name, for its message
	((EUID == 0)) || { echo "$1: run as root (perf records every CPU)" >&2; exit 1; }
	command -v perf >/dev/null && return
	timeout 600 apt-get install -y -q linux-perf >&2 ||
		{ timeout 300 apt-get update -q >&2 && timeout 600 apt-get install -y -q linux-perf >&2; }
}
