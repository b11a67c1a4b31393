"""Ingest files: load, chunk, embed, store. Unchanged files are skipped; a file that fails
leaves the index exactly as it was. A folder is a corpus: what it no longer holds leaves the
index (one corpus folder per collection)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from fleet_rag.chunking import chunk_sections
from fleet_rag.documents import Chunk
from fleet_rag.embeddings import Embedder
from fleet_rag.loaders import LoaderError, load_document
from fleet_rag.settings import Settings
from fleet_rag.store import Store


class TextEmbedder(Protocol):
    """What ingestion needs of an embedder (an Embedder, or a LazyEmbedder that loads on use)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


# Chunks embedded in one call across consecutive files (a few seconds of work on 2 CPU cores).
EMBED_GROUP = 256


class FileStatus(StrEnum):
    """What ingesting did to a file (or, in a dry run, would do)."""

    ADDED = "added"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"
    REMOVED = "removed"  # gone from its folder: its chunks leave the index
    FAILED = "failed"


# What a real run writes.
WRITES = (FileStatus.ADDED, FileStatus.REPLACED)
CHANGES = (*WRITES, FileStatus.REMOVED)


class Origin(StrEnum):
    """How a source came in (kept in its chunks' metadata): a file found in an ingested folder
    (removed when the folder no longer holds it), a file named on its own, an upload."""

    FOLDER = "folder"
    FILE = "file"
    UPLOAD = "upload"


# The sources a folder's ingestion owns: its own, and those of indexes from before origins were
# recorded (the role only ever ingested a folder).
PRUNED = (Origin.FOLDER.value, None)


@dataclass
class FileResult:
    source: str
    status: FileStatus
    chunks: int = 0
    removed: int = 0
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status": self.status.value}


@dataclass
class Summary:
    files: list[FileResult] = field(default_factory=list)
    dry_run: bool = False  # statuses say what ingesting would do; nothing was written

    def count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def chunks(self) -> int:
        return sum(f.chunks for f in self.files if f.status in WRITES)

    @property
    def changed(self) -> bool:
        return any(f.status in CHANGES for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status is FileStatus.FAILED]

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [f.as_dict() for f in self.files],
            **{status.value: self.count(status) for status in FileStatus},
            "chunks": self.chunks,
            "changed": self.changed,
            "dry_run": self.dry_run,
        }


def expand(paths: Iterable[Path]) -> Iterator[tuple[Path, str, Origin]]:
    """Files to ingest with their source names (a file's own name, or its path inside a folder)
    and origins."""
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if not any(part.startswith(".") for part in file.relative_to(path).parts):
                    yield file, str(file.relative_to(path)), Origin.FOLDER
        else:
            yield path, path.name, Origin.FILE


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Prepared:
    """A file loaded and chunked, waiting for its embeddings."""

    source: str
    chunks: list[Chunk]
    replacing: bool


def prepare(
    path: Path, source: str, store: Store, settings: Settings, origin: Origin
) -> Prepared | FileResult:
    """Load and chunk a file, or its final result: unchanged (same SHA-256, every chunk still
    in the index) or failed."""
    if not path.is_file():
        return FileResult(source, FileStatus.FAILED, reason="no such file")
    digest = file_sha256(path)
    old = store.stored(source)
    if old.digest == digest and old.complete:
        return FileResult(source, FileStatus.UNCHANGED, chunks=len(old.ids))
    try:
        sections = load_document(path, source, settings.max_file_bytes)
    except LoaderError as exc:
        return FileResult(source, FileStatus.FAILED, reason=str(exc))
    chunks = chunk_sections(sections, settings.chunk_tokens, settings.chunk_overlap, digest)
    for chunk in chunks:
        chunk.metadata["origin"] = origin.value
    return Prepared(source, chunks, replacing=bool(old.ids))


def store_prepared(
    prepared: Prepared, embeddings: Sequence[Sequence[float]], store: Store
) -> FileResult:
    removed = store.replace_source(prepared.source, prepared.chunks, embeddings)
    status = FileStatus.REPLACED if prepared.replacing else FileStatus.ADDED
    return FileResult(prepared.source, status, len(prepared.chunks), removed)


def ingest_file(
    path: Path,
    source: str,
    store: Store,
    embedder: Embedder,
    settings: Settings,
    origin: Origin = Origin.UPLOAD,
) -> FileResult:
    prepared = prepare(path, source, store, settings, origin)
    if isinstance(prepared, FileResult):
        return prepared
    return store_prepared(prepared, embedder.embed([c.text for c in prepared.chunks]), store)


def ingest_paths(
    paths: Iterable[Path],
    store: Store,
    embedder: TextEmbedder,
    settings: Settings,
    progress: Callable[[FileResult], None] | None = None,
    dry_run: bool = False,
) -> Summary:
    """Ingest files and folders. The chunks of consecutive new or edited files are embedded
    together, up to EMBED_GROUP of them, so that batches are full and sorted by length across
    small files; each file is still stored (or rolled back) on its own. A dry run loads and
    chunks what would change and reports it, without embedding or writing anything."""
    summary = Summary(dry_run=dry_run)
    pending: list[Prepared] = []

    def record(result: FileResult) -> None:
        summary.files.append(result)
        if progress is not None:
            progress(result)

    def flush() -> None:
        vectors = embedder.embed([c.text for p in pending for c in p.chunks])
        at = 0
        for prepared in pending:
            record(store_prepared(prepared, vectors[at : at + len(prepared.chunks)], store))
            at += len(prepared.chunks)
        pending.clear()

    paths = list(paths)
    found: set[str] = set()
    for path, source, origin in expand(paths):
        found.add(source)
        prepared = prepare(path, source, store, settings, origin)
        if isinstance(prepared, FileResult):
            if pending:  # keep the summary in the order of the files
                flush()
            record(prepared)
            continue
        if dry_run:
            status = FileStatus.REPLACED if prepared.replacing else FileStatus.ADDED
            record(FileResult(prepared.source, status, len(prepared.chunks)))
            continue
        pending.append(prepared)
        if sum(len(p.chunks) for p in pending) >= EMBED_GROUP:
            flush()
    if pending:
        flush()
    if any(path.is_dir() for path in paths):
        for source, chunks in store.sources(origins=PRUNED).items():
            if source not in found:
                removed = chunks if dry_run else store.delete_source(source)
                record(FileResult(source, FileStatus.REMOVED, removed=removed))
    return summary
