"""The lab's OpenID Connect provider (Glewlwyd on the identity host), set up through its admin API
from the controller, over TLS checked against the lab's CA: its admin's password (generated once,
replacing the package's default), the groups claim, the scopes the fleet asks for, the OpenID
Connect plugin (its signing key made once), the fleet's client (its secret the fleet's
oidc_client_secret in the lab's Secrets Manager) and the lab's people (lab_identity.people, each
password generated once under .lab/identity/). Each step changes only what differs, and says so.
The stack tests use the same client to do what an identity team does: move a person between
groups, deactivate them.

    .venv/bin/python -m lab.identity       # prints one line per change, then "ok"
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fleetlib.wiring import role_default
from lab.ca import CA_CERT
from lab.config import STATE_DIR, lab_network, lab_var

PASSWORDS = STATE_DIR / "identity"
# The package's first admin and password (its database's seed), replaced on the first run.
ADMIN = "admin"
PACKAGE_ADMIN_PASSWORD = "password"
PLUGIN = "oidc"
SCOPES = ("openid", "email", "profile")
# How long the provider's own sign-in session lasts (its cookie): a working day.
SESSION_SECONDS = 8 * 3600


class ProviderError(RuntimeError):
    """The provider refused or failed a call (the method, the path, the status and its answer)."""


def password_of(username: str) -> str:
    """A lab person's (or the provider admin's) password: generated once, kept root-only."""
    path = PASSWORDS / username
    if not path.exists():
        PASSWORDS.mkdir(parents=True, exist_ok=True)
        PASSWORDS.chmod(0o700)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(18))
    return path.read_text().strip()


def provider_url() -> str:
    network = lab_network()
    return f"https://{network.identity_address}:{lab_var('lab_identity')['port']}"


@dataclass
class Answer:
    status: int
    body: Any


class Provider:
    """Glewlwyd's admin API (/api), signed in with a session cookie."""

    def __init__(self, url: str | None = None) -> None:
        self.url = (url or provider_url()).rstrip("/")
        context = ssl.create_default_context(cafile=str(CA_CERT))
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context),
            urllib.request.HTTPCookieProcessor(CookieJar()),
        )

    def call(self, method: str, path: str, body: Any = None) -> Answer:
        request = urllib.request.Request(
            f"{self.url}/api{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=30) as response:
                raw = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read().decode(), error.code
        try:
            parsed: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            parsed = raw
        return Answer(status, parsed)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.call(method, path, body)
        if answer.status != 200:
            raise ProviderError(f"{method} {path}: {answer.status} {answer.body}")
        return answer.body

    def sign_in(self, username: str, password: str) -> bool:
        return (
            self.call("POST", "/auth/", {"username": username, "password": password}).status == 200
        )

    def sign_in_as_admin(self) -> list[str]:
        """Sign in as the provider's admin; on a fresh provider, replace the package's password
        with the lab's generated one first."""
        if self.sign_in(ADMIN, password_of(ADMIN)):
            return []
        if not self.sign_in(ADMIN, PACKAGE_ADMIN_PASSWORD):
            raise ProviderError(
                "the provider's admin takes neither the lab's password nor the default"
            )
        self.ok(
            "PUT",
            "/profile/password",
            {"old_password": PACKAGE_ADMIN_PASSWORD, "password": password_of(ADMIN)},
        )
        return ["the provider admin's password replaced"]

    def signing_key(self) -> tuple[rsa.RSAPrivateKey, str]:
        """The key the provider signs its tokens with (its plugin's, admin only) and its key ID
        as its JWKS publishes it."""
        kept = serialization.load_pem_private_key(
            self.ok("GET", f"/mod/plugin/{PLUGIN}")["parameters"]["key"].encode(), password=None
        )
        if not isinstance(kept, rsa.RSAPrivateKey):
            raise ProviderError("the plugin's signing key is not RSA")
        kid = str(self.ok("GET", f"/{PLUGIN}/jwks")["keys"][0]["kid"])
        return kept, kid

    # People -------------------------------------------------------------------------------

    def person(self, username: str) -> dict[str, Any] | None:
        answer = self.call("GET", f"/user/{username}")
        return answer.body if answer.status == 200 else None

    def set_person(self, username: str, **fields: Any) -> None:
        """Change some of a person's fields (groups, enabled, ...), keeping the rest."""
        current = self.person(username)
        if current is None:
            raise ProviderError(f"no person {username} at the provider")
        current.pop("source", None)
        self.ok("PUT", f"/user/{username}", {**current, **fields})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_token(key: rsa.RSAPrivateKey, kid: str, claims: dict[str, Any]) -> str:
    """A JWT signed RS256 with key, as the provider signs its ID and logout tokens."""
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _plugin(issuer: str, key: rsa.RSAPrivateKey, claim: str) -> dict[str, Any]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return {
        "module": "oidc",
        "name": PLUGIN,
        "display_name": "OpenID Connect",
        "enabled": True,
        "parameters": {
            "iss": issuer,
            "jwt-type": "rsa",
            "jwt-key-size": "256",
            "key": private,
            "cert": public,
            "access-token-duration": 3600,
            "refresh-token-duration": SESSION_SECONDS,
            "code-duration": 600,
            "refresh-token-rolling": True,
            "allow-non-oidc": False,
            "auth-type-code-enabled": True,
            "auth-type-token-enabled": False,
            "auth-type-id-token-enabled": False,
            "auth-type-none-enabled": False,
            "auth-type-password-enabled": False,
            "auth-type-client-enabled": False,
            "auth-type-device-enabled": False,
            "auth-type-refresh-enabled": True,
            "scope": [],
            "additional-parameters": [],
            "claims": [
                {
                    "name": claim,
                    "user-property": "groups",
                    "type": "string",
                    "boolean-value-true": "",
                    "boolean-value-false": "",
                    "mandatory": True,
                    "on-demand": False,
                    "scope": [],
                }
            ],
            "name-claim": "mandatory",
            "name-claim-scope": [],
            "email-claim": "mandatory",
            "email-claim-scope": [],
            "scope-claim": "no",
            "scope-claim-scope": [],
            "address-claim": {"type": "no", "mandatory": False},
            "allowed-scope": list(SCOPES),
            "subject-type": "public",
            "jwks-show": True,
            "pkce-allowed": True,
            "session-management-allowed": False,
            "front-channel-logout-allowed": False,
            "back-channel-logout-allowed": True,
        },
    }


def _differs(wanted: dict[str, Any], current: dict[str, Any], skip: tuple[str, ...] = ()) -> bool:
    return any(current.get(key) != value for key, value in wanted.items() if key not in skip)


def configure(provider: Provider, client_secret: str, redirect_uri: str) -> list[str]:
    """Bring the provider to the lab's settings; the changes made, in words."""
    settings = lab_var("lab_identity")
    claim = str(role_default("open_webui", "open_webui_oidc_groups_claim"))
    changes = provider.sign_in_as_admin()

    module = provider.ok("GET", "/mod/user/database")
    formats = module["parameters"]["data-format"]
    groups = {"multiple": True, "read": True, "write": True, "profile-read": True}
    if formats.get("groups") != {**groups, "profile-write": False}:
        formats["groups"] = {**groups, "profile-write": False}
        provider.ok("PUT", "/mod/user/database", module)
        provider.ok("PUT", "/mod/user/database/reset")
        changes.append("the people's groups property")

    for name in SCOPES:
        wanted = {
            "name": name,
            "display_name": name,
            "description": f"The fleet's {name} scope",
            "password_required": name == "openid",
            "password_max_age": 0,
            "scheme": {},
        }
        current = provider.call("GET", f"/scope/{name}")
        if current.status == 404:
            provider.ok("POST", "/scope/", wanted)
            changes.append(f"scope {name}")
        elif _differs(wanted, current.body, skip=("display_name", "description")):
            provider.ok("PUT", f"/scope/{name}", {**current.body, **wanted})
            changes.append(f"scope {name}")

    issuer = f"{provider.url}/api/{PLUGIN}"
    current_plugin = provider.call("GET", f"/mod/plugin/{PLUGIN}")
    if current_plugin.status == 404:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        provider.ok("POST", "/mod/plugin/", _plugin(issuer, key, claim))
        changes.append("the OpenID Connect plugin (a new signing key)")
    else:
        parameters = current_plugin.body["parameters"]
        kept = serialization.load_pem_private_key(parameters["key"].encode(), password=None)
        if not isinstance(kept, rsa.RSAPrivateKey):
            raise ProviderError("the plugin's signing key is not RSA")
        wanted_plugin = _plugin(issuer, kept, claim)
        if _differs(wanted_plugin["parameters"], parameters, skip=("key", "cert")):
            provider.ok("PUT", f"/mod/plugin/{PLUGIN}", wanted_plugin)
            changes.append("the OpenID Connect plugin's settings")

    client = {
        "client_id": settings["client_id"],
        "name": "llm-fleet (the lab)",
        "confidential": True,
        "enabled": True,
        "client_secret": client_secret,
        "token_endpoint_auth_method": ["client_secret_basic", "client_secret_post"],
        "redirect_uri": [redirect_uri],
        "authorization_type": ["code", "refresh_token"],
        "scope": [],
    }
    current_client = provider.call("GET", f"/client/{settings['client_id']}")
    if current_client.status == 404:
        provider.ok("POST", "/client/?source=database", client)
        changes.append(f"client {settings['client_id']}")
    elif _differs(client, current_client.body, skip=("name",)):
        provider.ok("PUT", f"/client/{settings['client_id']}", client)
        changes.append(f"client {settings['client_id']}")

    for person in settings["people"]:
        wanted_person = {
            "username": person["username"],
            "name": person["name"],
            "email": person["email"],
            "enabled": True,
            "scope": list(SCOPES),
            "groups": list(person["groups"]),
        }
        existing = provider.person(person["username"])
        if existing is None:
            created = {**wanted_person, "password": password_of(person["username"])}
            provider.ok("POST", "/user/?source=database", created)
            changes.append(f"person {person['username']}")
    return changes


def main() -> int:
    from lab.aws import fleet_secret
    from lab.state import LabState

    state = LabState.load()
    if state is None:
        print("lab is down: `make lab` starts it", file=sys.stderr)
        return 1
    secret = fleet_secret(state.endpoint, "oidc_client_secret")
    redirect = f"http://{lab_network().load_balancer_address}/oauth/oidc/callback"
    for change in configure(Provider(), secret, redirect):
        print(f"changed: {change}")
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
