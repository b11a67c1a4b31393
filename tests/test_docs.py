"""The documentation a reader follows: README.md a front door (at most 200 lines), every relative
link in it, in docs/ and in the other READMEs resolving, and the generated parts - terraform's
inputs and outputs, the test files and what they prove - equal to what they are generated from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import pytest

from fleetlib.paths import REPO
from maintenance import terraform_docs, test_index
from maintenance.generated import rewritten

PAGES = sorted(
    [
        REPO / "README.md",
        *(REPO / "docs").glob("*.md"),
        REPO / "lab" / "README.md",
        REPO / "benchmarks" / "README.md",
        REPO / "rag" / "README.md",
        *(REPO / "roles").glob("*/README.md"),
    ]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_is_a_front_door() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", t)]
    broken = [t for t in targets if not (page.parent / t.split("#")[0]).exists()]
    assert broken == []


class Generated(Protocol):
    """A maintenance script that writes a part of a page."""

    DOC: Path
    BEGIN: str
    END: str

    def render(self) -> str: ...


GENERATED: dict[str, Generated] = {
    "maintenance.terraform_docs": terraform_docs,
    "maintenance.test_index": test_index,
}


@pytest.mark.parametrize("script", sorted(GENERATED))
def test_a_generated_part_is_up_to_date(script: str) -> None:
    part = GENERATED[script]
    text = part.DOC.read_text()
    assert rewritten(text, part.BEGIN, part.END, part.render()) == text, f"run `python -m {script}`"
