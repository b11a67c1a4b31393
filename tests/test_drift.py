"""tools/drift.py and its callback on a one-file fleet (localhost): a clean state reports no
drift, a hand edit and a mode change are reported with their diff, --correct repairs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3

from fleetlib.paths import REPO, WHEELHOUSE, venv_bin
from lab.config import REGION
from lab.ec2 import DUMMY_CREDENTIALS, MotoServer, sdk_env
from tests.helpers import run_drift, run_tool
from tools.release import build, publish


def probe_drift(
    tmp_path: Path,
    probe: Path,
    *flags: str,
    stuck: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """tools.drift over the probe playbook on this machine, its report in tmp_path/report."""
    return run_drift(
        "-i", "localhost,", "--playbook", REPO / "tests/playbooks/drift_probe.yml",
        "--out", tmp_path / "report", *flags, timeout=900,
        ANSIBLE_EXTRA_VARS="", LLM_FLEET_TEST_PROBE=str(probe),
        LLM_FLEET_TEST_STUCK="yes" if stuck else "", **(env or {}),
    )  # fmt: skip


def drift(
    tmp_path: Path, probe: Path, *flags: str, stuck: bool = False
) -> tuple[int, dict[str, object], str]:
    proc = probe_drift(tmp_path, probe, *flags, stuck=stuck)
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    return proc.returncode, report, proc.stdout


def result(tmp_path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((tmp_path / "report" / "result.json").read_text())
    return data


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
    assert "# Not corrected\n\nNothing." in summary
    assert result(tmp_path) == {
        "release": "checkout",
        "drifted": {"localhost": ["Keep the probe file as declared"]},
        "broken": {},
        "corrected": {"localhost": ["Keep the probe file as declared"]},
        "not_corrected": {},
        "status": "clean",
    }


def test_drift_that_cannot_be_corrected_fails_the_run_and_is_named(tmp_path: Path) -> None:
    probe = tmp_path / "probe.txt"
    probe.write_text("edited by hand\n")
    rc, _, summary = drift(tmp_path, probe, "--correct", stuck=True)
    assert rc == 1, summary
    assert probe.read_text() == "desired\n", "what could be corrected was"
    assert "# Not corrected\n\n- localhost: A change the host refuses" in summary
    outcome = result(tmp_path)
    assert outcome["status"] == "failed"
    assert outcome["not_corrected"] == {"localhost": ["A change the host refuses"]}


PREFIX = "llm-fleet/test"


def drift_from_release(
    tmp_path: Path, moto_server: MotoServer, probe: Path
) -> subprocess.CompletedProcess[str]:
    return probe_drift(
        tmp_path, probe, "--release-prefix", PREFIX, "--correct", env=sdk_env(moto_server.endpoint)
    )


def test_the_recorded_release_is_what_is_checked_and_applied(
    tmp_path: Path,
    moto_server: MotoServer,
    wheels: tuple[Path, list[Path]],
) -> None:
    """--release-prefix: the release the SSM parameter records, from S3, checked, unpacked, and
    run from (its ansible.cfg, its callback); a tampered artifact is refused before any run. The
    thin release (the tree, the project's own wheels): the hosts' wheels stay in S3."""
    options = {"region_name": REGION, "endpoint_url": moto_server.endpoint, **DUMMY_CREDENTIALS}
    s3, ssm = boto3.client("s3", **options), boto3.client("ssm", **options)
    s3.create_bucket(Bucket="fleet-releases")
    hosts, apply = wheels
    own = sorted(WHEELHOUSE.glob("fleet_rag-*.whl"))[:1]
    assert own, "no fleet-rag wheel: `make rag-wheel` builds it"
    shutil.copy(own[0], hosts)
    publish(build("4.1.0", tmp_path / "out", hosts, apply, 1), "fleet-releases", PREFIX, s3, ssm)
    probe = tmp_path / "probe.txt"
    probe.write_text("edited by hand\n")

    proc = drift_from_release(tmp_path, moto_server, probe)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert probe.read_text() == "desired\n"
    assert "Release: 4.1.0" in proc.stdout
    assert result(tmp_path)["release"] == "4.1.0"
    release = tmp_path / "report" / "release" / "releases" / "4.1.0" / "llm-fleet"
    assert (release / "VERSION").read_text() == "4.1.0\n"
    shipped = {p.name for p in (release / ".cache" / "wheelhouse").glob("*.whl")}
    assert shipped == {own[0].name}, shipped

    # Checked again from the same report folder: the release fetched whole before is used.
    probe.write_text("edited by hand\n")
    proc = drift_from_release(tmp_path, moto_server, probe)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "release 4.1.0: fetched and checked before" in proc.stdout
    assert probe.read_text() == "desired\n"

    thin = "releases/4.1.0/llm-fleet-4.1.0-thin.tar.gz"
    s3.put_object(Bucket="fleet-releases", Key=thin, Body=b"x")
    shutil.rmtree(tmp_path / "report")
    proc = drift_from_release(tmp_path, moto_server, probe)
    assert proc.returncode != 0
    assert "llm-fleet-4.1.0-thin.tar.gz has SHA-256" in proc.stderr
    assert not (tmp_path / "report" / "drift.json").exists(), "nothing ran"


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


def test_the_control_host_units_are_valid_and_correct_by_default(tmp_path: Path) -> None:
    """tools/systemd: systemd-analyze verify accepts the timer and its service (the checkout's
    Python where the control host's would be); the service corrects unless DRIFT_MODE says
    --fail-on-drift, from the recorded release."""
    units = REPO / "tools" / "systemd"
    service = (units / "llm-fleet-drift.service").read_text()
    assert 'Environment="DRIFT_MODE=--correct"' in service
    assert "--release-prefix ${LLM_FLEET_STATE_PREFIX}" in service
    (tmp_path / "llm-fleet-drift.service").write_text(
        service.replace("/opt/llm-fleet/.venv/bin/python", str(venv_bin("python")))
    )
    shutil.copy(units / "llm-fleet-drift.timer", tmp_path)
    proc = subprocess.run(
        ["systemd-analyze", "verify", *sorted(map(str, tmp_path.iterdir()))],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
