"""Run the distributed scale test by hand and print its figures as Markdown tables (for docs/scale.md).

    .venv/bin/python scale/run_scale.py --minutes 3            # rotation run, revocation run, recovery run
    .venv/bin/python scale/run_scale.py --minutes 1 --no-revocation
    .venv/bin/python scale/run_scale.py --celery --minutes 0.67  # two Celery hosts (needs redis-server)
    .venv/bin/python scale/run_scale.py --celery --split --minutes 0.5  # the same, core and execution api-servers
    .venv/bin/python scale/run_scale.py --edge --minutes 0.33    # two Edge hosts without the metadata DB
    .venv/bin/python scale/run_scale.py --cold-pods 1,8,32 --parallelism 32  # machine-token grants of cold pods

Needs PostgreSQL's binaries (Debian: ``apt-get install -y postgresql``); starts and stops everything itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scale.celery_stack import celery_run, celery_world
from scale.cold_pods import cold_pods_run
from scale.edge_stack import edge_world
from scale.harness import postgres_bin_dir
from scale.scenarios import revocation_run, rotation_run, table
from scale.two_hosts import two_host_run, wiring_check_run
from scale.worlds import scale_world


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0, help="how long each task calls Salesforce")
    parser.add_argument("--tasks", type=int, default=32, help="mapped tasks")
    parser.add_argument("--parallelism", type=int, default=16, help="[core] parallelism (LocalExecutor)")
    parser.add_argument("--session-timeout", type=int, default=20, help="emulator session timeout, seconds")
    parser.add_argument("--no-revocation", action="store_true", help="skip the revocation and recovery runs")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, DB) afterwards")
    parser.add_argument("--celery", action="store_true",
                        help="the CeleryExecutor run instead (two worker hosts, 8 slots each)")
    parser.add_argument("--renewal", choices=("auto", "api_server", "local"), default="auto",
                        help="--celery only: [sf360] renewal on the workers ('local' is the negative control: "
                             "tasks renew by themselves, no lock spans the hosts)")
    parser.add_argument("--split", action="store_true",
                        help="--celery only: --apps core and --apps execution api-servers, then the negative check")
    parser.add_argument("--edge", action="store_true", help="the EdgeExecutor run instead (two hosts, no DB)")
    parser.add_argument("--cold-pods", default="", metavar="N,N,...",
                        help="only the cold-pods runs on the LocalExecutor stack, e.g. 1,8,32")
    args = parser.parse_args(argv)
    pg_bin = postgres_bin_dir()
    if pg_bin is None:
        print("PostgreSQL binaries not found: apt-get install -y postgresql", file=sys.stderr)
        return 2
    started = time.monotonic()
    if args.celery:
        return _celery(pg_bin, args, started)
    if args.edge:
        return _edge(pg_bin, args, started)
    if args.cold_pods:
        return _cold_pods(pg_bin, args, started)
    failures: list[str] = []
    with scale_world(pg_bin, args.parallelism, args.session_timeout, keep=args.keep) as world:
        print(f"stack ready in {time.monotonic() - started:.1f} s (work dir {world.work_dir})", flush=True)
        rotation = rotation_run(world, args.tasks, args.minutes * 60)
        print(table("Rotation run", rotation.as_dict()), "\n", flush=True)
        failures += rotation.problems()
        if not args.no_revocation:
            revocation = revocation_run(world, args.tasks, seconds=max(240.0, args.minutes * 120))
            print(table("Revocation run", revocation.as_dict()), "\n", flush=True)
            failures += revocation.problems()
            setup = world.stack.helper("setup")
            print(f"set up again: ok={setup.get('ok')} status={setup.get('status')}", flush=True)
            recovery = rotation_run(world, args.tasks, 30)
            print(table("Run after setting up again", recovery.as_dict()), "\n", flush=True)
            failures += recovery.problems()
    verdict = "FAILED: " + "; ".join(failures) if failures else "PASS"
    print(f"total wall time {time.monotonic() - started:.1f} s; {verdict}")
    return 1 if failures else 0


def _celery(pg_bin: Path, args: argparse.Namespace, started: float) -> int:
    workers = {"AIRFLOW__SF360__RENEWAL": args.renewal}
    with celery_world(pg_bin, session_timeout=args.session_timeout, keep=args.keep, worker_settings=workers,
                      split_api_servers=args.split) as world:
        print(f"stack ready in {time.monotonic() - started:.1f} s (work dir {world.world.work_dir})", flush=True)
        figures = celery_run(world, args.tasks, args.minutes * 60)
        print(table("Celery run", figures.as_dict()), "\n", flush=True)
        failures = figures.problems()
        if args.split:
            wiring = wiring_check_run(world)
            print(table("Split layout, no [sf360] api_server_url", wiring.as_dict()), "\n", flush=True)
            failures += wiring.problems()
    return _verdict(failures, started)


def _edge(pg_bin: Path, args: argparse.Namespace, started: float) -> int:
    with edge_world(pg_bin, session_timeout=args.session_timeout, keep=args.keep) as world:
        print(f"stack ready in {time.monotonic() - started:.1f} s (work dir {world.world.work_dir})", flush=True)
        figures = two_host_run(world, args.tasks, args.minutes * 60)
        print(table("Edge run", figures.as_dict()), "\n", flush=True)
    return _verdict(figures.problems(), started)


def _cold_pods(pg_bin: Path, args: argparse.Namespace, started: float) -> int:
    failures: list[str] = []
    with scale_world(pg_bin, args.parallelism, args.session_timeout, keep=args.keep) as world:
        for pods in (int(n) for n in args.cold_pods.split(",")):
            figures = cold_pods_run(world, pods)
            print(table(f"Cold pods: {pods}", figures.as_dict()), "\n", flush=True)
            failures += figures.problems()
    return _verdict(failures, started)


def _verdict(failures: list[str], started: float) -> int:
    verdict = "FAILED: " + "; ".join(failures) if failures else "PASS"
    print(f"total wall time {time.monotonic() - started:.1f} s; {verdict}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
