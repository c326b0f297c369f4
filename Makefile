# Set-up and checks. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
AIRFLOW_VENV := .venv-airflow
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: install airflow demo test lint format bench clean

$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[ml,dev]"
	touch $(STAMP)

install: $(STAMP)

# Apache Airflow in its own environment (its pins clash with the project's); the DAGs run
# each pipeline step in .venv through @task.external_python.
$(AIRFLOW_VENV)/.installed: requirements/airflow-constraints.txt dags/setup-airflow.sh
	PYTHON=$(PYTHON) AIRFLOW_VENV=$(AIRFLOW_VENV) dags/setup-airflow.sh

airflow: $(AIRFLOW_VENV)/.installed

demo: install
	$(BIN)/health-advisor demo

lint: install
	$(BIN)/ruff check src tests bench dags deploy
	$(BIN)/ruff format --check src tests bench dags deploy
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench dags deploy
	$(BIN)/ruff format src tests bench dags deploy

# Runs against SQLite always, and against PostgreSQL too when 127.0.0.1:5432 answers.
test: install lint airflow
	@if $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then \
		echo "PostgreSQL answers: the suite runs on SQLite and PostgreSQL"; \
		export HEALTH_ADVISOR_TEST_POSTGRES_URL=$${HEALTH_ADVISOR_TEST_POSTGRES_URL:-$(PG_URL)}; \
	else echo "PostgreSQL does not answer: the suite runs on SQLite only"; fi; \
	$(BIN)/pytest -n 2 --durations=15 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) var .pytest_cache .mypy_cache .ruff_cache
