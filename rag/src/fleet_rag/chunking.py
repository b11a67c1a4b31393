"""Semantic chunking: split on structure first (sections, paragraphs, sentences, words), then
pack consecutive pieces up to a token budget, carrying an overlap into the next chunk.

Chunk ids hash the source and the chunk's text (with its ordinal), so re-ingesting an unchanged
file yields the same ids and an edited file yields new ones that replace the old."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator

from fleet_rag.documents import Chunk, Metadata, Section

TOKEN = re.compile(r"\w+|[^\w\s]")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
WORD = re.compile(r"\S+\s*")

Span = tuple[int, int]  # [start, end) within a section's text


def count_tokens(text: str) -> int:
    """A fast, model-independent token estimate (words and punctuation marks)."""
    return len(TOKEN.findall(text))


def _spans(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[Span]:
    """Split text[start:end] at pattern's matches, keeping separators with the left piece."""
    spans, cursor = [], start
    for match in pattern.finditer(text, start, end):
        if match.start() > cursor:
            spans.append((cursor, match.end()))
            cursor = match.end()
    if cursor < end:
        spans.append((cursor, end))
    return spans


def _units(text: str, budget: int) -> Iterator[tuple[Span, int]]:
    """Pieces no larger than the budget, coarsest first: paragraphs, sentences, word runs."""
    for paragraph in _spans(PARAGRAPH_BREAK, text, 0, len(text)):
        size = count_tokens(text[paragraph[0] : paragraph[1]])
        if size <= budget:
            yield paragraph, size
            continue
        for sentence in _spans(SENTENCE_END, text, *paragraph):
            size = count_tokens(text[sentence[0] : sentence[1]])
            if size <= budget:
                yield sentence, size
                continue
            run_start, run_size = sentence[0], 0
            for word in WORD.finditer(text, *sentence):
                word_size = count_tokens(word.group())
                if run_size and run_size + word_size > budget:
                    yield (run_start, word.start()), run_size
                    run_start, run_size = word.start(), 0
                run_size += word_size
            if run_size:
                yield (run_start, sentence[1]), run_size


def _pack(units: Iterable[tuple[Span, int]], budget: int, overlap: int) -> Iterator[Span]:
    window: list[tuple[Span, int]] = []
    size = 0
    fresh = False  # the window holds units not yet emitted in a chunk
    for unit in units:
        if window and size + unit[1] > budget:
            if fresh:
                yield window[0][0][0], window[-1][0][1]
            # Keep trailing units worth at most `overlap` tokens as the next chunk's context.
            kept: list[tuple[Span, int]] = []
            kept_size = 0
            for old in reversed(window):
                if kept_size + old[1] > overlap or kept_size + old[1] + unit[1] > budget:
                    break
                kept.insert(0, old)
                kept_size += old[1]
            window, size = kept, kept_size
        window.append(unit)
        size += unit[1]
        fresh = True
    if window and fresh:
        yield window[0][0][0], window[-1][0][1]


def chunk_sections(
    sections: Iterable[Section], budget: int, overlap: int, file_sha256: str
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in sections:
        for start, end in _pack(_units(section.text, budget), budget, overlap):
            text = section.text[start:end].strip()
            if not text:
                continue
            metadata: Metadata = {
                "source": section.source,
                "start": section.start + start,
                "end": section.start + end,
                "chunk": len(chunks),
                "file_sha256": file_sha256,
            }
            if section.page is not None:
                metadata["page"] = section.page
            if section.heading:
                metadata["heading"] = section.heading
            digest = hashlib.sha256(f"{section.source}\0{len(chunks)}\0{text}".encode()).hexdigest()
            chunks.append(Chunk(id=digest[:32], text=text, metadata=metadata))
    for chunk in chunks:  # lets a re-ingestion see that a chunk has gone from the index
        chunk.metadata["file_chunks"] = len(chunks)
    return chunks
