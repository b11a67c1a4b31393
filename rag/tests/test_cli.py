"""The `fleet-rag` command line as a user runs it (a subprocess, real model, embedded store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleet_rag_testing.samples import write_bad_files, write_good_corpus


def fleet_rag(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = dict(
        os.environ, FLEET_RAG_DATA_DIR=str(tmp_path / "index"), FLEET_RAG_MAX_FILE_BYTES="100000"
    )
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "fleet_rag.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ingest_query_list_delete(tmp_path: Path) -> None:
    write_good_corpus(tmp_path / "docs")
    first = fleet_rag(tmp_path, "ingest", str(tmp_path / "docs"), "--collection", "handbook")
    assert first.returncode == 0, first.stderr
    assert "4 files: 4 added, 0 replaced, 0 unchanged, 0 removed, 0 failed" in first.stdout
    assert "100%" in first.stderr  # the progress bar
    again = fleet_rag(
        tmp_path, "ingest", str(tmp_path / "docs"), "--collection", "handbook", "--json"
    )
    summary = json.loads(again.stdout)
    assert summary["unchanged"] == 4 and summary["changed"] is False
    # Nothing to embed, so no model is loaded: a model that does not exist is never looked up.
    unloaded = fleet_rag(
        tmp_path, "ingest", str(tmp_path / "docs"), "--collection", "handbook", "--json",
        env={"FLEET_RAG_EMBEDDING_MODEL": "/no/such/model"},
    )  # fmt: skip
    assert unloaded.returncode == 0, unloaded.stderr
    assert json.loads(unloaded.stdout)["unchanged"] == 4
    query = fleet_rag(
        tmp_path, "query", "What do the penguins eat?", "--collection", "handbook", "--json"
    )
    assert json.loads(query.stdout)[0]["source"] == "zephyr.md (Zephyr colony > Diet)"
    listing = json.loads(fleet_rag(tmp_path, "list", "--collection", "handbook", "--json").stdout)
    assert set(listing) == {"aurora.pdf", "borealis.docx", "quasar.txt", "zephyr.md"}
    deleted = fleet_rag(tmp_path, "delete", "quasar.txt", "--collection", "handbook")
    assert deleted.returncode == 0 and "removed" in deleted.stdout
    listing = json.loads(fleet_rag(tmp_path, "list", "--collection", "handbook", "--json").stdout)
    assert "quasar.txt" not in listing


def test_failures_are_listed_with_reasons_and_exit_non_zero(tmp_path: Path) -> None:
    docs = write_good_corpus(tmp_path / "docs")
    bad = write_bad_files(tmp_path / "bad")
    result = fleet_rag(tmp_path, "ingest", str(docs["md"]), *map(str, bad.values()))
    assert result.returncode == 1
    assert "1 added" in result.stdout and f"{len(bad)} failed" in result.stdout
    for reason in bad:
        assert reason in result.stdout


def test_bad_setting_is_refused_with_its_name(tmp_path: Path) -> None:
    env_result = subprocess.run(
        [sys.executable, "-m", "fleet_rag.cli", "list"],
        env=dict(os.environ, FLEET_RAG_TOP_K="many", FLEET_RAG_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert env_result.returncode == 2
    assert "FLEET_RAG_TOP_K='many' is not a valid int" in env_result.stderr


def test_check_reports_what_would_change_and_writes_nothing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_good_corpus(docs)
    dry = fleet_rag(tmp_path, "ingest", str(docs), "--check", "--json")
    assert dry.returncode == 0, dry.stderr
    summary = json.loads(dry.stdout)
    assert (summary["added"], summary["changed"], summary["dry_run"]) == (4, True, True)
    assert json.loads(fleet_rag(tmp_path, "list", "--json").stdout) == {}
    fleet_rag(tmp_path, "ingest", str(docs))
    clean = json.loads(fleet_rag(tmp_path, "ingest", str(docs), "--check", "--json").stdout)
    assert (clean["unchanged"], clean["changed"]) == (4, False)
    # A source deleted from the index (vectors lost) is what a check reports as drift.
    fleet_rag(tmp_path, "delete", "quasar.txt")
    drift = json.loads(fleet_rag(tmp_path, "ingest", str(docs), "--check", "--json").stdout)
    assert [f["source"] for f in drift["files"] if f["status"] == "added"] == ["quasar.txt"]
    assert "quasar.txt" not in json.loads(fleet_rag(tmp_path, "list", "--json").stdout)

    # A document retracted from the folder is drift, then removed: never cited again.
    fleet_rag(tmp_path, "ingest", str(docs))
    (docs / "quasar.txt").unlink()
    retracted = json.loads(fleet_rag(tmp_path, "ingest", str(docs), "--check", "--json").stdout)
    assert (retracted["removed"], retracted["changed"]) == (1, True)
    removed = fleet_rag(tmp_path, "ingest", str(docs))
    assert "removed   quasar.txt: " in removed.stdout and "0 added" in removed.stdout
    clean = json.loads(fleet_rag(tmp_path, "ingest", str(docs), "--check", "--json").stdout)
    assert clean["changed"] is False
