#!/bin/sh
# The image's entrypoint is the runner itself: ENTRYPOINT ["/app/timetrack-migrate", "start", "--"]
# (`timetrack-migrate start --help`: a runner command under any of its names runs alone, anything
# else is the application, started by exec after the start-up migration; MIGRATE_* settings).
# This script is kept for manifests that name /app/entrypoint.sh; it only hands over.
exec "${TIMETRACK_MIGRATE:-timetrack-migrate}" start -- "$@"
