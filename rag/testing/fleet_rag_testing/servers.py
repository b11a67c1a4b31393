"""Servers the package's tests and its benchmark (benchmarks/rag_bench.py) start on loopback:
Chroma's server as the chromadb_rag role runs it (or as shipped), and the Ollama test stand-in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The repository around the package (defined once for the package's tests and benchmark).
REPO = Path(__file__).resolve().parents[3]
# The Ollama-API-compatible TEST STAND-IN (not Ollama).
STANDIN = REPO / "tests" / "fixtures" / "ollama_standin" / "ollama"
# The chromadb_rag role's module that lets Chroma's server answer stored embeddings.
ROLE_FILES = REPO / "roles" / "chromadb_rag" / "files"


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
                raise RuntimeError(f"{url} did not answer within {timeout:.0f}s") from None
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
