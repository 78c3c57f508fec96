# The minicommerce server: `docker build -t minicommerce .` at the repository root.
# deploy/compose.yaml runs it as several instances behind nginx (docs/deploy.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

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
