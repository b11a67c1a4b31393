"""Settings from the environment (FLEET_RAG_*), the way the systemd unit passes them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
BACKENDS = ("auto", "torch", "openvino")


@dataclass(frozen=True)
class Settings:
    # Chunking: token budget per chunk and tokens shared between neighbouring chunks.
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    # Retrieval: top-k above a cosine-similarity threshold, optional MMR de-duplication.
    top_k: int = 4
    threshold: float = 0.25
    mmr: bool = True
    mmr_lambda: float = 0.7
    # MMR picks top_k among the top_k * mmr_fetch_factor nearest chunks.
    mmr_fetch_factor: int = 3
    # Embeddings: a sentence-transformers model name or folder (the default loads offline), the
    # device (auto, cpu, cuda, cuda:N), precision (auto, float32, bfloat16, float16) and
    # backend (auto, torch, openvino: OpenVINO runs the model on the CPU).
    embedding_model: str = DEFAULT_MODEL
    embedding_batch: int = 32
    embedding_device: str = "auto"
    embedding_precision: str = "auto"
    embedding_backend: str = "auto"
    # Storage: a Chroma server (URL + token) or, without a URL, an embedded store at data_dir.
    chroma_url: str = ""
    chroma_token: str = field(default="", repr=False)
    data_dir: Path = Path("/var/lib/fleet-rag")
    collection: str = "documents"
    # Generation: the Ollama server and model that answer, and the name Open WebUI shows.
    ollama_url: str = "http://127.0.0.1:11434"
    ollama_model: str = "llama3.2:1b"
    model_name: str = "fleet-rag"
    request_timeout: float = 300.0
    # The most tokens an answer may have (Ollama's num_predict; the fleet's length cap, from
    # which the load balancer's drain is derived).
    answer_max_tokens: int = 2048
    # Loader limits and the token guarding the upload endpoint.
    max_file_bytes: int = 50 * 1024 * 1024
    ingest_token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        problems = []
        if self.chunk_tokens < 16:
            problems.append("chunk_tokens must be at least 16")
        if not 0 <= self.chunk_overlap < self.chunk_tokens:
            problems.append("chunk_overlap must be between 0 and chunk_tokens - 1")
        if self.top_k < 1:
            problems.append("top_k must be at least 1")
        if not -1.0 <= self.threshold <= 1.0:
            problems.append("threshold is a cosine similarity between -1 and 1")
        if not 0.0 <= self.mmr_lambda <= 1.0:
            problems.append("mmr_lambda must be between 0 and 1")
        if self.mmr_fetch_factor < 1:
            problems.append("mmr_fetch_factor must be at least 1")
        if self.embedding_batch < 1:
            problems.append("embedding_batch must be at least 1")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.embedding_device):
            problems.append("embedding_device must be auto, cpu, cuda or cuda:N")
        if self.embedding_precision not in PRECISIONS:
            problems.append("embedding_precision must be one of " + ", ".join(PRECISIONS))
        if self.embedding_backend not in BACKENDS:
            problems.append("embedding_backend must be one of " + ", ".join(BACKENDS))
        elif self.embedding_backend == "openvino" and self.embedding_device.startswith("cuda"):
            problems.append("embedding_backend openvino runs on the CPU: embedding_device cpu")
        if self.answer_max_tokens < 1:
            problems.append("answer_max_tokens must be at least 1")
        if self.max_file_bytes < 1:
            problems.append("max_file_bytes must be positive")
        if problems:
            raise ValueError("invalid settings: " + "; ".join(problems))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"FLEET_RAG_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _parse(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse(name: str, raw: str, kind: Any) -> Any:
    kind = str(kind)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError:
        raise ValueError(f"FLEET_RAG_{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
