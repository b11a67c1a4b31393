"""Fleet benchmark on the lab. Prints figures (and writes artifacts/bench/fleet.json); asserts
nothing. Takes the lab down first and leaves it down.

    .venv/bin/python -m benchmarks.fleet_bench [--scale 1,4,16] [--skip-stack]

Stack (2 hosts, gpu-node + rag-node, the real site.yml):
  first converge; idempotent re-run (ratio to the first, target <= 0.2; changed must be 0);
  the same re-run without pipelining and without the fact cache (ratios to the re-run);
  a no-op drift run (tools/drift.py, check+diff).
Scale (base-node hosts: kernel_tuning + cloudwatch_agent only, as full-stack hosts do not fit
16 to a small machine): a no-op drift run on 1, 4 and 16 hosts (target: 16 <= 3x one).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from fleetlib.paths import REPO, venv_bin
from lab.config import HOST_PREFIX
from tests.helpers import recap, run_tool

OUT = REPO / "artifacts" / "bench"


def timed(
    label: str, *args: str | Path, **env: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    proc = run_tool(*args, timeout=3600, **env)
    took = time.monotonic() - started
    print(f"  {label:<46} {took:8.1f} s  (exit {proc.returncode})", flush=True)
    if proc.returncode not in (0, 2):
        raise SystemExit(f"{label} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return took, proc


def lab(*args: str) -> None:
    proc = run_tool(venv_bin("python"), "-m", "lab", *args, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")


def services() -> None:
    """The lab's service hosts (PostgreSQL, Redis, HAProxy), which the fleet's state needs."""
    timed("lab service hosts", venv_bin("ansible-playbook"), "-i", "inventories/lab",
          "lab/playbooks/services.yml")  # fmt: skip


def site(label: str, **env: str) -> tuple[float, int]:
    took, proc = timed(
        label, venv_bin("ansible-playbook"), "-i", "inventories/lab", "site.yml", **env
    )
    changed = sum(host["changed"] for host in recap(proc.stdout).values())
    return took, changed


def drift(label: str, limit: str = "") -> float:
    args: list[str | Path] = [venv_bin("python"), "-m", "tools.drift", "-i", "inventories/lab"]
    args += ["--out", OUT / "drift", "--fail-on-drift"]
    if limit:
        args += ["--limit", limit]
    took, proc = timed(label, *args)
    if proc.returncode != 0:
        raise SystemExit(f"{label}: the lab drifted, so this is not a no-op run:\n{proc.stdout}")
    return took


def stack() -> dict[str, float]:
    print("stack: 3 hosts (gpu-node, rag-node, gpu-node) on the shared state, site.yml", flush=True)
    lab("down")
    lab("up", "--hosts", "3", "--roles", "gpu-node,rag-node")
    services()
    first, _ = site("first converge")
    rerun, changed = site("idempotent re-run")
    no_pipelining, _ = site("re-run without pipelining", ANSIBLE_PIPELINING="false")
    no_cache, _ = site("re-run without the fact cache", ANSIBLE_CACHE_PLUGIN="memory")
    noop_drift = drift("no-op drift run (check+diff)")
    lab("down")
    return {
        "first_converge_s": first,
        "rerun_s": rerun,
        "rerun_changed": changed,
        "rerun_ratio": rerun / first,
        "rerun_without_pipelining_s": no_pipelining,
        "pipelining_ratio": no_pipelining / rerun,
        "rerun_without_fact_cache_s": no_cache,
        "fact_cache_ratio": no_cache / rerun,
        "noop_drift_s": noop_drift,
    }


def scale(sizes: list[int]) -> dict[str, float]:
    largest = max(sizes)
    print(f"scale: {largest} base-node hosts (kernel_tuning + cloudwatch_agent)", flush=True)
    lab("down")
    lab("up", "--hosts", str(largest), "--roles", "base-node")
    result: dict[str, float] = {}
    result["base_converge_s"], _ = site(f"converge of {largest} hosts")
    for size in sorted(sizes):
        hosts = ",".join(f"{HOST_PREFIX}{i}" for i in range(1, size + 1))
        result[f"noop_drift_{size}_hosts_s"] = drift(f"no-op drift run, {size} host(s)", hosts)
    smallest = min(sizes)
    result["drift_scale_ratio"] = (
        result[f"noop_drift_{largest}_hosts_s"] / result[f"noop_drift_{smallest}_hosts_s"]
    )
    lab("down")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="1,4,16", help="host counts for the drift runs")
    parser.add_argument("--skip-stack", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.scale.split(",")]
    figures: dict[str, float] = {}
    if not args.skip_stack:
        figures.update(stack())
    figures.update(scale(sizes))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fleet.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nfigures:")
    for key, value in figures.items():
        print(f"  {key:<34} {value:10.2f}")
    if "rerun_ratio" in figures:
        print(
            f"\nre-run / first converge: {figures['rerun_ratio']:.2f} (target <= 0.2),"
            f" changed on re-run: {figures['rerun_changed']:.0f} (must be 0)"
        )
    print(
        f"drift {max(sizes)} hosts / {min(sizes)} host: {figures['drift_scale_ratio']:.2f}"
        " (target <= 3)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
