#!/usr/bin/env bash
# Startup benchmark of timetrack-migrate on the container-restart path (issue 14, cases 0, 4, 5).
#
# Measures, with hyperfine, the whole-process wall time of:
#   (0) timetrack-migrate init     as the image runs it: the NativeAOT front, which answers a no-op
#                                  start by itself (TimeTrack.Migrations.FastStart), on PostgreSQL at head
#   (0u) timetrack-migrate up      the same front, no-op up
#   (0s) timetrack-migrate init    the same front on the SQLite file at head ((ds): the full runner's init there)
#   (p) psql -c 'select 1'         the floor: a process that connects with SCRAM over TCP and asks one thing
#   (a) timetrack-migrate up       on a PostgreSQL database already at head (a no-op)
#   (b) fluentmigrator-baseline    FluentMigrator's runner built the plain way
#   (b') the same baseline         published like (a) (ReadyToRun), for a like-for-like comparison
#                                  (AddFluentMigratorCore + AddPostgres15_0 + MigrateUp) on the same database
#   (c) timetrack-migrate status   on the same database (reference)
#   (d) timetrack-migrate up       on a SQLite file already at head (reference)
#   (e) timetrack-migrate --help   no database at all: the floor of process start-up (reference)
#   (0t) timetrack-migrate start -- true   the front's no-op start, then exec true (the image's entrypoint)
#   (tr)/(tpr), (tv)/(tpv), (tf)/(tpf)   the front's no-op init and psql -c 'select 1' with the same URL
#                                  over TLS: sslmode=require, verify-full (sslrootcert), prefer (issue 25);
#                                  last, after ssl is turned on on the throwaway cluster
#   (f) timetrack-migrate init     on the PostgreSQL database: what the container entrypoint runs
#   (g) timetrack-migrate init     on the legacy fixture (no history): adoption, verified against
#                                  expected schemas built on the server, then 4 migrations applied
#   (h) timetrack-migrate stamp --profile legacy   the same adoption without the migrations
#   (i) timetrack-migrate check --database-url     drift check of the database at head
#   (g) and (h) restore the legacy fixture into a fresh database before every run (not timed).
#
# The programs are published in Release to a temporary directory (see "build" below) and run
# through their apphost executables. PostgreSQL is a throwaway 15 cluster on 127.0.0.1 (free
# port, own socket directory, password over TCP) started here and removed on exit, unless
# TIMETRACK_BENCH_DATABASE_URL=postgresql://user:password@host:port/maintenance_db points at an
# existing server: a database timetrack_bench_* is then created there and dropped on exit.
#
# Usage: bash bench/run.sh
# Knobs (environment): BENCH_WARMUP (default 3), BENCH_RUNS (default 30), BENCH_MEMORY_RUNS (default 5);
#   BENCH_SMOKE=1: one run of everything, no warm-up (.ci/run: the script must not rot); with
#   BENCH_IMAGE it measures the image's own binaries instead of publishing (no NativeAOT compile);
#   BENCH_IMAGE=<image>: also case 5;
#   BENCH_COMPARE_REVISION=<commit>: also publish the runner of that commit (from this repository's
#   history) and measure its no-op up and init beside this tree's, in the same run ("before/after").
# Results: bench/results/hyperfine-<timestamp>.json (git-ignored by bench/.gitignore).
set -euo pipefail

# The shared part (tools, scratch space, publishing, the throwaway cluster): bench/lib.sh.
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESULTS_DIR="$BENCH_DIR/results"
SMOKE="${BENCH_SMOKE:-0}"
IMAGE="${BENCH_IMAGE:-}"
if [ "$SMOKE" = 1 ]; then
  WARMUP=0 RUNS=1 MEMORY_RUNS=1
else
  WARMUP="${BENCH_WARMUP:-3}" RUNS="${BENCH_RUNS:-30}" MEMORY_RUNS="${BENCH_MEMORY_RUNS:-5}"
fi

tools=(hyperfine:hyperfine jq:jq psql:postgresql-client /usr/bin/time:time openssl:openssl)
# NativeAOT links with clang against zlib (not needed when the binaries come from the image).
if [ "$SMOKE" != 1 ] || [ -z "$IMAGE" ]; then
  tools+=(clang:clang /usr/include/zlib.h:zlib1g-dev)
fi
require_tools "${tools[@]}"
if [ -n "$IMAGE" ]; then
  command -v podman >/dev/null 2>&1 || die "BENCH_IMAGE needs podman (.ci/container-env.sh installs and configures it)"
  podman image exists "$IMAGE" || die "BENCH_IMAGE: no image $IMAGE (bash .ci/test-image.sh builds localhost/timetrack-migrations:test)"
fi
bench_init timetrack-bench

# --- build --------------------------------------------------------------------------------------

# --artifacts-path keeps every bin/ and obj/ of this build in the scratch directory: the benchmark
# leaves the working tree as it found it and does not race a developer's own build.
# The runner is published as the Dockerfile publishes it (framework-dependent ReadyToRun,
# linux-x64, in full/), the front beside it with NativeAOT; or, in a smoke run with BENCH_IMAGE,
# both are copied out of the image. The baseline twice: as anyone would publish a small program
# (plain Release), and with the same settings as the runner, for a like-for-like comparison (not
# in a smoke run).
APP="$WORK/app"
copy_app_from_image() { # image, directory: the image's /app (front and full runner)
  local container
  container="$(podman create "$1")"
  podman cp "$container:/app" "$2" >/dev/null
  podman rm "$container" >/dev/null
}
if [ "$SMOKE" = 1 ] && [ -n "$IMAGE" ]; then
  log "smoke: timetrack-migrate from $IMAGE (front and full runner as the image ships them)"
  copy_app_from_image "$IMAGE" "$APP"
else
  log "publishing timetrack-migrate (as the image does: the NativeAOT front and the full runner)"
  publish_image_app "$APP"
fi
log "publishing the FluentMigrator baseline"
BASELINE_LIKE_RUNNER=()
if [ "$SMOKE" != 1 ]; then
  publish_baseline image
  BASELINE_R2R="$BASELINE"
  BASELINE_LIKE_RUNNER=(-n "(b') the same baseline published like (a)" "$BASELINE_R2R")
fi
publish_baseline plain

COMPARE=()
if [ -n "${BENCH_COMPARE_REVISION:-}" ]; then
  log "publishing the runner of $BENCH_COMPARE_REVISION for comparison"
  publish_revision "$BENCH_COMPARE_REVISION" image
  COMPARE_RUNNER="$RUNNER"
  COMPARE=(-n "(a0) timetrack-migrate up at $BENCH_COMPARE_REVISION (PostgreSQL, no-op)" "$COMPARE_RUNNER up"
           -n "(f0) timetrack-migrate init at $BENCH_COMPARE_REVISION (PostgreSQL, no-op)" "$COMPARE_RUNNER init")
fi
FRONT="$APP/timetrack-migrate"
RUNNER="$APP/full/timetrack-migrate"
[ -x "$FRONT" ] || die "no front at $FRONT"
[ -x "$RUNNER" ] || die "no apphost at $RUNNER"

# --- PostgreSQL ---------------------------------------------------------------------------------

start_postgres
new_database BENCH_DB
DATABASES+=("${BENCH_DB}_legacy" "${BENCH_DB}_fresh") # made below: dropped on exit on an existing server too

# The secrets go through the environment, not the command lines hyperfine prints.
export DATABASE_URL="postgresql://$USER_INFO@$PG_HOST:$PG_PORT/$BENCH_DB"
export BASELINE_CONNECTION_STRING="Host=$PG_HOST;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=$BENCH_DB"
SQLITE_URL="sqlite:///$WORK/bench.db" # $WORK is absolute: sqlite:////tmp/...

# --- bring both databases to head, and check that the measured runs are no-ops -----------------

log "migrating the benchmark databases to head"
"$RUNNER" up >&2
"$RUNNER" up --database-url "$SQLITE_URL" >&2
[[ "$("$RUNNER" up)" == "nothing to do"* ]] || die "timetrack-migrate up is not a no-op on the PostgreSQL database"
[[ "$("$RUNNER" up --database-url "$SQLITE_URL")" == "nothing to do"* ]] || die "timetrack-migrate up is not a no-op on the SQLite database"
[ "$(TIMETRACK_FAST_START=explain "$FRONT" init --database-url "$SQLITE_URL" 2>&1 >/dev/null | head -n 1)" = "fast start: nothing to do" ] \
  || die "the NativeAOT front does not answer the no-op init on SQLite by itself"
"$BASELINE" || die "the FluentMigrator baseline failed"
applied_before="$(psql "$DATABASE_URL" -qAt -c 'SELECT count(*), max("Version") FROM "VersionInfo"')"
"$BASELINE"
[[ "$("$RUNNER" status)" == *"pending:      none"* ]] || die "the PostgreSQL database is not at head"
# The front must answer the no-op itself (else (0) would measure the hand-over), with the runner's output.
[ "$(TIMETRACK_FAST_START=explain "$FRONT" init 2>&1 >/dev/null | head -n 1)" = "fast start: nothing to do" ] \
  || die "the NativeAOT front does not answer the no-op init by itself: $(TIMETRACK_FAST_START=explain "$FRONT" init 2>&1 | head -n 1)"
[ "$("$FRONT" init 2>&1)" = "$("$RUNNER" init 2>&1)" ] || die "the front's no-op init does not print what the full runner prints"
# psql, the floor, connects as the runner does: TCP, SCRAM, the password from the environment.
export PGPASSWORD="$PG_PASSWORD"
FLOOR="psql -X -qAt -h $PG_HOST -p $PG_PORT -U $PG_USER -d $BENCH_DB -c 'select 1'"
[ "$(psql -X -qAt -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$BENCH_DB" -c 'select 1')" = 1 ] || die "psql cannot connect"
[ "$applied_before" = "$(psql "$DATABASE_URL" -qAt -c 'SELECT count(*), max("Version") FROM "VersionInfo"')" ] \
  || die "the baseline changed the version table"

# The legacy fixture, restored into its own database before every adoption run (hyperfine --prepare).
LEGACY_DB="${BENCH_DB}_legacy"
LEGACY_FIXTURE="$ROOT/TimeTrack.Migrations.Tests/Fixtures/legacy-postgres.sql"
[ -f "$LEGACY_FIXTURE" ] || die "the legacy fixture $LEGACY_FIXTURE is missing"
# pg_dump 17.6+ writes \restrict lines that psql 15 does not know; they only guard psql's own use.
grep -v -e '^\\restrict' -e '^\\unrestrict' "$LEGACY_FIXTURE" >"$WORK/legacy.sql"
cat >"$WORK/restore-legacy.sh" <<RESTORE
set -eu
psql "$MAINTENANCE_URL" -qAt -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS "$LEGACY_DB" WITH (FORCE)' -c 'CREATE DATABASE "$LEGACY_DB"' >/dev/null
psql "postgresql://$USER_INFO@$PG_HOST:$PG_PORT/$LEGACY_DB" -q -v ON_ERROR_STOP=1 -f "$WORK/legacy.sql" >/dev/null
RESTORE
# Command lines hyperfine prints carry no password: it comes from DATABASE_PASSWORD.
export DATABASE_PASSWORD="$PG_PASSWORD"
LEGACY_URL="postgresql://$PG_USER@$PG_HOST:$PG_PORT/$LEGACY_DB"
CHECKED_URL="postgresql://$PG_USER@$PG_HOST:$PG_PORT/$BENCH_DB"
bash "$WORK/restore-legacy.sh"
"$RUNNER" init --database-url "$LEGACY_URL" >/dev/null 2>&1 || die "init does not adopt the legacy fixture"
bash "$WORK/restore-legacy.sh"
"$RUNNER" check --database-url "$CHECKED_URL" >/dev/null 2>&1 || die "check finds drift in the benchmark database"

# --- measure ------------------------------------------------------------------------------------

mkdir -p "$RESULTS_DIR"
JSON="$RESULTS_DIR/hyperfine-$(date -u +%Y%m%dT%H%M%SZ).json"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v l="${load_before%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  printf 'warning: load average %s on %s CPU(s): other work is running, the figures will be noisy\n' "$load_before" "$(nproc)" >&2
fi
log "hyperfine: --warmup $WARMUP --runs $RUNS (no shell between hyperfine and the program)"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$JSON" \
  -n "(0) timetrack-migrate init: NativeAOT front (PostgreSQL, no-op: the image's start)" "$FRONT init" \
  -n "(0u) timetrack-migrate up: NativeAOT front (PostgreSQL, no-op)" "$FRONT up" \
  -n "(0t) timetrack-migrate start -- true: NativeAOT front (PostgreSQL, no-op, then exec true)" "$FRONT start -- true" \
  -n "(p) psql -c 'select 1': the floor" "$FLOOR" \
  -n "(0s) timetrack-migrate init: NativeAOT front (SQLite, no-op)" "$FRONT init --database-url $SQLITE_URL" \
  -n "(a) timetrack-migrate up: full runner (PostgreSQL, no-op)" "$RUNNER up" \
  -n "(b) FluentMigrator baseline MigrateUp (PostgreSQL, no-op)" "$BASELINE" "${BASELINE_LIKE_RUNNER[@]}" \
  -n "(c) timetrack-migrate status (PostgreSQL)" "$RUNNER status" \
  -n "(f) timetrack-migrate init: full runner (PostgreSQL, no-op)" "$RUNNER init" \
  -n "(d) timetrack-migrate up: full runner (SQLite, no-op)" "$RUNNER up --database-url $SQLITE_URL" \
  -n "(ds) timetrack-migrate init: full runner (SQLite, no-op)" "$RUNNER init --database-url $SQLITE_URL" \
  -n "(e) timetrack-migrate --help (no database)" "$RUNNER --help" "${COMPARE[@]}" >&2

# Adoption and drift checks: fewer runs (each adoption run restores the fixture first).
ADOPTION_JSON="${JSON%.json}-adoption.json"
log "hyperfine: adoption and check (--runs $(( (RUNS + 2) / 3 )))"
hyperfine -N --warmup 1 --runs "$(( (RUNS + 2) / 3 ))" --export-json "$ADOPTION_JSON" \
  --prepare "bash $WORK/restore-legacy.sh" \
  -n "(g) timetrack-migrate init (PostgreSQL legacy fixture: adopt + 4 migrations)" "$RUNNER init --database-url $LEGACY_URL" \
  -n "(h) timetrack-migrate stamp --profile legacy (adoption only)" "$RUNNER stamp --profile legacy --database-url $LEGACY_URL" \
  -n "(i) timetrack-migrate check --database-url (at head)" "$RUNNER check --database-url $CHECKED_URL" >&2

# --- memory (case 4): peak resident set, the median of MEMORY_RUNS runs of each -------------------

MEMORY_TABLE="$WORK/memory.md"
: >"$MEMORY_TABLE"
FRESH_DB="${BENCH_DB}_fresh"
FRESH_URL="postgresql://$USER_INFO@$PG_HOST:$PG_PORT/$FRESH_DB"
FRESH_BASELINE="Host=$PG_HOST;Port=$PG_PORT;Username=$PG_USER;Password=$PG_PASSWORD;Database=$FRESH_DB"
fresh_database() {
  psql "$MAINTENANCE_URL" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$FRESH_DB\" WITH (FORCE)" \
    -c "CREATE DATABASE \"$FRESH_DB\"" >/dev/null
}
# label, fresh|same, command...: one table row, in MiB; "fresh" gives every run an empty database.
peak_memory() {
  local label="$1" database="$2" values=() i
  shift 2
  for ((i = 0; i < MEMORY_RUNS; i++)); do
    [ "$database" = same ] || fresh_database
    /usr/bin/time -f '%M' -o "$WORK/time.out" "$@" >"$WORK/memory-run.log" 2>&1 \
      || { cat "$WORK/memory-run.log" >&2; die "$label failed"; }
    values+=("$(tail -n 1 "$WORK/time.out")")
  done
  printf '%s\n' "${values[@]}" | sort -n | awk -v label="$label" '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "| %s | %.1f |\n", label, m / 1024 }' >>"$MEMORY_TABLE"
}
log "peak memory (/usr/bin/time, median of $MEMORY_RUNS)"
peak_memory "(0) timetrack-migrate init: NativeAOT front, no-op" same "$FRONT" init
peak_memory "(f) timetrack-migrate init: full runner, no-op" same "$RUNNER" init
peak_memory "(0s) timetrack-migrate init: NativeAOT front, no-op, SQLite" same "$FRONT" init --database-url "$SQLITE_URL"
peak_memory "(ds) timetrack-migrate init: full runner, no-op, SQLite" same "$RUNNER" init --database-url "$SQLITE_URL"
peak_memory "(p) psql -c 'select 1': the floor" same psql -X -qAt -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$BENCH_DB" -c 'select 1'
peak_memory "(b) FluentMigrator baseline MigrateUp, no-op" same "$BASELINE"
if [ "${#BASELINE_LIKE_RUNNER[@]}" -gt 0 ]; then
  peak_memory "(b') the same baseline published like the runner, no-op" same "$BASELINE_R2R"
fi
peak_memory "(m) timetrack-migrate init, empty -> head (front, handing over to the full runner)" fresh env DATABASE_URL="$FRESH_URL" "$FRONT" init
peak_memory "(n) FluentMigrator baseline MigrateUp, empty -> head" fresh env BASELINE_CONNECTION_STRING="$FRESH_BASELINE" "$BASELINE"
psql "$MAINTENANCE_URL" -qAt -c "DROP DATABASE IF EXISTS \"$FRESH_DB\" WITH (FORCE)" >/dev/null

# --- the image (case 5): the no-op init inside the container and the same binary outside it -----

IMAGE_JSON=""
TLS_JSON=""
if [ -n "$IMAGE" ]; then
  IMAGE_APP="$APP"
  if [ "$SMOKE" != 1 ]; then
    IMAGE_APP="$WORK/image-app"
    copy_app_from_image "$IMAGE" "$IMAGE_APP"
  fi
  [ "$(TIMETRACK_FAST_START=explain "$IMAGE_APP/timetrack-migrate" init 2>&1 >/dev/null | head -n 1)" = "fast start: nothing to do" ] \
    || die "the image's timetrack-migrate does not answer the no-op init by itself (an image without the NativeAOT front?)"
  IMAGE_JSON="${JSON%.json}-image.json"
  log "hyperfine: the image $IMAGE (podman run, --network host)"
  hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$IMAGE_JSON" \
    -n "(5o) the image's timetrack-migrate init, run outside the container" "$IMAGE_APP/timetrack-migrate init" \
    -n "(5e) podman run IMAGE init: the entrypoint, then the front" "podman run --rm --network host -e DATABASE_URL $IMAGE init" \
    -n "(5f) podman run --entrypoint /app/timetrack-migrate IMAGE init: the front alone" \
      "podman run --rm --network host -e DATABASE_URL --entrypoint /app/timetrack-migrate $IMAGE init" \
    -n "(5t) podman run --entrypoint true IMAGE: the container's own cost" "podman run --rm --network host --entrypoint true $IMAGE" >&2
  IMAGE_SIZE="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
  # The binary alone, inside and outside: a container's start (above) swamps a 20 ms process, so
  # the same loop times the front RUNS times in one container and here, with bash's clock.
  # shellcheck disable=SC2016 # expanded by the bash inside (and outside) the container
  timing_loop='for ((i = 0; i < $1; i++)); do "$3" init >/dev/null 2>&1 || exit 1; done
    for ((i = 0; i < $2; i++)); do s=$EPOCHREALTIME; "$3" init >/dev/null 2>&1 || exit 1; e=$EPOCHREALTIME; echo $((${e/./} - ${s/./})); done'
  median_ms() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; printf "%.1f", ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000 }'; }
  log "the front $RUNS times in one container, and $RUNS times here"
  INSIDE_MS="$(podman run --rm --network host -e DATABASE_URL --entrypoint bash "$IMAGE" -c "$timing_loop" loop "$WARMUP" "$RUNS" /app/timetrack-migrate | median_ms)" \
    || die "the front failed inside the container"
  OUTSIDE_MS="$(bash -c "$timing_loop" loop "$WARMUP" "$RUNS" "$IMAGE_APP/timetrack-migrate" | median_ms)" || die "the image's front failed here"
fi

# --- TLS (issue 25): the same cluster with ssl on, certificates made here as TlsServerFixture makes them

# Last, because ssl on turns every sslmode=prefer connection above (the default) into TLS: a CA, a
# server certificate for 127.0.0.1 signed by it, ssl on by reload. The front and psql then connect
# to the same database with the same sslmode and root, side by side in one hyperfine run.
TLS_DIR="$WORK/tls"
TLS_CASES=()
if [ -z "$EXISTING_SERVER" ]; then
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=TimeTrack bench CA"
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=$PG_HOST"
    printf 'subjectAltName=IP:%s\n' "$PG_HOST" >san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext
  ) >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log" >&2; die "openssl could not make the TLS certificates"; }
  chmod 600 "$TLS_DIR/server.key"
  if is_root; then chown postgres:postgres "$TLS_DIR/server.key" "$TLS_DIR/server.crt"; fi
  psql "$MAINTENANCE_URL" -qAt -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET ssl_cert_file = '$TLS_DIR/server.crt'" \
    -c "ALTER SYSTEM SET ssl_key_file = '$TLS_DIR/server.key'" -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1
  TLS_REQUIRE="postgresql://$PG_USER@$PG_HOST:$PG_PORT/$BENCH_DB?sslmode=require"
  TLS_VERIFY="postgresql://$PG_USER@$PG_HOST:$PG_PORT/$BENCH_DB?sslmode=verify-full&sslrootcert=$TLS_DIR/ca.crt"
  TLS_PREFER="postgresql://$PG_USER@$PG_HOST:$PG_PORT/$BENCH_DB"
  [ "$(psql -X -qAt "$TLS_VERIFY" -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')" = t ] || die "psql does not connect over TLS (sslmode=verify-full)"
  for url in "$TLS_REQUIRE" "$TLS_VERIFY" "$TLS_PREFER"; do
    [ "$(TIMETRACK_FAST_START=explain "$FRONT" init --database-url "$url" 2>&1 >/dev/null | head -n 1)" = "fast start: nothing to do" ] \
      || die "the front does not answer the no-op init over TLS by itself ($url): $(TIMETRACK_FAST_START=explain "$FRONT" init --database-url "$url" 2>&1 | head -n 1)"
  done
  TLS_CASES=(-n "(tr) timetrack-migrate init: NativeAOT front, sslmode=require" "$FRONT init --database-url $TLS_REQUIRE"
             -n "(tpr) psql -c 'select 1', sslmode=require" "psql -X -qAt $TLS_REQUIRE -c 'select 1'"
             -n "(tv) timetrack-migrate init: NativeAOT front, sslmode=verify-full" "$FRONT init --database-url $TLS_VERIFY"
             -n "(tpv) psql -c 'select 1', sslmode=verify-full" "psql -X -qAt $TLS_VERIFY -c 'select 1'"
             -n "(tf) timetrack-migrate init: NativeAOT front, sslmode=prefer (the default) against TLS" "$FRONT init --database-url $TLS_PREFER"
             -n "(tpf) psql -c 'select 1', sslmode=prefer against TLS" "psql -X -qAt $TLS_PREFER -c 'select 1'")
  TLS_JSON="${JSON%.json}-tls.json"
  log "hyperfine: TLS (--warmup $WARMUP --runs $RUNS)"
  hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$TLS_JSON" "${TLS_CASES[@]}" >&2
  log "peak memory over TLS (/usr/bin/time, median of $MEMORY_RUNS)"
  peak_memory "(tr) timetrack-migrate init: NativeAOT front, no-op, sslmode=require" same "$FRONT" init --database-url "$TLS_REQUIRE"
  peak_memory "(tv) timetrack-migrate init: NativeAOT front, no-op, sslmode=verify-full" same "$FRONT" init --database-url "$TLS_VERIFY"
  peak_memory "(tpv) psql -c 'select 1', sslmode=verify-full" same psql -X -qAt "$TLS_VERIFY" -c 'select 1'
else
  log "TLS cases left out: they need the throwaway cluster (TIMETRACK_BENCH_DATABASE_URL is set)"
fi

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report -------------------------------------------------------------------------------------

mem_gib="$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)"
cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo
echo "Machine: $(nproc) CPU(s) (${cpu:-unknown}), ${mem_gib} GiB RAM, $(uname -sr)"
echo "dotnet SDK $(dotnet --version); PostgreSQL $PG_VERSION; $(hyperfine --version)"
echo "Source measured: $SOURCE_REVISION"
echo "hyperfine --warmup $WARMUP --runs $RUNS; load average before: $load_before, after: $load_after"
echo "JSON: $JSON"
echo
echo "| command | median (ms) | mean (ms) | min (ms) | max (ms) | CPU user+sys, mean (ms) |"
echo "|---|---:|---:|---:|---:|---:|"
jq -r '.results[] | "| \(.command) | \(.median * 1000 | round) | \(.mean * 1000 | round) | \(.min * 1000 | round) | \(.max * 1000 | round) | \((.user + .system) * 1000 | round) |"' "$JSON" "$ADOPTION_JSON" ${IMAGE_JSON:+"$IMAGE_JSON"} ${TLS_JSON:+"$TLS_JSON"}
echo
echo "| peak resident memory (median of $MEMORY_RUNS) | MiB |"
echo "|---|---:|"
cat "$MEMORY_TABLE"
echo
front_mib="$(sed -nE 's/^\| \(0\) .* \| ([0-9.]+) \|$/\1/p' "$MEMORY_TABLE")"
floor_mib="$(sed -nE 's/^\| \(p\) .* \| ([0-9.]+) \|$/\1/p' "$MEMORY_TABLE")"
jq -r --arg front_mib "$front_mib" --arg floor_mib "$floor_mib" '
  def m(p): [.results[] | select(.command | startswith(p)) | .median][0];
  def r(x): (x * 100 | round) / 100;
  m("(0) ") as $front | m("(p) ") as $floor | m("(f) ") as $full | m("(a) ") as $a | m("(b) ") as $b | m("(b'\'') ") as $r |
  "(0)/(p), the front against the psql floor: \(r($front / $floor)) x (\($front * 1000 | round) ms vs \($floor * 1000 | round) ms), \($front_mib) MiB vs \($floor_mib) MiB peak " +
  "(target: <= 2 x and < 30 MiB): " + (if ($front <= 2 * $floor and ($front_mib | tonumber) < 30) then "met" else "NOT met" end),
  "(0t)/(p), start -- true against the psql floor: \(r(m("(0t) ") / $floor)) x (\(m("(0t) ") * 1000 | round) ms)",
  "(f)/(0), the full runner against the front: \(r($full / $front)) x",
  "(a)/(b) median ratio: \(r($a / $b)) (target: (a) median <= 250 ms and <= 0.5 x (b)): " +
  (if ($a <= 0.25 and $a <= 0.5 * $b) then "met" else "NOT met" end) +
  (if $r then "; like for like, (a)/(b'\'') = \(r($a / $r))" else "" end)' "$JSON"
if [ -n "$TLS_JSON" ]; then
  tls_mib() { sed -nE "s/^\\| \\($1\\) .* \\| ([0-9.]+) \\|$/\\1/p" "$MEMORY_TABLE"; }
  jq -r --arg require_mib "$(tls_mib tr)" --arg verify_mib "$(tls_mib tv)" '
    def m(p): [.results[] | select(.command | startswith(p)) | .median][0];
    def r(x): (x * 100 | round) / 100;
    def line(name; front; floor; mib): "\(name): the front against psql \(r(front / floor)) x (\(front * 1000 | round) ms vs \(floor * 1000 | round) ms), \(mib) MiB peak " +
      "(target: <= 0.7 x and <= 30 MiB): " + (if (front <= 0.7 * floor and (mib | tonumber) <= 30) then "met" else "NOT met" end);
    line("TLS sslmode=require"; m("(tr) "); m("(tpr) "); $require_mib),
    line("TLS sslmode=verify-full"; m("(tv) "); m("(tpv) "); $verify_mib),
    "TLS sslmode=prefer against TLS: \(r(m("(tf) ") / m("(tpf) "))) x"' "$TLS_JSON"
fi
if [ -n "$IMAGE_JSON" ]; then
  echo
  echo "Image $IMAGE: $(awk -v b="$IMAGE_SIZE" 'BEGIN { printf "%.0f MB", b / 1000000 }'); /app: $(du -sb "$IMAGE_APP" | awk '{ printf "%.0f MB", $1 / 1000000 }')" \
    "(the front $(stat -c %s "$IMAGE_APP/timetrack-migrate" | awk '{ printf "%.1f MB", $1 / 1000000 }'), full/ $(du -sb "$IMAGE_APP/full" | awk '{ printf "%.0f MB", $1 / 1000000 }'))"
  jq -r '
    def m(p): [.results[] | select(.command | startswith(p)) | .median][0];
    "inside/outside, the same binary: (5f)/(5o) = \(m("(5f) ") / m("(5o) ") * 100 | round / 100); " +
    "(5f) - (5t), the front in the container less the container'\''s own cost: \((m("(5f) ") - m("(5t) ")) * 1000 | round) ms"' "$IMAGE_JSON"
  echo "the front's no-op init, $RUNS runs in one container: median $INSIDE_MS ms; the same binary here: $OUTSIDE_MS ms" \
    "(inside/outside $(awk -v i="$INSIDE_MS" -v o="$OUTSIDE_MS" 'BEGIN { printf "%.2f", i / o }'))"
fi
