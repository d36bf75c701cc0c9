#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it.
#
# As root on a fresh Debian 12 machine: installs the Debian packages the tests use, creates the
# unprivileged test user, builds the cached fixture trees (and the systemd test VM image), then
# runs every tier: formatting and lints; unit, fake-syscall, kernel and escape tests (the built
# binary run as the test user); generated-file drift; the packages; and the cgroup limit tests
# inside a throw-away systemd VM. As a normal user it checks the host and runs the tiers that
# need no root (no packages, no VM).
#
# JAIL_TEST_MUST_WORK=1 (CI) turns every skip into a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
root=0
((EUID == 0)) && root=1

step "host setup"
tests/tooling/setup-host.sh
if ((root)); then
	tests/tooling/fixtures.sh
fi

step "format and lints"
cargo fmt --check
cargo clippy --locked --all-targets --quiet -- -D warnings

step "unit, fake-syscall, kernel, escape and generated-file tests"
cargo test --locked

step "release build"
make --no-print-directory --quiet build

step "kernel, escape, bubblewrap-mode and tree tests again, on the release binary (musl, static)"
JAIL_TEST_BIN=$PWD/target/release/jail cargo test --locked --test kernel --test escape --test bwrap --test trees

if ((root)); then
	step "packages"
	tests/packaging.sh

	step "limits in a systemd VM (cgroup v2, user manager)"
	tests/vm/jail-tests.sh target/release/jail
elif [[ ${JAIL_TEST_MUST_WORK:-} == 1 ]]; then
	echo "JAIL_TEST_MUST_WORK=1: the package and VM tiers need root" >&2
	exit 1
else
	echo "SKIP: packages and VM tests need root"
fi
