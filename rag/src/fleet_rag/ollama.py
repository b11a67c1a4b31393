"""A small client for the Ollama chat API (streaming NDJSON)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx


class OllamaError(RuntimeError):
    pass


async def chat_stream(
    base_url: str,
    model: str,
    messages: list[dict[str, str]],
    timeout: float,
    options: dict[str, Any] | None = None,
) -> AsyncIterator[str]:
    """Yield the answer's text pieces as Ollama streams them."""
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": True}
    if options:
        body["options"] = options
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as client,
        client.stream("POST", "/api/chat", json=body) as response,
    ):
        if response.status_code != 200:
            detail = (await response.aread()).decode(errors="replace")[:300]
            raise OllamaError(f"Ollama answered {response.status_code}: {detail}")
        async for line in response.aiter_lines():
            if not line.strip():
                continue
            event = json.loads(line)
            if "error" in event:
                raise OllamaError(str(event["error"]))
            piece = event.get("message", {}).get("content", "")
            if piece:
                yield piece
            if event.get("done"):
                return
