"""The fleet's gate (roles/open_webui/files/fleet_gate.py) on its own: the sign-in rule by group,
the groups a claim names, which SCIM bodies deactivate, and the ASGI wrapper: no account created
through the load balancer, passwords there only for the fleet's own accounts, a person SCIM
deactivates demoted before Open WebUI sees the same body, the provider's outage at sign-in turned
into a message. The whole flow against the real Open WebUI and a test identity provider is in the
open_webui role's scenario."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

GATE = Path(__file__).resolve().parents[1] / "roles/open_webui/files/fleet_gate.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleet_gate", GATE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gate = load()


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["staff"], "user"),
        (["staff", "llm-admins"], "admin"),
        (["llm-admins"], "admin"),
        (["contractors"], None),
        ([], None),
    ],
)
def test_role_follows_the_groups(groups: list[str], role: str | None) -> None:
    assert gate.role_for(groups, ["staff"], ["llm-admins"]) == role


def test_everyone_the_provider_signs_in_with_a_star() -> None:
    assert gate.role_for([], ["*"], ["llm-admins"]) == "user"


@pytest.mark.parametrize(
    ("claims", "groups"),
    [
        ({"groups": ["a", "b"]}, ["a", "b"]),
        ({"groups": "a, b"}, ["a", "b"]),
        ({"groups": ""}, []),
        ({"groups": None}, []),
        ({}, []),
        ({"realm_access": {"roles": ["a"]}}, ["a"]),
    ],
)
def test_claim_groups(claims: dict[str, Any], groups: list[str]) -> None:
    claim = "realm_access.roles" if "realm_access" in claims else "groups"
    assert gate.claim_groups(claims, claim) == groups


@pytest.mark.parametrize(
    ("body", "deactivates"),
    [
        ({"active": False, "userName": "a@example.org"}, True),
        ({"active": True}, False),
        ({"Operations": [{"op": "replace", "path": "active", "value": False}]}, True),
        ({"Operations": [{"op": "Replace", "value": {"active": False}}]}, True),
        ({"Operations": [{"op": "replace", "path": "displayName", "value": "A"}]}, False),
        ("not json", False),
    ],
)
def test_which_scim_bodies_deactivate(body: Any, deactivates: bool) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    assert gate.deactivates(raw) is deactivates


class Recorder:
    """Stands for Open WebUI's app: records what reaches it and answers 200."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def request(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, bytes]:
    chunks = [body[:5], body[5:]]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers or []}
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


def gate_around(inner: Recorder, demoted: list[str] | None = None, local: str = "") -> Any:
    async def demote(user_id: str) -> None:
        (demoted if demoted is not None else []).append(user_id)

    async def local_account(email: str) -> bool:
        return bool(local) and email == local

    return gate.Gate(inner, "Example SSO", demote, local_account, "scim-secret")


FORWARDED = [(b"x-forwarded-for", b"203.0.113.9")]


def test_no_account_is_created_through_the_load_balancer() -> None:
    inner = Recorder()
    app = gate_around(inner)
    for path in sorted(gate.CREATE_PATHS):
        status, body = request(app, "POST", path, b"{}", FORWARDED)
        assert status == 403 and "sign in with Example SSO" in json.loads(body)["detail"]
    assert inner.seen == []
    # From inside the VPC (no load balancer in between) they reach Open WebUI.
    assert request(app, "POST", "/api/v1/auths/add", b"{}")[0] == 200


def test_passwords_through_the_load_balancer_sign_in_only_the_fleets_own_accounts() -> None:
    inner = Recorder()
    app = gate_around(inner, local="admin@llm-fleet.local")
    admin = json.dumps({"email": "Admin@llm-fleet.local ", "password": "x"}).encode()
    person = json.dumps({"email": "alice@example.org", "password": "x"}).encode()
    assert request(app, "POST", gate.SIGNIN_PATH, admin, FORWARDED)[0] == 200
    status, body = request(app, "POST", gate.SIGNIN_PATH, person, FORWARDED)
    assert status == 403 and "sign in with Example SSO" in json.loads(body)["detail"]
    assert request(app, "POST", gate.SIGNIN_PATH, b"not json", FORWARDED)[0] == 403
    # Inside the VPC Open WebUI decides; the body it gets is the one sent.
    assert request(app, "POST", gate.SIGNIN_PATH, person)[0] == 200
    assert inner.seen == [(gate.SIGNIN_PATH, admin), (gate.SIGNIN_PATH, person)]
    assert request(app, "GET", "/api/models", headers=FORWARDED)[0] == 200


def test_scim_deactivation_demotes_first_and_passes_the_same_body() -> None:
    inner = Recorder()
    demoted: list[str] = []
    app = gate_around(inner, demoted)
    scim = [(b"authorization", b"Bearer scim-secret")]
    off = json.dumps({"Operations": [{"op": "replace", "path": "active", "value": False}]}).encode()
    assert request(app, "PATCH", "/api/v1/scim/v2/Users/u-1", off, scim)[0] == 200
    on = json.dumps({"active": True}).encode()
    assert request(app, "PUT", "/api/v1/scim/v2/Users/u-2", on, scim)[0] == 200
    # Without SCIM's token nobody is demoted (Open WebUI then refuses the request itself).
    wrong = [(b"authorization", b"Bearer guess")]
    assert request(app, "PATCH", "/api/v1/scim/v2/Users/u-3", off, wrong)[0] == 200
    assert request(app, "PATCH", "/api/v1/scim/v2/Users/u-4", off)[0] == 200
    assert demoted == ["u-1"]
    assert [path for path, _ in inner.seen] == [
        f"/api/v1/scim/v2/Users/{user}" for user in ("u-1", "u-2", "u-3", "u-4")
    ]
    assert inner.seen[0][1] == off and inner.seen[1][1] == on


def test_the_providers_outage_at_sign_in_is_a_message_not_a_500() -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"Internal Server Error"})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    app = gate.Gate(failing, "Example SSO", None, None)
    scope = {"type": "http", "method": "GET", "path": gate.LOGIN_PATH, "headers": []}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 302 and len(sent) == 2
    location = dict(sent[0]["headers"])[b"location"].decode()
    assert location == "/auth?error=Example+SSO+is+not+answering%3A+try+again+in+a+minute."


def test_a_provider_that_takes_no_connection_sends_the_person_back_with_a_message() -> None:
    """After Open WebUI has read the provider's metadata it would redirect to a provider that is
    down: the gate tries the provider's address first."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        inner = Recorder()
        app = gate.Gate(
            inner, "Example SSO", None, None, "", gate.answers(f"https://127.0.0.1:{port}/x")
        )
        status, _ = request(app, "GET", gate.LOGIN_PATH)
    assert status == 302 and inner.seen == []
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        app = gate.Gate(
            inner, "Example SSO", None, None, "", gate.answers(f"https://127.0.0.1:{port}/x")
        )
        status, _ = request(app, "GET", gate.LOGIN_PATH)
    assert status == 200 and inner.seen == [(gate.LOGIN_PATH, b"")]
