#!/usr/bin/env bash
# Runs a command with a real, unlocked Secret Service (gnome-keyring-daemon) on a private
# D-Bus session, so the keyring tests exercise the same backend as a Linux desktop:
#
#   dbus-run-session -- bash scripts/with-keyring.sh <command> [args...]
#
# Everything is throw-away: fresh XDG dirs under a temp directory, a random keyring password,
# and the daemon exits with the D-Bus session.
set -euo pipefail
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  echo "with-keyring.sh: run me inside dbus-run-session" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_DATA_HOME=$tmp/data XDG_RUNTIME_DIR=$tmp/runtime
mkdir -p "$XDG_DATA_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"
head -c 24 /dev/urandom | base64 \
  | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
export RUNBEAM_TEST_SECRET_SERVICE=1
"$@"
