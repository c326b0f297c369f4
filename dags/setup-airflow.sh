#!/usr/bin/env bash
# Creates .venv-airflow: Apache Airflow 3 in its own environment, pinned by
# requirements/airflow-constraints.txt (a pip freeze of a working one; everything from PyPI).
#
# Airflow pins FastAPI, Starlette, SQLAlchemy, pydantic and more to versions that clash
# with the project's lock (requirements/constraints.txt), so the two never share an
# environment: the DAGs run each pipeline step in the project's .venv through
# @task.external_python. Nothing of the project is installed here.
#
#   dags/setup-airflow.sh            # idempotent: a complete environment is left alone
#   PYTHON=python3.11 dags/setup-airflow.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${AIRFLOW_VENV:-.venv-airflow}
CONSTRAINTS=requirements/airflow-constraints.txt
STAMP=$VENV/.installed
AIRFLOW_VERSION=$(sed -n 's/^apache-airflow==//p' "$CONSTRAINTS")

if [ -f "$STAMP" ] && [ "$STAMP" -nt "$CONSTRAINTS" ]; then
	echo "$VENV is up to date (Apache Airflow $AIRFLOW_VERSION)"
	exit 0
fi
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24"
"$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" "apache-airflow==$AIRFLOW_VERSION"
"$VENV/bin/python" -c "import airflow.sdk" # fails loudly on a broken install
touch "$STAMP"
echo "$VENV ready: Apache Airflow $AIRFLOW_VERSION"
