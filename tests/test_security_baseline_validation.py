"""The security baseline refuses a malformed audit watch by its settings' names before it
installs or writes anything (the play targets the controller in check mode); the test that the
written rules parse, and that a bad rule line is refused by the checker, is the role's Molecule
scenario (where the audit package's syscall table is)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleetlib.paths import REPO
from tests.helpers import refused_before_any_change


@pytest.mark.parametrize(
    "watch",
    [
        {"path": "etc/relative", "permissions": "wa", "key": "k"},
        {"path": "/etc/x", "permissions": "wz", "key": "k"},
        {"path": "/etc/x", "permissions": "wa", "key": "a key with spaces"},
    ],
    ids=["relative path", "bad permissions", "bad key"],
)
def test_a_malformed_watch_is_refused_before_anything_changes(
    tmp_path: Path, watch: dict[str, str]
) -> None:
    output = refused_before_any_change(
        tmp_path,
        "security_baseline",
        {"security_baseline_audit_watches": [watch]},
        "each of security_baseline_audit_watches needs an absolute path without spaces",
    )
    assert watch["path"] in output
    assert "Install unattended-upgrades" not in output and "Install auditd" not in output


def test_every_secret_file_a_role_writes_is_under_a_watched_folder() -> None:
    """The audit watches are written in the security baseline's defaults; the secrets' paths in
    their roles' vars: held together here."""
    roles = REPO / "roles"
    watched = [
        w["path"] for w in yaml.safe_load(
            (roles / "security_baseline" / "defaults" / "main.yml").read_text()
        )["security_baseline_audit_watches"]
    ]  # fmt: skip
    secrets = [
        value
        for path in roles.glob("*/vars/main.yml")
        for name, value in (yaml.safe_load(path.read_text()) or {}).items()
        if isinstance(value, str) and value.startswith("/etc/") and name.endswith("_file")
    ]
    assert len(secrets) >= 5, secrets
    for secret in secrets:
        assert any(secret.startswith(folder + "/") for folder in watched), secret
