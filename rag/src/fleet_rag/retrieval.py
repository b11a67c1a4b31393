"""Top-k retrieval above a similarity threshold, with optional MMR de-duplication."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fleet_rag.embeddings import Embedder
from fleet_rag.settings import Settings
from fleet_rag.store import Match, Store


def retrieve(
    store: Store,
    embedder: Embedder,
    query: str,
    settings: Settings,
    top_k: int | None = None,
    threshold: float | None = None,
    mmr: bool | None = None,
) -> list[Match]:
    k = top_k or settings.top_k
    floor = settings.threshold if threshold is None else threshold
    use_mmr = settings.mmr if mmr is None else mmr
    query_vector = embedder.embed([query])[0]
    candidates = store.nearest(
        query_vector, n=k * settings.mmr_fetch_factor if use_mmr else k, vectors=use_mmr
    )
    above = [m for m in candidates if m.similarity >= floor]
    if not use_mmr or len(above) <= 1:
        return above[:k]
    stored = [m.vector for m in above]
    if any(v is None for v in stored):  # a server that cannot return them: embed again (slow)
        vectors: Sequence[Sequence[float]] = embedder.embed([m.text for m in above])
    else:
        vectors = [v for v in stored if v is not None]
    return mmr_select(query_vector, above, vectors, k, settings.mmr_lambda)


def mmr_select(
    query: Sequence[float],
    candidates: list[Match],
    embeddings: Sequence[Sequence[float]],
    k: int,
    weight: float,
) -> list[Match]:
    """Maximal marginal relevance: relevance to the query minus redundancy with picks so far."""
    vectors = np.array(embeddings, dtype=np.float32)
    relevance = vectors @ np.asarray(query, dtype=np.float32)
    similarity = vectors @ vectors.T
    chosen: list[int] = []
    left = list(range(len(candidates)))
    while left and len(chosen) < k:
        if chosen:
            redundancy = similarity[np.ix_(left, chosen)].max(axis=1)
        else:
            redundancy = np.zeros(len(left), dtype=np.float32)
        scores = weight * relevance[left] - (1 - weight) * redundancy
        best = left[int(np.argmax(scores))]
        chosen.append(best)
        left.remove(best)
    return [candidates[i] for i in chosen]
