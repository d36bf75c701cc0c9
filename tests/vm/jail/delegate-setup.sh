#!/bin/bash
# Root hook (root-setup.sh of the delegated payload): delegate cpuset and io to the user manager.
set -euo pipefail
mkdir -p /etc/systemd/system/user@.service.d
printf '[Service]\nDelegate=cpu cpuset io memory pids\n' >/etc/systemd/system/user@.service.d/delegate.conf
systemctl daemon-reload
systemctl restart user@1000.service
