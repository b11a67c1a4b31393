"""The load test's accounts: ordinary users created once through Open WebUI's admin API (an
existing account is kept), all with one password, the way a team's people would have theirs.
They are the fleet's own accounts: made on a host's private address (inside the VPC), they sign
in with their password through the load balancer even where people use single sign-on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

DOMAIN = "load.llm-fleet.local"


def account_email(number: int) -> str:
    return f"user{number:04d}@{DOMAIN}"


def call(url: str, token: str, body: object = None) -> tuple[int, Any]:
    """Open WebUI's API: a POST of body as JSON, or a GET without one; (status, JSON reply)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, method="GET" if body is None else "POST", data=data)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:  # Open WebUI's {"detail": ...}; a load balancer's error is an HTML page
            return error.code, json.loads(text or "{}")
        except json.JSONDecodeError:
            return error.code, {"text": text[:500]}


def admin_token(url: str, email: str, password: str) -> str:
    status, reply = call(f"{url}/api/v1/auths/signin", "", {"email": email, "password": password})
    if status != 200 or reply.get("role") != "admin":
        raise SystemExit(f"the admin {email} could not sign in through {url}: {status} {reply}")
    token: str = reply["token"]
    return token


def ensure_accounts(url: str, token: str, count: int, password: str) -> int:
    """Creates the accounts that do not exist yet; returns how many it created."""
    created = 0
    for number in range(count):
        email = account_email(number)
        body = {"name": f"Load user {number}", "email": email, "password": password,
                "role": "user"}  # fmt: skip
        status, reply = call(f"{url}/api/v1/auths/add", token, body)
        if status == 200:
            created += 1
        elif "already" not in json.dumps(reply).lower():
            raise SystemExit(f"could not create {email}: {status} {reply}")
    return created
