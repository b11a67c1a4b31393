"""The shared state as the wiring derives it: given the parameters and secrets terraform
publishes (here handed in as the facts fleet_state and fleet_secrets), the services get the
database URL (psycopg, the application user, TLS), Redis's URL (rediss:// where Redis has TLS,
as ElastiCache does), the bucket, the fleet's key, the rag tier's Chroma and single sign-on
(the identity provider's issuer and client, their secrets) - and
`--tags fleet_wiring` shows none of the secrets. Without a prefix there is no shared state."""

from __future__ import annotations

import json
from pathlib import Path

from fleetlib.paths import REPO, venv_bin
from tests.helpers import run_tool

STATE = {
    "database_host": "db.internal", "database_port": "5432", "database_name": "openwebui",
    "database_user": "open_webui", "database_master_secret": "arn:master",
    "redis_host": "redis.internal", "redis_port": "6379", "redis_tls": "true",
    "uploads_bucket": "fleet-uploads", "chroma_host": "vector.internal", "chroma_port": "8000",
    "identity_issuer": "https://login.example.com/tenant/v2.0", "identity_client_id": "fleet-app",
}  # fmt: skip
SECRETS = {
    "open_webui_secret_key": "key0Secret", "open_webui_admin_password": "admin0Secret",
    "database_password": "db0Secret", "redis_auth_token": "redis0Secret",
    "chroma_token": "chroma0Secret", "fleet_rag_ingest_token": "ingest0Secret",
    "oidc_client_secret": "client0Secret", "oauth_session_key": "session0Secret",
    "scim_token": "scim0Secret",
}  # fmt: skip
EXPECTED = {
    "open_webui_database_url": (
        "postgresql+psycopg://open_webui:db0Secret@db.internal:5432/openwebui?sslmode=require"
    ),
    "open_webui_redis_url": "rediss://:redis0Secret@redis.internal:6379/0",
    "open_webui_uploads_bucket": "fleet-uploads",
    "open_webui_secret_key": "key0Secret",
    "open_webui_admin_password": "admin0Secret",
    "open_webui_chroma_url": "http://vector.internal:8000",
    "open_webui_chroma_token": "chroma0Secret",
    "open_webui_database_admin_secret": "arn:master",
    "chroma_url": "http://vector.internal:8000",
    "fleet_rag_ingest_token": "ingest0Secret",
    "open_webui_oidc_issuer": "https://login.example.com/tenant/v2.0",
    "open_webui_oidc_client_id": "fleet-app",
    "open_webui_oidc_client_secret": "client0Secret",
    "open_webui_oauth_session_key": "session0Secret",
    "open_webui_scim_token": "scim0Secret",
}


def play(tmp_path: Path, extra: dict[str, object], *args: str) -> str:
    playbook = tmp_path / "play.yml"
    checks = [f"{name} == {json.dumps(value)}" for name, value in EXPECTED.items()]
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "roles": ["fleet_wiring"],
                    "tasks": [
                        {
                            "name": "The derived shared-state values",
                            "ansible.builtin.assert": {"that": checks},
                            "tags": ["check"],
                        }
                    ],
                }
            ]
        )
    )
    env = {"ANSIBLE_ROLES_PATH": str(REPO / "roles")}
    proc = run_tool(
        venv_bin("ansible-playbook"),
        "-i",
        "localhost,",
        playbook,
        "-e",
        json.dumps({"ansible_python_interpreter": str(venv_bin("python")), **extra}),
        *args,
        timeout=300,
        **env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.stdout


def test_services_get_the_shared_state_from_the_wiring(tmp_path: Path) -> None:
    play(tmp_path, {"fleet_state": STATE, "fleet_secrets": SECRETS}, "--tags", "check")


def test_the_resolved_wiring_shows_no_secret(tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    out = play(
        tmp_path,
        {"fleet_state": STATE, "fleet_secrets": SECRETS, "fleet_wiring_dump_dir": str(dump)},
        "--tags",
        "fleet_wiring",
    )
    resolved = json.loads((dump / "localhost.json").read_text())
    shown = out + json.dumps(resolved)
    for secret in SECRETS.values():
        assert secret not in shown, "a secret was shown"
    assert resolved["open_webui_database_url"] == "********"
    assert resolved["fleet_secrets"]["redis_auth_token"] == "********"
    assert resolved["open_webui_uploads_bucket"] == "fleet-uploads"
