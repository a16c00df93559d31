# syntax=docker/dockerfile:1
# TimeTrack migrations image: the published timetrack-migrate with the migrations, the
# entrypoint and migrate.sh. Runs the migrations at start, then the command, if any.

# --- build: restore (cached by project files), then publish; tests run in CI, not here.
FROM mcr.microsoft.com/dotnet/sdk:10.0.100-noble AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ./
COPY TimeTrack.Migrations/TimeTrack.Migrations.csproj TimeTrack.Migrations/
COPY TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj TimeTrack.Migrations.Runner/
RUN dotnet restore TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj -r linux-x64
COPY TimeTrack.Migrations/ TimeTrack.Migrations/
COPY TimeTrack.Migrations.Runner/ TimeTrack.Migrations.Runner/
# Self-contained composite ReadyToRun: the runner and the .NET libraries precompiled together,
# so a container start that finds nothing to do spends its time migrating, not compiling
# (docs/benchmarks.md: about a third faster than framework-dependent ReadyToRun).
RUN dotnet publish TimeTrack.Migrations.Runner/TimeTrack.Migrations.Runner.csproj \
      -c Release -r linux-x64 --self-contained true --no-restore \
      -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true -o /out

# --- runtime: the runner's native dependencies only (it carries its own .NET), a non-root
# user, no sources (so no migration generation).
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0.0-noble AS runtime
WORKDIR /app
COPY --from=build /out/ /app/
COPY --chmod=0755 deploy/entrypoint.sh deploy/migrate.sh deploy/ci-migrate.sh /app/
ENV PATH="/app:${PATH}" \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_TieredPGO=1 \
    TIMETRACK_ENVIRONMENT=Production \
    MIGRATE_ON_START=true \
    MIGRATE_TARGET_VERSION=head \
    MIGRATE_WAIT_SECONDS=60
# The image's unprivileged "app" user (uid 1654). A SQLite database needs a writable volume,
# e.g. -v timetrack-data:/data with DATABASE_URL=sqlite:////data/timetrack.db.
USER app
ENTRYPOINT ["/app/entrypoint.sh"]
CMD []
