# syntax=docker/dockerfile:1
# TimeTrack migrations image: the published timetrack-migrate with the migrations, the
# entrypoint and migrate.sh. Runs the migrations at start, then the command, if any.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg REVISION="$(git rev-parse HEAD)" --build-arg VERSION=1.2.3 -t IMAGE .
#
# Bumping .NET (docs/operations.md, "The image"): the runtime stage's base tag
# (mcr.microsoft.com/dotnet/runtime:<version>-noble) IS the runtime the image runs (the newest
# patch); the runtime-deps tag of the pgclient stage and the SDK tag go with it. Image names are
# written literally (not as ARGs) so tools can read them.

# --- build: runs on the build machine's platform and cross-compiles for TARGETARCH (the
# SDK's crossgen2 targets both architectures), so an arm64 image needs no emulation.
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:10.0.401-noble AS build
ARG TARGETARCH
WORKDIR /src
# The front (timetrack-migrate, TimeTrack.Migrations.FastStart) is compiled by NativeAOT, which
# links with clang against zlib: only when the image is for the build machine's own architecture.
# Cross-compiling it needs a sysroot of the target; an image built for another architecture ships
# the runner alone under the same name (a link), slower to start but the same in every answer.
RUN set -eu; \
    case "${TARGETARCH:-}" in \
      amd64) rid=linux-x64 ;; \
      arm64) rid=linux-arm64 ;; \
      "") echo "TARGETARCH is empty: build with BuildKit (docker buildx build) or podman build" >&2; exit 1 ;; \
      *) echo "unsupported TARGETARCH '${TARGETARCH}': amd64 or arm64" >&2; exit 1 ;; \
    esac; \
    echo "$rid" > /src/rid; \
    if [ "$(dpkg --print-architecture)" = "$TARGETARCH" ]; then \
      apt-get update -qq; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang zlib1g-dev >/dev/null; \
      rm -rf /var/lib/apt/lists/*; \
      echo yes > /src/native-front; \
    fi
COPY Directory.Build.props Directory.Packages.props ./
# The migrations project imports its manifest build step (embeds the committed manifest here).
COPY build/TimeTrack.Migrations.Manifest.targets build/
# How each program is published (bench/ publishes them the same way from these files).
COPY build/runner.publish.rsp build/front.publish.rsp build/
COPY TimeTrack.Migrations/TimeTrack.Migrations.csproj TimeTrack.Migrations/
COPY TimeTrack.Migrations.Core/TimeTrack.Migrations.Core.csproj TimeTrack.Migrations.Core/
COPY TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj TimeTrack.Migrations.Runner/
COPY TimeTrack.Migrations.FastStart/TimeTrack.Migrations.FastStart.csproj TimeTrack.Migrations.FastStart/
# The restore must see the publish's properties: with PublishReadyToRun it fetches crossgen2 and
# the runtime pack it compiles against (NETSDK1094 otherwise, from an empty NuGet cache), with
# PublishAot the ILCompiler. One property list per program (build/*.publish.rsp) for both steps,
# with the target's runtime identifier.
RUN set -eu; rid="$(cat /src/rid)"; \
    { printf '%s\n' -r "$rid"; cat build/runner.publish.rsp; } > /src/publish.rsp; \
    { printf '%s\n' -r "$rid"; cat build/front.publish.rsp; } > /src/front.rsp; \
    dotnet restore TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj @/src/publish.rsp; \
    if [ -f /src/native-front ]; then dotnet restore TimeTrack.Migrations.FastStart/TimeTrack.Migrations.FastStart.csproj @/src/front.rsp; fi
COPY TimeTrack.Migrations/ TimeTrack.Migrations/
COPY TimeTrack.Migrations.Core/ TimeTrack.Migrations.Core/
COPY TimeTrack.Migrations.Runner/ TimeTrack.Migrations.Runner/
COPY TimeTrack.Migrations.FastStart/ TimeTrack.Migrations.FastStart/
# Framework-dependent, ReadyToRun per assembly (build/runner.publish.rsp): the .NET runtime is
# the base image's (the runtime stage), so the layers above it hold only our program; what that
# saves and costs against a self-contained composite publish is measured in docs/benchmarks.md,
# "Image size". It goes to /app/full; /app/timetrack-migrate is the
# NativeAOT front, which answers a no-op start by itself and execs full/timetrack-migrate for
# everything else (docs/benchmarks.md, "The no-op start"). The front and the runner load the
# same SQLite library: one copy, full/ links to the front's.
RUN set -eu; \
    dotnet publish TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj \
      -c Release --no-restore @/src/publish.rsp -o /out/full; \
    if [ -f /src/native-front ]; then \
      dotnet publish TimeTrack.Migrations.FastStart/TimeTrack.Migrations.FastStart.csproj \
        -c Release --no-restore @/src/front.rsp -o /front; \
      cp /front/timetrack-migrate /front/libe_sqlite3.so /out/; \
      if cmp -s /out/libe_sqlite3.so /out/full/libe_sqlite3.so; then ln -sf ../libe_sqlite3.so /out/full/libe_sqlite3.so; fi; \
    else \
      ln -s full/timetrack-migrate /out/timetrack-migrate; \
    fi; \
    mkdir -p /empty/data; install -d -m 0700 /empty/backups

# --- pgclient: pg_dump and pg_restore for the backups (README, "Backups and restore"), of the
# TARGET architecture, with the libraries they need that the runtime image lacks. The runtime
# stage cannot apt-get them (it runs no command, so that the arm64 image needs no emulation);
# this stage runs on the build machine's platform and only downloads and unpacks (dpkg-deb -x)
# the target's packages, nothing of which runs. Its base is the runtime base's own base
# (runtime-deps: the runtime image adds /usr/share/dotnet and no package), of the build machine's
# architecture: the same distribution (the client is built against exactly the runtime's
# libraries) and the same installed packages, so what is not installed here is what the runtime
# lacks. The client is the newest in that distribution's archive: Ubuntu noble's
# postgresql-client-16 (the local stand-in, Debian bookworm: 15). deploy/stage-pgclient.sh says how.
# It needs apt and dpkg in the base: a -chiseled runtime-deps would need another source here.
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/runtime-deps:10.0.15-noble AS pgclient
ARG TARGETARCH
USER root
COPY deploy/stage-pgclient.sh /usr/local/bin/
RUN bash /usr/local/bin/stage-pgclient.sh /pgclient

# --- runtime: the .NET runtime (/usr/share/dotnet, where the runner's apphost finds it, and
# `dotnet` on PATH) and its native dependencies, a non-root user, no sources (so no migration
# generation). Its tag is the runtime the runner runs on (--version says it).
FROM mcr.microsoft.com/dotnet/runtime:10.0.15-noble AS runtime
ARG REVISION=unknown
ARG VERSION=dev
ARG SOURCE=https://github.com/timetrack/timetrack-migrations
LABEL org.opencontainers.image.title="timetrack-migrations" \
      org.opencontainers.image.description="TimeTrack's database migrations (timetrack-migrate, PostgreSQL and SQLite) with the container start-up entrypoint" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="mcr.microsoft.com/dotnet/runtime:10.0.15-noble"
COPY --from=build /out/ /app/
COPY --chmod=0755 deploy/entrypoint.sh deploy/migrate.sh deploy/ci-migrate.sh deploy/signals.sh /app/
# /data: where the image's default SQLite database lives, owned by the app user (1654, the base
# image's APP_UID) so that a named volume mounted there starts out writable by it (Docker and
# podman copy the ownership). A COPY, not a RUN: this stage runs no command, so the arm64 image
# builds on an amd64 machine without emulation.
COPY --from=build --chown=1654:1654 /empty/data /data
# /backups: where MIGRATE_BACKUP_DIR points in the compose file; owned likewise, so that a named
# volume mounted there is writable; 0700, as the backups hold every row.
COPY --from=build --chown=1654:1654 --chmod=0700 /empty/backups /backups
# The PostgreSQL client for backups and restore (the pgclient stage): pg_dump, pg_restore and
# psql on PATH in /usr/local/bin (where the runner finds them; TIMETRACK_PG_DUMP & co. stay free
# for a derived image's own client), the libraries the base lacks, in /usr/lib/<triplet>; and
# jq, with which the deploy job's script (ci-migrate.sh) reads the runner's JSON.
COPY --from=pgclient /pgclient/usr/ /usr/
ENV PATH="/app:${PATH}" \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_TieredPGO=1 \
    TIMETRACK_ENVIRONMENT=Production \
    TIMETRACK_IMAGE_REVISION="${REVISION}" \
    MIGRATE_DEFAULT_DATABASE_URL=sqlite:////data/timetrack.db
# The runner's own default (sqlite:///timetrack.db, relative) also lands in /data.
WORKDIR /data
# Numeric, so Kubernetes' runAsNonRoot can verify it is not root: the base image's "app" user.
USER $APP_UID
# The runner is the entrypoint: `start` runs a runner command given as the container's command
# (under any of its names) and nothing else, or migrates (MIGRATE_* settings, defaults in the
# runner) and then execs the command given (the application). No shell in between: the stop
# signal reaches the runner, then the application, directly.
ENTRYPOINT ["/app/timetrack-migrate", "start", "--"]
CMD []
