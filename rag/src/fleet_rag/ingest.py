"""Ingest files: load, chunk, embed, store. Unchanged files are skipped; a file that fails
leaves the index exactly as it was."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fleet_rag.chunking import chunk_sections
from fleet_rag.embeddings import Embedder
from fleet_rag.loaders import LoaderError, load_document
from fleet_rag.settings import Settings
from fleet_rag.store import Store


@dataclass
class FileResult:
    source: str
    status: str  # "added", "replaced", "unchanged" or "failed"
    chunks: int = 0
    removed: int = 0
    reason: str = ""


@dataclass
class Summary:
    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def chunks(self) -> int:
        return sum(f.chunks for f in self.files if f.status in ("added", "replaced"))

    @property
    def changed(self) -> bool:
        return any(f.status in ("added", "replaced") for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [asdict(f) for f in self.files],
            "added": self.count("added"),
            "replaced": self.count("replaced"),
            "unchanged": self.count("unchanged"),
            "failed": self.count("failed"),
            "chunks": self.chunks,
            "changed": self.changed,
        }


def expand(paths: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """Files to ingest with their source names: a file's own name, or its path inside a folder."""
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if not any(part.startswith(".") for part in file.relative_to(path).parts):
                    yield file, str(file.relative_to(path))
        else:
            yield path, path.name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_file(
    path: Path, source: str, store: Store, embedder: Embedder, settings: Settings
) -> FileResult:
    if not path.is_file():
        return FileResult(source, "failed", reason="no such file")
    digest = file_sha256(path)
    old_ids, old_digest = store.source_ids(source)
    if old_digest == digest:
        return FileResult(source, "unchanged", chunks=len(old_ids))
    try:
        sections = load_document(path, source, settings.max_file_bytes)
    except LoaderError as exc:
        return FileResult(source, "failed", reason=str(exc))
    chunks = chunk_sections(sections, settings.chunk_tokens, settings.chunk_overlap, digest)
    embeddings = embedder.embed([chunk.text for chunk in chunks])
    removed = store.replace_source(source, chunks, embeddings)
    return FileResult(source, "replaced" if old_ids else "added", len(chunks), removed)


def ingest_paths(
    paths: Iterable[Path],
    store: Store,
    embedder: Embedder,
    settings: Settings,
    progress: Callable[[FileResult], None] | None = None,
) -> Summary:
    summary = Summary()
    for path, source in expand(paths):
        result = ingest_file(path, source, store, embedder, settings)
        summary.files.append(result)
        if progress is not None:
            progress(result)
    return summary
