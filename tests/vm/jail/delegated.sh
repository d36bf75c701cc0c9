#!/bin/bash
# With the Delegate drop-in (cpuset and io delegated to the user), --cpuset pins the command.
set -uo pipefail
cd "$(dirname "$0")" || exit 125
# shellcheck source=common.sh
. ./common.sh

expect "--cpuset 0 pins the command" 0 $J --cpuset 0 -- grep Cpus_allowed_list /proc/self/status
contains "only CPU 0" "Cpus_allowed_list:	0"
expect "--io-weight 50 is accepted and read back" 0 $J --io-weight 50 --mem 32M -- true
expect "jail doctor passes with all controllers" 0 $J doctor
contains "doctor lists every controller" "ok       delegated controllers"
no_scopes_left "after the runs"
finish
