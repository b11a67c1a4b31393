"""A gpu-node dies under a signed-in user: the browser, signed in through the load balancer on
host A, goes on through host B - the same session (one secret key signs every host's tokens),
the same chat history (one database). The outage is measured: from `podman stop` of the host
until the load balancer serves the session again. Host A is started again afterwards, at the
address it had. The model answering is the Ollama TEST STAND-IN."""

from __future__ import annotations

import subprocess
import time
import urllib.error

import pytest
from lab_stack import ADMIN_EMAIL, SCREENSHOTS, api, host_url, sign_in
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from lab.config import podman_env
from lab.state import LabState

QUESTION = "Is the failover test heard on the other host?"
OUTAGE_LIMIT_S = 30.0
RESTART_LIMIT_S = 240.0


def podman(*args: str) -> None:
    subprocess.run(["podman", *args], check=True, env=podman_env(), timeout=120)


def until(check: object, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            if check():  # type: ignore[operator]
                return time.monotonic() - started
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.25)
    pytest.fail(f"not back within {limit:.0f}s")


@pytest.mark.disruptive
def test_a_signed_in_browser_goes_on_through_b_when_its_host_stops(
    browser: WebDriver, webui_url: str, admin_password: str
) -> None:
    wait = WebDriverWait(browser, 60)
    chat_input = sign_in(browser, webui_url, admin_password)
    chat_input.click()
    chat_input.send_keys(QUESTION)
    chat_input.send_keys(Keys.ENTER)
    wait.until(ec.url_contains("/c/"))
    chat_url = browser.current_url
    token = browser.execute_script("return localStorage.token")
    cookie = browser.get_cookie("AWSALB")
    assert cookie is not None, "the load balancer set no stickiness cookie"
    state = LabState.load()
    assert state is not None
    hosts = {host.instance_id: host.name for host in state.hosts}
    serving = hosts[cookie["value"]]

    podman("stop", "--time", "1", serving)
    try:
        outage = until(
            lambda: (
                api("GET", f"{webui_url}/api/v1/auths/", token, timeout=10)["email"] == ADMIN_EMAIL
            ),
            OUTAGE_LIMIT_S,
        )
        print(f"\n{serving} stopped: the session is served again after {outage:.1f}s")
        browser.get(chat_url)
        WebDriverWait(browser, 60).until(
            ec.text_to_be_present_in_element((By.TAG_NAME, "body"), QUESTION)
        )
        browser.save_screenshot(str(SCREENSHOTS / "after-failover.png"))
        now = browser.get_cookie("AWSALB")
        assert now is not None and hosts[now["value"]] != serving
    finally:
        podman("start", serving)
        health = f"{host_url(serving)}/health"
        took = until(lambda: api("GET", health, timeout=5)["status"], RESTART_LIMIT_S)
        print(f"{serving} started again: Open WebUI healthy after {took:.1f}s")
