#!/usr/bin/env bash
# deploy/stage-pgclient.sh: the Dockerfile's pgclient stage. Puts the PostgreSQL client programs
# the backups need (pg_dump, pg_restore, and psql, which restore runs pg_restore's script through) of the TARGET architecture, and the shared libraries they
# need that the runtime image lacks, into a root tree the runtime stage copies as it is:
#
#   OUT/usr/lib/postgresql/<major>/bin/{pg_dump,pg_restore,psql}   the distribution's binaries
#   OUT/usr/lib/<triplet>/...                                 libpq and the libraries it needs
#   OUT/usr/local/bin/{pg_dump,pg_restore,psql}               links to them, on PATH
#   OUT/usr/local/bin/jq                                      the distribution's jq, for the deploy
#                                                             job's script (ci-migrate.sh reads the
#                                                             runner's JSON with it)
#
#   TARGETARCH=arm64 bash deploy/stage-pgclient.sh OUT        (as root, in the runtime base image)
#
# Nothing of the target's packages runs: apt downloads them, dpkg-deb unpacks them. So the stage
# runs on the build machine's platform and an arm64 image needs no emulation. It must run in the
# runtime base image (of the build machine's architecture): "what the runtime lacks" is "what is
# not installed here", as both architectures of a base image tag carry the same package set, and
# the packages come from the runtime's own distribution, built against exactly its libraries.
#
# The client is the newest postgresql-client-<major> of the distribution's archive (Ubuntu noble:
# 16; Debian bookworm, the local stand-in: 15): pg_dump backs up servers up to its own major.
set -euo pipefail

out="${1:?usage: TARGETARCH=amd64|arm64 stage-pgclient.sh OUT}"
arch="${TARGETARCH:?TARGETARCH is empty: build with BuildKit (docker buildx build) or podman build}"
# The oldest client worth shipping: the servers the runner is tested on (README, "Backups and restore").
min_major=15
native="$(dpkg --print-architecture)"
# shellcheck disable=SC1091 # the base image's
. /etc/os-release

if [ "$arch" != "$native" ]; then
  dpkg --add-architecture "$arch"
  # Debian serves every architecture from the same mirror. Ubuntu does not: amd64 (and i386) are
  # on archive.ubuntu.com, the others on ports.ubuntu.com; so the base image's sources keep to
  # its own architecture and the target's archive is added for the target's.
  if [ "${ID:-}" = ubuntu ]; then
    case "$arch" in
      amd64 | i386) mirror=http://archive.ubuntu.com/ubuntu ;;
      *) mirror=http://ports.ubuntu.com/ubuntu-ports ;;
    esac
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && sed -i "/^Types:/a Architectures: $native" "$f"
    done
    [ ! -f /etc/apt/sources.list ] || sed -i -E -e "s/^deb[[:space:]]+\[/deb [arch=$native /" \
      -e "s/^deb[[:space:]]+([^[[:space:]])/deb [arch=$native] \1/" /etc/apt/sources.list
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates %s-security\nComponents: main universe\nArchitectures: %s\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n' \
      "$mirror" "$VERSION_CODENAME" "$VERSION_CODENAME" "$VERSION_CODENAME" "$arch" >/etc/apt/sources.list.d/pgclient-target.sources
  fi
fi
apt-get update -q >/dev/null

major="$(apt-cache pkgnames postgresql-client- | sed -nE 's/^postgresql-client-([0-9]+)$/\1/p' | sort -n | tail -n 1)"
if [ -z "$major" ] || [ "$major" -lt "$min_major" ] || ! apt-cache show "postgresql-client-$major:$arch" >/dev/null 2>&1; then
  echo "stage-pgclient: no postgresql-client-$min_major or newer for $arch in ${PRETTY_NAME:-this distribution}'s archive (newest: '${major:-none}')" >&2
  exit 1
fi

# The client package and the closure of its library dependencies (Depends, Pre-Depends; the first
# of alternatives) minus what is installed: shared libraries only — postgresql-client-common is
# Debian's perl wrapper, not needed when the runner names the binaries.
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
# jq: in Ubuntu's universe (Debian's main), hence the target's archive above lists universe too.
queue=("postgresql-client-$major" jq)
wanted=()
while [ "${#queue[@]}" -gt 0 ]; do
  pkg="${queue[0]}"
  queue=("${queue[@]:1}")
  wanted+=("$pkg")
  while read -r dep; do
    dep="${dep%%:*}"
    # psql links libreadline (its line editing), so it is staged too.
    case "$dep" in lib*) ;; *) continue ;; esac
    installed "$dep" && continue
    case " ${wanted[*]} ${queue[*]} " in *" $dep "*) continue ;; esac
    queue+=("$dep")
  done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$pkg:$arch" \
             | awk '/^ *\|?(Pre)?Depends:/ { if (!alt) print $2; alt = ($1 ~ /^\|/) }')
done

debs="$(mktemp -d)"
root="$(mktemp -d)"
chmod 0755 "$debs"
chown _apt "$debs" 2>/dev/null || true # apt downloads as its _apt user where it can
(cd "$debs" && apt-get download -q "${wanted[@]/%/:$arch}" >/dev/null)
for deb in "$debs"/*.deb; do
  dpkg-deb -x "$deb" "$root"
  printf 'stage-pgclient: %s\n' "$(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')"
done

bin="/usr/lib/postgresql/$major/bin"
mkdir -p "$out$bin" "$out/usr/lib" "$out/usr/local/bin"
for program in pg_dump pg_restore psql; do
  cp -a "$root$bin/$program" "$out$bin/"
  ln -s "$bin/$program" "$out/usr/local/bin/$program"
done
cp -a "$root/usr/bin/jq" "$out/usr/local/bin/jq"
# The libraries, under /usr/lib whether a package ships them in /lib or /usr/lib (the runtime
# image's /lib is a link to usr/lib: a copied /lib directory would replace it). Only the
# architecture's directory: the client's own files (docs, translations, the wrapper's links)
# stay out.
for dir in "$root"/lib/*-linux-gnu* "$root"/usr/lib/*-linux-gnu*; do
  [ -d "$dir" ] && cp -a "$dir" "$out/usr/lib/"
done
rm -rf "$debs" "$root" /var/lib/apt/lists/*
# Built for this machine's own architecture, the binaries can be checked here: every library
# they need is in the base or was just staged (a dependency the closure above missed, such as one
# met only through a virtual package, stops the build instead of every backup).
if [ "$arch" = "$native" ]; then
  libdir="$(find "$out/usr/lib" -name libpq.so.5 -printf '%h\n' | head -n 1)"
  missing="$(LD_LIBRARY_PATH="$libdir" ldd "$out$bin/pg_dump" "$out$bin/pg_restore" "$out$bin/psql" "$out/usr/local/bin/jq" | grep 'not found' || true)"
  if [ -n "$missing" ]; then
    printf 'stage-pgclient: libraries missing:\n%s\n' "$missing" >&2
    exit 1
  fi
fi
du -sh "$out" | sed 's/^/stage-pgclient: size /'
