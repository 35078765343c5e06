"""Run every benchmark in one process and print the figures as Markdown tables (`make bench`).

1. Salesforce requests per task, cold and warm (``requests_per_task``)
2. import time and modules pulled in, fresh interpreters (``import_cost``)
3. per-call overhead of the ``get_conn()`` client vs a bare simple-salesforce client (``call_overhead``)
4. token requests of N parallel tasks over one session lifetime (``parallel_tokens``)

Everything runs against the built-in Salesforce emulator, with a throwaway Airflow home (SQLite metadata DB)
that is deleted at the end. The comparison target, apache-airflow-providers-salesforce, is installed on first
use into a folder of the venv (see ``bench/_env.py``). Usage: ``python bench/run_all.py [--output FILE] [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _env
from bench._table import Table


def environment_table(seconds: dict[str, float]) -> Table:
    """Versions, CPU count and how long each benchmark took."""
    table = Table("Environment", ["Item", "Value"])
    table.add("Date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"))
    for name, version in _env.versions().items():
        table.add(name, version)
    table.add("Metadata DB", "SQLite (temporary AIRFLOW_HOME)")
    for name, spent in seconds.items():
        table.add(f"Runtime: {name}", f"{spent:.1f} s")
    return table


def _timed(name: str, seconds: dict[str, float], make: Callable[[], Table]) -> Table:
    print(f"running {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    table = make()
    seconds[name] = time.perf_counter() - started
    print(table.to_markdown(), flush=True)
    return table


def main(argv: list[str] | None = None) -> int:
    """Set up, run the four benchmarks, print (and optionally save) the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="also write the Markdown tables to this file")
    parser.add_argument("--import-runs", type=int, default=5, help="fresh interpreters per import target")
    parser.add_argument("--calls", type=int, default=1000, help="calls per client in benchmark 3")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in about half a minute: small counts, no comparison provider "
                        "(the figures are not for publishing; tests/test_bench.py runs it)")
    args = parser.parse_args(argv)
    if args.quick:
        args.import_runs, args.calls = 1, 100

    started = time.perf_counter()
    _env.prepare_airflow_home()
    community = not args.quick and _env.ensure_compared_provider()
    _env.migrate_db()
    from bench import call_overhead, import_cost, parallel_tokens, requests_per_task

    seconds: dict[str, float] = {"setup (metadata DB)": time.perf_counter() - started}
    tables: list[Table] = []
    try:
        tables.append(_timed("1. requests per task", seconds,
                             lambda: requests_per_task.run(runs=2 if args.quick else 5, with_community=community)))
        tables.append(_timed("2. import cost", seconds,
                             lambda: import_cost.run(runs=args.import_runs, with_community=community)))
        tables.append(_timed("3. call overhead", seconds,
                             lambda: call_overhead.run(calls=args.calls, rounds=1 if args.quick else 3)))
        if args.quick:
            tables.append(_timed("4. parallel tokens", seconds, lambda: parallel_tokens.run(
                tasks_list=(4,), lifetime=2, window=3.0, with_community=False)))
        else:
            tables.append(_timed("4. parallel tokens", seconds,
                                 lambda: parallel_tokens.run(with_community=community)))
    finally:
        _env.cleanup()
    seconds["total"] = time.perf_counter() - started
    env = environment_table(seconds)
    print(env.to_markdown())
    if args.output:
        args.output.write_text("\n".join(t.to_markdown() for t in [env, *tables]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
