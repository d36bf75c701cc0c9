#!/usr/bin/env bash
# Packaging checks, as root: builds the .deb with "make deb" (reusing the release build when
# it is up to date), installs it with dpkg, checks what a user gets (jail on PATH, man jail,
# bash, zsh and fish completion, the AppArmor profile), removes and purges it and checks that
# nothing it installed is left, checks "make install DESTDIR=... PREFIX=/usr/local" file
# placement, and parses the RPM spec and the PKGBUILD.
#
# Quiet on success: one "PASS: ..." line per check. On failure, what failed and the output of
# the failing command, then exit 1.
#
# By default make deb packages make's release build (packaging/build-static.sh: static, musl),
# a no-op when that build is up to date.
#
# Uses: dpkg-deb, man-db, groff, bash-completion, zsh, fish (tests/tooling/setup-host.sh
# installs them) and rpm's rpmspec when present. Replaces an installed "jail" package.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pass() { printf 'PASS: %s\n' "$*"; }
fail() {
	printf 'FAIL: %s\n' "$1" >&2
	shift
	(($#)) && printf '%s\n' "$@" >&2
	exit 1
}
# Runs a command; its output is shown only if it fails.
quietly() {
	local out
	out=$("$@" 2>&1) || fail "$*" "$out"
}

if ((EUID != 0)); then
	[[ ${JAIL_TEST_MUST_WORK:-} == 1 ]] && fail "tests/packaging.sh must run as root (it installs the .deb)"
	echo "SKIP: tests/packaging.sh needs root (it installs the .deb)"
	exit 0
fi
for tool in dpkg-deb man groff bash zsh fish make cargo; do
	command -v "$tool" >/dev/null || fail "$tool not found (run tests/tooling/setup-host.sh as root)"
done
[[ -f /usr/share/bash-completion/bash_completion ]] || fail "bash-completion is not installed"

work=$(mktemp -d)
cleanup() {
	rm -rf "$work"
	# Leave no half-installed package behind after a failure.
	if dpkg-query -W -f='${Status}' jail 2>/dev/null | grep -q 'ok installed'; then
		dpkg --purge jail >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

# --- build and install the .deb -------------------------------------------------------------
out=$(make --no-print-directory deb 2>&1) || fail "make deb" "$out"
deb=$(tail -n 1 <<<"$out")
[[ -f $deb && $deb == *.deb ]] || fail "make deb did not print a .deb path" "$out"
fields=$(dpkg-deb --field "$deb" Package Version Recommends Depends)
grep -qx "Version: $version" <<<"$fields" || fail "the .deb's version is not $version" "$fields"
grep -q '^Recommends: .*uidmap' <<<"$fields" || fail "the .deb does not recommend uidmap" "$fields"
# make's build is a static PIE with musl inside: no C library, no package to depend on.
deb_bin=$(mktemp)
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/bin/jail >"$deb_bin"
headers=$(readelf -l "$deb_bin")
rm -f "$deb_bin"
grep -q 'DYN' <<<"$headers" && ! grep -q 'program interpreter' <<<"$headers" ||
	fail "the .deb's jail is not a static PIE (make builds one)" "$headers"
! grep -q '^Depends:' <<<"$fields" || fail "the .deb's static binary depends on a package" "$fields"
dpkg-deb --info "$deb" conffiles | grep -qx /etc/apparmor.d/jail ||
	fail "the AppArmor profile is not a conffile"
pass "make deb builds $(basename "$deb") (a static PIE, no Depends, Recommends uidmap, AppArmor profile as conffile)"

quietly dpkg --install "$deb"
mapfile -t installed < <(dpkg-query --listfiles jail)
pass "dpkg --install"

# --- what a user gets --------------------------------------------------------------------------
[[ $(command -v jail) == /usr/bin/jail ]] || fail "jail on PATH is $(command -v jail || echo nothing), not /usr/bin/jail"
got=$(jail --version 2>&1) || fail "jail --version" "$got"
[[ $got == "jail $version" ]] || fail "jail --version printed: $got"
pass "jail --version from PATH: $got"

page=$(man -w jail 2>&1) || fail "man -w jail" "$page"
[[ $page == /usr/share/man/man1/jail.1* ]] || fail "man -w jail found $page"
warnings=$(zcat -f "$page" | groff -ww -z -t -man 2>&1)
[[ -z $warnings ]] || fail "groff warns about $page" "$warnings"
pass "man -w jail: $page (renders without warnings)"

# bash: the completion is loaded on demand by bash-completion, from where the package put it.
got=$(bash --norc --noprofile -c '
	source /usr/share/bash-completion/bash_completion
	_completion_loader jail
	COMP_WORDS=(jail --ro) COMP_CWORD=1 COMP_LINE="jail --ro" COMP_POINT=9
	_jail jail --ro jail
	printf "%s\n" "${COMPREPLY[@]}"' 2>&1) || fail "bash completion" "$got"
grep -qx -- --ro-bind <<<"$got" || fail "bash: completing 'jail --ro' does not offer --ro-bind" "$got"
pass "bash: completing 'jail --ro' offers --ro-bind"

got=$(zsh -f -c '
	autoload -U compinit && compinit -u -D || exit 1
	[[ ${_comps[jail]} == _jail ]] || { print -r -- "no completion registered for jail"; exit 1; }
	autoload +X _jail' 2>&1) || fail "zsh: loading the completion for jail" "$got"
[[ -z $got ]] || fail "zsh: loading the completion for jail printed something" "$got"
pass "zsh: compinit finds _jail and loads it without error"

# A scratch home: no user configuration, and fish's own files go there.
got=$(HOME=$work XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data \
	fish -c 'complete --do-complete "jail --ro"' 2>&1) || fail "fish completion" "$got"
grep -q '^--ro-bind\b' <<<"$got" || fail "fish: completing 'jail --ro' does not offer --ro-bind" "$got"
pass "fish: loads the completion, 'jail --ro' offers --ro-bind"

# bubblewrap's name is offered, never taken: the link is the same file, and /usr/bin/bwrap is
# whatever it was before (Debian's bubblewrap, or nothing).
[[ /usr/libexec/jail/bwrap -ef /usr/bin/jail ]] || fail "/usr/libexec/jail/bwrap is not a hard link of /usr/bin/jail"
got=$(/usr/libexec/jail/bwrap --version 2>&1) || fail "/usr/libexec/jail/bwrap --version" "$got"
[[ $got == "bubblewrap 0.11.1 (jail $version in bubblewrap mode)" ]] || fail "/usr/libexec/jail/bwrap --version printed: $got"
if [[ -e /usr/bin/bwrap ]]; then
	[[ ! /usr/bin/bwrap -ef /usr/bin/jail ]] || fail "the package replaced /usr/bin/bwrap"
fi
pass "bubblewrap's name offered at /usr/libexec/jail/bwrap ($got), /usr/bin/bwrap untouched"

grep -qs '^profile jail /usr/bin/jail ' /etc/apparmor.d/jail ||
	fail "/etc/apparmor.d/jail is missing or does not name /usr/bin/jail"
if command -v apparmor_parser >/dev/null &&
	apparmor_parser --skip-kernel-load --skip-cache --quiet </etc/apparmor.d/jail >/dev/null 2>&1; then
	[[ ! -e /etc/apparmor.d/disable/jail ]] || fail "postinst disabled a profile this host's AppArmor can parse"
	pass "AppArmor profile installed and enabled"
else
	# No AppArmor, or one older than 4 that cannot parse it: postinst must have disabled it.
	[[ $(readlink /etc/apparmor.d/disable/jail 2>/dev/null) == ../jail ]] ||
		fail "no AppArmor here that can parse the profile, and postinst did not disable it"
	pass "AppArmor profile installed, and disabled: no AppArmor 4 here to parse it"
fi

# --- removal -----------------------------------------------------------------------------------
mapfile -t conffiles < <(dpkg-query -W -f='${Conffiles}\n' jail | awk 'NF { print $1 }')
quietly dpkg --remove jail
left=()
for f in "${installed[@]}"; do
	[[ -d $f && ! -L $f ]] && continue
	printf '%s\n' "${conffiles[@]}" | grep -qxF -- "$f" && continue
	[[ -e $f || -L $f ]] && left+=("$f")
done
((${#left[@]} == 0)) || fail "dpkg --remove left files behind" "${left[@]}"
pass "dpkg --remove removes every file but the conffiles (${#installed[@]} paths checked)"

quietly dpkg --purge jail
left=()
for f in "${installed[@]}" /etc/apparmor.d/disable/jail; do
	if [[ -L $f || (-e $f && ! -d $f) ]]; then
		left+=("$f")
	elif [[ -d $f ]] && ! dpkg-query --search "$f" >/dev/null 2>&1 && [[ -z $(ls -A "$f") ]]; then
		left+=("$f/ (empty, owned by no package)")
	fi
done
((${#left[@]} == 0)) || fail "dpkg --purge left files behind" "${left[@]}"
pass "dpkg --purge removes everything, the AppArmor profile and its disable link too"

# --- make install ------------------------------------------------------------------------------
dest=$work/dest
quietly make --no-print-directory install DESTDIR="$dest" PREFIX=/usr/local APPARMOR=1
expected=(
	/etc/apparmor.d/jail
	/usr/local/bin/jail
	/usr/local/libexec/jail/bwrap
	/usr/local/share/bash-completion/completions/jail
	/usr/local/share/fish/vendor_completions.d/jail.fish
	/usr/local/share/man/man1/jail.1
	/usr/local/share/zsh/vendor-completions/_jail
)
got=$(cd "$dest" && find . -type f -printf '/%P\n' | LC_ALL=C sort)
[[ $got == "$(printf '%s\n' "${expected[@]}")" ]] ||
	fail "make install DESTDIR=... PREFIX=/usr/local installed:" "$got" "expected:" "${expected[@]}"
[[ -x $dest/usr/local/bin/jail ]] || fail "make install: the binary is not executable"
grep -q '^profile jail /usr/local/bin/jail ' "$dest/etc/apparmor.d/jail" ||
	fail "make install APPARMOR=1: the profile does not name /usr/local/bin/jail"
grep -q '^profile jail-bwrap /usr/local/libexec/jail/bwrap ' "$dest/etc/apparmor.d/jail" ||
	fail "make install APPARMOR=1: the profile does not name /usr/local/libexec/jail/bwrap"
cmp -s completions/jail.bash "$dest/usr/local/share/bash-completion/completions/jail" ||
	fail "make install: the bash completion differs from completions/jail.bash"
pass "make install DESTDIR=... PREFIX=/usr/local puts every file in place"

# A directory that was there before keeps its other files; the ones install made go.
mkdir -p "$dest/usr/local/share/keep" && touch "$dest/usr/local/share/keep/other"
quietly make --no-print-directory uninstall DESTDIR="$dest" PREFIX=/usr/local APPARMOR=1
left=$(cd "$dest" && find . -mindepth 1 -printf '/%P\n' | LC_ALL=C sort)
want=$(printf '%s\n' /etc /usr /usr/local /usr/local/share /usr/local/share/keep /usr/local/share/keep/other)
[[ $left == "$want" ]] || fail "make uninstall left:" "$left" "expected:" "$want"
pass "make uninstall removes every file and the directories it left empty"

# --- RPM spec and PKGBUILD ---------------------------------------------------------------------
if command -v rpmspec >/dev/null; then
	got=$(rpmspec -q --qf '%{name} %{version}\n' packaging/rpm/jail.spec 2>&1) ||
		fail "rpmspec cannot parse packaging/rpm/jail.spec" "$got"
	[[ $got == "jail $version" ]] || fail "packaging/rpm/jail.spec is version '$got', Cargo.toml $version"
	pass "rpmspec parses packaging/rpm/jail.spec (jail $version)"
elif [[ ${JAIL_TEST_MUST_WORK:-} == 1 ]]; then
	fail "rpmspec not found (Debian package rpm)"
else
	echo "SKIP: rpmspec not found (Debian package rpm)"
fi
got=$(bash -c 'set -eu; source packaging/arch/PKGBUILD
	declare -F prepare build check package >/dev/null
	printf "%s %s\n" "$pkgname" "$pkgver"' 2>&1) || fail "packaging/arch/PKGBUILD does not source cleanly" "$got"
[[ $got == "jail $version" ]] || fail "packaging/arch/PKGBUILD is '$got', Cargo.toml $version"
pass "packaging/arch/PKGBUILD sources cleanly (jail $version)"
