"""Rebuild Open WebUI's vectors in the fleet's Chroma from what the fleet keeps: every knowledge
collection from the text PostgreSQL holds (Open WebUI's own reindex), then every chat attachment
from its file in the uploads bucket (extracted and embedded again). For a vector store that was
lost or wiped; what is already indexed is replaced, so a second run changes nothing a user sees.

Signs in as the fleet's admin (email in OPEN_WEBUI_ADMIN_EMAIL, password read from the root-only
file named by OPEN_WEBUI_ADMIN_PASSWORD_FILE) at OPEN_WEBUI_URL, this host's Open WebUI. Standard
library only. Its last line of output is one JSON object: {"knowledge_bases", "knowledge_files",
"attachments", "failed": [...], "seconds"}; it exits 1 when an attachment failed (Open WebUI's
knowledge reindex logs its own failures and goes on)."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# A reindex embeds every file on this host's CPU or GPU: allow it the time that takes.
TIMEOUT_S = 3600


def call(url: str, token: str = "", body: object = None, method: str = "POST") -> Any:
    request = urllib.request.Request(
        url, method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return json.loads(response.read())


def listed(url: str, token: str) -> list[dict[str, Any]]:
    """Every item of one of Open WebUI's paged listings ({"items": [...], "total": n})."""
    found: list[dict[str, Any]] = []
    for page in range(1, 100_000):
        listing = call(f"{url}{'&' if '?' in url else '?'}page={page}", token, method="GET")
        items = listing["items"] if isinstance(listing, dict) else listing
        found += items
        total = int(listing.get("total", 0)) if isinstance(listing, dict) else len(found)
        if not items or len(found) >= total:
            break
    return found


def main() -> int:
    base = os.environ["OPEN_WEBUI_URL"].rstrip("/")
    password = Path(os.environ["OPEN_WEBUI_ADMIN_PASSWORD_FILE"]).read_text().strip()
    started = time.monotonic()
    token = call(
        f"{base}/api/v1/auths/signin",
        body={"email": os.environ["OPEN_WEBUI_ADMIN_EMAIL"], "password": password},
    )["token"]
    bases = listed(f"{base}/api/v1/knowledge/", token)
    in_bases = {
        item["id"]
        for knowledge in bases
        for item in listed(f"{base}/api/v1/knowledge/{knowledge['id']}/files?limit=100", token)
    }
    # Chat attachments: the files in no knowledge collection (their vectors are file-<id>).
    files = [
        item
        for item in listed(f"{base}/api/v1/files/?content=false", token)
        if item["id"] not in in_bases
    ]
    print(f"re-indexing {len(bases)} knowledge collections ({len(in_bases)} files)", flush=True)
    call(f"{base}/api/v1/knowledge/reindex", token)
    failed: list[dict[str, str]] = []
    for number, item in enumerate(files, start=1):
        print(f"re-indexing attachment {number}/{len(files)}: {item['filename']}", flush=True)
        try:
            call(f"{base}/api/v1/retrieval/process/file", token, {"file_id": item["id"]})
        except urllib.error.HTTPError as exc:
            failed.append({"file": item["filename"], "error": f"{exc.code} {exc.read()[:200]!r}"})
    summary = {
        "knowledge_bases": len(bases),
        "knowledge_files": len(in_bases),
        "attachments": len(files) - len(failed),
        "failed": failed,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
