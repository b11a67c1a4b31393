"""A generated part of a hand-written page, between two markers: rewritten by its maintenance
script, held equal by a test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def rewritten(text: str, begin: str, end: str, body: str) -> str:
    start, stop = text.index(begin), text.index(end) + len(end)
    return text[:start] + "\n".join([begin, "", body.rstrip(), "", end]) + text[stop:]


def cli(doc: Path, begin: str, end: str, render: Callable[[], str], argv: list[str]) -> int:
    """Rewrite the part (or, with --check, exit 1 when it is out of date)."""
    text = doc.read_text()
    fresh = rewritten(text, begin, end, render())
    if "--check" in argv:
        if fresh != text:
            print(f"out of date: {doc} (run the script that writes it: {begin})")
            return 1
        return 0
    doc.write_text(fresh)
    return 0
