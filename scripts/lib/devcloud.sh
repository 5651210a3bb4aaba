# Sourced (not run) by examples/demo.sh and tests/install/*.sh: one way to start and stop a
# runbeam-devcloud on loopback, seeded with examples/devcloud/seed.toml.
#
#   devcloud_start OUT ERR   starts "$DEVCLOUD" with stdout to OUT and stderr to ERR; sets
#                            DEVCLOUD_PID and DEVCLOUD_URL (the first line it prints). Returns 1,
#                            with ERR on stderr, when it printed no URL within 10 s or exited.
#   devcloud_stop            stops it (safe to call when it never started; for an EXIT trap).

DEVCLOUD_SEED=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/examples/devcloud/seed.toml
DEVCLOUD_PID=
DEVCLOUD_URL=

devcloud_start() {
  local out=$1 err=$2
  "$DEVCLOUD" --listen 127.0.0.1:0 --seed "$DEVCLOUD_SEED" >"$out" 2>"$err" &
  DEVCLOUD_PID=$!
  DEVCLOUD_URL=
  for _ in $(seq 1 100); do
    DEVCLOUD_URL=$(head -n 1 "$out")
    [ -n "$DEVCLOUD_URL" ] && return 0
    kill -0 "$DEVCLOUD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "runbeam-devcloud ($DEVCLOUD) did not start:" >&2
  cat "$err" >&2
  return 1
}

devcloud_stop() {
  if [ -n "$DEVCLOUD_PID" ]; then
    kill "$DEVCLOUD_PID" 2>/dev/null
    wait "$DEVCLOUD_PID" 2>/dev/null
  fi
  return 0
}
