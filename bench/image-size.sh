#!/usr/bin/env bash
# The image's full runner published the ways issue 25 names, side by side: size on disk and the
# full runner's migrating start (the NativeAOT front answers every restart by itself, so this is
# the start that pays for how the runner is published). docs/benchmarks.md, "Image size (issue 25)".
#
#   sc-comp   self-contained, composite ReadyToRun (the runner and the .NET libraries together)
#   fd-r2r    framework-dependent, ReadyToRun per assembly (the runtime from a dotnet/runtime base)
#   fd-comp   framework-dependent, composite ReadyToRun of the app's own assemblies
#   fd-il     framework-dependent, no ReadyToRun (IL only, everything JIT-compiled)
#   fd-opt    fd-r2r with our assemblies' IL optimized (-p:Optimize=true: async state machines as
#             structs, each with its own JIT-compiled copy of the framework's async code), as
#             shipped before build/runner.publish.rsp said -p:Optimize=false
#
# For each round, for each option in turn (the order rotates every round): an empty database
# taken to head by `up` (5 migrations), then `up` again (a no-op), both with
# TIMETRACK_FAST_START=off and DOTNET_TieredPGO=1 as the image runs them, timed by /usr/bin/time.
# Prints size, then the median wall and CPU (user + system) of each.
#
#   bash bench/image-size.sh
#   BENCH_ROUNDS=5 (default)  BENCH_OPTIONS="sc-comp fd-r2r ..." (default: all four)
#   BENCH_PUBLISHED=DIR       reuse DIR/<option>/ published earlier (publishing sc-comp takes minutes)
#   BENCH_EXTRA_ENV="fd-r2r:DOTNET_TieredPGO=0 ..."   also measure an option under extra variables
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS="${BENCH_ROUNDS:-5}"
read -r -a OPTIONS <<<"${BENCH_OPTIONS:-sc-comp fd-r2r fd-comp fd-il}"
read -r -a EXTRA <<<"${BENCH_EXTRA_ENV:-}"
require_tools psql:postgresql-client /usr/bin/time:time
bench_init image-size

settings_of() { # option: the publish's properties (fd-r2r: the Dockerfile's)
  case "$1" in
    sc-comp) echo "-p:SelfContained=true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true" ;;
    fd-r2r) echo "@$ROOT/build/runner.publish.rsp" ;; # the image's own
    fd-comp) echo "-p:SelfContained=false -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true" ;;
    fd-il) echo "-p:SelfContained=false" ;;
    fd-opt) echo "@$ROOT/build/runner.publish.rsp -p:Optimize=true" ;;
    *) die "unknown option $1 (sc-comp, fd-r2r, fd-comp, fd-il, fd-opt)" ;;
  esac
}

declare -A DIR
for option in "${OPTIONS[@]}"; do
  if [ -n "${BENCH_PUBLISHED:-}" ] && [ -x "$BENCH_PUBLISHED/$option/timetrack-migrate" ]; then
    DIR[$option]="$BENCH_PUBLISHED/$option"
    continue
  fi
  log "publishing $option"
  # shellcheck disable=SC2046 # the properties are words
  dotnet publish "$ROOT/TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj" -c Release -r linux-x64 \
    $(settings_of "$option") -p:DisableTransitiveFrameworkReferenceDownloads=true \
    -o "$WORK/$option" --artifacts-path "$WORK/artifacts-$option" --nologo -v quiet >&2
  DIR[$option]="$WORK/$option"
done

# The cases: an option, or an option with extra environment (option:NAME=VALUE).
cases=("${OPTIONS[@]}" "${EXTRA[@]}")
start_postgres
warn_if_busy

timed() { # file, command...: appends "wall cpu" in ms
  local file="$1"
  shift
  /usr/bin/time -f '%e %U %S' -o "$WORK/t" "$@" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; die "failed: $*"; }
  awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' "$WORK/t" >>"$file"
}

log "measuring ${#cases[@]} case(s), $ROUNDS round(s)"
for ((round = 0; round < ROUNDS; round++)); do
  for ((i = 0; i < ${#cases[@]}; i++)); do
    c="${cases[(i + round) % ${#cases[@]}]}"
    option="${c%%:*}" env_extra=()
    [ "$c" = "$option" ] || env_extra=("${c#*:}")
    new_database db image_size
    url="$BASE_URL/$db"
    runner="${DIR[$option]}/timetrack-migrate"
    timed "$WORK/${c//[:=\/]/_}.up" env TIMETRACK_FAST_START=off DOTNET_TieredPGO=1 "${env_extra[@]}" "$runner" up --database-url "$url"
    timed "$WORK/${c//[:=\/]/_}.noop" env TIMETRACK_FAST_START=off DOTNET_TieredPGO=1 "${env_extra[@]}" "$runner" up --database-url "$url"
  done
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
printf '\n%s\n' "$(machine)"
printf '%-36s %10s  %-26s %-26s\n' case size 'up empty->head wall/CPU' 'no-op up wall/CPU'
for c in "${cases[@]}"; do
  f="$WORK/${c//[:=\/]/_}"
  size="$(du -sb "${DIR[${c%%:*}]}" | awk '{ printf "%.1f MB", $1 / 1000000 }')"
  printf '%-36s %10s  %-26s %-26s\n' "$c" "$size" \
    "$(cut -d' ' -f1 "$f.up" | median) / $(cut -d' ' -f2 "$f.up" | median) ms" \
    "$(cut -d' ' -f1 "$f.noop" | median) / $(cut -d' ' -f2 "$f.noop" | median) ms"
done
