"""Loaders for PDF, DOCX, Markdown and plain text. Each returns sections with their source
metadata, or raises LoaderError with a clear, per-file reason; none touches the index."""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fleet_rag.documents import Section

SUPPORTED = (".pdf", ".docx", ".md", ".markdown", ".txt", ".text")


# A line of a structured document: (heading level or None, its text, the line as written).
Block = tuple[int | None, str, str]


class LoaderError(Exception):
    """A file that cannot be ingested, and why (shown to the user as is)."""


def load_document(path: Path, source: str, max_bytes: int) -> list[Section]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise LoaderError(
            f"unsupported file type {suffix or '(none)'!r}; supported: {', '.join(SUPPORTED)}"
        )
    size = path.stat().st_size
    if size == 0:
        raise LoaderError("empty file")
    if size > max_bytes:
        raise LoaderError(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    sections = LOADERS[suffix](path, source)
    if not any(section.text.strip() for section in sections):
        raise LoaderError("no text could be extracted (a scanned or image-only document?)")
    return [s for s in sections if s.text.strip()]


def load_pdf(path: Path, source: str) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        with _quiet("pypdf"):  # its warnings would be printed above the per-file report
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise LoaderError("encrypted PDF: it needs a password")
            pages = [page.extract_text() or "" for page in reader.pages]
    except LoaderError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AssertionError) as exc:
        raise LoaderError(f"corrupt PDF: {exc}") from None
    except Exception as exc:  # pypdf raises bare exceptions on some damaged files
        if "crypt" in type(exc).__name__.lower() or "password" in str(exc).lower():
            raise LoaderError("encrypted PDF: it needs a password") from None
        raise LoaderError(f"corrupt PDF: {type(exc).__name__}: {exc}") from None
    sections, offset = [], 0
    for number, text in enumerate(pages, start=1):
        sections.append(Section(text=text, source=source, start=offset, page=number))
        offset += len(text) + 1
    return sections


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Hold a library's warnings back: a damaged file gets one clear reason, not its log."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR + 10)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_docx(path: Path, source: str) -> list[Section]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoaderError(f"broken DOCX (not a readable Word document): {exc}") from None
    blocks: list[Block] = []
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        match = re.match(r"Heading (\d)", style or "")
        level = int(match.group(1)) if match else (1 if style == "Title" else None)
        blocks.append((level, paragraph.text, paragraph.text))
    for table in document.tables:
        for row in table.rows:
            line = " | ".join(cell.text for cell in row.cells)
            blocks.append((None, line, line))
    return _sections_from_blocks(blocks, source)


MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def load_markdown(path: Path, source: str) -> list[Section]:
    blocks: list[Block] = []
    in_fence = False
    for line in _read_text(path).splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else MD_HEADING.match(line)
        if match:
            blocks.append((len(match.group(1)), match.group(2), line))
        else:
            blocks.append((None, line, line))
    return _sections_from_blocks(blocks, source)


def load_text(path: Path, source: str) -> list[Section]:
    return [Section(text=_read_text(path), source=source, start=0)]


def _read_text(path: Path) -> str:
    """UTF-8 (with or without a byte-order mark), else the charset detected as document tools
    do it (charset-normalizer: Latin-1, Windows-1252, UTF-16 ...)."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its byte-order mark
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:8192]:
        raise LoaderError("binary data in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        position = exc.start
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise LoaderError(f"not text in any known encoding (byte {position} is not UTF-8)")
    # Short Western text often reads equally well in several code pages: between equals, take
    # Windows-1252, the fallback browsers use for it (it covers Latin-1).
    best = matches[0]
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    chosen = next((m for m in tied if m.encoding in WESTERN), best)
    return str(chosen)


WESTERN = ("cp1252", "latin_1", "iso8859_15")


def _sections_from_blocks(blocks: list[Block], source: str) -> list[Section]:
    """Group lines under their heading path ("Guide > Install"); a heading opens a section.
    A document of headings alone (an outline) is indexed by its titles. Offsets count the
    document's own lines (a Markdown heading with its #s)."""
    sections: list[Section] = []
    titles: list[Section] = []
    trail: list[tuple[int, str]] = []
    lines: list[str] = []
    offset = start = 0

    def close() -> None:
        heading = " > ".join(title for _, title in trail) or None
        if any(line.strip() for line in lines):
            sections.append(Section("\n".join(lines), source, start, heading=heading))

    for level, text, raw in blocks:
        if level is not None:
            close()
            trail = [(lvl, title) for lvl, title in trail if lvl < level] + [(level, text)]
            titles.append(
                Section(
                    text,
                    source,
                    offset + max(raw.find(text), 0),
                    heading=" > ".join(title for _, title in trail),
                )
            )
            lines, start = [], offset + len(raw) + 1
        else:
            lines.append(text)
        offset += len(raw) + 1
    close()
    return sections or [t for t in titles if t.text.strip()]


LOADERS: dict[str, Callable[[Path, str], list[Section]]] = {
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
}
