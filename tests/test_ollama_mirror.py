"""The fleet's model mirror (roles/ollama/files/ollama_mirror.py) with real parts: the Ollama
TEST STAND-IN (not Ollama) stores pulled models as Ollama does, the mirror is moto's S3 (the
lab's AWS API), and the registry a push reads from is served over HTTP with the registry API's
paths. A model fetched from the mirror is listed and answers without a pull; a blob changed in
the bucket is refused by name and leaves no model behind."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lab.config import REGION
from lab.ec2 import DUMMY_CREDENTIALS, MotoServer
from tests.ollama_models import StandIn, mirror, registry_tree, serving

MODELS = ["llama3.2:1b", "me/embedder:v2"]


@pytest.fixture
def pulled(tmp_path: Path) -> Iterator[Path]:
    """A models folder where the stand-in pulled MODELS (Ollama's layout)."""
    folder = tmp_path / "pulled"
    standin = StandIn(folder)
    try:
        standin.pull(MODELS)
        assert standin.tags() == sorted(MODELS)
        assert mirror.models_in(folder) == sorted(MODELS)  # what lab scale mirrors
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
    registry_tree(pulled, MODELS, root)
    url = f"s3://{s3.test_bucket}/models"
    with serving(root) as registry:
        report = mirror.push(MODELS, mirror.Source(registry=registry), s3, url)
    assert report["pushed"] == MODELS and report["blobs_copied"] == 3
    assert mirror.fetch(MODELS, s3, url, tmp_path / "host")["fetched"] == MODELS
