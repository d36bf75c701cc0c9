#!/bin/bash
# Run as root in the guest by tests/vm/run.sh before the test: delegate every
# controller jail can use to the user manager (Debian's user@.service only
# delegates cpu memory pids), then restart it so the change takes effect.
set -euo pipefail
mkdir -p /etc/systemd/system/user@.service.d
printf '[Service]\nDelegate=cpu cpuset io memory pids\n' \
    >/etc/systemd/system/user@.service.d/delegate.conf
systemctl daemon-reload
systemctl restart user@1000.service
