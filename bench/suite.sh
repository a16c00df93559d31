#!/usr/bin/env bash
# The test suite's speed (issue 11): `dotnet test --no-build` of this tree, and of BASELINE (a
# commit of this repository, built in a worktree of its own) when given, run back to back,
# SUITE_RUNS times each (default 1). For each run: the wall time, the tests counted, and where
# the machine's CPU went: the test host itself, the processes it started (the runner, the
# scripts, pg_dump...), and the throwaway PostgreSQL clusters (their backends included).
#
#   bash bench/suite.sh [BASELINE]        e.g. bash bench/suite.sh 7c8155e
#
# The suite is CPU-bound on 2 cores: compare CPU-seconds as well as wall times, and measure on a
# quiet machine (a warning says when it is not). No timing is asserted anywhere.
set -euo pipefail
# Started in the background by a shell without job control (nohup ... &), this script and every
# runner the tests start would ignore SIGINT, and the suite's SIGINT tests would fail: start again
# with the default action (a shell cannot reset an ignored signal itself).
if [ -z "${SUITE_DEFAULT_SIGINT:-}" ]; then
  SUITE_DEFAULT_SIGINT=1 exec env --default-signal=INT bash "$0" "$@"
fi
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init timetrack-suite
baseline="${1:-}"
runs="${SUITE_RUNS:-1}"

# ticks STAT: the CPU ticks (user+system) of a process, with its waited-for children; nothing when it is gone.
ticks() { awk '{ print $14 + $15 + $16 + $17 }' "$1" 2>/dev/null || true; }

# sample FILE: until FILE exists, the last ticks seen of each postmaster (its reaped backends
# included) and of the test host (its own, then its children's), every quarter second.
sample() {
  local stop="$1" pid
  declare -A postmasters=() before=()
  local host_own=0 host_children=0 t
  for pid in $(pgrep -f '^/usr/lib/postgresql/[0-9]+/bin/postgres -D' || true); do
    before[$pid]="$(ticks "/proc/$pid/stat")" # a server that was already running: only what it does now
  done
  while [ ! -e "$stop" ]; do
    for pid in $(pgrep -f '^/usr/lib/postgresql/[0-9]+/bin/postgres -D' || true); do
      t="$(ticks "/proc/$pid/stat")"
      [ -z "$t" ] || postmasters[$pid]="$t" # a server that has just stopped keeps its last figure
    done
    for pid in $(pgrep -f 'testhost' || true); do
      read -r host_own host_children < <(awk '{ print $14 + $15, $16 + $17 }' "/proc/$pid/stat" 2>/dev/null || echo "$host_own $host_children")
    done
    sleep 0.25
  done
  local postgres=0
  for pid in "${!postmasters[@]}"; do postgres=$((postgres + postmasters[$pid] - ${before[$pid]:-0})); done
  echo "$host_own $host_children $postgres"
}

busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# measure DIR LABEL: one run of the suite in DIR, one line of figures.
measure() {
  local dir="$1" label="$2" stop="$WORK/stop" log="$WORK/test.log" hz
  hz="$(getconf CLK_TCK)"
  rm -f "$stop"
  sample "$stop" >"$WORK/sample" &
  local sampler=$! busy0 start
  busy0="$(busy_ticks)"
  start="$(date +%s%N)"
  (cd "$dir" && dotnet test TimeTrack.sln --nologo --no-build >"$log" 2>&1) || { touch "$stop"; wait "$sampler"; tail -n 30 "$log" >&2; die "the suite failed in $dir"; } # the sampler stops first, or the script waits for it forever
  local wall=$(( ($(date +%s%N) - start) / 1000000 )) busy=$(( $(busy_ticks) - busy0 ))
  touch "$stop"
  wait "$sampler"
  local own children postgres
  read -r own children postgres <"$WORK/sample"
  printf '%-22s %5s tests  wall %6.1f s  machine %4d CPU-s  test host %5.1f  its processes %5.1f  PostgreSQL %5.1f\n' \
    "$label" "$(sed -nE 's/.*Passed: *([0-9]+),.*/\1/p' "$log" | head -n 1)" "$(awk -v w="$wall" 'BEGIN { print w / 1000 }')" \
    "$((busy / hz))" "$(awk -v t="$own" -v h="$hz" 'BEGIN { print t / h }')" "$(awk -v t="$children" -v h="$hz" 'BEGIN { print t / h }')" \
    "$(awk -v t="$postgres" -v h="$hz" 'BEGIN { print t / h }')"
}

require_tools pgrep:procps
PG_VERSION="$("$PG_BIN/postgres" --version 2>/dev/null | sed 's/^postgres (PostgreSQL) //')" # for the machine line
log "building this tree"
(cd "$ROOT" && dotnet build TimeTrack.sln --nologo -v q >/dev/null) || die "the build of this tree failed"
if [ -n "$baseline" ]; then
  log "building $baseline in a worktree"
  git -C "$ROOT" worktree add --detach -f "$WORK/baseline" "$baseline" >/dev/null 2>&1 || die "commit $baseline is not in this repository's history"
  trap 'git -C "$ROOT" worktree remove --force "$WORK/baseline" >/dev/null 2>&1; bench_cleanup' EXIT
  (cd "$WORK/baseline" && dotnet build TimeTrack.sln --nologo -v q >/dev/null) || die "the build of $baseline failed"
fi

warn_if_busy
echo "Machine: $(machine)"
for i in $(seq 1 "$runs"); do
  measure "$ROOT" "this tree (run $i)"
  [ -z "$baseline" ] || measure "$WORK/baseline" "$baseline (run $i)"
done
