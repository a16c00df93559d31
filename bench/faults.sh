#!/usr/bin/env bash
# Fault matrix: interrupt a migration in every way a container platform or a server can, then
# check that the next run recovers. Each case runs on a fresh database; after it, the recovery
# check: the next `up` exits 0, `check --database-url` passes, every migration is recorded exactly
# once in the version table, and no advisory lock is left (pg_locks; for SQLite: no journal left).
# Faults are placed by polling for states (a version row, a backend waiting on a lock, a log line),
# never by sleeping; every wait is bounded. Migrations: the test scenarios (TimeTrack.Migrations.
# TestScenarios: 100, 200, 300; TIMETRACK_TEST_SCENARIO=slow makes 300 run long), and the product's
# own for the non-transactional step (CREATE INDEX CONCURRENTLY). Prints one line per case and
# `faults: N passed, N failed`; exits 1 on any failure.
#
# Usage: bash bench/faults.sh
# Knobs: FAULTS_SMOKE=1 (a short subset; .ci/run uses it), BENCH_RUNNER=<timetrack-migrate>
#   (else this tree's runner is published), FAULTS_SCENARIOS=<TimeTrack.Migrations.TestScenarios.dll>
#   (else the test build's, else built here), FAULTS_CASES="name ..." (only these cases).
# Database: a throwaway PostgreSQL 15 cluster (see bench/lib.sh). The restart cases need it (they
# run pg_ctl restart); the full-disk cases need root (mount -t tmpfs).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools psql:postgresql-client sqlite3:sqlite3
bench_init timetrack-faults
runner_from_env_or_publish plain
SCENARIOS="${FAULTS_SCENARIOS:-$ROOT/TimeTrack.Migrations.Tests/bin/Debug/net10.0/TimeTrack.Migrations.TestScenarios.dll}"
[ -f "$SCENARIOS" ] || SCENARIOS="${FAULTS_SCENARIOS:-$ROOT/TimeTrack.Migrations.TestScenarios/bin/Debug/net10.0/TimeTrack.Migrations.TestScenarios.dll}"
if [ ! -f "$SCENARIOS" ]; then
  log "building the test scenario migrations"
  dotnet build "$ROOT/TimeTrack.Migrations.TestScenarios" -o "$WORK/scenarios" --artifacts-path "$WORK/artifacts-scenarios" --nologo -v quiet >&2
  SCENARIOS="$WORK/scenarios/TimeTrack.Migrations.TestScenarios.dll"
fi
start_postgres
export DATABASE_PASSWORD="$PG_PASSWORD" PGPASSWORD="$PG_PASSWORD"
LOCK_KEY=$((0x54696D6554726163)) # PostgresDatabase.MigrationLockKey
HOLDER=faults-holder             # application_name of the psql sessions that hold locks

url() { printf 'postgresql://%s@%s:%s/%s' "$PG_USER" "$PG_HOST" "$PG_PORT" "$1"; }
q() { psql "$(url "$1")" -qAt -v ON_ERROR_STOP=1 -c "$2"; }
now() { date +%s.%N; }

# mig ASSEMBLY COMMAND ARGS...: the runner on the scenarios (ASSEMBLY=scen) or the product's (prod).
mig() {
  local extra=()
  [ "$1" = scen ] && extra=(--migrations-assembly "$SCENARIOS")
  shift
  TIMETRACK_TEST_SCENARIO="${SCENARIO:-normal}" timeout -s KILL 180 "$RUNNER" "$@" "${extra[@]}"
}

# wait_for SECONDS COMMAND...: polls every 50 ms until COMMAND succeeds; 1 when it never did.
wait_for() {
  local deadline
  deadline=$(echo "$(now) + $1" | bc)
  shift
  until "$@" >/dev/null 2>&1; do
    (( $(echo "$(now) > $deadline" | bc) )) && return 1
    sleep 0.05
  done
}

# Conditions to poll for.
has_row() { [ "$(q "$1" "SELECT count(*) FROM \"VersionInfo\" WHERE \"Version\" = $2")" = 1 ]; }
sqlite_has_row() { [ "$(sqlite3 -readonly "$1" "SELECT count(*) FROM VersionInfo WHERE Version = $2" 2>/dev/null)" = 1 ]; }
blocked() { [ "$(q "$1" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND application_name <> '$HOLDER' AND wait_event_type = 'Lock'")" -ge 1 ]; }
sleeping() { [ "$(q "$1" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1' AND application_name <> '$HOLDER' AND wait_event = 'PgSleep'")" -ge 1 ]; }
holding() { [ "$(q "$1" "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$HOLDER' AND wait_event = 'PgSleep'")" -ge 1 ]; }
says() { grep -q "$2" "$1"; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# hold DB SQL: a psql session that runs SQL and then sleeps (holding what SQL took), until released.
hold() {
  PGAPPNAME="$HOLDER" psql "$(url "$1")" -qAt -c "$2; SELECT pg_sleep(600)" >/dev/null 2>&1 &
  BACKGROUND+=("$!")
  wait_for 30 holding "$1"
}
release() {
  q postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$HOLDER'" >/dev/null 2>&1 || true
}

# run_bg ASSEMBLY ARGS...: the interrupted run, in the background (RUN_PID; its stderr in $WORK/run.err).
run_bg() {
  local asm="$1"
  shift
  [ "$asm" = scen ] && set -- "$@" --migrations-assembly "$SCENARIOS"
  TIMETRACK_TEST_SCENARIO="${SCENARIO:-normal}" "$RUNNER" "$@" >"$WORK/run.out" 2>"$WORK/run.err" &
  RUN_PID=$!
  BACKGROUND+=("$RUN_PID")
}
# finish_run: waits (bounded) for the interrupted run; RUN_RC its exit code (KILLED: it had to be killed).
finish_run() {
  if ! wait_for 120 gone "$RUN_PID"; then
    kill -9 "$RUN_PID" 2>/dev/null
    RUN_RC="hung"
  fi
  local rc=0
  wait "$RUN_PID" 2>/dev/null || rc=$?
  [ "${RUN_RC:-}" = hung ] || RUN_RC=$rc
}
kill_run() { kill -9 "$RUN_PID" 2>/dev/null || true; finish_run; }

restart_server() {
  (cd /tmp && "${PG_OWNER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/server.log" -m fast -w -t 60 restart >/dev/null)
}

# Expected version rows at head, per assembly (counted on a reference database each).
head_rows() {
  local db
  new_database db timetrack_faults_ref
  SCENARIO=normal mig "$1" up --database-url "$(url "$db")" >/dev/null 2>&1 || die "up on a fresh database failed ($1)"
  q "$db" 'SELECT count(*) FROM "VersionInfo"'
}

# recover_pg DB ASSEMBLY / recover_sqlite FILE: the recovery check; RECOVERY says what failed, if anything.
recover_pg() {
  local db="$1" asm="$2" n rows locks
  n="$HEAD_SCEN"
  [ "$asm" = prod ] && n="$HEAD_PROD"
  SCENARIO=normal
  release
  if ! mig "$asm" up --database-url "$(url "$db")" >"$WORK/rec.out" 2>"$WORK/rec.err"; then RECOVERY="up failed: $(tail -n 1 "$WORK/rec.err")"; return 1; fi
  if ! mig "$asm" check --database-url "$(url "$db")" >"$WORK/rec.out" 2>"$WORK/rec.err"; then RECOVERY="check failed: $(tail -n 1 "$WORK/rec.err")"; return 1; fi
  rows="$(q "$db" 'SELECT count(*) || '"'/'"' || count(DISTINCT "Version") FROM "VersionInfo"')"
  [ "$rows" = "$n/$n" ] || { RECOVERY="version rows/distinct $rows, expected $n/$n"; return 1; }
  locks="$(q postgres "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")"
  [ "$locks" = 0 ] || { RECOVERY="$locks advisory lock(s) left"; return 1; }
  RECOVERY="ok: up 0, check 0, $n/$n rows once, 0 advisory locks"
}
recover_sqlite() {
  local file="$1" n="$HEAD_SCEN" rows
  SCENARIO=normal
  if ! mig scen up --database-url "sqlite:///$file" >"$WORK/rec.out" 2>"$WORK/rec.err"; then RECOVERY="up failed: $(tail -n 1 "$WORK/rec.err")"; return 1; fi
  if ! mig scen check --database-url "sqlite:///$file" >"$WORK/rec.out" 2>"$WORK/rec.err"; then RECOVERY="check failed: $(tail -n 1 "$WORK/rec.err")"; return 1; fi
  rows="$(sqlite3 -readonly "$file" 'SELECT count(*) || '"'/'"' || count(DISTINCT Version) FROM VersionInfo')"
  [ "$rows" = "$n/$n" ] || { RECOVERY="version rows/distinct $rows, expected $n/$n"; return 1; }
  if [ -e "$file-journal" ] || [ -e "$file-wal" ]; then RECOVERY="a journal is left beside the file"; return 1; fi
  RECOVERY="ok: up 0, check 0, $n/$n rows once, no journal left"
}

PASSED=0 FAILED=0 SKIPPED=0
report() { # CASE WHAT RESULT
  printf '%-28s | %-62s | exit %-4s | %-52s | %5.1f s\n' "$1" "$2" "$RUN_RC" "$3" "$(echo "$(now) - $CASE_START" | bc)"
}
# run_case NAME WHAT FUNCTION: the case (which sets RUN_RC, and returns 1 when the fault could not be placed), then its recovery.
run_case() {
  local name="$1" what="$2" fn="$3"
  if [ -n "${FAULTS_CASES:-}" ] && [[ " $FAULTS_CASES " != *" $name "* ]]; then return 0; fi
  CASE_START="$(now)" RUN_RC="-" RECOVERY="" SCENARIO=normal
  : >"$WORK/run.err"
  if "$fn" && [ -n "$RECOVERY" ] && [[ "$RECOVERY" == ok:* ]]; then
    PASSED=$((PASSED + 1)); report "$name" "$what" "PASS $RECOVERY"
  elif [[ "$RECOVERY" == skip:* ]]; then
    SKIPPED=$((SKIPPED + 1)); report "$name" "$what" "SKIP ${RECOVERY#skip: }"
  else
    FAILED=$((FAILED + 1)); report "$name" "$what" "FAIL ${RECOVERY:-the fault could not be placed}"
    sed 's/^/    run: /' "$WORK/run.err" 2>/dev/null | tail -n 5
  fi
  release
}

# --- kill -9 (PostgreSQL) -----------------------------------------------------------------------

# kill_at_row N: SCENARIO=slow (300 sleeps), killed as soon as version row N is committed.
kill_at_row() {
  local db
  new_database db timetrack_faults
  SCENARIO="$2"
  run_bg scen up --database-url "$(url "$db")"
  wait_for 60 has_row "$db" "$1" || { kill_run; return 1; }
  kill_run
  recover_pg "$db" scen
}
pg_kill_after_100() { kill_at_row 100 slow; }
pg_kill_after_200() { kill_at_row 200 slow; }
pg_kill_after_300() { kill_at_row 300 normal; }

# kill_in_step TO HOLD: the database at TO, a psql session holding HOLD (a lock the next step
# needs), the runner blocked inside the next step's transaction, killed there.
kill_in_step() {
  local db
  new_database db timetrack_faults
  if [ "$1" != 0 ]; then mig scen up --to "$1" --database-url "$(url "$db")" >/dev/null 2>&1 || return 1; fi
  hold "$db" "$2" || return 1
  run_bg scen up --ddl-lock-timeout 120 --database-url "$(url "$db")"
  wait_for 60 blocked "$db" || { kill_run; return 1; }
  kill_run
  recover_pg "$db" scen
}
pg_kill_in_100() { kill_in_step 0 "BEGIN; CREATE TABLE widgets (id int)"; }
pg_kill_in_200() { kill_in_step 100 "BEGIN; LOCK TABLE widgets IN ACCESS SHARE MODE"; }
pg_kill_in_300() { kill_in_step 200 "BEGIN; CREATE TABLE gadgets (id int)"; }
# in_slow_statement VAR: a new database in VAR, the runner started on the slow scenario and
# waited for until it is inside a step's statement (pg_sleep).
in_slow_statement() {
  new_database "$1" timetrack_faults
  SCENARIO=slow
  run_bg scen up --database-url "$(url "${!1}")"
  wait_for 60 sleeping "${!1}" || { kill_run; return 1; }
}
pg_kill_in_300_statement() {
  local db
  in_slow_statement db || return 1
  kill_run
  recover_pg "$db" scen
}

# --- kill -9 (SQLite) ---------------------------------------------------------------------------

sqlite_kill_at_row() {
  mkdir -p "$WORK/sqlite"
  local file="$WORK/sqlite/faults-$RANDOM$RANDOM.db"
  SCENARIO=slow
  run_bg scen up --database-url "sqlite:///$file"
  wait_for 60 sqlite_has_row "$file" "$1" || { kill_run; return 1; }
  kill_run
  recover_sqlite "$file"
}
sqlite_kill_after_100() { sqlite_kill_at_row 100; }
sqlite_kill_in_300() { sqlite_kill_at_row 200; } # 300 (slow) is running once 200 is recorded

# --- server restart -----------------------------------------------------------------------------

needs_own_server() {
  [ -z "$EXISTING_SERVER" ] && return 0
  RECOVERY="skip: needs the throwaway cluster (pg_ctl restart), not TIMETRACK_BENCH_DATABASE_URL"
  return 1
}
pg_restart_lock_wait() {
  needs_own_server || return 0
  local db
  new_database db timetrack_faults
  hold "$db" "SELECT pg_advisory_lock($LOCK_KEY)" || return 1
  run_bg scen up --lock-timeout 60 --database-url "$(url "$db")"
  wait_for 60 says "$WORK/run.err" 'waiting for its lock' || { kill_run; return 1; }
  restart_server
  finish_run
  recover_pg "$db" scen
}
pg_restart_transactional() {
  needs_own_server || return 0
  local db
  in_slow_statement db || return 1
  restart_server
  finish_run
  recover_pg "$db" scen
}
# blocked_in DB PREFIX WHAT: waits until the run is blocked on a lock in DB, in a statement that
# starts with PREFIX (WHAT names it when it is another); the run is killed when it is not.
blocked_in() {
  wait_for 60 blocked "$1" || { kill_run; return 1; }
  q "$1" "SELECT 1 FROM pg_stat_activity WHERE datname = '$1' AND wait_event_type = 'Lock' AND query ILIKE '$2%'" | grep -q 1 \
    || { kill_run; RECOVERY="the blocked statement is not $3"; return 1; }
}
# The product's CREATE INDEX CONCURRENTLY waits for a transaction that wrote to time_entries.
pg_restart_nontransactional() {
  needs_own_server || return 0
  local db
  new_database db timetrack_faults
  mig prod up --to 202407010900 --database-url "$(url "$db")" >/dev/null 2>&1 || return 1
  hold "$db" "BEGIN; LOCK TABLE time_entries IN ROW EXCLUSIVE MODE" || return 1
  run_bg prod up --ddl-lock-timeout 120 --database-url "$(url "$db")"
  blocked_in "$db" 'CREATE INDEX CONCURRENTLY' 'CREATE INDEX CONCURRENTLY' || return 1
  restart_server
  finish_run
  recover_pg "$db" prod
}
# pg_dump waits for a table another session holds exclusively.
pg_restart_backup() {
  needs_own_server || return 0
  local db
  new_database db timetrack_faults
  mig scen up --to 200 --database-url "$(url "$db")" >/dev/null 2>&1 || return 1
  hold "$db" "BEGIN; LOCK TABLE widgets IN ACCESS EXCLUSIVE MODE" || return 1
  mkdir -p "$WORK/backups-restart"
  run_bg scen up --backup "$WORK/backups-restart" --database-url "$(url "$db")"
  blocked_in "$db" 'LOCK TABLE' "pg_dump's LOCK TABLE" || return 1
  restart_server
  finish_run
  recover_pg "$db" scen
}

# --- full disk ----------------------------------------------------------------------------------

# full_tmpfs DIR: a 2 MiB tmpfs at DIR (unmounted on exit); 1 when it cannot be mounted.
MOUNTS=()
full_tmpfs() {
  mkdir -p "$1"
  if ! is_root || ! mount -t tmpfs -o size=2m,mode=0700 tmpfs "$1" 2>/dev/null; then
    RECOVERY="skip: cannot mount a tmpfs (needs root and CAP_SYS_ADMIN)"
    return 1
  fi
  MOUNTS+=("$1")
}
fill() { dd if=/dev/zero of="$1/filler" bs=4k >/dev/null 2>&1 || true; }
pg_full_disk_backup() {
  local db dir="$WORK/full-backup"
  full_tmpfs "$dir" || return 0
  new_database db timetrack_faults
  mig scen up --to 200 --database-url "$(url "$db")" >/dev/null 2>&1 || return 1
  fill "$dir"
  run_bg scen up --backup "$dir" --database-url "$(url "$db")"
  finish_run
  # A backup that cannot be written must stop the run with nothing changed (not a 0-byte "backup").
  if [ "$RUN_RC" = 0 ] || has_row "$db" 300; then
    RECOVERY="went ahead: $(cat "$WORK/run.out" "$WORK/run.err" | grep -o 'backup written.*B,' | head -n 1)"
    return 1
  fi
  rm -f "$dir/filler"
  recover_pg "$db" scen
}
sqlite_full_disk_step() {
  local dir="$WORK/full-sqlite"
  full_tmpfs "$dir" || return 0
  SCENARIO=normal mig scen up --to 200 --database-url "sqlite:///$dir/timetrack.db" >/dev/null 2>&1 || return 1
  fill "$dir"
  run_bg scen up --database-url "sqlite:///$dir/timetrack.db"
  finish_run
  rm -f "$dir/filler"
  recover_sqlite "$dir/timetrack.db"
}
unmount_all() { local m; for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done; }

# --- the matrix ---------------------------------------------------------------------------------

trap 'status=$?; unmount_all; (exit "$status"); bench_cleanup' EXIT
HEAD_SCEN="$(head_rows scen)"
HEAD_PROD="$(head_rows prod)"
log "fault matrix ($(machine))"
printf '%-28s | %-62s | %-9s | %-52s | %s\n' case "what was done" "run" "recovery (next up, check, rows, locks)" time
if [ -n "${FAULTS_SMOKE:-}" ]; then
  run_case pg-kill-in-300-statement "kill -9 during step 300's statement (pg_sleep)" pg_kill_in_300_statement
  run_case pg-restart-lock-wait "pg_ctl restart -m fast while waiting for the lock" pg_restart_lock_wait
  run_case sqlite-kill-in-300 "SQLite: kill -9 inside step 300 (slow CTE)" sqlite_kill_in_300
  run_case sqlite-full-disk-step "SQLite file on a full 2 MiB tmpfs during step 300" sqlite_full_disk_step
else
  run_case pg-kill-after-100 "kill -9 as soon as version row 100 is committed" pg_kill_after_100
  run_case pg-kill-after-200 "kill -9 as soon as version row 200 is committed" pg_kill_after_200
  run_case pg-kill-after-300 "kill -9 as soon as version row 300 (last) is committed" pg_kill_after_300
  run_case pg-kill-in-100 "kill -9 inside step 100 (blocked on CREATE TABLE)" pg_kill_in_100
  run_case pg-kill-in-200 "kill -9 inside step 200 (blocked on ALTER TABLE)" pg_kill_in_200
  run_case pg-kill-in-300 "kill -9 inside step 300 (blocked on CREATE TABLE)" pg_kill_in_300
  run_case pg-kill-in-300-statement "kill -9 during step 300's statement (pg_sleep)" pg_kill_in_300_statement
  run_case sqlite-kill-after-100 "SQLite: kill -9 as soon as version row 100 is committed" sqlite_kill_after_100
  run_case sqlite-kill-in-300 "SQLite: kill -9 inside step 300 (slow CTE)" sqlite_kill_in_300
  run_case pg-restart-lock-wait "pg_ctl restart -m fast while waiting for the lock" pg_restart_lock_wait
  run_case pg-restart-transactional "pg_ctl restart -m fast during step 300 (transactional)" pg_restart_transactional
  run_case pg-restart-nontransactional "pg_ctl restart -m fast during CREATE INDEX CONCURRENTLY" pg_restart_nontransactional
  run_case pg-restart-backup "pg_ctl restart -m fast during up --backup (pg_dump)" pg_restart_backup
  run_case pg-full-disk-backup "up --backup to a full 2 MiB tmpfs" pg_full_disk_backup
  run_case sqlite-full-disk-step "SQLite file on a full 2 MiB tmpfs during step 300" sqlite_full_disk_step
fi
[ "$SKIPPED" -eq 0 ] || echo "($SKIPPED case(s) skipped: reasons above)"
echo "faults: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
