"""The HTTP service, in process, answering through the Ollama-API-compatible test stand-in
(not Ollama) over real HTTP on loopback, with the real embedder and an embedded Chroma store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fleet_rag_testing.samples import write_bad_files, write_good_corpus

from fleet_rag.embeddings import Embedder
from fleet_rag.ingest import ingest_paths
from fleet_rag.service import create_app
from fleet_rag.settings import Settings
from fleet_rag.store import Store

TOKEN = "upload-token-for-tests"
QUESTION = {"role": "user", "content": "How often is the Aurora turbine maintained?"}


@pytest.fixture
def client(
    tmp_path: Path, settings: Settings, embedder: Embedder, ollama_standin: str
) -> Iterator[TestClient]:
    settings = dataclasses.replace(settings, ollama_url=ollama_standin, ingest_token=TOKEN)
    store = Store.open(settings)
    write_good_corpus(tmp_path / "docs")
    ingest_paths([tmp_path / "docs"], store, embedder, settings)
    app = create_app(settings, embedder_factory=lambda: embedder, store_factory=lambda: store)
    with TestClient(app) as test_client:
        yield test_client


def test_health_and_model_listing(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["chunks"] > 0
    assert [m["name"] for m in client.get("/api/tags").json()["models"]] == ["fleet-rag"]
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["fleet-rag"]
    assert client.get("/api/version").status_code == 200


def test_ollama_chat_streams_a_grounded_answer_with_sources(client: TestClient) -> None:
    with client.stream(
        "POST", "/api/chat", json={"model": "fleet-rag", "messages": [QUESTION]}
    ) as r:
        assert r.status_code == 200
        events = [json.loads(line) for line in r.iter_lines() if line]
    assert events[-1]["done"] is True and not any(e["done"] for e in events[:-1])
    text = "".join(e["message"]["content"] for e in events)
    assert "every ninety days" in text  # the stand-in repeats the first passage it was given
    # It cites that passage alone ([1]): the Sources list names only what the answer used.
    assert text.split("Sources:")[1].strip() == "1. aurora.pdf (page 2)"


def test_answers_are_capped_at_the_fleets_length(
    tmp_path: Path, settings: Settings, embedder: Embedder, ollama_standin: str
) -> None:
    """answer_max_tokens reaches Ollama as num_predict (the stand-in stops there, as Ollama
    does): the answer stops after 5 tokens, and its Sources list still follows."""
    capped = dataclasses.replace(settings, ollama_url=ollama_standin, answer_max_tokens=5)
    store = Store.open(capped)
    write_good_corpus(tmp_path / "docs")
    ingest_paths([tmp_path / "docs"], store, embedder, capped)
    app = create_app(capped, embedder_factory=lambda: embedder, store_factory=lambda: store)
    with TestClient(app) as test_client:
        body = test_client.post("/api/chat", json={"messages": [QUESTION], "stream": False})
    answer, _, sources = body.json()["message"]["content"].partition("Sources:")
    assert len(answer.split()) == 5, answer
    assert "aurora.pdf" in sources


def test_ollama_chat_without_streaming(client: TestClient) -> None:
    body = client.post("/api/chat", json={"messages": [QUESTION], "stream": False}).json()
    assert body["done"] is True
    assert "aurora.pdf (page 2)" in body["message"]["content"]


def test_openai_chat_completion_and_stream(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json={"model": "fleet-rag", "messages": [QUESTION]})
    content = body.json()["choices"][0]["message"]["content"]
    assert "Sources:" in content and "aurora.pdf (page 2)" in content
    with client.stream(
        "POST", "/v1/chat/completions", json={"messages": [QUESTION], "stream": True}
    ) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    deltas = [json.loads(line[6:])["choices"][0]["delta"] for line in lines[:-1]]
    assert "aurora.pdf (page 2)" in "".join(d.get("content", "") for d in deltas)


def test_unrelated_question_says_no_source_matched(client: TestClient) -> None:
    question = {"role": "user", "content": "Explain quantum chromodynamics on a lattice"}
    body = client.post("/api/chat", json={"messages": [question], "stream": False}).json()
    assert "Sources: none" in body["message"]["content"]


def test_chat_needs_a_user_message(client: TestClient) -> None:
    response = client.post("/api/chat", json={"messages": [{"role": "system", "content": "x"}]})
    assert response.status_code == 400


def test_upload_needs_the_token_and_reports_each_file(client: TestClient, tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Nimbus\n\nThe Nimbus kite flies best in a steady eastern breeze.\n")
    files = {"files": ("note.md", note.read_bytes(), "text/markdown")}
    assert client.post("/ingest", files=files).status_code == 401
    bad_auth = {"Authorization": "Bearer wrong"}
    assert client.post("/ingest", files=files, headers=bad_auth).status_code == 401
    before = client.get("/health").json()["chunks"]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ok = client.post("/ingest", files=files, headers=headers).json()
    assert ok["failed"] is False and ok["files"][0]["status"] == "added"
    assert client.get("/health").json()["chunks"] > before
    corrupt = write_bad_files(tmp_path / "bad")["corrupt PDF"]
    after_good = client.get("/health").json()["chunks"]
    bad = client.post(
        "/ingest", headers=headers, files={"files": ("corrupt.pdf", corrupt.read_bytes())}
    ).json()
    assert bad["failed"] is True and "corrupt PDF" in bad["files"][0]["reason"]
    assert client.get("/health").json()["chunks"] == after_good


def test_a_bad_answer_cap_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="answer_max_tokens must be at least 1"):
        Settings.from_env({"FLEET_RAG_ANSWER_MAX_TOKENS": "0"})
