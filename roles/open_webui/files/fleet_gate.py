"""The fleet's gate: Open WebUI's ASGI app, started as `open-webui serve` starts it (the same
uvicorn options, UVICORN_WORKERS workers), with the rules the fleet owns where Open WebUI's own
settings cannot express them.

Single sign-on (FLEET_GATE_SSO=true; the settings are Open WebUI's own OAUTH_* variables):
- Who gets in is decided by the groups claim (OAUTH_ROLES_CLAIM) on every sign-in: a member of
  an admin group (OAUTH_ADMIN_ROLES) is admin, of a user group (OAUTH_ALLOWED_ROLES) a user.
  Anyone else is refused with a message that says why, not left "pending", and an existing
  account is deactivated (pending) so that its sessions stop at once. A missing or empty claim
  counts as no group: an admin whose admin group was removed is demoted at the next sign-in.
- Deactivating a person over SCIM (active=false, with SCIM's token) deactivates admins too (Open
  WebUI keeps an admin's role).
- Through the load balancer (X-Forwarded-For, which the ALB and the lab's HAProxy always add and
  a client cannot remove), accounts are never created, and a password signs in only an account
  the fleet made itself (one that has never signed in through the provider): the bootstrapped
  admin, the break-glass account the deploy's post-deploy check uses, and service or load-test
  accounts made from inside the VPC. People sign in through the provider alone.
- /oauth/oidc/login while the provider does not answer: back to the sign-in page with a message,
  not Open WebUI's bare 500 (before it has read the provider's metadata) nor a redirect to a
  provider that is down (after: the provider's address is tried first, for at most 3 s).

Admission and fair share for generations (FLEET_GATE_CAPACITY, FLEET_GATE_LIMITS): fleet_limits.py,
shipped beside this file.

Runs in Open WebUI's venv: python fleet_gate.py --host HOST --port PORT.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import quote_plus, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

# Open WebUI's endpoints that create an account (or sign in through LDAP, which creates one), and
# the one that takes a password.
CREATE_PATHS = frozenset({"/api/v1/auths/signup", "/api/v1/auths/add", "/api/v1/auths/ldap"})
SIGNIN_PATH = "/api/v1/auths/signin"
LOGIN_PATH = "/oauth/oidc/login"
SCIM_USERS = "/api/v1/scim/v2/Users/"
PASSWORD_CLOSED = "Password sign-in is closed on this service: sign in with {provider}."
PROVIDER_DOWN = "{provider} is not answering: try again in a minute."
NOT_ALLOWED = (
    "Your account is not in a group allowed to use this service (allowed: {groups}). "
    "Ask your administrator for access."
)


def enabled(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() == "true"


def claim_groups(claims: object, claim: str) -> list[str]:
    """The groups a claim names: a list, or one string split on commas; none when missing."""
    value: object = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, str) and value:
        return [item.strip() for item in value.split(",") if item.strip()]
    return []


def role_for(
    groups: Iterable[str], user_groups: Iterable[str], admin_groups: Iterable[str]
) -> str | None:
    """The fleet's rule: admin, user or None (refused)."""
    member = set(groups)
    if member & set(admin_groups):
        return "admin"
    if "*" in set(user_groups) or member & set(user_groups):
        return "user"
    return None


def through_load_balancer(scope: Scope) -> bool:
    return any(name == b"x-forwarded-for" for name, _ in scope.get("headers", []))


def deactivates(body: bytes) -> bool:
    """Whether a SCIM PUT or PATCH body sets active to false."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    if document.get("active") is False:
        return True
    for operation in document.get("Operations") or []:
        if not isinstance(operation, dict):
            continue
        value = operation.get("value")
        if operation.get("path") == "active" and value is False:
            return True
        if (
            operation.get("path") is None
            and isinstance(value, dict)
            and value.get("active") is False
        ):
            return True
    return False


async def answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """Wraps Open WebUI's app: refuses account creation through the load balancer and passwords
    there for anyone but the fleet's own accounts, deactivates an admin that SCIM deactivates,
    and turns the provider's outage at sign-in into a message; hands everything else on."""

    def __init__(
        self,
        app: App,
        provider: str,
        demote: Callable[[str], Awaitable[None]],
        local_account: Callable[[str], Awaitable[bool]],
        scim_token: str = "",
        provider_answers: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.app = app
        self.provider = provider
        self.demote = demote
        self.local_account = local_account
        self.scim_token = scim_token
        self.provider_answers = provider_answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        closed = PASSWORD_CLOSED.format(provider=self.provider)
        if path in CREATE_PATHS and through_load_balancer(scope):
            await answer(send, 403, closed)
            return
        if path == SIGNIN_PATH and through_load_balancer(scope):
            body, receive = await read_body(receive)
            if not await self.local_account(signin_email(body)):
                await answer(send, 403, closed)
                return
        if (
            path.startswith(SCIM_USERS)
            and scope.get("method") in {"PUT", "PATCH"}
            and self.scim_caller(scope)
        ):
            body, receive = await read_body(receive)
            user_id = path.removeprefix(SCIM_USERS)
            if deactivates(body) and user_id and "/" not in user_id:
                await self.demote(user_id)
        if path == LOGIN_PATH:
            if self.provider_answers is not None and not await self.provider_answers():
                await self.back_to_sign_in(send)
                return
            send = self.provider_down_to_message(send)
        await self.app(scope, receive, send)

    async def back_to_sign_in(self, send: Send) -> None:
        """To the sign-in page, which shows the message that the provider does not answer."""
        location = "/auth?error=" + quote_plus(PROVIDER_DOWN.format(provider=self.provider))
        headers = [(b"location", location.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 302, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def scim_caller(self, scope: Scope) -> bool:
        """The request carries SCIM's bearer token (Open WebUI checks it again after)."""
        if not self.scim_token:
            return False
        given = dict(scope.get("headers", [])).get(b"authorization", b"")
        return hmac.compare_digest(given, f"Bearer {self.scim_token}".encode())

    def provider_down_to_message(self, send: Send) -> Send:
        """Open WebUI answers /oauth/oidc/login with 500 when it cannot reach the provider: send
        the person back to the sign-in page with the reason instead."""
        replaced = False

        async def sending(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] >= 500:
                replaced = True
                await self.back_to_sign_in(send)
                return
            if not replaced:
                await send(message)

        return sending


def answers(url: str, timeout: float = 3.0) -> Callable[[], Awaitable[bool]]:
    """Whether the provider at url takes a connection within timeout seconds."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)

    async def check() -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    return check


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a receive that hands the app the same messages."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def signin_email(body: bytes) -> str:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return ""
    email = document.get("email") if isinstance(document, dict) else None
    return email.strip().lower() if isinstance(email, str) else ""


def install_sign_in_rule() -> None:
    """Replace Open WebUI's role decision at OIDC sign-in with the fleet's rule."""
    from fastapi import HTTPException
    from open_webui.models.users import Users
    from open_webui.utils import oauth

    async def fleet_role(
        self: object, user: Any, user_data: Any, *, token_claims: dict[str, Any] | None = None
    ) -> str:
        config = await oauth.get_oauth_runtime_config()
        claim = str(config.OAUTH_ROLES_CLAIM)
        groups = claim_groups(user_data or {}, claim) or claim_groups(token_claims or {}, claim)
        role = role_for(groups, config.OAUTH_ALLOWED_ROLES, config.OAUTH_ADMIN_ROLES)
        if role is None:
            if user is not None and user.role != "pending":
                await Users.update_user_role_by_id(user.id, "pending")
            allowed = sorted({*config.OAUTH_ALLOWED_ROLES, *config.OAUTH_ADMIN_ROLES})
            raise HTTPException(403, detail=NOT_ALLOWED.format(groups=", ".join(allowed)))
        return role

    oauth.OAuthManager.get_user_role = fleet_role


async def local_account(email: str) -> bool:
    """An account the fleet made itself: it exists and has never signed in through a provider."""
    from open_webui.models.users import Users

    user = await Users.get_user_by_email(email) if email else None
    return user is not None and not user.oauth


async def demote_admin(user_id: str) -> None:
    from open_webui.models.users import Users

    user = await Users.get_user_by_id(user_id)
    if user is not None and user.role == "admin":
        await Users.update_user_role_by_id(user_id, "user")


def build() -> App:
    import fleet_limits  # type: ignore[import-not-found]  # beside this file on the host
    import open_webui.main

    app: App = fleet_limits.install(open_webui.main.app)
    if not enabled("FLEET_GATE_SSO"):
        return app
    install_sign_in_rule()
    provider = os.environ.get("OAUTH_PROVIDER_NAME", "single sign-on")
    scim_token = os.environ.get("SCIM_TOKEN", "") if enabled("ENABLE_SCIM") else ""
    check = answers(os.environ.get("OPENID_PROVIDER_URL", ""))
    return Gate(app, provider, demote_admin, local_account, scim_token, check)


def __getattr__(name: str) -> App:
    """`app`, built when uvicorn (each worker) imports fleet_gate:app."""
    if name != "app":
        raise AttributeError(name)
    built = build()
    globals()["app"] = built
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    arguments = parser.parse_args()
    # What `open-webui serve` does before it starts uvicorn (WEBUI_SECRET_KEY is in the fleet's
    # environment file; a host never generates its own).
    os.environ["FROM_INIT_PY"] = "true"
    import uvicorn
    from open_webui.env import UVICORN_WORKERS, UVICORN_WS_PER_MESSAGE_DEFLATE

    uvicorn.run(
        "fleet_gate:app",
        host=arguments.host,
        port=arguments.port,
        forwarded_allow_ips=os.getenv("FORWARDED_ALLOW_IPS", "*"),
        workers=UVICORN_WORKERS,
        ws_per_message_deflate=UVICORN_WS_PER_MESSAGE_DEFLATE,
        # Longer than the load balancer's idle timeout (Uvicorn's 5 s would close connections
        # the load balancer is about to reuse: a 502 each time).
        timeout_keep_alive=int(os.environ.get("FLEET_GATE_KEEP_ALIVE") or 5),
    )
    stop_resource_tracker()


def stop_resource_tracker() -> None:
    """With workers, multiprocessing started its resource tracker, which ignores SIGTERM and
    ends only once every process that uses it has: wait for it here, so that the service's last
    process is its main one. Otherwise systemd can find the tracker still there when the main
    process exits and, where it gets no notice of the control group emptying (cgroup v1 in a
    container), waits out the whole stop timeout (90 s) before a restart."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        stop()


if __name__ == "__main__":
    main()
