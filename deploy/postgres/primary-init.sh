#!/usr/bin/env bash
# Runs once, when the primary's data directory is created (the postgres image's
# /docker-entrypoint-initdb.d): a replication role for the replica, and the session
# defaults that connections through PgBouncer cannot set at connect time.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
-- The server asks for these per connection (libpq options); PgBouncer drops such
-- options, so the role carries them too. Migrations connect directly and set their own.
ALTER ROLE minicommerce SET timezone = 'UTC';
ALTER ROLE minicommerce SET statement_timeout = '10s';
SQL

echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
