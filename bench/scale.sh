#!/usr/bin/env bash
# Benchmarks at scale (PostgreSQL), each case beside its reference in the same run:
#   1. A long history: a generated migrations assembly of BENCH_HISTORY (1,000) migrations
#      (bench/generate-long-history.sh), loaded with --migrations-assembly, against the product's
#      five: no-op init, status, check --database-url, empty -> head (against FluentMigrator's own
#      MigrateUp of the same assembly, bench/FluentMigratorBaseline --assembly), and adoption of a
#      database at version HISTORY/2 without history (against adopting the legacy fixture).
#   2. Many replicas: 10 and 50 init processes started together, on an empty database and on one
#      at head (the product's migrations): wall time of the group against one process, against
#      what their CPU time allows (total CPU / cores), and against what it allows with the CPU of
#      the backends that served them (they share the cores; a throwaway cluster only); beside it
#      the machine's own floor (as many sha256sum processes of the same length); every migration
#      applied exactly once; lock waits counted in their logs. BENCH_RUNNER=<the image's layout>
#      (the front with full/ beside it) measures the replicas as the image starts them.
#   3. Big tables: adoption (init) of the legacy fixture with BENCH_ROWS (1,000,000) more
#      time_entries rows: time from start until the first migration begins (from the JSON log's
#      timestamps), beside the same on the fixture as it is, and the whole init against the same
#      index built by hand (psql -c 'CREATE INDEX CONCURRENTLY ...'); the row count checked.
#   4. Memory: peak resident set (/usr/bin/time -v) of empty -> head and of the long-history
#      cases, against the plain FluentMigrator program.
# No timing assertions: correctness is asserted (exit codes, versions, rows), speed is printed.
#
# Usage: bash bench/scale.sh
# Knobs: BENCH_CASES ("1 2 3", case 4 goes with 1), BENCH_HISTORY (1000), BENCH_ROWS (1000000),
#   BENCH_REPLICAS ("10 50"), BENCH_RUNS (hyperfine runs of the quick commands, 10; the slow ones
#   a third of it), BENCH_GROUP_RUNS (runs of each replica group and of case 3, 5),
#   BENCH_COMPARE_REVISION=<commit>: cases 2 and 3 also with the runner of that commit (before/after),
#   BENCH_SMOKE=1: one run of everything at small sizes (50 migrations, 3 replicas, 10,000 rows;
#   .ci/run uses it so that the script cannot rot), BENCH_RUNNER=<timetrack-migrate executable>:
#   measure that one instead of publishing this tree's (BENCH_BASELINE=<fluentmigrator-baseline>
#   likewise; BENCH_COMPARE_RUNNER=<executable>: cases 2 and 3 also with that runner, published already).
# Database: a throwaway PostgreSQL 15 cluster, or TIMETRACK_BENCH_DATABASE_URL (see bench/lib.sh).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -n "${BENCH_SMOKE:-}" ]; then
  HISTORY=50 ROWS=10000 REPLICAS="3" RUNS=1 WARMUP=0 GROUP_RUNS=1 HOW=plain
else
  HISTORY="${BENCH_HISTORY:-1000}" ROWS="${BENCH_ROWS:-1000000}" REPLICAS="${BENCH_REPLICAS:-10 50}"
  RUNS="${BENCH_RUNS:-10}" WARMUP="${BENCH_WARMUP:-1}" GROUP_RUNS="${BENCH_GROUP_RUNS:-5}" HOW=image
fi
SLOW_RUNS=$(( RUNS / 3 > 1 ? RUNS / 3 : 1 ))
CASES="${BENCH_CASES:-1 2 3}"

require_tools hyperfine:hyperfine jq:jq psql:postgresql-client /usr/bin/time:time bc:bc
bench_init timetrack-scale
runner_from_env_or_publish "$HOW"
if [ -n "${BENCH_BASELINE:-}" ]; then
  BASELINE="$BENCH_BASELINE"
else
  log "publishing the FluentMigrator baseline ($HOW)"
  publish_baseline "$HOW"
fi
COMPARE_RUNNER=""
if [ -n "${BENCH_COMPARE_RUNNER:-}" ]; then
  COMPARE_RUNNER="$BENCH_COMPARE_RUNNER"
  BENCH_COMPARE_REVISION="${BENCH_COMPARE_REVISION:-$("$COMPARE_RUNNER" --version 2>/dev/null | head -n 1)}"
elif [ -n "${BENCH_COMPARE_REVISION:-}" ]; then
  log "publishing the runner of $BENCH_COMPARE_REVISION for comparison"
  THIS_RUNNER="$RUNNER"
  publish_revision "$BENCH_COMPARE_REVISION" "$HOW"
  COMPARE_RUNNER="$RUNNER"
  RUNNER="$THIS_RUNNER"
fi
start_postgres

# Command lines (hyperfine prints them) carry no password: the runner reads DATABASE_PASSWORD,
# Npgsql (the baseline) and psql read PGPASSWORD.
export DATABASE_PASSWORD="$PG_PASSWORD" PGPASSWORD="$PG_PASSWORD"
url() { printf 'postgresql://%s@%s:%s/%s' "$PG_USER" "$PG_HOST" "$PG_PORT" "$1"; }
npgsql() { printf 'Host=%s;Port=%s;Username=%s;Database=%s' "$PG_HOST" "$PG_PORT" "$PG_USER" "$1"; }
now() { date +%s.%N; }
SUMMARY="$WORK/summary"
: >"$SUMMARY"
say() { printf '%s\n' "$*" | tee -a "$SUMMARY" >&2; }
versions() { psql "$(url "$1")" -qAt -c 'SELECT count(*) || '"' rows, '"' || count(DISTINCT "Version") || '"' distinct'"' FROM "VersionInfo"'; }
mkdir -p "$BENCH_DIR/results"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

# hyperfine JSON -> one line per command: median, mean ± stddev, runs (seconds -> ms).
report() {
  jq -r '.results[] | "  \(.command): median \(.median * 1000 | round) ms, mean \(.mean * 1000 | round) ± \((.stddev // 0) * 1000 | round) ms (\(.times | length) runs)"' "$1" \
    | tee -a "$SUMMARY" >&2
}
# median NAME-PREFIX JSON: the median (s) of the first command whose name starts with the prefix.
median() { jq -r --arg p "$1" '[.results[] | select(.command | startswith($p))][0].median' "$2"; }
ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }

# peak KB COMMAND...: the peak resident set of one run, in MiB.
peak() {
  /usr/bin/time -f '%M' -o "$WORK/peak" "$@" >/dev/null 2>&1 || die "failed while measuring memory: $*"
  echo "$(( $(tail -n 1 "$WORK/peak") / 1024 )) MiB"
}

LEGACY_SQL="$(legacy_fixture)"
# A database restored from the legacy fixture, to copy from (CREATE DATABASE ... TEMPLATE).
new_database LEGACY_TEMPLATE timetrack_scale_legacy
psql "$(url "$LEGACY_TEMPLATE")" -q -v ON_ERROR_STOP=1 -f "$LEGACY_SQL" >/dev/null

warn_if_busy
say "machine: $(machine)"

# --- case 1 (and 4): a long history -------------------------------------------------------------

case_long_history() {
  log "case 1: generating and building $HISTORY migrations"
  local long no_manifest="" adopt_at
  long="$(bash "$BENCH_DIR/generate-long-history.sh" "$HISTORY" "$WORK/long" "$RUNNER")"
  if [ -z "${BENCH_SMOKE:-}" ]; then
    no_manifest="$(bash "$BENCH_DIR/generate-long-history.sh" "$HISTORY" "$WORK/long-no-manifest" "$RUNNER" --no-manifest)"
  fi
  adopt_at=$(( 300001010000 + HISTORY / 2 ))

  local short_db long_db empty_db adopt_template adopt_db legacy_db
  new_database short_db timetrack_scale_short
  new_database long_db timetrack_scale_long
  new_database empty_db timetrack_scale_empty
  new_database adopt_template timetrack_scale_adopt_template
  new_database adopt_db timetrack_scale_adopt
  new_database legacy_db timetrack_scale_legacy
  local asm=(--migrations-assembly "$long")
  "$RUNNER" init --database-url "$(url "$short_db")" >/dev/null 2>&1 || die "init of the five migrations failed"
  "$RUNNER" init --database-url "$(url "$long_db")" "${asm[@]}" >/dev/null 2>&1 || die "init of the long history failed"
  [[ "$("$RUNNER" init --database-url "$(url "$long_db")" "${asm[@]}" 2>/dev/null)" == *"nothing to do"* ]] || die "init is not a no-op on the long history at head"
  [ "$(versions "$long_db")" = "$HISTORY rows, $HISTORY distinct" ] || die "the long history's version table is not $HISTORY rows"
  "$RUNNER" check --database-url "$(url "$long_db")" "${asm[@]}" >/dev/null 2>&1 || die "check finds drift in the long history at head"

  # A database at version HISTORY/2 without history: brought there by the runner, its version
  # table dropped (as if an earlier tool had brought it there).
  "$RUNNER" init --to "$adopt_at" --database-url "$(url "$adopt_template")" "${asm[@]}" >/dev/null 2>&1 || die "init --to $adopt_at failed"
  psql "$(url "$adopt_template")" -qAt -v ON_ERROR_STOP=1 -c 'DROP TABLE "VersionInfo"' >/dev/null
  recreate_database "$adopt_db" "$adopt_template"
  local adopted
  adopted="$("$RUNNER" init --database-url "$(url "$adopt_db")" "${asm[@]}" 2>&1)" || { echo "$adopted" >&2; die "adoption at $adopt_at failed"; }
  [[ "$adopted" == *"matches stamping profile '$adopt_at'"* ]] || { echo "$adopted" >&2; die "adoption did not recognise version $adopt_at"; }
  [ "$(versions "$adopt_db")" = "$HISTORY rows, $HISTORY distinct" ] || die "adoption did not bring the database to head"

  # The baseline applies the same assembly: it works on its own database.
  recreate_database "$empty_db"
  "$BASELINE" --assembly "$long" "$(npgsql "$empty_db")" || die "FluentMigrator's MigrateUp of the long history failed"
  [ "$(psql "$(url "$empty_db")" -qAt -c 'SELECT count(*) FROM "VersionInfo"')" = "$HISTORY" ] || die "the baseline did not apply $HISTORY migrations"

  # The floor of empty -> head: the same statements (as 'script up' prints them), one transaction
  # per migration as the runner and FluentMigrator run them, through psql. Its time is PostgreSQL's.
  recreate_database "$empty_db"
  "$RUNNER" script up --database-url "$(url "$empty_db")" "${asm[@]}" 2>/dev/null \
    | sed -E -e 's#^/\* Beginning Transaction \*/#BEGIN;#' -e 's#^/\* Committing Transaction \*/#COMMIT;#' -e '/^(--|\/\*)/! s/([^;])$/\1;/' >"$WORK/long-up.sql"
  [ "$(grep -c '^COMMIT;' "$WORK/long-up.sql")" -eq "$HISTORY" ] || die "script up did not print $HISTORY migrations"
  psql "$(url "$empty_db")" -q -v ON_ERROR_STOP=1 -f "$WORK/long-up.sql" >/dev/null || die "the SQL of script up does not run through psql"

  local quick="$BENCH_DIR/results/scale-$STAMP-history-quick.json" slow="$BENCH_DIR/results/scale-$STAMP-history-slow.json"
  local variants=()
  [ -n "$no_manifest" ] && variants=(-n "(1b') init, $HISTORY migrations, no embedded manifest (no-op)" "$RUNNER init --database-url $(url "$long_db") --migrations-assembly $no_manifest")
  log "case 1: hyperfine, quick commands (--runs $RUNS)"
  hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$quick" \
    -n "(1a) init, 5 migrations (no-op)" "$RUNNER init --database-url $(url "$short_db")" \
    -n "(1b) init, $HISTORY migrations (no-op)" "$RUNNER init --database-url $(url "$long_db") --migrations-assembly $long" \
    "${variants[@]}" \
    -n "(1c) status, 5 migrations" "$RUNNER status --database-url $(url "$short_db")" \
    -n "(1d) status, $HISTORY migrations" "$RUNNER status --database-url $(url "$long_db") --migrations-assembly $long" \
    -n "(1e) check --database-url, 5 migrations" "$RUNNER check --database-url $(url "$short_db")" >&2

  local fresh
  fresh="psql $(url postgres) -qAt -c 'DROP DATABASE IF EXISTS $empty_db WITH (FORCE)' -c 'CREATE DATABASE $empty_db'"
  log "case 1: hyperfine, slow commands (--runs $SLOW_RUNS; databases recreated before each run, not timed)"
  hyperfine -N --runs "$SLOW_RUNS" --export-json "$slow" \
    --prepare "true" -n "(1f) check --database-url, $HISTORY migrations" "$RUNNER check --database-url $(url "$long_db") --migrations-assembly $long" \
    --prepare "$fresh" \
    -n "(1g) init, empty -> head, 5 migrations" "$RUNNER init --database-url $(url "$empty_db")" \
    --prepare "$fresh" \
    -n "(1h) FluentMigrator MigrateUp, empty -> head, 5 migrations" "$BASELINE $(npgsql "$empty_db")" \
    --prepare "$fresh" \
    -n "(1i) init, empty -> head, $HISTORY migrations" "$RUNNER init --database-url $(url "$empty_db") --migrations-assembly $long" \
    --prepare "$fresh" \
    -n "(1j) FluentMigrator MigrateUp, empty -> head, $HISTORY migrations" "$BASELINE --assembly $long $(npgsql "$empty_db")" \
    --prepare "$fresh" \
    -n "(1j') psql -f of the same SQL (script up), empty -> head, $HISTORY migrations: the server's floor" "psql $(url "$empty_db") -q -v ON_ERROR_STOP=1 -f $WORK/long-up.sql" \
    --prepare "psql $(url postgres) -qAt -c 'DROP DATABASE IF EXISTS $legacy_db WITH (FORCE)' -c 'CREATE DATABASE $legacy_db TEMPLATE $LEGACY_TEMPLATE'" \
    -n "(1k) init, adoption of the legacy fixture + 4 migrations (5 in the history)" "$RUNNER init --database-url $(url "$legacy_db")" \
    --prepare "psql $(url postgres) -qAt -c 'DROP DATABASE IF EXISTS $adopt_db WITH (FORCE)' -c 'CREATE DATABASE $adopt_db TEMPLATE $adopt_template'" \
    -n "(1l) init, adoption at version $adopt_at + $(( HISTORY - HISTORY / 2 )) migrations ($HISTORY in the history)" "$RUNNER init --database-url $(url "$adopt_db") --migrations-assembly $long" >&2

  say ""
  say "case 1: a long history ($HISTORY migrations) beside the product's 5"
  report "$quick"
  report "$slow"
  local a b c e f i j k l per100
  a="$(median "(1a)" "$quick")" b="$(median "(1b)" "$quick")" e="$(median "(1e)" "$quick")" f="$(median "(1f)" "$slow")"
  i="$(median "(1i)" "$slow")" j="$(median "(1j)" "$slow")" k="$(median "(1k)" "$slow")" l="$(median "(1l)" "$slow")"
  c=$(( HISTORY - 5 ))
  say "  no-op init, $HISTORY vs 5 migrations: $(ratio "$b" "$a")x (target <= 1.2x)"
  say "  empty -> head, $HISTORY migrations, init vs FluentMigrator's MigrateUp: $(ratio "$i" "$j")x (target <= 0.5x); vs psql running the same SQL: $(ratio "$i" "$(median "(1j')" "$slow")")x"
  per100="$(echo "($f - $e) * 100000 / $c" | bc -l)"
  say "  check --database-url: $(printf '%.0f' "$(echo "$e * 1000" | bc -l)") ms with 5, $(printf '%.0f' "$(echo "$f * 1000" | bc -l)") ms with $HISTORY: $(printf '%.0f' "$per100") ms per 100 migrations"
  per100="$(echo "($l - $k) * 100000 / $c" | bc -l)"
  say "  adoption (init): $(printf '%.0f' "$(echo "$k * 1000" | bc -l)") ms with 5 (legacy), $(printf '%.0f' "$(echo "$l * 1000" | bc -l)") ms at $HISTORY/2 of $HISTORY: $(printf '%.0f' "$per100") ms per 100 migrations"

  # Case 4: peak memory, one run each (it varies by a few MiB at most).
  log "case 4: peak memory"
  say ""
  say "case 4: peak resident memory (one run each)"
  recreate_database "$empty_db"
  say "  init, empty -> head, 5 migrations:            $(peak "$RUNNER" init --database-url "$(url "$empty_db")")"
  recreate_database "$empty_db"
  say "  FluentMigrator MigrateUp, empty -> head, 5:   $(peak "$BASELINE" "$(npgsql "$empty_db")")"
  recreate_database "$empty_db"
  say "  init, empty -> head, $HISTORY migrations:         $(peak "$RUNNER" init --database-url "$(url "$empty_db")" "${asm[@]}")"
  recreate_database "$empty_db"
  say "  FluentMigrator MigrateUp, empty -> head, $HISTORY: $(peak "$BASELINE" --assembly "$long" "$(npgsql "$empty_db")")"
  say "  FluentMigrator MigrateUp, no-op, $HISTORY:        $(peak "$BASELINE" --assembly "$long" "$(npgsql "$empty_db")")"
  say "  init, no-op, 5 migrations:                    $(peak "$RUNNER" init --database-url "$(url "$short_db")")"
  say "  init, no-op, $HISTORY migrations:                 $(peak "$RUNNER" init --database-url "$(url "$long_db")" "${asm[@]}")"
  say "  status, $HISTORY migrations:                      $(peak "$RUNNER" status --database-url "$(url "$long_db")" "${asm[@]}")"
  say "  check --database-url, $HISTORY migrations:        $(peak "$RUNNER" check --database-url "$(url "$long_db")" "${asm[@]}")"
  recreate_database "$adopt_db" "$adopt_template"
  say "  init, adoption at $adopt_at:         $(peak "$RUNNER" init --database-url "$(url "$adopt_db")" "${asm[@]}")"
}

# --- case 2: many replicas ----------------------------------------------------------------------

# together N DIR COMMAND...: N copies of COMMAND started together, each timed by /usr/bin/time
# (DIR/time.I: user and system seconds; output in DIR/out.I and DIR/err.I); waits for all, dies
# naming the first that failed; prints the group's wall time in seconds.
together() {
  local n="$1" dir="$2" pids=() i start
  shift 2
  start="$(now)"
  for i in $(seq 1 "$n"); do
    /usr/bin/time -f '%U %S' -o "$dir/time.$i" "$@" >"$dir/out.$i" 2>"$dir/err.$i" &
    pids+=("$!")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { cat "$dir/err.$((i + 1))" >&2; die "process $((i + 1)) of $n ($1) failed"; }
  done
  echo "$(now) - $start" | bc -l
}

# cpu_of DIR: the CPU seconds (user + system) of the processes `together` timed in DIR.
cpu_of() { cat "$1"/time.* | awk '{ s += $1 + $2 } END { print s }'; }

# group RUNNER N DB FROM_TEMPLATE: N init processes started together on DB (recreated empty, or
# from FROM_TEMPLATE, first); prints "wall cpu waits" (seconds, seconds, processes that waited),
# "sessions transactions" (the server's counts for the database) and the CPU seconds of the
# backends that served the group (server_cpu; "-" on an existing server), after checking that each
# succeeded and every migration is recorded once.
group() {
  local runner="$1" n="$2" db="$3" template="$4" dir="$WORK/group" wall before after
  rm -rf "$dir"
  mkdir -p "$dir"
  recreate_database "$db" "$template"
  sleep 0.2 # recreate's backend reaped
  before="$(server_cpu)"
  wall="$(together "$n" "$dir" "$runner" init --database-url "$(url "$db")")"
  # The server's count of the group's sessions and transactions (this query's session excluded; a
  # backend reports them, and is reaped, as it ends, shortly after its client).
  sleep 0.5
  after="$(server_cpu)"
  local server
  server="$(psql "$(url "$db")" -qAt -F ' ' -c 'SELECT sessions - 1, xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()')"
  server="$server $( [ -n "$before" ] && echo "$after - $before" | bc -l || echo -)"
  [ "$(versions "$db")" = "5 rows, 5 distinct" ] || die "the group of $n did not leave each of the 5 migrations recorded once"
  local applied
  applied="$(cat "$dir"/out.* | grep -c '^applied ' || true)"
  if [ -z "$template" ]; then
    [ "$applied" -eq 5 ] || die "the group of $n applied $applied migrations, not 5 (each exactly once)"
  else
    [ "$applied" -eq 0 ] || die "the group of $n applied migrations on a database at head"
  fi
  printf '%s %s %s %s\n' "$wall" "$(cpu_of "$dir")" "$(grep -l 'waiting for its lock' "$dir"/err.* | wc -l)" "$server"
}

# machine_floor N MS: the ratio this machine itself gives N processes started together that need
# no runtime, no database and no disk: sha256sum of a file in the page cache, sized to take about MS
# of CPU each (a runner's at head), GROUP_RUNS times, median. wall/allowed cannot go below it here:
# the CPU the processes are not charged for (the kernel's, the machine's daemons', the starts) and
# the group's ragged end count in the wall time and not in the CPU.
machine_floor() {
  local n="$1" ms="$2" dir="$WORK/floor" probe="$WORK/floor.probe" file="$WORK/floor.data" rate runs="$WORK/floor.runs" wall
  mkdir -p "$dir"
  head -c 67108864 /dev/zero >"$probe"
  sha256sum "$probe" >/dev/null # into the page cache
  rate="$(/usr/bin/time -f '%U %S' sha256sum "$probe" 2>&1 >/dev/null | awk '{ t = $1 + $2; print (t > 0 ? 64 / t : 1000) }')" # MiB per CPU-second
  head -c "$(awk -v r="$rate" -v ms="$ms" 'BEGIN { printf "%d", r * ms / 1000 * 1048576 }')" /dev/zero >"$file"
  sha256sum "$file" >/dev/null
  : >"$runs"
  for _ in $(seq 1 "$GROUP_RUNS"); do
    rm -f "$dir"/*
    wall="$(together "$n" "$dir" sha256sum "$file")"
    printf '%s %s\n' "$wall" "$(cpu_of "$dir")" >>"$runs"
  done
  summarize "$n" <"$runs"
}

# summarize N: one line from GROUP_RUNS lines "wall cpu [waits sessions transactions server]"
# (seconds) of groups of N processes: the median group by wall time, and its wall against what its
# CPU allows; with the server's CPU, also against what the CPU of the processes and of the backends
# that served them allows (both ran on the same cores).
summarize() {
  sort -n | awk -v cores="$(nproc)" -v n="$1" '{ w[NR] = $1; c[NR] = $2; q[NR] = $3; s[NR] = $4; x[NR] = $5; b[NR] = $6; f[NR] = NF } END {
    m = int((NR + 1) / 2); allowed = c[m] / cores
    printf "wall %5.0f ms (median of %d; min %.0f, max %.0f), CPU %5.0f ms in all (%.0f ms a process) -> the CPU allows %5.0f ms: wall/allowed %.2fx", w[m] * 1000, NR, w[1] * 1000, w[NR] * 1000, c[m] * 1000, c[m] * 1000 / n, allowed * 1000, w[m] / allowed
    if (f[m] >= 5) printf "; %d waited for the lock; %.1f sessions and %.1f transactions a process", q[m], s[m] / n, x[m] / n
    if (f[m] >= 6 && b[m] != "-") { both = (c[m] + b[m]) / cores; printf "; the backends %.0f ms (%.0f a process) -> with them the CPU allows %.0f ms: wall/allowed %.2fx", b[m] * 1000, b[m] * 1000 / n, both * 1000, w[m] / both } }'
}

# replicas LABEL RUNNER: each group size, on an empty database and on one at head, GROUP_RUNS times: medians.
replicas() {
  local label="$1" runner="$2" db at_head n state template runs line
  new_database db timetrack_scale_replicas
  new_database at_head timetrack_scale_replicas_head
  "$runner" init --database-url "$(url "$at_head")" >/dev/null 2>&1 || die "init failed"
  for state in empty head; do
    template=""
    [ "$state" = head ] && template="$at_head"
    for n in 1 $REPLICAS; do
      runs="$WORK/runs"
      : >"$runs"
      for _ in $(seq 1 "$GROUP_RUNS"); do group "$runner" "$n" "$db" "$template" >>"$runs"; done
      line="$(summarize "$n" <"$runs")"
      say "  $label: $n x init on $( [ "$state" = empty ] && echo 'an empty database' || echo 'a database at head'): $line"
      if [ "$state" = head ] && [ "$n" -gt 1 ]; then # the CPU a process took, for machine_floor
        sort -n "$runs" | awk -v n="$n" '{ c[NR] = $2 } END { printf "%d %d\n", n, c[int((NR + 1) / 2)] * 1000 / n }' >>"$WORK/head.$label"
      fi
    done
  done
  say "  (every group: each process exit 0, each of the 5 migrations recorded and applied exactly once)"
}

case_replicas() {
  log "case 2: replicas ($REPLICAS), $GROUP_RUNS run(s) each"
  say ""
  say "case 2: many replicas ($(nproc) cores)"
  replicas "this tree" "$RUNNER"
  local n ms
  while read -r n ms; do
    say "  the machine's own floor: $n x sha256sum together (no runtime, no database, no disk; sized to the CPU of this tree's init at head): $(machine_floor "$n" "$ms")"
  done <"$WORK/head.this tree"
  local dir="$WORK/group"
  local waiter
  waiter="$(grep -l 'waiting for its lock' "$dir"/err.* 2>/dev/null | head -n 1 || true)"
  if [ -n "$waiter" ]; then # the last group is at head: none waits since the lock-free no-op
    say "  the lock waits as the log of one waiter of this tree's last group shows them:"
    grep -h -e 'waiting for its lock' -e 'took the migration lock' "$waiter" | sed 's/^/    /' | tee -a "$SUMMARY" >&2 || true
  fi
  if [ -n "$COMPARE_RUNNER" ]; then
    replicas "at $BENCH_COMPARE_REVISION" "$COMPARE_RUNNER"
  fi
}

# --- case 3: big tables -------------------------------------------------------------------------

# adopt_timed DB [RUNNER]: init with the JSON log; prints "first whole" (seconds from start to the first
# "applying" line, and to the end).
adopt_timed() {
  local start end first runner="${2:-$RUNNER}"
  start="$(now)"
  "$runner" init --log-format json --database-url "$(url "$1")" >"$WORK/adopt.out" 2>"$WORK/adopt.log" || { cat "$WORK/adopt.log" >&2; die "init failed on $1"; }
  end="$(now)"
  first="$(jq -r 'select(.Message | startswith("applying ")) | .Timestamp' "$WORK/adopt.log" | head -n 1)"
  [ -n "$first" ] || die "no migration was applied by init on $1"
  printf '%s %s\n' "$(echo "$(date -d "$first" +%s.%N) - $start" | bc -l)" "$(echo "$end - $start" | bc -l)"
}

case_big_tables() {
  log "case 3: the legacy fixture with $ROWS more time_entries rows"
  local big_template big small
  new_database big_template timetrack_scale_big_template
  new_database big timetrack_scale_big
  new_database small timetrack_scale_small
  psql "$(url "$big_template")" -q -v ON_ERROR_STOP=1 -f "$LEGACY_SQL" >/dev/null
  psql "$(url "$big_template")" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO time_entries (user_id, project_id, arrival_time, departure_time, duration, notes)
SELECT u.ids[1 + i % array_length(u.ids, 1)], NULL, timestamp '2024-01-01' + i * interval '1 minute',
       timestamp '2024-01-01' + i * interval '1 minute' + interval '8 hours', 480, 'bench ' || i
FROM generate_series(1, $ROWS) i, (SELECT array_agg(id ORDER BY id) AS ids FROM users) u;
VACUUM ANALYZE time_entries;
SQL
  local rows_before rows_after
  rows_before="$(psql "$(url "$big_template")" -qAt -c 'SELECT count(*) FROM time_entries')"
  local runs="$WORK/big-runs" reference="$WORK/big-reference" small_runs="$WORK/small-runs" compare_runs="$WORK/big-compare-runs"
  : >"$runs"; : >"$reference"; : >"$small_runs"; : >"$compare_runs"
  for _ in $(seq 1 "$GROUP_RUNS"); do
    recreate_database "$small" "$LEGACY_TEMPLATE"
    adopt_timed "$small" >>"$small_runs"
    recreate_database "$big" "$big_template"
    adopt_timed "$big" >>"$runs"
    rows_after="$(psql "$(url "$big")" -qAt -c 'SELECT count(*) FROM time_entries')"
    [ "$rows_after" = "$rows_before" ] || die "time_entries had $rows_before rows before init and $rows_after after"
    [ "$(versions "$big")" = "5 rows, 5 distinct" ] || die "init did not bring the big database to head"
    if [ -n "$COMPARE_RUNNER" ]; then
      # The same adoption with the runner compared (BENCH_COMPARE_RUNNER / _REVISION), alternated in the same run.
      recreate_database "$big" "$big_template"
      adopt_timed "$big" "$COMPARE_RUNNER" >>"$compare_runs"
      [ "$(versions "$big")" = "5 rows, 5 distinct" ] || die "the compared runner did not bring the big database to head"
    fi
    recreate_database "$big" "$big_template"
    local start end
    start="$(now)"
    psql "$(url "$big")" -qAt -v ON_ERROR_STOP=1 -c 'CREATE INDEX CONCURRENTLY ix_time_entries_user_arrival ON time_entries (user_id, arrival_time)' >/dev/null
    end="$(now)"
    echo "$end - $start" | bc -l >>"$reference"
  done
  med() { sort -n -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { printf "%.0f", v[int((NR + 1) / 2)] * 1000 }'; }
  say ""
  say "case 3: adoption of the legacy fixture with $rows_before time_entries rows (medians of $GROUP_RUNS)"
  say "  start -> first migration begins: $(med "$runs" 1) ms (the fixture as it is, $(psql "$(url "$LEGACY_TEMPLATE")" -qAt -c 'SELECT count(*) FROM time_entries') rows: $(med "$small_runs" 1) ms)"
  say "  whole init (adopt + 4 migrations, one of them CREATE INDEX CONCURRENTLY): $(med "$runs" 2) ms"
  say "  the same index by hand, psql -c 'CREATE INDEX CONCURRENTLY ...': $(med "$reference" 1) ms"
  say "  init - the index by hand: $(( $(med "$runs" 2) - $(med "$reference" 1) )) ms; every row still there ($rows_after)"
  say "  whole init / the index by hand: $(ratio "$(med "$runs" 2)" "$(med "$reference" 1)")x"
  if [ -n "$COMPARE_RUNNER" ]; then
    say "  at $BENCH_COMPARE_REVISION: start -> first migration $(med "$compare_runs" 1) ms, whole init $(med "$compare_runs" 2) ms ($(ratio "$(med "$compare_runs" 2)" "$(med "$reference" 1)")x the index by hand)"
  fi
}

for c in $CASES; do
  case "$c" in
    1) case_long_history ;;
    2) case_replicas ;;
    3) case_big_tables ;;
    *) die "BENCH_CASES: no case $c (1, 2, 3)" ;;
  esac
done

log "results ($(machine))"
cat "$SUMMARY"
cp "$SUMMARY" "$BENCH_DIR/results/scale-$STAMP.txt"
