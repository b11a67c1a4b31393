"""open_webui (the real Open WebUI) against the Ollama-API-compatible TEST STAND-IN: a hardened
service on loopback, health, the bootstrapped admin, models listed and a chat completion."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from testinfra.host import Host

from fleetlib.wiring import wired

CALL = """
import json, sys, urllib.request, urllib.error
method, url, token, body = sys.argv[1:5]
request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
request.add_header("Content-Type", "application/json")
if token:
    request.add_header("Authorization", "Bearer " + token)
try:
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read() or b"null")
        print(json.dumps({"status": response.status, "body": body}))
except urllib.error.HTTPError as error:
    print(json.dumps({"status": error.code, "body": error.read().decode()}))
"""
PORT = wired("open_webui_port")
API = f"http://127.0.0.1:{PORT}"  # the scenario keeps Open WebUI on loopback


def call(host: Host, method: str, path: str, token: str = "", body: Any = None) -> dict[str, Any]:
    payload = json.dumps(body) if body is not None else ""
    out = host.check_output("python3 -c %s %s %s %s %s", CALL, method, API + path, token, payload)
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.fixture(scope="module")
def token(host: Host) -> str:
    password = host.file("/etc/open-webui/admin-password").content_string.strip()
    result = call(
        host,
        "POST",
        "/api/v1/auths/signin",
        body={"email": "admin@llm-fleet.local", "password": password},
    )
    assert result["status"] == 200 and result["body"]["role"] == "admin"
    return str(result["body"]["token"])


def test_service_runs_hardened_as_its_user_on_loopback(host: Host) -> None:
    service = host.service("open-webui.service")
    assert service.is_running and service.is_enabled
    assert host.check_output("systemctl show -p User --value open-webui.service") == "open-webui"
    assert host.socket(f"tcp://127.0.0.1:{PORT}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{PORT}").is_listening
    show = host.check_output(
        "systemctl show open-webui.service -p ProtectSystem -p NoNewPrivileges"
    )
    assert "ProtectSystem=strict" in show and "NoNewPrivileges=yes" in show


def test_health(host: Host) -> None:
    assert call(host, "GET", "/health")["status"] == 200


def test_secret_key_is_private_and_in_the_environment(host: Host) -> None:
    secret = host.file("/etc/open-webui/secret-key")
    assert secret.mode == 0o640 and secret.group == "open-webui"
    key = secret.content_string
    assert len(key) == 64
    env = host.file("/etc/open-webui/open-webui.env")
    assert env.mode == 0o640 and f"WEBUI_SECRET_KEY={key}" in env.content_string
    assert host.file("/etc/open-webui/admin-password").mode == 0o640


def test_signup_is_closed_to_others(host: Host) -> None:
    result = call(
        host,
        "POST",
        "/api/v1/auths/signup",
        body={"name": "Mallory", "email": "m@example.com", "password": "pw-123456"},
    )
    assert result["status"] in (400, 403)


def test_admin_sees_the_stand_in_models(host: Host, token: str) -> None:
    result = call(host, "GET", "/api/models", token=token)
    assert result["status"] == 200
    assert "llama3.2:1b" in [m["id"] for m in result["body"]["data"]]


def test_chat_completion_through_open_webui(host: Host, token: str) -> None:
    result = call(
        host,
        "POST",
        "/api/chat/completions",
        token=token,
        body={
            "model": "llama3.2:1b",
            "stream": False,
            "messages": [{"role": "user", "content": "Say hello"}],
        },
    )
    assert result["status"] == 200, result
    content = result["body"]["choices"][0]["message"]["content"]
    assert content == "Stand-in answer from llama3.2:1b to: Say hello"


def healthy(host: Host) -> bool:
    """/health answers 200 (a refused connection while it starts counts as not yet)."""
    result = host.run("python3 -c %s %s %s %s %s", CALL, "GET", API + "/health", "", "")
    return bool(result.rc == 0 and json.loads(result.stdout)["status"] == 200)


def test_systemd_brings_a_killed_open_webui_back(host: Host) -> None:
    pid = host.check_output("systemctl show -p MainPID --value open-webui.service")
    host.check_output("systemctl kill --signal=SIGKILL open-webui.service")
    new_pid = pid
    for _ in range(90):
        time.sleep(2)
        new_pid = host.check_output("systemctl show -p MainPID --value open-webui.service")
        if new_pid not in ("0", pid) and healthy(host):
            break
    assert new_pid not in ("0", pid)
    assert healthy(host)
