#!/usr/bin/env bash
# Container entrypoint. Two ways to use the image:
#
#   docker run IMAGE status | up | rollback --to V | init | stamp ... | script ... | check ... | restore FILE
#                    | mark-current | new | baseline | --help | --version | --<runner option> ...
#                    | timetrack-migrate ... | migrate.sh ... | ci-migrate.sh
#       runs that runner command (or helper) and nothing else: no start-up migration first.
#   docker run IMAGE                  migrates (see below) and exits: a one-shot migrate service
#   docker run IMAGE <any command>    migrates, then exec's the command (the application)
#
#   DATABASE_URL             where the database is (see the README); also DATABASE_URL_FILE,
#                            DATABASE_PASSWORD(_FILE), read by the runner itself. With none of
#                            them set, MIGRATE_DEFAULT_DATABASE_URL (the image: sqlite:////data/timetrack.db)
#   MIGRATE_ON_START         false: skip migrating (and waiting); default true
#   MIGRATE_TARGET_VERSION   a version number to bring the database to; default head
#   MIGRATE_ALLOW_DOWNGRADE  true: allow MIGRATE_TARGET_VERSION below the database's version
#                            (a rollback at start-up); default false: refused with exit 5
#   MIGRATE_WAIT_SECONDS     how long to wait for the database to accept connections; default 60
#   MIGRATE_BACKUP_DIR       a directory (a mounted volume): before the start-up migration changes
#                            anything, a backup of the database is written there (init --backup);
#                            none when there is nothing to do. Default: no backup
#   MIGRATE_BACKUP_KEEP      keep this many newest backups of the database there (--backup-keep)
#   MIGRATE_BACKUP_OPTIONAL  true: a failed backup is a warning, the migration goes ahead; default
#                            false: the migration stops (exit 1) with nothing changed
#
# The start-up migration runs only before an application command or alone; on failure the
# runner's exit code is the container's and the application never starts. SIGTERM/SIGINT
# received meanwhile are passed on to the runner (which rolls back and releases its lock), and
# the container exits with the runner's code (143/130) without starting the application.
set -euo pipefail

log() { printf 'entrypoint: %s\n' "$*" >&2; }

runner="${TIMETRACK_MIGRATE:-timetrack-migrate}"
migrate="${MIGRATE_ON_START:-true}"
target="${MIGRATE_TARGET_VERSION:-head}"
allow_downgrade="${MIGRATE_ALLOW_DOWNGRADE:-false}"
wait_seconds="${MIGRATE_WAIT_SECONDS:-60}"
default_url=false

# The image's default database, unless one is configured in any of the runner's ways: the
# runner's own default (sqlite:///timetrack.db in the working directory) suits a checkout, not
# an image, whose /app is read-only to the app user. Not an ENV of the image: the runner
# refuses DATABASE_URL and DATABASE_URL_FILE together, and one is given at run time.
if [ -n "${MIGRATE_DEFAULT_DATABASE_URL:-}" ] && [ -z "${DATABASE_URL:-}" ] && [ -z "${TIMETRACK_DATABASE_URL:-}" ] \
   && [ -z "${DATABASE_URL_FILE:-}" ]; then
  export DATABASE_URL="$MIGRATE_DEFAULT_DATABASE_URL"
  default_url=true
fi

# A runner command or helper: exec it as it is (it becomes PID 1, or tini's child, and gets the
# stop signal directly). Migrating first would change the database before a `status` or a
# `script up` preview, and replay a start-up rollback before a manual one.
case "${1:-}" in
  status | init | up | rollback | stamp | mark-current | script | check | new | baseline | restore | -*)
    exec "$runner" "$@"
    ;;
  timetrack-migrate | migrate.sh | ci-migrate.sh)
    exec "$@"
    ;;
esac

for pair in "MIGRATE_ON_START=$migrate" "MIGRATE_ALLOW_DOWNGRADE=$allow_downgrade" "MIGRATE_BACKUP_OPTIONAL=${MIGRATE_BACKUP_OPTIONAL:-false}"; do
  case "${pair#*=}" in
    true | false) ;;
    *)
      log "${pair%%=*} must be true or false, not '${pair#*=}'"
      exit 2
      ;;
  esac
done

# SIGTERM/SIGINT are passed on to the runner (signals.sh beside this script).
# shellcheck source=deploy/signals.sh
. "$(dirname "${BASH_SOURCE[0]}")/signals.sh"

run_runner() { run_forwarding_signals "$runner" "$@"; } # sets $code

stopped() { # a stop signal arrived: never go on to the next step
  [ -n "$stop_signal" ] || return 0
  if [ "$code" -eq 0 ]; then # the runner had just finished: still stop, as the signal asked
    code="$(signal_exit_code)"
  fi
  log "migration interrupted by a signal (exit ${code}): not starting the application"
  exit "$code"
}

if [ "$migrate" = true ]; then
  if [ "$default_url" = true ]; then
    log "no DATABASE_URL or DATABASE_URL_FILE given: using the image's default ${DATABASE_URL}"
  fi
  # A target below the database's version is a rollback; left in an .env file it would roll
  # production back on every start: the runner refuses it (exit 5) unless allowed here.
  downgrade=()
  if [ "$allow_downgrade" = true ]; then
    downgrade=(--allow-downgrade)
    log "MIGRATE_ALLOW_DOWNGRADE=true: a database above ${target} is rolled back to it (remove both settings after this start)"
  fi

  # A backup before the first change (the runner takes none when there is nothing to do).
  backup=()
  if [ -n "${MIGRATE_BACKUP_DIR:-}" ]; then
    backup=(--backup "$MIGRATE_BACKUP_DIR")
    [ -z "${MIGRATE_BACKUP_KEEP:-}" ] || backup+=(--backup-keep "$MIGRATE_BACKUP_KEEP")
    [ "${MIGRATE_BACKUP_OPTIONAL:-false}" = false ] || backup+=(--backup-optional)
  fi

  log "migrating to ${target} (waiting up to ${wait_seconds} s for the database)"
  run_runner init --to "$target" --wait "$wait_seconds" "${downgrade[@]}" "${backup[@]}"
  stopped
  if [ "$code" -ne 0 ]; then
    log "migration failed (exit ${code}): not starting the application"
    exit "$code"
  fi
  log "database ready"
else
  log "MIGRATE_ON_START=false: not migrating"
fi

trap - TERM INT
if [ "$#" -eq 0 ]; then
  exit 0
fi

log "starting ${1}"
exec "$@"
