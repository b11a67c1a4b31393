"""Chroma's server API with stored embeddings returned as arrays (deployed by role chromadb_rag).

Chroma's Python server (chromadb 1.5) calls `.tolist()` on each stored embedding when it answers
a get or query that includes embeddings, but its Rust bindings hand it plain lists, so every such
request fails with "'list' object has no attribute 'tolist'" (chroma-core/chroma#5350). The
server picks its API class from CHROMA_API_IMPL; this one returns the embeddings as float32 arrays
and leaves everything else to Chroma. fleet-rag uses them for MMR instead of embedding the
candidates again."""

from __future__ import annotations

from typing import Any

import numpy as np
from chromadb.api.rust import RustBindingsAPI
from overrides import override  # Chroma's API classes insist on it


def _arrays(rows: Any) -> Any:
    return None if rows is None else [np.asarray(row, dtype=np.float32) for row in rows]


class ArrayEmbeddingsAPI(RustBindingsAPI):
    @override
    def _get(self, *args: Any, **kwargs: Any) -> Any:
        result = super()._get(*args, **kwargs)
        result["embeddings"] = _arrays(result["embeddings"])
        return result

    @override
    def _query(self, *args: Any, **kwargs: Any) -> Any:
        result = super()._query(*args, **kwargs)
        if result["embeddings"] is not None:
            result["embeddings"] = [_arrays(rows) for rows in result["embeddings"]]
        return result
