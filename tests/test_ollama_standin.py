"""The Ollama TEST STAND-IN's streaming: answers padded to a chosen length arrive at a chosen
token rate (a stream stays in flight long enough for a host to stop under it), and a bad
setting stops the server, naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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
