#!/usr/bin/env bash
# Migrating under live traffic (PostgreSQL): how long other clients' queries stall while a
# migration runs. Two measurements, each with pgbench as the application:
#   (a) the concurrent index migration (202407150900) on 1,000,000 time_entries rows while
#       clients insert and update time entries continuously: the longest insert/update during
#       it, against the same index built without CONCURRENTLY;
#   (b) migration 5 (202408010900, ALTER TABLE tasks ADD COLUMN priority ...) while a
#       30-second transaction holds a lock on tasks and clients read tasks continuously: the
#       longest read, with the lock timeout (the default, 3 s) and without (--ddl-lock-timeout 0).
# pgbench's per-transaction log (-l) gives each query's latency; a query's own stall is its
# latency minus its schedule lag (-R throttles the clients; a stalled client's next queries are
# late, not slow).
#
# The runner is published in Release to a temporary directory; PostgreSQL is a throwaway 15
# cluster as in bench/run.sh (or TIMETRACK_BENCH_DATABASE_URL=postgresql://user:password@host:port/db
# for an existing server: databases timetrack_traffic_* are created there and dropped on exit).
# Usage: bash bench/traffic.sh
# Knobs: BENCH_ROWS (time_entries rows, default 1000000), BENCH_BLOCK_SECONDS (the long
# transaction, default 30), BENCH_RATE (pgbench transactions per second per run, default 200),
# PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROWS="${BENCH_ROWS:-1000000}"
BLOCK_SECONDS="${BENCH_BLOCK_SECONDS:-30}"
RATE="${BENCH_RATE:-200}"

require_tools psql:postgresql-client
PGBENCH="$PG_BIN/pgbench"
[ -x "$PGBENCH" ] || PGBENCH="$(command -v pgbench || true)"
[ -n "$PGBENCH" ] || die "pgbench is missing (apt-get install postgresql-contrib or postgresql-15)"

bench_init timetrack-traffic
log "publishing timetrack-migrate (Release) at $SOURCE_REVISION"
publish_runner plain
start_postgres
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }

# The longest stall (ms) of transactions in pgbench logs $1* that overlapped [$2, $3] (epoch seconds):
# latency minus schedule lag; also how many there were.
longest() {
  cat "$1".* | awk -v from="$2" -v to="$3" '
    { end = $5 + $6 / 1e6; lat = $3 / 1e6; lag = (NF >= 7 ? $7 / 1e6 : 0); begin = end - lat + lag
      if (end >= from && begin <= to) { n++; stall = lat - lag; if (stall > max) max = stall } }
    END { printf "%.0f ms over %d transactions\n", max * 1000, n }'
}

# --- (a) the concurrent index build under inserts and updates -----------------------------------

new_database DB_A timetrack_traffic
URL_A="$BASE_URL/$DB_A"
log "(a) $DB_A: migrating to 202407010900 and loading $ROWS time_entries rows"
"$RUNNER" up --to 202407010900 --database-url "$URL_A" >/dev/null 2>&1 || die "migrating $DB_A failed"
psql "$URL_A" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO companies (name, slug) VALUES ('Bench', 'bench');
INSERT INTO users (company_id, username, email) SELECT 1, 'u' || i, 'u' || i || '@example.com' FROM generate_series(1, 100) i;
INSERT INTO time_entries (user_id, arrival_time, departure_time, duration)
  SELECT 1 + i % 100, now() - i * interval '1 minute', now() - i * interval '1 minute' + interval '8 hours', 480
  FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE time_entries;
SQL
cat >"$WORK/writes.sql" <<SQL
\set user random(1, 100)
\set id random(1, $ROWS)
INSERT INTO time_entries (user_id, arrival_time) VALUES (:user, now());
UPDATE time_entries SET notes = 'edited' WHERE id = :id;
SQL

# One index build under traffic: $1 a label, then the command that builds it.
index_under_writes() {
  local label="$1"; shift
  local prefix="$WORK/a-$label"
  (cd "$WORK" && "$PGBENCH" -n -c 4 -j 2 -R "$RATE" -T "${BENCH_INDEX_SECONDS:-120}" -f "$WORK/writes.sql" -l --log-prefix="$prefix" "$URL_A" \
    >"$prefix.out" 2>&1) &
  local bench=$!
  BACKGROUND+=("$bench")
  sleep 3
  local from; from="$(now)"
  "$@" >"$prefix.ddl" 2>&1 || { cat "$prefix.ddl" >&2; die "(a) $label failed"; }
  local to; to="$(now)"
  wait "$bench" || { cat "$prefix.out" >&2; die "pgbench failed"; }
  printf '(a) %-40s build %5.1f s; longest insert/update stall during it: %s' "$label" "$(echo "$to - $from" | bc)" "$(longest "$prefix" "$from" "$to")"
}
A1="$(index_under_writes "migration 202407150900 (CONCURRENTLY)" "$RUNNER" up --to 202407150900 --database-url "$URL_A")"
psql "$URL_A" -qAt -c 'DROP INDEX ix_time_entries_user_arrival' >/dev/null
A2="$(index_under_writes "plain CREATE INDEX (no CONCURRENTLY)" psql "$URL_A" -qAt -v ON_ERROR_STOP=1 -c 'CREATE INDEX ix_time_entries_user_arrival ON time_entries (user_id, arrival_time)')"
printf '%s\n%s\n' "$A1" "$A2" >&2

# --- (b) ALTER TABLE tasks behind a long transaction, under reads -------------------------------

cat >"$WORK/reads.sql" <<'SQL'
\set id random(1, 100)
SELECT id, name, status FROM tasks WHERE id = :id;
SQL

# $1 a label, then the runner's extra options.
alter_behind_a_long_transaction() {
  local label="$1"; shift
  local db; new_database db timetrack_traffic
  local url="$BASE_URL/$db"
  local prefix="$WORK/b-$label"
  "$RUNNER" up --to 202407150900 --database-url "$url" >/dev/null 2>&1 || die "migrating $db failed"
  psql "$url" -q -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO companies (name, slug) VALUES ('Bench', 'bench');
INSERT INTO projects (company_id, name, code) VALUES (1, 'P', 'P');
INSERT INTO tasks (project_id, name) SELECT 1, 't' || i FROM generate_series(1, 100) i;
SQL
  # The long transaction: a report that read tasks and keeps its transaction open.
  PGAPPNAME=bench_report psql "$url" -qAt -c "BEGIN; SELECT id FROM tasks LIMIT 1; SELECT pg_sleep($BLOCK_SECONDS); COMMIT;" >/dev/null &
  local blocker=$!
  BACKGROUND+=("$blocker")
  sleep 1
  (cd "$WORK" && "$PGBENCH" -n -c 4 -j 2 -R "$RATE" -T $((BLOCK_SECONDS + 15)) -f "$WORK/reads.sql" -l --log-prefix="$prefix" "$url" \
    >"$prefix.out" 2>&1) &
  local bench=$!
  BACKGROUND+=("$bench")
  sleep 2
  local from; from="$(now)"
  local code=0
  "$RUNNER" up --database-url "$url" "$@" >"$prefix.runner" 2>&1 || code=$?
  local to; to="$(now)"
  wait "$bench" || { cat "$prefix.out" >&2; die "pgbench failed"; }
  wait "$blocker" || true
  printf '(b) %-34s runner exit %d after %5.1f s, %d retry line(s); longest read stall: %s' "$label" "$code" "$(echo "$to - $from" | bc)" \
    "$(grep -c 'and was rolled back' "$prefix.runner" || true)" "$(longest "$prefix" "$from" "$to")"
  sed -n 's/^/    /p' "$prefix.runner" | grep -E 'warning|error' | head -3 >&2 || true
}
B1="$(alter_behind_a_long_transaction "lock timeout 3 s (the default)")"
B2="$(alter_behind_a_long_transaction "no lock timeout (--ddl-lock-timeout 0)" --ddl-lock-timeout 0)"

log "results ($SOURCE_REVISION, PostgreSQL $PG_VERSION, $(nproc) CPU(s), load average at the start: $LOAD_BEFORE)"
printf '%s\n%s\n%s\n%s\n' "$A1" "$A2" "$B1" "$B2"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
