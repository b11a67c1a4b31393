"""tools/post_deploy_check.py where nothing answers: the health check fails by name (after its
bounded wait) and nothing else is tried; without the admin's password it refuses to start. The
passing run - and a wrong password - are the whole-stack scenario's, through the lab's load
balancer."""

from __future__ import annotations

from pathlib import Path

from fleetlib.paths import venv_bin
from lab.ec2 import free_port
from tests.helpers import run_tool


def test_a_platform_that_does_not_answer_fails_the_health_check(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_tool(
        venv_bin("python"), "-m", "tools.post_deploy_check", "--url", url, "--model", "m",
        "--health-wait", "1", "--summary", summary, LLM_FLEET_ADMIN_PASSWORD="x", timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    table = summary.read_text()
    assert "| health | FAILED |" in table and "GET /health" in table
    assert "sign-in" not in table  # nothing after a failed health check


def test_it_refuses_to_start_without_the_admins_password() -> None:
    proc = run_tool(
        venv_bin("python"), "-m", "tools.post_deploy_check", "--url", "http://127.0.0.1:9",
        "--model", "m", LLM_FLEET_ADMIN_PASSWORD="", timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0 and "set LLM_FLEET_ADMIN_PASSWORD" in proc.stderr
