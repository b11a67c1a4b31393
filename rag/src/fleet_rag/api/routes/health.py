"""GET /health: the collection, its size and the embedder in use."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from fleet_rag.api.deps import EmbedderDep, StoreDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(store: StoreDep, embedder: EmbedderDep) -> dict[str, Any]:
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
