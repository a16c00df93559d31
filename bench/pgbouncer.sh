#!/usr/bin/env bash
# The no-op start (the NativeAOT front, `timetrack-migrate up` on a database at head) through the
# topologies of docs/topologies.md, against psql reading the same version table through the same:
#   direct            the server itself
#   session           a PgBouncer pool in session mode in front of it
#   transaction       the same PgBouncer, a pool in transaction mode (the front reads; the full runner would refuse)
#   multi-host        postgresql://h:standby,h:primary/db?target_session_attrs=primary (a real streaming standby listed first)
# and, for each, whether the front answered itself (TIMETRACK_FAST_START=explain). Whole-process
# wall time with hyperfine; the medians as a markdown table on stdout.
#
# Usage: bash bench/pgbouncer.sh        (RUNS=20 WARMUP=3; BENCH_APP=DIR: a published app — the front
#        with full/ beside it — instead of publishing one; publishing the NativeAOT front takes minutes)
# The shared part (tools, scratch space, the throwaway cluster): bench/lib.sh.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${RUNS:-20}"
WARMUP="${WARMUP:-3}"
require_tools hyperfine:hyperfine jq:jq psql:postgresql-client /usr/sbin/pgbouncer:pgbouncer
[ -z "${TIMETRACK_BENCH_DATABASE_URL:-}" ] || die "this benchmark starts its own cluster (it adds a standby): unset TIMETRACK_BENCH_DATABASE_URL"
bench_init timetrack-bench-pgbouncer

# --- the programs -------------------------------------------------------------------------------

APP="${BENCH_APP:-$WORK/app}"
if [ -z "${BENCH_APP:-}" ]; then
  log "publishing timetrack-migrate as the image does (the NativeAOT front and the full runner in full/)"
  publish_image_app "$APP"
fi
FRONT="$APP/timetrack-migrate"
if [ ! -x "$FRONT" ] || [ ! -x "$APP/full/timetrack-migrate" ]; then
  die "no front at $FRONT with full/timetrack-migrate beside it"
fi

# --- the primary, a streaming standby, PgBouncer ------------------------------------------------

start_postgres
new_database DB timetrack_bouncer
STANDBY_DATA="$WORK/pg/standby"
STANDBY_PORT="$(free_port)"
log "a streaming standby on port $STANDBY_PORT (pg_basebackup -R)"
(cd /tmp && PGPASSWORD="$PG_PASSWORD" "${PG_OWNER_RUN[@]}" "$PG_BIN/pg_basebackup" -D "$STANDBY_DATA" -R -X stream \
  -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" >/dev/null)
(cd /tmp && "${PG_OWNER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$STANDBY_DATA" -l "$WORK/pg/standby.log" -w -t 60 start \
  -o "-p $STANDBY_PORT -k $WORK/pg/sockets -c listen_addresses=127.0.0.1" >/dev/null)
stop_standby() { (cd /tmp && "${PG_OWNER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$STANDBY_DATA" -m immediate -w stop >/dev/null 2>&1) || true; }

BOUNCER="$WORK/pgbouncer"
BOUNCER_PORT="$(free_port)"
mkdir -p "$BOUNCER"
printf '"%s" "%s"\n' "$PG_USER" "$PG_PASSWORD" >"$BOUNCER/users.txt"
# One PgBouncer, two pools of the same database: pool_mode per database entry.
cat >"$BOUNCER/pgbouncer.ini" <<INI
[databases]
session = host=$PG_HOST port=$PG_PORT dbname=$DB pool_mode=session
transaction = host=$PG_HOST port=$PG_PORT dbname=$DB pool_mode=transaction
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir = $BOUNCER
auth_type = scram-sha-256
auth_file = $BOUNCER/users.txt
default_pool_size = 5
ignore_startup_parameters = extra_float_digits
logfile = $BOUNCER/pgbouncer.log
pidfile = $BOUNCER/pgbouncer.pid
INI
is_root && chown -R postgres:postgres "$BOUNCER"
"${PG_OWNER_RUN[@]}" /usr/sbin/pgbouncer -d "$BOUNCER/pgbouncer.ini"
stop_bouncer() { if [ -f "$BOUNCER/pgbouncer.pid" ]; then kill "$(cat "$BOUNCER/pgbouncer.pid")" 2>/dev/null || true; fi; }
# lib.sh's own clean-up (the cluster, $WORK) after ours.
trap 'status=$?; stop_bouncer; stop_standby; (exit "$status"); bench_cleanup' EXIT

# The password goes through the environment, never on a command line hyperfine prints.
export DATABASE_PASSWORD="$PG_PASSWORD" PGPASSWORD="$PG_PASSWORD"
declare -A URLS=(
  [direct]="postgresql://$PG_USER@$PG_HOST:$PG_PORT/$DB"
  [session]="postgresql://$PG_USER@127.0.0.1:$BOUNCER_PORT/session"
  [transaction]="postgresql://$PG_USER@127.0.0.1:$BOUNCER_PORT/transaction"
  [multi-host]="postgresql://$PG_USER@127.0.0.1:$STANDBY_PORT,$PG_HOST:$PG_PORT/$DB?target_session_attrs=primary"
)
TOPOLOGIES=(direct session transaction multi-host)

log "bringing the database to head (the full runner, direct)"
"$APP/full/timetrack-migrate" init --database-url "${URLS[direct]}" >/dev/null

# --- who answers ---------------------------------------------------------------------------------

declare -A ANSWERED
for t in "${TOPOLOGIES[@]}"; do
  explained="$(TIMETRACK_FAST_START=explain "$FRONT" up --database-url "${URLS[$t]}" 2>&1 >/dev/null | grep '^fast start:' || true)"
  ANSWERED[$t]="${explained#fast start: }"
  log "$t: ${ANSWERED[$t]}"
done

# --- measure -------------------------------------------------------------------------------------

warn_if_busy
JSON="$WORK/hyperfine.json"
commands=()
for t in "${TOPOLOGIES[@]}"; do
  commands+=(-n "front up, $t" "$FRONT up --database-url ${URLS[$t]}")
  commands+=(-n "psql, $t" "psql ${URLS[$t]} -qAt -c 'SELECT count(*) FROM public.\"VersionInfo\"'")
done
log "hyperfine: --warmup $WARMUP --runs $RUNS"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$JSON" "${commands[@]}" >&2

median() { jq -r --arg name "$1" '.results[] | select(.command == $name) | (.median * 1000 | . * 10 | round / 10)' "$JSON"; }
echo "Measured on: $(machine)"
echo
echo "| topology | front \`up\` at head, median ms | psql reading the version table, median ms | the front's decision |"
echo "|---|---|---|---|"
for t in "${TOPOLOGIES[@]}"; do
  echo "| $t | $(median "front up, $t") | $(median "psql, $t") | ${ANSWERED[$t]} |"
done
