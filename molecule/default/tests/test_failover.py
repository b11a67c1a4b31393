"""A gpu-node dies under a signed-in person: the browser, signed in with the lab's identity
provider through the load balancer on host A, goes on through host B - the same session (one
secret key signs every host's tokens), the same chat history (one database). The outage is
measured: from `podman stop` of the host until the load balancer serves the session again. Host
A is started again afterwards, at the address it had. The model answering is the Ollama TEST
STAND-IN."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from lab_stack import PEOPLE, SCREENSHOTS, api, host_url, sso_sign_in, wait_until
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from lab.config import podman_env
from lab.podman import halt
from lab.state import LabState

QUESTION = "Is the failover test heard on the other host?"
OUTAGE_LIMIT_S = 30.0
RESTART_LIMIT_S = 240.0


def podman(*args: str) -> None:
    subprocess.run(["podman", *args], check=True, env=podman_env(), timeout=120)


def as_the_browser(url: str, token: str, cookie: str) -> str:
    """GET url as the browser sends it: its session token and its stickiness cookie."""
    request = urllib.request.Request(url)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Cookie", f"AWSALB={cookie}")
    with urllib.request.urlopen(request, timeout=10) as response:
        email: str = json.loads(response.read())["email"]
        return email


class Prober(threading.Thread):
    """Polls like the browser (every 0.1 s) while the host stops; its outage is the longest time
    a user waited: from the first failed request to the next success, or one slow answer."""

    def __init__(self, check: object) -> None:
        super().__init__(daemon=True)
        self.check, self.done = check, threading.Event()
        self.outage, self.slowest, self.requests, self.failed = 0.0, 0.0, 0, 0

    def run(self) -> None:
        failing_since: float | None = None
        while not self.done.is_set():
            asked = time.monotonic()
            try:
                ok = bool(self.check())  # type: ignore[operator]
            except (urllib.error.URLError, OSError, ValueError):
                ok = False
            self.requests += 1
            self.failed += not ok
            now = time.monotonic()
            self.slowest = max(self.slowest, now - asked)
            self.outage = max(self.outage, self.slowest)
            if not ok and failing_since is None:
                failing_since = now
            elif ok and failing_since is not None:
                self.outage = max(self.outage, now - failing_since)
                failing_since = None
            time.sleep(0.1)


@pytest.mark.disruptive
def test_a_signed_in_browser_goes_on_through_b_when_its_host_stops(
    browser: WebDriver, webui_url: str
) -> None:
    wait = WebDriverWait(browser, 60)
    chat_input = sso_sign_in(browser, webui_url, "bob")
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
    serving = hosts[cookie["value"].split("|")[0]]  # HAProxy adds the cookie's dates after a |

    def signed_in() -> bool:
        email = as_the_browser(f"{webui_url}/api/v1/auths/", token, cookie["value"])
        return bool(email == PEOPLE["bob"]["email"])

    prober = Prober(signed_in)
    prober.start()
    time.sleep(1)  # requests served by the host before it stops
    try:
        halt(serving)
        wait_until(signed_in, OUTAGE_LIMIT_S, every=0.25)
        time.sleep(1)
        prober.done.set()
        prober.join(timeout=15)
        print(
            f"\n{serving} stopped: longest time without service {prober.outage:.1f}s"
            f" ({prober.requests} requests as the browser every 0.1 s, {prober.failed} failed,"
            f" slowest answer {prober.slowest:.1f}s)"
        )
        assert prober.outage < OUTAGE_LIMIT_S
        browser.get(chat_url)
        WebDriverWait(browser, 60).until(
            ec.text_to_be_present_in_element((By.TAG_NAME, "body"), QUESTION)
        )
        browser.save_screenshot(str(SCREENSHOTS / "after-failover.png"))
        now = browser.get_cookie("AWSALB")
        assert now is not None and hosts[now["value"].split("|")[0]] != serving
    finally:
        podman("start", serving)
        health = f"{host_url(serving)}/health"
        took = wait_until(
            lambda: api("GET", health, timeout=5)["status"], RESTART_LIMIT_S, every=0.25
        )
        print(f"{serving} started again: Open WebUI healthy after {took:.1f}s")
