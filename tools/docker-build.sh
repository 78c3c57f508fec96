#!/usr/bin/env bash
# Builds the Dockerfile's image on a machine where the build itself reaches neither Docker
# Hub nor PyPI (CI's: only the host's own configuration reaches PyPI, through a proxy that
# containers do not trust). Nothing here changes the image a user builds:
#
# - the base is the official python:3.11-slim-bookworm when it can be pulled, else a local
#   Debian bookworm made by tools/docker-local-base.sh (kept, and reused next time);
# - the Python packages are downloaded before the build, by the base's own pip lent the
#   host's CA bundle (PIP_CERT), into a wheelhouse that a server on the host's loopback
#   offers to the build as its PIP_INDEX_URL (`--network host`). The image gets no CA.
#
#   tools/docker-build.sh [TAG]          (default minicommerce:ci)
set -euo pipefail
cd "$(dirname "$0")/.."

tag="${1:-minicommerce:ci}"
official=python:3.11-slim-bookworm
local_base=minicommerce-ci-base:bookworm
python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python3
started=$SECONDS

if docker image inspect "$official" >/dev/null 2>&1; then
  base=$official
elif pulled=$(docker pull --quiet "$official" 2>&1); then
  base=$official
else
  echo "docker-build: $official cannot be pulled (${pulled//$'\n'/ }); using $local_base"
  base=$local_base
  if ! docker image inspect "$local_base" >/dev/null 2>&1; then
    tools/docker-local-base.sh "$local_base"
    echo "docker-build: base image made in $((SECONDS - started)) s"
  fi
fi

work="$(mktemp -d)"
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The wheels are chosen by the base's own pip and Python (environment markers depend on
# the exact version: Debian's 3.11.2 needs packages that a newer 3.11 does not), in a
# throwaway container of the base that is lent the host's CA bundle for that run only:
# the server extra, and the build backend that the image's install builds with.
ca="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
read -r -a build_requires < <("$python" -c \
  'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"])')
mkdir "$work/files"
wheels_started=$SECONDS
docker run --rm --network host \
  --volume "$ca:/run/host-ca.crt:ro" --env PIP_CERT=/run/host-ca.crt \
  --volume "$PWD:/src:ro" --volume "$work/files:/wheels" \
  --env PIP_DISABLE_PIP_VERSION_CHECK=1 --env PIP_NO_CACHE_DIR=1 \
  "$base" sh -ec 'python3 -m venv /tmp/pip
    /tmp/pip/bin/pip download --quiet --only-binary=:all: --dest /wheels "$@"' \
  sh "/src[server]" "${build_requires[@]}"

# A PEP 503 "simple" index of the wheelhouse: /simple/<project>/ links to its files.
"$python" - "$work" <<'PYTHON'
import re
import sys
from pathlib import Path

root = Path(sys.argv[1])
projects: dict[str, list[str]] = {}
for wheel in sorted((root / "files").glob("*.whl")):
    name = re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()
    projects.setdefault(name, []).append(wheel.name)
for name, files in projects.items():
    page = root / "simple" / name / "index.html"
    page.parent.mkdir(parents=True)
    links = "".join(f'<a href="../../files/{f}">{f}</a>\n' for f in files)
    page.write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
PYTHON
echo "docker-build: wheelhouse of $(find "$work/files" -name '*.whl' | wc -l) wheels" \
  "in $((SECONDS - wheels_started)) s"

"$python" -u -m http.server 0 --bind 127.0.0.1 --directory "$work" >"$work/server.log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 50); do
  port=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p' "$work/server.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "docker-build: the wheelhouse server did not start" >&2; exit 1; }

previous="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
build_started=$SECONDS
if ! docker build --network host --force-rm --tag "$tag" \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "PIP_INDEX_URL=http://127.0.0.1:$port/simple" \
  . >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "docker-build: docker build failed" >&2
  exit 1
fi
echo "docker-build: $tag on $base built in $((SECONDS - build_started)) s" \
  "($((SECONDS - started)) s in all)"
# The image this one replaces, unless something still uses it: CI builds on every run.
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$tag")" ]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
