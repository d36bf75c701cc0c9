#!/usr/bin/env bash
# Benchmarks (not tests): jail against bubblewrap in the same run, as ratios.
#   startup     jail -- true (also without reports, with an idle --allow-host proxy, and as
#               bwrap) vs bwrap with the same namespaces and a similar view
#   binds       N read-only binds (jail stays linear; bwrap re-reads mountinfo per bind)
#   seccomp     a syscall-heavy job under no filter, a one-instruction allow-all filter, and
#               jail's default policy
# Usage: tests/bench/run.sh [JAIL_BINARY]  (default target/release/jail; runs as the caller,
# or as $JAIL_TEST_USER when root). Needs hyperfine and bwrap (tests/tooling/setup-host.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=${1:-target/release/jail}
[[ -x $bin ]] || cargo build --release --quiet
work=$(mktemp -d /var/tmp/jail-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
cp "$bin" "$work/jail"
as=()
if ((EUID == 0)); then
	user=${JAIL_TEST_USER:-jailtest}
	as=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups)
fi
cd "$work"
J=("${as[@]}" ./jail)
B=("${as[@]}" bwrap)

echo "== startup (hyperfine, mean)"
# jail's default, the same without the refusal report and with an idle --allow-host proxy,
# jail as bwrap, and bwrap itself on the same command line.
view="--unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp -- true"
hyperfine -N --warmup 10 --runs 200 --export-json startup.json \
	"${J[*]} -- true" \
	"${J[*]} --report=none -- true" \
	"${J[*]} --allow-host example.org -- true" \
	"${as[*]} ./jail --bwrap $view" \
	"${B[*]} $view" >/dev/null
python3 - startup.json <<'PY'
import json, sys
r = [x["mean"] * 1e3 for x in json.load(open(sys.argv[1]))["results"]]
print(f"jail {r[0]:.2f} ms (--report=none {r[1]:.2f}, idle --allow-host proxy {r[2]:.2f} ms: +{r[2] - r[0]:.2f})")
print(f"as bwrap {r[3]:.2f} ms, bwrap {r[4]:.2f} ms: jail-as-bwrap/bwrap = {r[3] / r[4]:.2f}, jail/bwrap = {r[0] / r[4]:.2f}")
PY

echo "== read-only binds"
mkdir -p src
for n in 100 1000 2000; do
	args=()
	for ((i = 0; i < n; i++)); do
		mkdir -p "src/d$i"
		args+=(--ro-bind "$work/src/d$i" "/tmp/d/d$i")
	done
	chmod -R a+rX src
	t0=$(date +%s%N); "${J[@]}" --ro-bind / / --tmpfs /tmp "${args[@]}" -- true; t1=$(date +%s%N)
	"${B[@]}" --ro-bind / / --tmpfs /tmp "${args[@]}" -- true; t2=$(date +%s%N)
	j=$(((t1 - t0) / 1000000)) b=$(((t2 - t1) / 1000000))
	echo "$n binds: jail ${j} ms, bwrap ${b} ms"
done

echo "== seccomp cost (dd, 1-byte reads and writes: 2 syscalls per byte)"
printf '\x06\x00\x00\x00\x00\x00\xff\x7f' >allow-all.bpf
count=2000000
run() { # label, jail args...
	local label=$1 t0 t1
	shift
	t0=$(date +%s%N)
	"${J[@]}" "$@" -- dd if=/dev/zero of=/dev/null bs=1 count=$count status=none 9<allow-all.bpf
	t1=$(date +%s%N)
	echo "$label $(((t1 - t0) / (2 * count)))"
}
for _ in 1 2 3; do
	run none --seccomp-policy off --allow-userns --landlock=off
	run allow-all --seccomp-policy off --allow-userns --add-seccomp-fd 9 --landlock=off
	run default --landlock=off
done | awk '{ s[$1] += $2; n[$1]++ } END {
	printf "ns per syscall (mean of 3): no filter %.1f, allow-all %.1f, jail default %.1f\n", s["none"]/n["none"], s["allow-all"]/n["allow-all"], s["default"]/n["default"]
	printf "default vs allow-all: %+.1f%%\n", (s["default"] - s["allow-all"]) * 100 / s["allow-all"] }'
