"""Filters for the ollama role's GPU proof: which pinned models Ollama does not hold in GPU
memory, from its /api/ps answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def ollama_not_in_gpu(
    running: Sequence[Mapping[str, Any]], wanted: Sequence[str], min_fraction: float = 1.0
) -> list[str]:
    """Each wanted model that /api/ps does not list, or lists with less than min_fraction of its
    size in GPU memory (size_vram), described for the operator; empty when all are on the GPU."""
    loaded = {str(m.get("name") or m.get("model")): m for m in running}
    found = []
    for name in wanted:
        model = loaded.get(name)
        if model is None:
            found.append(f"{name} (not loaded)")
            continue
        size, vram = int(model.get("size", 0)), int(model.get("size_vram", 0))
        if size <= 0 or vram < size * min_fraction:
            share = 100 * vram / size if size > 0 else 0
            found.append(f"{name} ({share:.0f} % of {size} bytes in GPU memory)")
    return found


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"ollama_not_in_gpu": ollama_not_in_gpu}
