"""terraform/'s tooling: formatted, valid against the AWS provider (a local mirror), and checkov
with no failed check and every skip justified."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fleetlib.hcl import TERRAFORM
from fleetlib.paths import REPO
from tests.hcl import checkov_skips, needs_terraform, terraform

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
PLUGIN_DIR = Path(os.environ.get("LLM_FLEET_TF_PLUGIN_DIR", "/opt/tf-plugins"))


@needs_terraform
def test_terraform_is_formatted() -> None:
    proc = terraform("fmt", "-check", "-recursive", "-diff", cwd=TERRAFORM)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_terraform
def test_terraform_validates_with_the_aws_provider(tmp_path: Path) -> None:
    if not (PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(
            f"the AWS provider cannot be downloaded here and no local mirror is at {PLUGIN_DIR}"
        )
    work = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, work, ignore=shutil.ignore_patterns(".terraform*"))
    # terraform reads the wiring's files and Open WebUI's pool sizes, and the user data carries
    # the hosts' self-configuration script
    for defaults in ("fleet_wiring", "open_webui"):
        folder = Path("roles") / defaults / "defaults"
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "tools").mkdir()
    shutil.copy(REPO / "tools" / "host_apply.py", tmp_path / "tools")
    init = terraform("init", "-backend=false", f"-plugin-dir={PLUGIN_DIR}", cwd=work)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = terraform("validate", "-json", cwd=work)
    result = json.loads(validate.stdout)
    assert result["valid"], result["diagnostics"]
    assert result["warning_count"] == 0, result["diagnostics"]


def test_checkov_finds_no_failed_check() -> None:
    assert CHECKOV.exists(), "checkov's venv is missing: run `make setup`"
    scan = ["-d", str(TERRAFORM), "--framework", "terraform", "--skip-download"]
    proc = subprocess.run(
        [str(CHECKOV), *scan, "-o", "json", "--quiet", "--compact"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(proc.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 100
    assert summary["parsing_errors"] == 0


def test_every_checkov_skip_says_why() -> None:
    skips = checkov_skips()
    assert skips, "expected the justified skips to be found"
    unjustified = [(str(f), check) for f, check, reason in skips if len(reason.split()) < 5]
    assert not unjustified
