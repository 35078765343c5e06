# Two set-up commands that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
AIRFLOW_VERSION ?= 3.3.2
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)

.PHONY: venv lint typecheck test test-fast demo bench compat scale clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test]"
	@rm -f $(VENV)/.installed-*
	@touch $@

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

test-fast: venv
	$(VENV)/bin/pytest -x -q tests/core tests/emulator

demo: venv
	$(PY) scripts/demo.py

# The distributed run alone (PostgreSQL, scheduler, dag-processor, api-server, LocalExecutor); also in `make test`.
scale: venv
	SF360_REQUIRE_SCALE=1 $(VENV)/bin/pytest tests/scale -m scale -q -rA

# Benchmarks against the emulator (figures recorded in docs/benchmarks.md).
bench: venv
	$(PY) bench/run_all.py

# Smoke job on the oldest Airflow release we claim (registration, form metadata, one dag.test()).
COMPAT_AIRFLOW ?= 3.3.0
COMPAT_VENV ?= .venv-compat
compat:
	@test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COMPAT_VENV)/bin/python -m pip install --quiet "apache-airflow==$(COMPAT_AIRFLOW)" -e .
	$(COMPAT_VENV)/bin/python compat/smoke.py

clean:
	rm -rf $(VENV) $(COMPAT_VENV) .demo test-artifacts
