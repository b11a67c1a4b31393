"""A short load through the load balancer (benchmarks/load, Locust): 20 users sign in, open a
chat, ask, read the streamed answer, save it to their chat, think 1-3 s and ask again, for 30 s,
spread over both gpu-nodes by the load balancer. The model is the Ollama TEST STAND-IN, streaming
40-token answers at 40 tokens/s. Asserts what users see - no error, answers that stream - never a
timing: the figures are the benchmarks' (python -m benchmarks.load.run)."""

from __future__ import annotations

from benchmarks.load.run import OUT, Lab, smoke


def test_twenty_users_chat_through_the_load_balancer_without_an_error() -> None:
    result, stats = smoke(Lab.find(), users=20, seconds=30, out=OUT / "smoke")
    assert stats["failures"] == [], stats["failures"]
    requests = stats["stats"]
    assert requests["sign in"]["requests"] == 20 and requests["sign in"]["failures"] == 0
    assert requests["Aggregated"]["failures"] == 0
    assert result["signin_failed"] == result["refused"] == result["cut"] == result["empty"] == 0
    assert result["answers"] >= 20, result  # every user was answered at least once
    assert requests["answer"]["requests"] >= 20 and requests["save the chat"]["requests"] >= 20
    # Streamed: each answer came in pieces (the stand-in's 40 tokens), not as one block.
    assert result["tokens"] >= 30 * result["answers"], result
