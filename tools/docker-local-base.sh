#!/usr/bin/env bash
# A stand-in for the Dockerfile's base image (python:3.11-slim-bookworm) on a machine that
# cannot pull from Docker Hub but reaches a Debian mirror: Debian bookworm (debootstrap's
# minbase) with Debian's own Python 3.11, venv and CA certificates, imported as one layer.
# CI uses it only when the official image cannot be pulled (tools/docker-build.sh); it is
# not what users run. Needs root and debootstrap.
#
#   tools/docker-local-base.sh [TAG]      (default minicommerce-ci-base:bookworm)
#   DEBIAN_MIRROR=http://mirror/debian tools/docker-local-base.sh
set -euo pipefail

tag="${1:-minicommerce-ci-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d /var/tmp/mc-base-XXXXXX)"

cleanup() {
  # debootstrap mounts /proc and /sys inside the tree; never delete through a mount.
  findmnt -rno TARGET | grep "^$root/" | sort -r | xargs -r umount -l || true
  if findmnt -rno TARGET | grep -q "^$root/"; then
    echo "docker-local-base: $root still has mounts; left in place" >&2
  else
    rm -rf "$root"
  fi
}
trap cleanup EXIT

debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" "$mirror"
# The official image's Debian layer has the point release's security updates; so does this.
security="${mirror%/debian}/debian-security"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
chroot "$root" apt-get -qq update
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -qq -y upgrade
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
if findmnt -rno TARGET | grep -q "^$root/"; then
  echo "docker-local-base: something is still mounted in $root" >&2
  exit 1
fi

# What the official image sets too: a UTF-8 locale, and a PATH (an imported image has none,
# and a Dockerfile's ENV PATH=...:$PATH would otherwise lose the system directories).
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$tag" >/dev/null
echo "docker-local-base: $tag ($(docker image inspect --format '{{.Size}}' "$tag") bytes)"
