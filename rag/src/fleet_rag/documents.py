"""The data that flows through ingestion: sections of loaded documents, and chunks."""

from __future__ import annotations

from dataclasses import dataclass

Metadata = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class Section:
    """A structural piece of a document (a PDF page, a Markdown or DOCX heading's body)."""

    text: str
    source: str
    start: int  # character offset of text within the whole document
    page: int | None = None
    heading: str | None = None

    @property
    def location(self) -> str:
        if self.page is not None:
            return f"page {self.page}"
        return self.heading or ""


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    metadata: Metadata


def cite(metadata: Metadata) -> str:
    """How an answer names a chunk's source: `file (page 3)` or `file (Heading > Sub)`."""
    source = str(metadata.get("source", "?"))
    if "page" in metadata:
        return f"{source} (page {metadata['page']})"
    if metadata.get("heading"):
        return f"{source} ({metadata['heading']})"
    return source
