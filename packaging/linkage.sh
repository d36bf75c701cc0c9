#!/bin/sh
# How a jail binary is linked, in one word:
#   dynamic   with a program interpreter (cargo build --release: glibc, dynamically)
#   musl      a static PIE with musl inside (make's default)
#   glibc     a static PIE with glibc inside (make LIBC=glibc)
# glibc's start files leave their ABI note (NT_GNU_ABI_TAG) in the binary; musl's leave none.
#
#   packaging/linkage.sh BINARY
set -eu
if readelf -l "$1" | grep -q 'Requesting program interpreter'; then
	echo dynamic
elif readelf -n "$1" | grep -q NT_GNU_ABI_TAG; then
	echo glibc
else
	echo musl
fi
