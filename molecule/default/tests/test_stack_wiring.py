"""One value, one place: Ollama's port changed at its single source (an inventory's group_vars
over the wiring layer's default) moves every consumer on a converged host. A check+diff run of
site.yml (tools/drift.py, nothing applied) reports the unit of Ollama and the settings of Open
WebUI and fleet-rag as what would change (with the restarts and Ollama's health gate that follow),
and nothing in the other roles."""

from __future__ import annotations

import json
from pathlib import Path

from lab_stack import GPU_HOST

from fleetlib.paths import venv_bin
from tests.helpers import run_tool

WOULD_CHANGE = {
    "fleet_common : Write the environment, unit and sandbox of ollama.service",  # OLLAMA_HOST
    # OLLAMA_BASE_URLS, FLEET_RAG_OLLAMA_URL
    "fleet_common : Write the environment, unit and sandbox of open-webui.service",
    "fleet_common : Write the environment, unit and sandbox of fleet-rag.service",
}


def test_moving_ollama_moves_every_consumer(tmp_path: Path) -> None:
    override = tmp_path / "override"
    (override / "group_vars").mkdir(parents=True)
    (override / "hosts.yml").write_text("all:\n  hosts: {}\n")
    (override / "group_vars" / "all.yml").write_text("ollama_port: 11999\n")
    out = tmp_path / "report"
    proc = run_tool(
        venv_bin("python"), "-m", "tools.drift",
        "-i", "inventories/lab", "-i", override, "--limit", GPU_HOST, "--out", out,
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "drift.json").read_text())["hosts"][GPU_HOST]
    changed = {c["task"] for c in report["changed"]}  # "<role> : <task>"
    assert changed >= WOULD_CHANGE, changed
    roles = {c["role"] for c in report["changed"]}
    assert roles <= {"fleet_common", "ollama", "open_webui", "chromadb_rag"}, changed
    unit = next(c for c in report["changed"] if c["task"].endswith("sandbox of ollama.service"))
    assert "OLLAMA_HOST=127.0.0.1:11999" in unit["diff"]
