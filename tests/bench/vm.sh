#!/usr/bin/env bash
# Benchmark (not a test): launch cost with limits inside the systemd test VM, next to
# systemd-run --user --scope. Usage: tests/bench/vm.sh [JAIL_BINARY] (root: boots the VM).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=${1:-target/release/jail}
[[ -x $bin ]] || cargo build --release --locked --quiet
dir=$(mktemp -d /var/tmp/jail-vm-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/jail"
cp tests/vm/jail/bench.sh "$dir/test.sh"
tests/vm/run.sh "$dir" 1200
