"""The whole-stack scenario's view of the lab (molecule/default/tests): host names, the sample
question and its source, hosts through testinfra and Open WebUI's API from the controller."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import testinfra
from testinfra.host import Host

GPU_HOST = "llm-fleet-lab-1"
RAG_HOST = "llm-fleet-lab-2"
ADMIN_EMAIL = "admin@llm-fleet.local"
RAG_QUESTION = "How often is the Aurora turbine maintained?"
RAG_SOURCE = "aurora-operations.pdf (page 2)"


def lab_host(name: str) -> Host:
    return testinfra.get_host(f"podman://{name}")


def api(method: str, url: str, token: str = "", body: object = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())
