"""ChromaDB storage: the HTTP client for a Chroma server (token auth), or an embedded
PersistentClient where no server is configured. Collections use cosine space."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlparse

from fleet_rag.documents import Chunk, Metadata
from fleet_rag.settings import Settings

MAX_BATCH = 2000  # below Chroma's per-request limit
# Chroma's Python server (1.5) fails to serialise stored embeddings in query and get answers
# (chroma-core/chroma#5350); the chromadb_rag role deploys it with a fix, other servers may lack it.
EMBEDDINGS_UNSUPPORTED = "has no attribute 'tolist'"

log = logging.getLogger(__name__)
T = TypeVar("T")


class Stored(NamedTuple):
    ids: list[str]
    digest: str | None
    complete: bool


@dataclass(frozen=True)
class Match:
    id: str
    text: str
    metadata: Metadata
    similarity: float  # cosine similarity, 1 = identical direction
    vector: list[float] | None = field(default=None, repr=False, compare=False)


def connect(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        headers = (
            {"Authorization": f"Bearer {settings.chroma_token}"} if settings.chroma_token else {}
        )
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            headers=headers,
            settings=chroma_settings,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(settings.data_dir / "chroma"), settings=chroma_settings
    )


class Store:
    def __init__(self, client: Any, collection: str) -> None:
        self.client = client
        self.name = collection
        self.returns_embeddings = True
        self.collection = self._open()

    def _open(self) -> Any:
        return self.client.get_or_create_collection(
            name=self.name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def _reopening(self, call: Callable[[], T]) -> T:
        """call(), again on the collection of the same name when the one this store opened is
        gone: the vector store was wiped and rebuilt (re-indexed) while the service ran."""
        try:
            return call()
        except Exception as exc:
            if type(exc).__name__ != "NotFoundError":
                raise
            log.warning("collection %s was recreated: reopening it (%s)", self.name, exc)
            self.collection = self._open()
            return call()

    @classmethod
    def open(cls, settings: Settings, collection: str | None = None) -> Store:
        return cls(connect(settings), collection or settings.collection)

    def count(self) -> int:
        return int(self._reopening(lambda: self.collection.count()))

    def stored(self, source: str) -> Stored:
        """What the index holds of a source: its chunk ids, the file hash they were made from,
        and whether every chunk of that version is there (a deleted chunk makes it not)."""
        found = self._reopening(
            lambda: self.collection.get(where={"source": source}, include=["metadatas"])
        )
        metadatas = found.get("metadatas") or []
        ids = list(found["ids"])
        if not metadatas:
            return Stored(ids, None, False)
        expected = metadatas[0].get("file_chunks")  # absent in indexes from before it existed
        complete = expected is None or len(ids) == int(expected)
        return Stored(ids, str(metadatas[0]["file_sha256"]), complete)

    def replace_source(
        self, source: str, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]
    ) -> int:
        """Store a file's chunks and drop the ones an earlier version left; returns removed."""
        old_ids = self.stored(source).ids
        new_ids = [chunk.id for chunk in chunks]
        written: list[str] = []
        try:
            for at in range(0, len(chunks), MAX_BATCH):
                batch = chunks[at : at + MAX_BATCH]
                self.collection.upsert(
                    ids=[c.id for c in batch],
                    documents=[c.text for c in batch],
                    metadatas=[c.metadata for c in batch],
                    embeddings=[list(e) for e in embeddings[at : at + MAX_BATCH]],
                )
                written.extend(c.id for c in batch)
        except Exception:
            # Leave the index as it was: remove what this call added that was not there before.
            added = sorted(set(written) - set(old_ids))
            if added:
                self.collection.delete(ids=added)
            raise
        stale = sorted(set(old_ids) - set(new_ids))
        if stale:
            self.collection.delete(ids=stale)
        return len(stale)

    def delete_source(self, source: str) -> int:
        ids = self.stored(source).ids
        if ids:
            self.collection.delete(ids=ids)
        return len(ids)

    def sources(self, origins: Sequence[str | None] | None = None) -> dict[str, int]:
        """Chunk count per source; with origins, only the sources whose chunks came in that way
        (None: chunks that record no origin)."""
        counts: Counter[str] = Counter()
        offset = 0
        while True:
            page = self.collection.get(include=["metadatas"], limit=5000, offset=offset)
            metadatas = page.get("metadatas") or []
            counts.update(
                str(m.get("source", "?"))
                for m in metadatas
                if origins is None or m.get("origin") in origins
            )
            if len(metadatas) < 5000:
                return dict(sorted(counts.items()))
            offset += 5000

    def nearest(self, embedding: Sequence[float], n: int, vectors: bool = False) -> list[Match]:
        """The n stored chunks closest to embedding; with vectors=True each carries its stored
        vector where the server can return it (see EMBEDDINGS_UNSUPPORTED)."""
        if n < 1:
            return []
        return self._reopening(lambda: self._nearest(embedding, n, vectors))

    def _nearest(self, embedding: Sequence[float], n: int, vectors: bool) -> list[Match]:
        include = ["documents", "metadatas", "distances"]
        if vectors and self.returns_embeddings:
            try:
                result = self.collection.query(
                    query_embeddings=[list(embedding)],
                    n_results=n,
                    include=[*include, "embeddings"],
                )
            except Exception as exc:
                if EMBEDDINGS_UNSUPPORTED not in str(exc):
                    raise
                log.warning("the Chroma server cannot return embeddings (%s): MMR re-embeds", exc)
                self.returns_embeddings = False
            else:
                return _matches(result, result["embeddings"][0])
        result = self.collection.query(
            query_embeddings=[list(embedding)], n_results=n, include=include
        )
        return _matches(result, None)


def _matches(result: Any, vectors: Any) -> list[Match]:
    return [
        Match(
            id=chunk_id,
            text=result["documents"][0][i],
            metadata=result["metadatas"][0][i],
            similarity=1.0 - float(result["distances"][0][i]),
            vector=None if vectors is None else [float(x) for x in vectors[i]],
        )
        for i, chunk_id in enumerate(result["ids"][0])
    ]
