"""The HTTP service Open WebUI adds as a model connection.

Ollama-compatible: GET /api/version, GET /api/tags, POST /api/chat (NDJSON stream or JSON).
OpenAI-compatible: GET /v1/models, POST /v1/chat/completions (SSE stream or JSON).
Each answer retrieves context for the last user message, asks Ollama with a grounded prompt
and ends with the Sources list. Plus GET /health and POST /ingest (bearer token)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Header, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from fleet_rag import __version__
from fleet_rag.embeddings import Embedder
from fleet_rag.ingest import ingest_file
from fleet_rag.ollama import OllamaError, chat_stream
from fleet_rag.prompting import grounded_messages, last_user_message, sources_block
from fleet_rag.retrieval import retrieve
from fleet_rag.settings import Settings
from fleet_rag.store import Match, Store


class ChatRequest(BaseModel):
    model: str = ""
    messages: list[dict[str, Any]]
    stream: bool | None = None


def text_of(message: dict[str, Any]) -> dict[str, str]:
    """Messages may carry a list of parts (text, images): keep the text."""
    content = message.get("content", "")
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return {"role": str(message.get("role", "user")), "content": str(content)}


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def create_app(
    settings: Settings,
    embedder_factory: Callable[[], Embedder] | None = None,
    store_factory: Callable[[], Store] | None = None,
) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["embedder"] = (embedder_factory or (lambda: Embedder.from_settings(settings)))()
        state["store"] = (store_factory or (lambda: Store.open(settings)))()
        yield

    app = FastAPI(title="fleet-rag", version=__version__, lifespan=lifespan)
    model_digest = hashlib.sha256(settings.model_name.encode()).hexdigest()

    async def answer(request: ChatRequest) -> tuple[list[Match], AsyncIterator[str]]:
        messages = [text_of(m) for m in request.messages]
        question = last_user_message(messages)
        if not question:
            raise HTTPException(status_code=400, detail="no user message to answer")
        matches: list[Match] = await run_in_threadpool(
            retrieve, state["store"], state["embedder"], question, settings
        )

        async def pieces() -> AsyncIterator[str]:
            async for piece in chat_stream(
                settings.ollama_url,
                settings.ollama_model,
                grounded_messages(messages, matches),
                settings.request_timeout,
            ):
                yield piece
            yield sources_block(matches)

        return matches, pieces()

    @app.get("/health")
    async def health() -> dict[str, Any]:
        store: Store = state["store"]
        embedder: Embedder = state["embedder"]
        chunks = await run_in_threadpool(store.count)
        return {
            "status": "ok",
            "collection": store.name,
            "chunks": chunks,
            "embedder": {
                "device": embedder.device,
                "precision": embedder.precision,
                "backend": embedder.backend,
            },
        }

    @app.get("/api/version")
    async def version() -> dict[str, str]:
        return {"version": __version__}

    @app.get("/api/tags")
    async def tags() -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": settings.model_name,
                    "model": settings.model_name,
                    "modified_at": now(),
                    "size": 0,
                    "digest": model_digest,
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

    @app.post("/api/chat", response_model=None)
    async def ollama_chat(request: ChatRequest) -> StreamingResponse | JSONResponse:
        _, pieces = await answer(request)
        model = request.model or settings.model_name

        if request.stream is False:
            text = "".join([piece async for piece in _guarded(pieces)])
            return JSONResponse(
                {
                    "model": model,
                    "created_at": now(),
                    "done": True,
                    "done_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            )

        async def ndjson() -> AsyncIterator[str]:
            async for piece in _guarded(pieces):
                event = {
                    "model": model,
                    "created_at": now(),
                    "done": False,
                    "message": {"role": "assistant", "content": piece},
                }
                yield json.dumps(event) + "\n"
            final = {
                "model": model,
                "created_at": now(),
                "done": True,
                "done_reason": "stop",
                "message": {"role": "assistant", "content": ""},
            }
            yield json.dumps(final) + "\n"

        return StreamingResponse(ndjson(), media_type="application/x-ndjson")

    @app.get("/v1/models")
    async def openai_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": settings.model_name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "fleet-rag",
                }
            ],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def openai_chat(request: ChatRequest) -> StreamingResponse | JSONResponse:
        _, pieces = await answer(request)
        model = request.model or settings.model_name
        completion_id = f"chatcmpl-{secrets.token_hex(8)}"
        created = int(time.time())
        if not request.stream:
            text = "".join([piece async for piece in _guarded(pieces)])
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

        async def sse() -> AsyncIterator[str]:
            def event(delta: dict[str, str], finish: str | None) -> str:
                body = {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
                return f"data: {json.dumps(body)}\n\n"

            yield event({"role": "assistant"}, None)
            async for piece in _guarded(pieces):
                yield event({"content": piece}, None)
            yield event({}, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream")

    @app.post("/ingest")
    async def upload(
        files: list[UploadFile] = File(...),  # noqa: B008
        authorization: str = Header(default=""),
    ) -> dict[str, Any]:
        if not settings.ingest_token:
            raise HTTPException(status_code=503, detail="uploads are disabled (no ingest token)")
        offered = authorization.removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), settings.ingest_token.encode()):
            raise HTTPException(status_code=401, detail="a valid bearer token is required")
        results = []
        with tempfile.TemporaryDirectory(prefix="fleet-rag-upload-") as tmp:
            for upload_file in files:
                name = Path(upload_file.filename or "upload").name
                target = Path(tmp) / name
                target.write_bytes(await upload_file.read())
                result = await run_in_threadpool(
                    ingest_file, target, name, state["store"], state["embedder"], settings
                )
                results.append(result.__dict__)
        failed = any(r["status"] == "failed" for r in results)
        return {"files": results, "failed": failed}

    return app


async def _guarded(pieces: AsyncIterator[str]) -> AsyncIterator[str]:
    """Turn an Ollama failure mid-answer into a readable message instead of a broken stream."""
    try:
        async for piece in pieces:
            yield piece
    except OllamaError as exc:
        yield f"\n\n[fleet-rag: the language model is unavailable: {exc}]"
    except Exception as exc:  # httpx connection errors and the like
        yield f"\n\n[fleet-rag: the language model is unavailable: {type(exc).__name__}]"
