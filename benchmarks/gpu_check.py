"""GPU check for a GPU host (or any machine with an NVIDIA GPU), offline: the driver, CUDA through
torch, fleet-rag's embedder on CUDA against the CPU, and, where an Ollama server answers, each
model's time to first token and tokens/s and whether Ollama holds it in GPU memory. Prints
figures; exits 1 when there is no usable GPU (the message says which step failed). Not part of
`make test` (no GPU here): run it where one is, e.g. on a gpu-node with fleet-rag's venv:

    /opt/fleet-rag/venv/bin/python benchmarks/gpu_check.py [--ollama http://127.0.0.1:11434]
    .venv-rag/bin/python benchmarks/gpu_check.py          # this repository's fleet-rag venv
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

CHUNK = (
    "The Aurora turbine is inspected every 500 operating hours; the operator records the blade "
    "temperature, the vibration at the bearing and the oil pressure before a restart. "
) * 3


def driver() -> str:
    """nvidia-smi's view of the GPUs (name, driver, memory), or why there is none."""
    if shutil.which("nvidia-smi") is None:
        raise SystemExit("no nvidia-smi: the NVIDIA driver is not installed (nvidia_cuda role)")
    proc = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"nvidia-smi failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def cuda() -> str:
    import torch

    if not torch.cuda.is_available():
        raise SystemExit(f"torch {torch.__version__} sees no CUDA device (CPU build, or no driver)")
    name = torch.cuda.get_device_name(0)
    major, minor = torch.cuda.get_device_capability(0)
    size = 4096
    a = torch.randn(size, size, device="cuda", dtype=torch.float16)
    torch.matmul(a, a)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(20):
        torch.matmul(a, a)
    torch.cuda.synchronize()
    tflops = 20 * 2 * size**3 / (time.perf_counter() - started) / 1e12
    return (f"{name}, compute capability {major}.{minor}, CUDA {torch.version.cuda}, "
            f"float16 matmul {tflops:.1f} TFLOPS")  # fmt: skip


def embedder_rates(count: int) -> dict[str, float]:
    """fleet-rag's embedder, chunks/s on CUDA and on the CPU (as the service picks each)."""
    from fleet_rag.embeddings import Embedder

    rates: dict[str, float] = {}
    for device in ("cuda", "cpu"):
        model = Embedder(device=device, backend="torch")
        model.embed([CHUNK] * 8)  # load and warm up
        started = time.perf_counter()
        model.embed([CHUNK] * count)
        rates[device] = count / (time.perf_counter() - started)
    return rates


def post(url: str, body: dict[str, Any], timeout: float = 600) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    return urllib.request.urlopen(request, timeout=timeout)


def ollama_models(url: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"{url}/api/tags", timeout=5) as response:
            return [m["name"] for m in json.loads(response.read())["models"]]
    except (urllib.error.URLError, OSError):
        return []


def ollama_model(url: str, model: str) -> str:
    """One streamed answer: time to first token, generation tokens/s (Ollama's own counters), and
    the model's share in GPU memory (/api/ps size_vram)."""
    body = {"model": model, "prompt": "Explain what a GPU does, in 200 words.", "stream": True,
            "options": {"num_predict": 200}}  # fmt: skip
    started = time.perf_counter()
    first = 0.0
    final: dict[str, Any] = {}
    with post(f"{url}/api/generate", body) as response:
        for line in response:
            piece = json.loads(line)
            if piece.get("response") and not first:
                first = time.perf_counter() - started
            if piece.get("done"):
                final = piece
    rate = final.get("eval_count", 0) / max(final.get("eval_duration", 1) / 1e9, 1e-9)
    with urllib.request.urlopen(f"{url}/api/ps", timeout=10) as response:
        loaded = {m["name"]: m for m in json.loads(response.read())["models"]}
    vram, size = loaded.get(model, {}).get("size_vram", 0), loaded.get(model, {}).get("size", 0)
    where = (
        "in GPU memory"
        if vram and vram >= size
        else (
            f"PARTLY on the CPU ({vram / max(size, 1):.0%} in GPU memory)" if vram else "ON THE CPU"
        )
    )
    return f"{model}: first token {first:.2f} s, {rate:.0f} tokens/s, {where}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ollama", default="http://127.0.0.1:11434")
    parser.add_argument("--chunks", type=int, default=512)
    args = parser.parse_args(argv)
    print(f"driver: {driver()}", flush=True)
    print(f"torch: {cuda()}", flush=True)
    rates = embedder_rates(args.chunks)
    print(f"fleet-rag embedder: {rates['cuda']:.0f} chunks/s on CUDA, {rates['cpu']:.0f} on the "
          f"CPU ({rates['cuda'] / rates['cpu']:.1f}x)", flush=True)  # fmt: skip
    models = ollama_models(args.ollama)
    if not models:
        print(f"ollama: no server with models at {args.ollama} (skipped)")
    on_cpu = []
    for model in models:
        line = ollama_model(args.ollama, model)
        print(f"ollama: {line}", flush=True)
        if "CPU" in line:
            on_cpu.append(model)
    if on_cpu:
        print(f"FAILED: {', '.join(on_cpu)} not (wholly) in GPU memory", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
