from __future__ import annotations

from pathlib import Path

import pytest

from fleet_rag.loaders import LoaderError, load_document
from tests.samples import BAD_REASONS, GOOD_TEXT, write_bad_files, write_good_corpus


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Path]:
    return write_good_corpus(tmp_path / "docs")


def test_pdf_keeps_page_numbers(corpus: dict[str, Path]) -> None:
    sections = load_document(corpus["pdf"], "aurora.pdf", 10**6)
    assert [s.page for s in sections] == [1, 2]
    assert GOOD_TEXT["pdf_page2"] in sections[1].text
    assert sections[1].start > sections[0].start


def test_docx_keeps_heading_path(corpus: dict[str, Path]) -> None:
    sections = load_document(corpus["docx"], "borealis.docx", 10**6)
    by_heading = {s.heading: s.text for s in sections}
    assert GOOD_TEXT["docx"] in by_heading["Observatory handbook > Mirror care"]


def test_markdown_keeps_heading_path_and_offsets(corpus: dict[str, Path]) -> None:
    sections = load_document(corpus["md"], "zephyr.md", 10**6)
    diet = next(s for s in sections if s.heading == "Zephyr colony > Diet")
    assert GOOD_TEXT["md"] in diet.text
    whole = corpus["md"].read_text()
    assert whole[diet.start : diet.start + len(diet.text)] == diet.text


def test_plain_text(corpus: dict[str, Path]) -> None:
    (section,) = load_document(corpus["txt"], "quasar.txt", 10**6)
    assert section.text.strip() == GOOD_TEXT["txt"] and section.start == 0


@pytest.mark.parametrize("reason", BAD_REASONS)
def test_bad_files_get_a_clear_reason(tmp_path: Path, reason: str) -> None:
    path = write_bad_files(tmp_path / "bad")[reason]
    with pytest.raises(LoaderError, match=reason):
        load_document(path, path.name, max_bytes=100_000)


def test_binary_data_in_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(b"abc\x00\x01\x02")
    with pytest.raises(LoaderError, match="binary data"):
        load_document(path, path.name, 10**6)
