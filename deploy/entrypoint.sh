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
  status=0
  "$runner" init --to "$target" --wait "$wait_seconds" || status=$?
  if [ "$status" -ne 0 ]; then
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
