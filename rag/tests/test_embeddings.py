"""The embedder: which device and precision "auto" picks, and that a reduced precision gives
vectors interchangeable with float32 ones (same model, unit length, cosine near 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fleet_rag.embeddings import Embedder, choose, cpu_flags
from fleet_rag.settings import Settings
from tests.samples import GOOD_TEXT


@pytest.mark.parametrize(
    ("device", "precision", "cuda", "flags", "expected"),
    [
        ("auto", "auto", True, set(), ("cuda", "float16")),
        ("auto", "auto", False, {"avx2", "avx512_bf16"}, ("cpu", "bfloat16")),
        ("auto", "auto", False, {"avx2", "amx_bf16"}, ("cpu", "bfloat16")),
        ("auto", "auto", False, {"avx2", "avx512f"}, ("cpu", "float32")),
        ("cpu", "auto", True, {"avx512_bf16"}, ("cpu", "bfloat16")),
        ("cuda:1", "auto", True, set(), ("cuda:1", "float16")),
        ("auto", "float32", False, {"avx512_bf16"}, ("cpu", "float32")),
    ],
)
def test_auto_picks_the_device_and_precision(
    device: str, precision: str, cuda: bool, flags: set[str], expected: tuple[str, str]
) -> None:
    assert choose(device, precision, cuda, flags) == expected


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FLEET_RAG_EMBEDDING_DEVICE", "gpu", "embedding_device must be auto, cpu, cuda or cuda:N"),
        ("FLEET_RAG_EMBEDDING_PRECISION", "int4", "embedding_precision must be one of"),
        ("FLEET_RAG_EMBEDDING_BATCH", "0", "embedding_batch must be at least 1"),
    ],
)
def test_bad_embedder_settings_are_refused(variable: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env({variable: value})


def test_bfloat16_vectors_match_float32_ones(embedder: Embedder) -> None:
    texts = list(GOOD_TEXT.values())
    full = Embedder(precision="float32", device="cpu")
    half = Embedder(precision="bfloat16", device="cpu")
    assert (full.precision, half.precision) == ("float32", "bfloat16")
    a = np.array(full.embed(texts), dtype=np.float32)
    b = np.array(half.embed(texts), dtype=np.float32)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert float((a * b).sum(axis=1).min()) > 0.99
    # The session's embedder (auto) gives the same vectors as one of the two.
    c = np.array(embedder.embed(texts), dtype=np.float32)
    assert float((a * c).sum(axis=1).min()) > 0.99
