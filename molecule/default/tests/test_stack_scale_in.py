"""Scale-in without cutting answers: a user's answer is streaming from the second gpu-node (the
self-configured one) when the fleet scales in and that host is the one to go (`lab scale
--gpu-nodes 1`, as the auto scaling group takes a host out: deregistered from the target group,
drained for at most the deregistration delay - the wiring's fleet_answer_drain_seconds -, then
terminated). The answer streams to its end; the next question is answered by the remaining host.
The model is the Ollama TEST STAND-IN, paced on that host so that the answer outlasts the load
balancer's update. Runs last: the host is gone afterwards."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field

import pytest
from lab_stack import GPU_HOST, OTHER_GPU_HOST, answer_text, chat

from fleetlib.paths import venv_bin
from fleetlib.wiring import templated, wired_file
from lab.state import LabState
from lab.units import pace
from tests.helpers import run_tool

# 6 tokens/s for 240 tokens: a 40 s answer, longer than the load balancer's update takes.
PACE_RATE, PACE_TOKENS = 6, 240
MODEL = "llama3.2:1b"


@dataclass
class Stream:
    """One streamed chat completion through the load balancer, pinned to a host by its
    stickiness cookie (as the user's browser is), read in the background."""

    url: str
    token: str
    instance_id: str
    pieces: list[str] = field(default_factory=list)
    done: bool = False
    error: str = ""
    started: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        body = {"model": MODEL, "stream": True,
                "messages": [{"role": "user", "content": "Tell me a long story."}]}  # fmt: skip
        request = urllib.request.Request(
            f"{self.url}/api/chat/completions", data=json.dumps(body).encode()
        )
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        request.add_header("Cookie", f"AWSALB={self.instance_id}")
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                for raw in response:
                    line = raw.decode().strip()
                    if line == "data: [DONE]":
                        self.done = True
                    elif line.startswith("data: "):
                        event = json.loads(line[6:])
                        for choice in event.get("choices", []):
                            self.pieces.append(choice.get("delta", {}).get("content") or "")
                        self.started.set()
        except Exception as exc:  # what the user would see: a cut stream
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.started.set()


@pytest.mark.disruptive
@pytest.mark.last
def test_a_leaving_host_finishes_the_answer_it_is_streaming(
    webui_url: str, webui_token: str
) -> None:
    state = LabState.load()
    assert state is not None
    leaving = next(h for h in state.hosts if h.name == OTHER_GPU_HOST)
    pace(OTHER_GPU_HOST, PACE_RATE, PACE_TOKENS)
    stream = Stream(webui_url, webui_token, leaving.instance_id)
    reader = threading.Thread(target=stream.run, daemon=True)
    reader.start()
    assert stream.started.wait(60) and not stream.error, stream.error
    asked = time.monotonic()

    scaled = run_tool(venv_bin("python"), "-m", "lab", "scale", "--gpu-nodes", "1", timeout=900)
    assert scaled.returncode == 0, scaled.stdout[-2000:] + scaled.stderr[-2000:]
    reader.join(timeout=300)

    text = "".join(stream.pieces)
    assert stream.error == "" and stream.done, f"cut after {len(text.split())} tokens"
    assert "token-240" in text  # the whole padded answer arrived
    assert f"{OTHER_GPU_HOST} terminated (0 cut)" in scaled.stdout
    drained = float(scaled.stdout.split("drained", 1)[1].split()[0])
    limit = int(templated(wired_file("fleet_answer"), "fleet_answer_drain_seconds"))
    assert 0 < drained < limit, scaled.stdout
    print(f"answer streamed for {time.monotonic() - asked:.0f}s; scale-in:\n{scaled.stdout}")

    # The host is gone (its instance terminated, the lab's state without it) and the fleet
    # answers through the one left.
    after = LabState.load()
    assert after is not None and [h.name for h in after.hosts if h.role == "gpu-node"] == [GPU_HOST]
    reply = chat(webui_url, webui_token, MODEL, "Still there?")
    assert answer_text(reply).startswith(f"Stand-in answer from {MODEL}")
