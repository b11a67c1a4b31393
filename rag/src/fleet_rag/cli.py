"""`fleet-rag ingest|query|list|delete|serve`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fleet_rag.documents import cite
from fleet_rag.settings import Settings

if TYPE_CHECKING:  # imported where used: `fleet-rag list` must not load torch
    from fleet_rag.ingest import FileResult, TextEmbedder
    from fleet_rag.store import Store


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleet-rag",
        description="Ingest documents into ChromaDB and answer questions over them. "
        "Settings come from FLEET_RAG_* variables; flags override them.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--collection", help="collection name (FLEET_RAG_COLLECTION)")
    common.add_argument("--chroma-url", help="Chroma server URL (FLEET_RAG_CHROMA_URL)")
    common.add_argument("--data-dir", type=Path, help="embedded store folder, without a server")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser(
        "ingest", parents=[common], help="ingest files and folders (PDF, DOCX, MD, TXT)"
    )
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")
    ingest.add_argument("--no-progress", action="store_true")
    ingest.add_argument(
        "--check", action="store_true", help="report what would change; write nothing"
    )

    query = sub.add_parser(
        "query", parents=[common], help="the chunks nearest to a question, with sources"
    )
    query.add_argument("text")
    query.add_argument("-k", "--top-k", type=int)
    query.add_argument("--threshold", type=float)
    query.add_argument("--no-mmr", action="store_true")
    query.add_argument("--json", action="store_true")

    listing = sub.add_parser(
        "list", parents=[common], help="sources in the collection with chunk counts"
    )
    listing.add_argument("--json", action="store_true")

    delete = sub.add_parser("delete", parents=[common], help="remove a source's chunks")
    delete.add_argument("sources", nargs="+")

    serve = sub.add_parser("serve", parents=[common], help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            collection=args.collection, chroma_url=args.chroma_url, data_dir=args.data_dir
        )
    except ValueError as exc:
        print(f"fleet-rag: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        import uvicorn

        from fleet_rag.service import create_app

        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
        return 0

    from fleet_rag.store import Store

    store = Store.open(settings)
    if args.command == "list":
        sources = store.sources()
        if args.json:
            print(json.dumps(sources, indent=2))
        else:
            for source, count in sources.items():
                print(f"{count:6d}  {source}")
            print(f"{len(sources)} sources, {sum(sources.values())} chunks in {store.name}")
        return 0
    if args.command == "delete":
        missing = 0
        for source in args.sources:
            removed = store.delete_source(source)
            print(f"{source}: removed {removed} chunks" if removed else f"{source}: not found")
            missing += removed == 0
        return 1 if missing else 0

    from fleet_rag.embeddings import Embedder, LazyEmbedder

    if args.command == "ingest":  # unchanged files need no model: load it only to embed
        return run_ingest(
            args, settings, store, LazyEmbedder(lambda: Embedder.from_settings(settings))
        )
    embedder = Embedder.from_settings(settings)
    if args.command == "query":
        from fleet_rag.retrieval import retrieve

        matches = retrieve(
            store,
            embedder,
            args.text,
            settings,
            top_k=args.top_k,
            threshold=args.threshold,
            mmr=False if args.no_mmr else None,
        )
        if args.json:
            rows = [
                {
                    "id": m.id,
                    "similarity": round(m.similarity, 4),
                    "source": cite(m.metadata),
                    "metadata": m.metadata,
                    "text": m.text,
                }
                for m in matches
            ]
            print(json.dumps(rows, indent=2))
        else:
            for m in matches:
                print(f"{m.similarity:.3f}  {cite(m.metadata)}\n        {m.text[:160]!r}")
            if not matches:
                print("no chunk above the similarity threshold")
        return 0
    raise AssertionError(f"unknown command {args.command}")  # argparse allows no other


def run_ingest(
    args: argparse.Namespace, settings: Settings, store: Store, embedder: TextEmbedder
) -> int:
    from tqdm import tqdm

    from fleet_rag.ingest import FileStatus, expand, ingest_paths

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"fleet-rag: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    total = sum(1 for _ in expand(args.paths))
    bar = tqdm(total=total, unit="file", disable=args.no_progress or args.json, file=sys.stderr)

    def progress(result: FileResult) -> None:
        bar.update(1)
        bar.set_postfix_str(result.source)

    summary = ingest_paths(args.paths, store, embedder, settings, progress, dry_run=args.check)
    bar.close()
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        for f in summary.files:
            if f.status is FileStatus.FAILED:
                detail = f.reason
            elif f.status is FileStatus.REMOVED:
                detail = f"{f.removed} chunks {'to remove' if args.check else 'removed'}"
            else:
                detail = f"{f.chunks} chunks"
            print(f"{f.status.value:<9} {f.source}: {detail}")
        print(
            f"{'check, nothing written: ' if args.check else ''}"
            f"{len(summary.files)} files: "
            + ", ".join(f"{summary.count(s)} {s.value}" for s in FileStatus)
            + f"; {summary.chunks} chunks "
            f"{'to write' if args.check else 'written'} "
            f"(collection {store.name}, {store.count()} chunks in all)"
        )
    return 1 if summary.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
