#!/usr/bin/env bash
# The seed's helper, on timetrack-migrate. Works inside the container (the runner is on PATH)
# and from a checkout (it runs the runner project with dotnet).
#
#   ./migrate.sh status                  check the migration status
#   ./migrate.sh apply                   apply pending migrations
#   ./migrate.sh create "Add something"  generate a migration from the model (development only)
#   ./migrate.sh mark-current            record every migration as applied (adopt by hand: prefer init)
#   ./migrate.sh rollback VERSION        roll back to a version number (0: everything)
#   ./migrate.sh init|up|stamp|script|check|…  any timetrack-migrate command, passed through
#
# The database comes from DATABASE_URL (or --database-url after the verb). Exit codes are the runner's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# exec: the runner takes this script's place, so the stop signal (docker stop, Ctrl-C) reaches it.
run() {
  if [ -n "${TIMETRACK_MIGRATE:-}" ]; then
    exec "$TIMETRACK_MIGRATE" "$@"
  elif command -v timetrack-migrate >/dev/null 2>&1; then
    exec timetrack-migrate "$@"
  elif [ -f "$here/../TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj" ]; then
    exec dotnet run --project "$here/../TimeTrack.Migrations.Runner" -- "$@"
  else
    echo "migrate.sh: timetrack-migrate is not on PATH and this is not a checkout" >&2
    exit 2
  fi
}

usage() { # the comment block at the top of this file, up to the first line of code
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

verb="${1:-}"
[ "$#" -gt 0 ] && shift

case "$verb" in
  status) run status "$@" ;;
  apply) run up "$@" ;;
  create)
    if [ "$#" -lt 1 ]; then
      echo "migrate.sh: create needs a message, e.g. ./migrate.sh create \"Add user preferences\"" >&2
      exit 2
    fi
    run new "$@"
    ;;
  mark-current) run mark-current "$@" ;;
  rollback)
    if [ "$#" -lt 1 ]; then
      echo "migrate.sh: rollback needs a version number, e.g. ./migrate.sh rollback 202407010900 (0 undoes everything)" >&2
      exit 2
    fi
    version="$1"
    shift
    run rollback --to "$version" "$@"
    ;;
  -h | --help | help) usage ;;
  "")
    usage >&2
    exit 2
    ;;
  init | up | downgrade | stamp | script | new | baseline | check | --version)
    run "$verb" "$@"
    ;;
  *)
    echo "migrate.sh: unknown command '${verb}'" >&2
    usage >&2
    exit 2
    ;;
esac
