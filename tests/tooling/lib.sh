# shellcheck shell=bash
# Shared helpers for the test tooling scripts; sourced, not run.
# Callers may also source it to look up the test user's ids the same way the
# fixtures were built (see jail_test_ids).

# The unprivileged user the integration tests run as. Overridable so a
# developer can reuse an existing account, but CI uses the default.
JAIL_TEST_USER="${JAIL_TEST_USER:-jailtest}"

# Where built root filesystem trees are cached; outside the repo so a fresh
# clone (as CI does) reuses them on a kept machine.
JAIL_TEST_CACHE="${JAIL_TEST_CACHE:-/var/cache/jail-test}"

# Size of the subordinate id range the tests need: a full 16-bit id space so
# that every id a Debian tree uses (up to nobody=65534) can be mapped.
JAIL_TEST_SUBID_COUNT=65536

die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# subid_range FILE USER -> prints "START COUNT" of the first range for USER
# (matched by name or numeric uid, as newuidmap does) that holds at least
# JAIL_TEST_SUBID_COUNT ids; prints nothing and fails if there is none.
subid_range() {
	local file=$1 user=$2 uid
	uid=$(id -u "$user" 2>/dev/null) || return 1
	[[ -r $file ]] || return 1
	awk -F: -v name="$user" -v uid="$uid" -v need="$JAIL_TEST_SUBID_COUNT" '
		($1 == name || $1 == uid) && $3 + 0 >= need { print $2, $3; found = 1; exit }
		END { exit !found }
	' "$file"
}

# jail_test_ids: sets JAIL_TEST_UID, JAIL_TEST_GID, JAIL_TEST_SUBUID_START,
# JAIL_TEST_SUBUID_COUNT, JAIL_TEST_SUBGID_START and JAIL_TEST_SUBGID_COUNT
# for JAIL_TEST_USER, or dies saying what is missing.
jail_test_ids() {
	local r
	JAIL_TEST_UID=$(id -u "$JAIL_TEST_USER" 2>/dev/null) ||
		die "test user $JAIL_TEST_USER does not exist (run tests/tooling/setup-host.sh as root)"
	JAIL_TEST_GID=$(id -g "$JAIL_TEST_USER")
	r=$(subid_range /etc/subuid "$JAIL_TEST_USER") ||
		die "no range of $JAIL_TEST_SUBID_COUNT ids for $JAIL_TEST_USER in /etc/subuid"
	read -r JAIL_TEST_SUBUID_START JAIL_TEST_SUBUID_COUNT <<<"$r"
	r=$(subid_range /etc/subgid "$JAIL_TEST_USER") ||
		die "no range of $JAIL_TEST_SUBID_COUNT ids for $JAIL_TEST_USER in /etc/subgid"
	read -r JAIL_TEST_SUBGID_START JAIL_TEST_SUBGID_COUNT <<<"$r"
	export JAIL_TEST_UID JAIL_TEST_GID JAIL_TEST_SUBUID_START JAIL_TEST_SUBUID_COUNT \
		JAIL_TEST_SUBGID_START JAIL_TEST_SUBGID_COUNT
}
