"""The store against a real Chroma server with token authentication (Chroma's own Python
server, as the chromadb_rag role runs it) on loopback."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_rag.embeddings import Embedder
from fleet_rag.ingest import ingest_paths
from fleet_rag.retrieval import retrieve
from fleet_rag.settings import Settings
from fleet_rag.store import Store
from tests.conftest import free_port, wait_until_answering
from tests.samples import write_good_corpus

TOKEN = "chroma-test-token"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("chroma")
    (folder / "token").write_text(TOKEN)
    port = free_port()
    env = dict(
        os.environ,
        IS_PERSISTENT="TRUE",
        PERSIST_DIRECTORY=str(folder / "data"),
        ANONYMIZED_TELEMETRY="FALSE",
        CHROMA_SERVER_AUTHN_PROVIDER="chromadb.auth.token_authn.TokenAuthenticationServerProvider",
        CHROMA_SERVER_AUTHN_CREDENTIALS_FILE=str(folder / "token"),
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "chromadb.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(f"{url}/api/v2/heartbeat", server, timeout=60)
    yield url
    server.terminate()
    server.wait(timeout=20)


def test_ingest_and_retrieve_through_the_server(
    chroma_url: str, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    remote = dataclasses.replace(settings, chroma_url=chroma_url, chroma_token=TOKEN)
    store = Store.open(remote, collection="server-test")
    write_good_corpus(tmp_path / "docs")
    summary = ingest_paths([tmp_path / "docs"], store, embedder, remote)
    assert summary.count("added") == 4 and store.count() == summary.chunks
    for mmr in (False, True):
        matches = retrieve(store, embedder, "What do the penguins eat?", remote, mmr=mmr)
        assert matches[0].metadata["source"] == "zephyr.md"
    again = ingest_paths([tmp_path / "docs"], store, embedder, remote)
    assert again.count("unchanged") == 4


def test_a_wrong_token_is_refused(chroma_url: str, settings: Settings) -> None:
    wrong = dataclasses.replace(settings, chroma_url=chroma_url, chroma_token="wrong")
    with pytest.raises(Exception, match=r"(?i)forbidden|unauthorized|403|401"):
        Store.open(wrong, collection="server-test")
