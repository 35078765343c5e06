"""Every relative link in the README, the changelog and docs/ points at a file of the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_resolve() -> None:
    broken = []
    for document in [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            external = "://" in target or target.startswith("mailto:")
            if not external and not (document.parent / target).exists():
                broken.append(f"{document.relative_to(REPO)} -> {target}")
    assert not broken, broken
