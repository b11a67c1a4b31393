"""tools/post_deploy_check.py where nothing answers: the health check fails by name (after its
bounded wait) and nothing else is tried; without the admin's password it refuses to start; a busy
fleet's refusal is waited out as its Retry-After asks, a bounded number of times. The passing
run - and a wrong password - are the whole-stack scenario's, through the lab's load balancer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fleetlib.paths import venv_bin
from lab.ec2 import free_port
from tests.helpers import run_tool
from tools.post_deploy_check import CheckFailed, Client


def test_a_platform_that_does_not_answer_fails_the_health_check(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_tool(
        venv_bin("python"), "-m", "tools.post_deploy_check", "--url", url, "--model", "m",
        "--health-wait", "1", "--summary", summary, LLM_FLEET_ADMIN_PASSWORD="x", timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    table = summary.read_text()
    assert "| health | FAILED |" in table and "GET /health" in table
    assert "sign-in" not in table  # nothing after a failed health check


def test_it_refuses_to_start_without_the_admins_password() -> None:
    proc = run_tool(
        venv_bin("python"), "-m", "tools.post_deploy_check", "--url", "http://127.0.0.1:9",
        "--model", "m", LLM_FLEET_ADMIN_PASSWORD="", timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0 and "set LLM_FLEET_ADMIN_PASSWORD" in proc.stderr


class Busy(BaseHTTPRequestHandler):
    """Refuses the first `busy` requests as the gate does (503, Retry-After: 1), then answers."""

    busy = 0
    seen = 0

    def do_POST(self) -> None:
        type(self).seen += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if type(self).seen <= type(self).busy:
            body = json.dumps({"detail": "This service is busy: try again in 1 s."}).encode()
            self.send_response(503)
            self.send_header("Retry-After", "1")
        else:
            body = b'{"ok": true}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_busy_fleet_is_waited_out_as_it_asks_then_fails_by_name(busy_server: str) -> None:
    Busy.busy, Busy.seen = 2, 0
    client = Client(busy_server, busy_retries=3)
    assert client.call("POST", "/api/chat/completions", {}) == {"ok": True}
    assert (client.waited, Busy.seen) == ([1, 1], 3)

    Busy.busy, Busy.seen = 10, 0
    client = Client(busy_server, busy_retries=2)
    with pytest.raises(CheckFailed, match=r"HTTP 503 .*busy: try again in 1 s"):
        client.call("POST", "/api/chat/completions", {})
    assert (client.waited, Busy.seen) == ([1, 1], 3)
