"""A grounded answer, whatever the protocol: retrieve for the last user message, stream Ollama's
answer to the grounded prompt, end with the Sources list (the passages the answer cited)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from fleet_rag.embeddings import Embedder
from fleet_rag.ollama import OllamaError, chat_stream
from fleet_rag.prompting import cited, grounded_messages, last_user_message, sources_block
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


async def answer(
    request: ChatRequest, settings: Settings, store: Store, embedder: Embedder
) -> tuple[list[Match], AsyncIterator[str]]:
    """The chunks the answer is grounded on, and the answer's pieces (Ollama failures included
    as a readable last piece rather than a broken stream)."""
    messages = [text_of(m) for m in request.messages]
    question = last_user_message(messages)
    if not question:
        raise HTTPException(status_code=400, detail="no user message to answer")
    matches: list[Match] = await run_in_threadpool(retrieve, store, embedder, question, settings)

    async def pieces() -> AsyncIterator[str]:
        said: list[str] = []
        async for piece in chat_stream(
            settings.ollama_url,
            settings.ollama_model,
            grounded_messages(messages, matches),
            settings.request_timeout,
            options={"num_predict": settings.answer_max_tokens},
        ):
            said.append(piece)
            yield piece
        yield sources_block(cited(matches, "".join(said)))  # what the answer used

    return matches, guarded(pieces())


@dataclass(frozen=True)
class Answerer:
    """What every chat route needs: the model name to answer as, and the answer's pieces."""

    settings: Settings
    store: Store
    embedder: Embedder

    async def __call__(self, request: ChatRequest) -> tuple[str, AsyncIterator[str]]:
        _, pieces = await answer(request, self.settings, self.store, self.embedder)
        return request.model or self.settings.model_name, pieces


async def guarded(pieces: AsyncIterator[str]) -> AsyncIterator[str]:
    """Turn an Ollama failure mid-answer into a readable message instead of a broken stream."""
    try:
        async for piece in pieces:
            yield piece
    except OllamaError as exc:
        yield f"\n\n[fleet-rag: the language model is unavailable: {exc}]"
    except Exception as exc:  # httpx connection errors and the like
        yield f"\n\n[fleet-rag: the language model is unavailable: {type(exc).__name__}]"
