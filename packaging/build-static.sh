#!/usr/bin/env bash
# make's release binary: jail with its C library inside, a static PIE.
#
#   packaging/build-static.sh musl|glibc OUT
#
# musl (make's default): glibc's start probes the CPU's caches with CPUID at every exec, which
# traps to the hypervisor in a VM (0.6 ms of a 3.4 ms launch where the benchmarks ran, most of
# what jail's own process cost from exec to main); musl's start is a few system calls. It needs
# a Rust standard library for the musl target, tried in this order:
#   1. cargo's toolchain has it (rustup target add TARGET): used as it is, with rustup's own
#      musl start files and libc;
#   2. a toolchain with the standard library's source (rustup component add rust-src; or
#      Debian's rustc-web, cargo-web and rust-web-src, at /usr/bin) builds it with jail
#      (cargo -Zbuild-std; RUSTC_BOOTSTRAP=1 lets a stable cargo take that flag), linked by
#      packaging/musl-cc with Debian's musl-tools and LLVM's libunwind (libunwind-14-dev).
# glibc: cargo's toolchain, glibc linked in; its NSS modules other than files and dns are
# loaded at run time from the glibc it was built with. musl has no NSS: user names come from
# /etc/passwd (and nscd), host names from /etc/hosts and DNS.
#
# CARGO, CARGO_FLAGS and CARGO_TARGET_DIR as make passes them.
set -euo pipefail

die() {
	echo "build-static: $*" >&2
	exit 1
}

(($# == 2)) || die "usage: $0 musl|glibc OUT"
libc=$1 out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here/.."
cargo=${CARGO:-cargo}
flags=${CARGO_FLAGS---locked}
tdir=${CARGO_TARGET_DIR:-target}
arch=$(uname -m)
target=$arch-unknown-linux-musl

# Puts cargo's artifact at OUT unless it is OUT already, only when it changed (so make's users
# see an unchanged binary as unchanged), by rename: OUT may be a hard link of an artifact
# cargo keeps (target/release/jail of a "cargo build --release"), which a copy would overwrite.
deliver() {
	[[ $1 -ef $out ]] && return
	cmp -s "$1" "$out" 2>/dev/null && return
	mkdir -p "$(dirname "$out")"
	cp -f "$1" "$out.new"
	mv -f "$out.new" "$out"
}

case $libc in
glibc)
	# Relative relocations packed (DT_RELR, glibc >= 2.36): the table glibc walks at every
	# start shrinks from 100 KiB to 1 KiB.
	# shellcheck disable=SC2086 # CARGO_FLAGS is a list of words
	"$cargo" rustc --release $flags --bin jail -- -C target-feature=+crt-static \
		-C link-arg=-Wl,-z,pack-relative-relocs
	deliver "$tdir/release/jail"
	exit
	;;
musl) ;;
*) die "LIBC=$libc: musl or glibc" ;;
esac

# The rustc a cargo runs: RUSTC, else the one beside it on PATH (rustup's proxy picks the same
# toolchain for both).
rustc=${RUSTC:-rustc}
has_std() { [[ -n $(compgen -G "$("$1" --print target-libdir --target "$target" 2>/dev/null)/libstd-*.rlib") ]]; }
has_src() { [[ -f $("$1" --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library/std/Cargo.toml ]]; }

if has_std "$rustc"; then
	# shellcheck disable=SC2086
	"$cargo" rustc --release $flags --target "$target" --bin jail
	deliver "$tdir/$target/release/jail"
	exit
fi
if ! has_src "$rustc"; then
	rustc=/usr/bin/rustc cargo=/usr/bin/cargo
	[[ -x $cargo ]] && has_src "$rustc" || die "no Rust standard library for $target, nor its source.
  Install one: rustup target add $target (or rustup component add rust-src), or Debian's
  rustc-web cargo-web rust-web-src musl-tools libunwind-14-dev; or build with glibc: make LIBC=glibc"
fi
musl_lib=/usr/lib/$arch-linux-musl
[[ -f $musl_lib/libc.a && -f $musl_lib/rcrt1.o ]] ||
	die "musl's static libc is not in $musl_lib: install Debian's musl-tools (musl-dev)"
unwind=$(compgen -G '/usr/lib/llvm-*/lib/libunwind.a' | sort -V | tail -n 1) || true
[[ -n $unwind ]] || die "LLVM's libunwind.a is not installed: Debian's libunwind-14-dev"
# The standard library is built from source for the target with jail (one more minute the
# first time; cargo keeps it under $tdir/$target). The flags after -- are the binary's own.
# shellcheck disable=SC2086
RUSTC=$rustc RUSTC_BOOTSTRAP=1 JAIL_MUSL_LIB=$musl_lib JAIL_UNWIND_LIB=$(dirname "$unwind") \
	"$cargo" rustc --release $flags --target "$target" -Zbuild-std=std,panic_abort --bin jail -- \
	-C link-self-contained=no -C linker="$here/musl-cc"
deliver "$tdir/$target/release/jail"
