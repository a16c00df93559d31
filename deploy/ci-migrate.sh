#!/usr/bin/env bash
# The deploy job's migration step (the action .github/actions/migrate, used by
# .github/workflows/deploy.yml; docs/deploy-job.md), runnable anywhere with bash and jq.
#
#   DATABASE_URL            the database (a secret: never printed; the runner masks it)
#   MIGRATE_ACTION          migrate | rollback | status            (default migrate)
#   MIGRATE_TARGET_VERSION  version number to migrate up to, or to roll back to (required for rollback)
#   MIGRATE_DRY_RUN         true: show the status and the SQL, change nothing (default false)
#   GITHUB_STEP_SUMMARY     file the markdown summary is appended to (default: none)
#   GITHUB_OUTPUT           file the step outputs are appended to (default: none):
#                           from, to (the database's version before and after; `current` = to,
#                           Atlas's name), applied (the versions applied or rolled back,
#                           comma-separated), applied_count, pending_count (after), backup (path)
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
# adoption) go into the summary and become annotations as they happen. A migrate whose target is
# below the database's version fails (exit 5) and points at rollback: it is never a green
# "nothing to do". Exit codes are the runner's (0 ok, 1 migration failed, 2 bad input,
# 3 connection, 4 lock, 5 refused).
#
# Reads only the runner's JSON (--json documents on stdout, --log-format json lines on stderr),
# with jq (on GitHub-hosted runners; in the image, staged beside pg_dump). The log lines are
# turned back into readable lines as they arrive, so a long step shows in the job log while it
# runs. Three runner starts: status, the SQL preview, the change with the status after it.
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
from=""

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

fail() { # exit code, message: one line in the log (an annotation) and in the summary
  printf 'ci-migrate: %s\n' "$2" >&2
  printf '::error title=Database migration::%s\n' "$2"
  md "### :x: ${2}" ""
  exit "$1"
}

command -v jq >/dev/null 2>&1 || fail 2 "jq is missing: the script reads the runner's JSON with it (GitHub-hosted runners and the image have it)"

# The runner's stderr, one JSON object a line, back to the readable line it stands for (as
# --log-format text writes it), unbuffered: the job log shows each line when it happens. A
# warning is also an annotation at once. A line that is not JSON (an error before the runner's
# logging started) passes as it is. Every line is kept in $work/log for the summary.
show_log() {
  tee -a "$work/log" | jq -R -r --unbuffered '
    (try fromjson catch null) as $j
    | if ($j | type) == "object" and ($j | has("Message")) then
        ({Warning: "warning: ", Error: "error: ", Critical: "error: ", Debug: "debug: ", Trace: "debug: "}[$j.LogLevel] // "") as $prefix
        | ($prefix + $j.Message + (if $j.Exception then "\n" + $j.Exception else "" end)),
          (if $j.LogLevel == "Warning" then "::warning title=Database migration::" + ($j.Message | gsub("\n"; "%0A")) else empty end)
      else . end' >&2
}

# Runs the runner with its JSON log; its stdout (the result document, or the SQL) goes to
# $work/out, its log to the job log as it happens (show_log, through a pipe the script waits for).
capture() {
  : >"$work/out"
  if [ -n "$stop_signal" ]; then # stopped between two runs: start no other
    code="$(signal_exit_code)"
    printf '{"LogLevel":"Error","Message":"interrupted by SIG%s before %s"}\n' "$stop_signal" "$1" | show_log
    return "$code"
  fi
  rm -f "$work/pipe"
  mkfifo "$work/pipe"
  # Deaf to INT and TERM (a terminal's Ctrl-C reaches the whole group): the log must outlive the
  # runner's rollback, whose lines it still carries.
  (trap '' INT TERM && show_log <"$work/pipe") &
  local shower=$!
  run_forwarding_signals "${runner_command[@]}" "$@" --log-format json >"$work/out" 2>"$work/pipe"
  until wait "$shower"; do kill -0 "$shower" 2>/dev/null || break; done # a signal interrupts wait
  return "$code"
}

# A field of the result document ($work/out), or empty.
field() { jq -r "$1 // empty" "$work/out" 2>/dev/null || true; }

# Why the last run failed: its JSON error document, else the first error of its log.
error_line() {
  local message
  message="$(field .error.message)"
  [ -n "$message" ] || message="$(jq -R -r 'fromjson? | select(.LogLevel? == "Error") | .Message' "$work/log" 2>/dev/null | tail -n 1)"
  printf '%s' "$message"
}

# The database's current version (status --json), or empty when it cannot be read.
current_version() {
  runner status --json 2>/dev/null | jq -r '.current // empty' 2>/dev/null || true
}

# At exit, whatever happened: the warnings of every run into the summary, step outputs.
finish() {
  local warnings
  warnings="$(jq -R -r 'fromjson? | select(.LogLevel? == "Warning") | "- " + (.Message | gsub("\n"; " "))' "$work/log" 2>/dev/null | sort -u)"
  if [ -n "$warnings" ]; then
    md "### :warning: Warnings" "" "$warnings" ""
  fi
  if [ -z "$to" ] && [ -n "$from" ] && [ -z "$stop_signal" ]; then
    to="$(current_version)"
  fi
  printf 'from=%s\nto=%s\ncurrent=%s\napplied=%s\napplied_count=%s\npending_count=%s\nbackup=%s\n' \
    "$from" "$to" "$to" "$applied" "$applied_count" "$pending_count" "$backup_file" >>"$outputs"
  rm -rf "$work"
}
to=""
applied=""
applied_count=0
pending_count=""
backup_file=""
: >"$work/log"
trap finish EXIT

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
capture status --json --markdown --wait 30 || code=$?
[ "$code" -eq 0 ] || fail "$code" "status failed: $(error_line)"
md "### Status before" "" "$(field .markdown)" ""
from="$(field .current)"
history="$(field .history)"
pending_count="$(jq -r '.pending | length' "$work/out")"
echo "ci-migrate: the database is at ${from} (head of this image: $(field .head), ${pending_count} pending)"
if [ "$action" = status ] || [ "$dry_run" = true ]; then to="$from"; fi
[ "$action" = status ] && exit 0

direction=up
[ "$action" = rollback ] && direction=rollback
to_flag=()
[ -n "$target" ] && to_flag=(--to "$target")

# A database with tables but no migration history is adopted as the container start does it
# (init: verified against the stamping profiles, then stamped), never migrated blindly; an empty
# one is a fresh deployment. The SQL preview exists only for a database with a history.
apply=("$direction")
if [ "$direction" = up ] && [ "$history" = unmanaged ]; then
  apply=(init)
  md "### Adoption" "" "The database has tables but no migration history: it is verified against the stamping profiles and stamped (as the container start does), then migrated." ""
else
  code=0
  capture script "$direction" "${to_flag[@]}" || code=$?
  # A migrate never goes down: a target below the database's version must not end in a green
  # "nothing to do" (the runner refuses it with exit 5). The message says what to do in this
  # workflow. An unknown version is the runner's exit 2.
  if [ "$action" = migrate ] && [ -n "$target" ] && [ -n "$from" ] && [ "$((10#$target))" -lt "$from" ] \
     && { [ "$code" -eq 0 ] || [ "$code" -eq 5 ]; }; then
    fail 5 "the database is at ${from}, above the target ${target}: a migrate never rolls back. To go down, run this workflow with action 'rollback', target_version ${target} and the image that is deployed now (docs/deploy-job.md: rolling back)"
  fi
  [ "$code" -eq 0 ] || fail "$code" "cannot plan the ${action}: $(error_line)"

  cat "$work/out"
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
capture "${apply[@]}" "${to_flag[@]}" "${backup[@]}" --json --with-status || code=$?
if [ "$code" -ne 0 ]; then
  md "### :x: The ${action} failed (exit ${code})" "" "> $(error_line)" ""
  exit "$code"
fi

# The result document: up's `applied`, rollback's `rolledBack`, init's `steps` (each step with
# its version, description and duration).
steps='(.applied // .rolledBack // .steps // [])'
to="$(field .to)"
backup_file="$(field .backup.path)"
applied="$(jq -r "[${steps}[].version] | join(\",\")" "$work/out")"
applied_count="$(jq -r "${steps} | length" "$work/out")"
pending_count="$(jq -r '.status.pending | length' "$work/out")"
result="the database went from ${from} to ${to}: ${applied_count} migration(s) $([ "$direction" = rollback ] && echo 'rolled back' || echo applied)"
[ "$(field .scenario)" != adopted ] || result="adopted with the stamping profile $(field .profile), then ${result}"
echo "ci-migrate: ${result}"

md "### :white_check_mark: Done" "" "${result^}." ""
if [ "$applied_count" -gt 0 ]; then
  md "| version | description | direction | duration |" "|---|---|---|---|"
  jq -r --arg dir "$direction" "${steps}"'[] | "| \(.version) | \(.description | gsub("\\|"; "\\|")) | \(.direction // $dir) | \(.durationMs) ms |"' "$work/out" >>"$summary"
  md ""
fi
if [ -n "$backup_file" ]; then
  md "Backup before the change: \`${backup_file}\` ($(field .backup.bytes) bytes, at version $(field .backup.version); on the runner's side, not uploaded)" ""
fi
md "### Status after" "" "$(field .status.markdown)"
