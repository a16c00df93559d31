#!/usr/bin/env bash
# The migrate action's step (action.yml): runs the image's deploy script (/app/ci-migrate.sh) in a
# container, with the job's summary, outputs and the SQL preview's directory mounted. The script
# comes from the image, so it always reads the JSON of the runner it was built with.
set -euo pipefail

: "${IMAGE:?the input image is required}"
[ -n "${DATABASE_URL:-}" ] || { echo "::error title=Database migration::the input database-url is empty (is the secret set for this environment?)"; exit 2; }

mkdir -p "$SQL_DIR"
backup=()
if [ -n "${BACKUP_HOST_DIR:-}" ]; then
  mkdir -p "$BACKUP_HOST_DIR"
  backup=(-e MIGRATE_BACKUP_DIR=/backups -v "$BACKUP_HOST_DIR:/backups")
  [ -z "${MIGRATE_BACKUP_KEEP:-}" ] || backup+=(-e MIGRATE_BACKUP_KEEP)
fi
# --init: a cancelled job's SIGTERM reaches the script, which passes it on to the runner (it
# rolls back its step and releases its lock). The runner's user is the job's, so the files it
# writes into the mounts are the job's.
exec docker run --rm --init --network "${DOCKER_NETWORK:-host}" \
  --user "$(id -u):$(id -g)" \
  -e DATABASE_URL -e MIGRATE_ACTION -e MIGRATE_TARGET_VERSION -e MIGRATE_DRY_RUN "${backup[@]}" \
  -e GITHUB_STEP_SUMMARY=/github/summary.md -v "$GITHUB_STEP_SUMMARY:/github/summary.md" \
  -e GITHUB_OUTPUT=/github/output -v "$GITHUB_OUTPUT:/github/output" \
  -e MIGRATE_ARTIFACT_DIR=/github/artifacts -v "$SQL_DIR:/github/artifacts" \
  --entrypoint /app/ci-migrate.sh \
  "$IMAGE"
