#!/usr/bin/env bash
# A Patroni switchover in the middle of a migration step. Starts a single-node etcd and two
# Patroni nodes running PostgreSQL 15 (free ports, data under a scratch directory, everything
# stopped and removed on exit), migrates through the multi-host URL
# postgresql://...@127.0.0.1:P1,127.0.0.1:P2/app?target_session_attrs=primary, and while step 300
# runs (TIMETRACK_TEST_SCENARIO=slow: a pg_sleep) moves the primary with `patronictl switchover
# --force`. Asserts: the run exits 1 with one `error:` line naming the step and no stack trace;
# the next run with the same URL exits 0 on the new primary, every migration recorded once, and
# `check --database-url` is clean. Prints how long each phase took; exits 1 on any failure.
#
# Usage: bash bench/patroni.sh (as root, or as a user who may run PostgreSQL's binaries)
# Knobs: BENCH_RUNNER=<timetrack-migrate> (else the test build's published runner, else this
#   tree's runner is published), FAULTS_SCENARIOS=<TimeTrack.Migrations.TestScenarios.dll> (else the
#   test build's), PG_BIN (default /usr/lib/postgresql/15/bin).
# Needs the Debian packages patroni and etcd-server (installed when missing, as root).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools psql:postgresql-client patroni:patroni patronictl:patroni etcd:etcd-server
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 server binaries not found in $PG_BIN (apt-get install postgresql-15)"
bench_init timetrack-patroni
SCRIPT_START=$(date +%s.%N)

TEST_BIN="$ROOT/TimeTrack.Migrations.Tests/bin/Debug/net10.0"
if [ -z "${BENCH_RUNNER:-}" ] && [ -x "$TEST_BIN/published-runner/timetrack-migrate" ]; then
  BENCH_RUNNER="$TEST_BIN/published-runner/timetrack-migrate" # what the tests run (PublishRunnerForTests)
fi
runner_from_env_or_publish plain
SCENARIOS="${FAULTS_SCENARIOS:-$TEST_BIN/TimeTrack.Migrations.TestScenarios.dll}"
[ -f "$SCENARIOS" ] || die "the test scenario migrations ($SCENARIOS) are missing: build the tests (dotnet build TimeTrack.sln) or set FAULTS_SCENARIOS"

# --- the cluster --------------------------------------------------------------------------------

now() { date +%s.%N; }
since() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }

chmod 755 "$WORK"
AS_OWNER=()
if is_root; then
  # initdb refuses root: Patroni and its PostgreSQL run as postgres. setpriv execs (no parent
  # process in between), so the pid kept is Patroni's and SIGTERM reaches it.
  AS_OWNER=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)
fi

PASSWORD="pw$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
REPLICATION_PASSWORD="rp$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export PGPASSWORD="$PASSWORD"
ETCD_CLIENT="$(free_port)"
ETCD_PEER="$(free_port)"
declare -A PG_PORT_OF API_PORT_OF PID_OF
NODES=(node1 node2)
for node in "${NODES[@]}"; do
  PG_PORT_OF[$node]="$(free_port)"
  API_PORT_OF[$node]="$(free_port)"
done
ETCD_PID=""

patroni_cleanup() {
  local status=$? node pid
  set +e
  for node in "${NODES[@]}"; do
    pid="${PID_OF[$node]:-}"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  # Patroni stops its PostgreSQL on SIGTERM; whatever is left after 30 s is stopped here.
  for _ in $(seq 1 300); do
    local alive=""
    for node in "${NODES[@]}"; do
      pid="${PID_OF[$node]:-}"
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for node in "${NODES[@]}"; do
    pid="${PID_OF[$node]:-}"
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    if [ -f "$WORK/$node/data/postmaster.pid" ]; then
      "${AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$WORK/$node/data" -m immediate -w stop >/dev/null 2>&1
    fi
  done
  [ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null && wait "$ETCD_PID" 2>/dev/null
  (exit "$status")
  bench_cleanup
}
trap patroni_cleanup EXIT

# wait_for SECONDS WHAT COMMAND...: polls every 100 ms until COMMAND succeeds; dies naming WHAT.
wait_for() {
  local deadline what="$2"
  deadline=$(echo "$(now) + $1" | bc)
  shift 2
  until "$@" >/dev/null 2>&1; do
    (($(echo "$(now) > $deadline" | bc))) && die "not reached in time: $what"
    sleep 0.1
  done
}

log "starting etcd (client port $ETCD_CLIENT)"
etcd --name etcd1 --data-dir "$WORK/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "etcd1=http://127.0.0.1:$ETCD_PEER" >"$WORK/etcd.log" 2>&1 &
ETCD_PID=$!
wait_for 30 "etcd answering on $ETCD_CLIENT" curl -fsS "http://127.0.0.1:$ETCD_CLIENT/health"

# node_config NODE: Patroni's configuration of NODE. Short loop_wait and ttl: a switchover takes
# a few seconds instead of tens. No durability: a throwaway cluster.
node_config() {
  local node="$1" dir="$WORK/$1"
  cat <<EOF
scope: timetrack
name: $node
restapi:
  listen: 127.0.0.1:${API_PORT_OF[$node]}
  connect_address: 127.0.0.1:${API_PORT_OF[$node]}
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: false
      parameters:
        fsync: 'off'
        full_page_writes: 'off'
        max_connections: 100
  initdb:
    - encoding: UTF8
    - locale: C
    - auth-local: trust
    - auth-host: scram-sha-256
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
postgresql:
  listen: 127.0.0.1:${PG_PORT_OF[$node]}
  connect_address: 127.0.0.1:${PG_PORT_OF[$node]}
  data_dir: $dir/data
  bin_dir: $PG_BIN
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
      password: $PASSWORD
    replication:
      username: replicator
      password: $REPLICATION_PASSWORD
  parameters:
    unix_socket_directories: $dir
EOF
}

start_node() {
  local node="$1"
  mkdir -p "$WORK/$node"
  node_config "$node" >"$WORK/$node.yml"
  is_root && chown -R postgres:postgres "$WORK/$node" "$WORK/$node.yml"
  (cd /tmp && exec "${AS_OWNER[@]}" patroni "$WORK/$node.yml" >"$WORK/$node.log" 2>&1) &
  PID_OF[$node]=$!
}

# role NODE: "primary" or "standby", as the node's PostgreSQL says (nothing when it does not answer).
role() {
  psql "host=127.0.0.1 port=${PG_PORT_OF[$1]} user=postgres dbname=postgres connect_timeout=2" -qAt \
    -c "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' ELSE 'primary' END" 2>/dev/null
}
is_primary() { [ "$(role "$1")" = primary ]; }
is_streaming_standby() {
  [ "$(role "$1")" = standby ] && [ "$(psql "host=127.0.0.1 port=${PG_PORT_OF[$1]} user=postgres dbname=postgres" -qAt \
    -c "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")" = 1 ]
}
patronictl_() { patronictl -c "$WORK/node1.yml" "$@"; }

CLUSTER_START=$(now)
log "starting Patroni node1 (PostgreSQL on ${PG_PORT_OF[node1]}) and, once it leads, node2 (${PG_PORT_OF[node2]})"
start_node node1
wait_for 90 "node1 bootstrapped as the primary (see $WORK/node1.log)" is_primary node1
start_node node2
wait_for 90 "node2 streaming from node1 (see $WORK/node2.log)" is_streaming_standby node2
CLUSTER_SECONDS=$(since "$CLUSTER_START")
patronictl_ list >&2

psql "host=127.0.0.1 port=${PG_PORT_OF[node1]} user=postgres dbname=postgres" -qAt -c 'CREATE DATABASE app' >/dev/null
PG_VERSION="$(psql "host=127.0.0.1 port=${PG_PORT_OF[node1]} user=postgres dbname=postgres" -qAt -c 'SHOW server_version')"
APPLICATION=timetrack-patroni
URL="postgresql://postgres@127.0.0.1:${PG_PORT_OF[node1]},127.0.0.1:${PG_PORT_OF[node2]}/app?target_session_attrs=primary&application_name=$APPLICATION"
export DATABASE_PASSWORD="$PASSWORD"
mig() { TIMETRACK_TEST_SCENARIO="$1" timeout -s KILL 180 "$RUNNER" "${@:2}" --database-url "$URL" --migrations-assembly "$SCENARIOS"; }
q() { psql "host=127.0.0.1 port=${PG_PORT_OF[$1]} user=postgres dbname=app" -qAt -v ON_ERROR_STOP=1 -c "$2"; }

FAILED=0
ok() { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*"; FAILED=1; }

log "up --to 200 through the multi-host URL"
mig normal up --to 200 >"$WORK/up-200.log" 2>&1 || { cat "$WORK/up-200.log" >&2; die "up --to 200 failed"; }
wait_for 30 "version 200 on node2" test "$(q node2 'SELECT count(*) FROM "VersionInfo" WHERE "Version" = 200' 2>/dev/null)" = 1

log "up (step 300 sleeps) and, while it runs, patronictl switchover --force to node2"
mig slow up >"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
BACKGROUND+=("$RUN_PID")
in_step() { [ "$(q node1 "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$APPLICATION' AND wait_event = 'PgSleep'")" -ge 1 ]; }
wait_for 60 "the runner in step 300 on node1" in_step
SWITCH_START=$(now)
patronictl_ switchover --leader node1 --candidate node2 --force >"$WORK/switchover.log" 2>&1 \
  || { cat "$WORK/switchover.log" >&2; die "patronictl switchover failed"; }
RUN_STATUS=0
wait "$RUN_PID" || RUN_STATUS=$?
RUN_SECONDS=$(since "$SWITCH_START")
wait_for 60 "node2 the primary" is_primary node2
PROMOTED_SECONDS=$(since "$SWITCH_START")
wait_for 90 "node1 back as a standby of node2" is_streaming_standby node1
REJOINED_SECONDS=$(since "$SWITCH_START")
patronictl_ list >&2

printf -- '--- the interrupted run (exit %s), its stderr:\n' "$RUN_STATUS"
cat "$WORK/run.err"
mapfile -t errors < <(grep '^error:' "$WORK/run.err" || true)
if [ "$RUN_STATUS" -eq 1 ]; then ok "the interrupted run exited 1"; else fail "the interrupted run exited $RUN_STATUS, not 1"; fi
if [ "${#errors[@]}" -eq 1 ] && [[ "${errors[0]}" == "error: the connection to the database was lost during migration 300 (Scenario step)"* ]]; then
  ok "one error line naming the step"
else
  fail "expected one line 'error: the connection to the database was lost during migration 300 (Scenario step) ...', got ${#errors[@]}"
fi
if grep -q '^   at ' "$WORK/run.err" "$WORK/run.out"; then fail "a stack trace was printed"; else ok "no stack trace"; fi
if grep -qF "$PASSWORD" "$WORK/run.err" "$WORK/run.out"; then fail "the password was printed"; fi

log "the rerun with the same URL"
RERUN_START=$(now)
if mig normal up >"$WORK/rerun.log" 2>&1; then ok "the rerun exited 0"; else cat "$WORK/rerun.log"; fail "the rerun failed"; fi
RERUN_SECONDS=$(since "$RERUN_START")
recorded="$(q node2 'SELECT string_agg("Version" || $$:$$ || n, $$ $$ ORDER BY "Version") FROM (SELECT "Version", count(*) AS n FROM "VersionInfo" GROUP BY "Version") AS v')"
if [ "$recorded" = "100:1 200:1 300:1" ]; then ok "on node2 (the new primary) each migration once ($recorded)"; else fail "node2's version table: $recorded"; fi
if mig normal check >"$WORK/check.log" 2>&1; then ok "check --database-url clean"; else cat "$WORK/check.log"; fail "check found differences"; fi

TOTAL_SECONDS=$(since "$SCRIPT_START")
printf '\nMachine: %s\n' "$(machine)"
printf 'cluster (etcd + 2 Patroni nodes) up: %s s; switchover command to runner exit: %s s; to node2 writable: %s s; to node1 streaming again: %s s; rerun: %s s; whole script: %s s\n' \
  "$CLUSTER_SECONDS" "$RUN_SECONDS" "$PROMOTED_SECONDS" "$REJOINED_SECONDS" "$RERUN_SECONDS" "$TOTAL_SECONDS"
if [ "$FAILED" -ne 0 ]; then echo "patroni: FAILED"; exit 1; fi
echo "patroni: passed"
