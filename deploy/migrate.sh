#!/usr/bin/env bash
# The seed's helper, on timetrack-migrate: every verb is passed to the runner, whose commands
# carry the Flask-Migrate names as aliases (apply = up, create = new, downgrade = rollback; see
# `timetrack-migrate --help`). Works inside the container (the runner is on PATH) and from a
# checkout (it runs the runner project with dotnet).
#
#   ./migrate.sh status | apply | create "Add something" | mark-current | lint | restore FILE | ...
#   ./migrate.sh rollback VERSION        the seed's form of rollback --to VERSION (0: everything)
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

case "${1:-}" in
  rollback | downgrade)
    [ "$#" -ge 2 ] || { echo "migrate.sh: $1 needs a version number, e.g. ./migrate.sh $1 202407010900 (0 undoes everything)" >&2; exit 2; }
    [[ "$2" =~ ^[0-9]+$ ]] && run "$1" --to "$2" "${@:3}" ;;
  "") echo "migrate.sh: a command is needed (./migrate.sh --help lists them)" >&2; exit 2 ;;
  help) run --help ;;
esac
run "$@"
