#!/usr/bin/env bash
# Container entrypoint: bring the database to the wanted version, then exec the command.
#
#   DATABASE_URL            where the database is (see the README); the runner's default otherwise
#   MIGRATE_ON_START        false: skip migrating (and waiting); default true
#   MIGRATE_TARGET_VERSION  a version number to bring the database to, up or down; default head
#   MIGRATE_WAIT_SECONDS    how long to wait for the database to accept connections; default 60
#
# With a command ("$@"), it runs only after a successful migration: one image can migrate and
# then start the application, or (without a command) migrate as a one-shot service. On failure
# the runner's exit code is the container's, and the application never starts.
set -euo pipefail

log() { printf 'entrypoint: %s\n' "$*" >&2; }

runner="${TIMETRACK_MIGRATE:-timetrack-migrate}"
migrate="${MIGRATE_ON_START:-true}"
target="${MIGRATE_TARGET_VERSION:-head}"
wait_seconds="${MIGRATE_WAIT_SECONDS:-60}"

case "${migrate,,}" in
  true | 1 | yes) migrate=true ;;
  false | 0 | no) migrate=false ;;
  *)
    log "MIGRATE_ON_START must be true or false, not '${migrate}'"
    exit 2
    ;;
esac

if [ "$migrate" = true ]; then
  log "migrating to ${target} (waiting up to ${wait_seconds} s for the database)"
  # docker stop and Kubernetes send SIGTERM to this script (PID 1), not to the runner: a shell
  # waiting for a command in the foreground would not pass it on, and the runner would be
  # SIGKILLed mid-migration at the end of the grace period. So the runner runs in the background
  # and gets the signal, stops cleanly (its step rolled back, its lock released) and exits 143/130.
  # (A background command ignores SIGINT unless told otherwise: hence the trap - INT.)
  (trap - INT && exec "$runner" init --to "$target" --wait "$wait_seconds") &
  runner_pid=$!
  trap 'kill -TERM "$runner_pid" 2>/dev/null || true' TERM
  trap 'kill -INT "$runner_pid" 2>/dev/null || true' INT
  # A trapped signal ends `wait` early: wait until the runner has really ended, then take its
  # exit status (bash keeps it for a later `wait`).
  while kill -0 "$runner_pid" 2>/dev/null; do
    wait "$runner_pid" || true
  done
  status=0
  wait "$runner_pid" || status=$?
  trap - TERM INT
  if [ "$status" -eq 130 ] || [ "$status" -eq 143 ]; then
    log "migration interrupted by a signal (exit ${status}): not starting the application"
    exit "$status"
  elif [ "$status" -ne 0 ]; then
    log "migration failed (exit ${status}): not starting the application"
    exit "$status"
  fi
  log "database ready"
else
  log "MIGRATE_ON_START=false: not migrating"
fi

if [ "$#" -eq 0 ]; then
  exit 0
fi

log "starting ${1}"
exec "$@"
