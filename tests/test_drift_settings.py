"""The drift report names each setting that differs in the configuration files the roles write
with the fleet_config action (plugins/action), and no secret value - the desired one or one
planted by hand - reaches the report, its logs, its summary or any file of the run."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from fleetlib.paths import REPO
from fleetlib.wiring import wired
from plugins.action.fleet_config import changes, mask_line, masked, parse
from tests.helpers import run_drift

PATTERNS = wired("fleet_secret_setting_patterns")
PLAYBOOK = REPO / "tests" / "playbooks" / "settings_probe.yml"


def test_an_environment_file_names_each_setting_and_masks_secrets() -> None:
    before = parse(
        "# managed\nDATABASE_URL=postgresql://u:one@h/d\nENABLE_SIGNUP=False\nA=1\n", "env"
    )
    after = parse("DATABASE_URL=postgresql://u:two@h/d\nENABLE_SIGNUP=True\nB=2\n", "env")
    assert changes(before, after, PATTERNS, "env") == [
        "DATABASE_URL: changed (secret)",  # a password in a URL: secret whatever its name
        "ENABLE_SIGNUP: False -> True",
        "A: removed (was 1)",
        "B: added (= 2)",
    ]
    shown = masked(before, after, PATTERNS, "env") + masked(after, before, PATTERNS, "env")
    assert "one" not in shown and "two" not in shown
    assert "DATABASE_URL=<secret, changed>" in shown


@pytest.mark.parametrize(
    "name", ["WEBUI_SECRET_KEY", "REDIS_PASSWORD", "SCIM_TOKEN", "credentials.access_key"]
)
def test_a_credential_token_key_or_password_is_secret_by_its_name(name: str) -> None:
    assert changes({name: "a"}, {name: "b"}, PATTERNS, "env") == [f"{name}: changed (secret)"]


def test_a_line_file_masks_a_secret_value_and_keeps_the_rest() -> None:
    assert mask_line('Acquire::http::Password "hunter2";', PATTERNS) == (
        'Acquire::http::Password "<secret>";'
    )
    assert mask_line("-w /etc/chroma -p wa -k llm-fleet-secrets", PATTERNS) == (
        "-w /etc/chroma -p wa -k llm-fleet-secrets"
    )
    assert changes(parse("a\n", "lines"), parse("a\n# token=x1\n", "lines"), PATTERNS, "lines") == [
        "added: # token=<secret>"
    ]


def every_file(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def settings_of(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        change["task"]: change["settings"]
        for host in report["hosts"].values()
        for change in host["changed"]
    }


def test_drift_names_each_setting_and_no_secret_reaches_any_artifact(tmp_path: Path) -> None:
    desired, planted = f"desired-{secrets.token_hex(8)}", f"planted-{secrets.token_hex(8)}"
    config, out = tmp_path / "config", tmp_path / "report"
    config.mkdir()
    env = {"LLM_FLEET_TEST_CONFIG_DIR": str(config), "LLM_FLEET_TEST_SECRET": desired}
    args: list[str | Path] = ["-i", "localhost,", "--playbook", PLAYBOOK, "--out", out]
    first = run_drift(*args, "--correct", timeout=900, ANSIBLE_EXTRA_VARS="", **env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert desired in (config / "service.env").read_text()

    # By hand: the database password, a security setting, and a secret in each format.
    service = (config / "service.env").read_text().replace(desired, planted, 1)
    (config / "service.env").write_text(
        service.replace("ENABLE_SIGNUP=False", "ENABLE_SIGNUP=True")
    )
    with (config / "sysctl.conf").open("a") as handle:
        handle.write(f"vm.swappiness=60\nfleet.api_token={planted}\n")
    agent = json.loads((config / "agent.json").read_text())
    agent["credentials"]["secret_key"] = planted
    (config / "agent.json").write_text(json.dumps(agent))
    with (config / "audit.rules").open("a") as handle:
        handle.write(f"# password={planted}\n")

    # Checking, each setting reads from what the playbook declares to what the host has.
    proc = run_drift(*args, "--correct", timeout=900, ANSIBLE_EXTRA_VARS="", **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "drift.json").read_text())
    assert settings_of(report) == {
        "Write a service environment": [
            "DATABASE_URL: changed (secret)",
            "ENABLE_SIGNUP: False -> True",
        ],
        "Write a sysctl profile": [
            "vm.swappiness: 10 -> 60",
            "fleet.api_token: added (secret)",
        ],
        "Write an agent configuration": ["credentials.secret_key: changed (secret)"],
        "Write audit rules": ["added: # password=<secret>"],
    }
    summary = (out / "drift.md").read_text()
    assert "  - ENABLE_SIGNUP: False -> True" in summary
    assert "  - DATABASE_URL: changed (secret)" in summary
    # Correcting, from what the host had to what it has now.
    (corrected,) = json.loads((out / "corrected-site.json").read_text())["hosts"].values()
    assert corrected["changed"][0]["settings"] == [
        "DATABASE_URL: changed (secret)",
        "ENABLE_SIGNUP: True -> False",
    ]
    assert (config / "service.env").read_text().count(desired) == 2
    for value in (desired, planted):
        assert value not in proc.stdout + proc.stderr, "a secret reached the output"
        leaked = [str(p) for p in every_file(out) if value in p.read_text(errors="replace")]
        assert leaked == [], f"a secret reached {leaked}"
