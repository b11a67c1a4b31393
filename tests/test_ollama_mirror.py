"""The fleet's model mirror (roles/ollama/files/ollama_mirror.py) with real parts: the Ollama
TEST STAND-IN (not Ollama) stores pulled models as Ollama does, the mirror is moto's S3 (the
lab's AWS API), and the registry a push reads from is served over HTTP with the registry API's
paths. A model fetched from the mirror is listed and answers without a pull; a blob changed in
the bucket is refused by name and leaves no model behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from lab.config import REGION, REPO
from lab.ec2 import DUMMY_CREDENTIALS, MotoServer, free_port
from tools.artifacts import OLLAMA_MIRROR, load_script

STANDIN = REPO / "tests" / "fixtures" / "ollama_standin" / "ollama"
MODELS = ["llama3.2:1b", "me/embedder:v2"]


mirror = load_script(OLLAMA_MIRROR)


class StandIn:
    """The stand-in serving one models folder on loopback."""

    def __init__(self, models: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        env = dict(os.environ, OLLAMA_HOST=self.url.removeprefix("http://"),
                   OLLAMA_MODELS=str(models), STANDIN_MODEL_BYTES=str(3 * 1024 * 1024))  # fmt: skip
        self.proc = subprocess.Popen([sys.executable, str(STANDIN), "serve"], env=env)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url, timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the stand-in did not start")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", data=json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def tags(self) -> list[str]:
        with urllib.request.urlopen(f"{self.url}/api/tags", timeout=10) as response:
            return sorted(m["name"] for m in json.loads(response.read())["models"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def pulled(tmp_path: Path) -> Iterator[Path]:
    """A models folder where the stand-in pulled MODELS (Ollama's layout)."""
    folder = tmp_path / "pulled"
    standin = StandIn(folder)
    try:
        for name in MODELS:
            standin.post("/api/pull", {"model": name, "stream": False})
        assert standin.tags() == sorted(MODELS)
    finally:
        standin.stop()
    yield folder


@pytest.fixture
def s3(moto_server: MotoServer) -> Any:
    client = boto3.client(
        "s3", region_name=REGION, endpoint_url=moto_server.endpoint, **DUMMY_CREDENTIALS
    )
    bucket = f"mirror-{time.monotonic_ns()}"
    client.create_bucket(Bucket=bucket)
    client.test_bucket = bucket
    return client


def test_a_mirrored_model_is_listed_and_answers_without_a_pull(
    tmp_path: Path, pulled: Path, s3: Any
) -> None:
    url = f"s3://{s3.test_bucket}/models"
    pushed = mirror.push(MODELS, mirror.Source(pulled), s3, url)
    assert pushed["pushed"] == MODELS and pushed["blobs_copied"] == 3  # one config blob shared
    again = mirror.push(MODELS, mirror.Source(pulled), s3, url)
    assert again["blobs_copied"] == 0 and again["blobs_present"] == 4

    host = tmp_path / "host"
    fetched = mirror.fetch([*MODELS, "absent:1"], s3, url, host)
    assert fetched["fetched"] == MODELS and fetched["absent"] == ["absent:1"]
    assert fetched["bytes"] > 6 * 1024 * 1024
    assert mirror.fetch(MODELS, s3, url, host)["blobs_copied"] == 0  # a re-run copies nothing
    standin = StandIn(host)
    try:
        assert standin.tags() == sorted(MODELS)
        reply = standin.post(
            "/api/chat",
            {
                "model": "llama3.2:1b",
                "stream": False,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
        assert reply["message"]["content"] == "Stand-in answer from llama3.2:1b to: hi"
    finally:
        standin.stop()


def test_a_changed_blob_is_refused_and_leaves_no_model(
    tmp_path: Path, pulled: Path, s3: Any
) -> None:
    url = f"s3://{s3.test_bucket}/models"
    mirror.push(MODELS[:1], mirror.Source(pulled), s3, url)
    manifest = json.loads((pulled / mirror.manifest_key(MODELS[0])).read_text())
    layer = manifest["layers"][0]["digest"]
    s3.put_object(Bucket=s3.test_bucket, Key=f"models/{mirror.blob_key(layer)}", Body=b"tampered")
    host = tmp_path / "host"
    with pytest.raises(SystemExit, match=f"llama3.2:1b's blob {layer[:19]} has sha256:"):
        mirror.fetch(MODELS[:1], s3, url, host)
    assert not (host / mirror.manifest_key(MODELS[0])).exists()
    assert not list((host / "blobs").glob("*.partial"))


def test_a_push_from_the_registry_api(tmp_path: Path, pulled: Path, s3: Any) -> None:
    """The deploy's path: manifests and blobs read over HTTP at the registry API's paths
    (/v2/<namespace>/<model>/manifests/<tag>, /blobs/<digest>), each blob checked."""
    root = tmp_path / "registry"
    for name in MODELS:
        namespace, model, tag = mirror.split_name(name)
        raw = (pulled / mirror.manifest_key(name)).read_bytes()
        target = root / "v2" / namespace / model / "manifests" / tag
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        for blob in mirror.blobs_of(json.loads(raw)):
            served = root / "v2" / namespace / model / "blobs" / blob["digest"]
            served.parent.mkdir(parents=True, exist_ok=True)
            served.write_bytes((pulled / mirror.blob_key(blob["digest"])).read_bytes())
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        registry = f"http://127.0.0.1:{server.server_address[1]}"
        url = f"s3://{s3.test_bucket}/models"
        report = mirror.push(MODELS, mirror.Source(registry=registry), s3, url)
    finally:
        server.shutdown()
    assert report["pushed"] == MODELS and report["blobs_copied"] == 3
    assert mirror.fetch(MODELS, s3, url, tmp_path / "host")["fetched"] == MODELS
