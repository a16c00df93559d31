# shellcheck shell=bash disable=SC2034 # the variables set here are for the scripts that source this file
# The shared part of the benchmark scripts (sourced, not run): tools, scratch space and clean-up,
# publishing the runner and the FluentMigrator baseline, a throwaway PostgreSQL 15 cluster (or an
# existing server), fresh databases, and the line that says on what the figures were measured.
#
# A script sources it, then calls bench_init NAME once; everything it creates lives in $WORK and
# goes on exit. The throwaway cluster listens on 127.0.0.1 (a free port, its own socket directory,
# a password over TCP); TIMETRACK_BENCH_DATABASE_URL=postgresql://user:password@host:port/db
# points at an existing server instead, where the databases made by new_database are dropped on
# exit. PG_BIN (default /usr/lib/postgresql/15/bin) names the server binaries.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

# The runner as the image publishes it (the Dockerfile reads the same file; the runtime is the
# base image's there, the machine's own here).
READY_TO_RUN=(-r linux-x64 "@$ROOT/build/runner.publish.rsp")

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

apt_install() {
  is_root || die "$* missing and not running as root: install it (apt-get install -y $*)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "$@" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq "$@" >/dev/null
  fi
}

# require_tools COMMAND:PACKAGE ...: installs the Debian packages of the commands that are missing
# (COMMAND may be a path: a file the package installs, such as a header).
require_tools() {
  command -v dotnet >/dev/null 2>&1 || die "the dotnet SDK is missing"
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -e "${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

# --- scratch space and clean-up -----------------------------------------------------------------

PG_DATA=""
PG_OWNER_RUN=()
EXISTING_SERVER=""
DATABASES=()
BACKGROUND=()

bench_cleanup() {
  local status=$?
  set +e
  local pid db
  for pid in "${BACKGROUND[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "$EXISTING_SERVER" ]; then
    for db in "${DATABASES[@]}"; do
      psql "$MAINTENANCE_URL" -qAt -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
    done
  fi
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    "${PG_OWNER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1
  fi
  rm -rf "$WORK"
  exit "$status"
}

# bench_init NAME: the scratch directory $WORK, removed (with the cluster) on exit; the revision measured.
bench_init() {
  WORK="$(mktemp -d -t "$1.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # What is measured is the working tree as it is now: say which commit, and whether it had changes.
  SOURCE_REVISION="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 'unknown (not a git checkout)')"
}

# --- publishing ---------------------------------------------------------------------------------

# publish PROJECT OUT_DIR image|plain [TAG]: dotnet publish in Release. --artifacts-path keeps every
# bin/ and obj/ in the scratch directory (TAG: another source tree's): the benchmark leaves the
# working tree as it found it and does not race a developer's own build.
publish() {
  local project="$1" out="$2" how="$3" settings=()
  [ "$how" = image ] && settings=("${READY_TO_RUN[@]}")
  dotnet publish "$project" -c Release "${settings[@]}" -o "$out" --artifacts-path "$WORK/artifacts-$how${4:+-$4}" --nologo -v quiet >&2
}

# publish_runner image|plain [SOURCE_ROOT]: sets RUNNER (this tree's runner, or that of another checkout).
publish_runner() {
  local source="${2:-$ROOT}" tag="${2:+$(basename "$2")}"
  local out="$WORK/runner-$1${tag:+-$tag}"
  publish "$source/TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj" "$out" "$1" "$tag"
  RUNNER="$out/timetrack-migrate"
  [ -x "$RUNNER" ] || die "no apphost at $RUNNER"
}

# runner_from_env_or_publish image|plain: sets RUNNER to BENCH_RUNNER (an executable built already,
# e.g. .ci/run's smoke: the one the tests built) made absolute, else publishes this tree's runner.
runner_from_env_or_publish() {
  if [ -n "${BENCH_RUNNER:-}" ]; then
    RUNNER="$(cd "$(dirname "$BENCH_RUNNER")" && pwd)/$(basename "$BENCH_RUNNER")"
    [ -x "$RUNNER" ] || die "BENCH_RUNNER=$BENCH_RUNNER is not an executable"
  else
    log "publishing timetrack-migrate ($1) at $SOURCE_REVISION"
    publish_runner "$1"
  fi
}

# publish_image_app DIR: timetrack-migrate laid out as the image has it: the NativeAOT front and its
# libe_sqlite3.so in DIR, the full runner in DIR/full.
publish_image_app() {
  local app="$1"
  publish "$ROOT/TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj" "$app/full" image
  dotnet publish "$ROOT/TimeTrack.Migrations.FastStart/TimeTrack.Migrations.FastStart.csproj" -c Release -r linux-x64 \
    "@$ROOT/build/front.publish.rsp" -o "$WORK/front" --artifacts-path "$WORK/artifacts-front" --nologo -v quiet >&2
  cp "$WORK/front/timetrack-migrate" "$WORK/front/libe_sqlite3.so" "$app/"
}

# publish_baseline image|plain: sets BASELINE (FluentMigrator's plain MigrateUp, bench/FluentMigratorBaseline).
publish_baseline() {
  publish "$BENCH_DIR/FluentMigratorBaseline/FluentMigratorBaseline.csproj" "$WORK/baseline-$1" "$1"
  BASELINE="$WORK/baseline-$1/fluentmigrator-baseline"
  [ -x "$BASELINE" ] || die "no apphost at $BASELINE"
}

# publish_revision COMMIT image|plain: the runner of COMMIT (from this repository's history) as RUNNER.
publish_revision() {
  mkdir -p "$WORK/source-$1"
  git -C "$ROOT" archive --format=tar "$1" | tar -x -C "$WORK/source-$1" || die "commit $1 is not in this repository's history"
  publish_runner "$2" "$WORK/source-$1"
}

# --- PostgreSQL ---------------------------------------------------------------------------------

urldecode() { printf '%b' "${1//%/\\x}"; }

free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "no free TCP port found"
}

# start_postgres: the server, and what to reach it with: MAINTENANCE_URL, BASE_URL
# (postgresql://user:password@host:port, no database), PG_USER, PG_PASSWORD, PG_HOST, PG_PORT,
# USER_INFO (user:password), PG_VERSION. BENCH_PG_OPTIONS (-c name=value ...) go to a throwaway cluster.
start_postgres() {
  if [ -n "${TIMETRACK_BENCH_DATABASE_URL:-}" ]; then
    log "using the existing server at TIMETRACK_BENCH_DATABASE_URL"
    MAINTENANCE_URL="$TIMETRACK_BENCH_DATABASE_URL"
    EXISTING_SERVER=1
    local url_re='^postgres(ql)?://([^:@/]+)(:([^@]*))?@([^:/?]+)(:([0-9]+))?(/[^?]*)?'
    [[ "$MAINTENANCE_URL" =~ $url_re ]] || die "TIMETRACK_BENCH_DATABASE_URL is not postgresql://user:password@host[:port]/database"
    PG_USER="$(urldecode "${BASH_REMATCH[2]}")"
    PG_PASSWORD="$(urldecode "${BASH_REMATCH[4]}")"
    PG_HOST="${BASH_REMATCH[5]}"
    PG_PORT="${BASH_REMATCH[7]:-5432}"
    USER_INFO="${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
  else
    if [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
      die "PostgreSQL 15 server binaries not found in $PG_BIN (apt-get install postgresql-15), or set TIMETRACK_BENCH_DATABASE_URL"
    fi
    local pg_root="$WORK/pg"
    PG_DATA="$pg_root/data"
    mkdir -p "$pg_root/sockets"
    PG_USER="postgres"
    PG_PASSWORD="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$PG_PASSWORD" >"$pg_root/pwfile"
    PG_HOST="127.0.0.1"
    if is_root; then
      # initdb refuses to run as root: the cluster belongs to the postgres user.
      chmod 755 "$WORK"
      chown -R postgres:postgres "$pg_root"
      PG_OWNER_RUN=(runuser -u postgres --)
    else
      PG_OWNER_RUN=(env)
    fi
    log "starting a throwaway PostgreSQL cluster in $pg_root"
    (cd /tmp && "${PG_OWNER_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile "$pg_root/pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >"$WORK/initdb.log" 2>&1) \
      || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    local started="" extra="${BENCH_PG_OPTIONS:-}"
    for _ in 1 2 3; do
      PG_PORT="$(free_port)"
      if (cd /tmp && "${PG_OWNER_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$pg_root/server.log" -w -t 60 start \
        -o "-p $PG_PORT -k $pg_root/sockets -c listen_addresses=127.0.0.1 $extra" >/dev/null); then
        started=1
        break
      fi
    done
    [ -n "$started" ] || { cat "$pg_root/server.log" >&2; die "pg_ctl start failed"; }
    USER_INFO="$PG_USER:$PG_PASSWORD"
    MAINTENANCE_URL="postgresql://$USER_INFO@$PG_HOST:$PG_PORT/postgres"
  fi
  BASE_URL="postgresql://$USER_INFO@$PG_HOST:$PG_PORT"
  PG_VERSION="$(psql "$MAINTENANCE_URL" -qAt -c 'SHOW server_version')"
}

# server_cpu: the CPU seconds the throwaway cluster's processes have taken so far, ended backends
# included (the postmaster's own time and its reaped children's, /proc/PID/stat fields 14-17; a
# backend counts once the postmaster has reaped it, a moment after its client goes); empty on an
# existing server (TIMETRACK_BENCH_DATABASE_URL), whose processes are not ours to read.
server_cpu() {
  [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ] || return 0
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15 + $16 + $17) / hz }' "/proc/$(head -n 1 "$PG_DATA/postmaster.pid")/stat"
}

# new_database VAR [PREFIX]: creates an empty database and puts its name in VAR (dropped on exit
# on an existing server). Not through $(...): the list of databases to drop must not stay in a subshell.
new_database() {
  local name
  name="${2:-timetrack_bench}_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
  psql "$MAINTENANCE_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\"" >/dev/null
  DATABASES+=("$name")
  printf -v "$1" '%s' "$name"
}

# recreate_database NAME [TEMPLATE]: drops NAME and creates it again, empty or as a copy of TEMPLATE.
recreate_database() {
  psql "$MAINTENANCE_URL" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" \
    -c "CREATE DATABASE \"$1\"${2:+ TEMPLATE \"$2\"}" >/dev/null
}

# The legacy fixture (the old application's schema and rows), without pg_dump 17.6+'s \restrict
# lines that psql 15 does not know (they only guard psql's own use): prints the cleaned file's path.
legacy_fixture() {
  local fixture="$ROOT/TimeTrack.Migrations.Tests/Fixtures/legacy-postgres.sql"
  [ -f "$fixture" ] || die "the legacy fixture $fixture is missing"
  grep -v -e '^\\restrict' -e '^\\unrestrict' "$fixture" >"$WORK/legacy.sql"
  echo "$WORK/legacy.sql"
}

# --- on what the figures were measured ----------------------------------------------------------

# machine: one line: revision, PostgreSQL, CPUs and their model, memory, load average now.
machine() {
  local model
  model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  printf '%s; PostgreSQL %s; %s CPU(s) (%s); %s MiB; load average %s' "$SOURCE_REVISION" "${PG_VERSION:-?}" "$(nproc)" "${model:-unknown}" \
    "$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# warn_if_busy: a warning when other work is running (the load average above half the CPUs).
warn_if_busy() {
  local load
  load="$(cut -d' ' -f1 /proc/loadavg)"
  if awk -v l="$load" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    printf 'warning: load average %s on %s CPU(s): other work is running, the figures will be noisy\n' "$load" "$(nproc)" >&2
  fi
}
