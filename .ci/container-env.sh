#!/usr/bin/env bash
# container-env.sh: make rootful podman/buildah run real OCI containers on a Debian 12 Firecracker VM
# (kernel 6.x, root WITHOUT CAP_SYS_RESOURCE, cgroup v1 hybrid with hugetlb on the v2 mount,
# no container registry reachable), then build local stand-ins for the base images a .NET
# Dockerfile names. Idempotent: rerun at will; images that exist are kept unless FORCE=1.
#
# The project's copy of ../shared/tools/container-env.sh (CI must not depend on ../shared);
# .ci/run runs it with DOCKERFILE=Dockerfile before .ci/test-image.sh. Changed here: the
# printf of the apt sources (shellcheck SC2059); the postgres stand-in reads POSTGRES_*_FILE
# (compose secrets; label standin.revision=2, older stand-ins are rebuilt); the dnsname CNI
# plugin is installed (service names resolve in compose networks). The SDK stand-in is this machine's SDK
# whatever its tag says (its label standin.note says which).
# Added here: the runtime phase, a stand-in for the dotnet/runtime image the Dockerfile's runtime
# stage starts from (runtime-deps + the SDK stand-in's .NET runtime, so an image built here runs
# this machine's runtime, not the tag's: its DOTNET_VERSION says which). Like the other stand-ins it
# is test machinery for this registry-less VM (.ci/test-image.sh builds on it), not something
# users deploy: a real build pulls the real image.
#
#   bash container-env.sh                 # everything (as root)
#   PHASES="packages config smoke" bash container-env.sh
#   FORCE=1 bash container-env.sh         # rebuild the stand-in images
#   NUGET_CACHE=1 bash container-env.sh   # also copy ~/.nuget/packages into the SDK stand-in
#   DOCKERFILE=Dockerfile bash container-env.sh   # stand-ins named after that Dockerfile's FROM lines
#
# Why each setting (found by trial, podman 4.3.1 / crun 1.8.1 / runc 1.1.5):
#  * crun 1.8.1 refuses the hybrid layout: "cgroups in hybrid mode not supported, drop all
#    controllers from cgroupv2" (hugetlb is enabled only on the v2 mount). runc handles it.
#  * podman (rootful) always puts RLIMIT_NOFILE=1048576 and RLIMIT_NPROC=4194304 in the spec;
#    raising a limit above the hard limit needs CAP_SYS_RESOURCE, which this VM's root lacks:
#    "error setting rlimit type 7: operation not permitted". default_ulimits pins both to the
#    current hard limits. NPROC is further capped at kernel.pid_max: conmon runs with an NPROC
#    hard limit of 32768 (= pid_max here) even when the shell has more ("rlimit type 6").
#    NB: any --ulimit on the command line REPLACES default_ulimits, so pass both nofile and nproc.
#  * no systemd: cgroupfs manager, file event logger; healthchecks never run on their own.
#  * podman 4.3 here uses CNI networks: container names resolve only with the dnsname plugin.
#  * buildah 1.28 does not predefine BUILDPLATFORM for FROM lines (it is empty there, so
#    `--platform linux/arm64` also applies to a FROM --platform=$BUILDPLATFORM stage): pass
#    --build-arg BUILDPLATFORM=linux/amd64 when cross-building.
#  * the host may trust extra CA certificates (/usr/local/share/ca-certificates) that NuGet's
#    TLS chain needs ("UntrustedRoot" without them): they are installed into the SDK stand-in.
#  * no container registry is assumed reachable: the base images a Dockerfile names are built
#    locally (debootstrap from the machine's own Debian mirror) and tagged with those names;
#    build with `podman build --pull=never`.
set -euo pipefail

WORK="${WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/container-env}"
SUITE="${SUITE:-bookworm}"
# The machine's own Debian mirror (from its apt sources), unless MIRROR is given.
default_mirror() {
  local u
  u=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
      | grep -v security | head -1 | awk '{print ($1 == "deb") ? $2 : $2}')
  [ -n "$u" ] || { echo "no Debian mirror in the apt sources; set MIRROR" >&2; exit 1; }
  printf '%s' "$u"
}
MIRROR="${MIRROR:-$(default_mirror)}"
BASE_IMAGE="${BASE_IMAGE:-localhost/debian:bookworm}"
BASE_ROOTFS="${BASE_ROOTFS:-$WORK/rootfs-$SUITE}"
RUNTIME_DEPS_IMAGE="${RUNTIME_DEPS_IMAGE:-mcr.microsoft.com/dotnet/runtime-deps:10.0.0-noble}"
RUNTIME_IMAGE="${RUNTIME_IMAGE:-mcr.microsoft.com/dotnet/runtime:10.0.0-noble}"
SDK_IMAGE="${SDK_IMAGE:-mcr.microsoft.com/dotnet/sdk:10.0.100-noble}"
POSTGRES_IMAGE="${POSTGRES_IMAGE:-docker.io/library/postgres:15.10-bookworm}"
WEB_IMAGE="${WEB_IMAGE:-ghcr.io/timetrack/timetrack-web:latest}"
# DOCKERFILE=path: take the SDK and runtime-deps names from its FROM lines (ARG defaults are
# not expanded: write the image names literally there, or pass SDK_IMAGE/RUNTIME_DEPS_IMAGE).
if [ -n "${DOCKERFILE:-}" ]; then
  while read -r img; do
    case "$img" in
      *dotnet/sdk:*) SDK_IMAGE="$img" ;;
      *dotnet/runtime-deps:*) RUNTIME_DEPS_IMAGE="$img" ;;
      *dotnet/runtime:*) RUNTIME_IMAGE="$img" ;;
    esac
  done < <(sed -nE 's/^FROM[[:space:]]+(--platform=[^[:space:]]+[[:space:]]+)?([^[:space:]]+).*/\2/Ip' "$DOCKERFILE")
fi
PHASES="${PHASES:-packages config smoke base runtime_deps sdk runtime postgres web}"
FORCE="${FORCE:-0}"
NUGET_CACHE="${NUGET_CACHE:-0}"
IMAGES="$WORK/images"

log() { printf '\n== %s\n' "$*" >&2; }
have_image() { [ "$FORCE" != 1 ] && podman image exists "$1"; }
APT_SOURCES="deb $MIRROR $SUITE main\ndeb $MIRROR $SUITE-updates main\ndeb ${MIRROR%/debian}/debian-security $SUITE-security main\n"

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
mkdir -p "$WORK" "$IMAGES"

phase_packages() {
  # dnsname: the CNI plugin that lets containers of a compose network find each other by service
  # name (without it: "unknown host 'postgres'"); podman 4.3 on Debian 12 uses CNI, not netavark.
  local pkgs=(podman buildah runc crun catatonit conmon fuse-overlayfs slirp4netns uidmap debootstrap podman-compose
              golang-github-containernetworking-plugin-dnsname)
  if dpkg-query -W -f='${Status}\n' "${pkgs[@]}" 2>/dev/null | grep -vq 'install ok installed' \
     || [ "$(dpkg-query -W -f='${Status}\n' "${pkgs[@]}" 2>/dev/null | wc -l)" -ne "${#pkgs[@]}" ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}"
  else
    echo "packages already installed"
  fi
}

phase_config() {
  local nofile nproc pidmax conf=/etc/containers/containers.conf
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu); pidmax=$(cat /proc/sys/kernel/pid_max)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] && nproc=$pidmax
  [ "$nproc" -gt "$pidmax" ] && nproc=$pidmax
  mkdir -p /etc/containers
  if [ -f "$conf" ] && ! grep -q 'container-env.sh' "$conf" && [ ! -f "$conf.orig" ]; then cp "$conf" "$conf.orig"; fi
  cat > "$conf" <<EOF
# written by container-env.sh (see its header for why)
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  cat "$conf"
}

phase_smoke() {
  if ! podman image exists "$BASE_IMAGE"; then phase_base; fi
  podman run --rm "$BASE_IMAGE" sh -c 'echo "container ok: $(uname -r), nofile $(ulimit -n)"'
  podman run --rm --network host "$BASE_IMAGE" true && echo "host network ok"
  buildah --isolation chroot --help >/dev/null 2>&1 || true
}

phase_base() {
  if have_image "$BASE_IMAGE"; then echo "$BASE_IMAGE exists"; return; fi
  if [ ! -x "$BASE_ROOTFS/bin/sh" ]; then
    rm -rf "$BASE_ROOTFS"
    debootstrap --variant=minbase "$SUITE" "$BASE_ROOTFS" "$MIRROR"
  fi
  printf '%b' "$APT_SOURCES" > "$BASE_ROOTFS/etc/apt/sources.list"
  rm -rf "$BASE_ROOTFS"/var/lib/apt/lists/* "$BASE_ROOTFS"/var/cache/apt/archives/*.deb
  tar -C "$BASE_ROOTFS" --numeric-owner -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE"
}

phase_runtime_deps() {
  if have_image "$RUNTIME_DEPS_IMAGE"; then echo "$RUNTIME_DEPS_IMAGE exists"; return; fi
  mkdir -p "$IMAGES/runtime-deps"
  cat > "$IMAGES/runtime-deps/Containerfile" <<EOF
# Stand-in for $RUNTIME_DEPS_IMAGE on Debian $SUITE (the real image is Ubuntu noble):
# the same package set under Debian names and the same non-root "app" user (uid 1654).
FROM $BASE_IMAGE
RUN printf '$APT_SOURCES' > /etc/apt/sources.list \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      ca-certificates libc6 libgcc-s1 libicu72 libssl3 libstdc++6 tzdata zlib1g \\
 && rm -rf /var/lib/apt/lists/*
ENV APP_UID=1654 \\
    ASPNETCORE_HTTP_PORTS=8080 \\
    DOTNET_RUNNING_IN_CONTAINER=true
RUN groupadd --gid=\$APP_UID app && useradd --no-log-init --uid=\$APP_UID --gid=\$APP_UID --create-home app
EOF
  podman build --pull=never -t "$RUNTIME_DEPS_IMAGE" "$IMAGES/runtime-deps"
}

phase_sdk() {
  if have_image "$SDK_IMAGE"; then echo "$SDK_IMAGE exists"; return; fi
  local dotnet_root ctr sdkver
  dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  sdkver=$(dotnet --version)
  podman image exists "$RUNTIME_DEPS_IMAGE" || phase_runtime_deps
  buildah rm sdk-standin-build >/dev/null 2>&1 || true
  ctr=$(buildah from --pull-never --name sdk-standin-build "$RUNTIME_DEPS_IMAGE")
  buildah run "$ctr" -- sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends curl git libatomic1 wget >/dev/null && rm -rf /var/lib/apt/lists/*'
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    buildah copy "$ctr" /usr/local/share/ca-certificates/ /usr/local/share/ca-certificates/ >/dev/null
    buildah run "$ctr" -- update-ca-certificates
  fi
  buildah copy "$ctr" "$dotnet_root" /usr/share/dotnet >/dev/null
  buildah run "$ctr" -- ln -sf /usr/share/dotnet/dotnet /usr/bin/dotnet
  if [ "$NUGET_CACHE" = 1 ] && [ -d "$HOME/.nuget/packages" ]; then
    buildah copy "$ctr" "$HOME/.nuget/packages" /root/.nuget/packages >/dev/null
  fi
  buildah config --user root --workingdir / \
    --env DOTNET_GENERATE_ASPNET_CERTIFICATE=false --env DOTNET_NOLOGO=true \
    --env DOTNET_USE_POLLING_FILE_WATCHER=true --env NUGET_XMLDOC_MODE=skip \
    --env DOTNET_SDK_VERSION="$sdkver" --env NUGET_CERT_REVOCATION_MODE=offline \
    --label "standin.note=host SDK $sdkver on Debian $SUITE, not the real $SDK_IMAGE" "$ctr"
  buildah commit --rm "$ctr" "$SDK_IMAGE"
}

# The real image (dotnet-docker's src/runtime/<version>/noble): runtime-deps, the runtime in
# /usr/share/dotnet (where an apphost looks when DOTNET_ROOT is unset), /usr/bin/dotnet linking
# to its muxer, ENV DOTNET_VERSION. Here the runtime is the SDK stand-in's, whatever the tag says:
# DOTNET_VERSION and the label standin.note say which.
phase_runtime() {
  if have_image "$RUNTIME_IMAGE"; then echo "$RUNTIME_IMAGE exists"; return; fi
  local version
  podman image exists "$SDK_IMAGE" || phase_sdk
  version=$(podman run --rm --entrypoint ls "$SDK_IMAGE" /usr/share/dotnet/shared/Microsoft.NETCore.App | sort -V | tail -n 1)
  [ -n "$version" ] || { echo "no .NET runtime in $SDK_IMAGE" >&2; exit 1; }
  mkdir -p "$IMAGES/runtime"
  cat > "$IMAGES/runtime/Containerfile" <<EOF
# Stand-in for $RUNTIME_IMAGE: $RUNTIME_DEPS_IMAGE plus the .NET runtime $version of $SDK_IMAGE.
FROM $SDK_IMAGE AS sdk
FROM $RUNTIME_DEPS_IMAGE
ENV DOTNET_VERSION=$version
COPY --from=sdk /usr/share/dotnet/dotnet /usr/share/dotnet/LICENSE.txt /usr/share/dotnet/ThirdPartyNotices.txt /usr/share/dotnet/
COPY --from=sdk /usr/share/dotnet/host/fxr/ /usr/share/dotnet/host/fxr/
COPY --from=sdk /usr/share/dotnet/shared/Microsoft.NETCore.App/$version/ /usr/share/dotnet/shared/Microsoft.NETCore.App/$version/
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
LABEL standin.note="the .NET runtime $version of $SDK_IMAGE on Debian $SUITE, not the real $RUNTIME_IMAGE"
EOF
  podman build --pull=never -t "$RUNTIME_IMAGE" "$IMAGES/runtime"
}

phase_postgres() {
  # standin.revision: a stand-in built by an older version of this script (without *_FILE) is rebuilt.
  if have_image "$POSTGRES_IMAGE" \
     && [ "$(podman image inspect --format '{{ index .Labels "standin.revision" }}' "$POSTGRES_IMAGE")" = 2 ]; then
    echo "$POSTGRES_IMAGE exists"; return
  fi
  mkdir -p "$IMAGES/postgres"
  cat > "$IMAGES/postgres/docker-entrypoint.sh" <<'EOF'
#!/bin/bash
# Minimal stand-in for the official postgres entrypoint: POSTGRES_USER/PASSWORD/DB on first start.
set -euo pipefail
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql && chown -R postgres:postgres "$PGDATA" /var/run/postgresql && chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
# VAR_FILE=path: the value read from a file (compose/Kubernetes secrets), as the official image does.
for var in POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB; do
  file_var="${var}_FILE"
  if [ -n "${!file_var:-}" ]; then
    [ -z "${!var:-}" ] || { echo "both $var and $file_var are set" >&2; exit 1; }
    export "$var"="$(< "${!file_var}")"
  fi
done
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  u="${POSTGRES_USER:-postgres}"; db="${POSTGRES_DB:-$u}"
  pw="$(mktemp)"; printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > "$pw"
  initdb -D "$PGDATA" -U "$u" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null; rm -f "$pw"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    psql -U "$u" -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "postgres stand-in: initialised $PGDATA (user $u, database $db)"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
EOF
  chmod 755 "$IMAGES/postgres/docker-entrypoint.sh"
  cat > "$IMAGES/postgres/Containerfile" <<EOF
# Stand-in for $POSTGRES_IMAGE: Debian's postgresql-15 (a 15.x, not exactly the tag's version).
FROM $BASE_IMAGE
RUN printf '$APT_SOURCES' > /etc/apt/sources.list \\
 && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/
STOPSIGNAL SIGINT
LABEL standin.revision=2
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD []
EOF
  podman build --pull=never -t "$POSTGRES_IMAGE" "$IMAGES/postgres"
}

phase_web() {   # placeholder for the compose file's web service (the real image is not reachable)
  if have_image "$WEB_IMAGE"; then echo "$WEB_IMAGE exists"; return; fi
  printf 'FROM %s\nCMD ["sleep","infinity"]\n' "$BASE_IMAGE" > "$IMAGES/web.Containerfile"
  podman build --pull=never -t "$WEB_IMAGE" -f "$IMAGES/web.Containerfile" "$IMAGES"
}

total_start=$SECONDS
for p in $PHASES; do
  log "phase $p"
  start=$SECONDS
  "phase_$p"
  printf '== phase %s: %d s\n' "$p" $((SECONDS - start)) | tee -a "$WORK/timings.log" >&2
done
printf '== all phases: %d s\n' $((SECONDS - total_start)) | tee -a "$WORK/timings.log" >&2
podman images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "$(printf '%s|' "$BASE_IMAGE" "$RUNTIME_DEPS_IMAGE" "$SDK_IMAGE" "$RUNTIME_IMAGE" "$POSTGRES_IMAGE" "$WEB_IMAGE" | sed 's/|$//; s/\./\\./g')" || true
