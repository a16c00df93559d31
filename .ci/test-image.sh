#!/usr/bin/env bash
# .ci/test-image.sh: the image built and run for real, with podman (.ci/run runs it after
# `dotnet test`). Needs root, podman, podman-compose, file, and the PostgreSQL server binaries
# (initdb, pg_ctl, psql, pg_dump); .ci/container-env.sh installs and configures podman and
# builds the base-image stand-ins, dotnet/runtime among them (no registry needed: every build
# here is --pull=never).
#
#   bash .ci/test-image.sh
#
# One PASS/FAIL line per check; exit 1 when any check failed, 0 otherwise.
#
#   TIMETRACK_CI_CACHE   caches kept between runs, outside the checkout (default ~/.cache/timetrack-ci):
#                        the NuGet packages of the arm64 publish. The image itself is always
#                        built with --no-cache, so its restore starts from an empty NuGet cache.
#   TEST_IMAGE_REUSE=1   skip the build and test the image already tagged (local iteration only)
#   TEST_IMAGE=NAME      the tag built and tested (default localhost/timetrack-migrations:test):
#                        another name, so that two checkouts on one machine test their own images
#
# It starts a throwaway PostgreSQL cluster on 127.0.0.1 (as the postgres user, like the .NET
# tests) and runs the containers with --network host; everything it creates is named
# tt-image-test-<pid>-* and removed at exit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

IMAGE="${TEST_IMAGE:-localhost/timetrack-migrations:test}"
IMAGE_TAG="${IMAGE##*:}" # the compose file's TAG
BUILD_ARM64="localhost/timetrack-migrations-build:arm64-test"
PGCLIENT_ARM64="localhost/timetrack-migrations-pgclient:arm64-test"
CACHE="${TIMETRACK_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/timetrack-ci}"
PREFIX="tt-image-test-$$"
# Versions of the shipped history used below (TimeTrack.Migrations/Migrations).
V3=202407010900
STOP_TIMEOUT=10

work="$(mktemp -d)"
pgroot=""
pg_bin=""
port=""
compose_used=""
failures=0
checks=0
started=$SECONDS

pass() { checks=$((checks + 1)); printf 'PASS %s\n' "$*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); printf 'FAIL %s\n' "$*"; }
info() { printf 'INFO %s\n' "$*"; }
# The last lines of a log, indented, after a FAIL (the runner masks passwords in what it prints).
show() { [ -s "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/     | /'; return 0; }

cleanup() {
  local name
  for name in $(podman ps -a --format '{{.Names}}' | grep -E "^${PREFIX}" || true); do
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  done
  if [ -n "$compose_used" ]; then
    compose down -v -t 1 >/dev/null 2>&1 || true
    podman pod rm -f "pod_${PREFIX}" >/dev/null 2>&1 || true
    podman network rm -f "${PREFIX}_default" >/dev/null 2>&1 || true # podman-compose 1.0.3 leaves it
  fi
  for name in $(podman volume ls --format '{{.Name}}' | grep -E "^${PREFIX}" || true); do
    podman volume rm -f "$name" >/dev/null 2>&1 || true
  done
  # image AND name: `podman untag IMAGE` alone would remove every name of the shared placeholder.
  podman untag "localhost/${PREFIX}-web:${IMAGE_TAG}" "localhost/${PREFIX}-web:${IMAGE_TAG}" >/dev/null 2>&1 || true
  if [ -n "$pgroot" ] && [ -f "$pgroot/data/postmaster.pid" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pgroot/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  [ -z "$pgroot" ] || rm -rf "$pgroot"
  rm -rf "$work"
}
trap cleanup EXIT

compose() { # the compose file with this run's image tag, secret file and project name
  TAG="$IMAGE_TAG" TIMETRACK_MIGRATIONS_IMAGE="${IMAGE%:*}" TIMETRACK_WEB_IMAGE="localhost/${PREFIX}-web" \
    POSTGRES_PASSWORD_SECRET_FILE="$work/postgres_password" \
    podman-compose -p "$PREFIX" -f deploy/docker-compose.yml "$@"
}

remove_if_untagged() { # the image a rebuild replaced, unless something else still names it
  [ -n "$1" ] && [ -z "$(podman image inspect --format '{{join .RepoTags ""}}' "$1" 2>/dev/null)" ] \
    && podman rmi "$1" >/dev/null 2>&1
  return 0
}

free_port() { # a TCP port on 127.0.0.1 nothing listens on
  local p
  for p in $(shuf -i 40000-59999 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      printf '%s' "$p"
      return 0
    fi
  done
  return 1
}

psql_q() { # database, sql: one value
  runuser -u postgres -- "$pg_bin/psql" -h "$pgroot" -p "$port" -U postgres -d "$1" -tAq -v ON_ERROR_STOP=1 -c "$2"
}
version_of() { psql_q "$1" 'SELECT coalesce(max("Version"), 0) FROM "VersionInfo"' 2>/dev/null || echo none; }
# pg_dump 15.14+ brackets its output with \restrict/\unrestrict and a random key: not the schema.
dump_of() { runuser -u postgres -- "$pg_bin/pg_dump" -h "$pgroot" -p "$port" -U postgres --no-owner "$1" | grep -vE '^\\(un)?restrict '; }
url_of() { printf 'postgresql://postgres:%s@127.0.0.1:%s/%s' "$(cat "$pgroot/pwfile")" "$port" "$1"; }

# podman run against the test cluster; the URL (with its password) travels in the environment,
# never on a command line.
run_image() { # database, podman run args... -- container args...
  local db="$1"
  shift
  DATABASE_URL="$(url_of "$db")" podman run --rm --network host -e DATABASE_URL "$@"
}

wait_for_log() { # container, text, seconds
  local i
  for ((i = 0; i < $3 * 2; i++)); do
    # grep without -q: it reads everything, so podman never dies of SIGPIPE (pipefail would say no)
    podman logs "$1" 2>&1 | grep -F -- "$2" >/dev/null && return 0
    sleep 0.5
  done
  return 1
}

# --- preflight ---------------------------------------------------------------------------------
missing=()
[ "$(id -u)" = 0 ] || missing+=("root")
for tool in podman podman-compose file runuser git; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# initdb may be a symlink on PATH: psql and pg_dump of the same version sit beside its target.
pg_bin="$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -1)")")"
[ -x "$pg_bin/initdb" ] || missing+=("initdb (postgresql)")
if [ "${#missing[@]}" -gt 0 ]; then
  fail "preflight: missing ${missing[*]} (run .ci/run, which installs them, or .ci/container-env.sh)"
  exit 1
fi
sdk_image="$(sed -nE 's/^FROM (--platform=[^ ]+ )?([^ ]+dotnet\/sdk:[^ ]+).*/\2/p' Dockerfile)"
# The base images the Dockerfile names (FROM lines, in order): built locally by container-env.sh.
dockerfile_bases() { sed -nE 's/^FROM (--platform=[^ ]+ )?([^ ]+).*/\2/p' Dockerfile; }
missing_bases=""
while read -r base; do
  podman image exists "$base" || missing_bases+=" $base"
done < <(dockerfile_bases | sort -u)
if [ -n "$missing_bases" ]; then
  fail "preflight: base image(s) missing:$missing_bases (run DOCKERFILE=Dockerfile bash .ci/container-env.sh, which builds the stand-ins)"
  exit 1
fi
revision="$(git rev-parse HEAD)"
# buildah 1.28 leaves BUILDPLATFORM empty in FROM lines: name it (container-env.sh's header).
build_platform="linux/$(podman info --format '{{.Host.Arch}}')"

# --- the image, from an empty NuGet cache -------------------------------------------------------
if [ "${TEST_IMAGE_REUSE:-0}" = 1 ] && podman image exists "$IMAGE"; then
  info "TEST_IMAGE_REUSE=1: testing the existing $IMAGE (not a CI run)"
  revision="$(podman image inspect --format '{{index .Labels "org.opencontainers.image.revision"}}' "$IMAGE")"
else
  t=$SECONDS
  previous="$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
  # The SDK stand-in must not carry a NuGet cache (container-env.sh NUGET_CACHE=1 would copy one).
  # --layers=false: a build that starts from nothing keeps no intermediate images either.
  if podman run --rm --entrypoint sh "$sdk_image" -c 'test ! -e /root/.nuget/packages' >/dev/null 2>&1 \
     && podman build --pull=never --no-cache --layers=false --build-arg BUILDPLATFORM="$build_platform" \
          --build-arg REVISION="$revision" --build-arg VERSION=test \
          -t "$IMAGE" . >"$work/build.log" 2>&1; then
    pass "image builds with podman from an empty NuGet cache ($((SECONDS - t)) s)"
    remove_if_untagged "$previous"
  else
    fail "image build (or $sdk_image carries a NuGet cache)"
    show "$work/build.log" 30
    printf 'test-image: the image did not build; nothing else can run (%d s)\n' $((SECONDS - started))
    exit 1
  fi
fi

image_size="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
publish_size="$(podman run --rm --entrypoint du "$IMAGE" -sb /app | cut -f1)"
# The layers above the base image (the last FROM: the runtime stage's), the issue-25 figure.
base_image="$(dockerfile_bases | tail -n 1)"
base_size="$(podman image inspect --format '{{.Size}}' "$base_image")"
info "image $IMAGE: $((image_size / 1000000)) MB, $(((image_size - base_size) / 1000000)) MB above $base_image; publish output (/app): $((publish_size / 1000000)) MB"

user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
labels="$(podman image inspect --format '{{range $k, $v := .Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' "$IMAGE")"
data_owner="$(podman run --rm -e MIGRATE_ON_START=false "$IMAGE" stat -c %u:%g /data 2>/dev/null)"
missing_labels=""
for label in source revision version description; do
  grep -qE "^org\.opencontainers\.image\.${label}=.+" <<<"$labels" || missing_labels+=" $label"
done
if [ "$user" = 1654 ] && [ "$data_owner" = 1654:1654 ] && [ -z "$missing_labels" ] \
   && grep -qx "org.opencontainers.image.revision=$revision" <<<"$labels"; then
  pass "image: USER 1654 (numeric), /data owned by 1654, OCI labels source/revision/version/description"
else
  fail "image: USER '$user' (want 1654), /data owner '$data_owner' (want 1654:1654), missing labels:${missing_labels:- none}"
fi

# The runner is framework-dependent: it runs on the base image's .NET (dotnet/runtime sets
# DOTNET_VERSION; the local stand-in carries this machine's runtime whatever its tag says).
runtime_version="$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | sed -n 's/^DOTNET_VERSION=//p')"
version_line="$(podman run --rm "$IMAGE" --version 2>&1)"
if [ -n "$runtime_version" ] && grep -qF ".NET ${runtime_version}, linux-x64; image revision ${revision})" <<<"$version_line"; then
  pass "--version shows the base image's runtime .NET ${runtime_version} (DOTNET_VERSION) and the image revision"
else
  fail "--version: '$version_line' (want .NET ${runtime_version:-?, no DOTNET_VERSION in the image} and image revision ${revision})"
fi

# the PostgreSQL client for backups (the Dockerfile's pgclient stage): the programs the runner
# finds on PATH, every library they need found in the image (the stage copies only what the base lacks)
ldd_out="$(podman run --rm --entrypoint sh "$IMAGE" -c 'ldd "$(command -v pg_dump)" "$(command -v pg_restore)" "$(command -v psql)"' 2>&1)"
ldd_code=$?
pg_dump_version="$(podman run --rm --entrypoint sh "$IMAGE" -c 'pg_dump --version && pg_restore --version' 2>&1)"
if [ "$ldd_code" = 0 ] && grep -qF libpq.so.5 <<<"$ldd_out" && ! grep -q "not found" <<<"$ldd_out" \
   && grep -qE '^pg_dump \(PostgreSQL\) [0-9]+' <<<"$pg_dump_version" && grep -qE '^pg_restore \(PostgreSQL\) [0-9]+' <<<"$pg_dump_version"; then
  pass "PostgreSQL client in the image: $(head -n 1 <<<"$pg_dump_version"); ldd of pg_dump and pg_restore: no library missing"
else
  fail "PostgreSQL client in the image: ldd exit $ldd_code, missing: $(grep "not found" <<<"$ldd_out" | tr -s ' \t\n' ' ')"
  printf '%s\n' "$ldd_out" "$pg_dump_version" >"$work/pgclient.log"
  show "$work/pgclient.log"
fi

# --- PostgreSQL: a throwaway cluster on 127.0.0.1 ----------------------------------------------
pgroot="$(mktemp -d /tmp/timetrack-image-pg.XXXXXX)"
port="$(free_port)"
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' | sed 's/^/pw-/' >"$pgroot/pwfile"
# TLS on, as managed databases have it: a CA and a server certificate for 127.0.0.1.
if ! {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pgroot/ca.key" -out "$pgroot/ca.crt" -days 2 -subj "/CN=test-image CA" \
    && openssl req -newkey rsa:2048 -nodes -keyout "$pgroot/server.key" -out "$pgroot/server.csr" -subj "/CN=127.0.0.1" \
    && printf 'subjectAltName=IP:127.0.0.1\n' >"$pgroot/san.ext" \
    && openssl x509 -req -in "$pgroot/server.csr" -CA "$pgroot/ca.crt" -CAkey "$pgroot/ca.key" -CAcreateserial \
      -out "$pgroot/server.crt" -days 2 -extfile "$pgroot/san.ext" && chmod 600 "$pgroot/server.key"
} >"$work/certs.log" 2>&1; then
  fail "PostgreSQL: could not make the TLS certificates (openssl)"
  show "$work/certs.log"
  exit 1
fi
chown -R postgres:postgres "$pgroot"
if ! { runuser -u postgres -- "$pg_bin/initdb" -D "$pgroot/data" -U postgres --pwfile="$pgroot/pwfile" \
         --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync \
     && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pgroot/data" -l "$pgroot/server.log" -w -t 60 start \
         -o "-p $port -k $pgroot -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c ssl=on -c ssl_cert_file=$pgroot/server.crt -c ssl_key_file=$pgroot/server.key"; } >"$work/pg.log" 2>&1; then
  fail "PostgreSQL: could not start a throwaway cluster"
  show "$work/pg.log"
  exit 1
fi
for db in fresh behind slow handover; do psql_q postgres "CREATE DATABASE $db" >/dev/null; done

# empty database -> head
if run_image fresh "$IMAGE" >"$work/fresh.log" 2>&1 \
   && head_version="$(run_image fresh "$IMAGE" status --json 2>/dev/null | sed -nE 's/^  "head": ([0-9]+),?$/\1/p')" \
   && [ -n "$head_version" ] && [ "$(version_of fresh)" = "$head_version" ]; then
  pass "PostgreSQL: an empty database is migrated to head ($head_version)"
else
  fail "PostgreSQL: empty database -> head (database at $(version_of fresh))"
  show "$work/fresh.log"
fi

# a restart finds nothing to do and writes nothing
before="$(dump_of fresh 2>&1)"
if run_image fresh "$IMAGE" >"$work/restart.log" 2>&1 && grep -q "nothing to do" "$work/restart.log" \
   && [ "$(dump_of fresh 2>&1)" = "$before" ]; then
  pass "PostgreSQL: a restart finds nothing to do and changes nothing"
else
  fail "PostgreSQL: restart"
  show "$work/restart.log"
fi

# The restart is the NativeAOT front's (/app/timetrack-migrate): it answers by itself
# (TIMETRACK_FAST_START=explain says so on stderr) with the full runner's output and exit code
# (TIMETRACK_FAST_START=off: the front execs full/timetrack-migrate at once).
front_cmd=(init --to head --wait 60)
if run_image fresh -e TIMETRACK_FAST_START=explain "$IMAGE" "${front_cmd[@]}" >"$work/front.out" 2>"$work/front.err" \
   && grep -qx "fast start: nothing to do" "$work/front.err" \
   && run_image fresh -e TIMETRACK_FAST_START=off "$IMAGE" "${front_cmd[@]}" >"$work/full.out" 2>"$work/full.err" \
   && [ -s "$work/front.out" ] && cmp -s "$work/front.out" "$work/full.out" \
   && [ "$(grep -vx 'fast start: nothing to do' "$work/front.err")" = "$(cat "$work/full.err")" ]; then
  pass "PostgreSQL: the restart is answered by the NativeAOT front, with the full runner's output ($(tr -d '\n' <"$work/front.out"))"
else
  fail "PostgreSQL: the NativeAOT front's restart (front vs TIMETRACK_FAST_START=off)"
  show "$work/front.err"
  show "$work/front.out"
  show "$work/full.out"
fi

# Work to do is handed over: the front execs the full runner, which migrates.
if run_image handover "$IMAGE" up --to "$V3" >"$work/handover-up.log" 2>&1 \
   && run_image handover -e TIMETRACK_FAST_START=explain "$IMAGE" "${front_cmd[@]}" >"$work/handover.log" 2>&1 \
   && grep -q "fast start: handing over to the full runner: pending: " "$work/handover.log" \
   && grep -q "migration(s) applied" "$work/handover.log" && [ "$(version_of handover)" = "$head_version" ]; then
  pass "PostgreSQL: a start with migrations pending is handed over to the full runner, which applies them"
else
  fail "PostgreSQL: hand-over from the front (database at $(version_of handover))"
  show "$work/handover.log"
fi

# TLS as a managed database requires it (verify-full, the CA mounted), on the image's own
# libraries; and no Kerberos noise: GSS is not negotiated unless the URL asks for it.
if DATABASE_URL="$(url_of fresh)?sslmode=verify-full&sslrootcert=/certs/ca.crt" podman run --rm --network host -e DATABASE_URL \
     -v "$pgroot/ca.crt:/certs/ca.crt:ro" "$IMAGE" status >"$work/tls.log" 2>&1 \
   && grep -q "pending:      none" "$work/tls.log" \
   && ! grep -qiE 'libgssapi|cannot load library' "$work/fresh.log" "$work/restart.log" "$work/tls.log"; then
  pass "TLS: status with sslmode=verify-full and a mounted CA; no libgssapi noise"
else
  fail "TLS: status with sslmode=verify-full (or libgssapi noise in the output)"
  show "$work/tls.log"
fi

# the processes run as uid 1654 (the command after the migration shows it)
uid="$(run_image fresh "$IMAGE" sh -c 'id -u' 2>"$work/uid.log" | tail -n 1)"
if [ "$uid" = 1654 ]; then
  pass "the container runs as uid 1654 (entrypoint, runner and application)"
else
  fail "the container runs as uid '$uid', not 1654"
  show "$work/uid.log"
fi

# `status` through the entrypoint on a database behind head: a status, and nothing else
run_image behind "$IMAGE" up --to "$V3" >"$work/behind.log" 2>&1
before="$(dump_of behind 2>&1)"
if run_image behind "$IMAGE" status >"$work/status.log" 2>&1 \
   && grep -q "current: *$V3" "$work/status.log" && ! grep -q "managed database at" "$work/status.log" \
   && [ "$(version_of behind)" = "$V3" ] && [ "$(dump_of behind 2>&1)" = "$before" ]; then
  pass "'podman run IMAGE status' shows a database behind head and changes nothing"
else
  fail "'podman run IMAGE status' on a database behind head (now at $(version_of behind), want $V3)"
  show "$work/behind.log" 5
  show "$work/status.log"
fi

# The deploy job's script in the image, as deploy.yml (the migrate action) runs it: it reads the
# runner's JSON with the image's jq; a dry run writes the summary and the outputs, changes nothing.
mkdir -p "$work/gh" && : >"$work/gh/summary.md" && : >"$work/gh/output" && chmod 0777 "$work/gh" && chmod 0666 "$work/gh"/*
if run_image behind -e MIGRATE_ACTION=migrate -e MIGRATE_DRY_RUN=true \
     -e GITHUB_STEP_SUMMARY=/github/summary.md -e GITHUB_OUTPUT=/github/output -v "$work/gh:/github" \
     --entrypoint /app/ci-migrate.sh "$IMAGE" >"$work/ci-migrate.log" 2>&1 \
   && grep -q '^### Status before' "$work/gh/summary.md" && grep -q '^```sql' "$work/gh/summary.md" \
   && grep -qx "from=$V3" "$work/gh/output" && [ "$(version_of behind)" = "$V3" ]; then
  pass "ci-migrate.sh in the image (jq $(podman run --rm --entrypoint jq "$IMAGE" --version 2>&1)): a dry run's summary and outputs, nothing changed"
else
  fail "ci-migrate.sh in the image: a dry run on a database at $V3"
  show "$work/ci-migrate.log"
fi

# The Flask-Migrate names are the runner's own commands through the entrypoint: `downgrade --to V`
# rolls back (the entrypoint of before migrated up and then tried to exec "downgrade"), `apply` goes up.
if run_image behind "$IMAGE" downgrade --to "$V3" >"$work/downgrade.log" 2>&1 \
   && run_image behind "$IMAGE" apply >"$work/apply.log" 2>&1 && [ "$(version_of behind)" = "$head_version" ] \
   && run_image behind "$IMAGE" downgrade --to "$V3" >>"$work/downgrade.log" 2>&1 \
   && grep -q "rolled back" "$work/downgrade.log" && [ "$(version_of behind)" = "$V3" ] \
   && run_image behind "$IMAGE" lint --help >"$work/lint.log" 2>&1 && ! grep -q -- "--database-url" "$work/lint.log"; then
  pass "'podman run IMAGE downgrade --to $V3' rolls back, 'apply' goes up, 'lint --help' is the runner's (no database options)"
else
  fail "the Flask-Migrate names through the entrypoint (behind at $(version_of behind), want $V3)"
  show "$work/downgrade.log"
  show "$work/apply.log" 5
fi

# MIGRATE_BACKUP_DIR on a volume: the start that migrates the database behind head backs it up
# first, with the image's pg_dump; the backup restores into an empty database, with the image's
# pg_restore, to exactly the schema and version it had before the migration ($before above).
podman volume create "$PREFIX-backups" >/dev/null
backups="$(podman volume inspect --format '{{.Mountpoint}}' "$PREFIX-backups")"
server_major="$(($(psql_q postgres 'SHOW server_version_num') / 10000))"
psql_q postgres "CREATE DATABASE restored" >/dev/null
run_image behind -v "$PREFIX-backups:/backups" -e MIGRATE_BACKUP_DIR=/backups "$IMAGE" >"$work/backup.log" 2>&1
backup_code=$?
backup="$(find "$backups" -maxdepth 1 -name "behind-*-v${V3}-*.dump" -printf '%f\n' | head -n 1)"
if [ "$backup_code" = 0 ] && [ -n "$backup" ] && grep -qF "backup written: /backups/$backup" "$work/backup.log" \
   && [ "$(version_of behind)" = "${head_version:-?}" ] \
   && run_image restored -v "$PREFIX-backups:/backups:ro" "$IMAGE" restore "/backups/$backup" >"$work/restore.log" 2>&1 \
   && grep -q "current: *$V3" "$work/restore.log" && [ "$(version_of restored)" = "$V3" ] \
   && [ "$(dump_of restored 2>&1)" = "$before" ]; then
  pass "PostgreSQL backup (server $server_major): the start that migrated took $backup first; restore into an empty database gives back version $V3 and its schema"
else
  fail "PostgreSQL backup and restore: start exit $backup_code, backup '${backup}', behind at $(version_of behind), restored at $(version_of restored) (want $V3)"
  show "$work/backup.log" 8
  show "$work/restore.log" 8
fi

# podman stop while the entrypoint waits for a database that does not answer
closed="$(free_port)"
t=$SECONDS
DATABASE_URL="postgresql://postgres:not-used@127.0.0.1:${closed}/nowhere" podman run -d --name "$PREFIX-wait" --network host \
  -e DATABASE_URL -e MIGRATE_WAIT_SECONDS=120 "$IMAGE" >/dev/null
if wait_for_log "$PREFIX-wait" "retrying for up to" 30; then
  t=$SECONDS
  podman stop -t "$STOP_TIMEOUT" "$PREFIX-wait" >/dev/null 2>&1
  code="$(podman inspect --format '{{.State.ExitCode}}' "$PREFIX-wait")"
  if [ "$code" = 143 ]; then
    pass "podman stop while waiting for the database: exit 143 after $((SECONDS - t)) s"
  else
    fail "podman stop while waiting for the database: exit $code after $((SECONDS - t)) s (want 143; 137 = SIGKILL after ${STOP_TIMEOUT} s)"
    podman logs "$PREFIX-wait" >"$work/wait.log" 2>&1
    show "$work/wait.log" 6
  fi
else
  fail "podman stop while waiting: the container never started waiting"
  podman logs "$PREFIX-wait" >"$work/wait.log" 2>&1
  show "$work/wait.log"
fi

# podman stop in the middle of a slow migration (the test-only scenario assembly, mounted)
scenarios=TimeTrack.Migrations.TestScenarios/bin/Debug/net10.0
dotnet build TimeTrack.Migrations.TestScenarios/TimeTrack.Migrations.TestScenarios.csproj -c Debug --nologo -v q >"$work/scenarios.log" 2>&1
if [ -f "$scenarios/TimeTrack.Migrations.TestScenarios.dll" ]; then
  DATABASE_URL="$(url_of slow)" podman run -d --name "$PREFIX-slow" --network host -e DATABASE_URL \
    -v "$PWD/$scenarios:/scenarios:ro" \
    -e TIMETRACK_MIGRATIONS_ASSEMBLY=/scenarios/TimeTrack.Migrations.TestScenarios.dll \
    -e TIMETRACK_TEST_SCENARIO=slow "$IMAGE" >/dev/null
  if wait_for_log "$PREFIX-slow" "applying 300" 60; then
    sleep 1
    t=$SECONDS
    podman stop -t "$STOP_TIMEOUT" "$PREFIX-slow" >/dev/null 2>&1
    code="$(podman inspect --format '{{.State.ExitCode}}' "$PREFIX-slow")"
    # No waiting: the runner itself cancelled the step and rolled it back before it exited (a
    # SIGKILLed one would leave that to the server's client_connection_check_interval).
    now="$(version_of slow)"
    gadgets="$(psql_q slow "SELECT count(*) FROM pg_tables WHERE tablename = 'gadgets'")"
    if [ "$code" = 143 ] && [ "$now" = 200 ] && [ "$gadgets" = 0 ]; then
      pass "podman stop during a slow migration: exit 143 after $((SECONDS - t)) s, migration 300 rolled back"
    else
      fail "podman stop during a slow migration: exit $code after $((SECONDS - t)) s (want 143), database at $now (want 200), gadgets tables: $gadgets (want 0)"
      podman logs "$PREFIX-slow" >"$work/slow.log" 2>&1
      show "$work/slow.log" 6
    fi
  else
    fail "podman stop during a slow migration: migration 300 never started"
    podman logs "$PREFIX-slow" >"$work/slow.log" 2>&1
    show "$work/slow.log"
  fi
else
  fail "podman stop during a slow migration: could not build the test scenarios assembly"
  show "$work/scenarios.log"
fi

# The front over TLS with verify-full and the mounted CA: NativeAOT's own TLS stack, on the image's OpenSSL.
if DATABASE_URL="$(url_of fresh)?sslmode=verify-full&sslrootcert=/certs/ca.crt" podman run --rm --network host -e DATABASE_URL \
     -e TIMETRACK_FAST_START=explain -v "$pgroot/ca.crt:/certs/ca.crt:ro" "$IMAGE" init >"$work/tls-front.log" 2>&1 \
   && grep -qx "fast start: nothing to do" "$work/tls-front.log"; then
  pass "TLS: the front's restart with sslmode=verify-full and a mounted CA"
else
  fail "TLS: the front's restart with sslmode=verify-full"
  show "$work/tls-front.log"
fi

# SQLite on a /data volume: the image's default database
podman volume create "$PREFIX-data" >/dev/null
if podman run --rm -v "$PREFIX-data:/data" "$IMAGE" >"$work/sqlite.log" 2>&1 \
   && grep -q "using the image's default sqlite:////data/timetrack.db" "$work/sqlite.log" \
   && podman run --rm -v "$PREFIX-data:/data" "$IMAGE" status --json 2>/dev/null | grep '"upToDate": true' >/dev/null \
   && [ "$(podman run --rm -v "$PREFIX-data:/data" -e MIGRATE_ON_START=false "$IMAGE" stat -c %u /data/timetrack.db 2>/dev/null)" = 1654 ]; then
  pass "SQLite: the image's default sqlite:////data/timetrack.db on a volume, migrated to head, owned by 1654"
else
  fail "SQLite on a /data volume"
  show "$work/sqlite.log"
fi

# The container's restart on that volume: answered by the front (SQLite read-only), through the entrypoint.
if podman run --rm -v "$PREFIX-data:/data" -e TIMETRACK_FAST_START=explain "$IMAGE" >"$work/sqlite-restart.log" 2>&1 \
   && grep -qx "fast start: nothing to do" "$work/sqlite-restart.log" \
   && grep -q "^managed: the database is at .* (head), nothing to do$" "$work/sqlite-restart.log"; then
  pass "SQLite: the restart on the /data volume is answered by the NativeAOT front"
else
  fail "SQLite: the front's restart on the /data volume"
  show "$work/sqlite-restart.log"
fi

# --- the arm64 publish: the Dockerfile's build stage cross-compiling for TARGETARCH=arm64 ------
mkdir -p "$CACHE/nuget-arm64"
t=$SECONDS
previous="$(podman image inspect --format '{{.Id}}' "$BUILD_ARM64" 2>/dev/null || true)"
if podman build --pull=never --platform linux/arm64 --build-arg BUILDPLATFORM="$build_platform" --target build \
     -v "$CACHE/nuget-arm64:/root/.nuget/packages" -t "$BUILD_ARM64" . >"$work/arm64.log" 2>&1 \
   && podman create --name "$PREFIX-arm64" "$BUILD_ARM64" >/dev/null 2>>"$work/arm64.log" \
   && podman cp "$PREFIX-arm64:/out" "$work/arm64" >>"$work/arm64.log" 2>&1; then
  remove_if_untagged "$previous"
  # Cross-built: the runner alone, timetrack-migrate a link to it (no NativeAOT front: Dockerfile).
  arch="$(file -b "$work/arm64/full/timetrack-migrate")"
  if grep -q "ARM aarch64" <<<"$arch" && [ "$(readlink "$work/arm64/timetrack-migrate")" = full/timetrack-migrate ]; then
    pass "arm64 publish (build stage, TARGETARCH=arm64, $((SECONDS - t)) s): full/timetrack-migrate is ${arch%%,*}, aarch64; timetrack-migrate links to it"
    info "arm64 publish output: $(du -sb "$work/arm64" | cut -f1 | awk '{printf "%d MB", $1 / 1000000}')"
  else
    fail "arm64 publish: timetrack-migrate is '$arch'"
  fi
else
  fail "arm64 publish (podman build --platform linux/arm64 --target build)"
  show "$work/arm64.log" 20
fi

# The pgclient stage for arm64, on this machine's platform too: the arm64 packages downloaded and
# unpacked, nothing run (no emulation); what the runtime stage copies is aarch64 code.
t=$SECONDS
previous="$(podman image inspect --format '{{.Id}}' "$PGCLIENT_ARM64" 2>/dev/null || true)"
if podman build --pull=never --platform linux/arm64 --build-arg BUILDPLATFORM="$build_platform" --target pgclient \
     -t "$PGCLIENT_ARM64" . >"$work/pgclient-arm64.log" 2>&1 \
   && podman create --name "$PREFIX-pgclient-arm64" "$PGCLIENT_ARM64" >/dev/null 2>>"$work/pgclient-arm64.log" \
   && podman cp "$PREFIX-pgclient-arm64:/pgclient" "$work/pgclient-arm64" >>"$work/pgclient-arm64.log" 2>&1; then
  remove_if_untagged "$previous"
  not_arm64=""
  for f in "$work"/pgclient-arm64/usr/lib/postgresql/*/bin/pg_dump "$work"/pgclient-arm64/usr/lib/postgresql/*/bin/pg_restore \
           "$work"/pgclient-arm64/usr/lib/aarch64-linux-gnu/libpq.so.5; do
    file -bL "$f" | grep -q "ARM aarch64" || not_arm64+=" ${f#"$work"/pgclient-arm64}"
  done
  if [ -z "$not_arm64" ] && [ -L "$work/pgclient-arm64/usr/local/bin/pg_dump" ]; then
    pass "arm64 pgclient stage ($((SECONDS - t)) s): client $(ls "$work/pgclient-arm64/usr/lib/postgresql"): pg_dump, pg_restore and libpq are aarch64"
  else
    fail "arm64 pgclient stage: not aarch64 (or missing):${not_arm64:- the pg_dump link}"
  fi
else
  fail "arm64 pgclient stage (podman build --platform linux/arm64 --target pgclient)"
  show "$work/pgclient-arm64.log" 20
fi

# --- compose: postgres stand-in, migrate from the image, web placeholder ----------------------
# podman-compose 1.0.3 ignores depends_on conditions (and runs no healthchecks without systemd):
# the containers are created by podman-compose from the file, then started in the order the
# conditions demand: postgres, migrate (waiting for it by itself), web once migrate exited 0.
install -m 0644 /dev/null "$work/postgres_password"
head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/postgres_password"
printf '\n' >>"$work/postgres_password" # as `echo secret > file` writes it: the newline is ignored
# The web placeholder (container-env.sh) under a name of this run's own, with the run's TAG.
podman tag ghcr.io/timetrack/timetrack-web:latest "localhost/${PREFIX}-web:${IMAGE_TAG}"
compose_used=1
c_pg="${PREFIX}_postgres_1" c_migrate="${PREFIX}_migrate_1" c_web="${PREFIX}_web_1"
if compose up --no-start web >"$work/compose.log" 2>&1 \
   && podman start "$c_pg" >>"$work/compose.log" 2>&1 \
   && podman start "$c_migrate" >>"$work/compose.log" 2>&1; then
  migrate_code="$(timeout 120 podman wait "$c_migrate" 2>>"$work/compose.log")"
  [ "$migrate_code" = 0 ] && podman start "$c_web" >>"$work/compose.log" 2>&1
  finished="$(podman inspect --format '{{.State.FinishedAt.Unix}}' "$c_migrate" 2>/dev/null)"
  web_started="$(podman inspect --format '{{.State.StartedAt.Unix}}' "$c_web" 2>/dev/null)"
  web_running="$(podman inspect --format '{{.State.Running}}' "$c_web" 2>/dev/null)"
  init="$(podman inspect --format '{{.HostConfig.Init}}' "$c_migrate" 2>/dev/null)"
  at="$(podman exec "$c_pg" psql -U timetrack -d timetrack -tAc 'SELECT max("Version") FROM "VersionInfo"' 2>/dev/null)"
  if [ "$migrate_code" = 0 ] && [ "$web_running" = true ] && [ "${finished:-0}" -le "${web_started:-0}" ] \
     && [ "$init" = true ] && [ "$at" = "${head_version:-?}" ]; then
    pass "compose: migrate (init, password from a secret file) took the database to head, then web started"
    compose_ok=1
  else
    fail "compose: migrate exit '${migrate_code}', database at '${at}', init '${init}', web running '${web_running}'"
    podman logs "$c_migrate" >"$work/migrate.log" 2>&1
    show "$work/migrate.log" 8
    show "$work/compose.log" 8
  fi
else
  fail "compose: podman-compose could not create or start the services"
  show "$work/compose.log" 20
fi

# The compose file's default MIGRATE_BACKUP_DIR=/backups: the fresh deployment above was backed up
# (an empty database, version 0) into the backups volume before migrate changed anything; the
# README's restore step (`run --rm -e DATABASE_URL=... tools restore FILE`) restores it into a
# new database of the postgres stand-in.
if [ "${compose_ok:-0}" = 1 ]; then
  compose_backups="$(podman volume inspect --format '{{.Mountpoint}}' "${PREFIX}_backups" 2>/dev/null)"
  first="$(find "$compose_backups" -maxdepth 1 -name 'timetrack-*-v0-*.dump' -printf '%f\n' 2>/dev/null | head -n 1)"
  if [ -n "$first" ] && podman logs "$c_migrate" 2>&1 | grep -F "backup written: /backups/$first" >/dev/null \
     && podman exec "$c_pg" createdb -U timetrack timetrack_restored >"$work/compose-restore.log" 2>&1 \
     && compose run --rm --no-deps -T -e DATABASE_URL=postgresql://timetrack@postgres:5432/timetrack_restored \
          tools restore "/backups/$first" >>"$work/compose-restore.log" 2>&1 \
     && grep -qF "restored /backups/$first" "$work/compose-restore.log" \
     && grep -qE "current: +0 \(nothing applied\)" "$work/compose-restore.log" \
     && podman exec "$c_pg" psql -U timetrack -d timetrack_restored -tAc 'SELECT 1' >/dev/null 2>&1; then
    pass "compose: the fresh deployment's backup $first in the backups volume; tools restore into a new database: exit 0, status at 0"
  else
    fail "compose: backup of the fresh deployment ('${first}' in ${compose_backups:-no volume}) or its restore"
    podman logs "$c_migrate" >"$work/migrate.log" 2>&1
    show "$work/migrate.log" 8
    show "$work/compose-restore.log" 8
  fi
fi

# A tools-profile command under its Flask-Migrate name: the runner's command alone, no start-up migration.
if [ "${compose_ok:-0}" = 1 ]; then
  if compose run --rm --no-deps -T tools downgrade --to "$V3" >"$work/compose-tools.log" 2>&1 \
     && grep -q "rolled back" "$work/compose-tools.log" \
     && compose run --rm --no-deps -T tools apply >>"$work/compose-tools.log" 2>&1 \
     && grep -q "migration(s) applied" "$work/compose-tools.log"; then
    pass "compose: 'run --rm tools downgrade --to $V3' rolls back and 'tools apply' migrates up again"
  else
    fail "compose: tools downgrade/apply"
    show "$work/compose-tools.log" 20
  fi
fi

printf 'test-image: %d checks in %d s\n' "$checks" $((SECONDS - started))
printf 'test-image: %d passed, %d failed\n' $((checks - failures)) "$failures"
[ "$failures" -eq 0 ]
