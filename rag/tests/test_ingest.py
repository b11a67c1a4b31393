"""Ingest, re-ingest, edit and bad input against a real embedded Chroma store and the real
embedding model."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_rag_testing.samples import BAD_REASONS, write_bad_files, write_good_corpus

from fleet_rag.embeddings import Embedder
from fleet_rag.ingest import ingest_file, ingest_paths
from fleet_rag.settings import Settings
from fleet_rag.store import Store


def test_folder_with_each_type_is_ingested_and_reported(
    tmp_path: Path, store: Store, embedder: Embedder, settings: Settings
) -> None:
    write_good_corpus(tmp_path / "docs")
    summary = ingest_paths([tmp_path / "docs"], store, embedder, settings)
    assert {f.source: f.status for f in summary.files} == {
        "aurora.pdf": "added",
        "borealis.docx": "added",
        "quasar.txt": "added",
        "zephyr.md": "added",
    }
    assert store.count() == summary.chunks > 0
    assert set(store.sources()) == {"aurora.pdf", "borealis.docx", "quasar.txt", "zephyr.md"}


def test_reingesting_unchanged_files_changes_nothing(
    tmp_path: Path, store: Store, embedder: Embedder, settings: Settings
) -> None:
    write_good_corpus(tmp_path / "docs")
    ingest_paths([tmp_path / "docs"], store, embedder, settings)
    before = store.collection.get(include=["documents"])
    again = ingest_paths([tmp_path / "docs"], store, embedder, settings)
    assert {f.status for f in again.files} == {"unchanged"}
    assert not again.changed
    assert store.collection.get(include=["documents"]) == before


def test_a_chunk_deleted_from_the_index_is_put_back(
    tmp_path: Path, store: Store, embedder: Embedder, settings: Settings
) -> None:
    docs = write_good_corpus(tmp_path / "docs")
    ingest_paths([docs["md"]], store, embedder, settings)
    ids = store.stored("zephyr.md").ids
    assert len(ids) > 1
    store.collection.delete(ids=[ids[-1]])  # the file is unchanged, the index lost a piece
    check = ingest_paths([docs["md"]], store, embedder, settings, dry_run=True)
    assert check.changed and sorted(store.stored("zephyr.md").ids) == sorted(ids[:-1])
    again = ingest_paths([docs["md"]], store, embedder, settings)
    assert again.files[0].status == "replaced" and again.files[0].removed == 0
    assert sorted(store.stored("zephyr.md").ids) == sorted(ids)
    assert not ingest_paths([docs["md"]], store, embedder, settings).changed


def test_an_edited_file_replaces_its_old_chunks(
    tmp_path: Path, store: Store, embedder: Embedder, settings: Settings
) -> None:
    docs = write_good_corpus(tmp_path / "docs")
    ingest_paths([docs["txt"]], store, embedder, settings)
    old_ids = store.stored("quasar.txt").ids
    docs["txt"].write_text("The Quasar bakery now opens at seven and sells sourdough.\n")
    summary = ingest_paths([docs["txt"]], store, embedder, settings)
    assert summary.files[0].status == "replaced" and summary.files[0].removed == len(old_ids)
    new_ids = store.stored("quasar.txt").ids
    assert not set(new_ids) & set(old_ids)
    texts = store.collection.get(ids=new_ids, include=["documents"])["documents"]
    assert any("sourdough" in text for text in texts)


@pytest.mark.parametrize("reason", BAD_REASONS)
def test_bad_input_fails_alone_and_leaves_the_index_as_it_was(
    tmp_path: Path, store: Store, embedder: Embedder, settings: Settings, reason: str
) -> None:
    docs = write_good_corpus(tmp_path / "docs")
    ingest_paths([docs["md"]], store, embedder, settings)
    before = store.collection.get(include=["documents", "metadatas"])
    bad = write_bad_files(tmp_path / "bad")[reason]
    summary = ingest_paths([bad], store, embedder, settings)
    (result,) = summary.files
    assert result.status == "failed" and reason in result.reason
    assert store.collection.get(include=["documents", "metadatas"]) == before


def test_files_embedded_together_are_stored_and_reported_one_by_one(
    tmp_path: Path, store: Store, embedder: Embedder, settings: Settings
) -> None:
    """Consecutive new files share embedding calls; each keeps its own chunks, vectors and
    result, in the order of the files, around an unchanged and a failed one."""
    docs = write_good_corpus(tmp_path / "docs")
    ingest_paths([docs["md"]], store, embedder, settings)
    bad = write_bad_files(tmp_path / "bad")[BAD_REASONS[0]]
    order = [docs["pdf"], docs["docx"], docs["md"], bad, docs["txt"]]  # pdf + docx: one call
    summary = ingest_paths(order, store, embedder, settings)
    assert [(f.source, f.status) for f in summary.files] == [
        ("aurora.pdf", "added"),
        ("borealis.docx", "added"),
        ("zephyr.md", "unchanged"),
        (bad.name, "failed"),
        ("quasar.txt", "added"),
    ]
    for source in ("aurora.pdf", "borealis.docx", "quasar.txt"):
        ids = store.stored(source).ids
        stored = store.collection.get(ids=ids, include=["documents", "embeddings"])
        fresh = embedder.embed(stored["documents"])
        for kept, again in zip(stored["embeddings"], fresh, strict=True):
            assert sum(a * b for a, b in zip(kept, again, strict=True)) > 0.999


def test_a_file_gone_from_its_folder_leaves_the_index(
    tmp_path: Path, store: Store, embedder: Embedder, settings: Settings
) -> None:
    """The folder is the corpus: a retracted document is removed (a check reports it first);
    a file ingested on its own or uploaded is not the folder's to remove."""
    docs = write_good_corpus(tmp_path / "docs")
    ingest_paths([docs["md"].parent], store, embedder, settings)
    loose = tmp_path / "loose.txt"
    loose.write_text("The loose leaflet lists the ferry times to the island.\n")
    ingest_paths([loose], store, embedder, settings)
    ingest_file(docs["txt"], "uploaded.txt", store, embedder, settings)
    chunks = len(store.stored("quasar.txt").ids)
    docs["txt"].unlink()
    check = ingest_paths([docs["md"].parent], store, embedder, settings, dry_run=True)
    assert [(f.source, f.status, f.removed) for f in check.files if f.status != "unchanged"] == [
        ("quasar.txt", "removed", chunks)
    ]
    assert check.changed and "quasar.txt" in store.sources()
    summary = ingest_paths([docs["md"].parent], store, embedder, settings)
    assert [(f.source, f.status) for f in summary.files if f.status != "unchanged"] == [
        ("quasar.txt", "removed")
    ]
    assert set(store.sources()) == {
        "aurora.pdf", "borealis.docx", "zephyr.md", "loose.txt", "uploaded.txt"
    }  # fmt: skip
    assert not ingest_paths([docs["md"].parent], store, embedder, settings).changed
