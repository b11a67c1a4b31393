"""One home for each helper: no two test files share a name (pytest and a reader would confuse
them), and the repository root is defined in one place (lab.config.REPO)."""

from __future__ import annotations

import re
from collections import Counter

from lab.config import REPO

SKIP = {".venv", ".venv-rag", ".venv-checkov", ".cache", ".git", "artifacts"}


def project_files(pattern: str) -> list[str]:
    return [
        str(path.relative_to(REPO))
        for path in REPO.rglob(pattern)
        if not SKIP.intersection(path.relative_to(REPO).parts)
    ]


def test_no_two_test_files_share_a_name() -> None:
    names = Counter(path.rsplit("/", 1)[-1] for path in project_files("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []


def test_the_repository_root_is_defined_once_per_python_project() -> None:
    root = re.compile(r"^\s*REPO\s*=", re.MULTILINE)
    defined = sorted(p for p in project_files("*.py") if root.search((REPO / p).read_text()))
    # The controller's packages (lab.config) and fleet-rag's own tests, a project of its own.
    assert defined == ["lab/config.py", "rag/tests/servers.py"]
