"""tools/drift.py and its callback on a one-file fleet (localhost): a clean state reports no
drift, a hand edit and a mode change are reported with their diff, --correct repairs them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lab.config import REPO, venv_bin
from tests.helpers import run_tool


def drift(tmp_path: Path, probe: Path, *flags: str) -> tuple[int, dict[str, object], str]:
    out = tmp_path / "report"
    proc = run_tool(
        venv_bin("python"),
        "-m",
        "tools.drift",
        "-i",
        "localhost,",
        "--playbook",
        REPO / "tests/playbooks/drift_probe.yml",
        "--out",
        out,
        *flags,
        ANSIBLE_EXTRA_VARS="",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        LLM_FLEET_TEST_PROBE=str(probe),
    )
    return proc.returncode, json.loads((out / "drift.json").read_text()), proc.stdout


def test_clean_drifted_and_corrected(tmp_path: Path) -> None:
    probe = tmp_path / "probe.txt"
    probe.write_text("desired\n")
    os.chmod(probe, 0o640)
    rc, report, summary = drift(tmp_path, probe, "--fail-on-drift")
    assert rc == 0, summary
    assert report["check_mode"] is True
    assert report["hosts"] == {"localhost": {"changed": [], "failed": [], "unreachable": False}}
    assert "0 of 1 host(s) differ" in summary

    probe.write_text("edited by hand\n")
    os.chmod(probe, 0o644)
    rc, report, summary = drift(tmp_path, probe, "--fail-on-drift")
    assert rc == 2
    (change,) = report["hosts"]["localhost"]["changed"]  # type: ignore[index]
    assert change["task"] == "Keep the probe file as declared"
    assert "-edited by hand" in change["diff"] and "+desired" in change["diff"]
    assert probe.read_text() == "edited by hand\n", "detection changes nothing"

    rc, _, summary = drift(tmp_path, probe, "--correct")
    assert rc == 0, summary
    assert probe.read_text() == "desired\n" and probe.stat().st_mode & 0o777 == 0o640
    assert "# After correction\n\n0 of 1 host(s) differ" in summary
