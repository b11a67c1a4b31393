"""Ollama's API, as Open WebUI calls it: GET /api/version, GET /api/tags, POST /api/chat
(NDJSON stream or one JSON answer)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from fleet_rag import __version__
from fleet_rag.api.answer import ChatRequest, now
from fleet_rag.api.deps import AnswererDep, SettingsDep

router = APIRouter(tags=["ollama"])


@router.get("/api/version")
async def version() -> dict[str, str]:
    return {"version": __version__}


@router.get("/api/tags")
async def tags(settings: SettingsDep) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": settings.model_name,
                "model": settings.model_name,
                "modified_at": now(),
                "size": 0,
                "digest": hashlib.sha256(settings.model_name.encode()).hexdigest(),
                "details": {
                    "format": "rag",
                    "family": "fleet-rag",
                    "parameter_size": "",
                    "quantization_level": "",
                    "parent_model": settings.ollama_model,
                },
            }
        ]
    }


def _message(model: str, content: str, done: bool) -> dict[str, Any]:
    event: dict[str, Any] = {
        "model": model,
        "created_at": now(),
        "done": done,
        "message": {"role": "assistant", "content": content},
    }
    if done:
        event["done_reason"] = "stop"
    return event


@router.post("/api/chat", response_model=None)
async def chat(request: ChatRequest, answerer: AnswererDep) -> StreamingResponse | JSONResponse:
    model, pieces = await answerer(request)
    if request.stream is False:
        text = "".join([piece async for piece in pieces])
        return JSONResponse(_message(model, text, done=True))

    async def ndjson() -> AsyncIterator[str]:
        async for piece in pieces:
            yield json.dumps(_message(model, piece, done=False)) + "\n"
        yield json.dumps(_message(model, "", done=True)) + "\n"

    return StreamingResponse(ndjson(), media_type="application/x-ndjson")
