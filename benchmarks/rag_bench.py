"""RAG benchmark: ingest throughput (fleet-rag vs. a LangChain baseline with the same embedder
and store) and retrieval latency at 10k and 100k chunks. Prints figures; asserts nothing.

    .venv-rag/bin/python benchmarks/rag_bench.py [--mb 5] [--sizes 10000,100000] [--queries 200]

Targets: >= 200 chunks/s on 2 cores, >= 1.5x the baseline, retrieval p95 <= 30 ms at 100k.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "rag"))

from fleet_rag.embeddings import Embedder
from fleet_rag.ingest import ingest_paths
from fleet_rag.retrieval import retrieve
from fleet_rag.settings import Settings
from fleet_rag.store import Store

TOPICS = ["reactor", "turbine", "telescope", "penguin", "bakery", "glacier", "satellite",
          "orchard", "harbour", "library", "volcano", "monastery"]  # fmt: skip
VERBS = ["inspects", "polishes", "measures", "feeds", "repairs", "maps", "records", "cools"]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(TOPICS).capitalize(), rng.choice(VERBS), "the", rng.choice(TOPICS)]
    words += [rng.choice(TOPICS + VERBS) for _ in range(rng.randint(6, 14))]
    return " ".join(words) + "."


def write_corpus(folder: Path, megabytes: float, seed: int = 7) -> int:
    """Markdown and text files of synthetic prose, plus a few PDFs and DOCX files."""
    from tests.samples import write_docx, write_pdf  # the package's own sample writers

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
    from fleet_rag.loaders import load_document
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


def latency(size: int, embedder: Embedder, data: Path, queries: int) -> tuple[float, float]:
    """Fill a collection with `size` chunks (synthetic unit vectors beside real text) and time
    retrieve(): query embedding + Chroma top-k + threshold + MMR."""
    settings = Settings(data_dir=data, collection=f"bench-{size}", top_k=4, threshold=-1.0)
    store = Store.open(settings)
    rng = np.random.default_rng(size)
    for at in range(0, size, 5000):
        n = min(5000, size - at)
        vectors = rng.standard_normal((n, embedder.dimensions)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.collection.add(ids=[f"c{at + i}" for i in range(n)],
                             documents=[f"chunk {at + i} about {TOPICS[(at + i) % 12]}"
                                        for i in range(n)],
                             embeddings=vectors.tolist(),
                             metadatas=[{"source": f"f{(at + i) // 50}"}
                                        for i in range(n)])  # fmt: skip
    samples = []
    words = random.Random(size)
    for _ in range(queries):
        question = f"What does the {words.choice(TOPICS)} {words.choice(VERBS)}?"
        started = time.perf_counter()
        retrieve(store, embedder, question, settings)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    embedder = Embedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        root = Path(tmp)
        size = write_corpus(root / "corpus", args.mb)
        print(
            f"corpus: {size / 1e6:.1f} MB of text in {len(list((root / 'corpus').iterdir()))} files"
        )
        chunks, seconds = fleet_ingest(root / "corpus", embedder, root / "fleet")
        fleet_rate = chunks / seconds
        print(f"fleet-rag ingest: {chunks} chunks in {seconds:.1f} s = {fleet_rate:.0f} chunks/s")
        base_chunks, base_seconds = baseline_ingest(root / "corpus", embedder, root / "base")
        base_rate = base_chunks / base_seconds
        print(f"baseline ingest:  {base_chunks} chunks in {base_seconds:.1f} s", end=" ")
        print(f"= {base_rate:.0f} chunks/s")
        print(f"ratio fleet-rag / baseline (chunks/s): {fleet_rate / base_rate:.2f}x; "
              f"(corpus MB/s): {(size / seconds) / (size / base_seconds):.2f}x")  # fmt: skip
        for n in (int(s) for s in args.sizes.split(",")):
            p50, p95 = latency(n, embedder, root / f"lat{n}", args.queries)
            print(f"retrieval at {n} chunks: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
