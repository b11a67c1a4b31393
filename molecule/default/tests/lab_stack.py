"""The whole-stack scenario's view of the lab (molecule/default/tests): host names, the sample
question and its source, hosts through testinfra and Open WebUI's API from the controller."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import testinfra
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from testinfra.host import Host

from fleetlib.paths import REPO
from fleetlib.wiring import admin_email, wired
from lab.config import lab_var
from lab.identity import password_of
from lab.podman import address

GPU_HOST = "llm-fleet-lab-1"
RAG_HOST = "llm-fleet-lab-2"
# The second GPU host: behind the load balancer with GPU_HOST, on the same shared state.
OTHER_GPU_HOST = "llm-fleet-lab-3"
ADMIN_EMAIL = admin_email()
RAG_QUESTION = "How often is the Aurora turbine maintained?"
RAG_SOURCE = "aurora-operations.pdf (page 2)"
SCREENSHOTS = REPO / "artifacts" / "browser"
# The lab's identity provider as Open WebUI names it on its button, and its people by username.
PROVIDER_NAME = str(lab_var("open_webui_oidc_provider_name"))
PEOPLE = {person["username"]: person for person in lab_var("lab_identity")["people"]}


def lab_host(name: str) -> Host:
    return testinfra.get_host(f"podman://{name}")


def api(
    method: str, url: str, token: str = "", body: object = None, timeout: float = 300,
    cookie: str = "",
) -> Any:  # fmt: skip
    """cookie: e.g. the load balancer's stickiness cookie (AWSALB=<instance id>), as a browser
    pinned to that host sends it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def signin(url: str, email: str, password: str) -> dict[str, Any]:
    """Open WebUI's sign-in through its API: the account's role and session token."""
    result: dict[str, Any] = api(
        "POST", f"{url}/api/v1/auths/signin", body={"email": email, "password": password}
    )
    return result


def chat(
    url: str, token: str, model: str, question: str, files: list[dict[str, str]] | None = None,
    cookie: str = "",
) -> dict[str, Any]:  # fmt: skip
    """One question to a model through Open WebUI's chat API (not streamed), with documents
    (knowledge collections, attachments) when files names them."""
    body: dict[str, Any] = {
        "model": model,
        "stream": False,
        "messages": [{"role": "user", "content": question}],
    }
    if files:
        body["files"] = files
    reply: dict[str, Any] = api("POST", f"{url}/api/chat/completions", token, body, cookie=cookie)
    return reply


def answer_text(reply: dict[str, Any]) -> str:
    return str(reply["choices"][0]["message"]["content"])


def wait_until(check: Callable[[], object], limit: float, every: float = 0.5) -> float:
    """Seconds until check() holds (polled every `every` s; a refused or failed request counts
    as not yet), failing the test after limit."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            if check():
                return time.monotonic() - started
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(every)
    pytest.fail(f"not back within {limit:.0f}s")


def host_url(name: str) -> str:
    """Open WebUI on a GPU host's private address (where the load balancer reaches it)."""
    return f"http://{address(name)}:{wired('open_webui_port')}"


def _chat_page(browser: WebDriver) -> WebElement:
    """Wait for the chat page; close the "what's new" dialog shown once per release."""
    chat_input: WebElement = WebDriverWait(browser, 60).until(
        ec.visibility_of_element_located((By.ID, "chat-input"))
    )
    for dismiss in browser.find_elements(By.XPATH, '//button[contains(., "Let\'s Go")]'):
        dismiss.click()
    return chat_input


def sign_in(browser: WebDriver, url: str, password: str, email: str = ADMIN_EMAIL) -> WebElement:
    """Open Open WebUI at url signed in with a password - one of the fleet's own accounts (the
    bootstrapped admin, accounts made inside the VPC; people sign in with the provider,
    sso_sign_in): with single sign-on the page has no password form, so the session comes from
    the sign-in API and goes where the page keeps it. Returns the chat input."""
    token = signin(url, email, password)["token"]
    browser.get(f"{url}/auth")
    browser.execute_script("localStorage.setItem('token', arguments[0])", token)
    browser.get(f"{url}/")
    return _chat_page(browser)


def pick_model(browser: WebDriver, model: str) -> None:
    """Choose the chat's model in the page's model selector."""
    wait = WebDriverWait(browser, 60)
    browser.find_element(By.ID, "model-selector-model-button").click()
    search = wait.until(ec.visibility_of_element_located((By.ID, "model-search-input")))
    search.send_keys(model)
    option = (By.CSS_SELECTOR, f"button[aria-label='Select {model} model']")
    wait.until(ec.element_to_be_clickable(option)).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "model-selector-model-button"), model))


def provider_sign_in(browser: WebDriver, url: str, username: str) -> None:
    """A person's sign-in with single sign-on: the provider's button on Open WebUI's sign-in page,
    their name and password on the provider's page, the client's access granted there the first
    time; ends wherever the provider sends the browser back to."""
    wait = WebDriverWait(browser, 60)
    browser.get(f"{url}/auth")
    button = (By.XPATH, f'//button[contains(., "{PROVIDER_NAME}")]')
    wait.until(ec.element_to_be_clickable(button)).click()
    wait.until(ec.visibility_of_element_located((By.ID, "username"))).send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password_of(username))
    browser.find_element(By.ID, "loginbut").click()
    # The provider's next page: access for the fleet's client to grant (the first time), then
    # Continue; or straight back to Open WebUI.
    grant = (By.XPATH, '//button[normalize-space()="Grant access"]')
    proceed = (By.XPATH, '//button[normalize-space()="Continue"]')
    deadline = time.monotonic() + 60
    while not browser.current_url.startswith(url):
        assert time.monotonic() < deadline, f"the provider did not send {username} back"
        boxes = browser.find_elements(By.CSS_SELECTOR, "input[type=checkbox]")
        if browser.find_elements(*grant) and any(not box.is_selected() for box in boxes):
            for box in boxes:
                if not box.is_selected():
                    box.click()
            browser.find_element(*grant).click()
        elif [button for button in browser.find_elements(*proceed) if button.is_enabled()]:
            browser.find_element(*proceed).click()
        time.sleep(0.5)


def sso_sign_in(browser: WebDriver, url: str, username: str) -> WebElement:
    """provider_sign_in for a person who may use the platform: returns the chat input."""
    provider_sign_in(browser, url, username)
    return _chat_page(browser)
