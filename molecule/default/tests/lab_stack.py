"""The whole-stack scenario's view of the lab (molecule/default/tests): host names, the sample
question and its source, hosts through testinfra and Open WebUI's API from the controller."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import testinfra
from testinfra.host import Host

from lab.config import REPO, wired
from lab.podman import address

GPU_HOST = "llm-fleet-lab-1"
RAG_HOST = "llm-fleet-lab-2"
# The second GPU host: behind the load balancer with GPU_HOST, on the same shared state.
OTHER_GPU_HOST = "llm-fleet-lab-3"
ADMIN_EMAIL = "admin@llm-fleet.local"
RAG_QUESTION = "How often is the Aurora turbine maintained?"
RAG_SOURCE = "aurora-operations.pdf (page 2)"
SCREENSHOTS = REPO / "artifacts" / "browser"


def lab_host(name: str) -> Host:
    return testinfra.get_host(f"podman://{name}")


def api(method: str, url: str, token: str = "", body: object = None, timeout: float = 300) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def host_url(name: str) -> str:
    """Open WebUI on a GPU host's private address (where the load balancer reaches it)."""
    return f"http://{address(name)}:{wired('open_webui_port')}"
