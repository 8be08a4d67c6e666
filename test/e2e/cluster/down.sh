#!/usr/bin/env bash
# Stops the control plane that up.sh started and removes its state folder.
#   down.sh [STATE_DIR]     (default: $MESHLOCK_E2E_DIR)
#   MESHLOCK_E2E_KEEP=1     keep the state folder (logs, audit log) for inspection
# Only the PIDs recorded in STATE_DIR/pids are signalled, and only while they still run
# the binary up.sh started (a PID can be reused after a process exits).
set -uo pipefail
D="${1:-${MESHLOCK_E2E_DIR:-}}"
log() { echo "[e2e down] $*" >&2; }
[ -n "$D" ] || { log "usage: down.sh STATE_DIR (or set MESHLOCK_E2E_DIR)"; exit 2; }
[ -d "$D" ] || { log "$D does not exist: nothing to stop"; exit 0; }
[ -f "$D/.meshlock-e2e" ] || { log "$D is not a meshlock e2e state folder (no .meshlock-e2e marker): refusing"; exit 2; }

ours() { # pid name: true while pid still runs the binary named name
  local exe
  exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 1
  [ "$(basename "${exe% (deleted)}")" = "$2" ]
}

if [ -f "$D/pids" ]; then
  # Stop in reverse start order: kube-apiserver before etcd.
  tac "$D/pids" | while read -r name pid; do
    [ -n "${pid:-}" ] || continue
    if ! ours "$pid" "$name"; then
      log "$name ($pid) already gone"
      continue
    fi
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do ours "$pid" "$name" || break; sleep 0.1; done
    if ours "$pid" "$name"; then
      log "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null
      for _ in $(seq 1 50); do ours "$pid" "$name" || break; sleep 0.1; done
    fi
    if ours "$pid" "$name"; then log "$name ($pid) still running"; else log "stopped $name ($pid)"; fi
  done
  rm -f "$D/pids"
fi

if [ "${MESHLOCK_E2E_KEEP:-}" = 1 ]; then
  log "kept $D"
else
  rm -rf "$D"
  log "removed $D"
fi
