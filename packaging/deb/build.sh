#!/usr/bin/env bash
# Turns a tree staged by "make install DESTDIR=ROOT PREFIX=/usr APPARMOR=1" into a .deb:
#   packaging/deb/build.sh ROOT VERSION OUTDIR
# Adds Debian's conventions (compressed man page, copyright file, md5sums), the control file
# (architecture from dpkg, Depends from the binary's shared libraries), the AppArmor profile as
# a conffile, and the maintainer scripts next to this file. Prints the .deb's path.
set -euo pipefail

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

(($# == 3)) || die "usage: $0 ROOT VERSION OUTDIR"
root=$1 version=$2 outdir=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -x $root/usr/bin/jail ]] || die "$root/usr/bin/jail missing: stage with make install first"
[[ -f $root/etc/apparmor.d/jail ]] || die "$root/etc/apparmor.d/jail missing: stage with APPARMOR=1"
[[ -n $version ]] || die "empty version"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

arch=$(dpkg --print-architecture)

# Debian policy: man pages compressed, reproducibly.
gzip -9nf "$root/usr/share/man/man1/jail.1"

doc=$root/usr/share/doc/jail
install -d -m 0755 "$doc"
cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: jail
Comment: A rootless Linux sandbox.

Files: *
Copyright: the jail developers
License: MIT or Apache-2.0
 On Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.
 .
 Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 and associated documentation files (the "Software"), to deal in the Software without
 restriction, including without limitation the rights to use, copy, modify, merge, publish,
 distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 Software is furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
 BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
EOF
chmod 0644 "$doc/copyright"

# Depends: what the binary links against. dpkg-shlibdeps knows the packages' symbol versions;
# without it (no dpkg-dev), the newest glibc symbol version the binary uses is the floor. A
# static binary (make's build) has its C library inside: with musl (make's default) it needs no
# package; with glibc (make LIBC=glibc), glibc loads NSS modules other than files and dns at run
# time, and those must be the glibc it was built with: this upstream version.
depends() {
	local bin=$1 tmp line v
	case $("$here/../linkage.sh" "$bin") in
	musl) return 0 ;;
	glibc)
		v=$(getconf GNU_LIBC_VERSION | sed 's/^glibc //')
		echo "libc6 (>= $v), libc6 (<< ${v%%.*}.$((${v#*.} + 1)))"
		return
		;;
	esac
	if command -v dpkg-shlibdeps >/dev/null; then
		tmp=$(mktemp -d)
		mkdir "$tmp/debian"
		printf 'Source: jail\n\nPackage: jail\nArchitecture: any\n' >"$tmp/debian/control"
		if line=$(cd "$tmp" && dpkg-shlibdeps -O "$bin" 2>/dev/null); then
			rm -rf "$tmp"
			line=${line#shlibs:Depends=}
			[[ -n $line ]] && { echo "$line"; return; }
		fi
		rm -rf "$tmp"
	fi
	v=$( (objdump -T "$bin" 2>/dev/null || readelf --dyn-syms -W "$bin") |
		grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)
	# build.rs links GCC's unwinder statically: libgcc_s only if a build still asks for it.
	if readelf -d "$bin" | grep -q 'NEEDED.*libgcc_s'; then
		echo "libc6 (>= ${v:-2.34}), libgcc-s1"
	else
		echo "libc6 (>= ${v:-2.34})"
	fi
}

install -d -m 0755 "$root/DEBIAN"
find "$root" -type d -exec chmod 0755 {} +
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
deps=$(depends "$(realpath "$root/usr/bin/jail")")
cat >"$root/DEBIAN/control" <<EOF
Package: jail
Version: $version
Architecture: $arch
Maintainer: jail developers <jail@localhost>
Installed-Size: $size
${deps:+Depends: $deps
}Recommends: uidmap
Suggests: apparmor
Section: utils
Priority: optional
Description: rootless sandbox for Linux in one unprivileged binary
 jail runs a command in new user, mount, pid, network, ipc, uts and cgroup
 namespaces, on a fresh tmpfs root assembled from bind mounts (the host
 read-only by default, or a debootstrap or Alpine-style tree), after
 pivot_root, with no capabilities. No setuid helper, no daemon, no root.
 .
 Its filesystem options are bubblewrap's, applied in command-line order.
 The package uidmap (newuidmap, newgidmap) is needed for --map-subids. The
 AppArmor profile in /etc/apparmor.d/jail lets jail create user namespaces
 where AppArmor restricts them (Ubuntu 23.10 and later).
EOF
echo /etc/apparmor.d/jail >"$root/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$here/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
	LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$outdir"
deb="$outdir/jail_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
