#!/usr/bin/env bash
# jail's limit tests in the systemd VM: three boots, one with the default delegation (cpu memory
# pids), one with the Delegate drop-in (cpuset io too), and the mission's own command line on a
# Debian tree made by jail rootfs import. Usage: tests/vm/jail-tests.sh JAIL_BIN
# Prints each payload's PASS/FAIL lines and a total "N passed, N failed" line.
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
bin=${1:?usage: $0 JAIL_BINARY}
work=$(mktemp -d /var/tmp/jail-vm-payload.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The mission payload carries a Debian tree as an archive for `jail rootfs import` inside the
# VM: the fixture tree, packed once and kept next to it (keyed by the fixture's stamp). The
# fixture is owned in the test user's subordinate mapping, so it is packed from inside that
# mapping (jail --map-subids as the test user): the archive holds the tree's own ids, 0 for root.
cache=${JAIL_TEST_CACHE:-/var/cache/jail-test}
archive=$cache/bookworm.tar.gz
if [[ ! -f $archive || $archive -ot $cache/bookworm.stamp ]]; then
	[[ -f $cache/bookworm.stamp ]] || { echo "FAIL mission: no fixture tree in $cache (tests/tooling/fixtures.sh)"; exit 1; }
	u=${JAIL_TEST_USER:-jailtest}
	setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups "$bin" --map-subids --uid 0 --gid 0 \
		--cap-add ALL --ro-bind / / -- tar --numeric-owner -cz -C "$cache/bookworm" . >"$archive.tmp" &&
		mv "$archive.tmp" "$archive" || { echo "FAIL mission: packing the fixture tree failed"; exit 1; }
fi

total_pass=0 total_fail=0 status=0
for payload in limits delegated mission; do
	dir=$work/$payload
	mkdir -p "$dir"
	cp "$bin" "$dir/jail"
	cp "$here/jail/common.sh" "$dir/"
	cp "$here/jail/$payload.sh" "$dir/test.sh"
	[[ $payload == delegated ]] && cp "$here/jail/delegate-setup.sh" "$dir/root-setup.sh"
	[[ $payload == mission ]] && cp "$archive" "$dir/bookworm.tar.gz"
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
