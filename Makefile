# Two set-up commands that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
AIRFLOW_VERSION ?= 3.3.2
STAMP := $(VENV)/.installed-$(AIRFLOW_VERSION)

.PHONY: venv lint typecheck test test-fast demo bench bench-page compat wheel-smoke dist scale clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)" -e ".[test,release]"
	@rm -f $(VENV)/.installed-*
	@touch $@

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

# Every test not marked browser, scale or slow (pyproject [tool.pytest.ini_options] markers): under 90 s on two
# cores. Prints the wall-clock time.
test-fast: venv
	@start=$$(date +%s); $(VENV)/bin/pytest -q -m "not browser and not scale and not slow"; status=$$?; \
		echo "make test-fast: $$(( $$(date +%s) - start )) s"; exit $$status

demo: venv
	$(PY) scripts/demo.py

# The distributed runs alone (PostgreSQL, scheduler, dag-processor, api-server; LocalExecutor, then CeleryExecutor
# with Redis and two worker hosts); also in `make test`. Only the Celery run: add PYTEST_ARGS="-k celery".
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
