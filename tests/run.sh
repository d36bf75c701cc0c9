#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it.
#
# As root on a fresh Debian 12 machine: installs the Debian packages the tests use, creates the
# unprivileged test user, builds the cached fixture trees, then runs every tier: formatting and
# lints, unit and fake-syscall tests, and the kernel tests (the built binary run as the test
# user). As a normal user it checks the host and runs the same tests as that user.
#
# JAIL_TEST_MUST_WORK=1 (CI) turns every skipped kernel test into a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "host setup"
tests/tooling/setup-host.sh
if ((EUID == 0)); then
	tests/tooling/fixtures.sh
fi

step "format and lints"
cargo fmt --check
cargo clippy --locked --all-targets --quiet -- -D warnings

step "unit, fake-syscall and kernel tests"
cargo test --locked
