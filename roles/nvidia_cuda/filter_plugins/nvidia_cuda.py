"""Filters for the nvidia_cuda role."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

FIELDS = ("name", "driver_version", "memory_mib")


def nvidia_smi_gpus(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of `nvidia-smi --query-gpu=name,driver_version,memory.total
    --format=csv,noheader,nounits` as dicts; memory in MiB as an int."""
    gpus = []
    for line in lines:
        if not line.strip():
            continue
        values = [value.strip() for value in line.rsplit(",", 2)]
        if len(values) != len(FIELDS):
            raise ValueError(f"unexpected nvidia-smi line: {line!r}")
        gpu: dict[str, Any] = dict(zip(FIELDS, values, strict=True))
        gpu["memory_mib"] = int(gpu["memory_mib"])
        gpus.append(gpu)
    return gpus


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"nvidia_smi_gpus": nvidia_smi_gpus}
