"""The store against a real Chroma server with token authentication (Chroma's own Python
server) on loopback: as the chromadb_rag role runs it (with its fleet_chroma_api module, which
lets the server answer stored embeddings) and as Chroma ships it (which cannot: MMR falls back
to embedding the candidates again)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fleet_rag_testing.samples import write_good_corpus
from fleet_rag_testing.servers import ROLE_FILES, chroma_server

from fleet_rag.embeddings import Embedder
from fleet_rag.ingest import FileStatus, ingest_paths
from fleet_rag.retrieval import retrieve
from fleet_rag.settings import Settings
from fleet_rag.store import Store

TOKEN = "chroma-test-token"


@pytest.fixture(scope="module", params=["as-deployed", "as-shipped"])
def chroma_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    deployed = request.param == "as-deployed"
    if deployed and not (ROLE_FILES / "fleet_chroma_api.py").is_file():
        pytest.skip("the chromadb_rag role is not beside this package")
    with chroma_server(tmp_path_factory.mktemp("chroma"), TOKEN, deployed) as url:
        yield url


def test_ingest_and_retrieve_through_the_server(
    chroma_url: str, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    remote = dataclasses.replace(settings, chroma_url=chroma_url, chroma_token=TOKEN)
    store = Store.open(remote, collection="server-test")
    write_good_corpus(tmp_path / "docs")
    summary = ingest_paths([tmp_path / "docs"], store, embedder, remote)
    assert summary.count(FileStatus.ADDED) == 4 and store.count() == summary.chunks
    for mmr in (False, True):
        matches = retrieve(store, embedder, "What do the penguins eat?", remote, mmr=mmr)
        assert matches[0].metadata["source"] == "zephyr.md"
    again = ingest_paths([tmp_path / "docs"], store, embedder, remote)
    assert again.count(FileStatus.UNCHANGED) == 4


def test_a_wrong_token_is_refused(chroma_url: str, settings: Settings) -> None:
    wrong = dataclasses.replace(settings, chroma_url=chroma_url, chroma_token="wrong")
    with pytest.raises(Exception, match=r"(?i)forbidden|unauthorized|403|401"):
        Store.open(wrong, collection="server-test")


def test_mmr_uses_the_stored_vectors_where_the_server_answers_them(
    chroma_url: str,
    request: pytest.FixtureRequest,
    settings: Settings,
    embedder: Embedder,
    tmp_path: Path,
) -> None:
    remote = dataclasses.replace(settings, chroma_url=chroma_url, chroma_token=TOKEN)
    store = Store.open(remote, collection="vectors-test")
    write_good_corpus(tmp_path / "docs")
    ingest_paths([tmp_path / "docs"], store, embedder, remote)
    question = embedder.embed(["What do the penguins eat?"])[0]
    matches = store.nearest(question, 3, vectors=True)
    deployed = "as-deployed" in request.node.callspec.id
    assert store.returns_embeddings is deployed
    if deployed:
        stored = np.array([m.vector for m in matches], dtype=np.float32)
        fresh = np.array(embedder.embed([m.text for m in matches]), dtype=np.float32)
        assert np.allclose((stored * fresh).sum(axis=1), 1.0, atol=1e-3)
    else:
        assert all(m.vector is None for m in matches)
    # Either way MMR picks the same chunks.
    picked = retrieve(store, embedder, "What do the penguins eat?", remote, mmr=True)
    assert picked and picked[0].metadata["source"] == "zephyr.md"
