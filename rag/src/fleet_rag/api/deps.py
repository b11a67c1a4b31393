"""What the routes share, from app.state (set once by the lifespan in fleet_rag.service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fleet_rag.api.answer import Answerer
from fleet_rag.embeddings import Embedder
from fleet_rag.settings import Settings
from fleet_rag.store import Store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_embedder(request: Request) -> Embedder:
    embedder: Embedder = request.app.state.embedder
    return embedder


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
EmbedderDep = Annotated[Embedder, Depends(get_embedder)]


def get_answerer(settings: SettingsDep, store: StoreDep, embedder: EmbedderDep) -> Answerer:
    return Answerer(settings, store, embedder)


AnswererDep = Annotated[Answerer, Depends(get_answerer)]
