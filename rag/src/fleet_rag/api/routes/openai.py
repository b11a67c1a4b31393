"""OpenAI's API: GET /v1/models, POST /v1/chat/completions (SSE stream or one JSON answer)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from fleet_rag.api.answer import ChatRequest
from fleet_rag.api.deps import AnswererDep, SettingsDep

router = APIRouter(tags=["openai"])


@router.get("/v1/models")
async def models(settings: SettingsDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": settings.model_name, "object": "model", "created": 0, "owned_by": "fleet-rag"}
        ],
    }


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    request: ChatRequest, answerer: AnswererDep
) -> StreamingResponse | JSONResponse:
    model, pieces = await answerer(request)
    completion_id = f"chatcmpl-{secrets.token_hex(8)}"
    created = int(time.time())
    if not request.stream:
        text = "".join([piece async for piece in pieces])
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text},
                    }
                ],
            }
        )

    def event(delta: dict[str, str], finish: str | None) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    async def sse() -> AsyncIterator[str]:
        yield event({"role": "assistant"}, None)
        async for piece in pieces:
            yield event({"content": piece}, None)
        yield event({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(sse(), media_type="text/event-stream")
