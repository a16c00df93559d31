#!/usr/bin/env bash
# The deploy job's migration step (.github/workflows/deploy.yml), runnable anywhere.
#
#   DATABASE_URL            the database (a secret: never printed; the runner masks it)
#   MIGRATE_ACTION          migrate | rollback | status            (default migrate)
#   MIGRATE_TARGET_VERSION  version number to migrate up to, or to roll back to (required for rollback)
#   MIGRATE_DRY_RUN         true: show the status and the SQL, change nothing (default false)
#   GITHUB_STEP_SUMMARY     file the markdown summary is appended to (default: none)
#   GITHUB_OUTPUT           file the step outputs are appended to (default: none):
#                           from, to (the database's version before and after), applied (the
#                           versions applied or rolled back, comma-separated)
#   MIGRATE_ARTIFACT_DIR    directory the SQL preview is written to (migration.sql), for the job
#                           to upload; the summary shows the SQL inline only when it fits
#   MIGRATE_SUMMARY_SQL_LIMIT  bytes of SQL shown inline at most (default 900 KiB: GitHub's
#                           limit is 1 MiB for a step's whole summary)
#   MIGRATE_BACKUP_DIR      directory (on the runner's side: a volume the operator names) a backup
#                           of the database is written to before anything changes (--backup); its
#                           path goes into the summary and the output `backup`. Never uploaded.
#   MIGRATE_BACKUP_KEEP     with MIGRATE_BACKUP_DIR: keep that many newest backups (--backup-keep)
#   MIGRATE_BACKUP_OPTIONAL true: a failed backup is a warning, not a failed job (--backup-optional)
#
# Writes the status table and the SQL about to run into the summary, then applies. Warnings of
# the runner (a database ahead of the image, unknown versions, differences tolerated at
# adoption) go into the summary and become annotations. A migrate whose target is below the
# database's version fails (exit 5) and points at rollback: it is never a green "nothing to do".
# Exit codes are the runner's (0 ok, 1 migration failed, 2 bad input, 3 connection, 4 lock,
# 5 refused).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
outputs="${GITHUB_OUTPUT:-/dev/null}"
artifacts="${MIGRATE_ARTIFACT_DIR:-}"
sql_limit="${MIGRATE_SUMMARY_SQL_LIMIT:-921600}"
action="${MIGRATE_ACTION:-migrate}"
target="${MIGRATE_TARGET_VERSION:-}"
dry_run="${MIGRATE_DRY_RUN:-false}"
work="$(mktemp -d)"
: >"$work/warnings"
from=""
applied=""

if [ -n "${TIMETRACK_MIGRATE:-}" ]; then
  runner_command=("$TIMETRACK_MIGRATE")
elif command -v timetrack-migrate >/dev/null 2>&1; then
  runner_command=(timetrack-migrate)
else
  runner_command=(dotnet run --project "$here/../TimeTrack.Migrations.Runner" --)
fi
runner() { "${runner_command[@]}" "$@"; }

# A cancelled deploy job stops the container (docker run --init: tini passes the signal to this
# script): the runner gets it too, rolls back and releases its lock (signals.sh).
# shellcheck source=deploy/signals.sh
. "$here/signals.sh"

md() { printf '%s\n' "$@" >>"$summary"; }

fail() { # exit code, message: one line in the log and in the summary
  printf 'ci-migrate: %s\n' "$2" >&2
  md "### :x: ${2}" ""
  exit "$1"
}

# Runs the runner, keeping its stdout in $work/out and stderr in $work/err (both shown in the
# log); its warnings are collected for the summary.
capture() {
  if [ -n "$stop_signal" ]; then # stopped between two runs: start no other
    code="$(signal_exit_code)"
    : >"$work/out"
    printf 'error: interrupted by SIG%s before %s\n' "$stop_signal" "$1" >"$work/err"
  else
    run_forwarding_signals "${runner_command[@]}" "$@" >"$work/out" 2>"$work/err"
  fi
  cat "$work/out"
  cat "$work/err" >&2
  grep '^warning:' "$work/err" >>"$work/warnings" || true
  return "$code"
}

# The database's current version (status --json), or empty when it cannot be read.
current_version() {
  runner status --json 2>/dev/null | sed -nE 's/^  "current": ([0-9]+),?$/\1/p' || true
}

# A row of the overview table that opens `status --markdown` (| current version | 202407010900 |,
# | history | managed |): read from the status the summary shows anyway, instead of asking the
# runner again (each run is a process start and a connection). Its first word only.
status_row() { sed -nE "s/^\| $1 \| ([a-z0-9]+).*/\1/p" "$2"; }

# At exit, whatever happened: warnings into the summary (and as annotations), step outputs.
finish() {
  local to=""
  if [ -s "$work/warnings" ]; then
    md "### :warning: Warnings" ""
    sort -u "$work/warnings" | sed 's/^warning: /- /' >>"$summary"
    md ""
    sort -u "$work/warnings" | sed 's/^warning: /::warning title=Database migration::/'
  fi
  if [ -s "$work/after" ]; then
    to="$(status_row 'current version' "$work/after")"
  elif [ -n "$from" ]; then
    to="$(current_version)"
  fi
  printf 'from=%s\nto=%s\napplied=%s\n' "$from" "$to" "$applied" >>"$outputs"
  rm -rf "$work"
}
trap finish EXIT

error_line() { grep -m1 '^error:' "$work/err" | sed 's/^error: //' || true; }

case "$action" in migrate | rollback | status) ;; *) fail 2 "MIGRATE_ACTION must be migrate, rollback or status, not '${action}'" ;; esac
case "$dry_run" in true | false) ;; *) fail 2 "MIGRATE_DRY_RUN must be true or false, not '${dry_run}'" ;; esac
case "${MIGRATE_BACKUP_OPTIONAL:-false}" in true | false) ;; *) fail 2 "MIGRATE_BACKUP_OPTIONAL must be true or false, not '${MIGRATE_BACKUP_OPTIONAL}'" ;; esac
[ -n "${DATABASE_URL:-}" ] || fail 2 "DATABASE_URL is not set (the environment's DATABASE_URL secret)"
if [ -n "$target" ] && ! [[ "$target" =~ ^[0-9]+$ ]]; then
  fail 2 "MIGRATE_TARGET_VERSION must be a version number, not '${target}'"
fi
if [ "$action" = rollback ] && [ -z "$target" ]; then
  fail 2 "a rollback needs MIGRATE_TARGET_VERSION (the version number to bring the database to; 0 undoes everything)"
fi

md "## Database migration: ${action}${target:+ to ${target}}$([ "$dry_run" = true ] && echo ' (dry run)')" ""

code=0
capture status --markdown --wait 30 || code=$?
[ "$code" -eq 0 ] || fail "$code" "status failed: $(error_line)"
md "### Status before" "" "$(cat "$work/out")" ""
cp "$work/out" "$work/before"
from="$(status_row 'current version' "$work/before")"
[ "$action" = status ] && exit 0

direction=up
[ "$action" = rollback ] && direction=rollback
to=()
[ -n "$target" ] && to=(--to "$target")

# A database with tables but no migration history is adopted as the container start does it
# (init: verified against the stamping profiles, then stamped), never migrated blindly; an empty
# one is a fresh deployment. The SQL preview exists only for a database with a history.
history="$(status_row history "$work/before")"
apply=("$direction")
if [ "$direction" = up ] && [ "$history" = none ]; then # "none: tables without migration history"
  apply=(init)
  md "### Adoption" "" "The database has tables but no migration history: it is verified against the stamping profiles and stamped (as the container start does), then migrated." ""
else
  code=0
  capture script "$direction" "${to[@]}" || code=$?
  # A migrate never goes down: a target below the database's version must not end in a green
  # "nothing to do" (runners before issue 9 planned nothing; newer ones refuse with exit 5).
  # The message says what to do in this workflow. An unknown version is the runner's exit 2.
  if [ "$action" = migrate ] && [ -n "$target" ] && [ -n "$from" ] && [ "$((10#$target))" -lt "$from" ] \
     && { [ "$code" -eq 0 ] || [ "$code" -eq 5 ]; }; then
    fail 5 "the database is at ${from}, above the target ${target}: a migrate never rolls back. To go down, run this workflow with action 'rollback', target_version ${target} and the image that is deployed now (README: rolling back)"
  fi
  [ "$code" -eq 0 ] || fail "$code" "cannot plan the ${action}: $(error_line)"

  sql_bytes="$(wc -c <"$work/out")"
  if [ -n "$artifacts" ]; then
    mkdir -p "$artifacts"
    cp "$work/out" "$artifacts/migration.sql"
  fi
  if [ "$sql_bytes" -le "$sql_limit" ]; then
    md "### SQL about to run" "" '```sql' "$(cat "$work/out")" '```' ""
  elif [ -n "$artifacts" ]; then
    md "### SQL about to run" "" "${sql_bytes} bytes: too large for the job summary (GitHub's limit is 1 MiB); it is in the artifact \`migration-sql\` (migration.sql)." ""
  else
    md "### SQL about to run" "" "${sql_bytes} bytes: too large for the job summary (GitHub's limit is 1 MiB); the first ${sql_limit} bytes:" "" '```sql' "$(head -c "$sql_limit" "$work/out")" '```' ""
  fi
fi

if [ "$dry_run" = true ]; then
  md "Dry run: nothing was changed."
  exit 0
fi

# As the entrypoint passes them (the runner checks the values).
backup=()
if [ -n "${MIGRATE_BACKUP_DIR:-}" ]; then
  backup=(--backup "$MIGRATE_BACKUP_DIR")
  [ -z "${MIGRATE_BACKUP_KEEP:-}" ] || backup+=(--backup-keep "$MIGRATE_BACKUP_KEEP")
  [ "${MIGRATE_BACKUP_OPTIONAL:-false}" = false ] || backup+=(--backup-optional)
fi
code=0
capture "${apply[@]}" "${to[@]}" "${backup[@]}" || code=$?
backup_file="$(sed -n 's/^backup written: //p' "$work/err" | head -n 1)"
if [ -n "$backup_file" ]; then
  md "Backup before the change: \`${backup_file}\` (on the runner's side; not uploaded)" ""
  printf 'backup=%s\n' "${backup_file%% (*}" >>"$outputs"
fi
applied="$(sed -nE 's/^(applied|rolled back) ([0-9]+) .*/\2/p' "$work/out" | paste -sd, -)"
if [ "$code" -ne 0 ]; then
  md "### :x: The ${action} failed (exit ${code})" "" "> $(error_line)" "" '```' "$(cat "$work/out")" '```'
  exit "$code"
fi
md "### :white_check_mark: Done" "" '```' "$(cat "$work/out")" '```' ""

if capture status --markdown >/dev/null; then cp "$work/out" "$work/after"; fi
md "### Status after" "" "$(cat "$work/out")"
