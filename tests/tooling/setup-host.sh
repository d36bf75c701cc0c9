#!/usr/bin/env bash
# Prepare a Debian 12 host for jail's integration tests: install the Debian
# packages they use and create the unprivileged test user with subordinate
# id ranges. Idempotent and quiet when nothing needs doing.
#
# As root it fixes what is missing; as anyone else it only checks, lists what
# is missing and exits 1 if anything is.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
	busybox-static debootstrap uidmap bubblewrap qemu-system-x86 groff-base
	man-db bash-completion zsh fish python3 e2fsprogs util-linux procps
	iproute2
	# the D-Bus client's unit test talks to a private dbus-daemon.
	dbus-daemon
	# tests/packaging.sh: make deb, and rpmspec to parse the RPM spec.
	make rpm
	# debootstrap verifies the mirror's Release file against this keyring.
	debian-archive-keyring
)
# make's musl build (packaging/build-static.sh): a Rust with its standard library's source, to
# build that library for musl, musl's static libc, and LLVM's unwinder. Without Recommends:
# rustc-web's would add a whole LLVM toolchain the build does not use.
BUILD_PACKAGES=(rustc-web cargo-web rust-web-src musl-tools libunwind-14-dev)

missing_packages() {
	local p
	for p in "${PACKAGES[@]}" "${BUILD_PACKAGES[@]}"; do
		# "ii" = wanted and fully installed; anything else (absent, half
		# configured, removed with config left) needs an install.
		[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] ||
			printf '%s\n' "$p"
	done
}

# Prints one line per problem with unprivileged user namespaces, which every
# rootless test needs.
userns_problems() {
	local f=/proc/sys/kernel/unprivileged_userns_clone # Debian kernels only
	if [[ -r $f && $(<"$f") == 0 ]]; then echo "sysctl kernel.unprivileged_userns_clone=0"; fi
	f=/proc/sys/user/max_user_namespaces
	if [[ -r $f && $(<"$f") == 0 ]]; then echo "sysctl user.max_user_namespaces=0"; fi
	f=/proc/sys/kernel/apparmor_restrict_unprivileged_userns # Ubuntu 23.10+
	if [[ -r $f && $(<"$f") == 1 ]]; then echo "sysctl kernel.apparmor_restrict_unprivileged_userns=1"; fi
	return 0
}

# Checks only; used when not root.
check_only() {
	local problems=() p
	mapfile -t p < <(missing_packages)
	((${#p[@]} == 0)) || problems+=("Debian packages not installed: ${p[*]}")
	if ! id -u "$JAIL_TEST_USER" >/dev/null 2>&1; then
		problems+=("test user $JAIL_TEST_USER does not exist")
	else
		subid_range /etc/subuid "$JAIL_TEST_USER" >/dev/null ||
			problems+=("no range of $JAIL_TEST_SUBID_COUNT subordinate uids for $JAIL_TEST_USER in /etc/subuid")
		subid_range /etc/subgid "$JAIL_TEST_USER" >/dev/null ||
			problems+=("no range of $JAIL_TEST_SUBID_COUNT subordinate gids for $JAIL_TEST_USER in /etc/subgid")
	fi
	mapfile -t p < <(userns_problems)
	((${#p[@]} == 0)) || problems+=("unprivileged user namespaces disabled: ${p[*]}")
	if ((${#problems[@]})); then
		echo "${0##*/}: this host is not ready for jail's tests:" >&2
		printf '  - %s\n' "${problems[@]}" >&2
		echo "Run this script as root to fix it: sudo $0" >&2
		exit 1
	fi
}

# Runs a command with its output held back, shown only if it fails (apt
# prints debconf chatter on stderr even with -qq).
quietly() {
	local out
	if ! out=$("$@" </dev/null 2>&1); then
		printf '%s\n' "$out" >&2
		die "failed: $*"
	fi
}

install_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	((${#missing[@]})) || return 0
	export DEBIAN_FRONTEND=noninteractive
	# Update only when needed: it is the slow, network-bound part. A fresh
	# machine has no package lists at all, so it is needed there.
	quietly apt-get update -qq
	# With Recommends, as a developer's plain "apt-get install" would, so CI
	# sees the same packages a hand-prepared machine has.
	local build=() others=() p
	for p in "${missing[@]}"; do
		if [[ " ${BUILD_PACKAGES[*]} " == *" $p "* ]]; then build+=("$p"); else others+=("$p"); fi
	done
	((${#others[@]} == 0)) || quietly apt-get install -y -qq "${others[@]}"
	((${#build[@]} == 0)) || quietly apt-get install -y -qq --no-install-recommends "${build[@]}"
	echo "installed: ${missing[*]}"
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) || die "packages still missing after install: ${missing[*]}"
}

# The first free id after every range already in FILE (and at least the
# login.defs-style minimum), so a range appended there overlaps nothing.
next_free_subid() {
	awk -F: 'BEGIN { end = 100000 } NF >= 3 && $2 + $3 > end { end = $2 + $3 } END { print end }' "$1"
}

ensure_subids() {
	local file=$1 opt=$2 start
	subid_range "$file" "$JAIL_TEST_USER" >/dev/null && return 0
	touch "$file"
	start=$(next_free_subid "$file")
	# usermod takes the shadow-utils lock on the file while editing it.
	usermod "$opt" "$start-$((start + JAIL_TEST_SUBID_COUNT - 1))" "$JAIL_TEST_USER"
}

ensure_user() {
	if ! id -u "$JAIL_TEST_USER" >/dev/null 2>&1; then
		# -U: own group named after the user; -m: home dir; useradd on
		# Debian 12 also allots subordinate ids when /etc/subuid exists.
		useradd -m -U -s /bin/bash -c "jail test user" "$JAIL_TEST_USER"
	fi
	ensure_subids /etc/subuid --add-subuids
	ensure_subids /etc/subgid --add-subgids
}

ensure_userns() {
	local f=/proc/sys/kernel/unprivileged_userns_clone
	# Only the runtime value: a test host setup should not rewrite sysctl.d.
	if [[ -w $f && $(<"$f") == 0 ]]; then echo 1 >"$f"; echo "enabled kernel.unprivileged_userns_clone"; fi
	f=/proc/sys/user/max_user_namespaces
	if [[ -w $f && $(<"$f") == 0 ]]; then echo 65536 >"$f"; echo "raised user.max_user_namespaces"; fi
	f=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
	if [[ -r $f && $(<"$f") == 1 ]]; then
		# Changing AppArmor policy is the host owner's call; say so loudly.
		echo "warning: kernel.apparmor_restrict_unprivileged_userns=1 will make rootless tests fail" >&2
	fi
	return 0
}

if ((EUID != 0)); then
	check_only
	exit 0
fi

install_packages
ensure_user
ensure_userns
