"""Every test file and what it proves (its module docstring), as the table in docs/testing.md
between its markers (tests/test_docs.py holds it equal).

python -m maintenance.test_index          # rewrite the table
python -m maintenance.test_index --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import ast
import sys

from fleetlib.paths import REPO
from maintenance.generated import cli

DOC = REPO / "docs" / "testing.md"
BEGIN = "<!-- BEGIN test files: `python -m maintenance.test_index` writes this part -->"
END = "<!-- END test files -->"
# Where the test files are, and which run (the Makefile's targets).
ROOTS = {
    "tests": "`make pytest`",
    "rag/tests": "`make rag-test`",
    "roles": "`make molecule-roles` (each role's scenario)",
    "molecule/default/tests": "`make molecule-stack` (the whole stack on the lab)",
}


def proves(path: str) -> str:
    doc = ast.get_docstring(ast.parse((REPO / path).read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")


def render() -> str:
    lines: list[str] = []
    for root, runner in ROOTS.items():
        files = sorted(
            str(p.relative_to(REPO))
            for p in (REPO / root).rglob("test_*.py")
            if ".venv" not in p.parts and (root != "roles" or "molecule" in p.parts)
        )
        lines += [f"### {root}/ - {runner}", "", "| File | What it proves |", "| --- | --- |"]
        lines += [f"| [`{f.removeprefix(root + '/')}`](../{f}) | {proves(f)} |" for f in files]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(cli(DOC, BEGIN, END, render, sys.argv[1:]))
