"""The HTTP service Open WebUI adds as a model connection: create_app only wires.

Ollama-compatible: GET /api/version, GET /api/tags, POST /api/chat (NDJSON stream or JSON).
OpenAI-compatible: GET /v1/models, POST /v1/chat/completions (SSE stream or JSON).
Each answer retrieves context for the last user message, asks Ollama with a grounded prompt
and ends with the Sources list. Plus GET /health and POST /ingest (bearer token). The routers
live in fleet_rag.api.routes; the settings, store and embedder on app.state (fleet_rag.api.deps)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fleet_rag import __version__
from fleet_rag.api.routes import health, ingest, ollama, openai
from fleet_rag.embeddings import Embedder
from fleet_rag.settings import Settings
from fleet_rag.store import Store


def create_app(
    settings: Settings,
    embedder_factory: Callable[[], Embedder] | None = None,
    store_factory: Callable[[], Store] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.embedder = (embedder_factory or (lambda: Embedder.from_settings(settings)))()
        app.state.store = (store_factory or (lambda: Store.open(settings)))()
        yield

    app = FastAPI(title="fleet-rag", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    for router in (health.router, ollama.router, openai.router, ingest.router):
        app.include_router(router)
    return app
