"""RAG benchmark: ingest throughput (fleet-rag vs. a LangChain baseline with the same embedding
model and store) and retrieval latency at 10k and 100k chunks, on the embedded store and through
Chroma's server as the chromadb_rag role deploys it. Prints figures; asserts nothing.

    .venv-rag/bin/python -m benchmarks.rag_bench [--mb 5] [--sizes 10000,100000] [--queries 200]

Also each embedder backend alone, on idle cores and with one core busy.

Targets: >= 200 chunks/s on 2 cores, >= 1.5x the baseline, retrieval p95 <= 30 ms at 100k.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fleet_rag.chunking import chunk_sections
from fleet_rag.embeddings import Embedder
from fleet_rag.ingest import ingest_paths
from fleet_rag.loaders import load_document
from fleet_rag.retrieval import retrieve
from fleet_rag.settings import Settings
from fleet_rag.store import Store
from fleet_rag_testing.servers import chroma_server  # the package's test helper

TOPICS = ["reactor", "turbine", "telescope", "penguin", "bakery", "glacier", "satellite",
          "orchard", "harbour", "library", "volcano", "monastery"]  # fmt: skip
VERBS = ["inspects", "polishes", "measures", "feeds", "repairs", "maps", "records", "cools"]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(TOPICS).capitalize(), rng.choice(VERBS), "the", rng.choice(TOPICS)]
    words += [rng.choice(TOPICS + VERBS) for _ in range(rng.randint(6, 14))]
    return " ".join(words) + "."


def write_corpus(folder: Path, megabytes: float, seed: int = 7) -> int:
    """Markdown and text files of synthetic prose, plus a few PDFs and DOCX files."""
    from fleet_rag_testing.samples import write_docx, write_pdf  # the package's own sample writers

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written, index = 0, 0
    while written < megabytes * 1_000_000:
        sections = []
        for s in range(8):
            paragraphs = [" ".join(sentence(rng) for _ in range(rng.randint(3, 7)))
                          for _ in range(rng.randint(2, 5))]  # fmt: skip
            sections.append(f"## Section {s}\n\n" + "\n\n".join(paragraphs))
        text = f"# Document {index}\n\n" + "\n\n".join(sections) + "\n"
        (folder / f"doc{index:04d}.{'md' if index % 2 else 'txt'}").write_text(text)
        written += len(text)
        index += 1
    for i in range(3):
        write_pdf(folder / f"report{i}.pdf", [" ".join(sentence(rng) for _ in range(6))
                                             for _ in range(4)])  # fmt: skip
        write_docx(folder / f"memo{i}.docx", "Details", " ".join(sentence(rng) for _ in range(30)))
    return written


def fleet_ingest(corpus: Path, embedder: Embedder, data: Path) -> tuple[int, float]:
    settings = Settings(data_dir=data, collection="bench-fleet")
    store = Store.open(settings)
    started = time.perf_counter()
    summary = ingest_paths([corpus], store, embedder, settings)
    return summary.chunks, time.perf_counter() - started


def baseline_ingest(corpus: Path, embedder: Embedder, data: Path) -> tuple[int, float]:
    """RecursiveCharacterTextSplitter + the same embedder + Chroma, loaders from fleet-rag."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    settings = Settings(data_dir=data, collection="bench-baseline")
    store = Store.open(settings)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    started = time.perf_counter()
    total = 0
    for path in sorted(corpus.iterdir()):
        text = "\n\n".join(s.text for s in load_document(path, path.name, 50_000_000))
        pieces = splitter.split_text(text)
        vectors = embedder.embed(pieces)  # batched per file, as LangChain's add_texts does
        store.collection.add(ids=[f"{path.name}-{i}" for i in range(len(pieces))],
                             documents=pieces, embeddings=vectors,
                             metadatas=[{"source": path.name}] * len(pieces))  # fmt: skip
        total += len(pieces)
    return total, time.perf_counter() - started


def fill(store: Store, size: int, texts: list[str], dimensions: int) -> None:
    """`size` chunks: real chunk texts from the corpus beside synthetic unit vectors."""
    rng = np.random.default_rng(size)
    for at in range(0, size, 5000):
        n = min(5000, size - at)
        vectors = rng.standard_normal((n, dimensions)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.collection.add(ids=[f"c{at + i}" for i in range(n)],
                             documents=[texts[(at + i) % len(texts)] for i in range(n)],
                             embeddings=vectors.tolist(),
                             metadatas=[{"source": f"f{(at + i) // 50}"}
                                        for i in range(n)])  # fmt: skip


def latency(store: Store, embedder: Embedder, settings: Settings, queries: int) -> str:
    """retrieve() as the service calls it: query embedding + Chroma top-k + threshold + MMR."""
    samples = []
    words = random.Random(queries)
    for _ in range(queries):
        question = f"What does the {words.choice(TOPICS)} {words.choice(VERBS)}?"
        started = time.perf_counter()
        retrieve(store, embedder, question, settings)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    return f"p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms ({queries} queries)"


def embedder_alone(embedders: dict[str, Embedder], texts: list[str], busy: bool) -> None:
    """Each backend's throughput on chunk texts and single-query latency, on idle cores or with
    one core taken by a busy loop (as the host's other services take it)."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        for name, model in embedders.items():
            started = time.perf_counter()
            model.embed(texts)
            rate = len(texts) / (time.perf_counter() - started)
            samples = []
            for i in range(60):
                started = time.perf_counter()
                model.embed([f"What does turbine {i} inspect?"])
                samples.append((time.perf_counter() - started) * 1000)
            samples.sort()
            print(f"embedder alone, {'one core busy' if busy else 'idle cores'}, {name}: "
                  f"{rate:.0f} chunks/s, query p50 {statistics.median(samples):.1f} ms, "
                  f"p95 {samples[56]:.1f} ms")  # fmt: skip
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()


def chunk_texts(corpus: Path, settings: Settings) -> list[str]:
    texts: list[str] = []
    for path in sorted(corpus.glob("doc*"))[:20]:
        sections = load_document(path, path.name, settings.max_file_bytes)
        texts += [c.text for c in chunk_sections(sections, settings.chunk_tokens,
                                                 settings.chunk_overlap, "bench")]  # fmt: skip
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-ingest", action="store_true", help="retrieval latency only")
    args = parser.parse_args()
    embedder = Embedder()  # auto: the device, precision and backend fleet-rag uses here
    on_torch = Embedder(backend="torch")  # the same precision through torch
    plain = Embedder(device="cpu", precision="float32", backend="torch")  # sentence-transformers'
    for model in (embedder, on_torch, plain):
        model.embed(["warm up"])  # loads (and converts) before any clock starts
    print(f"cpu cores: {os.cpu_count()}; fleet-rag embedder: {embedder.name} on {embedder.device} "
          f"in {embedder.precision} through {embedder.backend}; baseline embedder: float32 "
          "through torch (sentence-transformers' default, as LangChain's HuggingFaceEmbeddings "
          "loads it)")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        root = Path(tmp)
        size = write_corpus(root / "corpus", args.mb)
        files = len(list((root / "corpus").iterdir()))
        print(f"corpus: {size / 1e6:.1f} MB of text in {files} files")
        runs = (
            {}
            if args.skip_ingest
            else {
                "fleet-rag": fleet_ingest(root / "corpus", embedder, root / "fleet"),
                f"fleet-rag torch {on_torch.precision}": fleet_ingest(
                    root / "corpus", on_torch, root / "fleet-torch"
                ),
                "fleet-rag torch float32": fleet_ingest(root / "corpus", plain, root / "fleet32"),
                "baseline": baseline_ingest(root / "corpus", plain, root / "base"),
            }
        )
        for name, (chunks, seconds) in runs.items():
            print(f"ingest {name}: {chunks} chunks in {seconds:.1f} s = {chunks / seconds:.0f} "
                  f"chunks/s, {size / 1e6 / seconds * 60:.2f} MB/min")  # fmt: skip
        base_chunks, base_seconds = runs.get("baseline", (0, 0.0))
        for name in [name for name in runs if name != "baseline"]:
            chunks, seconds = runs[name]
            ratio = chunks / seconds / (base_chunks / base_seconds)
            print(f"ratio {name} / baseline: {ratio:.2f}x chunks/s, "
                  f"{base_seconds / seconds:.2f}x corpus MB/s")  # fmt: skip
        sample = chunk_texts(root / "corpus", Settings())[:192]
        alone = {f"{embedder.backend} {embedder.precision}": embedder,
                 f"{on_torch.backend} {on_torch.precision}": on_torch}  # fmt: skip
        for busy in (False, True):
            embedder_alone(alone, sample, busy)
        settings = Settings(data_dir=root / "lat", top_k=4, threshold=-1.0)
        print(f"retrieval: top {settings.top_k}, MMR among the nearest "
              f"{settings.top_k * settings.mmr_fetch_factor}")  # fmt: skip
        texts = chunk_texts(root / "corpus", settings)
        for n in (int(s) for s in args.sizes.split(",")):
            embedded = Store.open(settings, collection=f"bench-{n}")
            fill(embedded, n, texts, embedder.dimensions)
            print(f"retrieval at {n} chunks, embedded Chroma: "
                  f"{latency(embedded, embedder, settings, args.queries)}")  # fmt: skip
            for deployed in (True, False):
                folder = root / f"server-{n}-{deployed}"
                folder.mkdir()
                with chroma_server(folder, "bench-token", deployed) as url:
                    remote = dataclasses.replace(
                        settings, chroma_url=url, chroma_token="bench-token"
                    )
                    served = Store.open(remote, collection=f"bench-{n}")
                    fill(served, n, texts, embedder.dimensions)
                    queries = args.queries if deployed else max(10, args.queries // 10)
                    label = "as the role deploys it" if deployed else "as shipped, MMR re-embeds"
                    print(f"retrieval at {n} chunks, Chroma server {label}: "
                          f"{latency(served, embedder, remote, queries)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
