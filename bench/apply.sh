#!/usr/bin/env bash
# Apply at the speed of psql, and the long history's no-op start (issue 25), side by side in one run:
#   apply: empty -> head of a long history (bench/generate-long-history.sh: the shipped 5 plus
#          BENCH_HISTORY - 5 generated, loaded with --migrations-assembly), `timetrack-migrate init`
#          against `psql -f` of the same SQL as `timetrack-migrate script up` renders it, one
#          transaction per migration. Each round creates two fresh databases of one throwaway
#          cluster (not timed) and runs the two in alternating order.
#   noop:  the full runner's no-op `init` (TIMETRACK_FAST_START=off) at head of the same long
#          history against the shipped five, built in and passed with --migrations-assembly.
# Reports the median wall and CPU (user + system of the client process) of each, and the ratios.
# No timing assertions: correctness is asserted (exit codes, version rows), speed is printed.
#
# Usage: bash bench/apply.sh
# Knobs: BENCH_CASES ("apply noop"), BENCH_HISTORY (1000), BENCH_ROUNDS (apply rounds, 5),
#   BENCH_NOOP_ROUNDS (10), BENCH_RUNNER=<timetrack-migrate executable> (instead of publishing
#   this tree's as the image does), BENCH_LONG_ASSEMBLY=<assembly of BENCH_HISTORY migrations built
#   by bench/generate-long-history.sh already>, BENCH_COMPARE_RUNNER=<another timetrack-migrate
#   executable, e.g. an earlier commit's>: measured beside them in the same rounds, BENCH_SMOKE=1 (50 migrations, one round each).
# Database: a throwaway PostgreSQL 15 cluster, or TIMETRACK_BENCH_DATABASE_URL (see bench/lib.sh).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -n "${BENCH_SMOKE:-}" ]; then
  HISTORY=50 ROUNDS=1 NOOP_ROUNDS=1
else
  HISTORY="${BENCH_HISTORY:-1000}" ROUNDS="${BENCH_ROUNDS:-5}" NOOP_ROUNDS="${BENCH_NOOP_ROUNDS:-10}"
fi
CASES="${BENCH_CASES:-apply noop}"

require_tools psql:postgresql-client /usr/bin/time:time bc:bc
bench_init timetrack-apply
runner_from_env_or_publish image
COMPARE_RUNNER="${BENCH_COMPARE_RUNNER:-}"
start_postgres
export DATABASE_PASSWORD="$PG_PASSWORD" PGPASSWORD="$PG_PASSWORD" TIMETRACK_FAST_START=off
url() { printf 'postgresql://%s@%s:%s/%s' "$PG_USER" "$PG_HOST" "$PG_PORT" "$1"; }
SUMMARY="$WORK/summary"
: >"$SUMMARY"
say() { printf '%s\n' "$*" | tee -a "$SUMMARY" >&2; }
rows() { psql "$(url "$1")" -qAt -c 'SELECT count(*) FROM "VersionInfo"'; }

if [ -n "${BENCH_LONG_ASSEMBLY:-}" ]; then
  LONG="$BENCH_LONG_ASSEMBLY"
else
  log "generating and building $HISTORY migrations"
  LONG="$(bash "$BENCH_DIR/generate-long-history.sh" "$HISTORY" "$WORK/long" "$RUNNER")"
fi
SHIPPED="$(dirname "$RUNNER")/TimeTrack.Migrations.dll"
[ -f "$SHIPPED" ] || die "no TimeTrack.Migrations.dll beside the runner ($SHIPPED)"

# timed LABEL COMMAND...: one run; appends "wall cpu" (seconds) to $WORK/times.LABEL.
timed() {
  local label="$1"
  shift
  /usr/bin/time -f '%e %U %S' -o "$WORK/time" "$@" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; die "failed: $*"; }
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$WORK/time" >>"$WORK/times.$label"
}
# med LABEL COLUMN: the median (ms) of that column of $WORK/times.LABEL.
med() { sort -n -k"$2" "$WORK/times.$1" | awk -v k="$2" '{ v[NR] = $k } END { printf "%.0f", v[int((NR + 1) / 2)] * 1000 }'; }
ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }
line() { printf '%s: wall %s ms, CPU %s ms (medians of %s)' "$1" "$(med "$2" 1)" "$(med "$2" 2)" "$(wc -l <"$WORK/times.$2")"; }

warn_if_busy
say "machine: $(machine)"

case_apply() {
  local db_runner db_psql db_compare
  new_database db_runner timetrack_apply_runner
  new_database db_psql timetrack_apply_psql
  new_database db_compare timetrack_apply_compare
  # The SQL `script up` prints for an empty database (the version table's creation included), its
  # transaction markers made statements: psql runs it one transaction per migration.
  "$RUNNER" script up --database-url "$(url "$db_psql")" --migrations-assembly "$LONG" 2>/dev/null \
    | sed -E -e 's#^/\* Beginning Transaction \*/#BEGIN;#' -e 's#^/\* Committing Transaction \*/#COMMIT;#' -e '/^(--|\/\*)/! s/([^;])$/\1;/' >"$WORK/up.sql"
  [ "$(grep -c '^COMMIT;' "$WORK/up.sql")" -eq "$HISTORY" ] || die "script up did not print $HISTORY transactions"
  local round
  for round in $(seq 1 "$ROUNDS"); do
    log "apply: round $round of $ROUNDS"
    recreate_database "$db_runner"
    recreate_database "$db_psql"
    if [ $((round % 2)) -eq 1 ]; then
      timed runner "$RUNNER" init --database-url "$(url "$db_runner")" --migrations-assembly "$LONG"
      timed psql psql "$(url "$db_psql")" -X -q -v ON_ERROR_STOP=1 -f "$WORK/up.sql"
    else
      timed psql psql "$(url "$db_psql")" -X -q -v ON_ERROR_STOP=1 -f "$WORK/up.sql"
      timed runner "$RUNNER" init --database-url "$(url "$db_runner")" --migrations-assembly "$LONG"
    fi
    if [ "$(rows "$db_runner")" != "$HISTORY" ] || [ "$(rows "$db_psql")" != "$HISTORY" ]; then
      die "a run did not record $HISTORY versions"
    fi
    if [ -n "$COMPARE_RUNNER" ]; then
      recreate_database "$db_compare"
      timed compare "$COMPARE_RUNNER" init --database-url "$(url "$db_compare")" --migrations-assembly "$LONG"
      [ "$(rows "$db_compare")" = "$HISTORY" ] || die "the compared runner did not record $HISTORY versions"
    fi
  done
  say ""
  say "apply: empty -> head, $HISTORY migrations, $ROUNDS rounds (alternating order)"
  say "  $(line "init --migrations-assembly (the runner)" runner)"
  say "  $(line "psql -f of the same SQL (script up), a transaction per migration" psql)"
  [ -n "$COMPARE_RUNNER" ] && say "  $(line "init --migrations-assembly, $COMPARE_RUNNER" compare)"
  say "  runner/psql: wall $(ratio "$(med runner 1)" "$(med psql 1)")x (target <= 1.15x)"
}

case_noop() {
  local short long_db
  new_database short timetrack_apply_short
  new_database long_db timetrack_apply_long
  "$RUNNER" init --database-url "$(url "$short")" >/dev/null 2>&1 || die "init of the five migrations failed"
  "$RUNNER" init --database-url "$(url "$long_db")" --migrations-assembly "$LONG" >/dev/null 2>&1 || die "init of the long history failed"
  [[ "$("$RUNNER" init --database-url "$(url "$long_db")" --migrations-assembly "$LONG" 2>/dev/null)" == *"nothing to do"* ]] \
    || die "init is not a no-op on the long history at head"
  local round
  for round in $(seq 1 "$NOOP_ROUNDS"); do
    timed five "$RUNNER" init --database-url "$(url "$short")"
    timed five_asm "$RUNNER" init --database-url "$(url "$short")" --migrations-assembly "$SHIPPED"
    timed long "$RUNNER" init --database-url "$(url "$long_db")" --migrations-assembly "$LONG"
  done
  say ""
  say "noop: the full runner's no-op init (TIMETRACK_FAST_START=off), $NOOP_ROUNDS rounds"
  say "  $(line "5 migrations, built in" five)"
  say "  $(line "5 migrations, --migrations-assembly TimeTrack.Migrations.dll" five_asm)"
  say "  $(line "$HISTORY migrations, --migrations-assembly (manifest from the build)" long)"
  say "  $HISTORY vs 5: wall $(ratio "$(med long 1)" "$(med five 1)")x against the built-in five, $(ratio "$(med long 1)" "$(med five_asm 1)")x against the five passed with --migrations-assembly (target <= 1.3x)"
}

for c in $CASES; do
  case "$c" in
    apply) case_apply ;;
    noop) case_noop ;;
    *) die "BENCH_CASES: no case $c (apply, noop)" ;;
  esac
done
say "machine after: load average $(cut -d' ' -f1-3 /proc/loadavg)"

log "results"
cat "$SUMMARY"
mkdir -p "$BENCH_DIR/results"
cp "$SUMMARY" "$BENCH_DIR/results/apply-$(date -u +%Y%m%dT%H%M%SZ).txt"
