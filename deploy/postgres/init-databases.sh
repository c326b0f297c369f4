#!/bin/sh
# Runs once, when the postgres volume is first initialised: one role and one database per
# service, each role owning only its own database (the superuser stays with the operator).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v ha_password="$HEALTH_ADVISOR_DB_PASSWORD" -v af_password="$AIRFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE health_advisor LOGIN PASSWORD :'ha_password';
CREATE DATABASE health_advisor OWNER health_advisor;
REVOKE ALL ON DATABASE health_advisor FROM PUBLIC;
CREATE ROLE airflow LOGIN PASSWORD :'af_password';
CREATE DATABASE airflow OWNER airflow;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
SQL
