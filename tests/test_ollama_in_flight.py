"""The in-flight gauge's counting (roles/ollama/files/ollama_in_flight.py) on this machine's own
kernel: real connections to a listening port, in each state a connection to Ollama can be in."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from fleetlib.paths import REPO

SCRIPT = REPO / "roles/ollama/files/ollama_in_flight.py"


@pytest.fixture
def server() -> Iterator[tuple[socket.socket, int]]:
    listener = socket.create_server(("127.0.0.1", 0))
    yield listener, listener.getsockname()[1]
    listener.close()


def count(port: int) -> int:
    proc = subprocess.run([sys.executable, SCRIPT, "--once"], env={"OLLAMA_PORT": str(port)},
                          capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    return int(proc.stdout)


def test_pending_and_streaming_requests_count_and_an_idle_pooled_connection_does_not(
    server: tuple[socket.socket, int],
) -> None:
    listener, port = server
    idle = socket.create_connection(("127.0.0.1", port))
    idle_side, _ = listener.accept()
    idle.sendall(b"POST /api/chat HTTP/1.1\r\n\r\n")
    time.sleep(0.05)
    idle_side.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")  # answered, kept for reuse
    assert count(port) == 1  # within ACTIVE_MS of its last answer: still counted
    time.sleep(1.2)
    assert count(port) == 0  # an idle pooled connection is no generation

    queued = socket.create_connection(("127.0.0.1", port))
    queued_side, _ = listener.accept()  # kept open: Ollama holds a queued request's connection
    queued.sendall(b"POST /api/chat HTTP/1.1\r\n\r\n")  # waiting for a slot, nothing sent back
    streaming = socket.create_connection(("127.0.0.1", port))
    streaming_side, _ = listener.accept()
    streaming.sendall(b"POST /api/chat HTTP/1.1\r\n\r\n")
    time.sleep(1.2)
    streaming_side.sendall(b'{"message": {"content": "token"}}\n')  # a token just now
    assert count(port) == 2
    idle.sendall(b"POST /api/chat HTTP/1.1\r\n\r\n")  # the pooled connection reused
    time.sleep(0.05)
    assert count(port) == 3
    for connection in (idle, queued, streaming, idle_side, queued_side, streaming_side):
        connection.close()
