from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_rag_testing.servers import STANDIN, free_port, wait_until_answering

from fleet_rag.embeddings import Embedder
from fleet_rag.settings import Settings
from fleet_rag.store import Store


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()  # the real all-MiniLM-L6-v2, loaded offline from its package


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # max_file_bytes is small so that the oversized sample is refused quickly.
    return Settings(data_dir=tmp_path / "index", max_file_bytes=100_000, threshold=0.2)


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store.open(settings)


@pytest.fixture(scope="session")
def ollama_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Ollama-API-compatible test stand-in (not Ollama) on loopback, with one model pulled."""
    port = free_port()
    env = dict(
        os.environ,
        OLLAMA_HOST=f"127.0.0.1:{port}",
        OLLAMA_MODELS=str(tmp_path_factory.mktemp("models")),
    )
    proc = subprocess.Popen(
        [sys.executable, str(STANDIN), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(f"{url}/api/version", proc, timeout=20)
    request = urllib.request.Request(
        f"{url}/api/pull", data=json.dumps({"model": "llama3.2:1b", "stream": False}).encode()
    )
    urllib.request.urlopen(request, timeout=10).close()
    yield url
    proc.terminate()
    proc.wait(timeout=10)
