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


def test_drift_playbook_reports_then_corrects(tmp_path: Path) -> None:
    """playbooks/drift.yml: the same tool from ansible-playbook; drift_fail fails the play on
    drift, drift_correct corrects it and reports the task as changed."""
    probe = tmp_path / "probe.txt"
    probe.write_text("edited by hand\n")

    def play(*extra: str) -> tuple[int, str]:
        proc = run_tool(
            venv_bin("ansible-playbook"),
            "-i",
            "localhost,",
            "playbooks/drift.yml",
            "-e",
            f"drift_playbook={REPO / 'tests/playbooks/drift_probe.yml'}",
            "-e",
            f"drift_out={tmp_path / 'report'}",
            *extra,
            LLM_FLEET_TEST_PROBE=str(probe),
        )
        return proc.returncode, proc.stdout

    rc, out = play("-e", "drift_fail=true")
    assert rc == 2, out  # ansible-playbook: a task failed
    assert "1 of 1 host(s) differ" in out and "The fleet differs from site.yml" in out
    assert probe.read_text() == "edited by hand\n", "detection changes nothing"
    rc, out = play("-e", "drift_correct=true")
    assert rc == 0, out
    assert "changed=1" in out and probe.read_text() == "desired\n"
    assert "The fleet differs" not in out
