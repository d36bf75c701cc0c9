#!/usr/bin/env bash
# Installs the hakoniwa CLI (crate hakoniwa-cli, a pinned version) for the benchmarks, into a
# cache outside the repo keyed by version, and prints the binary's path. A cached build is
# reused as it is. Not a test: nothing in CI runs it.
# Usage: tests/bench/hakoniwa.sh  (root: installs libseccomp-dev when missing)
# Env: JAIL_BENCH_CACHE   cache root (default /var/cache/jail-bench)
#      HAKONIWA_VERSION   the version to build (default below)
set -euo pipefail
version=${HAKONIWA_VERSION:-1.8.0}
cache=${JAIL_BENCH_CACHE:-/var/cache/jail-bench}
root=$cache/hakoniwa-$version
bin=$root/bin/hakoniwa
log() { printf 'hakoniwa.sh: %s\n' "$*" >&2; }
if [[ -x $bin ]] && "$bin" --version >/dev/null 2>&1; then
	echo "$bin"
	exit 0
fi
command -v cargo >/dev/null || { log "cargo not found"; exit 1; }
# The libseccomp crate links the system library, found through pkg-config.
need=()
for p in pkg-config libseccomp-dev; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || need+=("$p")
done
if ((${#need[@]})); then
	((EUID == 0)) || { log "needs ${need[*]} (run as root, or apt-get install them)"; exit 1; }
	log "installing ${need[*]}"
	timeout 600 apt-get install -y -q "${need[@]}" >&2 ||
		{ timeout 300 apt-get update -q >&2 && timeout 600 apt-get install -y -q "${need[@]}" >&2; }
fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.hakoniwa-$version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "building hakoniwa-cli $version (a few minutes)"
# Its own target dir under the cache (never the repo's), removed with the temp dir; the install
# lands in a temp root renamed into place when complete, so a failed build leaves nothing half done.
CARGO_TARGET_DIR=$tmp/target timeout 1800 cargo install --quiet --locked --version "$version" \
	--root "$tmp/root" hakoniwa-cli >&2
"$tmp/root/bin/hakoniwa" --version >/dev/null
chmod -R a+rX "$tmp/root"
chmod 755 "$cache"
rm -rf "$root"
mv "$tmp/root" "$root"
echo "$bin"
