#!/usr/bin/env bash
# Puts a Docker Compose v2 binary in DIR (default: a new temporary directory) and prints
# its path, for CI's `docker compose config` check (tests/fleet/test_deploy.py). Debian
# bookworm's docker-compose is the retired Python v1; trixie's is v2, built by Debian from
# docker/compose, one static Go program that runs on bookworm (it needs libc6 >= 2.34).
# It is only unpacked, never installed: apt's lists and cache for trixie are kept apart
# from the system's, and nothing of the machine's package state changes.
#
#   tools/compose-v2.sh [DIR]
set -euo pipefail

dir="${1:-$(mktemp -d)}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
state="$(mktemp -d)"
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$dir"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
  >"$state/sources.list"
apt_options=(
  -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
  -o APT::Sandbox::User=root
)
apt-get -qq "${apt_options[@]}" update
(cd "$state" && apt-get -qq "${apt_options[@]}" download docker-compose)
dpkg-deb --extract "$state"/docker-compose_*.deb "$state/root"
# The package puts it where the docker CLI looks for plugins; it also runs by itself.
binary="$(find "$state/root" -type f -name docker-compose -perm -u+x | head -n 1)"
[ -n "$binary" ] || { echo "compose-v2: no docker-compose in the package" >&2; exit 1; }
install -m 0755 "$binary" "$dir/docker-compose"
"$dir/docker-compose" version >&2
echo "$dir/docker-compose"
