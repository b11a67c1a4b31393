"""POST /ingest: documents uploaded with the ingest token, stored like the CLI's ingestion."""

from __future__ import annotations

import hmac
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from fleet_rag.api.deps import EmbedderDep, SettingsDep, StoreDep
from fleet_rag.ingest import FileStatus, ingest_file

router = APIRouter(tags=["ingest"])


@router.post("/ingest")
async def upload(
    files: Annotated[list[UploadFile], File()],
    settings: SettingsDep,
    store: StoreDep,
    embedder: EmbedderDep,
    authorization: Annotated[str, Header()] = "",
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
            results.append(
                await run_in_threadpool(ingest_file, target, name, store, embedder, settings)
            )
    return {
        "files": [r.as_dict() for r in results],
        "failed": any(r.status is FileStatus.FAILED for r in results),
    }
