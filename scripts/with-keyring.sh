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
# RUNBEAM_TEST_KEYRING_PASSWORD (tests only) fixes the password, for a test that locks the
# collection and unlocks it again (tests/e2e/tests/keyring.rs); otherwise it is random.
password=${RUNBEAM_TEST_KEYRING_PASSWORD:-$(head -c 24 /dev/urandom | base64)}
printf '%s' "$password" \
  | gnome-keyring-daemon --unlock --components=secrets --daemonize >/dev/null
unset password
# --daemonize returns before the daemon owns its bus name: a client that came first would make
# D-Bus start a second, locked daemon by service activation. Wait for ours (5 s at most).
for _ in $(seq 50); do
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
    | grep -q 'boolean true' && break
  sleep 0.1
done
export RUNBEAM_TEST_SECRET_SERVICE=1
"$@"
