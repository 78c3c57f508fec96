# The minicommerce server: `docker build -t minicommerce .` at the repository root.
# deploy/compose.yaml runs it as several instances behind nginx (docs/deploy.md).
#
# The base is the official Python image. Any Debian bookworm with python3 and
# python3-venv works too (--build-arg BASE_IMAGE=...): CI builds on one made with
# debootstrap where Docker Hub cannot be reached (tools/docker-local-base.sh).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

# The server lives in its own virtual environment, first on PATH: `minicommerce` and
# `python` (the HEALTHCHECK's) are the environment's whatever the base, and pip never
# touches the system's Python (Debian's refuses it: PEP 668).
ENV VIRTUAL_ENV=/opt/minicommerce \
    PATH=/opt/minicommerce/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/minicommerce

# The package index: PyPI, unless a mirror is given (--build-arg
# PIP_INDEX_URL=https://mirror.example/simple; tools/docker-build.sh gives a wheelhouse
# served by the host). A build argument, so it is not left in the image's environment.
ARG PIP_INDEX_URL

# The server extra brings everything the settings can name: psycopg (binary wheels, no
# compiler needed), redis, Pillow, granian. Sources are dropped after the install.
COPY pyproject.toml README.md /tmp/minicommerce/
COPY src /tmp/minicommerce/src
RUN pip install "/tmp/minicommerce[server]" && rm -rf /tmp/minicommerce

# Never root: a user without a login shell, owning only its media directory.
RUN useradd --system --uid 10001 --create-home --home-dir /srv/minicommerce \
        --shell /usr/sbin/nologin minicommerce \
    && mkdir -p /srv/media && chown minicommerce /srv/media
USER minicommerce
WORKDIR /srv/minicommerce
ENV MINICOMMERCE_MEDIA_DIR=/srv/media

EXPOSE 8000
# Liveness only (the process answers); /ready, which also asks the database and Redis,
# is for a load balancer's or an orchestrator's readiness checks.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]

# Settings come from MINICOMMERCE_* variables (docs/settings.md). Run
# `minicommerce db upgrade` against the primary before starting a new version.
CMD ["minicommerce", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
