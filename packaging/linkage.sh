#!/bin/sh
# How a jail binary is linked, in one word, or with --describe in the words the benchmarks print:
#   dynamic   with a program interpreter (cargo build --release: glibc, dynamically)
#   musl      a static PIE with musl inside (make's default)
#   glibc     a static PIE with glibc inside (make LIBC=glibc)
# glibc's start files leave their ABI note (NT_GNU_ABI_TAG) in the binary; musl's leave none.
#
#   packaging/linkage.sh [--describe] BINARY
set -eu
describe=
[ "$1" = --describe ] && describe=1 && shift
if readelf -l "$1" | grep -q 'Requesting program interpreter'; then
	set -- dynamic "linked dynamically with glibc"
elif readelf -n "$1" | grep -q NT_GNU_ABI_TAG; then
	set -- glibc "a static PIE with glibc, as make LIBC=glibc builds it"
else
	set -- musl "a static PIE with musl, as make builds it"
fi
if [ -n "$describe" ]; then echo "$2"; else echo "$1"; fi
