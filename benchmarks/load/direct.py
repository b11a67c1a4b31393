"""The same chat load sent straight to Ollama (here its TEST STAND-IN) from inside a GPU host,
where Ollama listens on loopback: the model's own path, without the load balancer and Open WebUI.
Standard library only (it runs on the host's Python):

    python3 direct.py URL MODEL USERS SECONDS

Each of USERS threads asks, reads the streamed answer (Ollama's /api/chat, one JSON object per
line) and asks again until SECONDS have passed. Prints one JSON object: answers, errors, tokens,
seconds, time to first token and inter-token gap percentiles (milliseconds)."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request

QUESTION = "What should a new operator of the fleet check first?"


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(url: str, model: str, users: int, seconds: float) -> dict[str, float]:
    lock = threading.Lock()
    firsts: list[float] = []
    gaps: list[float] = []
    counts = {"answers": 0, "errors": 0, "tokens": 0}
    stop_at = time.monotonic() + seconds
    body = json.dumps(
        {"model": model, "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    ).encode()

    def user() -> None:
        while time.monotonic() < stop_at:
            started = last = time.perf_counter()
            first, mine, tokens = None, [], 0
            try:
                request = urllib.request.Request(f"{url}/api/chat", data=body)
                with urllib.request.urlopen(request, timeout=300) as response:
                    for line in response:
                        piece = json.loads(line)
                        if piece.get("message", {}).get("content"):
                            now = time.perf_counter()
                            if first is None:
                                first = now - started
                            else:
                                mine.append(now - last)
                            last, tokens = now, tokens + 1
                        if piece.get("done"):
                            break
                ok = first is not None
            except OSError:
                ok = False
            with lock:
                if ok:
                    counts["answers"] += 1
                    counts["tokens"] += tokens
                    firsts.append(first or 0.0)
                    gaps.extend(mine)
                else:
                    counts["errors"] += 1

    began = time.monotonic()
    threads = [threading.Thread(target=user, daemon=True) for _ in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 330)
    took = time.monotonic() - began
    return {
        **counts,
        "seconds": round(took, 1),
        "ttft_p50_ms": round(percentile(firsts, 0.50) * 1000, 1),
        "ttft_p95_ms": round(percentile(firsts, 0.95) * 1000, 1),
        "ttft_p99_ms": round(percentile(firsts, 0.99) * 1000, 1),
        "gap_p95_ms": round(percentile(gaps, 0.95) * 1000, 1),
        "tokens_per_s": round(counts["tokens"] / took, 1),
    }


if __name__ == "__main__":
    url, model, users, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(main(url, model, users, seconds)))
