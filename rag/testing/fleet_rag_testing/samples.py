"""Sample documents, good and bad, written by the tests themselves."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

GOOD_TEXT = {
    "pdf_page1": "The Aurora reactor cooling loop uses heavy water at 40 degrees Celsius.",
    "pdf_page2": "Maintenance of the Aurora turbine happens every ninety days on Sundays.",
    "docx": "The Borealis telescope mirror is polished with cerium oxide twice a year.",
    "md": "Penguins in the Zephyr colony eat krill and small silver fish every morning.",
    "txt": "The Quasar bakery opens at six and sells rye bread with caraway seeds.",
}


def write_pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    encrypt = None
    if password:
        from reportlab.lib import pdfencrypt

        encrypt = pdfencrypt.StandardEncryption(password, canPrint=0)
    pdf = canvas.Canvas(str(path), pagesize=A4, encrypt=encrypt)
    for text in pages:
        pdf.drawString(72, 750, text)
        pdf.showPage()
    pdf.save()
    return path


def write_docx(path: Path, heading: str, body: str) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Observatory handbook", level=1)
    document.add_paragraph("General notes for visitors.")
    document.add_heading(heading, level=2)
    document.add_paragraph(body)
    document.save(str(path))
    return path


def write_good_corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / "zephyr.md"
    md.write_text(f"# Zephyr colony\n\nOverview of the birds.\n\n## Diet\n\n{GOOD_TEXT['md']}\n")
    txt = folder / "quasar.txt"
    txt.write_text(GOOD_TEXT["txt"] + "\n")
    return {
        "pdf": write_pdf(folder / "aurora.pdf", [GOOD_TEXT["pdf_page1"], GOOD_TEXT["pdf_page2"]]),
        "docx": write_docx(folder / "borealis.docx", "Mirror care", GOOD_TEXT["docx"]),
        "md": md,
        "txt": txt,
    }


# The reason the loaders give for each bad sample (the keys of write_bad_files).
BAD_REASONS = (
    "corrupt PDF",
    "encrypted PDF",
    "broken DOCX",
    "empty file",
    "unsupported file type",
    "over the",
)


def write_bad_files(folder: Path) -> dict[str, Path]:
    """One file per way a document can be bad, keyed by the reason the loader must give."""
    folder.mkdir(parents=True, exist_ok=True)
    corrupt = folder / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n")
    broken_docx = folder / "broken.docx"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    broken_docx.write_bytes(buffer.getvalue()[:40])
    empty = folder / "empty.txt"
    empty.write_bytes(b"")
    unsupported = folder / "table.xlsx"
    unsupported.write_bytes(b"PK\x03\x04 spreadsheet")
    oversized = folder / "huge.txt"
    oversized.write_text("word " * 50_000)
    return {
        "corrupt PDF": corrupt,
        "encrypted PDF": write_pdf(folder / "secret.pdf", ["classified"], password="s3cret"),
        "broken DOCX": broken_docx,
        "empty file": empty,
        "unsupported file type": unsupported,
        "over the": oversized,
    }
