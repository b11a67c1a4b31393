"""A bad chromadb_rag setting stops the play at the role's first checks, with a message that
names it, before any user, folder or package task runs. fleet-rag's own settings are checked by
fleet-rag's settings module, read from the wheel the hosts install. The play targets the
controller in check mode, so nothing on this machine could change even if the checks let it
through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import refused_before_any_change


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"chromadb_rag_embedding_backend": "onnx"}, "chromadb_rag_embedding_backend"),
        (
            {"chromadb_rag_embedding_backend": "openvino", "chromadb_rag_embedding_device": "cuda"},
            "embedding_backend openvino runs on the CPU",
        ),
        ({"chromadb_rag_embedding_device": "gpu"}, "embedding_device must be auto, cpu, cuda"),
        ({"chromadb_rag_chunk_overlap": 200}, "chunk_overlap must be between 0 and chunk_tokens"),
        ({"chromadb_rag_threshold": 1.5}, "threshold is a cosine similarity between -1 and 1"),
        (
            {"chromadb_rag_chroma_enabled": False},
            "fleet-rag without Chroma on its host needs chromadb_rag_chroma_token",
        ),
    ],
)
def test_a_bad_setting_is_refused_before_any_change(
    tmp_path: Path, variables: dict[str, object], message: str
) -> None:
    refused_before_any_change(tmp_path, "chromadb_rag", variables, message)
