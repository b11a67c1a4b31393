"""The Ollama TEST STAND-IN's streaming: answers padded to a chosen length arrive at a chosen
token rate (a stream stays in flight long enough for a host to stop under it), its capacity is
Ollama's (OLLAMA_NUM_PARALLEL slots, OLLAMA_MAX_QUEUE waiting, 503 "server busy" past them), and
a bad setting stops the server, naming it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetlib.paths import REPO
from lab.ec2 import free_port
from tests.ollama_models import StandIn

STANDIN = REPO / "tests" / "fixtures" / "ollama_standin" / "ollama"


@pytest.fixture
def paced_standin(tmp_path: Path) -> Iterator[str]:
    standin = StandIn(tmp_path, STANDIN_TOKENS_PER_SECOND="20", STANDIN_ANSWER_TOKENS="30")
    try:
        standin.pull(["m:1"])
        yield standin.url
    finally:
        standin.stop()


def test_a_streamed_answer_has_the_chosen_length_and_pace(paced_standin: str) -> None:
    body = {"model": "m:1", "messages": [{"role": "user", "content": "hello"}]}
    request = urllib.request.Request(f"{paced_standin}/api/chat", data=json.dumps(body).encode())
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:
        events = [json.loads(line) for line in response if line.strip()]
    took = time.monotonic() - started
    words = [e["message"]["content"] for e in events if not e["done"]]
    assert len(words) == 30 and words[-1].strip() == "token-30"
    assert "".join(words).startswith("Stand-in answer from m:1 to: hello")
    # 30 tokens at 20 per second cannot all arrive in less than 29 intervals of 50 ms.
    assert took >= 29 / 20


def test_num_predict_caps_the_answer_as_ollama_does(paced_standin: str) -> None:
    """The length cap the fleet sets (fleet_answer_max_tokens as options.num_predict): a 30-token
    answer stops at 12, streamed or not, and says it stopped for its length."""
    for stream in (True, False):
        body = {"model": "m:1", "messages": [{"role": "user", "content": "hello"}],
                "options": {"num_predict": 12}, "stream": stream}  # fmt: skip
        request = urllib.request.Request(
            f"{paced_standin}/api/chat", data=json.dumps(body).encode()
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
        text = "".join(e["message"]["content"] for e in events)
        assert len(text.split()) == 12, text
        assert events[-1]["done_reason"] == "length" and events[-1]["eval_count"] == 12


def test_a_bad_pace_stops_the_server_by_name(tmp_path: object) -> None:
    env = dict(os.environ, OLLAMA_HOST=f"127.0.0.1:{free_port()}", OLLAMA_MODELS=str(tmp_path),
               STANDIN_TOKENS_PER_SECOND="fast")  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(STANDIN), "serve"], env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "STANDIN_TOKENS_PER_SECOND must be a number, got 'fast'" in proc.stderr


def chat(url: str, timeout: float = 30) -> tuple[int, float, str]:
    """A streamed chat: its status, when its first token came (seconds) and its error."""
    body = {"model": "m:1", "messages": [{"role": "user", "content": "hello"}]}
    request = urllib.request.Request(f"{url}/api/chat", data=json.dumps(body).encode())
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.readline()
            first = time.monotonic() - started
            response.read()
            return response.status, first, ""
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started, json.loads(error.read())["error"]


@pytest.fixture
def two_slots(tmp_path: Path) -> Iterator[str]:
    """Two slots and one place in the queue; 30-token answers at 20 tokens/s (1.5 s each)."""
    standin = StandIn(tmp_path, STANDIN_TOKENS_PER_SECOND="20", STANDIN_ANSWER_TOKENS="30",
                      OLLAMA_NUM_PARALLEL="2", OLLAMA_MAX_QUEUE="1")  # fmt: skip
    try:
        standin.pull(["m:1"])
        yield standin.url
    finally:
        standin.stop()


def test_slots_answer_in_parallel_queue_then_refuse_at_once(two_slots: str) -> None:
    results: list[tuple[int, float, str]] = []
    threads = [threading.Thread(target=lambda: results.append(chat(two_slots))) for _ in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)  # two in the slots, the third waiting
    busy = chat(two_slots)
    for thread in threads:
        thread.join(timeout=30)
    assert busy[0] == 503 and busy[2].startswith("server busy") and busy[1] < 0.5, busy
    assert sorted(status for status, _, _ in results) == [200, 200, 200]
    # The third waited for a slot: its first token came after one whole answer.
    firsts = sorted(first for _, first, _ in results)
    assert firsts[1] < 0.5 and firsts[2] > 1.2, firsts


def test_a_client_that_goes_away_frees_its_slot(two_slots: str) -> None:
    host, port = two_slots.removeprefix("http://").split(":")
    body = json.dumps({"model": "m:1", "messages": [{"role": "user", "content": "hi"}]}).encode()
    head = f"POST /api/chat HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
    for _ in range(2):  # both slots taken by clients that then vanish mid-stream
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(head.encode() + body)
            assert client.recv(4096).startswith(b"HTTP/1.0 200")
    # The stand-in notices at its next token (50 ms) and frees both: two answers at once again.
    time.sleep(0.5)
    results: list[tuple[int, float, str]] = []
    threads = [threading.Thread(target=lambda: results.append(chat(two_slots))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [status for status, _, _ in results] == [200, 200]
    assert max(first for _, first, _ in results) < 0.5, results


@pytest.mark.parametrize(("name", "value"), [("OLLAMA_NUM_PARALLEL", "0"),
                                             ("OLLAMA_MAX_QUEUE", "many")])  # fmt: skip
def test_a_bad_capacity_stops_the_server_by_name(tmp_path: Path, name: str, value: str) -> None:
    env = dict(os.environ, OLLAMA_HOST=f"127.0.0.1:{free_port()}", OLLAMA_MODELS=str(tmp_path))
    env[name] = value
    proc = subprocess.run(
        [sys.executable, str(STANDIN), "serve"], env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert f"{name} must be a whole number of 1 or more, got {value!r}" in proc.stderr
