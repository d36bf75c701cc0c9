#!/usr/bin/env bash
# Build the root filesystem trees jail's integration tests run in, cached in
# ${JAIL_TEST_CACHE:-/var/cache/jail-test} (outside the repo, so they survive
# fresh clones):
#
#   busybox/   static busybox with one symlink per applet; owned by root.
#   bookworm/  debootstrap minbase (+procps) of Debian bookworm, with its
#              ownership shifted for rootless use by the test user: inside a
#              user namespace mapping "0 -> test user, 1..65536 -> the test
#              user's subordinate range" it looks root-owned as usual.
#
# Each tree has a sibling NAME.stamp (shell-sourceable KEY=VALUE lines) that
# records what it was built from; a tree is reused only when its stamp matches,
# and is built in a temporary sibling renamed into place when complete.
# Run as root, after setup-host.sh. Prints one line per tree.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Bump a version when changing what its builder puts into the tree, so
# existing caches are rebuilt.
BUSYBOX_VERSION=1
BOOKWORM_VERSION=2
SUITE=bookworm

# Debian's interpreter, not whatever python3 a developer has first on PATH.
PYTHON=/usr/bin/python3

# Trees must be readable by the test user whatever root's umask is.
umask 022

((EUID == 0)) || die "run as root: it builds root-owned trees and chowns into subordinate id ranges"
for cmd in debootstrap flock runuser "$PYTHON"; do
	command -v "$cmd" >/dev/null || die "$cmd not found (run tests/tooling/setup-host.sh first)"
done
[[ -x /bin/busybox ]] || die "/bin/busybox not found (install busybox-static)"

jail_test_ids
CACHE=$(realpath -m "$JAIL_TEST_CACHE")

# Removes a (possibly half built) tree. An interrupted debootstrap can leave
# /proc or /sys mounted inside it, so unmount those first (deepest first) and
# never let rm cross into another filesystem.
remove_tree() {
	local dir=$1 m
	[[ -e $dir || -L $dir ]] || return 0
	while read -r m; do
		umount -l "$m" || true
	done < <(awk -v p="$dir/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	rm -rf --one-file-system "$dir"
}

# The first Debian archive URI in the apt configuration (sources.list, then
# sources.list.d/*.list and *.sources in apt's order), skipping the security
# archive and -updates/-backports style suites. JAIL_TEST_MIRROR overrides.
debian_mirror() {
	if [[ -n ${JAIL_TEST_MIRROR:-} ]]; then
		printf '%s\n' "$JAIL_TEST_MIRROR"
		return
	fi
	"$PYTHON" - <<'EOF'
import glob, os, re, sys

def one_line(path):
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.split("#", 1)[0].strip()
        m = re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if m:
            yield m.group(1), [m.group(2)], m.group(3).split()

def deb822(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    for para in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in para.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split(), fields.get("components", "").split()

def entries():
    if os.path.isfile("/etc/apt/sources.list"):
        yield from one_line("/etc/apt/sources.list")
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*")):
        if path.endswith(".list"):
            yield from one_line(path)
        elif path.endswith(".sources"):
            yield from deb822(path)

candidates = [
    uri.rstrip("/")
    for uri, suites, components in entries()
    if re.match(r"(https?|file):", uri)
    and "security" not in uri.lower()
    and "main" in components
    and any("-" not in s and "/" not in s for s in suites)
]
if not candidates:
    sys.exit("no Debian archive URI found in the apt configuration; set JAIL_TEST_MIRROR")
print(candidates[0])
EOF
}

# Writes NAME.stamp atomically; done last, so a stamp means a complete tree.
write_stamp() {
	printf '%s\n' "$2" >"$1.tmp"
	mv -f "$1.tmp" "$1"
}

# build_fixture NAME STAMP_CONTENT BUILDER: reuses CACHE/NAME when its stamp
# matches, else runs "BUILDER DIR" on a temporary sibling and swaps it in.
TMP_TREE=
build_fixture() {
	local name=$1 stamp=$2 builder=$3 dest="$CACHE/$1" old="$CACHE/.$1.old.$$" t0=$SECONDS
	if [[ -d $dest && -f $dest.stamp && "$(<"$dest.stamp")" == "$stamp" ]]; then
		echo "fixture $name: cached"
		return
	fi
	# The old tree (if any) stops being valid now, whatever happens next.
	rm -f "$dest.stamp"
	TMP_TREE="$CACHE/.$name.tmp.$$"
	remove_tree "$TMP_TREE"
	"$builder" "$TMP_TREE"
	if [[ -e $dest || -L $dest ]]; then mv -T "$dest" "$old"; fi
	mv -T "$TMP_TREE" "$dest"
	TMP_TREE=
	write_stamp "$dest.stamp" "$stamp"
	remove_tree "$old"
	echo "fixture $name: built in $((SECONDS - t0)) s"
}

build_busybox() {
	local t=$1 d p
	for d in bin sbin usr/bin usr/sbin etc proc dev sys home run; do
		install -d -m 0755 "$t/$d"
	done
	install -d -m 1777 "$t/tmp" "$t/var/tmp"
	install -d -m 0700 "$t/root"
	install -m 0755 /bin/busybox "$t/bin/busybox"
	# --list-full gives each applet's install path, e.g. usr/bin/env. Skip
	# top-level ones (linuxrc): they are for initramfs use, not a rootfs.
	while read -r p; do
		[[ $p == */* && $p != bin/busybox ]] || continue
		install -d -m 0755 "$t/${p%/*}"
		ln -sfn /bin/busybox "$t/$p"
	done < <("$t/bin/busybox" --list-full)
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$t/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$t/etc/group"
	echo busybox >"$t/etc/hostname"
	chmod 0755 "$t"
}

# Rewrites every owner in the tree: id 0 -> the test user's uid/gid, id N ->
# subordinate start + N - 1. Run in python for speed and exact lchown.
shift_ownership() {
	"$PYTHON" - "$1" "$JAIL_TEST_UID" "$JAIL_TEST_GID" \
		"$JAIL_TEST_SUBUID_START" "$JAIL_TEST_SUBUID_COUNT" \
		"$JAIL_TEST_SUBGID_START" "$JAIL_TEST_SUBGID_COUNT" <<'EOF'
import os, stat, sys

top = sys.argv[1]
uid, gid, suid, suid_n, sgid, sgid_n = map(int, sys.argv[2:])
CAP = "security.capability"

def shifted(n, base, start, count, what, path):
    if n == 0:
        return base
    if n > count:
        sys.exit(f"{path}: {what} {n} is outside the {count} subordinate ids")
    return start + n - 1

root_dev = os.lstat(top).st_dev
seen = set()  # hard-linked inodes already shifted (a second pass would shift twice)

def shift(path, st):
    if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
    caps = None
    if stat.S_ISREG(st.st_mode):
        try:
            caps = os.getxattr(path, CAP, follow_symlinks=False)
        except OSError:
            pass
    os.chown(path,
             shifted(st.st_uid, uid, suid, suid_n, "uid", path),
             shifted(st.st_gid, gid, sgid, sgid_n, "gid", path),
             follow_symlinks=False)
    # chown drops setuid/setgid bits and file capabilities: put them back.
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode))
    if caps is not None:
        os.setxattr(path, CAP, caps, follow_symlinks=False)

def fail(err):
    raise err

shift(top, os.lstat(top))
for dirpath, dirnames, filenames in os.walk(top, onerror=fail):
    descend = []
    for name in dirnames + filenames:
        path = os.path.join(dirpath, name)
        st = os.lstat(path)
        if st.st_dev != root_dev:
            continue  # a mount point: not part of the tree
        shift(path, st)
        if stat.S_ISDIR(st.st_mode) and name in dirnames:
            descend.append(name)
    dirnames[:] = descend
EOF
}

# Drops cached .debs that the tree just built does not use, so the package
# cache does not grow with every point release.
prune_deb_cache() {
	local t=$1 cache=$2 keep
	keep=$(dpkg-query --admindir="$t/var/lib/dpkg" -W -f='${Package}_${Version}_${Architecture}.deb\n' |
		sed 's/:/%3a/g')
	find "$cache" -maxdepth 1 -type f -name '*.deb' -print0 |
		while IFS= read -r -d '' f; do
			grep -qxF "${f##*/}" <<<"$keep" || rm -f "$f"
		done
}

build_bookworm() {
	local t=$1 mirror log="$CACHE/bookworm.log" debs="$CACHE/debs"
	mirror=$(debian_mirror)
	# Keep downloaded .debs across rebuilds (e.g. after a test user change).
	install -d -m 0755 "$debs"
	if ! debootstrap --variant=minbase --include=procps --cache-dir="$debs" \
		"$SUITE" "$t" "$mirror" >"$log" 2>&1 </dev/null; then
		tail -n 20 "$log" >&2
		die "debootstrap of $SUITE from $mirror failed; full log in $log"
	fi
	prune_deb_cache "$t" "$debs"
	rm -rf "$t"/var/cache/apt/archives/*.deb "$t"/var/cache/apt/archives/partial/*
	# debootstrap copies the build host's name and resolver in; keep the tree
	# host-neutral (tests have no network to resolve names on anyway).
	echo "$SUITE" >"$t/etc/hostname"
	rm -f "$t/etc/resolv.conf"
	install -m 0644 /dev/null "$t/etc/resolv.conf"
	shift_ownership "$t"
	chmod 0755 "$t"
}

on_exit() {
	if [[ -n $TMP_TREE ]]; then remove_tree "$TMP_TREE"; fi
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install -d -m 0755 "$CACHE"
chmod 0755 "$CACHE"
# The whole point is that the test user can use the trees: check before
# building that it can reach them (a JAIL_TEST_CACHE under /root could not).
runuser -u "$JAIL_TEST_USER" -- test -x "$CACHE" ||
	die "$JAIL_TEST_USER cannot reach $CACHE; choose a JAIL_TEST_CACHE on a world-traversable path"
# One run at a time: concurrent runs would race on the renames.
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	echo "waiting for another fixtures.sh run to finish" >&2
	flock 9
fi
# Under the lock, any temporary tree left behind is from a dead run.
for d in "$CACHE"/.*.tmp.* "$CACHE"/.*.old.*; do
	remove_tree "$d"
done

busybox_sum=$(sha256sum /bin/busybox)
build_fixture busybox "FIXTURE=busybox
FIXTURE_VERSION=$BUSYBOX_VERSION
BUSYBOX_SHA256=${busybox_sum%% *}" build_busybox

build_fixture bookworm "FIXTURE=bookworm
FIXTURE_VERSION=$BOOKWORM_VERSION
SUITE=$SUITE
JAIL_TEST_USER=$JAIL_TEST_USER
JAIL_TEST_UID=$JAIL_TEST_UID
JAIL_TEST_GID=$JAIL_TEST_GID
JAIL_TEST_SUBUID_START=$JAIL_TEST_SUBUID_START
JAIL_TEST_SUBUID_COUNT=$JAIL_TEST_SUBUID_COUNT
JAIL_TEST_SUBGID_START=$JAIL_TEST_SUBGID_START
JAIL_TEST_SUBGID_COUNT=$JAIL_TEST_SUBGID_COUNT" build_bookworm
