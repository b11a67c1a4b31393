"""A bad chromadb_rag setting stops the play at the role's first checks, with a message that
names it, before any user, folder or package task runs. The play targets the controller in
check mode, so nothing on this machine could change even if the checks let it through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import check_role_on_controller


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"chromadb_rag_embedding_backend": "onnx"}, "chromadb_rag_embedding_backend"),
        (
            {"chromadb_rag_embedding_backend": "openvino", "chromadb_rag_embedding_device": "cuda"},
            "not cuda with embedding_backend openvino",
        ),
        ({"chromadb_rag_embedding_device": "gpu"}, "embedding_device (gpu) auto, cpu, cuda"),
        ({"chromadb_rag_chunk_overlap": 200}, "chunk_overlap (200) must be below chunk_tokens"),
    ],
)
def test_a_bad_setting_is_refused_before_any_change(
    tmp_path: Path, variables: dict[str, object], message: str
) -> None:
    proc = check_role_on_controller(tmp_path, "chromadb_rag", variables)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in " ".join(output.split())  # messages are folded over lines
    assert "Create the service users" not in output
