"""The lab's containers during a load run: their CPU time and memory (podman stats) and where
they run (podman update --cpuset-cpus), so that the host under test and the load generator do
not share cores."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from lab.podman import podman

_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}
_SIZES = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


@dataclass(frozen=True)
class Sample:
    cpu_seconds: float
    memory_bytes: float


def seconds(text: str) -> float:
    """podman's cpu_time ("1m2.5s", "812.3ms", "1.6s") in seconds."""
    total = 0.0
    for value, unit in re.findall(r"([0-9.]+)(h|ms|µs|ns|m|s)", text):
        total += float(value) * _SECONDS[unit]
    return total


def size(text: str) -> float:
    found = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]+)", text.strip())
    if found is None:
        raise ValueError(f"not a size: {text!r}")
    return float(found[1]) * _SIZES[found[2]]


def sample(names: list[str]) -> dict[str, Sample]:
    stats = json.loads(podman("stats", "--no-stream", "--format", "json", *names) or "[]")
    return {
        s["name"]: Sample(seconds(s["cpu_time"]), size(s["mem_usage"].split("/")[0])) for s in stats
    }


def pin(container: str, cpus: str) -> None:
    podman("update", "--cpuset-cpus", cpus, container)


def pin_self(cpus: set[int]) -> None:
    """This process (and what it starts) on these cores only."""
    os.sched_setaffinity(0, cpus)


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
