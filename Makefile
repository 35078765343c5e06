# Two set-up commands that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
AIRFLOW_VERSION ?= 3.3.2
# What `make demo` needs (Airflow and the provider) and what the tests need on top (test and release tools).
DEMO_STAMP := $(VENV)/.installed-demo-$(AIRFLOW_VERSION)
TEST_STAMP := $(VENV)/.installed-test-$(AIRFLOW_VERSION)
FAST_TESTS := -m "not browser and not scale and not slow"

.PHONY: venv demo-venv lint typecheck test test-fast demo bench bench-page compat wheel-smoke dist scale clean

# uv (from PyPI) installs Airflow's ~150 packages in seconds where pip takes a minute.
$(UV):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv

$(DEMO_STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(PY) "apache-airflow==$(AIRFLOW_VERSION)" -e .
	@touch $@

$(TEST_STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(PY) "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test,release]"
	@# The MariaDB lock test's drivers, where mysqlclient can be built (Debian: libmariadb-dev python3-dev).
	@if pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null; then \
		$(UV) pip install --quiet --python $(PY) -e ".[mysql]"; else echo "no libmariadb-dev: MariaDB lock test skipped"; fi
	@touch $(DEMO_STAMP) $@

demo-venv: $(DEMO_STAMP)

venv: $(TEST_STAMP)

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy

# --durations: CI's log shows where the time goes (keep .ci/run under 25 minutes).
test: lint typecheck
	$(VENV)/bin/pytest --durations=30

# Every test not marked browser, scale or slow (pyproject [tool.pytest.ini_options] markers): the inner loop, under
# 90 s on two cores. Prints the wall-clock time.
test-fast: venv
	@start=$$(date +%s); $(VENV)/bin/pytest -q $(FAST_TESTS); status=$$?; \
		echo "make test-fast: $$(( $$(date +%s) - start )) s"; exit $$status

demo: demo-venv
	$(PY) scripts/demo.py

# The distributed runs alone (PostgreSQL, scheduler, dag-processor, api-server; LocalExecutor with cold pods, Celery
# with Redis and two worker hosts in the split api-server layout, Edge with two hosts without the metadata DB, the
# credential lock on PostgreSQL and MariaDB); also in `make test`. Only one: PYTEST_ARGS="-k celery" (or edge, ...).
scale: venv
	SF360_REQUIRE_SCALE=1 nice $(VENV)/bin/pytest tests/scale -m scale -q -rA $(PYTEST_ARGS)

# Benchmarks against the emulator (figures recorded in docs/benchmarks.md).
bench: venv
	$(PY) bench/run_all.py

# The Salesforce 360 page with 500 connections: server render, browser render, search (bench/page_render.py).
bench-page: venv
	$(PY) bench/page_render.py

# The wheel and the sdist in dist/, checked by twine; fails on any build warning (the log is dist/build.log).
dist: venv
	@rm -rf dist build && mkdir -p dist
	@env -u PYTHONDONTWRITEBYTECODE $(PY) -m build --outdir dist . > dist/build.log 2>&1 \
		|| { cat dist/build.log; echo "make dist: the build failed"; exit 1; }
	@if grep -inE 'warning|deprecat' dist/build.log; then echo "make dist: the build printed warnings"; exit 1; fi
	$(VENV)/bin/twine check --strict dist/*.whl dist/*.tar.gz
	@rm -rf build
	$(PY) compat/check_dist.py dist

# The built wheel, installed (not editable) into a clean venv per Airflow release we claim, outside the checkout:
# registration, form metadata, the emulator's serve, a dag.test() and make demo's lifecycle (also in CI).
WHEEL_AIRFLOW_VERSIONS ?= 3.3.0 3.3.2
wheel-smoke: dist
	PYTHON=$(PYTHON) compat/wheel_smoke.sh dist/*.whl $(WHEEL_AIRFLOW_VERSIONS)

# The same job on the oldest Airflow release we claim only.
COMPAT_AIRFLOW ?= 3.3.0
compat: dist
	PYTHON=$(PYTHON) compat/wheel_smoke.sh dist/*.whl $(COMPAT_AIRFLOW)

clean:
	rm -rf $(VENV) .venv-compat .demo test-artifacts dist build
