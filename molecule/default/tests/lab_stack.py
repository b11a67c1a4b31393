"""The whole-stack scenario's view of the lab (molecule/default/tests): host names, the sample
question and its source, hosts through testinfra and Open WebUI's API from the controller."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import testinfra
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from testinfra.host import Host

from lab.config import REPO, wired
from lab.podman import address

GPU_HOST = "llm-fleet-lab-1"
RAG_HOST = "llm-fleet-lab-2"
# The second GPU host: behind the load balancer with GPU_HOST, on the same shared state.
OTHER_GPU_HOST = "llm-fleet-lab-3"
ADMIN_EMAIL = "admin@llm-fleet.local"
RAG_QUESTION = "How often is the Aurora turbine maintained?"
RAG_SOURCE = "aurora-operations.pdf (page 2)"
SCREENSHOTS = REPO / "artifacts" / "browser"


def lab_host(name: str) -> Host:
    return testinfra.get_host(f"podman://{name}")


def api(method: str, url: str, token: str = "", body: object = None, timeout: float = 300) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def host_url(name: str) -> str:
    """Open WebUI on a GPU host's private address (where the load balancer reaches it)."""
    return f"http://{address(name)}:{wired('open_webui_port')}"


def sign_in(browser: WebDriver, url: str, password: str) -> WebElement:
    """Sign in to Open WebUI at url as the fleet's admin; returns the chat input."""
    wait = WebDriverWait(browser, 60)
    browser.get(f"{url}/auth")
    wait.until(ec.visibility_of_element_located((By.ID, "email"))).send_keys(ADMIN_EMAIL)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    chat_input: WebElement = wait.until(ec.visibility_of_element_located((By.ID, "chat-input")))
    for dismiss in browser.find_elements(By.XPATH, '//button[contains(., "Let\'s Go")]'):
        dismiss.click()  # the "what's new" dialog shown once per release
    return chat_input
