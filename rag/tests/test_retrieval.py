"""Retrieval on a real store and the real model: the best match names the right source, nothing
below the threshold comes back, near duplicates are dropped, sources are what the answer cites,
and a running store follows a wiped and rebuilt collection."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_rag_testing.samples import write_good_corpus

from fleet_rag.documents import cite
from fleet_rag.embeddings import Embedder
from fleet_rag.ingest import ingest_paths
from fleet_rag.prompting import cited, sources_block
from fleet_rag.retrieval import retrieve
from fleet_rag.settings import Settings
from fleet_rag.store import Match, Store


@pytest.fixture
def indexed(tmp_path: Path, store: Store, embedder: Embedder, settings: Settings) -> Store:
    write_good_corpus(tmp_path / "docs")
    ingest_paths([tmp_path / "docs"], store, embedder, settings)
    return store


@pytest.mark.parametrize(
    ("question", "citation"),
    [
        ("How often is the turbine maintained?", "aurora.pdf (page 2)"),
        ("What temperature is the reactor cooling water?", "aurora.pdf (page 1)"),
        (
            "How is the telescope mirror polished?",
            "borealis.docx (Observatory handbook > Mirror care)",
        ),
        ("What do the penguins eat?", "zephyr.md (Zephyr colony > Diet)"),
        ("When does the bakery open?", "quasar.txt"),
    ],
)
def test_the_best_match_names_the_right_source(
    indexed: Store, embedder: Embedder, settings: Settings, question: str, citation: str
) -> None:
    matches = retrieve(indexed, embedder, question, settings, top_k=2)
    assert matches and cite(matches[0].metadata) == citation
    assert all(m.similarity >= settings.threshold for m in matches)


def test_nothing_above_the_threshold_returns_nothing(
    indexed: Store, embedder: Embedder, settings: Settings
) -> None:
    assert (
        retrieve(indexed, embedder, "quantum chromodynamics lattice", settings, threshold=0.9) == []
    )


def test_mmr_drops_near_duplicates(
    tmp_path: Path, store: Store, embedder: Embedder, settings: Settings
) -> None:
    folder = tmp_path / "dupes"
    folder.mkdir()
    for i in range(3):
        (folder / f"copy{i}.txt").write_text("The Quasar bakery opens at six in the morning.\n")
    (folder / "other.txt").write_text("The bakery's rye bread has caraway seeds in it.\n")
    ingest_paths([folder], store, embedder, settings)
    plain = retrieve(store, embedder, "When does the bakery open?", settings, top_k=2, mmr=False)
    diverse = retrieve(store, embedder, "When does the bakery open?", settings, top_k=2, mmr=True)
    assert {m.metadata["source"] for m in plain} <= {"copy0.txt", "copy1.txt", "copy2.txt"}
    assert "other.txt" in {m.metadata["source"] for m in diverse}


def test_sources_are_the_passages_the_answer_cites() -> None:
    matches = [
        Match(id=str(n), text=f"passage {n}", metadata={"source": f"doc{n}.md"}, similarity=0.5)
        for n in (1, 2, 3)
    ]
    assert cited(matches, "Grease it weekly [3], and check the seals [1][3].") == [
        matches[0],
        matches[2],
    ]
    assert cited(matches, "No citation here, or a wrong one [7].") == matches
    assert sources_block(cited(matches, "Only [2].")) == "\n\nSources:\n1. doc2.md"


def test_a_running_store_follows_a_wiped_and_rebuilt_collection(
    tmp_path: Path, indexed: Store, embedder: Embedder, settings: Settings
) -> None:
    """The service keeps its Store while the vector store is wiped and re-indexed."""
    indexed.client.delete_collection(indexed.name)
    rebuilt = Store(indexed.client, indexed.name)
    assert indexed.count() == 0
    ingest_paths([tmp_path / "docs"], rebuilt, embedder, settings)
    matches = retrieve(indexed, embedder, "What do the penguins eat?", settings)
    assert cite(matches[0].metadata) == "zephyr.md (Zephyr colony > Diet)"
