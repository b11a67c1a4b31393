"""The loaders on real files: page numbers from PDFs, heading paths from DOCX and Markdown, text in
its encodings, and one clear reason for each file refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_rag_testing.samples import BAD_REASONS, GOOD_TEXT, write_bad_files, write_good_corpus

from fleet_rag.loaders import LoaderError, load_document


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


def test_latin1_text_is_decoded(tmp_path: Path) -> None:
    """Not UTF-8: the charset is detected, as document tools do."""
    path = tmp_path / "cafe.txt"
    text = "Le café de la gare ouvre à sept heures; crème brûlée le dimanche. Très apprécié.\n"
    path.write_bytes((text * 3).encode("latin-1"))
    (section,) = load_document(path, path.name, 10**6)
    assert section.text.startswith("Le café de la gare ouvre à sept heures")


def test_utf16_text_with_its_byte_order_mark_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes("Turbine notes: grease the bearings.\n".encode("utf-16"))
    (section,) = load_document(path, path.name, 10**6)
    assert section.text.strip() == "Turbine notes: grease the bearings."


def test_markdown_of_headings_only_is_indexed_by_its_titles(tmp_path: Path) -> None:
    path = tmp_path / "outline.md"
    path.write_text("# Station manual\n\n## Docking procedure\n## Airlock checklist\n")
    sections = load_document(path, path.name, 10**6)
    assert [(s.heading, s.text) for s in sections] == [
        ("Station manual", "Station manual"),
        ("Station manual > Docking procedure", "Docking procedure"),
        ("Station manual > Airlock checklist", "Airlock checklist"),
    ]
    whole = path.read_text()
    assert all(whole[s.start : s.start + len(s.text)] == s.text for s in sections)


def test_a_damaged_pdf_gets_one_reason_and_no_library_warnings(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("hello, this is not a PDF at all\n")
    with pytest.raises(LoaderError, match="corrupt PDF"):
        load_document(path, path.name, 10**6)
    captured = capfd.readouterr()
    assert "pdf header" not in captured.err + captured.out
    assert "EOF marker" not in captured.err + captured.out
