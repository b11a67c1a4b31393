"""Chunking: chunks within the token budget, split on structure first and on words last, overlap
carrying context forward, offsets pointing back into the document, ids stable and following
content."""

from __future__ import annotations

import itertools

from fleet_rag.chunking import chunk_sections, count_tokens
from fleet_rag.documents import Section

PARAGRAPHS = [
    " ".join(f"Sentence {p}.{s} talks about topic {p} in some detail." for s in range(6))
    for p in range(8)
]
TEXT = "\n\n".join(PARAGRAPHS)


def sections(text: str = TEXT) -> list[Section]:
    return [Section(text=text, source="doc.md", start=100, heading="Guide")]


def test_chunks_respect_the_token_budget() -> None:
    chunks = chunk_sections(sections(), budget=60, overlap=10, file_sha256="x")
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 60 for c in chunks)


def test_chunks_split_on_structure_first() -> None:
    chunks = chunk_sections(sections(), budget=200, overlap=0, file_sha256="x")
    # A paragraph fits the budget: no chunk starts or ends in the middle of one.
    for chunk in chunks:
        assert chunk.text.startswith("Sentence ") and chunk.text.endswith("detail.")
    assert "\n\n".join(c.text for c in chunks) == TEXT


def test_overlap_carries_context_into_the_next_chunk() -> None:
    chunks = chunk_sections(sections(), budget=60, overlap=20, file_sha256="x")
    pairs = list(itertools.pairwise(chunks))
    overlapping = [b for a, b in pairs if int(b.metadata["start"]) < int(a.metadata["end"])]
    assert len(overlapping) >= len(pairs) // 2
    for chunk in overlapping:  # the shared part is whole sentences, within the overlap budget
        assert chunk.text.startswith("Sentence ")
    none = chunk_sections(sections(), budget=60, overlap=0, file_sha256="x")
    assert all(
        int(b.metadata["start"]) >= int(a.metadata["end"]) for a, b in itertools.pairwise(none)
    )


def test_offsets_point_back_into_the_document() -> None:
    chunks = chunk_sections(sections(), budget=60, overlap=10, file_sha256="x")
    for chunk in chunks:
        start, end = int(chunk.metadata["start"]) - 100, int(chunk.metadata["end"]) - 100
        assert chunk.text in TEXT[start:end]
        assert chunk.metadata["heading"] == "Guide" and chunk.metadata["source"] == "doc.md"


def test_ids_are_stable_and_follow_content() -> None:
    first = chunk_sections(sections(), budget=60, overlap=10, file_sha256="x")
    again = chunk_sections(sections(), budget=60, overlap=10, file_sha256="x")
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    edited = chunk_sections(sections(TEXT.replace("topic 7", "topic seven")), 60, 10, "y")
    assert {c.id for c in edited} != {c.id for c in first}
    assert {c.id for c in edited} & {c.id for c in first}  # untouched chunks keep their ids


def test_a_giant_sentence_is_split_on_words() -> None:
    text = " ".join(["word"] * 500)
    chunks = chunk_sections(sections(text), budget=50, overlap=0, file_sha256="x")
    assert all(count_tokens(c.text) <= 50 for c in chunks)
    assert sum(count_tokens(c.text) for c in chunks) == 500
