"""Shared by the model mirror's tests and its benchmark: the Ollama TEST STAND-IN serving a
models folder on loopback, a models folder laid out at Ollama's registry API paths, and a quiet
loopback HTTP server for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fleetlib.paths import REPO
from fleetlib.scripts import OLLAMA_MIRROR, load_script
from lab.ec2 import free_port

STANDIN = REPO / "tests" / "fixtures" / "ollama_standin" / "ollama"
mirror = load_script(OLLAMA_MIRROR)


class StandIn:
    """The stand-in serving one models folder on loopback (pulled layers of model_bytes)."""

    def __init__(self, models: Path, model_bytes: int = 3 * 1024 * 1024, **settings: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        env = dict(os.environ, OLLAMA_HOST=self.url.removeprefix("http://"),
                   OLLAMA_MODELS=str(models), STANDIN_MODEL_BYTES=str(model_bytes),
                   **settings)  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, str(STANDIN), "serve"], env=env, stderr=subprocess.DEVNULL
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url, timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the stand-in did not start")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())

    def delete(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/delete", data=json.dumps({"model": name}).encode(), method="DELETE"
        )
        urllib.request.urlopen(request, timeout=60).close()

    def pull(self, names: Sequence[str]) -> None:
        for name in names:
            self.post("/api/pull", {"model": name, "stream": False})

    def tags(self) -> list[str]:
        with urllib.request.urlopen(f"{self.url}/api/tags", timeout=10) as response:
            return sorted(m["name"] for m in json.loads(response.read())["models"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def registry_tree(pulled: Path, names: Sequence[str], root: Path) -> None:
    """The models of a models folder at the registry API's paths under root:
    v2/<namespace>/<model>/manifests/<tag> and v2/<namespace>/<model>/blobs/<digest>."""
    for name in names:
        namespace, model, tag = mirror.split_name(name)
        raw = (pulled / mirror.manifest_key(name)).read_bytes()
        target = root / "v2" / namespace / model / "manifests" / tag
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        for blob in mirror.blobs_of(json.loads(raw)):
            served = root / "v2" / namespace / model / "blobs" / blob["digest"]
            served.parent.mkdir(parents=True, exist_ok=True)
            if not served.exists():
                os.link(pulled / mirror.blob_key(blob["digest"]), served)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """root over HTTP on loopback; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
