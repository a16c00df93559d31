#!/usr/bin/env bash
# The deploy job's migration step (.github/workflows/deploy.yml), runnable anywhere.
#
#   DATABASE_URL            the database (a secret: never printed; the runner masks it)
#   MIGRATE_ACTION          migrate | rollback | status            (default migrate)
#   MIGRATE_TARGET_VERSION  version number to migrate up to, or to roll back to (required for rollback)
#   MIGRATE_DRY_RUN         true: show the status and the SQL, change nothing (default false)
#   GITHUB_STEP_SUMMARY     file the markdown summary is appended to (default: none)
#
# Writes the status table and the SQL about to run into the summary, then applies. Exit codes
# are the runner's (0 ok, 1 migration failed, 2 bad input, 3 connection, 4 lock, 5 refused).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
action="${MIGRATE_ACTION:-migrate}"
target="${MIGRATE_TARGET_VERSION:-}"
dry_run="${MIGRATE_DRY_RUN:-false}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

runner() {
  if [ -n "${TIMETRACK_MIGRATE:-}" ]; then
    "$TIMETRACK_MIGRATE" "$@"
  elif command -v timetrack-migrate >/dev/null 2>&1; then
    timetrack-migrate "$@"
  else
    dotnet run --project "$here/../TimeTrack.Migrations.Runner" -- "$@"
  fi
}

md() { printf '%s\n' "$@" >>"$summary"; }

fail() { # exit code, message: one line in the log and in the summary
  printf 'ci-migrate: %s\n' "$2" >&2
  md "### :x: ${2}" ""
  exit "$1"
}

# Runs the runner, keeping its stdout in $work/out and stderr in $work/err (both shown in the log).
capture() {
  local code=0
  runner "$@" >"$work/out" 2>"$work/err" || code=$?
  cat "$work/out"
  cat "$work/err" >&2
  return "$code"
}

error_line() { grep -m1 '^error:' "$work/err" | sed 's/^error: //' || true; }

case "$action" in migrate | rollback | status) ;; *) fail 2 "MIGRATE_ACTION must be migrate, rollback or status, not '${action}'" ;; esac
case "$dry_run" in true | false) ;; *) fail 2 "MIGRATE_DRY_RUN must be true or false, not '${dry_run}'" ;; esac
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
[ "$action" = status ] && exit 0

direction=up
[ "$action" = rollback ] && direction=rollback
to=()
[ -n "$target" ] && to=(--to "$target")

# A database with tables but no migration history is adopted as the container start does it
# (init: verified against the stamping profiles, then stamped), never migrated blindly; an empty
# one is a fresh deployment. The SQL preview exists only for a database with a history.
history=managed
if [ "$direction" = up ]; then
  runner status --json >"$work/status.json" 2>/dev/null || true
  history="$(sed -n 's/^ *"history": *"\([a-z]*\)".*/\1/p' "$work/status.json")"
fi
apply=("$direction")
if [ "$history" = unmanaged ]; then
  apply=(init)
  md "### Adoption" "" "The database has tables but no migration history: it is verified against the stamping profiles and stamped (as the container start does), then migrated." ""
else
  code=0
  capture script "$direction" "${to[@]}" || code=$?
  [ "$code" -eq 0 ] || fail "$code" "cannot plan the ${action}: $(error_line)"
  md "### SQL about to run" "" '```sql' "$(cat "$work/out")" '```' ""
fi

if [ "$dry_run" = true ]; then
  md "Dry run: nothing was changed."
  exit 0
fi

code=0
capture "${apply[@]}" "${to[@]}" || code=$?
if [ "$code" -ne 0 ]; then
  md "### :x: The ${action} failed (exit ${code})" "" "> $(error_line)" "" '```' "$(cat "$work/out")" '```'
  exit "$code"
fi
md "### :white_check_mark: Done" "" '```' "$(cat "$work/out")" '```' ""

capture status --markdown >/dev/null || true
md "### Status after" "" "$(cat "$work/out")"
