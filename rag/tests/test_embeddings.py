"""The embedder: which device, precision and backend "auto" picks, and that a reduced precision
or the OpenVINO backend gives vectors interchangeable with torch's float32 ones (same model, unit
length, cosine near 1, in the order of the texts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fleet_rag_testing.samples import GOOD_TEXT

from fleet_rag import openvino_encoder
from fleet_rag.embeddings import Embedder, choose, choose_backend, cpu_flags
from fleet_rag.settings import Settings


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


@pytest.mark.parametrize(
    ("backend", "device", "openvino", "expected"),
    [
        ("auto", "cpu", True, "openvino"),
        ("auto", "cpu", False, "torch"),
        ("auto", "cuda", True, "torch"),
        ("torch", "cpu", True, "torch"),
        ("openvino", "cpu", True, "openvino"),
    ],
)
def test_auto_picks_the_backend(backend: str, device: str, openvino: bool, expected: str) -> None:
    assert choose_backend(backend, device, openvino) == expected


def test_the_openvino_backend_is_refused_where_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="runs on the CPU, not on cuda:0"):
        choose_backend("openvino", "cuda:0", True)
    with pytest.raises(RuntimeError, match=r"install fleet-rag\[openvino\]"):
        choose_backend("openvino", "cpu", False)


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
        ("FLEET_RAG_EMBEDDING_BACKEND", "onnx", "embedding_backend must be one of"),
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


def test_the_settings_refuse_openvino_on_a_gpu() -> None:
    with pytest.raises(ValueError, match="embedding_backend openvino runs on the CPU"):
        Settings(embedding_backend="openvino", embedding_device="cuda")


def test_openvino_vectors_match_torch_ones_in_order(tmp_path: Path) -> None:
    # Texts of very different lengths, more than one batch: the backend sorts them by length
    # into batches run side by side, and must hand the vectors back in the callers' order.
    texts = [
        *GOOD_TEXT.values(),
        "ok",
        " ".join(["The turbine is inspected every month."] * 40),
        "Chroma stores the vectors.",
    ] * 3
    torch_full = Embedder(device="cpu", precision="float32", backend="torch", batch_size=4)
    a = np.array(torch_full.embed(texts), dtype=np.float32)
    for precision, floor in (("bfloat16", 0.99), ("float32", 0.9999)):
        openvino = Embedder(
            precision=precision, backend="openvino", batch_size=4, cache_dir=tmp_path
        )
        assert (openvino.backend, openvino.device) == ("openvino", "cpu")
        b = np.array(openvino.embed(texts), dtype=np.float32)
        assert b.shape == a.shape == (len(texts), openvino.dimensions)
        assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
        assert float((a * b).sum(axis=1).min()) > floor, precision
    assert openvino.embed([]) == []


def test_openvino_sends_no_telemetry(tmp_path: Path) -> None:
    # OpenVINO's converter reports usage unless opted out; with consent it first writes a client
    # id and usage counts under ~/intel. A conversion in a fresh home must leave nothing there.
    script = "from fleet_rag.embeddings import Embedder; Embedder(backend='openvino').embed(['x'])"
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    assert not (tmp_path / "intel").exists()


def test_auto_falls_back_to_torch_when_the_conversion_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A conversion child that cannot finish in time (a real child, killed at the timeout).
    monkeypatch.setattr(openvino_encoder, "CONVERT_TIMEOUT", 0.05)
    explicit = Embedder(backend="openvino", cache_dir=tmp_path / "explicit")
    with pytest.raises(RuntimeError, match=r"for OpenVINO took more than 0\.05 s"):
        explicit.embed(["The turbine is inspected every month."])
    auto = Embedder(cache_dir=tmp_path / "auto")
    assert auto.backend == "openvino"
    vectors = np.array(auto.embed(["The turbine is inspected every month.", "ok"]))
    assert auto.backend == "torch" and vectors.shape == (2, auto.dimensions)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not list((tmp_path / "auto").glob("*/model.xml"))  # nothing half-converted kept


def test_the_conversion_is_cached_and_read_by_later_embedders(tmp_path: Path) -> None:
    first = Embedder(backend="openvino", cache_dir=tmp_path)
    a = np.array(first.embed(["The turbine is inspected every month."]))
    cached = list(tmp_path.glob("*/model.xml"))
    assert len(cached) == 1 and not list(tmp_path.glob(".converting-*"))
    stamp = cached[0].stat().st_mtime_ns
    second = Embedder(backend="openvino", cache_dir=tmp_path)
    b = np.array(second.embed(["The turbine is inspected every month."]))
    assert cached[0].stat().st_mtime_ns == stamp and np.allclose(a, b, atol=1e-6)
