"""`make dist`'s last step: the sdist holds every file of the checkout, the wheel every file of the package.

Usage: python compat/check_dist.py DIST_DIR. Compares the sdist with ``git ls-files`` (skipped outside a git
checkout) and the wheel with the package folder, then prints the figures: wheel size, files in the sdist.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "airflow_provider_sf360"
NOT_SHIPPED = {".gitignore"}  # checkout files the sdist need not carry


def tracked_files() -> set[str] | None:
    try:
        listing = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return {name for name in listing.stdout.splitlines() if (REPO / name).is_file()} - NOT_SHIPPED


def main(dist: Path) -> int:
    (sdist,), (wheel,) = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    with tarfile.open(sdist) as archive:
        in_sdist = {m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile()}
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    problems = []
    tracked = tracked_files()
    if tracked is not None and tracked - in_sdist:
        problems.append(f"files of the checkout missing from the sdist (MANIFEST.in): {sorted(tracked - in_sdist)}")
    package_files = {str(p.relative_to(REPO)) for p in (REPO / PACKAGE).rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts}
    if package_files - in_wheel:
        problems.append(f"package files missing from the wheel (package-data): {sorted(package_files - in_wheel)}")
    if any("__pycache__" in name or name.endswith(".pyc") for name in in_sdist | in_wheel):
        problems.append("compiled Python files were packaged")
    for problem in problems:
        print(f"make dist: {problem}")
    print(f"wheel: {wheel.name}, {wheel.stat().st_size:,} bytes, {len(in_wheel)} files; "
          f"sdist: {sdist.name}, {sdist.stat().st_size:,} bytes, {len(in_sdist)} files"
          + ("" if tracked is not None else " (not a git checkout: sdist completeness not checked)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
