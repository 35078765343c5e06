"""Benchmark 2: import time and modules pulled in, each measured in a fresh interpreter (median of runs).

Each run starts ``python -c PROBE``: the probe times ``import airflow.sdk``, then the target (a module, or a DAG
file executed as Airflow's DAG processor would load it), and reports both times, the module counts and whether
simple_salesforce, requests_oauthlib, zeep and pandas got imported. Targets run interleaved, one of each per
round, after one unmeasured interpreter that imports them all (it writes the bytecode caches). The baseline row
(``import airflow.sdk`` alone) is the first step of every probe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _env
from bench._table import Table, median, ms

HEAVY = ("simple_salesforce", "requests_oauthlib", "zeep", "pandas")

PROBE = """
import importlib, importlib.util, json, sys, time
targets = sys.argv[1:]
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
base = len(sys.modules)
for n, target in enumerate(targets):
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location(f"bench_dag_file_{n}", target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        importlib.import_module(target)
t2 = time.perf_counter()
print(json.dumps({"sdk": t1 - t0, "added": t2 - t1, "total": t2 - t0, "modules": len(sys.modules),
                  "added_modules": len(sys.modules) - base,
                  "heavy": [m for m in HEAVY_NAMES if m in sys.modules]}))
""".replace("HEAVY_NAMES", repr(HEAVY))


def targets(with_community: bool) -> list[tuple[str, str]]:
    """(label, target) pairs: a module name or a DAG file path."""
    found = [
        ("`airflow_provider_sf360.hooks.sf360`", "airflow_provider_sf360.hooks.sf360"),
        ("DAG file `example_dags/sf360_sync.py`", str(_env.REPO_DIR / "example_dags" / "sf360_sync.py")),
        ("DAG file `example_dags/sf360_connectivity_check.py`",
         str(_env.REPO_DIR / "example_dags" / "sf360_connectivity_check.py")),
    ]
    if with_community:
        found.append(("community `airflow.providers.salesforce.hooks.salesforce`",
                      "airflow.providers.salesforce.hooks.salesforce"))
    return found


@dataclass(frozen=True)
class Sample:
    """One probe's figures."""

    sdk: float
    added: float
    total: float
    modules: int
    added_modules: int
    heavy: tuple[str, ...]


def probe(*target: str) -> Sample:
    """One fresh interpreter importing ``airflow.sdk`` then the targets."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *target], capture_output=True, text=True, check=False,
        cwd=_env.REPO_DIR, env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    if result.returncode != 0:
        raise RuntimeError(f"import probe for {target!r} failed:\n{result.stderr[-2000:]}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return Sample(float(data["sdk"]), float(data["added"]), float(data["total"]), int(data["modules"]),
                  int(data["added_modules"]), tuple(data["heavy"]))


def _flags(heavy: tuple[str, ...]) -> list[str]:
    return ["yes" if name in heavy else "no" for name in HEAVY]


def run(runs: int = 5, with_community: bool = True) -> Table:
    """Median import cost per target over ``runs`` interleaved rounds."""
    chosen = targets(with_community)
    samples: dict[str, list[Sample]] = {label: [] for label, _ in chosen}
    probe(*(target for _, target in chosen))  # writes the bytecode caches; not measured
    for _ in range(runs):
        for label, target in chosen:
            samples[label].append(probe(target))
    table = Table(
        f"2. Import cost in a fresh interpreter (median of {runs} runs)",
        ["Import", "Total ms (incl. `airflow.sdk`)", "Added on top of `airflow.sdk` ms", "Modules loaded",
         "Modules added", *HEAVY],
    )
    every = [sample for rows in samples.values() for sample in rows]
    table.add("`import airflow.sdk` alone (baseline, in every probe)", ms(median([s.sdk for s in every])), "-",
              round(median([s.modules - s.added_modules for s in every])), "-", *_flags(()))
    for label, _ in chosen:
        rows = samples[label]
        table.add(label, ms(median([r.total for r in rows])), ms(median([r.added for r in rows])),
                  round(median([r.modules for r in rows])), round(median([r.added_modules for r in rows])),
                  *_flags(rows[-1].heavy))
    table.notes += [
        "Times are measured inside the interpreter (Python's own start-up excluded). Totals swing with machine "
        "load (other test runs share the 2 cores); the added time is the steadier figure.",
        "DAG files are executed with `importlib` from their path (as the DAG processor loads them), which also "
        "builds the DAG objects.",
    ]
    return table


if __name__ == "__main__":
    _env.prepare_airflow_home()
    have_community = _env.ensure_compared_provider()
    try:
        print(run(runs=int(sys.argv[1]) if len(sys.argv) > 1 else 5, with_community=have_community).to_markdown())
    finally:
        _env.cleanup()
