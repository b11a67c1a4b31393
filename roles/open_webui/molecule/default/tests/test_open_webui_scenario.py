"""open_webui (the real Open WebUI) against the Ollama-API-compatible TEST STAND-IN: a hardened
service on loopback, health, the bootstrapped admin, models listed and a chat completion; and
single sign-on with a TEST identity provider (oidc-provider-mock, an OpenID Connect provider that
stands in for the organisation's: Entra ID, Okta, Cognito), run here on the controller at the
container's gateway: who gets in by group, an admin demoted, no account created and no person's
password through the load balancer, the provider's outage, groups synced and used for a knowledge
collection, and SCIM deactivation (sessions and API keys)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from testinfra.host import Host

from fleetlib.wiring import wired

CALL = """
import json, sys, urllib.request, urllib.error
method, url, token, body, headers = sys.argv[1:6]
request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
request.add_header("Content-Type", "application/json")
for name, value in json.loads(headers).items():
    request.add_header(name, value)
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
OLLAMA_PORT = wired("ollama_port")
API = f"http://127.0.0.1:{PORT}"  # the scenario keeps Open WebUI on loopback


def call(
    host: Host,
    method: str,
    path: str,
    token: str = "",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    payload = json.dumps(body) if body is not None else ""
    out = host.check_output(
        "python3 -c %s %s %s %s %s %s",
        CALL,
        method,
        API + path,
        token,
        payload,
        json.dumps(headers or {}),
    )
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


KEPT_ALIVE = """
import http.client, sys, time
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
ports = []
for pause in (0, 7):
    time.sleep(pause)
    try:
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
    except (ConnectionError, http.client.HTTPException) as error:
        print("closed:", type(error).__name__)
        break
    ports.append(conn.sock.getsockname()[1])
    print(response.status)
print("one connection" if len(ports) == 2 and len(set(ports)) == 1 else "not kept")
"""


def test_an_idle_connection_outlives_uvicorns_five_seconds(host: Host) -> None:
    """A load balancer reuses its idle connections to the host: the host must not close one
    first (Uvicorn's default keep-alive is 5 s; the role sets open_webui_keep_alive_seconds)."""
    out = host.check_output("python3 -c %s %s", KEPT_ALIVE, str(PORT))
    assert out.splitlines() == ["200", "200", "one connection"]


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
    result = host.run("python3 -c %s %s %s %s %s %s", CALL, "GET", API + "/health", "", "", "{}")
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


WHERE_TO = """
import sys, urllib.error, urllib.request
class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
try:
    response = urllib.request.build_opener(Stay).open(sys.argv[1], timeout=60)
except urllib.error.HTTPError as error:
    response = error
print(response.code, response.headers.get("Location", ""))
"""


def test_sso_sign_in_while_the_provider_is_down_says_so(host: Host) -> None:
    """Runs before the provider fixture starts the test provider, on the Open WebUI the test
    above restarted (it has not read the provider's metadata yet)."""
    issuer = environment(host)["OPENID_PROVIDER_URL"]
    with pytest.raises(OSError):
        urllib.request.urlopen(issuer, timeout=2).close()
    login = host.check_output("python3 -c %s %s", WHERE_TO, API + "/oauth/oidc/login")
    status, location = login.split(" ", 1)
    assert status == "302", login
    assert location.startswith("/auth?error=") and "is+not+answering" in location, login


# Single sign-on --------------------------------------------------------------------------------

# A person's sign-in as a browser does it, inside the container: Open WebUI's /oauth/oidc/login,
# the provider's authorization form (the test provider asks only for the subject), then the
# callback; prints where it landed and the session cookie.
SIGN_IN = """
import http.cookiejar, json, sys, urllib.error, urllib.parse, urllib.request
base, sub = sys.argv[1:3]
jar = http.cookiejar.CookieJar()
class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), Stay)
def go(url, data=None):
    try:
        response = opener.open(urllib.request.Request(url, data=data), timeout=60)
    except urllib.error.HTTPError as error:
        response = error
    return response.headers.get("Location", "")
authorize = go(base + "/oauth/oidc/login")
back = go(authorize, urllib.parse.urlencode({"sub": sub}).encode())
landing = go(back)
token = next((cookie.value for cookie in jar if cookie.name == "token"), "")
print(json.dumps({"authorize": authorize, "landing": landing, "token": token}))
"""
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def environment(host: Host) -> dict[str, str]:
    lines = host.file("/etc/open-webui/open-webui.env").content_string.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@pytest.fixture(scope="module")
def provider(host: Host) -> Iterator[str]:
    """The TEST identity provider, on the address the converge gave Open WebUI as its issuer."""
    issuer = environment(host)["OPENID_PROVIDER_URL"].removesuffix(
        "/.well-known/openid-configuration"
    )
    where = urllib.parse.urlsplit(issuer)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oidc_provider_mock",
            "-H",
            str(where.hostname),
            "-p",
            str(where.port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Up within a minute (seconds here; more while another scenario shares the cores).
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(
                    issuer + "/.well-known/openid-configuration", timeout=2
                ).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"the test provider never answered at {issuer}"
                time.sleep(0.2)
        yield issuer
    finally:
        server.terminate()
        server.wait(timeout=10)


def person(provider: str, sub: str, **claims: Any) -> None:
    """The person as the provider describes them (their claims replace the previous ones)."""
    body = json.dumps({"email": f"{sub}@example.org", "name": sub.title(), **claims}).encode()
    request = urllib.request.Request(
        f"{provider}/users/{sub}",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()


def sign_in(host: Host, provider: str, sub: str, **claims: Any) -> dict[str, str]:
    person(provider, sub, **claims)
    result: dict[str, str] = json.loads(host.check_output("python3 -c %s %s %s", SIGN_IN, API, sub))
    assert result["authorize"].startswith(provider), result
    return result


def user_of(host: Host, admin: str, sub: str) -> dict[str, Any] | None:
    users = call(host, "GET", "/api/v1/users/?query=" + sub, token=admin)["body"]["users"]
    found = [u for u in users if u["email"] == f"{sub}@example.org"]
    return found[0] if found else None


def test_sso_member_of_a_user_group_signs_in_with_the_test_identity_provider(
    host: Host, provider: str, token: str
) -> None:
    result = sign_in(host, provider, "alice", groups=["staff"])
    assert result["landing"].endswith("/auth") and result["token"], result
    me = call(host, "GET", "/api/v1/auths/", token=result["token"])["body"]
    assert me["role"] == "user" and me["email"] == "alice@example.org"
    # The session lasts the fleet's lifetime (8 hours), not Open WebUI's four weeks.
    payload = result["token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert 8 * 3600 - 120 <= claims["exp"] - time.time() <= 8 * 3600
    assert call(host, "GET", "/api/models", token=result["token"])["status"] == 200


def test_sso_person_in_no_allowed_group_is_refused_with_the_reason(
    host: Host, provider: str, token: str
) -> None:
    result = sign_in(host, provider, "bob", groups=["contractors"])
    assert not result["token"]
    reason = urllib.parse.unquote_plus(result["landing"])
    assert "not in a group allowed to use this service" in reason and "staff" in reason, reason
    assert user_of(host, token, "bob") is None  # refused, not left pending


def test_sso_admin_group_removed_demotes_even_with_no_groups_claim(
    host: Host, provider: str, token: str
) -> None:
    admin = sign_in(host, provider, "carol", groups=["staff", "llm-admins"])
    assert call(host, "GET", "/api/v1/auths/", token=admin["token"])["body"]["role"] == "admin"
    # The provider stops sending the claim: refused, and the account deactivated at once.
    refused = sign_in(host, provider, "carol")
    assert not refused["token"] and "not in a group allowed" in urllib.parse.unquote_plus(
        refused["landing"]
    )
    assert call(host, "GET", "/api/models", token=admin["token"])["status"] in (401, 403)
    # Back in a user group only: a user, no longer an admin.
    again = sign_in(host, provider, "carol", groups=["staff"])
    assert call(host, "GET", "/api/v1/auths/", token=again["token"])["body"]["role"] == "user"


def test_sso_passwords_through_the_load_balancer_only_for_the_fleets_own_accounts(
    host: Host, provider: str, token: str
) -> None:
    through_lb = {"X-Forwarded-For": "203.0.113.9"}
    # A person who signs in through the provider: never with a password through the load balancer.
    sign_in(host, provider, "judy", groups=["staff"])
    judy = {"email": "judy@example.org", "password": "any-password-1"}
    refused = call(host, "POST", "/api/v1/auths/signin", body=judy, headers=through_lb)
    assert refused["status"] == 403 and "sign in with" in json.loads(refused["body"])["detail"]
    # No account is created through the load balancer, not even by an admin.
    account = {
        "name": "Load 1",
        "email": "load1@llm-fleet.local",
        "password": "pw-1234567890",
        "role": "user",
    }
    added = call(host, "POST", "/api/v1/auths/add", token=token, headers=through_lb, body=account)
    assert added["status"] == 403
    # From inside the VPC it is (a load-test or service account), and the fleet's own accounts
    # sign in through the load balancer: the admin as the deploy's post-deploy check does.
    assert call(host, "POST", "/api/v1/auths/add", token=token, body=account)["status"] == 200
    credentials = {"email": account["email"], "password": account["password"]}
    signed = call(host, "POST", "/api/v1/auths/signin", body=credentials, headers=through_lb)
    assert signed["status"] == 200 and signed["body"]["role"] == "user"
    password = host.file("/etc/open-webui/admin-password").content_string.strip()
    admin = {"email": "admin@llm-fleet.local", "password": password}
    assert (
        call(host, "POST", "/api/v1/auths/signin", body=admin, headers=through_lb)["status"] == 200
    )
    features = call(host, "GET", "/api/config")["body"]["features"]
    assert features["enable_login_form"] is False and features["enable_signup"] is False


def test_sso_never_takes_over_a_local_account_with_the_same_email(
    host: Host, provider: str, token: str
) -> None:
    """Whoever can set an e-mail at the provider does not become the local account that has it
    (Open WebUI's OAUTH_MERGE_ACCOUNTS_BY_EMAIL is off): not even the bootstrapped admin's."""
    person(provider, "mallory", email="admin@llm-fleet.local", groups=["llm-admins"])
    result: dict[str, str] = json.loads(
        host.check_output("python3 -c %s %s %s", SIGN_IN, API, "mallory")
    )
    assert not result["token"], result
    assert "error=" in result["landing"], result


def test_sso_groups_are_synced_and_share_a_knowledge_collection(
    host: Host, provider: str, token: str
) -> None:
    member = sign_in(host, provider, "frank", groups=["staff", "research"])
    outsider = sign_in(host, provider, "grace", groups=["staff"])
    groups = call(host, "GET", "/api/v1/groups/", token=token)["body"]
    research = next(g for g in groups if g["name"] == "research")
    created = call(
        host,
        "POST",
        "/api/v1/knowledge/create",
        token=token,
        body={
            "name": "Research notes",
            "description": "for the research group",
            "access_grants": [
                {"principal_type": "group", "principal_id": research["id"], "permission": "read"}
            ],
        },
    )
    assert created["status"] == 200, created
    knowledge = created["body"]["id"]
    assert (
        call(host, "GET", f"/api/v1/knowledge/{knowledge}", token=member["token"])["status"] == 200
    )
    assert call(host, "GET", f"/api/v1/knowledge/{knowledge}", token=outsider["token"])[
        "status"
    ] in (401, 403, 404)
    # Leaving the group at the provider takes the collection away at the next sign-in.
    left = sign_in(host, provider, "frank", groups=["staff"])
    assert call(host, "GET", f"/api/v1/knowledge/{knowledge}", token=left["token"])["status"] in (
        401,
        403,
        404,
    )


def scim(host: Host, method: str, path: str, body: Any) -> dict[str, Any]:
    secret = host.file("/etc/open-webui/scim-token").content_string.strip()
    return call(host, method, "/api/v1/scim/v2" + path, token=secret, body=body)


def test_sso_scim_deactivation_ends_access_at_the_next_request(
    host: Host, provider: str, token: str
) -> None:
    # Okta deactivates with a PUT of the whole user, Entra ID with a PATCH of `active`.
    for sub, groups in (("heidi", ["staff"]), ("ivan", ["llm-admins"])):
        session = sign_in(host, provider, sub, groups=groups)
        assert call(host, "GET", "/api/models", token=session["token"])["status"] == 200
        # An admin's API key (keys are on in this scenario) stops with its owner too.
        key = ""
        if sub == "ivan":
            key = call(host, "POST", "/api/v1/auths/api_key", token=session["token"])["body"][
                "api_key"
            ]
            assert call(host, "GET", "/api/models", token=key)["status"] == 200
        found = user_of(host, token, sub)
        assert found is not None
        if sub == "heidi":
            body = {"schemas": [SCIM_USER], "userName": f"{sub}@example.org", "active": False}
            reply = scim(host, "PUT", f"/Users/{found['id']}", body)
        else:
            body = {
                "schemas": [SCIM_PATCH],
                "Operations": [{"op": "Replace", "path": "active", "value": False}],
            }
            # Without SCIM's token: refused, and the admin is still an admin.
            forged = call(host, "PATCH", f"/api/v1/scim/v2/Users/{found['id']}", "guess", body)
            assert forged["status"] in (401, 403)
            me = call(host, "GET", "/api/v1/auths/", token=session["token"])["body"]
            assert me["role"] == "admin"
            reply = scim(host, "PATCH", f"/Users/{found['id']}", body)
        assert reply["status"] == 200 and reply["body"]["active"] is False, reply
        # An admin too (Open WebUI alone keeps an admin's role over SCIM), and the admin's key.
        assert call(host, "GET", "/api/models", token=session["token"])["status"] in (401, 403)
        if key:
            assert call(host, "GET", "/api/models", token=key)["status"] in (401, 403)
    assert scim(host, "GET", "/Users", None)["status"] == 200
    assert call(host, "GET", "/api/v1/scim/v2/Users", token="wrong-token")["status"] in (401, 403)


ASK_TOGETHER = """
import json, sys, threading, time, urllib.error, urllib.request
url, tokens = sys.argv[1], json.loads(sys.argv[2])
results = [None] * len(tokens)
def ask(i, token):
    body = {"model": "llama3.2:1b", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    request = urllib.request.Request(url + "/api/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            results[i] = {"status": response.status}
    except urllib.error.HTTPError as error:
        results[i] = {"status": error.code, "retry_after": error.headers.get("Retry-After"),
                      "type": error.headers.get("Content-Type"), "body": error.read().decode()}
threads = [threading.Thread(target=ask, args=item) for item in enumerate(tokens)]
for thread in threads:
    thread.start()
    time.sleep(0.5)
for thread in threads:
    thread.join(timeout=90)
print(json.dumps(results))
"""


@pytest.fixture
def slow_answers(host: Host) -> Iterator[None]:
    """The stand-in streams 30-token answers at 5 tokens/s (6 s each), so that they overlap."""
    folder = "/etc/systemd/system/ollama.service.d"
    probe = (
        'python3 -c "import urllib.request;'
        f" urllib.request.urlopen('http://127.0.0.1:{OLLAMA_PORT}/')\""
    )
    up = f"for i in $(seq 60); do {probe} 2>/dev/null && exit 0; sleep 0.5; done; exit 1"
    host.check_output(
        f"mkdir -p {folder} && printf '[Service]\\nEnvironment=STANDIN_TOKENS_PER_SECOND=5\\n"
        f"Environment=STANDIN_ANSWER_TOKENS=30\\n' > {folder}/50-test-pace.conf"
        f" && systemctl daemon-reload && systemctl restart ollama && {up}"
    )
    try:
        yield
    finally:
        host.check_output(
            f"rm -f {folder}/50-test-pace.conf && systemctl daemon-reload"
            f" && systemctl restart ollama && {up}"
        )


def test_limits_a_person_over_their_share_gets_429_and_a_full_host_503(
    host: Host, provider: str, token: str, slow_answers: None
) -> None:
    """The converge sets 3 generations per host and 2 per person. Five answers started half a
    second apart: the admin's two (one with the admin's API key: the key counts as its owner),
    the admin's third (429), another person's (the host's third) and theirs again (503: the host
    is full, refused before anything else)."""
    key = call(host, "POST", "/api/v1/auths/api_key", token=token)["body"]["api_key"]
    judy = sign_in(host, provider, "judy", groups=["staff"])["token"]
    out = host.check_output(
        "python3 -c %s %s %s", ASK_TOGETHER, API, json.dumps([token, key, token, judy, judy])
    )
    results = json.loads(out)
    assert [r["status"] for r in results] == [200, 200, 429, 200, 503], results
    for refused, detail in (
        (results[2], "You already have 2 answers being written, the most at once for your "
         "account: try again in 5 s."),
        (results[4], "This service is busy: try again in 5 s."),
    ):  # fmt: skip
        assert refused["retry_after"] == "5" and refused["type"] == "application/json"
        assert json.loads(refused["body"]) == {"detail": detail}
    # Every slot was given back at the answers' end: the admin asks again at once.
    again = call(host, "POST", "/api/chat/completions", token=token,
                 body={"model": "llama3.2:1b", "stream": False,
                       "messages": [{"role": "user", "content": "again"}]})  # fmt: skip
    assert again["status"] == 200, again
