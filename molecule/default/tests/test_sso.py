"""Single sign-on on the whole stack, through the load balancer, in a real browser, with the lab's
OpenID Connect provider (Glewlwyd on the identity host, over TLS from the lab's CA, which the
gpu-nodes and the browser trust): a person signs in with their password at the provider and
chats; their groups come along, and a collection shared with one of them answers its members
only; a person in no allowed group is refused with a message; an admin
whose admin group the identity team removed is demoted at the next sign-in, after the provider
restarts with its people kept; a person's password is refused through the load balancer; a person
the provider's SCIM client deactivates is refused at their next request; the provider's
back-channel logout ends a person's sessions, a forged or expired logout token changes nothing;
while the provider is down the sign-in page says so and people already signed in go on.
(The browser keeps going on the other gpu-node when its host stops: test_failover.py, as a
person signed in with the provider.)"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from lab_stack import (
    PEOPLE,
    PROVIDER_NAME,
    SCREENSHOTS,
    answer_text,
    api,
    chat,
    lab_host,
    provider_sign_in,
    signin,
    sso_sign_in,
    wait_until,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from test_documents import (
    KNOWLEDGE_FACT,
    KNOWLEDGE_FILE,
    KNOWLEDGE_QUESTION,
    cited,
    collection_of,
)

from lab.config import IDENTITY_HOST, STATE_HOST, lab_var
from lab.identity import Provider, password_of, provider_url, signed_token

MODEL = "llama3.2:1b"


def session_user(url: str, token: str) -> dict[str, Any]:
    user: dict[str, Any] = api("GET", f"{url}/api/v1/auths/", token)
    return user


def page_token(browser: WebDriver) -> str:
    token = browser.execute_script("return localStorage.token")
    assert token, "the page keeps no session after the provider sent the person back"
    return str(token)


def forget_sessions(browser: WebDriver, url: str) -> None:
    """The browser forgets both sessions, the fleet's (page storage, cookies) and the provider's,
    so that the next sign-in asks the provider for a password again."""
    browser.get(f"{url}/auth")
    browser.execute_script("localStorage.clear()")
    browser.delete_all_cookies()
    browser.get(f"{provider_url()}/config.json")
    browser.delete_all_cookies()


@pytest.fixture
def provider() -> Provider:
    """The identity team's hands on the provider (its admin API)."""
    admin = Provider()
    admin.sign_in_as_admin()
    return admin


def test_a_person_signs_in_at_the_provider_and_chats_with_their_groups(
    browser: WebDriver, webui_url: str, webui_token: str
) -> None:
    chat_input = sso_sign_in(browser, webui_url, "alice")
    token = page_token(browser)
    me = session_user(webui_url, token)
    assert (me["email"], me["role"]) == (PEOPLE["alice"]["email"], "user")

    chat_input.click()
    chat_input.send_keys("Hello from the provider's side")
    chat_input.send_keys(Keys.ENTER)
    WebDriverWait(browser, 60).until(ec.url_contains("/c/"))
    WebDriverWait(browser, 60).until(  # the Ollama TEST STAND-IN's answer
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "Stand-in answer from")
    )
    browser.save_screenshot(str(SCREENSHOTS / "sso-chat.png"))
    assert answer_text(chat(webui_url, token, MODEL, "Say hello")).strip()

    # Her groups at the provider, synced at sign-in (the admin sees them on the fleet).
    groups = api("GET", f"{webui_url}/api/v1/groups/", webui_token)
    research = [group for group in groups if group["name"] == "research"]
    assert research, f"no group 'research' after alice signed in: {[g['name'] for g in groups]}"
    members = api("POST", f"{webui_url}/api/v1/groups/id/{research[0]['id']}/users", webui_token)
    assert me["id"] in [member["id"] for member in members], members


def test_a_collection_shared_with_a_group_answers_its_members_only(
    browser: WebDriver, webui_url: str, webui_token: str
) -> None:
    """alice is in research at the provider, bob is not: the admin shares a collection with the
    research group (synced at sign-in); alice's question is answered from it, bob's is not."""
    tokens = {}
    for person in ("alice", "bob"):
        forget_sessions(browser, webui_url)
        sso_sign_in(browser, webui_url, person)
        tokens[person] = page_token(browser)
    groups = api("GET", f"{webui_url}/api/v1/groups/", webui_token)
    (research,) = [group["id"] for group in groups if group["name"] == "research"]
    grant = {"principal_type": "group", "principal_id": research, "permission": "read"}
    settings = {"name": "Research timetables", "description": "research only"}
    knowledge, _ = collection_of(
        webui_url, webui_token, {**settings, "access_grants": [grant]}, KNOWLEDGE_FILE
    )
    collection = [{"type": "collection", "id": knowledge["id"]}]

    member = chat(webui_url, tokens["alice"], MODEL, KNOWLEDGE_QUESTION, collection)
    assert KNOWLEDGE_FILE in cited(member) and KNOWLEDGE_FACT in answer_text(member)
    with pytest.raises(urllib.error.HTTPError) as hidden:
        api("GET", f"{webui_url}/api/v1/knowledge/{knowledge['id']}", tokens["bob"])
    assert hidden.value.code in (401, 403, 404)
    try:
        outsider = chat(webui_url, tokens["bob"], MODEL, KNOWLEDGE_QUESTION, collection)
    except urllib.error.HTTPError as refused:
        assert refused.code in (401, 403, 404)
    else:
        assert KNOWLEDGE_FILE not in cited(outsider)
        assert KNOWLEDGE_FACT not in answer_text(outsider)


def test_a_person_in_no_allowed_group_is_refused_with_a_message(
    browser: WebDriver, webui_url: str
) -> None:
    provider_sign_in(browser, webui_url, "carol")
    WebDriverWait(browser, 60).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "not in a group allowed")
    )
    browser.save_screenshot(str(SCREENSHOTS / "sso-refused.png"))
    assert not browser.execute_script("return localStorage.token")
    assert not browser.find_elements(By.ID, "chat-input")


def test_a_persons_password_is_refused_through_the_load_balancer(webui_url: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        signin(webui_url, PEOPLE["alice"]["email"], password_of("alice"))
    assert refused.value.code == 403
    assert f"sign in with {PROVIDER_NAME}" in refused.value.read().decode()


@pytest.fixture
def dave_an_admin_again(provider: Provider) -> Iterator[None]:
    groups = PEOPLE["dave"]["groups"]
    yield
    provider.set_person("dave", groups=groups)


def test_an_admin_out_of_the_admin_group_is_demoted_at_the_next_sign_in_after_a_restart(
    browser: WebDriver, webui_url: str, provider: Provider, dave_an_admin_again: None
) -> None:
    sso_sign_in(browser, webui_url, "dave")
    assert session_user(webui_url, page_token(browser))["role"] == "admin"

    provider.set_person("dave", groups=["lab-users"])
    # The provider restarts: its people, their passwords and groups are in its database.
    lab_host(IDENTITY_HOST).run_test("systemctl restart glewlwyd.service")
    wait_until(lambda: Provider().sign_in("dave", password_of("dave")), 60)

    # A new sign-in: the browser forgets both sessions, the fleet's and the provider's.
    forget_sessions(browser, webui_url)
    sso_sign_in(browser, webui_url, "dave")
    assert session_user(webui_url, page_token(browser))["role"] == "user"


SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def scim_token() -> str:
    """SCIM's bearer token, as the identity team gives it to the provider's SCIM client: the
    fleet's secret in the lab's Secrets Manager."""
    from lab.aws import fleet_secret
    from lab.state import LabState

    state = LabState.load()
    assert state is not None
    return fleet_secret(state.endpoint, "scim_token")


def test_a_person_deactivated_over_scim_is_refused_at_the_next_request(
    browser: WebDriver, webui_url: str
) -> None:
    """The calls Entra ID's provisioning makes: find the person by userName, PATCH active=false."""
    sso_sign_in(browser, webui_url, "erin")
    token = page_token(browser)
    assert session_user(webui_url, token)["role"] == "user"
    email = PEOPLE["erin"]["email"]
    scim = scim_token()
    query = urllib.parse.quote(f'userName eq "{email}"')
    found = api("GET", f"{webui_url}/api/v1/scim/v2/Users?filter={query}", scim)
    (person,) = found["Resources"]
    body = {"schemas": [SCIM_PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    api("PATCH", f"{webui_url}/api/v1/scim/v2/Users/{person['id']}", scim, body)
    with pytest.raises(urllib.error.HTTPError) as refused:
        chat(webui_url, token, MODEL, "Am I still in?")
    assert refused.value.code in (401, 403)


@contextmanager
def provider_stopped() -> Iterator[None]:
    idp = lab_host(IDENTITY_HOST)
    idp.run_test("systemctl stop glewlwyd.service")
    try:
        yield
    finally:
        idp.run_test("systemctl start glewlwyd.service")
        wait_until(lambda: Provider().sign_in("alice", password_of("alice")), 60)


def test_while_the_provider_is_down_sign_in_says_so_and_people_signed_in_go_on(
    browser: WebDriver, webui_url: str
) -> None:
    sso_sign_in(browser, webui_url, "alice")
    token = page_token(browser)
    browser.execute_script("localStorage.clear()")
    browser.delete_all_cookies()
    with provider_stopped():
        browser.get(f"{webui_url}/auth")
        button = (By.XPATH, f'//button[contains(., "{PROVIDER_NAME}")]')
        WebDriverWait(browser, 60).until(ec.element_to_be_clickable(button)).click()
        WebDriverWait(browser, 30).until(
            ec.text_to_be_present_in_element((By.TAG_NAME, "body"), "is not answering")
        )
        browser.save_screenshot(str(SCREENSHOTS / "sso-provider-down.png"))
        assert browser.current_url.startswith(webui_url)
        assert answer_text(chat(webui_url, token, MODEL, "Still here?")).strip()


BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def oauth_sub(email: str) -> str:
    """The provider's subject for a person, as Open WebUI recorded it at sign-in (the shared
    database on the state host)."""
    query = f"""SELECT oauth->'oidc'->>'sub' FROM "user" WHERE email = '{email}'"""
    psql = "runuser -u postgres -- psql -d openwebui -tAc %s"
    sub: str = lab_host(STATE_HOST).check_output(psql, query)
    assert sub.strip(), f"no provider subject recorded for {email}"
    return sub.strip()


def back_channel_logout(url: str, token: str) -> int:
    """POST a logout token as the provider does (form-encoded), through the load balancer."""
    body = urllib.parse.urlencode({"logout_token": token}).encode()
    request = urllib.request.Request(f"{url}/oauth/backchannel-logout", data=body, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_the_providers_back_channel_logout_ends_a_session_a_forged_one_does_not(
    browser: WebDriver, webui_url: str, provider: Provider
) -> None:
    sso_sign_in(browser, webui_url, "bob")
    token = page_token(browser)
    key, kid = provider.signing_key()
    now = int(time.time())
    claims = {
        "iss": f"{provider_url()}/api/oidc",
        "aud": lab_var("lab_identity")["client_id"],
        "sub": oauth_sub(PEOPLE["bob"]["email"]),
        "iat": now,
        "exp": now + 120,
        "jti": secrets.token_hex(8),
        "events": {BACKCHANNEL_EVENT: {}},
    }
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = signed_token(stranger, kid, claims)
    expired = signed_token(key, kid, {**claims, "iat": now - 600, "exp": now - 300})
    for refused in (forged, expired):
        assert back_channel_logout(webui_url, refused) == 400
        assert session_user(webui_url, token)["email"] == PEOPLE["bob"]["email"]

    assert back_channel_logout(webui_url, signed_token(key, kid, claims)) == 200
    with pytest.raises(urllib.error.HTTPError) as ended:
        session_user(webui_url, token)
    assert ended.value.code == 401
