#!/usr/bin/env bash
# .ci/kubernetes/test-kube-play.sh: the Kubernetes manifests run for real with `podman kube play`
# (.ci/run runs it after .ci/test-image.sh, which builds the image). Each pod played is the pod
# template of a rendered kustomization here, changed only where podman 4.3 lacks a feature
# (podman-pod.mjs says which); PostgreSQL runs in a pod of its own, reached at its pod's address.
#
#   TEST_IMAGE=localhost/timetrack-migrations:test bash .ci/kubernetes/test-kube-play.sh
#
# One PASS/FAIL line per check and a closing "N passed, N failed" line; exit 1 when any failed.
# Needs root, podman (.ci/container-env.sh: the postgres and web stand-ins), kubectl, node and
# npm, dotnet (the test scenarios' assembly). 1-3 minutes here, most of it starting pods on a loaded
# machine; everything it creates is named tt-kube-<pid>-* and removed at exit.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

IMAGE="${TEST_IMAGE:-localhost/timetrack-migrations:test}"
PG_IMAGE="docker.io/library/postgres:15.10-bookworm" # container-env.sh's stand-ins
WEB_IMAGE="ghcr.io/timetrack/timetrack-web:latest"
TOOLS="${TIMETRACK_CI_TOOLS:-$HOME/.cache/timetrack-ci-tools}/node_modules"
PREFIX="tt-kube-$$"
LOCK_KEY=$((0x54696D6554726163)) # PostgresDatabase.MigrationLockKey
REPLICAS=3

work="$(mktemp -d)"
failures=0
checks=0
started=$SECONDS

pass() { checks=$((checks + 1)); printf 'PASS %s\n' "$*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); printf 'FAIL %s\n' "$*"; }
show() { [ -s "$1" ] && tail -n "${2:-12}" "$1" | sed 's/^/     | /'; return 0; }

cleanup() {
  local pod
  for pod in $(podman pod ps --format '{{.Name}}' | grep -E "^${PREFIX}-" || true); do
    podman pod rm -f -t 0 "$pod" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

finish() {
  printf 'test-kube-play: %d checks in %d s\n' "$checks" $((SECONDS - started))
  printf 'test-kube-play: %d passed, %d failed\n' $((checks - failures)) "$failures"
  [ "$failures" -eq 0 ]
}

state() { podman inspect --format "{{$2}}" "$1" 2>/dev/null; } # container, field
sql() { podman exec "$PREFIX-pg-postgres" psql -U timetrack -d "$1" -tAq -c "$2" 2>/dev/null; }
version_of() { sql "$1" 'SELECT coalesce(max("Version"), 0) FROM "VersionInfo"' || echo none; }

wait_until() { # seconds, command...: true once the command succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
exited() { [ "$(state "$1" .State.Status)" = exited ]; }
running() { [ "$(state "$1" .State.Running)" = true ]; }
logged() { podman logs "$1" 2>&1 | grep -F -- "$2" >/dev/null; } # no -q: podman never gets SIGPIPE

# The pod template of a rendered kustomization as a Pod for kube play: name, rendered file, database, extra options (JSON).
pod_yaml() {
  mkdir -p "$work/secret-$3"
  printf 'postgresql://timetrack:%s@%s:5432/%s\n' "$password" "$pg_ip" "$3" >"$work/secret-$3/url"
  chmod 0755 "$work/secret-$3" && chmod 0644 "$work/secret-$3/url" # the app user (1654) reads it
  node .ci/kubernetes/podman-pod.mjs "$TOOLS" "$2" \
    "{\"name\": \"$PREFIX-$1\", \"image\": \"$IMAGE\", \"standIn\": \"$WEB_IMAGE\", \"secretDir\": \"$work/secret-$3\"${4:+, $4}}" \
    >"$work/$1.yaml"
}
play() { podman kube play "$work/$1.yaml" >"$work/$1.play.log" 2>&1; }

# --- preflight, and the manifests validated (installs the npm packages podman-pod.mjs uses) --------
missing=()
[ "$(id -u)" = 0 ] || missing+=(root)
for tool in podman kubectl node npm dotnet; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
for image in "$IMAGE" "$PG_IMAGE" "$WEB_IMAGE"; do
  command -v podman >/dev/null 2>&1 && ! podman image exists "$image" && missing+=("image $image")
done
if [ "${#missing[@]}" -gt 0 ]; then
  fail "preflight: missing ${missing[*]} (.ci/container-env.sh and .ci/test-image.sh make the images)"
  finish
  exit
fi
if bash .ci/kubernetes/validate.sh >"$work/validate.log" 2>&1; then
  pass "the manifests validate: $(grep -F 'object(s)' "$work/validate.log")"
else
  fail ".ci/kubernetes/validate.sh"
  show "$work/validate.log"
  finish
  exit
fi
kubectl kustomize deploy/kubernetes/base >"$work/job.rendered.yaml"
kubectl kustomize deploy/kubernetes/init-container >"$work/deployment.rendered.yaml"

# --- PostgreSQL in a pod of its own ------------------------------------------------------------------
password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >"$work/pg.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $PREFIX-pg
spec:
  containers:
    - name: postgres
      image: $PG_IMAGE
      env:
        - {name: POSTGRES_USER, value: timetrack}
        - {name: POSTGRES_PASSWORD, value: "$password"}
        - {name: POSTGRES_DB, value: timetrack}
EOF
pg_ready() { podman exec "$PREFIX-pg-postgres" pg_isready -q -U timetrack -h 127.0.0.1 2>/dev/null; }
if ! { podman kube play "$work/pg.yaml" >"$work/pg.log" 2>&1 && wait_until 90 pg_ready; }; then
  fail "PostgreSQL pod did not start"
  show "$work/pg.log"
  finish
  exit
fi
pg_ip="$(state "$PREFIX-pg-postgres" 'range .NetworkSettings.Networks}}{{.IPAddress}}{{end')"
# shellcheck disable=SC2016 # a Go template, not a shell expansion
pg_net="$(state "$PREFIX-pg-postgres" 'range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end')"
for db in replicas blocked slow; do sql timetrack "CREATE DATABASE $db" >/dev/null; done

# --- the init-container variant: REPLICAS pods started together on an empty database -------------------
t=$SECONDS
for i in $(seq 1 "$REPLICAS"); do pod_yaml "app$i" "$work/deployment.rendered.yaml" replicas; done
for i in $(seq 1 "$REPLICAS"); do play "app$i" & done
wait
all_started() {
  local i
  for i in $(seq 1 "$REPLICAS"); do running "$PREFIX-app$i-web" || return 1; done
}
wait_until 120 all_started
# The runner's own word on the database: up to date, at head.
status="$(podman run --rm --network "$pg_net" -v "$work/secret-replicas:/run/secrets/tt:ro" \
  -e DATABASE_URL_FILE=/run/secrets/tt/url "$IMAGE" status --json 2>&1)"
head_version="$(sed -nE 's/^  "head": ([0-9]+),?$/\1/p' <<<"$status")"
ok=1 appliers=0 summary=""
for i in $(seq 1 "$REPLICAS"); do
  c="$PREFIX-app$i"
  code="$(state "$c-migrate" .State.ExitCode)"
  finished="$(state "$c-migrate" .State.FinishedAt.UnixNano)" web_started="$(state "$c-web" .State.StartedAt.UnixNano)"
  podman logs "$c-migrate" >"$work/app$i.log" 2>&1
  grep -q "migration(s) applied" "$work/app$i.log" && appliers=$((appliers + 1))
  summary+=" $i: exit ${code:-?}"
  if [ "$code" != 0 ] || ! running "$c-web" || [ "${finished:-0}" -gt "${web_started:-0}" ]; then ok=0; fi
done
at="$(version_of replicas)"
if [ "$ok" = 1 ] && [ "$appliers" = 1 ] && grep -qF '"upToDate": true' <<<"$status" && [ "$at" = "$head_version" ]; then
  pass "init container, $REPLICAS replicas at once: one applied the migrations, the others found nothing to do; each app started after its migrate exited 0 ($((SECONDS - t)) s)"
else
  fail "init container, $REPLICAS replicas:${summary}; $appliers applied (want 1); database at $at (want ${head_version:-head})"
  for i in $(seq 1 "$REPLICAS"); do show "$work/app$i.log" 4; show "$work/app$i.play.log" 4; done
fi

# A second play of a pod (a restart, a rollout with nothing new): a no-op answered by the NativeAOT front.
t=$SECONDS
podman kube down "$work/app1.yaml" >/dev/null 2>&1
pod_yaml app1 "$work/deployment.rendered.yaml" replicas '"env": {"TIMETRACK_FAST_START": "explain"}'
before="$(sql replicas 'SELECT count(*), max("AppliedOn") FROM "VersionInfo"')"
if play app1 && wait_until 60 running "$PREFIX-app1-web" && [ "$(state "$PREFIX-app1-migrate" .State.ExitCode)" = 0 ] \
   && logged "$PREFIX-app1-migrate" "fast start: nothing to do" && logged "$PREFIX-app1-migrate" "nothing to do" \
   && [ "$(sql replicas 'SELECT count(*), max("AppliedOn") FROM "VersionInfo"')" = "$before" ]; then
  pass "second play: the init container finds nothing to do (answered by the front), the app starts ($((SECONDS - t)) s)"
else
  fail "second play: migrate exit '$(state "$PREFIX-app1-migrate" .State.ExitCode)', web running '$(state "$PREFIX-app1-web" .State.Running)'"
  podman logs "$PREFIX-app1-migrate" >"$work/replay.log" 2>&1
  show "$work/replay.log" 6
fi
for i in $(seq 1 "$REPLICAS"); do podman kube down "$work/app$i.yaml" >/dev/null 2>&1; done

# --- the Job's pod: a pending migration while another session holds the migration lock -> exit 4 --------
t=$SECONDS
podman exec -d "$PREFIX-pg-postgres" psql -U timetrack -d blocked -q \
  -c "SELECT pg_advisory_lock($LOCK_KEY)" -c "SELECT pg_sleep(120)" >/dev/null
holder() { [ "$(sql blocked "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]; }
wait_until 20 holder
pod_yaml blocked "$work/job.rendered.yaml" blocked '"env": {"TIMETRACK_LOCK_TIMEOUT": "3"}'
if play blocked && wait_until 90 exited "$PREFIX-blocked-migrate"; then
  code="$(state "$PREFIX-blocked-migrate" .State.ExitCode)"
  podman logs "$PREFIX-blocked-migrate" >"$work/blocked.log" 2>&1
  if [ "$code" = 4 ] && grep -q "another runner is migrating this database" "$work/blocked.log" && [ "$(version_of blocked)" = none ]; then
    pass "Job pod, migration lock held by another session: exit 4 after the lock timeout (the Job retries it), nothing applied ($((SECONDS - t)) s)"
  else
    fail "Job pod with the lock held: exit '$code' (want 4), database at $(version_of blocked) (want none)"
    show "$work/blocked.log" 6
  fi
else
  fail "Job pod with the lock held: the migrate container did not run to its end (state '$(state "$PREFIX-blocked-migrate" .State.Status)')"
  podman logs "$PREFIX-blocked-migrate" >"$work/blocked.log" 2>&1
  show "$work/blocked.log" 6
  show "$work/blocked.play.log"
fi
sql blocked "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'" >/dev/null
podman kube down "$work/blocked.yaml" >/dev/null 2>&1

# --- the Job's pod stopped during a slow step -> the runner's own rollback, exit 143 -----------------
# podman 4.3's `kube down` stops with a timeout of 0 (SIGTERM, then SIGKILL at once: 137, the
# server rolls back): what Kubernetes does is SIGTERM, then terminationGracePeriodSeconds before
# SIGKILL. So the pod is stopped that way first, with the manifest's grace period, then taken down.
scenarios=TimeTrack.Migrations.TestScenarios/bin/Debug/net10.0
grace="$(sed -nE 's/^      terminationGracePeriodSeconds: ([0-9]+)$/\1/p' "$work/job.rendered.yaml")"
dotnet build TimeTrack.Migrations.TestScenarios/TimeTrack.Migrations.TestScenarios.csproj -c Debug --nologo -v q >"$work/scenarios.log" 2>&1
if [ -f "$scenarios/TimeTrack.Migrations.TestScenarios.dll" ]; then
  pod_yaml slow "$work/job.rendered.yaml" slow "\"env\": {\"TIMETRACK_MIGRATIONS_ASSEMBLY\": \"/scenarios/TimeTrack.Migrations.TestScenarios.dll\", \"TIMETRACK_TEST_SCENARIO\": \"slow\"}, \"mounts\": [{\"host\": \"$PWD/$scenarios\", \"path\": \"/scenarios\"}]"
  if play slow && wait_until 90 logged "$PREFIX-slow-migrate" "applying 300"; then
    sleep 1
    t=$SECONDS
    podman pod stop -t "${grace:-60}" "$PREFIX-slow" >"$work/down.log" 2>&1
    stopped_after=$((SECONDS - t))
    code="$(state "$PREFIX-slow-migrate" .State.ExitCode)"
    podman logs "$PREFIX-slow-migrate" >"$work/slow.log" 2>&1
    podman kube down "$work/slow.yaml" >>"$work/down.log" 2>&1
    now="$(version_of slow)" gadgets="$(sql slow "SELECT count(*) FROM pg_tables WHERE tablename = 'gadgets'")"
    if [ "$code" = 143 ] && [ "$now" = 200 ] && [ "$gadgets" = 0 ] && grep -q "interrupted by SIGTERM" "$work/slow.log"; then
      pass "pod stopped during a slow step (grace ${grace:-?} s), then kube down: exit 143 after ${stopped_after} s, migration 300 rolled back by the runner, database at 200"
    else
      fail "pod stopped during a slow step: exit '$code' after ${stopped_after} s (want 143; 137 = killed), database at $now (want 200), gadgets tables: $gadgets (want 0)"
      show "$work/slow.log" 6
      show "$work/down.log" 4
    fi
  else
    fail "stop during a slow step: migration 300 never started"
    podman logs "$PREFIX-slow-migrate" >"$work/slow.log" 2>&1
    show "$work/slow.log"
    show "$work/slow.play.log"
  fi
else
  fail "stop during a slow step: could not build the test scenarios assembly"
  show "$work/scenarios.log"
fi

podman kube down "$work/pg.yaml" >/dev/null 2>&1
finish
