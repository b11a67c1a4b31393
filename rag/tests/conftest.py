from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fleet_rag.embeddings import Embedder
from fleet_rag.settings import Settings
from fleet_rag.store import Store

STANDIN = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ollama_standin" / "ollama"
# The chromadb_rag role's module that lets Chroma's server answer stored embeddings.
ROLE_FILES = Path(__file__).resolve().parents[2] / "roles" / "chromadb_rag" / "files"


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


def wait_until_answering(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll url until it answers; kill the server and fail if it dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"{url} did not answer within {timeout:.0f}s")
            time.sleep(0.2)


@contextmanager
def chroma_server(folder: Path, token: str, deployed: bool) -> Iterator[str]:
    """Chroma's Python server with token auth on loopback; its URL. deployed: as the
    chromadb_rag role runs it (with fleet_chroma_api), else as Chroma ships it."""
    (folder / "token").write_text(token)
    env = dict(
        os.environ,
        IS_PERSISTENT="TRUE",
        PERSIST_DIRECTORY=str(folder / "data"),
        ANONYMIZED_TELEMETRY="FALSE",
        CHROMA_SERVER_AUTHN_PROVIDER="chromadb.auth.token_authn.TokenAuthenticationServerProvider",
        CHROMA_SERVER_AUTHN_CREDENTIALS_FILE=str(folder / "token"),
    )
    if deployed:
        env.update(
            PYTHONPATH=str(ROLE_FILES), CHROMA_API_IMPL="fleet_chroma_api.ArrayEmbeddingsAPI"
        )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "chromadb.app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{url}/api/v2/heartbeat", server, timeout=60)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
